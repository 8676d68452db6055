package cc

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/distmesh/distmesh/jobs/wrap"
)

func TestCompileEnv(t *testing.T) {
	tests := []struct {
		env       []string
		want      []string
		wantLocal string
	}{
		{nil, nil, ""},
		{
			[]string{"HOME=/root", "PATH=/usr/bin", "PWD=/src", "LANG=C.UTF-8", "SOURCE_DATE_EPOCH=1700000000", "SSH_AUTH_SOCK=/tmp/a", "CPATH=inc:/opt/inc", "GCC_COLORS=error=01;31:warning=01;35"},
			[]string{"CPATH=inc:/opt/inc", "GCC_COLORS=error=01;31:warning=01;35", "LANG=C.UTF-8", "PWD=/src", "SOURCE_DATE_EPOCH=1700000000"},
			"",
		},
		{[]string{"LC_ALL=C", "LC_ALL=de_DE.UTF-8@euro", "junk"}, []string{"LC_ALL=de_DE.UTF-8@euro"}, ""},
		{[]string{"DEPENDENCIES_OUTPUT=x.d tgt", "SUNPRO_DEPENDENCIES=y.d", "C_INCLUDE_PATH=", "CPLUS_INCLUDE_PATH=a", "OBJC_INCLUDE_PATH=b", "LC_MESSAGES=C", "LC_CTYPE=C"},
			[]string{"CPLUS_INCLUDE_PATH=a", "C_INCLUDE_PATH=", "DEPENDENCIES_OUTPUT=x.d tgt", "LC_CTYPE=C", "LC_MESSAGES=C", "OBJC_INCLUDE_PATH=b", "SUNPRO_DEPENDENCIES=y.d"}, ""},
		{[]string{"GCC_EXEC_PREFIX=/opt/"}, nil, "GCC_EXEC_PREFIX is set"},
		{[]string{"PWD=/x", "COMPILER_PATH="}, nil, "COMPILER_PATH is set"},
		{[]string{"LIBRARY_PATH=/usr/lib"}, nil, "LIBRARY_PATH is set"},
		{[]string{"CCC_OVERRIDE_OPTIONS=+-O2"}, nil, "CCC_OVERRIDE_OPTIONS is set"},
		{[]string{"CC_PRINT_HEADERS=1", "CC_PRINT_HEADERS_FILE=h.txt"}, nil, "CC_PRINT_HEADERS is set"},
		{[]string{"OBJCPLUS_INCLUDE_PATH=inc"}, []string{"OBJCPLUS_INCLUDE_PATH=inc"}, ""},
		{[]string{"LANGUAGE=de:fr_FR", "GCC_URLS=st", "TERM_URLS=", "TERMINFO=/x"}, []string{"GCC_URLS=st", "LANGUAGE=de:fr_FR", "TERM_URLS="}, ""},
		{[]string{"LANGUAGE=/tmp/x"}, nil, "LANGUAGE has a value a node refuses"},
		{[]string{"TZ=Europe/Berlin", "TZDIR=/opt/zoneinfo"}, nil, "TZDIR is set"},
		{[]string{"GCONV_PATH=/home/u/gconv"}, nil, "GCONV_PATH is set"},
		{[]string{"SOURCE_DATE_EPOCH=yesterday"}, nil, "SOURCE_DATE_EPOCH has a value a node refuses"},
		{[]string{"LANG=/tmp/evil"}, nil, "LANG has a value a node refuses"},
	}
	for _, tt := range tests {
		got, local := CompileEnv(tt.env)
		if !slices.Equal(got, tt.want) || local != tt.wantLocal {
			t.Errorf("CompileEnv(%q) = %q, %q; want %q, %q", tt.env, got, local, tt.want, tt.wantLocal)
		}
	}
}

