package jobs

import (
	"bytes"
	"slices"
)

// includeRef is one place a file names another: an #include, #include_next,
// #import, #pragma GCC dependency, or a __has_include operand.
type includeRef struct {
	Name  string `json:"n"`
	Angle bool   `json:"a,omitempty"` // <name> rather than "name"
	Next  bool   `json:"x,omitempty"` // include_next: the search continues past the current file's directory
	Probe bool   `json:"p,omitempty"` // __has_include or #pragma GCC dependency: looked for, not read
}

// directives is what a file's preprocessor lines say about other files.
// Conditionals are ignored: both branches count (shipping a file that is
// not read is harmless; missing one that is read is not).
type directives struct {
	Refs []includeRef `json:"r,omitempty"`
	// ComputedInclude is set for #include MACRO: the scanner cannot know
	// which file it reads, and the job falls back to the compiler's own
	// dependency list.
	ComputedInclude bool `json:"c,omitempty"`
	// ComputedProbe is set for __has_include(MACRO), which no dependency
	// list reveals either: such a job is compiled locally.
	ComputedProbe bool `json:"cp,omitempty"`
	// Embed is set for C23's #embed and __has_embed. Where #embed looks
	// (the includer's directory, --embed-dir, perhaps the include path)
	// differs between compilers and releases, and no dependency list of
	// the compilers here names what it reads or probes: such a job is
	// compiled locally.
	Embed bool `json:"e,omitempty"`
}

// same reports whether two files name the same others in the same way,
// which is all the scanner reads of them.
func (d *directives) same(o *directives) bool {
	return d.ComputedInclude == o.ComputedInclude && d.ComputedProbe == o.ComputedProbe && d.Embed == o.Embed && slices.Equal(d.Refs, o.Refs)
}

// parseDirectives reads a C-family source's preprocessor directives. It
// handles line continuations, comments and string and character literals
// the way the preprocessor does when it looks for directives.
func parseDirectives(src []byte) directives {
	var d directives
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark, which GCC and clang skip
	if i := bytes.IndexByte(src, '\r'); i >= 0 {
		src = loneCRs(src, i)
	}
	lines := logicalLines(src)
	for _, line := range lines {
		parseLine(line, &d)
	}
	return d
}

// loneCRs returns src with each carriage return that ends a line by itself
// (old Mac line ends, which the compilers take as newlines) made a newline;
// i is the first carriage return.
func loneCRs(src []byte, i int) []byte {
	var out []byte
	for ; i < len(src); i++ {
		if src[i] == '\r' && (i+1 == len(src) || src[i+1] != '\n') {
			if out == nil {
				out = slices.Clone(src)
			}
			out[i] = '\n'
		}
	}
	if out == nil {
		return src
	}
	return out
}

// splice returns the length of the line splice at src[i:] (a backslash,
// blanks the compilers allow with a warning, and a newline), or 0.
func splice(src []byte, i int) int {
	j := i + 1
	for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\f' || src[j] == '\v') {
		j++
	}
	switch {
	case j < len(src) && src[j] == '\n':
		return j + 1 - i
	case j+1 < len(src) && src[j] == '\r' && src[j+1] == '\n':
		return j + 2 - i
	}
	return 0
}

// logicalLines splices backslash-newlines, replaces comments with a space
// and returns the logical lines, with string and character literals kept
// (a directive's operand "name" is one). Lines are byte slices into a new
// buffer.
func logicalLines(src []byte) [][]byte {
	out := make([]byte, 0, len(src))
	var lines [][]byte
	start := 0
	const (
		code = iota
		lineComment
		blockComment
		str
		chr
	)
	state := code
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\\' {
			if n := splice(src, i); n > 0 {
				// Line splice: invisible in every state.
				i += n - 1
				continue
			}
		}
		switch state {
		case code:
			switch {
			case c == '/' && i+1 < len(src) && src[i+1] == '/':
				state = lineComment
				i++
				continue
			case c == '/' && i+1 < len(src) && src[i+1] == '*':
				state = blockComment
				out = append(out, ' ')
				i++
				continue
			case c == '"' && rawPrefix(out):
				// A C++ raw string, R"delim(...)delim": nothing in it is
				// a quote, a comment or a directive, over any lines.
				if end := rawEnd(src, i); end > 0 {
					out = append(out, '"', '"')
					i = end - 1
					continue
				}
				state = str
			case c == '"':
				state = str
			case c == '\'' && inNumber(out):
				// A digit separator (C++14, C23: 1'000), not a character.
			case c == '\'':
				state = chr
			}
		case lineComment:
			if c != '\n' {
				continue
			}
			state = code
		case blockComment:
			// A comment is one blank, newlines in it included: a
			// directive may go on after one.
			if c == '*' && i+1 < len(src) && src[i+1] == '/' {
				state = code
				i++
			}
			continue
		case str, chr:
			switch {
			case c == '\\' && i+1 < len(src) && src[i+1] != '\n':
				out = append(out, c, src[i+1])
				i++
				continue
			case c == '"' && state == str, c == '\'' && state == chr, c == '\n':
				state = code
			}
		}
		out = append(out, c)
		if c == '\n' {
			lines = append(lines, out[start:len(out)-1])
			start = len(out)
		}
	}
	if start < len(out) {
		lines = append(lines, out[start:])
	}
	return lines
}

// rawPrefix reports whether out ends with a raw string's prefix (R, LR,
// uR, UR, u8R) as a token of its own.
func rawPrefix(out []byte) bool {
	j := len(out)
	for j > 0 && isIdent(out[j-1]) {
		j--
	}
	switch string(out[j:]) {
	case "R", "LR", "uR", "UR", "u8R":
		return true
	}
	return false
}

