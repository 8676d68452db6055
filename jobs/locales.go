package jobs

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distmesh/distmesh/jobs/cc"
)

// localeSet is the locales this machine has, as `locale -a` lists them,
// listed again when the locale directory or archive changes (locale-gen;
// looked at at most once per compilerRecheck).
// A compiler whose locale is missing writes its messages in the C locale
// ('x' for ‘x’, English for German): a node refuses a job whose locale it
// lacks rather than answer with other messages than the client's own.
type localeSet struct {
	// mu protects the following.
	mu      sync.Mutex
	listed  bool
	checked int64 // when the stamps were last compared (monoNow)
	stamp   [2]cc.FileStamp
	have    map[string]bool // nil when `locale -a` cannot tell: every locale is taken as present
}

const localeDir = "/usr/lib/locale"

// has reports whether the locale name (as in LANG) is installed.
func (ls *localeSet) has(name string) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now := monoNow(); !ls.listed || now-ls.checked >= compilerRecheck.Load() {
		ls.checked = now
		st := [2]cc.FileStamp{stampOf(localeDir), stampOf(localeDir + "/locale-archive")}
		if !ls.listed || st != ls.stamp {
			ls.have, ls.listed, ls.stamp = listLocales(), true, st
		}
	}
	return ls.have == nil || ls.have[cc.NormalizeLocale(name)]
}

func listLocales() map[string]bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "locale", "-a")
	cmd.Env = probeEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		have[cc.NormalizeLocale(l)] = true
	}
	return have
}

// missingToC returns env with each locale variable that names a locale
// this machine lacks set to C. The compiler here runs in the C locale for
// such a variable's categories (GCC and the assembler set LC_CTYPE and
// LC_MESSAGES one by one), and so does a node told C, while a node that
// has the locale would use it, and one that lacks it refuses the job.
func (ls *localeSet) missingToC(env []string) []string {
	var out []string
	for i, kv := range env {
		name, v, _ := strings.Cut(kv, "=")
		switch name {
		case "LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE":
		default:
			continue
		}
		if v == "" || v == "C" || v == "POSIX" || ls.has(v) {
			continue
		}
		if out == nil {
			out = slices.Clone(env)
		}
		out[i] = name + "=C"
	}
	if out == nil {
		return env
	}
	return out
}
