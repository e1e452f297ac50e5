package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// mark is a position in the file.
type mark struct{ line, col int }

// loader carries one Parse: where each key was, which were set, and the problems found.
//
// Paths are dotted key paths with list indexes: "sip.listen[1].addr".
type loader struct {
	file  string
	data  []byte          // the file's text, to place syntax errors (SyntaxProblemIn)
	keys  map[string]mark // position of the key (for a list element: of the element)
	vals  map[string]mark // position of the value
	set   map[string]bool // the file gave a non-null value
	bad   map[string]bool // a problem was already reported for this path (suppress follow-ups)
	probs []Problem
	warns []Problem
}

func newLoader(file string) *loader {
	return &loader{
		file: file,
		keys: make(map[string]mark),
		vals: make(map[string]mark),
		set:  make(map[string]bool),
		bad:  make(map[string]bool),
	}
}

func (l *loader) addAt(m mark, class error, format string, args ...any) {
	l.probs = append(l.probs, Problem{File: l.file, Line: m.line, Col: m.col, Msg: fmt.Sprintf(format, args...), Err: class})
}

// valErr reports a problem with the value at path (positioned at the value).
func (l *loader) valErr(path string, class error, format string, args ...any) {
	if l.bad[path] {
		return
	}
	l.bad[path] = true
	l.addAt(l.valPos(path), class, path+": "+format, args...)
}

// keyErr reports a problem about the key at path (positioned at the key, or its nearest present
// ancestor when the key is absent).
func (l *loader) keyErr(path string, class error, format string, args ...any) {
	if l.bad[path] {
		return
	}
	l.bad[path] = true
	l.addAt(l.keyPos(path), class, path+": "+format, args...)
}

func (l *loader) warn(path, format string, args ...any) {
	m := l.keyPos(path)
	l.warns = append(l.warns, Problem{File: l.file, Line: m.line, Col: m.col, Msg: fmt.Sprintf(path+": "+format, args...)})
}

func (l *loader) valPos(path string) mark {
	if m, ok := l.vals[path]; ok {
		return m
	}
	return l.keyPos(path)
}

func (l *loader) keyPos(path string) mark {
	for p := path; p != ""; p = parent(p) {
		if m, ok := l.keys[p]; ok {
			return m
		}
	}
	return mark{1, 1}
}

// parent strips the last path element: "a.b[2].c" → "a.b[2]" → "a.b" → "a" → "".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func pos(n *yaml.Node) mark { return mark{n.Line, n.Column} }

var durationType = reflect.TypeFor[Duration]()

// decode stores n into v, recording positions and reporting every problem under path.
// A null value leaves v untouched and path unset, so the default applies.
func (l *loader) decode(path string, n *yaml.Node, v reflect.Value) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	l.vals[path] = pos(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	switch {
	case v.Type() == durationType:
		l.decodeDuration(path, n, v)
		return
	case v.Kind() == reflect.Struct:
		l.decodeStruct(path, n, v)
		return
	case v.Kind() == reflect.Slice:
		l.decodeSlice(path, n, v)
		return
	}
	if n.Kind != yaml.ScalarNode {
		l.valErr(path, ErrType, "expected %s, got %s", kindName(v.Type()), nodeKind(n))
		return
	}
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		if tag != "!!str" {
			l.valErr(path, ErrType, "expected %s, got %s %q (quote it)", kindName(v.Type()), nodeKind(n), n.Value)
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		if tag != "!!int" {
			l.valErr(path, ErrType, "expected %s, got %s %q", kindName(v.Type()), nodeKind(n), n.Value)
			return
		}
		var i int
		if err := n.Decode(&i); err != nil {
			l.valErr(path, ErrType, "integer %q out of range", n.Value)
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		var b bool
		if tag != "!!bool" || n.Decode(&b) != nil {
			l.valErr(path, ErrType, "expected %s, got %s %q", kindName(v.Type()), nodeKind(n), n.Value)
			return
		}
		v.SetBool(b)
	default:
		panic("config: unsupported field kind " + v.Kind().String()) // programming error in Options
	}
	l.set[path] = true
}

var bareNumber = regexp.MustCompile(`^[-+]?[0-9.]+$`)

func (l *loader) decodeDuration(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		l.valErr(path, ErrType, "expected duration, got %s", nodeKind(n))
		return
	}
	if bareNumber.MatchString(n.Value) {
		l.valErr(path, ErrDuration, "%q has no unit (write \"%sms\" or \"%ss\")", n.Value, n.Value, n.Value)
		return
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		l.valErr(path, ErrDuration, "%q is not a duration like \"500ms\", \"30s\" or \"3m\"", n.Value)
		return
	}
	if d <= 0 {
		l.valErr(path, ErrDuration, "%q must be positive", n.Value)
		return
	}
	v.SetInt(int64(d))
	l.set[path] = true
}

func (l *loader) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		l.valErr(path, ErrType, "expected mapping, got %s", nodeKind(n))
		return
	}
	t := v.Type()
	seen := make(map[string]mark, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			l.addAt(pos(k), ErrUnknownKey, "%s: merge keys and complex keys are not supported", orTop(path))
			continue
		}
		name := k.Value
		if first, dup := seen[name]; dup {
			l.addAt(pos(k), ErrDuplicateKey, "%s: key %q already set at line %d", orTop(path), name, first.line)
			continue
		}
		seen[name] = pos(k)
		f, ok := fieldByTag(t, name)
		if !ok {
			msg := fmt.Sprintf("%s: unknown key %q", orTop(path), name)
			if s := suggest(name, tagsOf(t)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			l.addAt(pos(k), ErrUnknownKey, "%s", msg)
			continue
		}
		p := join(path, name)
		l.keys[p] = pos(k)
		l.decode(p, val, v.FieldByIndex(f.Index))
	}
}

func (l *loader) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		l.valErr(path, ErrType, "expected list, got %s", nodeKind(n))
		return
	}
	if len(n.Content) == 0 {
		v.SetZero() // "[]" and an absent key look the same to users of Options: nil
		l.set[path] = true
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		l.keys[p] = pos(e)
		l.decode(p, e, s.Index(i))
	}
	v.Set(s)
	l.set[path] = true
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := tagName(f); tag == name && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// tagName is the key of a field: its yaml tag up to the first comma.
func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func tagsOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if tag := tagName(t.Field(i)); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Int:
		return "integer"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() == reflect.Slice:
		return "list"
	case t.Kind() == reflect.Struct:
		return "mapping"
	}
	return t.String()
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "string"
		case "!!int":
			return "integer"
		case "!!float":
			return "number"
		case "!!bool":
			return "boolean"
		case "!!null":
			return "null"
		}
		return "scalar " + n.ShortTag()
	}
	return "document"
}

// suggest returns the candidate closest to name when it is a plausible typo (edit distance ≤ 2,
// 1 for words of four letters or less, or the same word with "-" for "_"), else "".
func suggest(name string, candidates []string) string {
	norm := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	limit := 2 // short words are too close to each other: "port" is not a typo of "cert"
	if len(norm) <= 4 {
		limit = 1
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == norm {
			return c
		}
		if d := editDistance(norm, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// syntaxProblem turns a yaml.v3 error into a positioned Problem.
func (l *loader) syntaxProblem(err error) {
	l.probs = append(l.probs, SyntaxProblemIn(l.file, l.data, err))
}

func (l *loader) sorted() []Problem {
	Errors(l.probs).Sort()
	return l.probs
}
