package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
)

// searchCache remembers a compiler's include search path for a set of
// search-affecting arguments.
type searchCache struct {
	// mu protects the following.
	mu sync.Mutex
	m  map[string]searchPath
}

type searchPath struct {
	quote, bracket []string
	// absent are the directories the compiler left out of the path for
	// not existing ("ignoring nonexistent directory"). Where one would
	// stand, cpp -v does not say: when one appears (a build step creates
	// gen/ after a first compile with -Igen), the path is asked again.
	absent []string
	// named are the include directories the command line names, with
	// the directory each was (none: absent, or a file): one the compiler
	// left out as the same as another (a symlink to it; which name it
	// drops, GCC and clang differ) or as a file may become another, and
	// then the path is asked again too.
	named []namedDir
	// headerMap: a header map (clang) on the path, whose lookups the
	// scanner does not follow.
	headerMap bool
}

type namedDir struct {
	path     string
	dev, ino uint64
}

// holds reports whether every directory left out of the path is still
// not there, or still the same as one on it.
func (sp *searchPath) holds() bool {
	for _, d := range sp.absent {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return false
		}
	}
	for _, d := range sp.named {
		if dev, ino := dirID(d.path); dev != d.dev || ino != d.ino {
			return false
		}
	}
	return true
}

// dirID is the device and inode of the directory p names, or zeros.
func dirID(p string) (dev, ino uint64) {
	var st syscall.Stat_t
	if syscall.Stat(p, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return 0, 0
	}
	return st.Dev, st.Ino
}

// searchOptions are the options that change where the preprocessor looks,
// with whether they take a separate value.
var searchOptions = map[string]bool{
	"-I": true, "-iquote": true, "-isystem": true, "-idirafter": true, "-iprefix": true,
	"-iwithprefix": true, "-iwithprefixbefore": true, "--sysroot": true, "-isysroot": true,
	"-target": true, "-imultilib": true, "-imultiarch": true,
	"-nostdinc": false, "-nostdinc++": false, "-nostdlibinc": false, "-nobuiltininc": false,
	"-m32": false, "-m64": false, "-mx32": false, "-m16": false,
}

// searchArgs keeps the arguments that affect the include search path.
func searchArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if sep, ok := searchOptions[a]; ok {
			out = append(out, a)
			if sep && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		for _, prefix := range []string{"-I", "-iquote", "-isystem", "-idirafter", "--sysroot=", "-isysroot", "--target=", "-stdlib=", "--gcc-toolchain="} {
			if strings.HasPrefix(a, prefix) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// dirs returns the include search path the compiler uses for job, asking
// the compiler itself (cpp -v) once per distinct set of search options, and
// again when a directory it left out for not existing has appeared.
func (sc *searchCache) dirs(ctx context.Context, comp *Compiler, job *cc.Hello) (searchPath, error) {
	args := searchArgs(job.Args)
	var env []string
	for _, e := range job.Env {
		for _, v := range []string{"CPATH=", "C_INCLUDE_PATH=", "CPLUS_INCLUDE_PATH=", "OBJC_INCLUDE_PATH=", "OBJCPLUS_INCLUDE_PATH="} {
			if strings.HasPrefix(e, v) {
				env = append(env, e)
			}
		}
	}
	key := strings.Join(append(append([]string{comp.ID, comp.Name, job.Lang, job.Dir}, args...), env...), "\x00")
	sc.mu.Lock()
	sp, ok := sc.m[key]
	sc.mu.Unlock()
	if ok && sp.holds() {
		return sp, sp.err()
	}
	// The named directories as they are before the compiler looks at
	// them: one changed meanwhile is then noticed by holds.
	var named []namedDir
	for _, d := range cc.IncludeDirs(job.Args) {
		if strings.HasPrefix(d, "=") || strings.HasPrefix(d, "$SYSROOT") {
			continue // below the sysroot, which the command line fixes
		}
		if !filepath.IsAbs(d) {
			d = job.Dir + "/" + d
		}
		dev, ino := dirID(d)
		named = append(named, namedDir{d, dev, ino})
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	lang := job.Lang
	if lang == "" {
		lang = "c"
	}
	cmd := exec.CommandContext(ctx, comp.Path, append(args, "-x", lang, "-E", "-v", "-o", "/dev/null", "-")...)
	cmd.Dir = job.Dir
	cmd.Env = append(probeEnv(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return searchPath{}, fmt.Errorf("include search path: %s -E -v: %v: %s", comp.Path, err, firstLine(stderr.String()))
	}
	sp = parseSearchPath(stderr.String(), job.Dir)
	sp.named = named
	sc.mu.Lock()
	if sc.m == nil {
		sc.m = map[string]searchPath{}
	}
	sc.m[key] = sp
	sc.mu.Unlock()
	return sp, sp.err()
}

// err says why the scanner cannot follow this search path, or nil.
func (sp *searchPath) err() error {
	if sp.headerMap {
		return errors.New("a header map on the include search path")
	}
	return nil
}

// parseSearchPath reads the search lists that cpp -v prints.
func parseSearchPath(out, dir string) searchPath {
	var sp searchPath
	var cur *[]string
	abs := func(d string) string {
		if !filepath.IsAbs(d) {
			// Not cleaned: "dir/.." must be walked, not folded.
			d = dir + "/" + d
		}
		return d
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, `ignoring nonexistent directory "`) && strings.HasSuffix(line, `"`):
			d := strings.TrimSuffix(strings.TrimPrefix(line, `ignoring nonexistent directory "`), `"`)
			sp.absent = append(sp.absent, abs(d))
		case strings.HasPrefix(line, `#include "..." search starts here:`):
			cur = &sp.quote
		case strings.HasPrefix(line, `#include <...> search starts here:`):
			cur = &sp.bracket
		case strings.HasPrefix(line, "End of search list."):
			cur = nil
		case cur != nil && strings.HasPrefix(line, " "):
			// One blank before each: a directory's own leading or
			// trailing blanks are its name's.
			d := strings.TrimSuffix(line[1:], " (framework directory)")
			if strings.HasSuffix(d, " (headermap)") {
				sp.headerMap = true // clang -I x.hmap
			}
			*cur = append(*cur, abs(d))
		}
	}
	return sp
}
