package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Problem classes. Every Problem wraps exactly one of them.
var (
	// ErrSyntax is a YAML syntax error, or a document that is not a single mapping.
	ErrSyntax = errors.New("config: yaml syntax")
	// ErrUnknownKey is a key that Herald does not know (typo, wrong level).
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrDuplicateKey is a key given twice in one mapping.
	ErrDuplicateKey = errors.New("config: duplicate key")
	// ErrType is a value of the wrong YAML type (a list where a string belongs, "yes" for an integer...).
	ErrType = errors.New("config: wrong type")
	// ErrDuration is a value that is not a Go duration with a unit ("500ms", "30s", "3m").
	ErrDuration = errors.New("config: bad duration")
	// ErrAddress is a bad IP, host, host:port, CIDR or port.
	ErrAddress = errors.New("config: bad address")
	// ErrURI is a bad SIP or HTTP URI.
	ErrURI = errors.New("config: bad uri")
	// ErrValue is a value out of range or not one of the allowed words.
	ErrValue = errors.New("config: bad value")
	// ErrRequired is a key that must be set (possibly because of another key's value).
	ErrRequired = errors.New("config: missing key")
	// ErrConflict is a cross-field rule broken by two keys together (duplicates, ordering, mismatches).
	ErrConflict = errors.New("config: conflicting keys")
	// ErrFile is a file the configuration names (certificate, key, CA file, tokens file, seed) that
	// cannot be read or does not parse as serve would load it. Only `herald check` and serve report it.
	ErrFile = errors.New("config: bad file")
	// ErrHost is a value this machine cannot honour (a CPU outside the process's allowed set).
	ErrHost = errors.New("config: not possible on this host")
)

// Problem is one configuration error or warning, at a position in a file.
// Line and Col are 1-based; 0 means unknown.
type Problem struct {
	File      string
	Line, Col int
	Msg       string
	// Err is the problem's class (one of the Err* sentinels); nil for warnings.
	Err error
}

