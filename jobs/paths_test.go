package jobs

import (
	"strings"
	"testing"
)

// TestWithin checks the allocation-free path tests against the prefix
// test they replace, on the cases where a plain string prefix misleads.
func TestWithin(t *testing.T) {
	paths := []string{"/", "/usr", "/usr/lib", "/usr/lib64", "/usr/lib/gcc", "/usr/libexec/x", "/u", "/usr/lib/"}
	for _, p := range paths {
		for _, dir := range paths {
			want := p == dir || strings.HasPrefix(p, dir+"/")
			if got := within(p, dir); got != want {
				t.Errorf("within(%q, %q) = %v, want %v", p, dir, got, want)
			}
			if got := below(p, dir); got != (want && p != dir) {
				t.Errorf("below(%q, %q) = %v, want %v", p, dir, got, want && p != dir)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		within("/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h", "/usr/lib/gcc/x86_64-linux-gnu/12")
	}); n != 0 {
		t.Errorf("within allocates %v times per call", n)
	}
}

// TestChildPath checks the walk's path building against plain joining,
// including the cases where full does not spell the walk (a symlink was
// followed, doubled or dotted separators).
func TestChildPath(t *testing.T) {
	fulls := []string{"/usr/include/stdio.h", "/usr//include/x.h", "/usr/./include", "/usrx/include", "/", "/a", "/usr/include"}
	curs := []string{"/", "/usr", "/usr/include", "/a"}
	comps := []string{"usr", "include", "stdio.h", "a", "inc"}
	for _, full := range fulls {
		for _, cur := range curs {
			for _, comp := range comps {
				want := cur + "/" + comp
				if cur == "/" {
					want = "/" + comp
				}
				if got := childPath(full, cur, comp); got != want {
					t.Errorf("childPath(%q, %q, %q) = %q, want %q", full, cur, comp, got, want)
				}
			}
		}
	}
	full := "/usr/include/x86_64-linux-gnu/bits/types.h"
	if n := testing.AllocsPerRun(100, func() { childPath(full, full[:12], "x86_64-linux-gnu") }); n != 0 {
		t.Errorf("childPath allocates %v times where full spells the path", n)
	}
}
