package profile

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/content"
)

const card = "<!DOCTYPE html><html><body><p>Hello</p></body></html>"

func seedFS(profiles string, pages ...string) fstest.MapFS {
	m := fstest.MapFS{SeedFile: {Data: []byte(profiles)}}
	for _, p := range pages {
		m["pages/"+p] = &fstest.MapFile{Data: []byte(card)}
	}
	return m
}

func TestLoadEmbeddedSeed(t *testing.T) {
	s, err := LoadSeed(configs.Seed)
	if err != nil {
		t.Fatalf("embedded seed: %v", err)
	}
	if s.Len() != 4 {
		t.Fatalf("Len = %d, want 4 subscribers", s.Len())
	}
	type want struct {
		key            string
		caller, callee string // page names, "" = none
	}
	for id, w := range map[string]want{
		"sip:alice@home1.net":  {"alice@home1.net", "alice-card.html", "alice-callee.html"},
		"tel:+1-212-555-1111":  {"alice@home1.net", "alice-card.html", "alice-callee.html"},
		"tel:+1-212-555-2222":  {"+12125552222", "bob-card.html", "bob-callee.html"},
		"tel:+1-212-555-3333":  {"+12125553333", "", "carol-callee.html"},
		"sip:dave@home1.net":   {"dave@home1.net", "", ""},
		"<tel:+12125554444>;x": {"dave@home1.net", "", ""},
	} {
		p, ok := LookupURI(s, id)
		if !ok {
			t.Errorf("%s: not found", id)
			continue
		}
		if p.Key != w.key || name(p.CallerCard) != w.caller || name(p.CalleeCard) != w.callee {
			t.Errorf("%s: key %q caller %q callee %q; want %+v", id, p.Key, name(p.CallerCard), name(p.CalleeCard), w)
		}
	}
	// The seed is meant to show chunking (≥ 9 KB and ~18 KB pages) and non-ASCII text.
	var big, huge, utf bool
	for _, pg := range s.Pages() {
		big = big || len(pg.Body) >= 9*1024
		huge = huge || len(pg.Body) >= 17*1024
		utf = utf || strings.ContainsFunc(string(pg.Body), func(r rune) bool { return r > 0x7f })
	}
	if !big || !huge || !utf {
		t.Errorf("seed pages: ≥9KB %v, ~18KB %v, non-ASCII %v", big, huge, utf)
	}
}

func name(p *content.Page) string {
	if p == nil {
		return ""
	}
	return p.Name
}

// TestLoadSeedPushCapable: push_capable provisions a terminal as taking Herald's early-dialog pushes;
// left out, the terminal is not provisioned (Herald sends it Call-Info only until it learns more).
// The embedded seed's subscribers are the simulated terminals of the demo and tests: all capable.
func TestLoadSeedPushCapable(t *testing.T) {
	s, err := LoadSeed(seedFS("- identities: [sip:a@x.example]\n  push_capable: true\n- identities: [sip:b@x.example]\n- identities: [sip:c@x.example]\n  push_capable: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"sip:a@x.example": true, "sip:b@x.example": false, "sip:c@x.example": false} {
		if p, ok := LookupURI(s, id); !ok || p.PushCapable != want {
			t.Errorf("%s: found %t, PushCapable %v; want %t", id, ok, p != nil && p.PushCapable, want)
		}
	}
	emb, err := LoadSeed(configs.Seed)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"sip:alice@home1.net", "tel:+1-212-555-2222", "tel:+12125553333", "sip:dave@home1.net"} {
		if p, ok := LookupURI(emb, id); !ok || !p.PushCapable {
			t.Errorf("embedded seed %s: not provisioned push_capable", id)
		}
	}
}

func TestLoadSeedSharesPages(t *testing.T) {
	fsys := seedFS(`
- identities: [sip:a@x.example]
  caller_card: shared.html
- identities: [sip:b@x.example]
  callee_card: shared.html
`, "shared.html")
	s, err := LoadSeed(fsys)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Lookup("a@x.example")
	b, _ := s.Lookup("b@x.example")
	if a.CallerCard == nil || a.CallerCard != b.CalleeCard {
		t.Errorf("same file gave different pages: %p %p", a.CallerCard, b.CalleeCard)
	}
	if n := len(s.Pages()); n != 1 {
		t.Errorf("Pages() = %d, want 1", n)
	}
}

func TestLoadSeedEmpty(t *testing.T) {
	for _, src := range []string{"", "# nobody yet\n", "[]\n"} {
		s, err := LoadSeed(seedFS(src))
		if err != nil || s.Len() != 0 {
			t.Errorf("LoadSeed(%q) = %v, %v", src, s, err)
		}
	}
}

