package jobs

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
	"github.com/distmesh/distmesh/jobs/wrap"
	"github.com/distmesh/distmesh/landlock"
)

// Compiler is a compiler installation on this machine and its identity.
//
// The identity is what makes a remote compile safe: a node runs a job only
// with a compiler whose identity equals the client's. It covers the
// compiler's family, version banner and target, the driver's mode (clang
// behaves as C++ when called clang++), and a hash of every program the
// driver runs for a compile (the driver, cc1/cc1plus or clang, the
// assembler) together with the shared libraries they load, except the C and
// C++ runtimes (glibc, libgcc_s, libstdc++), whose updates do not change
// what a compiler writes. An assembler upgrade changes object bytes, so it
// changes the identity too. So do the configuration files the driver reads
// (clang's .cfg files, a GCC specs file), which add options to every
// compile.
type Compiler struct {
	Path    string // as found or configured, e.g. /usr/bin/gcc
	Driver  string // the resolved driver executable
	Name    string // the driver's name as invoked (argv[0]'s base), which selects clang's mode
	Family  cc.Family
	Banner  string   // first line of --version
	Target  string   // -dumpmachine
	ID      string   // hex SHA-256 of all of the above and the programs' contents
	Native  string   // hex SHA-256 of what -march=native expands to ("" if unsupported)
	Install []string // every file and directory a compile needs, for the sandbox
	Exec    []string // the files a compile executes
	Config  []string // the configuration files the driver reads, nested ones included
	// FromPath are the programs the driver finds through PATH (GCC's
	// assembler and objcopy, on Debian), by name, as resolved (symlinks
	// followed) with the PATH it was probed with. A job whose PATH finds
	// another is compiled locally (see Compiler.PathDiffers).
	FromPath map[string]string

	// watch is what the identity was computed from, each with its version
	// then: the programs and libraries hashed, the configuration files, and
	// the directories a new configuration file would appear in. Changed
	// compares it with the file system.
	watch   []watched
	checked atomic.Int64 // when watch was last compared (monoNow)
	gone    atomic.Bool  // a comparison found a difference: the identity is stale
}

type watched struct {
	path  string
	stamp cc.FileStamp // the zero stamp: absent
}

func stampOf(path string) cc.FileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return cc.FileStamp{}
	}
	return cc.StampOf(fi)
}

// settledStamp is path's stamp, or, for a file or directory changed
// within absentSettle, one that matches nothing: a change in the same
// clock tick as the one stamped would leave the stamp as it was, so such
// a compiler is probed again once it has settled.
func settledStamp(path string) cc.FileStamp {
	st := stampOf(path)
	if recent := time.Now().Add(-absentSettle).UnixNano(); st.MTime > recent || st.CTime > recent {
		st.Size = -1
	}
	return st
}

// compilerRecheck is how often Changed compares a compiler's files with
// what its identity was computed from, in nanoseconds. An upgrade under a
// running node or agent is noticed within this interval.
var compilerRecheck atomic.Int64

// compilerRetry is how long a compiler that failed to probe is taken as
// failed before it is probed again (it may have been caught half
// upgraded), in nanoseconds.
var compilerRetry atomic.Int64

func init() {
	compilerRecheck.Store(int64(time.Second))
	compilerRetry.Store(int64(10 * time.Second))
}

// monoStart and monoNow give a monotonic clock as nanoseconds: a wall
// clock set back would stop the checks until it caught up.
var monoStart = time.Now()

func monoNow() int64 { return int64(time.Since(monoStart)) }

// Changed reports whether a file the identity was computed from has
// changed (an upgrade: dpkg replaces files, which changes their inode and
// times), or a configuration file has appeared where the driver looks. It
// stats them at most once per compilerRecheck; once it finds a change it
// stays true, and the compiler must be probed again.
func (c *Compiler) Changed() bool {
	if c.gone.Load() {
		return true
	}
	now := monoNow()
	last := c.checked.Load()
	if now-last < compilerRecheck.Load() || !c.checked.CompareAndSwap(last, now) {
		return false
	}
	for _, w := range c.watch {
		if stampOf(w.path) != w.stamp {
			c.gone.Store(true)
			return true
		}
	}
	return false
}

// Short is a prefix of ID long enough to tell compilers apart in a table.
func (c *Compiler) Short() string { return c.ID[:12] }

