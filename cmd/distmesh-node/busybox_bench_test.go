package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkBusyboxClientCPU measures the client's work per remote job on a
// real project: busybox (BENCH_BUSYBOX names its source tarball; `make
// bench` fetches Debian's). It builds busybox once locally (make defconfig,
// make V=1) to learn its compile lines, then replays exactly those lines
// with plain gcc and through distmesh (a client-only node sending to a
// serving node on 127.0.0.1, DISTMESH_FALLBACK=0): a first build with empty
// caches, and a rebuild after touching include/libbb.h. The client's CPU
// per job is each wrapper's user+sys time plus the agent's, divided by the
// jobs; it is reported as a share of a local compile's CPU. Target: at
// most 5%. BENCH_PROFILE_DIR=DIR has the client's agent write its CPU
// profile there.
//
// Lines are split into words as the shell would and executed directly on
// both sides: make's shell is not distmesh's cost.
func BenchmarkBusyboxClientCPU(b *testing.B) {
	tarball := os.Getenv("BENCH_BUSYBOX")
	if tarball == "" {
		b.Skip("BENCH_BUSYBOX is not set: `make bench` fetches busybox's source and sets it")
	}
	needSandbox(b)
	b.StopTimer()
	work := b.TempDir()
	if out, err := exec.Command("tar", "-C", work, "-xf", tarball).CombinedOutput(); err != nil {
		b.Fatalf("untar: %v\n%s", err, out)
	}
	dirs, _ := filepath.Glob(filepath.Join(work, "busybox-*"))
	if len(dirs) != 1 {
		b.Fatalf("busybox source not found in %s", tarball)
	}
	src := dirs[0]
	run(b, src, nil, "make", "-s", "defconfig")
	// Features that need libraries this machine may lack.
	run(b, src, nil, "sh", "-c", "sed -i 's/^CONFIG_TC=y/# CONFIG_TC is not set/' .config && yes '' | make -s oldconfig >/dev/null")
	cmd := exec.Command("make", "V=1", fmt.Sprintf("-j%d", runtime.NumCPU()), "busybox_unstripped")
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("local build: %v\n%s", err, lastLines(out, 30))
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "gcc ") && strings.Contains(l, " -c ") && strings.Contains(l, " -o ") {
			lines = append(lines, l)
		}
	}
	if len(lines) < 100 {
		b.Fatalf("found only %d compile lines in the build log", len(lines))
	}
	// Each line runs as make would after its shell: the words, executed
	// directly, so that no shell's CPU is counted on either side.
	argvs := make([][]string, len(lines))
	for i, l := range lines {
		argv, err := shellWords(l)
		if err != nil {
			b.Fatalf("compile line %q: %v", l, err)
		}
		argvs[i] = argv
	}

	m := newTestMesh(b, "server")
	if dir := os.Getenv("BENCH_PROFILE_DIR"); dir != "" {
		// The client's agent (only) writes a CPU profile when it stops.
		b.Setenv("DISTMESH_CPUPROFILE", filepath.Join(dir, "agent.pprof"))
	}
	m.joinClient("client", "server")
	agent := m.procs["client"].Process.Pid

	// replay runs every compile line (in parallel, bounded) with prefix
	// before gcc and returns the CPU the lines' processes used.
	replay := func(prefix []string, env []string) time.Duration {
		var mu sync.Mutex
		var total time.Duration
		var failed []string
		sem := make(chan struct{}, 2*runtime.NumCPU())
		var wg sync.WaitGroup
		for i, l := range lines {
			argv := append(slices.Clone(prefix), argvs[i]...)
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				c := exec.CommandContext(ctx, argv[0], argv[1:]...)
				c.Dir, c.Env = src, env
				o, err := c.CombinedOutput()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v\n%s", l, err, o))
				}
				if c.ProcessState != nil {
					total += cpuOf(c.ProcessState)
				}
			}()
		}
		wg.Wait()
		if len(failed) > 0 {
			b.Fatalf("%d compile lines failed, the first: %s", len(failed), failed[0])
		}
		return total
	}
	local := replay(nil, os.Environ())
	denv := m.compileEnv("client", "DISTMESH_FALLBACK=0")
	type cost struct {
		wrappers, agent time.Duration
		// jobs sent; scanned, of them with another unit's headers (a
		// template: see jobs.scanTemplate)
		jobs, scanned, templated int
	}
	counts := func() (sent, scanned, templated int) {
		st := m.status("client")
		agent, _ := st["agent"].(map[string]any)
		n := func(m map[string]any, key string) int { v, _ := m[key].(float64); return int(v) }
		return n(st, "jobs_sent"), n(agent, "manifest_misses"), n(agent, "manifest_templates")
	}
	measure := func() cost {
		sent, scanned, templated := counts()
		before := procCPU(b, agent)
		wrappers := replay([]string{m.bin}, denv)
		agentCPU := procCPU(b, agent) - before
		sent2, scanned2, templated2 := counts()
		return cost{wrappers, agentCPU, sent2 - sent, scanned2 - scanned, templated2 - templated}
	}
	c1 := measure()
	first, n1 := c1.wrappers+c1.agent, c1.jobs
	if n1 < len(lines)*9/10 {
		b.Fatalf("only %d of %d compile lines went to the node; the agent's reasons for the rest: %v", n1, len(lines), m.status("client")["agent"])
	}
	now := time.Now()
	os.Chtimes(filepath.Join(src, "include", "libbb.h"), now, now)
	c2 := measure()
	rebuild, n2 := c2.wrappers+c2.agent, c2.jobs

	perLocal := local / time.Duration(len(lines))
	fmt.Printf("\nbusybox: %d compile lines; a local compile uses %.1f ms of CPU\n", len(lines), ms(perLocal))
	for _, r := range []struct {
		name string
		c    cost
	}{{"first build", c1}, {"rebuild after touching include/libbb.h", c2}} {
		n := time.Duration(max(r.c.jobs, 1))
		per := (r.c.wrappers + r.c.agent) / n
		fmt.Printf("  %-40s %d remote jobs, client CPU %.2f ms/job (wrapper %.2f, agent %.2f) = %.1f%% of a local compile; %d scanned, %d of them with another unit's headers\n",
			r.name, r.c.jobs, ms(per), ms(r.c.wrappers/n), ms(r.c.agent/n), 100*per.Seconds()/perLocal.Seconds(), r.c.scanned, r.c.templated)
	}
	b.ReportMetric(100*(first/time.Duration(max(n1, 1))).Seconds()/perLocal.Seconds(), "first-client-cpu-%")
	b.ReportMetric(100*(rebuild/time.Duration(max(n2, 1))).Seconds()/perLocal.Seconds(), "rebuild-client-cpu-%")
}

func lastLines(b []byte, n int) string {
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// shellWords splits a command line as sh would, for the quoting compile
// lines use ('...', "...", backslashes); anything needing a shell
// (expansions, operators) is an error.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated '")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				} else if line[i] == '$' || line[i] == '`' {
					return nil, fmt.Errorf("expansion inside double quotes")
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated \"")
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case strings.IndexByte("$`|&;<>()*?[~", c) >= 0:
			return nil, fmt.Errorf("%q needs a shell", c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	got, err := shellWords(`gcc -Wp,-MD,a/.x.o.d  -DBB_VER='"1.35.0"' -DQ="a\"b" x\ y.c`)
	want := []string{"gcc", "-Wp,-MD,a/.x.o.d", `-DBB_VER="1.35.0"`, `-DQ=a"b`, "x y.c"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("shellWords = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"gcc $(x)", "gcc 'x", `gcc "x`, "gcc a; rm b"} {
		if _, err := shellWords(bad); err == nil {
			t.Errorf("shellWords(%q) accepted a line that needs a shell", bad)
		}
	}
}