func TestCheckEnv(t *testing.T) {
	good := [][]string{
		nil,
		{"SOURCE_DATE_EPOCH=0"},
		{"SOURCE_DATE_EPOCH=253402300799"},
		{"PWD=/home/u/src dir"},
		{"CPATH=", "C_INCLUDE_PATH=rel:/abs::x y", "CPLUS_INCLUDE_PATH=/a", "OBJC_INCLUDE_PATH=b"},
		{"DEPENDENCIES_OUTPUT=out/x.d", "SUNPRO_DEPENDENCIES=x.d some target"},
		{"LANG=", "LC_ALL=C", "LC_MESSAGES=en_US.UTF-8", "LC_CTYPE=de_DE@euro"},
		{"GCC_COLORS="},
		{"GCC_COLORS=error=01;31:warning=01;35:note=01;36:range1=32:range2=34:locus=01:quote=01:fixit-insert=32:fixit-delete=31:diff-filename=01:diff-hunk=32:type-diff=01;32"},
		{"GCC_COLORS=error=01;31:"},
	}
	for _, env := range good {
		if err := CheckEnv(env); err != nil {
			t.Errorf("CheckEnv(%q) = %v, want nil", env, err)
		}
	}
	bad := []struct {
		env  []string
		want string
	}{
		{[]string{"HOME=/root"}, `environment variable "HOME" refused: not passed to compilers`},
		{[]string{"LD_PRELOAD=/tmp/x.so"}, `environment variable "LD_PRELOAD" refused: not passed to compilers`},
		{[]string{"GCC_EXEC_PREFIX=/tmp/"}, `environment variable "GCC_EXEC_PREFIX" refused: not passed to compilers`},
		{[]string{"PWD"}, `environment variable "PWD" refused: not NAME=value`},
		{[]string{"PWD=/a", "PWD=/b"}, `environment variable "PWD" refused: given twice`},
		{[]string{"SOURCE_DATE_EPOCH="}, `environment variable "SOURCE_DATE_EPOCH" refused: not a number of seconds`},
		{[]string{"SOURCE_DATE_EPOCH=-1"}, `environment variable "SOURCE_DATE_EPOCH" refused: not a number of seconds`},
		{[]string{"SOURCE_DATE_EPOCH=1234567890123"}, `environment variable "SOURCE_DATE_EPOCH" refused: not a number of seconds`},
		{[]string{"PWD=relative"}, `environment variable "PWD" refused: not an absolute path`},
		{[]string{"PWD=/a\nb"}, `environment variable "PWD" refused: not an absolute path`},
		{[]string{"CPATH=/a\nb"}, `environment variable "CPATH" refused: not a colon-separated list of directories`},
		{[]string{"OBJC_INCLUDE_PATH=\x00"}, `environment variable "OBJC_INCLUDE_PATH" refused: not a colon-separated list of directories`},
		{[]string{"DEPENDENCIES_OUTPUT="}, `environment variable "DEPENDENCIES_OUTPUT" refused: not "file [target]"`},
		{[]string{"SUNPRO_DEPENDENCIES= target"}, `environment variable "SUNPRO_DEPENDENCIES" refused: not "file [target]"`},
		{[]string{"LANG=/tmp/locale"}, `environment variable "LANG" refused: not a locale name`},
		{[]string{"LC_ALL=C;rm"}, `environment variable "LC_ALL" refused: not a locale name`},
		{[]string{"GCC_COLORS=error=red"}, `environment variable "GCC_COLORS" refused: not name=SGR[:name=SGR...]`},
		{[]string{"GCC_COLORS=\x1b[31m"}, `environment variable "GCC_COLORS" refused: not name=SGR[:name=SGR...]`},
	}
	for _, tt := range bad {
		err := CheckEnv(tt.env)
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrRefused) {
			t.Errorf("CheckEnv(%q) = %v, want %q wrapping ErrRefused", tt.env, err, tt.want)
		}
	}
}

// TestCompileEnvPassesCheckEnv: what a client passes, a node accepts.
func TestCompileEnvPassesCheckEnv(t *testing.T) {
	var env []string
	for name := range compileEnv {
		env = append(env, name+"=x")
	}
	env = append(env, "PWD=/src", "SOURCE_DATE_EPOCH=1", "GCC_COLORS=error=01")
	pass, local := CompileEnv(env)
	if local != "" || len(pass) != len(compileEnv) {
		t.Fatalf("CompileEnv = %q, %q; want all %d variables", pass, local, len(compileEnv))
	}
	if err := CheckEnv(pass); err != nil {
		t.Error(err)
	}
}

