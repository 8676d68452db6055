package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeCC builds the stand-in compiler of testdata/fakecc into dir.
func fakeCC(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "fakecc")
	src, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "fakecc", "fakecc.c"))
	if out, err := exec.Command("gcc", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("build fakecc: %v\n%s", err, out)
	}
	return bin
}

// withConfig writes config.toml lines into a home.
func (m *testMesh) withConfig(name string, lines ...string) {
	m.t.Helper()
	home := m.homes[name]
	if err := os.MkdirAll(home, 0o750); err != nil {
		m.t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(home, "config.toml"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
}

// processesOf lists the processes running program (their argv[0]).
func processesOf(program string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if argv0, _, _ := strings.Cut(string(raw), "\x00"); err == nil && argv0 == program {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(raw), "\x00", " "))
		}
	}
	return found
}

// TestNodeStopsWhenTold: a node busy with slow jobs exits on SIGTERM,
// promptly, leaving no process of any job behind and no socket.
func TestNodeStopsWhenTold(t *testing.T) {
	needSandbox(t)
	dir := t.TempDir()
	fake := fakeCC(t, filepath.Join(dir, "cc"))
	m := newTestMesh(t, "alpha")
	m.kill("alpha", syscall.SIGTERM)
	m.withConfig("alpha", fmt.Sprintf("compilers = [%q]", fake), "slots = 3")
	m.start("alpha")
	m.joinClient("laptop", "alpha")

	work := filepath.Join(dir, "src")
	os.MkdirAll(work, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 3 {
		src := filepath.Join(work, fmt.Sprintf("slow%d.c", i))
		os.WriteFile(src, []byte("sleep 120000\n"), 0o644)
		cmd := exec.CommandContext(ctx, m.bin, fake, "-c", src, "-o", src+".o")
		cmd.Env = m.compileEnv("laptop", "DISTMESH_FALLBACK=0")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); cmd.Wait() }()
	}
	m.waitFor("three jobs running on alpha", func() bool { return len(processesOf(fake)) >= 3 })

	start := time.Now()
	m.kill("alpha", syscall.SIGTERM)
	took := time.Since(start)
	t.Logf("alpha exited %v after SIGTERM with three jobs running", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("alpha took %v to exit after SIGTERM (target 2 s)", took)
	}
	if left := processesOf(fake); len(left) > 0 {
		t.Errorf("compiler processes left after the node stopped:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(filepath.Join(m.homes["alpha"], "agent.sock")); err == nil {
		t.Error("agent socket left behind")
	}
	cancel() // the wrappers were waiting for a node that is gone
	wg.Wait()
}

