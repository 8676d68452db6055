package jobs

import (
	"reflect"
	"testing"
)

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want directives
	}{
		{"quote and angle", "#include \"a.h\"\n#include <b/c.h>\n", directives{Refs: []includeRef{{Name: "a.h"}, {Name: "b/c.h", Angle: true}}}},
		{"spaces around #", "  #  include   <x.h>  // why\n", directives{Refs: []includeRef{{Name: "x.h", Angle: true}}}},
		{"include_next and import", "#include_next <limits.h>\n#import \"o.h\"\n", directives{Refs: []includeRef{{Name: "limits.h", Angle: true, Next: true}, {Name: "o.h"}}}},
		{"continuation", "#inc\\\nlude \\\n\"split.h\"\n", directives{Refs: []includeRef{{Name: "split.h"}}}},
		{"block comment hides a line", "/*\n#include \"gone.h\"\n*/\n#include \"kept.h\"\n", directives{Refs: []includeRef{{Name: "kept.h"}}}},
		{"comment between # and include", "# /* c */ include \"c.h\"\n", directives{Refs: []includeRef{{Name: "c.h"}}}},
		{"line comment", "// #include \"no.h\"\n", directives{}},
		{"string is not a directive", "const char *s = \"#include <no.h>\";\n", directives{}},
		{"string with comment opener", "const char *s = \"/*\";\n#include \"yes.h\"\n", directives{Refs: []includeRef{{Name: "yes.h"}}}},
		{"computed", "#define H \"x.h\"\n#include H\n", directives{ComputedInclude: true}},
		{"both branches", "#ifdef A\n#include \"a.h\"\n#else\n#include \"b.h\"\n#endif\n", directives{Refs: []includeRef{{Name: "a.h"}, {Name: "b.h"}}}},
		{"has_include", "#if __has_include(<opt.h>) && __has_include_next(\"n.h\")\n#endif\n", directives{Refs: []includeRef{{Name: "opt.h", Angle: true, Probe: true}, {Name: "n.h", Probe: true, Next: true}}}},
		{"has_include in a macro", "#define HAVE_TBB __has_include(<tbb/tbb.h>)\n", directives{Refs: []includeRef{{Name: "tbb/tbb.h", Angle: true, Probe: true}}}},
		{"has_include without call", "#ifdef __has_include\n#endif\n__has_include argument\n", directives{}},
		{"has_include computed", "#if __has_include(HDR)\n#endif\n", directives{ComputedProbe: true}},
		{"embed", "static const char d[] = {\n#embed \"data.bin\" limit(4)\n};\n", directives{Embed: true}},
		{"has_embed", "#if __has_embed(<logo.png>) == __STDC_EMBED_FOUND__\n#endif\n", directives{Embed: true}},
		{"embed in a comment", "// #embed \"no.bin\"\nint __has_embedded;\n", directives{}},
		{"pragma dependency", "#pragma GCC dependency \"parse.y\"\n", directives{Refs: []includeRef{{Name: "parse.y", Probe: true}}}},
		{"crlf", "#include \"w.h\"\r\n", directives{Refs: []includeRef{{Name: "w.h"}}}},
		{"char literal quote", "char c = '\"';\n#include \"q.h\"\n", directives{Refs: []includeRef{{Name: "q.h"}}}},
		{"not a directive mid-line", "int x; #include \"no.h\"\n", directives{}},
		{"byte order mark", "\xef\xbb\xbf#include \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"lone carriage returns", "#include \"a.h\"\r#include \"x.h\"\r", directives{Refs: []includeRef{{Name: "a.h"}, {Name: "x.h"}}}},
		{"blanks between backslash and newline", "#inc\\  \nlude \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"digraph", "%:include \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"trigraph", "??=include <x.h>\n", directives{Refs: []includeRef{{Name: "x.h", Angle: true}}}},
		{"comment over a newline after #", "# /* b\n */ include \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"comment over a newline after a directive", "#include \"a.h\" /* one\ntwo */\n#include \"x.h\"\n", directives{Refs: []includeRef{{Name: "a.h"}, {Name: "x.h"}}}},
		{"has_include under another name", "#define HI __has_include\n#if HI(\"x.h\")\n#endif\n", directives{ComputedProbe: true}},
		{"raw string with a quote and a comment opener", "const char *s = R\"(\" /*)\";\n#include \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"raw string with a delimiter", "auto s = u8R\"xy(a)\" /* )xy\";\n#include \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"raw string over lines", "auto s = R\"(\n#include \"no.h\"\n)\";\n#include \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"not a raw string", "#define R \"r\"\nconst char *s = XR\"(\";\n#include \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"digit separator", "int a = 1'0; const char *s = \"'/*\";\n#include \"x.h\"\n", directives{Refs: []includeRef{{Name: "x.h"}}}},
		{"u8 character literal", "char c = u8'\"';\n#include \"q.h\"\n", directives{Refs: []includeRef{{Name: "q.h"}}}},
		{"pragma dependency in _Pragma", "_Pragma(\"GCC dependency \\\"dep.txt\\\"\")\n", directives{ComputedProbe: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseDirectives([]byte(tt.src)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseDirectives(f *testing.F) {
	f.Add([]byte("#include \"a.h\"\n/* x */ #include <b>\\\n"))
	f.Add([]byte("\"unterminated\n'c\n/*\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		d := parseDirectives(src)
		for _, r := range d.Refs {
			if r.Name == "" {
				t.Fatalf("empty name from %q", src)
			}
		}
	})
}