// rawEnd returns where the raw string whose opening quote is src[i] ends
// (past its closing quote; the end of src if it does not), or 0 if no
// valid delimiter follows the quote.
func rawEnd(src []byte, i int) int {
	k := i + 1
	for k < len(src) && k-i-1 <= 16 && src[k] != '(' {
		if bytes.IndexByte([]byte(" )\\\t\v\f\n\""), src[k]) >= 0 {
			return 0
		}
		k++
	}
	if k >= len(src) || src[k] != '(' {
		return 0
	}
	closing := append(append([]byte{')'}, src[i+1:k]...), '"')
	if e := bytes.Index(src[k+1:], closing); e >= 0 {
		return k + 1 + e + len(closing)
	}
	return len(src)
}

// inNumber reports whether out ends inside a preprocessing number (which
// begins with a digit, or a dot and a digit).
func inNumber(out []byte) bool {
	j := len(out)
	for j > 0 && (isIdent(out[j-1]) || out[j-1] == '.' || out[j-1] == '\'') {
		j--
	}
	t := out[j:]
	return len(t) > 0 && (isDigit(t[0]) || len(t) > 1 && t[0] == '.' && isDigit(t[1]))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseLine records what one logical line names.
func parseLine(line []byte, d *directives) {
	i := skipBlanks(line, 0)
	// #, or its digraph %: and trigraph ??= (taken whether or not
	// trigraphs are on: a directive too many is harmless).
	hash := 0
	switch {
	case i < len(line) && line[i] == '#':
		hash = 1
	case bytes.HasPrefix(line[i:], []byte("%:")):
		hash = 2
	case bytes.HasPrefix(line[i:], []byte("??=")):
		hash = 3
	}
	define := false
	if hash > 0 {
		i = skipBlanks(line, i+hash)
		name, j := ident(line, i)
		switch name {
		case "include", "import", "include_next":
			ref, ok := operand(line, skipBlanks(line, j))
			if !ok {
				d.ComputedInclude = true
				return
			}
			ref.Next = name == "include_next"
			d.Refs = append(d.Refs, ref)
			return
		case "pragma":
			// #pragma GCC dependency "file" compares file's time with ours.
			k := skipBlanks(line, j)
			if w, k2 := ident(line, k); w == "GCC" {
				if w, k3 := ident(line, skipBlanks(line, k2)); w == "dependency" {
					if ref, ok := operand(line, skipBlanks(line, k3)); ok {
						ref.Probe = true
						d.Refs = append(d.Refs, ref)
					}
				}
			}
		case "embed":
			d.Embed = true
			return
		case "define":
			define = true
		case "if", "elif", "ifdef", "ifndef", "elifdef", "elifndef":
			// __has_include and __has_embed may appear here (and in macros
			// used anywhere).
		default:
			return
		}
	}
	hasIncludes(line, define, d)
	// _Pragma("GCC dependency \"file\""): the file is named in a string.
	if hasIdent(line, "_Pragma") && bytes.Contains(line, []byte("dependency")) {
		d.ComputedProbe = true
	}
}

// hasIncludes records the __has_include operands on a line, and whether
// it calls __has_embed. In a #define, __has_include without its operand
// (#define HAS __has_include) is a probe of names nobody can know here.
func hasIncludes(line []byte, define bool, d *directives) {
	if !d.Embed && hasIdent(line, "__has_embed") {
		d.Embed = true
	}
	for i := 0; i+len("__has_include") <= len(line); i++ {
		if line[i] != '_' || string(line[i:i+len("__has_include")]) != "__has_include" || (i > 0 && isIdent(line[i-1])) {
			continue
		}
		j := i + len("__has_include")
		next := false
		if len(line) >= j+5 && string(line[j:j+5]) == "_next" {
			next, j = true, j+5
		}
		if j < len(line) && isIdent(line[j]) {
			continue
		}
		k := skipBlanks(line, j)
		if k >= len(line) || line[k] != '(' {
			if define {
				d.ComputedProbe = true
			}
			continue // #ifdef __has_include
		}
		ref, ok := operand(line, skipBlanks(line, k+1))
		if !ok {
			d.ComputedProbe = true
			continue
		}
		ref.Next, ref.Probe = next, true
		d.Refs = append(d.Refs, ref)
	}
}

// hasIdent reports whether the identifier id is on the line, as a whole
// identifier.
func hasIdent(line []byte, id string) bool {
	for i := 0; ; {
		k := bytes.Index(line[i:], []byte(id))
		if k < 0 {
			return false
		}
		k += i
		end := k + len(id)
		if (k == 0 || !isIdent(line[k-1])) && (end == len(line) || !isIdent(line[end])) {
			return true
		}
		i = k + 1
	}
}

// operand parses "name" or <name> at line[i:].
func operand(line []byte, i int) (includeRef, bool) {
	if i >= len(line) {
		return includeRef{}, false
	}
	var end byte
	switch line[i] {
	case '"':
		end = '"'
	case '<':
		end = '>'
	default:
		return includeRef{}, false
	}
	for j := i + 1; j < len(line); j++ {
		if line[j] == end {
			if j == i+1 {
				return includeRef{}, false
			}
			return includeRef{Name: string(line[i+1 : j]), Angle: end == '>'}, true
		}
	}
	return includeRef{}, false
}

func ident(b []byte, i int) (string, int) {
	j := i
	for j < len(b) && isIdent(b[j]) {
		j++
	}
	return string(b[i:j]), j
}

func skipBlanks(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\f' || b[i] == '\v' || b[i] == '\r') {
		i++
	}
	return i
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
