package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// faultMesh is a client (laptop) and two serving nodes (alpha, beta) that
// serve the stand-in compiler.
func faultMesh(t *testing.T, extraConfig ...string) (*testMesh, string) {
	t.Helper()
	needSandbox(t)
	fake := fakeCC(t, filepath.Join(t.TempDir(), "cc"))
	m := newTestMesh(t, "alpha")
	m.kill("alpha", syscall.SIGTERM)
	m.withConfig("alpha", append([]string{fmt.Sprintf("compilers = [%q]", fake), "slots = 2"}, extraConfig...)...)
	m.start("alpha")
	for _, name := range []string{"beta", "laptop"} {
		token := strings.TrimSpace(m.run("keys", "add", "--home", m.homes["alpha"], "--name", name))
		m.homes[name] = filepath.Join(m.dir, name)
		if name == "beta" {
			m.withConfig(name, fmt.Sprintf("compilers = [%q]", fake), "slots = 2")
			m.start(name, token)
		} else {
			m.start(name, token, "--client-only")
		}
	}
	m.waitPeersUp("laptop", 2)
	return m, fake
}

// slowProject writes n sources that the stand-in compiles in ms each, and a
// Makefile.
func slowProject(t *testing.T, n, ms int) string {
	dir := filepath.Join(t.TempDir(), "proj")
	os.MkdirAll(dir, 0o755)
	for i := range n {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("u%02d.c", i)), []byte(fmt.Sprintf("sleep %d\nunit %d\n", ms, i)), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte("OBJS := $(patsubst %.c,%.o,$(wildcard *.c))\nall: $(OBJS)\n%.o: %.c\n\t$(CC) -c $< -o $@\n"), 0o644)
	return dir
}

// startBuild runs make -jN with the stand-in through distmesh; wait returns
// make's output and error.
func (m *testMesh) startBuild(dir, fake string, jobs int, env ...string) (wait func() (string, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, "make", "-s", fmt.Sprintf("-j%d", jobs), "CC="+m.bin+" "+fake)
	cmd.Dir = dir
	cmd.Env = m.compileEnv("laptop", env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	return func() (string, error) {
		defer cancel()
		err := cmd.Wait()
		return out.String(), err
	}
}

// checkObjects requires every object to hold exactly its source (what the
// stand-in writes) and no temporary file to be left.
func checkObjects(t *testing.T, dir string) {
	t.Helper()
	srcs, _ := filepath.Glob(filepath.Join(dir, "*.c"))
	for _, src := range srcs {
		want, _ := os.ReadFile(src)
		got, err := os.ReadFile(strings.TrimSuffix(src, ".c") + ".o")
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: object wrong or missing (%v)", src, err)
		}
	}
	if stray, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(stray) > 0 {
		t.Errorf("temporary files left: %v", stray)
	}
}

func (m *testMesh) served(name string) int { return m.counter(name, "jobs_served") }

// TestNodeKilledMidBuild: a serving node dies (SIGKILL) with jobs running;
// the build finishes with correct objects (they are retried elsewhere or
// compiled locally) and the surviving node keeps serving.
func TestNodeKilledMidBuild(t *testing.T) {
	m, fake := faultMesh(t)
	dir := slowProject(t, 16, 700)
	wait := m.startBuild(dir, fake, 8)
	m.waitFor("alpha to be running jobs", func() bool { return len(processesOf(fake)) >= 3 })
	m.kill("alpha", syscall.SIGKILL)
	if out, err := wait(); err != nil {
		t.Fatalf("build failed after a node was killed: %v\n%s", err, out)
	}
	checkObjects(t, dir)
	before := m.served("beta")
	os.Remove(filepath.Join(dir, "u00.o"))
	if out, err := m.startBuild(dir, fake, 1, "DISTMESH_FALLBACK=0")(); err != nil {
		t.Fatalf("beta does not serve after alpha died: %v\n%s", err, out)
	}
	if m.served("beta") != before+1 {
		t.Error("the surviving node did not serve the next job")
	}
	m.waitFor("no stand-in compiler left", func() bool { return len(processesOf(fake)) == 0 })
}