// String renders "file:line:col: msg".
func (p Problem) String() string {
	if p.Line == 0 {
		return p.File + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Error implements error.
func (p Problem) Error() string { return p.String() }

// Unwrap returns the problem's class.
func (p Problem) Unwrap() error { return p.Err }

// Errors is every problem found in one configuration file, sorted by position.
type Errors []Problem

// Error joins the problems, one per line.
func (e Errors) Error() string {
	var b strings.Builder
	for i, p := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As look at each problem.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, p := range e {
		out[i] = p
	}
	return out
}

// Sort orders the problems by line, then column, keeping the order of equal positions.
func (e Errors) Sort() {
	slices.SortStableFunc(e, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// SyntaxProblem turns a go.yaml.in/yaml/v3 error into a Problem of class ErrSyntax, taking the line
// from the message ("yaml: line 3: ..."), so other YAML loaders (the profile seed) report alike.
func SyntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: file, Err: ErrSyntax}
	if sm := yamlLine.FindStringSubmatchIndex(msg); sm != nil {
		p.Line, _ = strconv.Atoi(msg[sm[2]:sm[3]])
		p.Col = 1
		msg = strings.TrimSpace(strings.TrimPrefix(msg[sm[1]:], ":"))
	}
	p.Msg = msg
	return p
}

// SyntaxProblemIn is SyntaxProblem with a real column, found in data (the text that failed).
//
// Why a column has to be derived: yaml.v3's syntax errors carry only "line N: problem", and that line
// is the line of the construct being parsed (for parser errors its 0-based start, so often the line
// before the fault), not of the offending token; the token's mark is not exported. So the position
// is recovered from the text for the messages yaml.v3 produces, each in its own way (syntaxMark):
//   - "found character that cannot start any token": the first '@' or '`' starting a token, from
//     the reported line on;
//   - "found a tab character that violates indentation": the first tab in a line's indentation;
//   - "mapping values are not allowed in this context": the last ": " of the reported line (the
//     second key on one line, or a key indented under a plain value);
//   - "found unexpected end of stream" and "did not find expected ..." inside a flow collection:
//     the quote, '[' or '{' that is never closed;
//   - "did not find expected key" / "'-' indicator": the first line whose indentation fits no open
//     block (badIndent).
//
// When none applies the line stays yaml.v3's and the column is that line's first non-blank
// character (never a made-up "1" for a line that is indented).
func SyntaxProblemIn(file string, data []byte, err error) Problem {
	p := SyntaxProblem(file, err)
	if p.Line == 0 || len(data) == 0 {
		return p
	}
	lines := strings.Split(string(data), "\n")
	if l, c := syntaxMark(lines, p.Line, p.Msg); l > 0 {
		p.Line, p.Col = l, c
	}
	return p
}

// syntaxMark finds the 1-based line and column of the token behind msg, reported at line; 0, 0 when
// the text does not show it.
func syntaxMark(lines []string, line int, msg string) (int, int) {
	at := func(i int) string {
		if i < 1 || i > len(lines) {
			return ""
		}
		return lines[i-1]
	}
	firstNonBlank := func(i int) (int, int) {
		s := at(i)
		if t := strings.TrimLeft(s, " \t"); t != "" {
			return i, len(s) - len(t) + 1
		}
		return i, 1
	}
	switch {
	case strings.Contains(msg, "cannot start any token"):
		for i := line; i <= len(lines); i++ {
			s := at(i)
			for j := 0; j < len(s); j++ {
				if (s[j] == '@' || s[j] == '`') && (j == 0 || s[j-1] == ' ' || s[j-1] == '\t') {
					return i, j + 1
				}
			}
		}
	case strings.Contains(msg, "tab character"):
		for i := max(line-1, 1); i <= len(lines); i++ {
			s := at(i)
			indent := len(s) - len(strings.TrimLeft(s, " \t"))
			if j := strings.IndexByte(s[:indent], '\t'); j >= 0 {
				return i, j + 1
			}
		}
	case strings.Contains(msg, "mapping values are not allowed"):
		s := stripComment(at(line))
		if j := strings.LastIndex(s+" ", ": "); j >= 0 {
			return line, j + 1
		}
	case strings.Contains(msg, "unexpected end of stream"), strings.Contains(msg, "expected ',' or"),
		strings.Contains(msg, "expected node content"):
		if l, c := unclosed(lines); l > 0 {
			return l, c
		}
	case strings.Contains(msg, "did not find expected key"), strings.Contains(msg, "expected '-' indicator"):
		if l, c := badIndent(lines); l > 0 {
			return l, c
		}
	}
	return firstNonBlank(line)
}

// badIndent finds the first line whose indentation fits no open block: between two levels, deeper
// than the line before without that line opening a block, or a list item among keys (and the
// reverse). 0, 0 when every line fits or the text leaves the simple block style (a multi-line flow
// collection or scalar): then yaml.v3's line stands.
func badIndent(lines []string) (int, int) {
	type level struct {
		indent int
		seq    bool
	}
	var stack []level
	top := func() level { return stack[len(stack)-1] }
	opened := false // the previous content line opens a block ("key:", "-", "- key:")
	for i, s := range lines {
		t := strings.TrimLeft(s, " ")
		if t == "" || t[0] == '#' {
			continue
		}
		ind := len(s) - len(t)
		seq := t == "-" || strings.HasPrefix(t, "- ")
		switch {
		case len(stack) == 0:
			stack = append(stack, level{ind, seq})
		case ind > top().indent:
			if !opened {
				return 0, 0
			}
			stack = append(stack, level{ind, seq})
		default:
			for len(stack) > 1 && top().indent > ind {
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 1 && top().indent == ind && top().seq && !seq {
				stack = stack[:len(stack)-1] // a compact list ("key:\n- a") ends at the next key
			}
			if top().indent != ind {
				return i + 1, ind + 1
			}
			if top().seq != seq {
				if !seq || !opened {
					return i + 1, ind + 1
				}
				stack = append(stack, level{ind, true}) // a compact list under the key above
			}
		}
		body := strings.TrimSpace(stripComment(t))
		opened = strings.HasSuffix(body, ":") || body == "-"
		if seq && len(body) > 1 { // "- key: v": the item's mapping continues at the key's column
			rest := strings.TrimLeft(body[1:], " ")
			if strings.Contains(rest, ": ") || strings.HasSuffix(rest, ":") {
				stack = append(stack, level{ind + len(t) - len(strings.TrimLeft(t[1:], " ")), false})
			}
		}
	}
	return 0, 0
}

// unclosed finds the first quote, '[' or '{' that is never closed (outside comments).
func unclosed(lines []string) (int, int) {
	type open struct{ line, col int }
	var stack []open
	var quote byte
	var qAt open
	for i, s := range lines {
		for j := 0; j < len(s); j++ {
			ch := s[j]
			switch {
			case quote != 0:
				if ch == quote {
					if quote == '\'' && j+1 < len(s) && s[j+1] == '\'' {
						j++ // '' is an escaped quote
						continue
					}
					quote = 0
				} else if quote == '"' && ch == '\\' {
					j++
				}
			case ch == '#' && (j == 0 || s[j-1] == ' ' || s[j-1] == '\t'):
				j = len(s)
			case (ch == '"' || ch == '\'') && (j == 0 || strings.IndexByte(" \t[{,:-", s[j-1]) >= 0):
				quote, qAt = ch, open{i + 1, j + 1}
			case ch == '[' || ch == '{':
				stack = append(stack, open{i + 1, j + 1})
			case (ch == ']' || ch == '}') && len(stack) > 0:
				stack = stack[:len(stack)-1]
			}
		}
	}
	if quote != 0 {
		return qAt.line, qAt.col
	}
	if len(stack) > 0 {
		return stack[0].line, stack[0].col
	}
	return 0, 0
}

// stripComment cuts a " #" comment off a line (quotes are not considered: good enough for a colon search).
func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}
