package jobs

import (
	"slices"
	"testing"
)

// TestLocalesMissingToC: locale variables naming a locale this machine
// lacks are sent as C, which is what the compiler here runs in; the others
// are sent as they are.
func TestLocalesMissingToC(t *testing.T) {
	var ls localeSet
	if !ls.has("C.UTF-8") {
		t.Skip("this machine has no C.UTF-8 locale (`locale -a`)")
	}
	env := []string{"LANG=xx_XX.UTF-8", "LC_CTYPE=C.UTF-8", "LC_MESSAGES=POSIX", "LANGUAGE=es", "TZ=UTC"}
	want := []string{"LANG=C", "LC_CTYPE=C.UTF-8", "LC_MESSAGES=POSIX", "LANGUAGE=es", "TZ=UTC"}
	if got := ls.missingToC(env); !slices.Equal(got, want) {
		t.Errorf("missingToC(%q) = %q, want %q", env, got, want)
	}
	if env[0] != "LANG=xx_XX.UTF-8" {
		t.Errorf("missingToC changed its argument: %q", env)
	}
}