func (c *Compiler) String() string {
	return fmt.Sprintf("%s (%s, %s, %s)", c.Path, c.Banner, c.Target, c.Short())
}

// runtimeLibs are left out of the identity (not out of the sandbox).
var runtimeLibs = []string{"libc.so", "libm.so", "libdl.so", "libpthread.so", "librt.so", "libresolv.so", "ld-linux", "libgcc_s.so", "libstdc++.so"}

func isRuntimeLib(path string) bool {
	base := filepath.Base(path)
	return slices.ContainsFunc(runtimeLibs, func(p string) bool { return strings.HasPrefix(base, p) })
}

// ProbeCompiler examines the compiler at path (absolute, or a name looked up
// in PATH). It runs the compiler a few times and hashes its programs, which
// takes a fraction of a second; callers cache the result (see Compilers).
func ProbeCompiler(ctx context.Context, path string) (*Compiler, error) {
	if !filepath.IsAbs(path) {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("compiler %q not found in PATH", path)
		}
		path = p
	}
	driver, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("compiler %s: %w", path, err)
	}
	c := &Compiler{Path: path, Driver: driver, Name: filepath.Base(path)}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Env = probeEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s %s: %v: %s", path, strings.Join(args, " "), err, firstLine(string(out)))
		}
		return string(out), nil
	}
	version, err := run("--version")
	if err != nil {
		return nil, err
	}
	c.Banner = firstLine(version)
	switch {
	case strings.Contains(version, "clang version"):
		c.Family = cc.FamilyClang
	case strings.Contains(version, "Free Software Foundation") || strings.Contains(c.Banner, "gcc") || strings.Contains(c.Banner, "g++"):
		c.Family = cc.FamilyGCC
	default:
		return nil, fmt.Errorf("compiler %s: not GCC or Clang (%q)", path, c.Banner)
	}
	if c.Family == cc.FamilyGCC {
		// GCC's banner begins with the name it was called by ("cc (Debian
		// 12.2.0-14) 12.2.0"); the identity must not depend on it.
		if _, rest, ok := strings.Cut(c.Banner, " "); ok {
			c.Banner = rest
		}
	}
	if c.Target, err = run("-dumpmachine"); err != nil {
		return nil, err
	}
	c.Target = strings.TrimSpace(c.Target)

	programs := []string{driver}
	var dirs, configs, configDirs []string
	switch c.Family {
	case cc.FamilyGCC:
		// objcopy splits DWARF for -gsplit-dwarf.
		for _, prog := range []string{"cc1", "cc1plus", "cc1obj", "cc1objplus", "as", "objcopy"} {
			out, err := run("-print-prog-name=" + prog)
			if err != nil {
				return nil, err
			}
			p := strings.TrimSpace(out)
			if !filepath.IsAbs(p) {
				name := p
				if p, err = exec.LookPath(p); err != nil {
					continue // not installed (cc1obj without gobjc)
				}
				if real, err := filepath.EvalSymlinks(p); err == nil {
					if c.FromPath == nil {
						c.FromPath = map[string]string{}
					}
					c.FromPath[name] = real
				}
			}
			if _, err := os.Stat(p); err == nil {
				programs = append(programs, p)
			}
		}
		out, err := run("-print-search-dirs")
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(out, "\n") {
			if dir, ok := strings.CutPrefix(line, "install: "); ok {
				dirs = append(dirs, filepath.Clean(dir))
				configDirs = append(configDirs, filepath.Clean(dir))
			}
		}
		// A specs file found along the library path changes what the
		// driver passes to every program; GCC prints its bare name when
		// there is none.
		out, err = run("-print-file-name=specs")
		if err != nil {
			return nil, err
		}
		if f := strings.TrimSpace(out); filepath.IsAbs(f) {
			configs = append(configs, filepath.Clean(f))
		}
	case cc.FamilyClang:
		// clang compiles and assembles in-process; its resource directory
		// holds its own headers.
		out, err := run("-print-resource-dir")
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Clean(strings.TrimSpace(out)))
		// clang finds libstdc++'s headers through the GCC installation it
		// detects: that directory must be there for it to detect.
		out, err = run("-v", "-E", "-x", "c", "-o", "/dev/null", "/dev/null")
		if err != nil {
			return nil, err
		}
		// Where clang looks for default configuration files: beside the
		// driver (clang 14 with a target-prefixed name; every name from
		// clang 16), and the system and user directories it was built
		// with, which -v names.
		configDirs = append(configDirs, filepath.Dir(driver))
		for _, line := range strings.Split(out, "\n") {
			line = strings.TrimSpace(line)
			if dir, ok := strings.CutPrefix(line, "Selected GCC installation: "); ok {
				dirs = append(dirs, filepath.Clean(dir))
			}
			if f, ok := strings.CutPrefix(line, "Configuration file: "); ok {
				configs = append(configs, filepath.Clean(f))
			}
			for _, prefix := range []string{"System configuration file directory: ", "User configuration file directory: "} {
				if dir, ok := strings.CutPrefix(line, prefix); ok {
					configDirs = append(configDirs, filepath.Clean(dir))
				}
			}
		}
	}
	// The loader's cache (without it every library is searched for in
	// every default directory, at each of the driver's execs), locale data
	// and character set converters (messages in the user's language and
	// quotes, -finput-charset and -fexec-charset).
	for _, d := range []string{"/etc/ld.so.cache", "/usr/lib/locale", "/usr/share/locale", "/usr/lib/" + gnuTriplet(c.Target) + "/gconv", "/usr/lib64/gconv", "/usr/lib/gconv"} {
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("compiler %s: cannot find its installation directory", path)
	}
	closure, err := landlock.Closure(append([]string{path}, programs...)...)
	if err != nil {
		return nil, fmt.Errorf("compiler %s: %w", path, err)
	}
	if c.Family == cc.FamilyClang {
		// Every .cfg where clang looks, not only the one it read here: a
		// job's --target or driver mode may select another.
		for _, d := range configDirs {
			more, _ := filepath.Glob(filepath.Join(d, "*.cfg"))
			configs = append(configs, more...)
		}
		configs = clangConfigIncludes(configs)
	}
	c.Install = append(closure, dirs...)
	// The path as found is what runs (its name selects clang's mode); the
	// kernel follows its symlinks to the driver.
	c.Exec = append([]string{path}, programs...)
	for _, prog := range programs {
		// The kernel needs execute permission on the ELF interpreter too.
		if interp := elfInterp(prog); interp != "" && !slices.Contains(c.Exec, interp) {
			c.Exec = append(c.Exec, interp)
		}
	}

	h := sha256.New()
	fmt.Fprintf(h, "distmesh compiler identity v1\x00%d\x00%s\x00%s\x00%s\x00", c.Family, c.Banner, c.Target, driverMode(c.Family, c.Name))
	hashed := slices.Clone(programs)
	for _, f := range closure {
		if strings.Contains(filepath.Base(f), ".so") && !isRuntimeLib(f) {
			hashed = append(hashed, f)
		}
	}
	slices.Sort(hashed)
	hashed = slices.Compact(hashed)
	// The versions hashed below, taken before they are read: a file
	// replaced meanwhile is then noticed by Changed.
	for _, f := range slices.Concat([]string{path}, hashed, configs, configDirs) {
		c.watch = append(c.watch, watched{f, settledStamp(f)})
	}
	for _, f := range hashed {
		sum, err := hashFile(f)
		if err != nil {
			return nil, fmt.Errorf("compiler %s: %w", path, err)
		}
		fmt.Fprintf(h, "%s\x00%x\x00", filepath.Base(f), sum)
	}
	// Configuration files, in the order the driver reads them. A compiler
	// without any keeps the identity it had before they were hashed.
	for _, f := range configs {
		sum, err := hashFile(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// An @file that is not there: clang takes it as it is.
			fmt.Fprintf(h, "config\x00%s\x00absent\x00", f)
			continue
		case err != nil:
			return nil, fmt.Errorf("compiler %s: configuration file: %w", path, err)
		}
		fmt.Fprintf(h, "config\x00%s\x00%x\x00", f, sum)
		c.Config = append(c.Config, f)
	}
	c.ID = hex.EncodeToString(h.Sum(nil))
	c.Install = append(c.Install, c.Config...)
	c.checked.Store(monoNow())

	// What -march=native means here, as the driver hands it to the compiler
	// proper.
	if out, err := run("-###", "-march=native", "-mtune=native", "-c", "-x", "c", "/dev/null", "-o", "/dev/null"); err == nil {
		c.Native = nativeFingerprint(c.Family, out)
	}
	return c, nil
}