func TestZoneFile(t *testing.T) {
	for tz, want := range map[string]string{
		"Europe/Berlin":              "/usr/share/zoneinfo/Europe/Berlin",
		":Europe/Berlin":             "/usr/share/zoneinfo/Europe/Berlin",
		":/etc/localtime":            "/etc/localtime",
		"UTC":                        "/usr/share/zoneinfo/UTC",
		"UTC0":                       "",
		"CET-1CEST,M3.5.0,M10.5.0/3": "",
		"<+03>-3":                    "",
		"":                           "",
	} {
		if got := ZoneFile(tz); got != want {
			t.Errorf("ZoneFile(%q) = %q, want %q", tz, got, want)
		}
	}
	if err := CheckEnv([]string{"TZ=../../etc/shadow"}); err == nil {
		t.Error("TZ with .. accepted")
	}
}

// TestEnvChecksMatchTheirGrammar compares the written-out checks of
// SOURCE_DATE_EPOCH, locale names and GCC_COLORS with the grammars they
// implement, as regular expressions, on random strings of the bytes that
// matter.
func TestEnvChecksMatchTheirGrammar(t *testing.T) {
	for _, c := range []struct {
		name     string
		check    func(string) error
		grammar  string
		alphabet string
	}{
		{"epoch", checkEpoch, `^[0-9]{1,12}$`, "0123456789x-"},
		{"locale", checkLocale, `^[A-Za-z0-9_.@+-]*$`, "aZ09_.@+-/ \xe9"},
		{"colors", checkColors, `^([a-z0-9-]+=[0-9;]*)?(:([a-z0-9-]+=[0-9;]*)?)*$`, "ae0-=;:=:X "},
	} {
		re := regexp.MustCompile(c.grammar)
		rng := rand.New(rand.NewPCG(1, 2))
		for range 20000 {
			b := make([]byte, rng.IntN(16))
			for i := range b {
				b[i] = c.alphabet[rng.IntN(len(c.alphabet))]
			}
			v := string(b)
			if got, want := c.check(v) == nil, re.MatchString(v); got != want {
				t.Errorf("%s %q: accepted %v, grammar says %v", c.name, v, got, want)
			}
		}
	}
}

// TestWrapperPassesTheEnvironment: the wrapper passes the agent every
// variable that changes a compile or makes it local; one it left out
// would be silently dropped from remote compiles.
func TestWrapperPassesTheEnvironment(t *testing.T) {
	for name := range compileEnv {
		if !slices.Contains(wrap.Env, name) {
			t.Errorf("wrap.Env lacks %s, which changes what a compiler writes", name)
		}
	}
	for _, name := range localEnv {
		if !slices.Contains(wrap.Env, name) {
			t.Errorf("wrap.Env lacks %s, which makes a job local", name)
		}
	}
}

func TestLocales(t *testing.T) {
	tests := []struct {
		env  []string
		want []string
	}{
		{nil, nil},
		{[]string{"LANG=en_US.UTF-8"}, []string{"en_US.UTF-8"}},
		{[]string{"LANG=de_DE.UTF-8", "LC_ALL=C"}, nil},
		{[]string{"LANG=C.UTF-8", "LC_MESSAGES=fr_FR.UTF-8"}, []string{"fr_FR.UTF-8", "C.UTF-8"}},
		{[]string{"LANG=POSIX", "LC_ALL=", "LC_CTYPE=sv_SE.ISO-8859-1"}, []string{"sv_SE.ISO-8859-1"}},
	}
	for _, tt := range tests {
		if got := Locales(tt.env); !slices.Equal(got, tt.want) {
			t.Errorf("Locales(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
	for name, want := range map[string]string{"en_US.UTF-8": "en_US.utf8", "C.utf8": "C.utf8", "de_DE.ISO-8859-15@euro": "de_DE.iso885915@euro", "POSIX": "POSIX", "sr_RS@latin": "sr_RS@latin"} {
		if got := NormalizeLocale(name); got != want {
			t.Errorf("NormalizeLocale(%q) = %q, want %q", name, got, want)
		}
	}
}
