package cc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseDeps(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"one line", "x.o: x.c h.h\n", []string{"x.c", "h.h"}},
		{"continuations", "x.o: x.c \\\n  /usr/include/stdio.h \\\n /usr/include/features.h\n", []string{"x.c", "/usr/include/stdio.h", "/usr/include/features.h"}},
		{"no final newline", "x.o: x.c", []string{"x.c"}},
		{"escaped space", `m\ y.o: m\ y.c in\ c/a\ b.h`, []string{"m y.c", "in c/a b.h"}},
		{"backslashes before a space", `x.o: tr\\\ .h bb\\\\\ y.h`, []string{`tr\ .h`, `bb\\ y.h`}},
		{"escaped tab", "x.o: tab\\\tx.h", []string{"tab\tx.h"}},
		{"dollar", "x.o: d$$.h e$.h", []string{"d$.h", "e$.h"}},
		{"hash", `x.o: h\#.h t\\#.h`, []string{"h#.h", `t\#.h`}},
		{"comment", "x.o: x.c # a comment: y.h\n", []string{"x.c"}},
		{"other backslashes are literal", `x.o: q\x.h`, []string{`q\x.h`}},
		{"colon in names", "e:f.o: e:f.c a:b.h\n", []string{"e:f.c", "a:b.h"}},
		{"several targets", "x.o x.d: x.c h.h\n", []string{"x.c", "h.h"}},
		{"several rules, deduplicated", "x.o: x.c h.h\ny.o: y.c h.h\n\nh.h:\n", []string{"x.c", "h.h", "y.c"}},
		{"colon before a continuation", "x.o:\\\n x.c\n", []string{"x.c"}},
		{"trailing backslash", `x.o: a.h\`, []string{`a.h\`}},
	}
	for _, tt := range tests {
		got, err := ParseDeps([]byte(tt.in))
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: ParseDeps(%q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"x.c h.h\n", "x.o: x.c\nnot a rule\n", "a:b"} {
		if got, err := ParseDeps([]byte(bad)); err == nil {
			t.Errorf("ParseDeps(%q) = %q, want an error", bad, got)
		}
	}
}

// TestParseDepsRealCompilers parses the real compilers' -M output for files
// whose names need quoting.
func TestParseDepsRealCompilers(t *testing.T) {
	headers := []string{"in c/a b.h", "h#.h", "d$.h", "e:f.h", "p%.h", "s'q.h", `tr\ .h`, `t\#.h`, `bb\\ y.h`}
	for _, f := range []Family{FamilyGCC, FamilyClang} {
		t.Run(f.String(), func(t *testing.T) {
			cc := realCompiler(t, f)
			dir := t.TempDir()
			var src strings.Builder
			want := []string{"m y$#.c"}
			for _, h := range headers {
				if f == FamilyClang && strings.Contains(h, `\`) {
					continue // Clang 14 writes backslashes in names as '/'.
				}
				if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(h)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, h), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				src.WriteString("#include \"" + h + "\"\n")
				want = append(want, h)
			}
			src.WriteString("#include \"in c/a b.h\"\nint x;\n") // a repeated header is listed once
			if err := os.WriteFile(filepath.Join(dir, "m y$#.c"), []byte(src.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, extra := range [][]string{nil, {"-MP"}, {"-MT", "a b", "-MQ", "c$d"}} {
				args := append([]string{"-M", "-nostdinc", "m y$#.c"}, extra...)
				out := runCompiler(t, cc, dir, args, nil)
				got, err := ParseDeps(out)
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("%s %q printed\n%s\nParseDeps = %q, %v; want %q", cc, args, out, got, err, want)
				}
			}
		})
	}
}

// makeQuote quotes a file name the way GCC's dependency output does.
func makeQuote(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case ' ', '\t':
			for j := i - 1; j >= 0 && name[j] == '\\'; j-- {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
			b.WriteByte(c)
		case '#':
			b.WriteString(`\#`)
		case '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzParseDeps: names quoted as GCC quotes them come back unchanged.
func FuzzParseDeps(f *testing.F) {
	f.Add("m y.c\x00in c/a b.h\x00h#.h\x00d$.h\x00tr\\ .h\x00t\\#.h\x00e:f.h")
	f.Add("a\x00a\x00b")
	f.Fuzz(func(t *testing.T, joined string) {
		var names, want []string
		for _, n := range strings.Split(joined, "\x00") {
			// GCC cannot quote these: empty names, line ends, a trailing
			// backslash (read as escaping the separator after it).
			if n == "" || strings.ContainsAny(n, "\n\r") || strings.HasSuffix(n, `\`) || strings.TrimLeft(n, " \t") == "" {
				return
			}
			names = append(names, makeQuote(n))
			if !slices.Contains(want, n) {
				want = append(want, n)
			}
		}
		out := "x.o: " + strings.Join(names, " \\\n ") + "\n"
		got, err := ParseDeps([]byte(out))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("ParseDeps(%q) = %q, %v; want %q", out, got, err, want)
		}
	})
}
