package cc

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// compileEnv lists the environment variables that change what a compiler
// writes, with the check a node applies to each value. Nothing else of the
// client's environment reaches a remote compile.
var compileEnv = map[string]func(string) error{
	"SOURCE_DATE_EPOCH":     checkEpoch,
	"PWD":                   checkPWD,
	"CPATH":                 checkPathList,
	"C_INCLUDE_PATH":        checkPathList,
	"CPLUS_INCLUDE_PATH":    checkPathList,
	"OBJC_INCLUDE_PATH":     checkPathList,
	"OBJCPLUS_INCLUDE_PATH": checkPathList,
	"DEPENDENCIES_OUTPUT":   checkDepsSpec,
	"SUNPRO_DEPENDENCIES":   checkDepsSpec,
	"LANG":                  checkLocale,
	"LC_ALL":                checkLocale,
	"LC_MESSAGES":           checkLocale,
	"LC_CTYPE":              checkLocale,
	"LANGUAGE":              checkLanguage, // gettext's list of message languages, before LANG
	"GCC_COLORS":            checkColors,
	"GCC_URLS":              checkURLs,
	"TERM_URLS":             checkURLs,
	"TZ":                    checkTZ, // __TIMESTAMP__ is a local time
}

// localEnv lists variables that make the driver run or find programs and
// libraries by the client's own paths, change its options behind the
// command line's back (clang's CCC_OVERRIDE_OPTIONS edits it;
// CLANG_NO_DEFAULT_CONFIG skips the configuration files), write files of
// their own (CC_PRINT_HEADERS and the like) or change how GCC works and
// reports (GCC_COMPARE_DEBUG, GCC_EXTRA_DIAGNOSTIC_OUTPUT): a job with any
// of them set, even empty, is compiled locally.
var localEnv = []string{
	"GCC_EXEC_PREFIX", "COMPILER_PATH", "LIBRARY_PATH",
	"CCC_OVERRIDE_OPTIONS", "CLANG_NO_DEFAULT_CONFIG",
	"CC_PRINT_OPTIONS", "CC_PRINT_HEADERS", "CC_LOG_DIAGNOSTICS", "CC_PRINT_PROC_STAT",
	"GCC_COMPARE_DEBUG", "GCC_EXTRA_DIAGNOSTIC_OUTPUT",
	// Where the C library finds time zones, locales and character set
	// converters: the client's own files.
	"TZDIR", "LOCPATH", "GCONV_PATH",
	// clang: the producer string of LTO objects; a forced crash report.
	"LLVM_OVERRIDE_PRODUCER", "FORCE_CLANG_DIAGNOSTICS_CRASH",
}

// CompileEnv picks from env ("NAME=value" entries, the last of duplicates
// winning, as os/exec does) the variables a remote compile must see,
// sorted by name. It returns a reason to compile locally instead when a
// variable of localEnv is set, or when a value would be refused by a
// node's CheckEnv.
func CompileEnv(env []string) (pass []string, local string) {
	last := map[string]string{}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		last[name] = val
	}
	for _, name := range localEnv {
		if _, ok := last[name]; ok {
			return nil, name + " is set"
		}
	}
	for name, val := range last {
		if compileEnv[name] != nil {
			pass = append(pass, name+"="+val)
		}
	}
	sort.Strings(pass)
	var refused *RefusedError
	if err := CheckEnv(pass); errors.As(err, &refused) {
		return nil, refused.Arg + " has a value a node refuses"
	}
	return pass, ""
}

// CheckEnv returns nil when pass holds only variables a node passes to a
// compiler, each once and with a well-formed value, or an error wrapping
// ErrRefused that names the variable.
func CheckEnv(pass []string) error {
	seen := map[string]bool{}
	for _, kv := range pass {
		name, val, ok := strings.Cut(kv, "=")
		check := compileEnv[name]
		var reason string
		switch {
		case !ok:
			reason = "not NAME=value"
		case check == nil:
			reason = "not passed to compilers"
		case seen[name]:
			reason = "given twice"
		default:
			if err := check(val); err != nil {
				reason = err.Error()
			}
		}
		if reason != "" {
			return &RefusedError{What: "environment variable", Arg: name, Reason: reason}
		}
		seen[name] = true
	}
	return nil
}

// lookupEnv returns the value of the last name= entry of env.
func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// The checks below are written out rather than regular expressions:
// compiling one cost the wrapper, which every compile starts, a tenth of
// its own work.