// clangConfigIncludes adds to the configuration files clang named the ones
// they include (an @file option, relative to the including file), in the
// order clang reads them. Gentoo's /etc/clang/clang.cfg, for one, is
// nothing but such includes.
func clangConfigIncludes(files []string) []string {
	var out []string
	seen := map[string]bool{}
	var add func(f string, depth int)
	add = func(f string, depth int) {
		if seen[f] || depth > 10 {
			return
		}
		seen[f] = true
		out = append(out, f)
		data, err := os.ReadFile(f)
		if err != nil {
			return // hashing it reports the error
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, word := range strings.Fields(line) {
				if inc, ok := strings.CutPrefix(word, "@"); ok && inc != "" {
					if !filepath.IsAbs(inc) {
						inc = filepath.Join(filepath.Dir(f), inc)
					}
					add(filepath.Clean(inc), depth+1)
				}
			}
		}
	}
	for _, f := range files {
		add(f, 0)
	}
	return out
}

// PathDiffers says which program the driver would find through pathList
// (a job's PATH; empty entries mean dir) other than the one it was
// identified with, or "".
func (c *Compiler) PathDiffers(pathList, dir string) string {
	for name, want := range c.FromPath {
		got := lookPathIn(name, pathList, dir)
		if got == "" {
			return fmt.Sprintf("PATH finds no %s; the compiler was identified with %s", name, want)
		}
		if real, err := filepath.EvalSymlinks(got); err != nil || real != want {
			return fmt.Sprintf("PATH finds %s at %s, not %s, which the compiler was identified with", name, got, want)
		}
	}
	return ""
}

