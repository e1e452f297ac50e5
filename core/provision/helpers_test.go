package provision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/provision"
	"github.com/herald-ims/herald/core/store"
	"github.com/herald-ims/herald/core/web"
)

// Test tokens: read-write and read-only.
const (
	rwToken = "rw-token-0123456789abcdef"
	roToken = "ro-token-0123456789abcdef"
)

// testStore is the real store (core/store.Bolt in a temporary directory) with a write counter and
// a switch that makes every write fail as a broken disk would.
type testStore struct {
	store.Store
	puts   atomic.Int64
	broken atomic.Bool
	// down makes every write fail as a networked store whose backend is gone does.
	down atomic.Bool
}

var errDisk = errors.New("test: disk on fire")

var errDown = fmt.Errorf("%w: test: redis gone", store.ErrUnavailable)

func (s *testStore) Put(ctx context.Context, sub store.Subscriber, pre store.Precondition) (store.Subscriber, error) {
	if s.down.Load() {
		return sub, errDown
	}
	if s.broken.Load() {
		return sub, errDisk
	}
	out, err := s.Store.Put(ctx, sub, pre)
	if err == nil {
		s.puts.Add(1)
	}
	return out, err
}

func (s *testStore) Delete(ctx context.Context, id string, pre store.Precondition) error {
	if s.down.Load() {
		return errDown
	}
	if s.broken.Load() {
		return errDisk
	}
	return s.Store.Delete(ctx, id, pre)
}

func (s *testStore) PutPage(ctx context.Context, p *content.Page) (string, error) {
	if s.broken.Load() {
		return "", errDisk
	}
	return s.Store.PutPage(ctx, p)
}

func (s *testStore) writes() int64 { return s.puts.Load() }

// lookup resolves an identity for assertions.
func (s *testStore) lookup(identity string) (store.Subscriber, bool) {
	sub, err := s.Resolve(context.Background(), identity)
	return sub, err == nil
}

// rig is a live web server with the API on its admin listener.
type rig struct {
	api   *provision.API
	store *testStore
	web   *web.Server
	admin string // http://admin-addr
	page  string // http://page-addr
	c     *http.Client
}

func newRig(t testing.TB, tweak func(*provision.Options)) *rig {
	t.Helper()
	b, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), store.FileName), GCInterval: -1,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	st := &testStore{Store: b}
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
	return &rig{api: api, store: st, web: s, admin: "http://" + s.AdminAddr(), page: "http://" + s.Addr(), c: c}
}

type resp struct {
	code int
	hdr  http.Header
	body []byte
}

// req is one request: method, path on the admin listener, body and headers ("Name: value").
func (g *rig) req(t testing.TB, method, path string, body []byte, headers ...string) resp {
	t.Helper()
	return g.reqTo(t, g.admin, method, path, body, headers...)
}

func (g *rig) reqTo(t testing.TB, base, method, path string, body []byte, headers ...string) resp {
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

// codesSeen records every error code a test asserted, for TestMain.
var codesSeen sync.Map

// TestMain runs the tests and, when the whole suite ran (no -run), fails unless some test asserted
// each documented error code: every error the API can give is tested.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if f := flag.Lookup("test.run"); code == 0 && f != nil && f.Value.String() == "" {
		for _, c := range provision.Codes() {
			if _, ok := codesSeen.Load(c); !ok {
				fmt.Fprintf(os.Stderr, "no test asserts the error code %q\n", c)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// wantError checks status and the stable error code of a JSON error answer.
func wantError(t *testing.T, r resp, status int, code provision.Code) {
	t.Helper()
	codesSeen.Store(code, true)
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

func decodeInto[T any](t testing.TB, b []byte) T {
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
func (g *rig) create(t *testing.T, ids ...string) subscriber { return g.createT(t, ids...) }

func (g *rig) createT(t testing.TB, ids ...string) subscriber {
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
