package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/content"
)

func openTest(t testing.TB, opts Options) *Bolt {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), FileName)
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = -1
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testPage(t testing.TB, name, text string) *content.Page {
	t.Helper()
	p, err := content.NewPage(name, []byte("<!doctype html><p>"+text+"</p>"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBoltSubscriberCRUD(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	pg := testPage(t, "a.html", "alice")
	ref, err := s.PutPage(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Put(ctx, Subscriber{ID: "alice", Identities: []string{"sip:alice@home1.net", "tel:+1-212-555-1111", "+12125551111"}, CallerCard: ref, PushCapable: true}, Precondition{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice@home1.net", "+12125551111"}; fmt.Sprint(a.Identities) != fmt.Sprint(want) || a.Revision == 0 {
		t.Fatalf("stored %+v, want canonical de-duplicated identities %v and a revision", a, want)
	}
	for _, id := range []string{"<sip:alice@HOME1.net>", "tel:+12125551111"} {
		got, err := s.Resolve(ctx, id)
		if err != nil || got.ID != "alice" || got.Revision != a.Revision {
			t.Fatalf("Resolve(%q) = %+v, %v", id, got, err)
		}
	}
	tests := map[string]struct {
		sub  Subscriber
		pre  Precondition
		want error
	}{
		"create over existing":  {Subscriber{ID: "alice", Identities: []string{"sip:x@y"}}, Precondition{IfNoneMatch: true}, ErrConflict},
		"stale if-match":        {Subscriber{ID: "alice", Identities: []string{"sip:x@y"}}, Precondition{IfMatch: a.Revision + 100}, ErrConflict},
		"if-match on missing":   {Subscriber{ID: "nobody", Identities: []string{"sip:x@y"}}, Precondition{IfMatch: 1}, ErrNotFound},
		"identity taken":        {Subscriber{ID: "mallory", Identities: []string{"tel:+12125551111"}}, Precondition{}, ErrIdentityTaken},
		"no identities":         {Subscriber{ID: "x"}, Precondition{}, ErrInvalid},
		"bad identity":          {Subscriber{ID: "x", Identities: []string{"mailto:x@y"}}, Precondition{}, ErrInvalid},
		"bad id":                {Subscriber{ID: "a/b", Identities: []string{"sip:x@y"}}, Precondition{}, ErrInvalid},
		"unknown page":          {Subscriber{ID: "x", Identities: []string{"sip:x@y"}, CalleeCard: PageRef(testPage(t, "b.html", "nope"))}, Precondition{}, ErrInvalid},
		"malformed page ref":    {Subscriber{ID: "x", Identities: []string{"sip:x@y"}, CalleeCard: "zz"}, Precondition{}, ErrInvalid},
		"unknown clip":          {Subscriber{ID: "x", Identities: []string{"sip:x@y"}, Ringback: ref}, Precondition{}, ErrInvalid},
		"ringback name invalid": {Subscriber{ID: "x", Identities: []string{"sip:x@y"}, Ringback: "../etc"}, Precondition{}, ErrInvalid},
	}
	for name, tc := range tests {
		if _, err := s.Put(ctx, tc.sub, tc.pre); !errors.Is(err, tc.want) {
			t.Errorf("%s: Put = %v, want %v", name, err, tc.want)
		}
	}
	_, err = s.Put(ctx, Subscriber{ID: "mallory", Identities: []string{"tel:+12125551111"}}, Precondition{})
	if ie, ok := errors.AsType[*IdentityError](err); !ok || ie.Owner != "alice" || ie.Identity != "+12125551111" {
		t.Fatalf("identity conflict = %v, want *IdentityError owned by alice", err)
	}
	if _, err := s.Get(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused write left a record: %v", err)
	}
	// Replace under If-Match: the dropped identity is free again.
	a2, err := s.Put(ctx, Subscriber{ID: "alice", Identities: []string{"sip:alice@home1.net"}}, Precondition{IfMatch: a.Revision})
	if err != nil || a2.Revision <= a.Revision {
		t.Fatalf("replace = %+v, %v", a2, err)
	}
	if _, err := s.Put(ctx, Subscriber{ID: "bob", Identities: []string{"tel:+12125551111"}}, Precondition{}); err != nil {
		t.Fatalf("freed identity: %v", err)
	}
	if err := s.Delete(ctx, "alice", Precondition{IfMatch: a.Revision}); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete with stale revision = %v", err)
	}
	if err := s.Delete(ctx, "alice", Precondition{IfMatch: a2.Revision}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "alice", Precondition{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
	if _, err := s.Resolve(ctx, "sip:alice@home1.net"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted identity resolves: %v", err)
	}
	a3, err := s.Put(ctx, Subscriber{ID: "alice", Identities: []string{"sip:alice@home1.net"}}, Precondition{IfNoneMatch: true})
	if err != nil || a3.Revision <= a2.Revision {
		t.Fatalf("re-create = %+v, %v: a revision must never repeat", a3, err)
	}
}

func TestBoltListCursor(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	for i := range 25 {
		if _, err := s.Put(ctx, Subscriber{ID: fmt.Sprintf("s%03d", i), Identities: []string{fmt.Sprintf("+1555%04d", i)}}, Precondition{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		subs, next, err := s.List(ctx, cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range subs {
			got = append(got, sub.ID)
		}
		if next == "" {
			if pages != 2 || len(subs) != 5 {
				t.Fatalf("last page %d has %d", pages, len(subs))
			}
			break
		}
		cursor = next
	}
	if len(got) != 25 || got[0] != "s000" || got[24] != "s024" {
		t.Fatalf("listed %v", got)
	}
	for _, tc := range []struct {
		cursor string
		limit  int
	}{{"!!", 10}, {"", -1}, {"", MaxListLimit + 1}} {
		if _, _, err := s.List(ctx, tc.cursor, tc.limit); !errors.Is(err, ErrInvalid) {
			t.Errorf("List(%q, %d) = %v, want ErrInvalid", tc.cursor, tc.limit, err)
		}
	}
	if n, err := s.Count(ctx); err != nil || n != 25 {
		t.Fatalf("Count = %d, %v", n, err)
	}
}

func TestBoltVersionsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	pg := testPage(t, "card.html", "hello")
	ref, err := s.PutPage(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	if ref2, _ := s.PutPage(ctx, testPage(t, "card.html", "hello")); ref2 != ref {
		t.Fatalf("same page, two refs %s %s", ref, ref2)
	}
	if ref3, _ := s.PutPage(ctx, testPage(t, "other.html", "hello")); ref3 == ref {
		t.Fatal("a different name must be another version")
	}
	got, err := s.GetPage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != pg.Name || !bytes.Equal(got.Body, pg.Body) || !bytes.Equal(got.Gzip, pg.Gzip) || !bytes.Equal(got.Zstd, pg.Zstd) ||
		got.SHA1 != pg.SHA1 || got.Version != pg.Version || got.HashSelector() != pg.HashSelector() {
		t.Fatalf("page round trip differs: %+v", got)
	}
	wav, _ := fs.ReadFile(configs.Clips, "ringback-8k.wav")
	cref, err := s.PutClip(ctx, Clip{Name: "tone", Parts: map[string][]byte{KindWAV: wav}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.GetClip(ctx, cref)
	if err != nil || c.Name != "tone" || !bytes.Equal(c.Parts[KindWAV], wav) || c.Ref != cref {
		t.Fatalf("clip round trip: %+v, %v", c.Name, err)
	}
	if _, err := BuildClip(c); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]Clip{"no parts": {}, "unknown kind": {Parts: map[string][]byte{"mp3": {1}}}, "empty part": {Parts: map[string][]byte{KindAWB: nil}}} {
		if _, err := s.PutClip(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: PutClip = %v", name, err)
		}
	}
	if _, err := s.GetPage(ctx, PageRef(testPage(t, "x.html", "x"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing page: %v", err)
	}
}

// TestBoltCollect: versions no subscriber names are removed once past the grace period; referenced
// ones and fresh uploads stay.
func TestBoltCollect(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{GCGrace: time.Hour})
	var offset atomic.Int64 // a clock the test moves forward
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s.clock.Store(&clock)
	old, _ := s.PutPage(ctx, testPage(t, "a.html", "v1"))
	cur, _ := s.PutPage(ctx, testPage(t, "a.html", "v2"))
	wav, _ := fs.ReadFile(configs.Clips, "ringback-8k.wav")
	clip, _ := s.PutClip(ctx, Clip{Name: "c", Parts: map[string][]byte{KindWAV: wav}})
	if _, err := s.Put(ctx, Subscriber{ID: "a", Identities: []string{"sip:a@x"}, CallerCard: old, Ringback: clip}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, Subscriber{ID: "a", Identities: []string{"sip:a@x"}, CallerCard: cur}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	if p, c, err := s.Collect(ctx); err != nil || p+c != 0 {
		t.Fatalf("inside the grace period Collect removed %d pages %d clips (%v)", p, c, err)
	}
	offset.Store(int64(time.Hour + time.Second))
	fresh, _ := s.PutPage(ctx, testPage(t, "f.html", "fresh"))
	p, c, err := s.Collect(ctx)
	if err != nil || p != 1 || c != 1 {
		t.Fatalf("Collect = %d pages %d clips, %v; want 1 and 1", p, c, err)
	}
	for ref, want := range map[string]error{old: ErrNotFound, cur: nil, fresh: nil} {
		if _, err := s.GetPage(ctx, ref); !errors.Is(err, want) {
			t.Errorf("page %s: %v, want %v", ref[:8], err, want)
		}
	}
	if _, err := s.GetClip(ctx, clip); !errors.Is(err, ErrNotFound) {
		t.Fatalf("clip survived: %v", err)
	}
	// A subscriber cannot name a collected version.
	if _, err := s.Put(ctx, Subscriber{ID: "b", Identities: []string{"sip:b@x"}, CallerCard: old}, Precondition{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("collected ref accepted: %v", err)
	}
}

// TestBoltConcurrentWritersGrouped: concurrent writers all succeed, each with its own result, and
// a failing write in a group does not fail the others.
func TestBoltConcurrentWritersGrouped(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	if _, err := s.Put(ctx, Subscriber{ID: "owner", Identities: []string{"+15550000"}}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Go(func() {
			id := fmt.Sprintf("+1556%04d", i)
			if i%8 == 0 {
				id = "+15550000" // taken: must fail alone
			}
			_, errs[i] = s.Put(ctx, Subscriber{ID: fmt.Sprintf("w%02d", i), Identities: []string{id}}, Precondition{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%8 == 0; errors.Is(err, ErrIdentityTaken) != want || (!want && err != nil) {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if n, _ := s.Count(ctx); n != 1+56 {
		t.Fatalf("Count = %d, want 57", n)
	}
}

// TestBoltReopen: what was acknowledged before Close is there after Open.
func TestBoltReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d", FileName)
	s, err := Open(Options{Path: path, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := s.PutPage(ctx, testPage(t, "a.html", "x"))
	w, err := s.Put(ctx, Subscriber{ID: "a", Identities: []string{"sip:a@x"}, CalleeCard: ref}, Precondition{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
	s = openTest(t, Options{Path: path})
	got, err := s.Get(ctx, "a")
	if err != nil || got.Revision != w.Revision || got.CalleeCard != ref {
		t.Fatalf("after reopen %+v, %v", got, err)
	}
}

func TestImportSeed(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	n, err := Import(ctx, s, configs.Seed)
	if err != nil || n != 4 {
		t.Fatalf("Import = %d, %v", n, err)
	}
	bob, err := s.Resolve(ctx, "tel:+12125552222")
	if err != nil || bob.Ringback != "ringback" || bob.CallerCard == "" || !bob.PushCapable {
		t.Fatalf("bob = %+v, %v", bob, err)
	}
	pg, err := s.GetPage(ctx, bob.CallerCard)
	if err != nil || pg.Name != "bob-card.html" {
		t.Fatalf("bob's card %v %v", pg, err)
	}
	// A seed with a clips/ folder stores the clip; a second import replaces, not duplicates.
	wav, _ := fs.ReadFile(configs.Clips, "ringback-8k.wav")
	seed := fstest.MapFS{
		"profiles.yaml":  {Data: []byte("- identities: [\"sip:erin@home1.net\"]\n  ringback: tune\n")},
		"clips/tune.wav": {Data: wav},
	}
	for range 2 {
		if n, err := Import(ctx, s, seed); err != nil || n != 1 {
			t.Fatalf("Import = %d, %v", n, err)
		}
	}
	erin, err := s.Get(ctx, "erin@home1.net")
	if err != nil || !IsRef(erin.Ringback) {
		t.Fatalf("erin = %+v, %v", erin, err)
	}
	if n, _ := s.Count(ctx); n != 5 {
		t.Fatalf("Count = %d after re-import", n)
	}
	bad := fstest.MapFS{"profiles.yaml": {Data: []byte("- identities: [\"sip:alice@home1.net\"]\n  caller_card: nope.html\n")}}
	if n, err := Import(ctx, s, bad); err == nil || n != 0 {
		t.Fatalf("bad seed: %d, %v", n, err)
	}
}

// TestBoltCollectPeriodic: with GCInterval set, unreferenced versions go without anyone calling
// Collect; a referenced one stays.
func TestBoltCollectPeriodic(t *testing.T) {
	ctx := context.Background()
	// A grace far longer than an upload-then-write takes, even on a loaded machine.
	s := openTest(t, Options{GCGrace: time.Second, GCInterval: 20 * time.Millisecond})
	kept, _ := s.PutPage(ctx, testPage(t, "k.html", "kept"))
	if _, err := s.Put(ctx, Subscriber{ID: "k", Identities: []string{"sip:k@x"}, CalleeCard: kept}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	orphan, _ := s.PutPage(ctx, testPage(t, "o.html", "orphan"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.GetPage(ctx, orphan)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan page not collected within 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.GetPage(ctx, kept); err != nil {
		t.Fatalf("referenced page collected: %v", err)
	}
}

// TestBoltCloseUnderWrites: Close while writers stream and a Live index loads after each commit
// returns, every writer ends with success or ErrClosed, and what was acknowledged is durable.
func TestBoltCloseUnderWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(Options{Path: path, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := s.PutPage(ctx, testPage(t, "a.html", "a"))
	if _, err := NewLive(s, LiveOptions{}); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked []string
	)
	for w := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%02d-%d", w, i)
				_, err := s.Put(ctx, Subscriber{ID: id, Identities: []string{fmt.Sprintf("+1%02d%06d", w, i)}, CallerCard: ref}, Precondition{})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		})
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return within 20s under concurrent writes")
	}
	wg.Wait()
	s = openTest(t, Options{Path: path})
	for _, id := range acked {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatalf("acknowledged %s: %v", id, err)
		}
	}
}