// pathChecks remembers Compiler.PathDiffers per compiler and PATH (and
// working directory, when the PATH has relative entries) for
// compilerRecheck: a build's jobs share one PATH.
type pathChecks struct {
	// mu protects the following.
	mu sync.Mutex
	m  map[string]pathCheck
}

type pathCheck struct {
	at  int64 // monoNow
	why string
}

// differs is c.PathDiffers for a job's environment (the wrapper's) and
// working directory.
func (pc *pathChecks) differs(c *Compiler, env []string, dir string) string {
	if len(c.FromPath) == 0 {
		return ""
	}
	pathList := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathList = v
		}
	}
	key := c.ID + "\x00" + pathList
	for _, d := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(d) {
			key += "\x00" + dir
			break
		}
	}
	now := monoNow()
	pc.mu.Lock()
	e, ok := pc.m[key]
	pc.mu.Unlock()
	if ok && now-e.at < compilerRecheck.Load() {
		return e.why
	}
	e = pathCheck{now, c.PathDiffers(pathList, dir)}
	pc.mu.Lock()
	if pc.m == nil || len(pc.m) >= 1000 {
		pc.m = map[string]pathCheck{}
	}
	pc.m[key] = e
	pc.mu.Unlock()
	return e.why
}

// lookPathIn finds an executable file named name in the directories of
// pathList as execvp does, or returns "".
func lookPathIn(name, pathList, dir string) string {
	for _, d := range filepath.SplitList(pathList) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// gnuTriplet turns a compiler's target (x86_64-pc-linux-gnu) into the
// Debian multiarch directory name (x86_64-linux-gnu).
func gnuTriplet(target string) string {
	parts := strings.Split(target, "-")
	if len(parts) == 4 {
		return parts[0] + "-" + parts[2] + "-" + parts[3]
	}
	return target
}

// elfInterp returns a program's ELF interpreter (PT_INTERP), or "".
func elfInterp(prog string) string {
	f, err := elf.Open(prog)
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				return strings.TrimRight(string(b), "\x00")
			}
		}
	}
	return ""
}

// driverMode is what a driver's name selects: clang++ compiles C++ by
// default, clang-cpp preprocesses. GCC's drivers are separate programs.
func driverMode(f cc.Family, name string) string {
	if f != cc.FamilyClang {
		return ""
	}
	switch {
	case strings.Contains(name, "++"):
		return "c++"
	case strings.HasSuffix(name, "-cpp") || strings.Contains(name, "clang-cpp"):
		return "cpp"
	}
	return "c"
}

