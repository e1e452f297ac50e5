package provision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/provision"
	"github.com/herald-ims/herald/core/web"
)

// Test tokens: read-write and read-only.
const (
	rwToken = "rw-token-0123456789abcdef"
	roToken = "ro-token-0123456789abcdef"
)

// memStore is a provision.Store in memory, for tests.
type memStore struct {
	mu    sync.Mutex
	byKey map[string]*profile.Profile
	puts  int
}

func newMemStore() *memStore { return &memStore{byKey: map[string]*profile.Profile{}} }

func keysOf(p *profile.Profile) []string { return append([]string{p.Key}, p.Identities...) }

func (s *memStore) Lookup(key string) (*profile.Profile, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byKey[key]
	return p, ok
}

func (s *memStore) Put(old, p *profile.Profile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old != nil && s.byKey[old.Key] != old {
		return provision.ErrNotFound
	}
	for _, k := range keysOf(p) {
		if q, ok := s.byKey[k]; ok && q != old {
			return fmt.Errorf("%w: %s", provision.ErrIdentityTaken, k)
		}
	}
	if old != nil {
		for _, k := range keysOf(old) {
			delete(s.byKey, k)
		}
	}
	for _, k := range keysOf(p) {
		s.byKey[k] = p
	}
	s.puts++
	return nil
}

func (s *memStore) Delete(p *profile.Profile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey[p.Key] != p {
		return provision.ErrNotFound
	}
	for _, k := range keysOf(p) {
		delete(s.byKey, k)
	}
	return nil
}

func (s *memStore) List(after string, limit int) ([]*profile.Profile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k, p := range s.byKey {
		if k == p.Key && k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []*profile.Profile
	for _, k := range keys[:min(limit, len(keys))] {
		out = append(out, s.byKey[k])
	}
	return out, nil
}

// rig is a live web server with the API on its admin listener.
type rig struct {
	store *memStore
	web   *web.Server
	admin string // http://admin-addr
	page  string // http://page-addr
	c     *http.Client
}

func newRig(t *testing.T, tweak func(*provision.Options)) *rig {
	t.Helper()
	st := newMemStore()
	o := provision.Options{
		Store:           st,
		Sanitize:        testSanitize,
		Classify:        testClassify,
		ReadWriteTokens: []string{rwToken},
		ReadOnlyTokens:  []string{roToken},
		MaxCardBytes:    64 << 10,
	}
	if tweak != nil {
		tweak(&o)
	}
	api, err := provision.New(o)
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Options{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", BaseURL: "http://127.0.0.1/", API: api})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &rig{store: st, web: s, admin: "http://" + s.AdminAddr(), page: "http://" + s.Addr(), c: c}
}

type resp struct {
	code int
	hdr  http.Header
	body []byte
}

// req is one request: method, path on the admin listener, body and headers ("Name: value").
func (g *rig) req(t *testing.T, method, path string, body []byte, headers ...string) resp {
	t.Helper()
	return g.reqTo(t, g.admin, method, path, body, headers...)
}

func (g *rig) reqTo(t *testing.T, base, method, path string, body []byte, headers ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		if h == "" {
			continue
		}
		k, v, _ := strings.Cut(h, ":")
		r.Header.Add(k, strings.TrimSpace(v))
	}
	res, err := g.c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, b}
}

const (
	authRW = "Authorization: Bearer " + rwToken
	authRO = "Authorization: Bearer " + roToken
	ctJSON = "Content-Type: application/json"
	ctHTML = "Content-Type: text/html; charset=utf-8"
)

// wantError checks status and the stable error code of a JSON error answer.
func wantError(t *testing.T, r resp, status int, code provision.Code) {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d (body %s)", r.code, status, r.body)
	}
	if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Code != string(code) || e.Reason == "" {
		t.Fatalf("error %+v, want code %q and a reason", e, code)
	}
	if code.Status() != status {
		t.Fatalf("code %q is documented with %d, answered %d", code, code.Status(), status)
	}
}

type subscriber struct {
	Key         string   `json:"key"`
	Identities  []string `json:"identities"`
	PushCapable bool     `json:"push_capable"`
	CallerCard  *card    `json:"caller_card"`
	CalleeCard  *card    `json:"callee_card"`
	Ringback    string   `json:"ringback"`
	ETag        string   `json:"etag"`
}

type card struct {
	Version string `json:"version"`
	SHA1    string `json:"sha1"`
	Bytes   int    `json:"bytes"`
	Href    string `json:"href"`
	ETag    string `json:"etag"`
	Removed []struct {
		What  string `json:"what"`
		Count int    `json:"count"`
	} `json:"removed"`
}

func decodeInto[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// create makes a subscriber and returns it.
func (g *rig) create(t *testing.T, ids ...string) subscriber {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"identities": ids, "push_capable": true})
	r := g.req(t, "POST", "/v1/subscribers", b, authRW, ctJSON)
	if r.code != http.StatusCreated {
		t.Fatalf("create %v: %d %s", ids, r.code, r.body)
	}
	return decodeInto[subscriber](t, r.body)
}

// Stand-in sanitiser until core/sanitize lands: strips <script> elements and on* attributes.
var (
	reScript  = regexp.MustCompile(`(?is)<script\b.*?</script>`)
	reOnAttr  = regexp.MustCompile(`(?i)\s+on[a-z]+="[^"]*"`)
	errNotUTF = errors.New("not utf-8")
)

func testSanitize(name string, body []byte) (*content.Page, []provision.Removed, error) {
	var removed []provision.Removed
	if !utf8.Valid(body) {
		return nil, nil, errNotUTF
	}
	if n := len(reScript.FindAll(body, -1)); n > 0 {
		body = reScript.ReplaceAll(body, nil)
		removed = append(removed, provision.Removed{What: "<script>", Count: n})
	}
	if n := len(reOnAttr.FindAll(body, -1)); n > 0 {
		body = reOnAttr.ReplaceAll(body, nil)
		removed = append(removed, provision.Removed{What: "on* attribute", Count: n})
	}
	p, err := content.NewPage(name, body)
	return p, removed, err
}

func testClassify(err error) provision.Code {
	if errors.Is(err, errNotUTF) {
		return provision.CodeInvalidUTF8
	}
	return provision.CodeInvalidHTML
}
