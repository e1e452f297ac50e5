package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/herald-ims/herald/configs"
)

// DefaultFile is the name Default reports problems under.
const DefaultFile = "configs/herald.yaml"

// Parse decodes, defaults and validates one YAML configuration. file names the source in problems.
// On failure the error is an Errors holding every problem found, sorted by position.
func Parse(file string, data []byte) (*Options, error) {
	o, _, err := ParsePositions(file, data)
	return o, err
}

// Positions maps a key path ("sip.listen[2].cert", "cpu.rtp_shards[1]") to where the file wrote
// that key (for a list element: the element), so checks made after Parse (files, CPUs: see
// `herald check`) can report file:line:col too.
type Positions struct {
	File string
	l    *loader
}

// At is the position of the key at path, or of its nearest ancestor the file wrote; 1:1 when none.
func (p Positions) At(path string) (line, col int) {
	if p.l == nil {
		return 1, 1
	}
	m := p.l.keyPos(path)
	return m.line, m.col
}

// Problem is a Problem of class class positioned at the key at path.
func (p Positions) Problem(path string, class error, format string, args ...any) Problem {
	line, col := p.At(path)
	return Problem{File: p.File, Line: line, Col: col, Msg: path + ": " + fmt.Sprintf(format, args...), Err: class}
}

// ParsePositions is Parse that also returns where each key was written.
func ParsePositions(file string, data []byte) (*Options, Positions, error) {
	o, l, err := parse(file, data)
	if err != nil {
		o = nil
	}
	return o, Positions{File: file, l: l}, err
}

// ParsePartial is ParsePositions that, when the file is valid YAML but breaks Herald's rules, also
// returns the options as decoded and defaulted (not valid: never run them), so `herald check` can
// go on to the files and CPUs the file names and report those problems in the same run. After a
// syntax error the options are nil.
func ParsePartial(file string, data []byte) (*Options, Positions, error) {
	o, l, err := parse(file, data)
	return o, Positions{File: file, l: l}, err
}

func parse(file string, data []byte) (*Options, *loader, error) {
	l := newLoader(file)
	l.data = data
	o := &Options{Source: file}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		// An empty file is all defaults; validation still asks for what has none (sip.next_hop).
	case err != nil:
		l.syntaxProblem(err)
		return nil, l, Errors(l.sorted())
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			if err != nil {
				l.syntaxProblem(err)
			} else {
				l.addAt(pos(&extra), ErrSyntax, "a second YAML document is not allowed")
			}
		}
		root := &doc
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		if root.Kind == yaml.MappingNode || root.ShortTag() == "!!null" {
			l.decode("", root, reflect.ValueOf(o).Elem())
		} else {
			l.addAt(pos(root), ErrSyntax, "top level must be a mapping, got %s", nodeKind(root))
		}
	}
	if len(l.probs) > 0 && hasSyntax(l.probs) {
		return nil, l, Errors(l.sorted())
	}

	l.applyDefaults(o)
	l.validate(o)
	if len(l.probs) > 0 {
		return o, l, Errors(l.sorted()) // o for ParsePartial only: Parse returns nil
	}
	o.Warnings = l.warns
	return o, l, nil
}

func hasSyntax(ps []Problem) bool {
	for _, p := range ps {
		if errors.Is(p.Err, ErrSyntax) {
			return true
		}
	}
	return false
}

// Load reads and parses the file at path. A read failure is returned wrapped, not as Errors.
func Load(path string) (*Options, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// LoadPartial reads the file at path and returns ParsePartial's results.
func LoadPartial(path string) (*Options, Positions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Positions{File: path}, fmt.Errorf("config: %w", err)
	}
	return ParsePartial(path, data)
}

// Default parses the embedded default configuration (configs/herald.yaml).
func Default() (*Options, error) {
	return Parse(DefaultFile, configs.Default)
}