// only reports whether every byte of v is one that ok accepts.
func only(v string, ok func(c byte) bool) bool {
	for i := 0; i < len(v); i++ {
		if !ok(v[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkEpoch: GCC reads SOURCE_DATE_EPOCH as a non-negative decimal
// integer no larger than 253402300799 (12 digits).
func checkEpoch(v string) error {
	if len(v) < 1 || len(v) > 12 || !only(v, isDigit) {
		return fmt.Errorf("not a number of seconds")
	}
	return nil
}

func checkPWD(v string) error {
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "\x00\n") {
		return fmt.Errorf("not an absolute path")
	}
	return nil
}

func checkPathList(v string) error {
	if strings.ContainsAny(v, "\x00\n") {
		return fmt.Errorf("not a colon-separated list of directories")
	}
	return nil
}

func checkDepsSpec(v string) error {
	file, _, _ := strings.Cut(v, " ")
	if file == "" || strings.ContainsAny(v, "\x00\n") {
		return fmt.Errorf(`not "file [target]"`)
	}
	return nil
}

// checkLocale accepts locale names, or "": no "/" (glibc loads a locale
// named by a path).
func checkLocale(v string) error {
	if !only(v, func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || strings.IndexByte("_.@+-", c) >= 0
	}) {
		return fmt.Errorf("not a locale name")
	}
	return nil
}

// Locales returns the locales a compile with env uses for its messages and
// their characters (LC_ALL, else LC_MESSAGES or LC_CTYPE, else LANG),
// other than C and POSIX, which every C library has.
func Locales(env []string) []string {
	get := func(name string) string { v, _ := lookupEnv(env, name); return v }
	var out []string
	for _, category := range []string{"LC_MESSAGES", "LC_CTYPE"} {
		l := get("LC_ALL")
		if l == "" {
			l = get(category)
		}
		if l == "" {
			l = get("LANG")
		}
		if l != "" && l != "C" && l != "POSIX" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// NormalizeLocale spells a locale name as `locale -a` lists it: the
// character set in lower case without punctuation (en_US.UTF-8 is
// en_US.utf8), as the C library looks it up.
func NormalizeLocale(name string) string {
	lang, mod, _ := strings.Cut(name, "@")
	base, codeset, ok := strings.Cut(lang, ".")
	if !ok {
		return name
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteByte('.')
	for i := 0; i < len(codeset); i++ {
		c := codeset[i]
		switch {
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case 'a' <= c && c <= 'z' || isDigit(c):
			b.WriteByte(c)
		}
	}
	if strings.Contains(name, "@") {
		b.WriteByte('@')
		b.WriteString(mod)
	}
	return b.String()
}

// checkLanguage accepts LANGUAGE: locale names separated by colons.
func checkLanguage(v string) error {
	for l := range strings.SplitSeq(v, ":") {
		if checkLocale(l) != nil {
			return fmt.Errorf("not a colon-separated list of locale names")
		}
	}
	return nil
}

// checkURLs accepts GCC_URLS and TERM_URLS: how GCC marks links in its
// diagnostics ("no", "st", "bel"), or "".
func checkURLs(v string) error {
	if len(v) > 8 || !only(v, func(c byte) bool { return 'a' <= c && c <= 'z' }) {
		return fmt.Errorf("not a word")
	}
	return nil
}

// checkTZ accepts a time zone name or file (Europe/Berlin, :/etc/localtime)
// or a POSIX TZ rule (CET-1CEST,M3.5.0,M10.5.0/3).
func checkTZ(v string) error {
	if v == "" || len(v) > 256 || strings.Contains(v, "..") || strings.ContainsAny(v, "\x00\n") {
		return fmt.Errorf("not a time zone")
	}
	return nil
}

// ZoneFile is the file a TZ value makes the C library read, if any: a
// compile that uses __TIMESTAMP__ reads it, so it travels with the job.
func ZoneFile(tz string) string {
	tz = strings.TrimPrefix(tz, ":")
	switch {
	case tz == "":
		return ""
	case strings.HasPrefix(tz, "/"):
		return tz
	case strings.ContainsAny(tz, ",<>") || strings.IndexAny(tz, "0123456789") >= 0 && !strings.Contains(tz, "/"):
		return "" // a POSIX rule such as UTC0 or CET-1CEST,M3.5.0,M10.5.0/3
	}
	return "/usr/share/zoneinfo/" + tz
}

// checkColors accepts GCC_COLORS: name=SGR entries separated by colons,
// e.g. "error=01;31:warning=01;35:locus=01", empty ones allowed; empty
// disables colours.
func checkColors(v string) error {
	ok := true
	for entry := range strings.SplitSeq(v, ":") {
		if entry == "" {
			continue
		}
		name, sgr, found := strings.Cut(entry, "=")
		ok = ok && found && name != "" &&
			only(name, func(c byte) bool { return 'a' <= c && c <= 'z' || isDigit(c) || c == '-' }) &&
			only(sgr, func(c byte) bool { return isDigit(c) || c == ';' })
	}
	if !ok {
		return fmt.Errorf("not name=SGR[:name=SGR...]")
	}
	return nil
}
