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
