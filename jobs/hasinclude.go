package jobs

import (
	"bytes"
	"path"
)

// hasInclude is one __has_include or __has_include_next operand.
type hasInclude struct {
	Name  string
	Quote bool // "name" rather than <name>
	Next  bool // __has_include_next
}

// probe is a hasInclude met in a file.
type probe struct {
	hasInclude
	from string // the directory of the file it is in, as the compiler named it
}

// candidates are the paths the compiler may look at for p: for the quoted
// form the including file's directory first, then the quote directories,
// then the bracket ones; __has_include_next may continue anywhere on the
// path, so every directory is a candidate.
func (p probe) candidates(quote, bracket []string) []string {
	var dirs []string
	if p.Quote || p.Next {
		dirs = append(dirs, p.from)
		dirs = append(dirs, quote...)
	}
	dirs = append(dirs, bracket...)
	if path.IsAbs(p.Name) {
		return []string{p.Name}
	}
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		out = append(out, d+"/"+p.Name)
	}
	return out
}

// scanHasInclude finds the literal operands of __has_include and
// __has_include_next in src. It over-approximates (it does not skip
// comments or inactive conditionals: shipping a file the compiler does not
// read is harmless). computed is set when an operand is not a literal
// ("name" or <name>), which the agent cannot resolve.
func scanHasInclude(src []byte) (probes []hasInclude, computed bool) {
	const word = "__has_include"
	for i := 0; ; {
		j := bytes.Index(src[i:], []byte(word))
		if j < 0 {
			return probes, computed
		}
		i += j + len(word)
		if i-len(word) > 0 && isIdent(src[i-len(word)-1]) {
			continue
		}
		next := false
		if bytes.HasPrefix(src[i:], []byte("_next")) {
			next = true
			i += len("_next")
		}
		if i < len(src) && isIdent(src[i]) {
			continue // __has_include_foo
		}
		k := skipSpace(src, i)
		if k >= len(src) || src[k] != '(' {
			continue // #ifdef __has_include, or the word in prose
		}
		k = skipSpace(src, k+1)
		if k >= len(src) {
			return probes, computed
		}
		var end byte
		switch src[k] {
		case '"':
			end = '"'
		case '<':
			end = '>'
		default:
			computed = true
			continue
		}
		e := bytes.IndexByte(src[k+1:], end)
		if e < 0 || bytes.IndexByte(src[k+1:k+1+e], '\n') >= 0 {
			continue
		}
		name := string(src[k+1 : k+1+e])
		if name != "" {
			probes = append(probes, hasInclude{Name: name, Quote: end == '"', Next: next})
		}
		i = k + 1 + e
	}
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}
