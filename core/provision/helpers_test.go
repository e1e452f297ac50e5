package provision_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/provision"
	"github.com/herald-ims/herald/core/store"
	"github.com/herald-ims/herald/core/web"
)

// Test tokens: read-write and read-only.
const (
	rwToken = "rw-token-0123456789abcdef"
	roToken = "ro-token-0123456789abcdef"
)

// memStore is a store.Store in memory (for tests; core/store's Bolt is the real one), following
// the interface's documented contract.
type memStore struct {
	mu    sync.Mutex
	rev   uint64
	byID  map[string]store.Subscriber
	owner map[string]string // identity → ID
	pages map[string]*content.Page
	clips map[string]store.Clip
	puts  int
	seq   int
}

func newMemStore() *memStore {
	return &memStore{byID: map[string]store.Subscriber{}, owner: map[string]string{}, pages: map[string]*content.Page{}, clips: map[string]store.Clip{}}
}

func (s *memStore) Get(_ context.Context, id string) (store.Subscriber, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.byID[id]
	if !ok {
		return sub, store.ErrNotFound
	}
	return sub, nil
}

func (s *memStore) Resolve(ctx context.Context, identity string) (store.Subscriber, error) {
	k, err := profile.Canonical(identity)
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	s.mu.Lock()
	id, ok := s.owner[k]
	s.mu.Unlock()
	if !ok {
		return store.Subscriber{}, store.ErrNotFound
	}
	return s.Get(ctx, id)
}

func (s *memStore) Put(_ context.Context, sub store.Subscriber, pre store.Precondition) (store.Subscriber, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, id := range sub.Identities {
		k, err := profile.Canonical(id)
		if err != nil {
			return sub, fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
		if !slices.Contains(ids, k) {
			ids = append(ids, k)
		}
	}
	if len(ids) == 0 {
		return sub, fmt.Errorf("%w: no identities", store.ErrInvalid)
	}
	sub.Identities = ids
	if sub.ID == "" {
		s.seq++
		sub.ID = fmt.Sprintf("%016x", 0xa0000000+s.seq)
	}
	old, exists := s.byID[sub.ID]
	switch {
	case pre.IfMatch != 0 && !exists:
		return sub, store.ErrNotFound
	case pre.IfMatch != 0 && old.Revision != pre.IfMatch, pre.IfNoneMatch && exists:
		return sub, store.ErrConflict
	}
	for _, k := range ids {
		if o, ok := s.owner[k]; ok && o != sub.ID {
			return sub, &store.IdentityError{Identity: k, Owner: o}
		}
	}
	for _, ref := range []string{sub.CallerCard, sub.CalleeCard} {
		if _, ok := s.pages[ref]; ref != "" && !ok {
			return sub, fmt.Errorf("%w: unknown page %s", store.ErrInvalid, ref)
		}
	}
	for _, k := range old.Identities {
		delete(s.owner, k)
	}
	for _, k := range ids {
		s.owner[k] = sub.ID
	}
	s.rev++
	sub.Revision = s.rev
	s.byID[sub.ID] = sub
	s.puts++
	return sub, nil
}

func (s *memStore) Delete(_ context.Context, id string, pre store.Precondition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byID[id]
	switch {
	case !ok:
		return store.ErrNotFound
	case pre.IfMatch != 0 && old.Revision != pre.IfMatch:
		return store.ErrConflict
	}
	for _, k := range old.Identities {
		delete(s.owner, k)
	}
	delete(s.byID, id)
	s.rev++
	return nil
}

func (s *memStore) List(_ context.Context, cursor string, limit int) ([]store.Subscriber, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	after := ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) < 2 || b[0] != '>' {
			return nil, "", fmt.Errorf("%w: cursor", store.ErrInvalid)
		}
		after = string(b[1:])
	}
	if limit == 0 {
		limit = store.DefaultListLimit
	}
	var ids []string
	for id := range s.byID {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(">" + ids[limit-1]))
	}
	var out []store.Subscriber
	for _, id := range ids {
		out = append(out, s.byID[id])
	}
	return out, next, nil
}

func (s *memStore) Count(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID), nil
}

func (s *memStore) PutPage(_ context.Context, p *content.Page) (string, error) {
	h := sha1.New()
	h.Write([]byte(p.Name + "\x00"))
	h.Write(p.Body)
	ref := hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	s.pages[ref] = p
	s.mu.Unlock()
	return ref, nil
}

func (s *memStore) GetPage(_ context.Context, ref string) (*content.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[ref]
	if !ok {
		return nil, store.ErrNotFound
	}
	return p, nil
}

func (s *memStore) PutClip(_ context.Context, c store.Clip) (string, error) {
	h := sha1.New()
	h.Write([]byte(c.Name))
	for _, k := range []string{store.KindWAV, store.KindAWB, store.KindH264} {
		h.Write(c.Parts[k])
	}
	c.Ref = hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	s.clips[c.Ref] = c
	s.mu.Unlock()
	return c.Ref, nil
}

func (s *memStore) GetClip(_ context.Context, ref string) (store.Clip, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clips[ref]
	if !ok {
		return c, store.ErrNotFound
	}
	return c, nil
}

func (s *memStore) Close() error { return nil }

func (s *memStore) writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// lookup resolves an identity for assertions.
func (s *memStore) lookup(identity string) (store.Subscriber, bool) {
	sub, err := s.Resolve(context.Background(), identity)
	return sub, err == nil
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
		CheckClip:       testCheckClip,
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
	ID          string   `json:"id"`
	Revision    uint64   `json:"revision"`
	Key         string   `json:"key"`
	Identities  []string `json:"identities"`
	PushCapable bool     `json:"push_capable"`
	CallerCard  *cardRef `json:"caller_card"`
	CalleeCard  *cardRef `json:"callee_card"`
	Ringback    string   `json:"ringback"`
	ETag        string   `json:"etag"`
}

type cardRef struct {
	Ref  string `json:"ref"`
	Href string `json:"href"`
}

type card struct {
	Ref     string              `json:"ref"`
	Version string              `json:"version"`
	SHA1    string              `json:"sha1"`
	Bytes   int                 `json:"bytes"`
	Href    string              `json:"href"`
	ETag    string              `json:"etag"`
	Removed []provision.Removed `json:"removed"`
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

// The real pipeline: core/content.Prepare with the default policy.
var (
	testSanitize = provision.ContentSanitizer(content.DefaultPolicy())
	testClassify = provision.ContentCode
)

// testCheckClip stands in for core/media's decoder: a WAV must start with RIFF....WAVE, an AWB with
// its magic (RFC 4867 §5), an H.264 stream with a start code.
func testCheckClip(kind string, b []byte) error {
	ok := false
	switch kind {
	case store.KindWAV:
		ok = len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WAVE"
	case store.KindAWB:
		ok = bytes.HasPrefix(b, []byte("#!AMR-WB\n"))
	case store.KindH264:
		ok = bytes.HasPrefix(b, []byte{0, 0, 0, 1})
	}
	if !ok {
		return fmt.Errorf("not a %s clip", kind)
	}
	return nil
}
