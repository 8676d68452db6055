package cc

import (
	"fmt"
	"strings"
)

// ParseDeps parses make-style dependency output (gcc -M, clang -M) and
// returns the prerequisites of all its rules, in order, each once, without
// the targets.
//
// It decodes the compilers' own quoting, which is not quite make's: a space
// or tab is written as 2N+1 backslashes (for N literal ones) and a space, a
// '#' as a backslash and '#' (earlier backslashes not doubled), a '$' as
// "$$"; other backslashes are literal, a backslash before a newline
// continues the line, and an unescaped '#' starts a comment. The first ':'
// followed by white space (or the end of the line) separates targets from
// prerequisites. Clang 14 writes tabs unquoted and backslashes in file
// names as '/', so such names do not survive its output: they come back
// as files that do not exist.
func ParseDeps(out []byte) ([]string, error) {
	s := string(out)
	var (
		deps    []string
		seen    = map[string]bool{}
		word    strings.Builder
		inWord  bool // a word has started (it may hold only escapes)
		words   int  // words on this logical line
		sepSeen bool // the target separator is behind us on this line
		line    = 1
	)
	flush := func() {
		if !inWord {
			return
		}
		if w := word.String(); sepSeen && !seen[w] {
			seen[w] = true
			deps = append(deps, w)
		}
		word.Reset()
		inWord = false
		words++
	}
	endLine := func() error {
		flush()
		if words > 0 && !sepSeen {
			return fmt.Errorf("parse dependencies: line %d: no ':' after the targets", line)
		}
		words, sepSeen = 0, false
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			k := 1
			for i+k < len(s) && s[i+k] == '\\' {
				k++
			}
			i += k - 1 // s[i] is the last backslash
			next := byte(0)
			if i+1 < len(s) {
				next = s[i+1]
			}
			switch next {
			case '\n': // continuation: the earlier backslashes are literal
				word.WriteString(strings.Repeat(`\`, k-1))
				inWord = inWord || k > 1
				flush()
				i++
				line++
			case ' ', '\t':
				word.WriteString(strings.Repeat(`\`, k/2))
				inWord = true
				if k%2 == 1 { // an escaped blank
					word.WriteByte(next)
					i++
				}
			case '#':
				word.WriteString(strings.Repeat(`\`, k-1) + "#")
				inWord = true
				i++
			default:
				word.WriteString(strings.Repeat(`\`, k))
				inWord = true
			}
		case c == '$':
			word.WriteByte('$')
			inWord = true
			if i+1 < len(s) && s[i+1] == '$' {
				i++
			}
		case c == '#': // a comment runs to the end of the line
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		case c == ' ' || c == '\t':
			flush()
		case c == '\n':
			if err := endLine(); err != nil {
				return nil, err
			}
			line++
		case c == ':' && !sepSeen && separatorAt(s, i+1):
			flush()
			sepSeen = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if err := endLine(); err != nil {
		return nil, err
	}
	return deps, nil
}

// separatorAt reports whether a ':' before s[i:] separates targets from
// prerequisites: it is followed by a blank, a line end or a continuation.
func separatorAt(s string, i int) bool {
	return i == len(s) || s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || strings.HasPrefix(s[i:], "\\\n")
}
