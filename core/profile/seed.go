package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/content"
)

// Seed layout inside the seed file system.
const (
	SeedFile = "profiles.yaml"
	PagesDir = "pages"
)

// LoadSeed builds a MemStore from a seed directory: SeedFile, a YAML list of
//
//   - identities: ["sip:alice@home1.net", "tel:+12125551111"]   # required, canonicalised, all indexed
//     caller_card: alice-card.html                              # file under pages/, optional
//     callee_card: alice-callee.html                            # file under pages/, optional
//     ringback: classic                                         # clip name, optional
//     push_capable: true                                        # terminal takes early-dialog pushes, optional
//
// The first identity becomes Profile.Key. Pages are built once per file with content.NewPage, so two
// profiles naming the same file share one *content.Page.
//
// Every problem is reported at once, as config.Errors with SeedFile:line:col, each wrapping one of
// ErrBadSeed, ErrBadIdentity, ErrDuplicateIdentity, ErrMissingPage or ErrBadPage. A missing SeedFile is
// returned as a wrapped fs error instead.
func LoadSeed(fsys fs.FS) (*MemStore, error) {
	data, err := fs.ReadFile(fsys, SeedFile)
	if err != nil {
		return nil, fmt.Errorf("profile: seed: %w", err)
	}
	sl := &seedLoader{fsys: fsys, pages: make(map[string]pageResult), owner: make(map[string]int)}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p := config.SyntaxProblemIn(SeedFile, data, err)
		p.Err = fmt.Errorf("%w: %w", ErrBadSeed, config.ErrSyntax)
		return nil, config.Errors{p}
	}
	store := NewMemStore()
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	switch {
	case root.Kind == 0 || root.Kind == yaml.DocumentNode || root.ShortTag() == "!!null": // empty: no subscribers
	case root.Kind != yaml.SequenceNode:
		sl.add(root.Line, root.Column, ErrBadSeed, "top level must be a list of subscribers")
	default:
		var out []*Profile
		for _, e := range root.Content {
			if p := sl.entry(e); p != nil {
				out = append(out, p)
			}
		}
		for _, p := range out {
			store.Put(p)
		}
	}
	if len(sl.probs) > 0 {
		sl.probs.Sort()
		return nil, sl.probs
	}
	return store, nil
}

type pageResult struct {
	page *content.Page
	err  error
}

type seedLoader struct {
	fsys  fs.FS
	pages map[string]pageResult // by file name: one *Page per file
	owner map[string]int        // canonical identity → line of the first entry claiming it
	probs config.Errors
}

func (sl *seedLoader) add(line, col int, class error, format string, args ...any) {
	sl.probs = append(sl.probs, config.Problem{File: SeedFile, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Err: class})
}

func (sl *seedLoader) addAt(n *yaml.Node, class error, format string, args ...any) {
	sl.add(n.Line, n.Column, class, format, args...)
}

// entry decodes one subscriber; it returns nil when the entry has problems (already reported).
func (sl *seedLoader) entry(e *yaml.Node) *Profile {
	if e.Kind != yaml.MappingNode {
		sl.addAt(e, ErrBadSeed, "subscriber must be a mapping")
		return nil
	}
	before := len(sl.probs)
	p := &Profile{}
	var ids *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(e.Content); i += 2 {
		k, v := e.Content[i], e.Content[i+1]
		if seen[k.Value] {
			sl.addAt(k, ErrBadSeed, "key %q given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "identities":
			ids = v
		case "caller_card":
			p.CallerCard = sl.page(v)
		case "callee_card":
			p.CalleeCard = sl.page(v)
		case "ringback":
			if s, ok := sl.str(v, "ringback"); ok {
				if s == "" || strings.ContainsAny(s, "/\\ \t") || s == "." || s == ".." {
					sl.addAt(v, ErrBadSeed, "ringback %q is not a clip name", s)
				}
				p.Ringback = s
			}
		case "push_capable":
			var b bool
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&b) != nil {
				sl.addAt(v, ErrBadSeed, "push_capable must be true or false")
				continue
			}
			p.PushCapable = b
		default:
			sl.addAt(k, ErrBadSeed, "unknown key %q (want identities, caller_card, callee_card, ringback, push_capable)", k.Value)
		}
	}
	switch {
	case ids == nil:
		sl.addAt(e, ErrBadSeed, "subscriber has no identities")
	case ids.Kind != yaml.SequenceNode || len(ids.Content) == 0:
		sl.addAt(ids, ErrBadSeed, "identities must be a non-empty list")
	default:
		for _, n := range ids.Content {
			raw, ok := sl.str(n, "identity")
			if !ok {
				continue
			}
			key, err := Canonical(raw)
			if err != nil {
				sl.addAt(n, err, "%v", err)
				continue
			}
			if line, dup := sl.owner[key]; dup {
				sl.addAt(n, ErrDuplicateIdentity, "identity %q (%s) already belongs to the subscriber at line %d", raw, key, line)
				continue
			}
			sl.owner[key] = e.Line
			if p.Key == "" {
				p.Key = key
			} else {
				p.Identities = append(p.Identities, key)
			}
		}
	}
	if len(sl.probs) > before {
		return nil
	}
	return p
}

func (sl *seedLoader) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		sl.addAt(n, ErrBadSeed, "%s must be a string", what)
		return "", false
	}
	return n.Value, true
}

// page loads pages/<name> once and reports a problem at n for each reference to a bad file.
func (sl *seedLoader) page(n *yaml.Node) *content.Page {
	name, ok := sl.str(n, "card")
	if !ok {
		return nil
	}
	if name == "" || strings.ContainsAny(name, "/\\") || !fs.ValidPath(name) {
		sl.addAt(n, ErrMissingPage, "card %q must be a file name inside %s/", name, PagesDir)
		return nil
	}
	r, done := sl.pages[name]
	if !done {
		body, err := fs.ReadFile(sl.fsys, path.Join(PagesDir, name))
		if err != nil {
			r.err = fmt.Errorf("%w: %s/%s: %w", ErrMissingPage, PagesDir, name, unwrapPath(err))
		} else if r.page, err = content.NewPage(name, body); err != nil {
			r.err = fmt.Errorf("%w: %s/%s: %w", ErrBadPage, PagesDir, name, err)
		}
		sl.pages[name] = r
	}
	if r.err != nil {
		sl.addAt(n, r.err, "%v", r.err)
		return nil
	}
	return r.page
}

// unwrapPath drops the *fs.PathError wrapper (its path repeats what the message already says).
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// Pages returns the distinct pages referenced by the store's profiles, for warming caches and
// serving Call-Info fallbacks. Order is unspecified.
func (s *MemStore) Pages() []*content.Page {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*content.Page
	for p := range s.profiles {
		for _, pg := range []*content.Page{p.CallerCard, p.CalleeCard} {
			if pg != nil && !slices.Contains(out, pg) {
				out = append(out, pg)
			}
		}
	}
	return out
}