// TestOperationsViews: after a few jobs, status (JSON and --since), top,
// peers and the metrics endpoint tell where they ran; SIGHUP adds a peer
// written into config.toml without a restart.
func TestOperationsViews(t *testing.T) {
	needSandbox(t)
	dir := t.TempDir()
	fake := fakeCC(t, filepath.Join(dir, "cc"))
	m := newTestMesh(t, "alpha")
	m.kill("alpha", syscall.SIGTERM)
	metrics := freeLoopbackAddr(t)
	m.withConfig("alpha", fmt.Sprintf("compilers = [%q]", fake), fmt.Sprintf("metrics_listen = %q", metrics))
	m.start("alpha")
	m.joinClient("laptop", "alpha")

	os.Mkdir(filepath.Join(dir, "src"), 0o755)
	src := filepath.Join(dir, "src", "quick.c")
	os.WriteFile(src, []byte("sleep 10\n"), 0o644)
	for range 3 {
		cmd := exec.Command(m.bin, fake, "-c", src, "-o", src+".o")
		cmd.Env = m.compileEnv("laptop", "DISTMESH_FALLBACK=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("compile: %v\n%s", err, out)
		}
	}
	if got := m.counter("laptop", "jobs_sent"); got != 3 {
		t.Errorf("laptop jobs_sent = %d, want 3", got)
	}
	if got := m.counter("alpha", "jobs_served"); got != 3 {
		t.Errorf("alpha jobs_served = %d, want 3", got)
	}
	since := m.run("status", "--since", "10m", "--home", m.homes["laptop"])
	if !strings.Contains(since, "3 compiles in the last 10m0s") || !strings.Contains(since, "on alpha") {
		t.Errorf("status --since:\n%s", since)
	}
	top := m.run("top", "--once", "--home", m.homes["laptop"])
	for _, want := range []string{"NODE", "alpha", "this machine: 3 sent"} {
		if !strings.Contains(top, want) {
			t.Errorf("top --once lacks %q:\n%s", want, top)
		}
	}
	body := httpGet(t, "http://"+metrics+"/metrics")
	for _, want := range []string{"distmesh_build_info{", `distmesh_jobs_served_total{result="ok"} 3`, "distmesh_compile_duration_seconds_count 3", "distmesh_sandbox_setup_seconds_count 3", "distmesh_slots "} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// SIGHUP: a static peer added to config.toml is taken up, live.
	extra := freeLoopbackAddr(t)
	// join TOKEN wrote peers already: replace that key.
	cfg, _ := os.ReadFile(filepath.Join(m.homes["laptop"], "config.toml"))
	var kept []string
	for _, l := range strings.Split(strings.TrimSpace(string(cfg)), "\n") {
		if !strings.HasPrefix(l, "peers") {
			kept = append(kept, l)
		}
	}
	var alpha struct{ Listen []string }
	b, _ := os.ReadFile(filepath.Join(m.homes["alpha"], "node.json"))
	json.Unmarshal(b, &alpha)
	// A second name for alpha: one node, two addresses, used once.
	_, port, _ := net.SplitHostPort(alpha.Listen[0])
	twin := net.JoinHostPort("localhost", port)
	kept = append(kept, fmt.Sprintf("peers = [%q, %q, %q]", alpha.Listen[0], extra, twin))
	os.WriteFile(filepath.Join(m.homes["laptop"], "config.toml"), []byte(strings.Join(kept, "\n")+"\n"), 0o644)
	m.procs["laptop"].Process.Signal(syscall.SIGHUP)
	m.waitFor("the new static peer to appear", func() bool {
		return strings.Contains(m.run("peers", "--home", m.homes["laptop"]), extra)
	})
	if !strings.Contains(m.run("peers", "--home", m.homes["laptop"]), "alpha") {
		t.Error("SIGHUP dropped the connection to alpha")
	}
	var twins []map[string]any
	m.waitFor("alpha's second address to stand by", func() bool {
		twins = nil
		peers, _ := m.status("laptop")["peers"].([]any)
		for _, p := range peers {
			if p := p.(map[string]any); p["name"] == "alpha" {
				twins = append(twins, p)
			}
		}
		return len(twins) == 2 && twins[0]["state"] != twins[1]["state"]
	})
	for _, p := range twins {
		if p["state"] != "up" && !strings.Contains(fmt.Sprint(p["why"]), "already") {
			t.Errorf("alpha's standby address says %v: %v, want that alpha is reached already", p["state"], p["why"])
		}
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address nothing listens on now
// (for a component that takes an address in its config, not a listener).
func freeLoopbackAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				return string(body)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNodeRunsWithTimerSlack: a node runs with 1 ms of timer slack on
// every thread, the Go runtime's own included, and so do the processes it
// starts (the sandbox's spawner); it is still the process that was started.
func TestNodeRunsWithTimerSlack(t *testing.T) {
	m := newTestMesh(t, "alpha")
	pid := m.procs["alpha"].Process.Pid
	tids, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(tids) == 0 {
		t.Fatalf("threads of node %d: %v", pid, err)
	}
	for _, task := range tids {
		children, _ := os.ReadFile(task + "/children") // of that thread
		for _, child := range strings.Fields(string(children)) {
			more, _ := filepath.Glob("/proc/" + child + "/task/*")
			tids = append(tids, more...)
		}
	}
	for _, task := range tids {
		b, err := os.ReadFile("/proc/" + filepath.Base(task) + "/timerslack_ns")
		if errors.Is(err, fs.ErrPermission) {
			t.Skipf("cannot read the node's timer slack: %v", err)
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue // a thread that ended
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != "1000000" {
			t.Errorf("thread %s: timer slack %s ns, want 1000000", task, got)
		}
	}
	t.Logf("%d threads of the node and its children checked", len(tids))
}
