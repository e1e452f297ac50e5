package content

import (
	"regexp"
	"strings"
)

// CSS is sanitised by allow-list, structurally (CSS Syntax Level 3 §5: rules, at-rules, declaration
// blocks), without a full tokeniser: a kept piece is copied byte for byte, a removed one is reported.
//
//   - Comments are removed (they would let "u/**/rl(" or "<" hide from the checks below).
//   - At-rules: @media, @supports, @container, @layer (blocks) and @keyframes (any vendor prefix) are
//     kept when their prelude is plain; every other at-rule (@import, @font-face, @namespace, @page,
//     statement at-rules) is removed with its block.
//   - A qualified rule is kept when its selector has no "<", "\" or "@"; then each of its
//     declarations is checked on its own.
//   - A declaration is kept when its name is an identifier (or a --custom property) other than
//     behavior or -moz-binding, and its value matches cssValueRe: no "\" escape, no "<" or "@", and
//     "(" only after a function that cannot fetch (no url(), image(), image-set(), cross-fade(),
//     element(), expression()).
//
// No "<" survives anywhere: CSS has no need of it, and a "</style" must never appear in the output.

// cssCut is one piece of CSS removed: the property or at-rule, and what was in it.
type cssCut struct{ name, detail string }

var (
	cssPreludeRe = regexp.MustCompile(`^[-\w\s(),:.%/>=*"']*$`)
	cssSelectRe  = regexp.MustCompile(`^[^<\\@{};]*$`)
	cssPropRe    = regexp.MustCompile(`^(?:--[-\w]+|-?[A-Za-z][-\w]*)$`)
	cssURLRe     = regexp.MustCompile(`(?i)(?:url|image-set|image|cross-fade|element|expression|src)\s*\([^)]*\)?`)
)

type cssSan struct {
	cuts []cssCut
}

func (c *cssSan) cut(name, what string) {
	c.cuts = append(c.cuts, cssCut{name: name, detail: cssDetail(what)})
}

// cssDetail shortens what was removed to what a person needs to see: the first url(...) in it if
// any, else its first 120 bytes.
func cssDetail(s string) string {
	s = strings.TrimSpace(s)
	if m := cssURLRe.FindString(s); m != "" {
		s = m
	}
	return truncate(s, 120)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // keep whole UTF-8 sequences
		n--
	}
	return s[:n] + "…"
}

// sanitizeStylesheet cleans the text of a <style> element.
func sanitizeStylesheet(src string) (string, []cssCut) {
	var c cssSan
	s := c.stripComments(src)
	out := c.rules(s)
	if strings.Contains(out, "<") { // cannot happen (every piece is checked); never emit it anyway
		c.cut("style", out)
		out = ""
	}
	return out, c.cuts
}

// sanitizeDecls cleans the value of a style attribute (a declaration list).
func sanitizeDecls(src string) (string, []cssCut) {
	var c cssSan
	s := c.stripComments(src)
	out := c.decls(s)
	if !cssValueRe.MatchString(out) { // the bluemonday pattern of style attributes; cannot fail here
		c.cut("style", out)
		out = ""
	}
	return out, c.cuts
}

func (c *cssSan) stripComments(s string) string {
	if !strings.Contains(s, "/*") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "/*")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		c.cuts = append(c.cuts, cssCut{name: "comment"})
		j := strings.Index(s[i+2:], "*/")
		if j < 0 {
			return b.String()
		}
		s = s[i+2+j+2:]
	}
}

// findTop returns the index of the first byte of s at or after i that is in stops, outside strings
// and parentheses; len(s) when there is none.
func findTop(s string, i int, stops string) int {
	depth := 0
	for ; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\'':
			i = skipString(s, i)
		case ch == '(':
			depth++
		case ch == ')':
			if depth > 0 {
				depth--
			}
		case depth == 0 && strings.IndexByte(stops, ch) >= 0:
			return i
		}
	}
	return len(s)
}

// skipString returns the index of the quote closing the string that opens at s[i].
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q, '\n':
			return i
		}
	}
	return len(s)
}