func TestLoadSeedMissingFile(t *testing.T) {
	_, err := LoadSeed(fstest.MapFS{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadSeedProblems(t *testing.T) {
	tests := map[string]struct {
		src   string
		pages []string
		bad   map[string][]byte // extra page files with given bodies
		class error
		want  []string
	}{
		"syntax": {
			src:   "- identities: [a\n",
			class: ErrBadSeed,
			want:  []string{"profiles.yaml:1:15: did not find expected ',' or ']'"}, // the unclosed '['
		},
		"top level mapping": {
			src:   "alice: {}\n",
			class: ErrBadSeed,
			want:  []string{"profiles.yaml:1:1: top level must be a list of subscribers"},
		},
		"entry not a mapping": {
			src:   "- sip:alice@home1.net\n",
			class: ErrBadSeed,
			want:  []string{"profiles.yaml:1:3: subscriber must be a mapping"},
		},
		"unknown key": {
			src:   "- identities: [sip:a@x.example]\n  callercard: a.html\n",
			class: ErrBadSeed,
			want:  []string{`profiles.yaml:2:3: unknown key "callercard" (want identities, caller_card, callee_card, ringback, push_capable)`},
		},
		"push_capable not a bool": {
			src:   "- identities: [sip:a@x.example]\n  push_capable: \"yes\"\n",
			class: ErrBadSeed,
			want:  []string{"profiles.yaml:2:17: push_capable must be true or false"},
		},
		"duplicate key": {
			src:   "- identities: [sip:a@x.example]\n  identities: [sip:b@x.example]\n",
			class: ErrBadSeed,
			want:  []string{`profiles.yaml:2:3: key "identities" given twice`},
		},
		"no identities": {
			src:   "- caller_card: a.html\n",
			pages: []string{"a.html"},
			class: ErrBadSeed,
			want:  []string{"profiles.yaml:1:3: subscriber has no identities"},
		},
		"identities not a list": {
			src:   "- identities: sip:a@x.example\n",
			class: ErrBadSeed,
			want:  []string{"profiles.yaml:1:15: identities must be a non-empty list"},
		},
		"identity not a string": {
			src:   "- identities: [12125551111]\n",
			class: ErrBadSeed,
			want:  []string{"profiles.yaml:1:16: identity must be a string"},
		},
		"bad identity": {
			src:   "- identities: [sip:a@x.example, \"mailto:a@x.example\"]\n",
			class: ErrBadIdentity,
			want:  []string{`profiles.yaml:1:33: profile: bad identity: unsupported scheme: "mailto:a@x.example"`},
		},
		"duplicate identity across entries": {
			src:   "- identities: [\"tel:+1-212-555-2222\"]\n- identities: [\"sip:+12125552222@ims.example;user=phone\"]\n",
			class: ErrDuplicateIdentity,
			want:  []string{`profiles.yaml:2:16: identity "sip:+12125552222@ims.example;user=phone" (+12125552222) already belongs to the subscriber at line 1`},
		},
		"duplicate identity in one entry": {
			src:   "- identities: [sip:a@x.example, sip:a@X.example]\n",
			class: ErrDuplicateIdentity,
			want:  []string{`profiles.yaml:1:33: identity "sip:a@X.example" (a@x.example) already belongs to the subscriber at line 1`},
		},
		"missing page": {
			src:   "- identities: [sip:a@x.example]\n  callee_card: gone.html\n",
			class: ErrMissingPage,
			want:  []string{"profiles.yaml:2:16: profile: missing page file: pages/gone.html: file does not exist"},
		},
		"page path escapes pages dir": {
			src:   "- identities: [sip:a@x.example]\n  caller_card: ../profiles.yaml\n",
			class: ErrMissingPage,
			want:  []string{`profiles.yaml:2:16: card "../profiles.yaml" must be a file name inside pages/`},
		},
		"page not html": {
			src:   "- identities: [sip:a@x.example]\n  caller_card: notes.txt\n",
			bad:   map[string][]byte{"notes.txt": []byte("just text")},
			class: content.ErrNotHTML,
			want:  []string{"profiles.yaml:2:16: profile: bad page: pages/notes.txt: content: not an utf-8 html document: no doctype, <html> or leading comment in the first 512 bytes"},
		},
		"bad ringback": {
			src:   "- identities: [sip:a@x.example]\n  ringback: ../clips/x\n",
			class: ErrBadSeed,
			want:  []string{`profiles.yaml:2:13: ringback "../clips/x" is not a clip name`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fsys := seedFS(tc.src, tc.pages...)
			for n, b := range tc.bad {
				fsys["pages/"+n] = &fstest.MapFile{Data: b}
			}
			s, err := LoadSeed(fsys)
			if s != nil {
				t.Fatalf("LoadSeed returned a store with an error")
			}
			got := lines(t, err)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
			if !errors.Is(err, tc.class) {
				t.Errorf("errors.Is(err, %v) = false; err = %v", tc.class, err)
			}
		})
	}
}

func TestLoadSeedReportsEverything(t *testing.T) {
	src := `- identities: [sip:alice@home1.net]
  caller_card: missing.html
  callee_card: missing.html
- identities: [sip:home1.net, "tel:+1-212-555-2222"]
- identities: [tel:+12125552222]
  ringback: classic
  colour: red
- identities: [sip:dave@home1.net]
`
	_, err := LoadSeed(seedFS(src))
	got := lines(t, err)
	want := []string{
		"profiles.yaml:2:16: profile: missing page file: pages/missing.html: file does not exist",
		"profiles.yaml:3:16: profile: missing page file: pages/missing.html: file does not exist",
		`profiles.yaml:4:16: profile: bad identity: no user part: "sip:home1.net"`,
		`profiles.yaml:5:16: identity "tel:+12125552222" (+12125552222) already belongs to the subscriber at line 4`,
		`profiles.yaml:7:3: unknown key "colour" (want identities, caller_card, callee_card, ringback, push_capable)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	for _, class := range []error{ErrMissingPage, ErrBadIdentity, ErrDuplicateIdentity, ErrBadSeed} {
		if !errors.Is(err, class) {
			t.Errorf("errors.Is(err, %v) = false", class)
		}
	}
}

func lines(t *testing.T, err error) []string {
	t.Helper()
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T is not config.Errors: %v", err, err)
	}
	out := make([]string, len(errs))
	for i, p := range errs {
		out[i] = p.String()
	}
	return out
}