// TestNodeRestartedMidBuild: a node stopped and started again during a
// build; the build finishes, the node serves again.
func TestNodeRestartedMidBuild(t *testing.T) {
	m, fake := faultMesh(t)
	dir := slowProject(t, 16, 600)
	wait := m.startBuild(dir, fake, 8)
	m.waitFor("alpha to be running jobs", func() bool { return m.counter("alpha", "jobs_served") >= 1 || len(processesOf(fake)) >= 2 })
	addr := m.addr("alpha") // a node comes back where it was (a fixed port in real life)
	m.kill("alpha", syscall.SIGTERM)
	m.startAt("alpha", addr)
	if out, err := wait(); err != nil {
		t.Fatalf("build failed across a node restart: %v\n%s", err, out)
	}
	checkObjects(t, dir)
	m.waitPeersUp("laptop", 2)
}

// TestWrapperKilledMidJob: the build tool dies while a job runs remotely:
// no partial output, no temporary file, the node cancels the job and keeps
// serving.
func TestWrapperKilledMidJob(t *testing.T) {
	m, fake := faultMesh(t)
	dir := slowProject(t, 1, 60000)
	cmd := exec.Command(m.bin, fake, "-c", "u00.c", "-o", "u00.o")
	cmd.Dir, cmd.Env = dir, m.compileEnv("laptop", "DISTMESH_FALLBACK=0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.waitFor("the job to run on a node", func() bool { return len(processesOf(fake)) == 1 })
	cmd.Process.Kill()
	cmd.Wait()
	m.waitFor("the node to end the orphaned job", func() bool { return len(processesOf(fake)) == 0 })
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files after the wrapper was killed: %v, want only u00.c and Makefile", names)
	}
	os.WriteFile(filepath.Join(dir, "u00.c"), []byte("sleep 1\nunit 0\n"), 0o644)
	if out, err := m.startBuild(dir, fake, 1, "DISTMESH_FALLBACK=0")(); err != nil {
		t.Fatalf("the mesh does not serve after a wrapper died: %v\n%s", err, out)
	}
	checkObjects(t, dir)
}

// TestNodeDiskFull: a node whose home is on a full file system fails the
// jobs it takes; the build finishes locally and correctly.
func TestNodeDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs as a node's home")
	}
	m, fake := faultMesh(t)
	// beta's store and job trees move to a 2 MiB tmpfs, then it is filled.
	m.kill("beta", syscall.SIGTERM)
	small := filepath.Join(t.TempDir(), "small")
	os.Mkdir(small, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", small).Run() })
	home := m.homes["beta"]
	if out, err := exec.Command("cp", "-a", home+"/.", small).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	m.homes["beta"] = small
	m.start("beta")
	exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(small, "filler"), "bs=64k").Run() // until ENOSPC
	m.waitPeersUp("laptop", 2)

	dir := slowProject(t, 12, 300)
	if out, err := m.startBuild(dir, fake, 6)(); err != nil {
		t.Fatalf("build failed with a node's disk full: %v\n%s", err, out)
	}
	checkObjects(t, dir)
}

// TestUnreachablePeer: a configured peer that never answers costs nothing
// but a line in status: builds compile elsewhere or locally.
func TestUnreachablePeer(t *testing.T) {
	needSandbox(t)
	fake := fakeCC(t, filepath.Join(t.TempDir(), "cc"))
	m := newTestMesh(t, "alpha")
	m.kill("alpha", syscall.SIGTERM)
	m.withConfig("alpha", fmt.Sprintf("compilers = [%q]", fake), fmt.Sprintf("peers = [%q]", freeLoopbackAddr(t)))
	m.start("alpha")
	dir := slowProject(t, 4, 10)
	cmd := exec.Command("make", "-s", "-j4", "CC="+m.bin+" "+fake)
	cmd.Dir, cmd.Env = dir, m.compileEnv("alpha")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build with an unreachable peer: %v\n%s", err, out)
	}
	checkObjects(t, dir)
	peers := m.run("peers", "--home", m.homes["alpha"])
	if !strings.Contains(peers, "connection refused") {
		t.Errorf("peers does not say why the peer is down:\n%s", peers)
	}
}

