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
	lines := logicalLines(src)
	for _, line := range lines {
		parseLine(line, &d)
	}
	return d
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
		if c == '\\' && i+1 < len(src) && (src[i+1] == '\n' || src[i+1] == '\r' && i+2 < len(src) && src[i+2] == '\n') {
			// Line splice: invisible in every state.
			if src[i+1] == '\r' {
				i++
			}
			i++
			continue
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
			case c == '"':
				state = str
			case c == '\'':
				state = chr
			}
		case lineComment:
			if c != '\n' {
				continue
			}
			state = code
		case blockComment:
			if c == '*' && i+1 < len(src) && src[i+1] == '/' {
				state = code
				i++
			}
			if c != '\n' {
				continue // a newline inside a block comment still ends the line for counting, kept below
			}
			out = append(out, '\n')
			lines = append(lines, out[start:len(out)-1])
			start = len(out)
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

// parseLine records what one logical line names.
func parseLine(line []byte, d *directives) {
	i := skipBlanks(line, 0)
	if i < len(line) && line[i] == '#' {
		i = skipBlanks(line, i+1)
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
		case "define", "if", "elif", "ifdef", "ifndef", "elifdef", "elifndef":
			// __has_include and __has_embed may appear here (and in macros
			// used anywhere).
		default:
			return
		}
	}
	hasIncludes(line, d)
}

// hasIncludes records the __has_include operands on a line, and whether
// it calls __has_embed.
func hasIncludes(line []byte, d *directives) {
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
