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