// TestNetworkCutMidBuild: the link to a serving node goes down (its veth,
// in a network namespace) while it runs jobs: the client notices without
// the connection closing, the build finishes with correct objects
// (retried on the other node or compiled locally), the other node keeps
// serving, and the cut node is used again once the link is back.
func TestNetworkCutMidBuild(t *testing.T) {
	needSandbox(t)
	l := newNetLab(t)
	fake := fakeCC(t, filepath.Join(t.TempDir(), "cc"))
	client, alpha, beta := l.addHost("client", 1, 1), l.addHost("alpha", 1, 2), l.addHost("beta", 1, 3)
	l.run(l.bin, "init", "--home", alpha.home, "--name", "alpha")
	issuer := l.startNode(alpha)
	l.enroll(alpha, client, beta)
	issuer.stop(syscall.SIGTERM, 15*time.Second)
	serve := []string{fmt.Sprintf("compilers = [%q]", fake), "slots = 2", "discovery = false"}
	labEditConfig(t, alpha, []string{"compilers", "slots", "discovery"}, serve...)
	labEditConfig(t, beta, []string{"compilers", "slots", "discovery"}, serve...)
	labEditConfig(t, client, []string{"peers", "discovery"}, fmt.Sprintf("peers = [%q, %q]", alpha.addr(), beta.addr()), "discovery = false")
	l.startNode(alpha)
	l.startNode(beta)
	l.startNode(client, "--client-only")
	up := func(name string) func() (bool, string) {
		return func() (bool, string) {
			ps := l.peers(client)
			return labVerified(ps)[name], labDescribe(ps)
		}
	}
	l.waitFor("the client to see alpha", 60*time.Second, up("alpha"))
	l.waitFor("the client to see beta", 60*time.Second, up("beta"))

	status := func(h *labHost) map[string]any {
		var st map[string]any
		if err := json.Unmarshal([]byte(l.run(l.bin, "status", "--json", "--home", h.home)), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	build := func(dir string, jobs int, env ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", client.ns, "make", "-s", fmt.Sprintf("-j%d", jobs), "CC="+l.bin+" "+fake)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), append([]string{"DISTMESH_HOME=" + client.home}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	dir := slowProject(t, 16, 1500)
	done := make(chan error, 1)
	var out string
	go func() {
		var err error
		out, err = build(dir, 8)
		done <- err
	}()
	l.waitFor("alpha to be running jobs", 60*time.Second, func() (bool, string) {
		jobs, _ := status(alpha)["jobs"].([]any)
		return len(jobs) >= 1, fmt.Sprintf("%d running or queued", len(jobs))
	})
	cut := time.Now()
	l.ip("-n", l.hub, "link", "set", "valpha", "down")
	down := l.waitFor("the client to mark alpha down", 60*time.Second, func() (bool, string) {
		ps := l.peers(client)
		return !labVerified(ps)["alpha"], labDescribe(ps)
	})
	t.Logf("network cut: the client marked alpha down %v after the link went down", down.Round(time.Millisecond))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("build failed across a network cut: %v\n%s", err, out)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the build did not finish within 3 minutes of a network cut")
	}
	t.Logf("the build finished %v after the cut", time.Since(cut).Round(time.Millisecond))
	checkObjects(t, dir)

	// The surviving node serves; the cut one comes back with its link.
	before, _ := status(beta)["jobs_served"].(float64)
	os.Remove(filepath.Join(dir, "u00.o"))
	if out, err := build(dir, 1, "DISTMESH_FALLBACK=0"); err != nil {
		t.Fatalf("beta does not serve while alpha is cut off: %v\n%s", err, out)
	}
	if after, _ := status(beta)["jobs_served"].(float64); after != before+1 {
		t.Errorf("beta served %v jobs, then %v: want one more", before, after)
	}
	l.ip("-n", l.hub, "link", "set", "valpha", "up")
	back := l.waitFor("the client to see alpha again", 90*time.Second, up("alpha"))
	t.Logf("link back: alpha verified again %v later", back.Round(time.Millisecond))
	checkObjects(t, dir)
}
