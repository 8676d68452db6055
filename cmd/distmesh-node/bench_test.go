package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBuild builds a generated 200-file C project three ways in one
// run: with plain gcc, through distmesh (a client-only node sending to a
// serving node, both on 127.0.0.1), and through distcc (a distccd on
// 127.0.0.1), and reports each build's time relative to the local one, the
// latency a wrapper adds to one tiny compile, and the client's CPU per job
// (wrapper and agent, user+sys) as a share of a local compile's CPU.
// On one machine the "remote" compiles share its cores: the ratios measure
// overhead, not speedup. The three builds take turns for BENCH_ROUNDS
// rounds (3). Run it with `make bench`, which installs distcc.
func BenchmarkBuild(b *testing.B) {
	needSandbox(b)
	b.StopTimer()
	const files = 200
	jobs := strconv.Itoa(2 * runtime.NumCPU())
	proj := generateProject(b, files)

	m := newTestMesh(b, "server")
	m.joinClient("client", "server")

	build := func(cc string, env []string) (wall, cpu time.Duration) {
		b.Helper()
		run(b, proj, nil, "make", "-s", "clean")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "make", "-s", "-j"+jobs, "CC="+cc)
		cmd.Dir, cmd.Env = proj, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("make CC=%s: %v\n%s", cc, err, out.String())
		}
		return time.Since(start), cpuOf(cmd.ProcessState)
	}
	// A warm-up build through distmesh fills the node's store and the
	// agent's caches, as the second build of a working day would find them.
	denv := m.compileEnv("client", "DISTMESH_FALLBACK=0")
	build(m.bin+" gcc", denv)

	stopDistccd, haveDistcc := startDistccd(b)
	if haveDistcc {
		defer stopDistccd()
	}
	dcenv := append(os.Environ(), "DISTCC_HOSTS="+os.Getenv("BENCH_DISTCC_HOSTS"), "DISTCC_FALLBACK=0", "DISTCC_DIR="+b.TempDir())

	// The builds take turns, round after round, and each ratio is taken
	// within its round: this machine's speed drifts by tens of percent
	// over minutes, which a single run of each would report as a ratio.
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	type sample struct{ ratio, cpuShare, cpuPerJob float64 }
	var dm, dc []sample
	var localWalls []time.Duration
	agent := m.procs["client"].Process.Pid
	for range rounds {
		localWall, localCPU := build("gcc", os.Environ())
		localWalls = append(localWalls, localWall)
		agentBefore := procCPU(b, agent)
		wall, wrapCPU := build(m.bin+" gcc", denv)
		cpu := wrapCPU + procCPU(b, agent) - agentBefore
		dm = append(dm, sample{wall.Seconds() / localWall.Seconds(), cpu.Seconds() / localCPU.Seconds(), ms(cpu) / files})
		if haveDistcc {
			wall, cpu := build("distcc gcc", dcenv)
			dc = append(dc, sample{wall.Seconds() / localWall.Seconds(), cpu.Seconds() / localCPU.Seconds(), ms(cpu) / files})
		}
	}

	tiny := filepath.Join(proj, "tiny.c")
	if err := os.WriteFile(tiny, []byte("int tiny(int x) { return x * 3; }\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	// The tiny compiles take turns too (gcc, distmesh, distcc), and each
	// wrapper's added latency is the median of its differences with the
	// gcc run of the same turn.
	tinies := []tinyCmd{{env: os.Environ(), argv: []string{"gcc", "-c", "tiny.c"}}, {env: denv, argv: []string{m.bin, "gcc", "-c", "tiny.c"}}}
	if haveDistcc {
		tinies = append(tinies, tinyCmd{env: dcenv, argv: []string{"distcc", "gcc", "-c", "tiny.c"}})
	}
	logged := len(m.logs["server"].String())
	server := m.procs["server"].Process.Pid
	servedBefore := servingCPU(b, server)
	tinyRuns(b, proj, tinies, tinyPause)
	served := servingCPU(b, server)
	tinyLocal, tinyCPU, tinyDM := tinies[0].wall, tinies[0].cpu, tinies[1].added
	setup := medianSetup(b, m.logs["server"].String()[logged:], "tiny.c")
	// Back to back, each compile pays for what the one before left to do
	// (a node replaces its launcher once the client has its result): in
	// blocks, not turns, so that it is the next distmesh compile that pays,
	// not the gcc of the next turn. Two gcc blocks bracket the drift.
	backToBack := func(c tinyCmd) time.Duration {
		cs := []tinyCmd{{env: c.env, argv: c.argv}}
		tinyRuns(b, proj, cs, 0)
		return cs[0].wall
	}
	gccB1 := backToBack(tinies[0])
	dmB := backToBack(tinies[1])
	gccB2 := backToBack(tinies[0])
	tinyDMB := dmB - (gccB1+gccB2)/2
	// What serving a tiny job costs the node beyond the compile itself:
	// the node process, its spawner, the launcher and the sandbox.
	perJob := func(d time.Duration) float64 { return ms(d) / tinyTurns }
	node := perJob(served.node - servedBefore.node)
	spawner := perJob(served.spawner - servedBefore.spawner)
	sandbox := perJob(served.jobs-servedBefore.jobs) - ms(tinyCPU)

	median := func(ss []sample, f func(sample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	row := func(name string, ss []sample) []string {
		rs := make([]string, len(ss))
		for i, s := range ss {
			rs[i] = fmt.Sprintf("%.2f", s.ratio)
		}
		return []string{name, fmt.Sprintf("%.2f", median(ss, func(s sample) float64 { return s.ratio })), strings.Join(rs, " "),
			fmt.Sprintf("%.1f ms", median(ss, func(s sample) float64 { return s.cpuPerJob })),
			fmt.Sprintf("%.1f%%", 100*median(ss, func(s sample) float64 { return s.cpuShare }))}
	}
	slices.Sort(localWalls)
	rows := [][]string{
		{"build", "ratio", "rounds", "client CPU/job", "share of a local compile"},
		{"gcc", "1.00", "local build " + localWalls[len(localWalls)/2].Round(time.Millisecond).String(), "", "100%"},
		row("distmesh", dm),
	}
	b.ReportMetric(localWalls[len(localWalls)/2].Seconds(), "local-s")
	b.ReportMetric(median(dm, func(s sample) float64 { return s.ratio }), "distmesh/local")
	b.ReportMetric(ms(tinyDM), "distmesh-added-ms")
	b.ReportMetric(100*median(dm, func(s sample) float64 { return s.cpuShare }), "distmesh-client-cpu-%")
	b.ReportMetric(setup, "node-sandbox-setup-ms")
	b.ReportMetric(node+spawner+sandbox, "node-extra-cpu-ms")
	b.ReportMetric(ms(tinyDMB), "distmesh-added-b2b-ms")
	latency := fmt.Sprintf("tiny compile, each on a quiet machine: gcc %.1f ms; distmesh +%.1f ms (the node's sandbox setup %.1f ms; back to back +%.1f ms)", ms(tinyLocal), ms(tinyDM), setup, ms(tinyDMB))
	nodeCPU := fmt.Sprintf("serving node's CPU per tiny job beyond gcc's %.1f ms: %.1f ms (node %.1f, spawner %.1f, launcher and sandbox %.1f)",
		ms(tinyCPU), node+spawner+sandbox, node, spawner, sandbox)
	if haveDistcc {
		tinyDC := tinies[2].added
		rows = append(rows, row("distcc", dc))
		b.ReportMetric(median(dc, func(s sample) float64 { return s.ratio }), "distcc/local")
		b.ReportMetric(ms(tinyDC), "distcc-added-ms")
		b.ReportMetric(100*median(dc, func(s sample) float64 { return s.cpuShare }), "distcc-client-cpu-%")
		latency += fmt.Sprintf("; distcc +%.1f ms", ms(tinyDC))
	}
	fmt.Printf("\n%d files, make -j%s, %d cores, %d rounds (medians; each round's ratio against that round's local build)\n", files, jobs, runtime.NumCPU(), rounds)
	for _, r := range rows {
		fmt.Printf("  %-9s %6s  %-16s %15s %26s\n", r[0], r[1], r[2], r[3], r[4])
	}
	fmt.Println("  " + latency)
	fmt.Println("  " + nodeCPU)
}

// generateProject writes files C sources, each an -O2 compile of a few tens
// of milliseconds, and a Makefile that builds their objects.
func generateProject(b testing.TB, files int) string {
	dir := b.TempDir()
	os.Mkdir(filepath.Join(dir, "include"), 0o755)
	os.WriteFile(filepath.Join(dir, "include", "common.h"), []byte(`#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
struct item { double w; int id; char name[32]; };
#define SQ(x) ((x) * (x))
`), 0o644)
	for i := range files {
		var s strings.Builder
		fmt.Fprintf(&s, "#include \"common.h\"\n")
		for f := range 12 {
			fmt.Fprintf(&s, `
static double f%[1]d_%[2]d(struct item *v, int n, double k)
{
	double acc = 0;
	for (int i = 0; i < n; i++) {
		v[i].w = sqrt(SQ(v[i].w) + k * i) / (1 + i %% 7);
		if (v[i].w > %[2]d.5)
			snprintf(v[i].name, sizeof v[i].name, "item-%%d-%%d", v[i].id, %[1]d);
		acc += strlen(v[i].name) * v[i].w;
	}
	for (int i = 1; i < n; i++)
		if (v[i - 1].w > v[i].w) {
			struct item t = v[i]; v[i] = v[i - 1]; v[i - 1] = t;
		}
	return acc / (n + %[2]d);
}
`, i, f)
		}
		fmt.Fprintf(&s, "\ndouble unit%d(struct item *v, int n)\n{\n\treturn 0", i)
		for f := range 12 {
			fmt.Fprintf(&s, " + f%d_%d(v, n, %d.0)", i, f, f+1)
		}
		s.WriteString(";\n}\n")
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("unit%03d.c", i)), []byte(s.String()), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte(`CC ?= gcc
OBJS := $(patsubst %.c,%.o,$(wildcard unit*.c))
all: $(OBJS)
%.o: %.c include/common.h
	$(CC) -O2 -Iinclude -c $< -o $@
clean:
	rm -f *.o
`), 0o644)
	return dir
}

// run runs a command to its end and returns the CPU time (user and system)
// it and its children used.
func run(b testing.TB, dir string, env []string, name string, args ...string) (cpu time.Duration) {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return cpuOf(cmd.ProcessState)
}

// tinyTurns is how many turns tinyRuns takes.
const tinyTurns = 30

// A tinyCmd is one way to compile the tiny file, and what tinyRuns
// measured of it: its median wall time and mean CPU time (see run), and
// the median of its wall time's differences with the first command's in
// the same turn.
type tinyCmd struct {
	env            []string
	argv           []string
	wall, cpu      time.Duration
	added          time.Duration
	walls, differs []time.Duration
}

// tinyPause is the quiet before each tiny compile.
const tinyPause = 100 * time.Millisecond

// tinyRuns runs each command once per turn, tinyTurns turns, each after
// pause: this machine's speed drifts over minutes, and a difference taken
// within a turn does not see it. With tinyPause, each compile starts on a
// quiet machine, as one compile after an edit does: what a daemon does
// once it has answered (a node taking its next launcher, say) falls in
// the pause, not in the next command's time.
func tinyRuns(b testing.TB, dir string, cmds []tinyCmd, pause time.Duration) {
	for range tinyTurns {
		for i := range cmds {
			c := &cmds[i]
			time.Sleep(pause)
			start := time.Now()
			c.cpu += run(b, dir, c.env, c.argv[0], c.argv[1:]...)
			c.walls = append(c.walls, time.Since(start))
			c.differs = append(c.differs, c.walls[len(c.walls)-1]-cmds[0].walls[len(c.walls)-1])
		}
	}
	median := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	for i := range cmds {
		c := &cmds[i]
		c.wall, c.cpu, c.added = median(c.walls), c.cpu/tinyTurns, median(c.differs)
	}
}

// medianSetup is the median sandbox setup, in milliseconds, of the jobs
// for source in a node's log.
func medianSetup(b testing.TB, log, source string) float64 {
	var v []float64
	for line := range strings.Lines(log) {
		if !strings.Contains(line, `msg="job done"`) || !strings.Contains(line, " source="+source+" ") {
			continue
		}
		_, rest, ok := strings.Cut(line, " setup_ms=")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			b.Fatalf("node log: bad setup_ms in %q", line)
		}
		v = append(v, f)
	}
	if len(v) == 0 {
		b.Fatalf("node log: no jobs for %s with their setup time", source)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func cpuOf(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// serving is the CPU time a serving node has used so far: its own, its
// spawner's, and that of the jobs the spawner has waited for (each job's
// launcher and compiler).
type serving struct{ node, spawner, jobs time.Duration }

func servingCPU(b testing.TB, pid int) serving {
	s := serving{node: procCPU(b, pid)}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		children, _ := os.ReadFile(t)
		for _, c := range strings.Fields(string(children)) {
			f := procStat(b, c)
			s.spawner += ticks(f[11]) + ticks(f[12])
			s.jobs += ticks(f[13]) + ticks(f[14])
		}
	}
	return s
}

// procStat is a process's /proc/PID/stat from its third field (state, [0])
// on: utime is [11], stime [12], cutime [13], cstime [14].
func procStat(b testing.TB, pid string) []string {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	return strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
}

func ticks(s string) time.Duration {
	n, _ := strconv.Atoi(s)
	return time.Duration(n) * time.Second / 100 // USER_HZ
}

// procCPU is a running process's user+system time so far.
func procCPU(b testing.TB, pid int) time.Duration {
	f := procStat(b, strconv.Itoa(pid))
	return ticks(f[11]) + ticks(f[12])
}

// startDistccd starts distccd on 127.0.0.1 with as many jobs as the
// serving distmesh node has slots, or reports why it cannot.
func startDistccd(b testing.TB) (stop func(), ok bool) {
	if _, err := exec.LookPath("distccd"); err != nil {
		fmt.Println("distcc not installed: `make bench` installs Debian's distcc package (as root)")
		return nil, false
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // distccd binds it next; a race with another process is possible but harmless here
	args := []string{"--no-detach", "--daemon", "--listen", "127.0.0.1", "--port", port, "--allow", "127.0.0.1", "--jobs", strconv.Itoa(runtime.NumCPU()), "--log-file", filepath.Join(b.TempDir(), "distccd.log")}
	if os.Geteuid() == 0 {
		args = append(args, "--user", "nobody")
	}
	cmd := exec.Command("distccd", args...)
	cmd.Env = append(os.Environ(), "DISTCCD_PATH=/usr/bin")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatal("distccd did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Setenv("BENCH_DISTCC_HOSTS", "127.0.0.1:"+port+"/"+strconv.Itoa(runtime.NumCPU()))
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}, true
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkScheduling builds 500 jobs of known durations (the stand-in
// compiler sleeps) on a simulated mesh of four nodes with different slot
// counts and speeds, from one client, and reports the build time against
// the ideal lower bound for the same jobs: the total work divided by the
// mesh's capacity, and no less than the longest job on the fastest node.
// Target: within 10% of the bound.
func BenchmarkScheduling(b *testing.B) {
	needSandbox(b)
	b.StopTimer()
	nodes := []struct {
		name  string
		slots int
		speed float64 // a job takes speed times its nominal duration there
	}{
		{"big", 8, 1.0}, {"fast", 4, 0.75}, {"slow", 4, 1.5}, {"old", 2, 2.0},
	}
	const jobs = 500
	// Nominal durations 600-1400 ms, fixed seed: the same jobs every run.
	rng := rand.New(rand.NewPCG(1, 2))
	durations := make([]int, jobs)
	total := 0
	for i := range durations {
		durations[i] = 600 + rng.IntN(801)
		total += durations[i]
	}
	m := newTestMesh(b, nodes[0].name)
	m.kill(nodes[0].name, syscall.SIGTERM)
	for i, n := range nodes {
		fake := fakeCC(b, filepath.Join(m.dir, "cc-"+n.name))
		os.WriteFile(filepath.Join(filepath.Dir(fake), "speed"), []byte(fmt.Sprint(n.speed)), 0o644)
		if i > 0 {
			m.homes[n.name] = filepath.Join(m.dir, n.name)
		}
		m.withConfig(n.name, fmt.Sprintf("compilers = [%q]", fake), fmt.Sprintf("slots = %d", n.slots), "discovery = false")
		if i == 0 {
			m.start(n.name)
			continue
		}
		token := strings.TrimSpace(m.run("keys", "add", "--home", m.homes[nodes[0].name], "--name", n.name))
		m.start(n.name, token)
	}
	token := strings.TrimSpace(m.run("keys", "add", "--home", m.homes[nodes[0].name], "--name", "client"))
	m.homes["client"] = filepath.Join(m.dir, "client")
	m.withConfig("client", "discovery = false")
	m.start("client", token, "--client-only")
	m.waitPeersUp("client", len(nodes))
	client := fakeCC(b, filepath.Join(m.dir, "cc-client"))

	dir := filepath.Join(b.TempDir(), "proj")
	os.MkdirAll(dir, 0o755)
	for i, d := range durations {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("j%03d.c", i)), []byte(fmt.Sprintf("sleep %d\n", d)), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte("OBJS := $(patsubst %.c,%.o,$(wildcard *.c))\nall: $(OBJS)\n%.o: %.c\n\t$(CC) -c $< -o $@\n"), 0o644)

	capacity, fastest, slots := 0.0, 1e9, 0
	for _, n := range nodes {
		capacity += float64(n.slots) / n.speed
		fastest = min(fastest, n.speed)
		slots += n.slots
	}
	maxDur := slices.Max(durations)
	bound := time.Duration(max(float64(total)/capacity, float64(maxDur)*fastest)) * time.Millisecond

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-s", fmt.Sprintf("-j%d", 2*slots), "CC="+m.bin+" "+client)
	cmd.Dir, cmd.Env = dir, m.compileEnv("client", "DISTMESH_FALLBACK=0")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	took := time.Since(start)
	fmt.Printf("\n%d jobs (%.0f s of nominal work) on %d nodes, %d slots: %v; ideal bound %v; ratio %.3f\n",
		jobs, float64(total)/1000, len(nodes), slots, took.Round(time.Millisecond), bound.Round(time.Millisecond), took.Seconds()/bound.Seconds())
	for _, n := range nodes {
		fmt.Printf("  %-5s %d slots, speed x%.2f: %d jobs\n", n.name, n.slots, n.speed, m.counter(n.name, "jobs_served"))
	}
	b.ReportMetric(took.Seconds()/bound.Seconds(), "build/bound")
	b.ReportMetric(took.Seconds(), "build-s")
}