// nativeFingerprint hashes the target options that -march=native expanded
// to on the compiler-proper command line that -### printed.
func nativeFingerprint(f cc.Family, out string) string {
	h := sha256.New()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, " ") {
			continue
		}
		fields := strings.Fields(line)
		for i, field := range fields {
			field = strings.Trim(field, `"`)
			switch {
			case f == cc.FamilyGCC && (strings.HasPrefix(field, "-m") || strings.HasPrefix(field, "--param")):
				fmt.Fprintln(h, field)
			case f == cc.FamilyClang && (field == "-target-cpu" || field == "-target-feature" || field == "-tune-cpu") && i+1 < len(fields):
				fmt.Fprintln(h, field, strings.Trim(fields[i+1], `"`))
			}
		}
		break // the first command is the compiler proper
	}
	return hex.EncodeToString(h.Sum(nil))
}

// probeEnv is the environment compilers are probed in: only what selects
// messages and paths, so that the user's CPATH and the like do not leak in.
func probeEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func hashFile(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, fmt.Errorf("hash %s: %w", path, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// Compilers is a cache of probed compilers, keyed by the path and the
// identity of the driver file (device, inode, size, modification time), so a
// compiler upgrade is noticed at the next use; an upgrade of another of its
// programs, libraries or configuration files within compilerRecheck (see
// Compiler.Changed). A compiler that failed to probe is probed again after
// compilerRetry.
type Compilers struct {
	// mu protects the following.
	mu    sync.Mutex
	known map[string]*compilerEntry
}

type compilerEntry struct {
	stamp cc.FileStamp
	c     *Compiler
	err   error
	at    int64 // when the probe ended (monoNow)
	done  chan struct{}
}

// stale reports whether a finished probe must be made again: the compiler
// changed, or it failed more than compilerRetry ago.
func (e *compilerEntry) stale() bool {
	switch {
	case !isDone(e.done):
		return false
	case e.err != nil:
		return monoNow()-e.at >= compilerRetry.Load()
	}
	return e.c.Changed()
}

// Get returns the compiler at path, probing it the first time and again
// whenever it changes. A probe cut short by its caller's end is not kept:
// the next call probes again.
func (cs *Compilers) Get(ctx context.Context, path string) (*Compiler, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("compiler %s: %w", path, err)
	}
	stamp := cc.StampOf(fi)
	for {
		cs.mu.Lock()
		e := cs.known[path]
		cs.mu.Unlock()
		if e != nil && e.stamp == stamp && !e.stale() {
			select {
			case <-e.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded) {
				continue // another caller's probe, cut short by its end
			}
			return e.c, e.err
		}
		cs.mu.Lock()
		if cs.known[path] != e {
			cs.mu.Unlock()
			continue // another caller got there first
		}
		if cs.known == nil {
			cs.known = make(map[string]*compilerEntry)
		}
		e = &compilerEntry{stamp: stamp, done: make(chan struct{})}
		cs.known[path] = e
		cs.mu.Unlock()
		e.c, e.err = ProbeCompiler(ctx, path)
		e.at = monoNow()
		if e.err != nil && ctx.Err() != nil {
			e.err = ctx.Err()
			cs.mu.Lock()
			if cs.known[path] == e {
				delete(cs.known, path)
			}
			cs.mu.Unlock()
		}
		close(e.done)
		return e.c, e.err
	}
}

// put records c, probed elsewhere, as the compiler at its path.
func (cs *Compilers) put(c *Compiler) {
	e := &compilerEntry{stamp: stampOf(c.Path), c: c, at: monoNow(), done: make(chan struct{})}
	close(e.done)
	cs.mu.Lock()
	if cs.known == nil {
		cs.known = make(map[string]*compilerEntry)
	}
	cs.known[c.Path] = e
	cs.mu.Unlock()
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// FindCompilers lists the compilers on this machine: the usual names and
// the versioned and target-prefixed ones found in the directories of PATH,
// one path per distinct driver file, plus extra (from config).
func FindCompilers(extra []string) []string {
	var found []string
	seen := map[string]bool{}
	isSelf := wrap.SelfChecker()
	add := func(p string) {
		real, err := filepath.EvalSymlinks(p)
		if err != nil || isSelf(p) {
			return // a masquerade link is not a compiler
		}
		fi, err := os.Stat(real)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return
		}
		// Drivers that share a file but not a mode (clang, clang++) are
		// different compilers; a name is a key along with the file.
		key := real + "\x00" + driverMode(cc.FamilyClang, filepath.Base(p))
		if seen[key] {
			return
		}
		seen[key] = true
		found = append(found, p)
	}
	for _, p := range extra {
		add(p)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if wrap.IsCompilerName(e.Name()) {
				add(filepath.Join(dir, e.Name()))
			}
		}
	}
	return found
}