// matchBrace returns the index of the "}" closing the block whose "{" is at s[i], or len(s).
func matchBrace(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '"', '\'':
			i = skipString(s, i)
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(s)
}

var keptAtBlocks = map[string]bool{"media": true, "supports": true, "container": true, "layer": true}

// rules cleans a list of rules: a style sheet, or the body of a kept at-rule.
func (c *cssSan) rules(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if isCSSSpace(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		if s[i] == '@' {
			j := findTop(s, i, ";{}")
			name, prelude := atName(s[i+1 : j])
			if j >= len(s) || s[j] != '{' {
				c.cut("@"+name, prelude)
				i = j + 1
				continue
			}
			k := matchBrace(s, j)
			lname := strings.ToLower(name)
			keyframes := strings.HasSuffix(lname, "keyframes") && (lname == "keyframes" || lname[0] == '-')
			if (keptAtBlocks[lname] || keyframes) && cssPreludeRe.MatchString(prelude) && balanced(prelude) {
				b.WriteString(s[i : j+1])
				b.WriteString(c.rules(s[j+1 : min(k, len(s))]))
				b.WriteByte('}')
			} else {
				c.cut("@"+name, prelude)
			}
			i = k + 1
			continue
		}
		j := findTop(s, i, "{;}")
		if j >= len(s) || s[j] != '{' {
			c.cut("css", s[i:min(j+1, len(s))])
			i = j + 1
			continue
		}
		i = c.rule(&b, s, i, j)
	}
	return b.String()
}

// rule cleans the rule whose selector is s[i:j] and whose block opens at s[j] ('{'), writing what is
// kept to b, and returns the index just past the block's closing brace. A selector that is not
// allowed drops the whole rule.
func (c *cssSan) rule(b *strings.Builder, s string, i, j int) int {
	k := matchBrace(s, j)
	sel := s[i:j]
	if !cssSelectRe.MatchString(sel) || !balanced(sel) {
		c.cut("selector", sel)
	} else {
		b.WriteString(s[i : j+1])
		b.WriteString(c.decls(s[j+1 : min(k, len(s))]))
		b.WriteByte('}')
	}
	return k + 1
}

func atName(s string) (name, prelude string) {
	n := 0
	for n < len(s) && (s[n] == '-' || s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n], s[n:]
}

// decls cleans a declaration list (a block's body or a style attribute). Nested rules (CSS
// Nesting) are cleaned as rules.
func (c *cssSan) decls(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := findTop(s, i, ";{}")
		if j < len(s) && s[j] == '{' { // nested rule
			i = c.rule(&b, s, i, j)
			continue
		}
		d := s[i:j]
		kept := strings.TrimSpace(d) == ""
		if !kept {
			name, ok := c.decl(d)
			if kept = ok; !ok {
				_, v, _ := strings.Cut(d, ":")
				c.cut(name, v)
			}
		}
		if kept {
			b.WriteString(d)
			if j < len(s) && s[j] == ';' {
				b.WriteByte(';')
			}
		}
		if j < len(s) && s[j] == '}' { // a stray "}" in a style attribute
			c.cut("css", "}")
		}
		i = j + 1
	}
	return b.String()
}

// decl checks one declaration "name: value" and returns its (trimmed, lowercase) name.
func (c *cssSan) decl(d string) (string, bool) {
	name, value, ok := strings.Cut(d, ":")
	name = strings.ToLower(strings.TrimSpace(name))
	if !ok || !cssPropRe.MatchString(name) {
		return truncate(strings.TrimSpace(name), 40), false
	}
	if name == "behavior" || name == "-moz-binding" {
		return name, false
	}
	return name, cssValueRe.MatchString(value) && !strings.ContainsAny(value, "<@\\;{}") && balanced(value)
}

// balanced reports whether every string in s is closed on its line and every parenthesis closed:
// a piece cut off by the end of its block would read differently once the block is closed.
func balanced(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'':
			j := skipString(s, i)
			if j >= len(s) || s[j] != s[i] {
				return false
			}
			i = j
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

func isCSSSpace(ch byte) bool {
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f'
}
