package redisstore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/store"
)

func testPage(t testing.TB, name, text string) *content.Page {
	t.Helper()
	p, err := content.NewPage(name, []byte("<!doctype html><p>"+text+"</p>"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open returns a store on addr with its index.
func open(t *testing.T, addr string) (*Store, *store.Live) {
	t.Helper()
	s, err := New(Options{Addrs: []string{addr}, Timeout: 2 * time.Second, Logger: quiet(), GCInterval: -1}) // generous: a loaded machine must not turn a slow answer into ErrUnavailable
	if err != nil {
		t.Fatal(err)
	}
	live := s.OpenLive(store.LiveOptions{Logger: quiet()}, 2*time.Second)
	t.Cleanup(func() { _ = s.Close() })
	return s, live
}

// eventually waits for cond, failing after 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSemantics: the same rules as the Bolt store: revisions strictly increasing and never
// reused, If-Match / If-None-Match, identities owned once, references checked, content-addressed
// versions stored once, List pages, Count.
func TestSemantics(t *testing.T) {
	m := miniredis.RunT(t)
	s, _ := open(t, m.Addr())
	ctx := context.Background()

	p := testPage(t, "a.html", "alice")
	ref, err := s.PutPage(ctx, p)
	if err != nil || ref != store.PageRef(p) {
		t.Fatalf("PutPage %q %v", ref, err)
	}
	if ref2, err := s.PutPage(ctx, testPage(t, "a.html", "alice")); err != nil || ref2 != ref {
		t.Fatalf("same page again: %q %v", ref2, err)
	}
	got, err := s.GetPage(ctx, ref)
	if err != nil || string(got.Body) != string(p.Body) || got.Version != p.Version || !got.Sanitized() {
		t.Fatalf("GetPage %v %v", got, err)
	}
	if _, err := s.GetPage(ctx, strings.Repeat("0", 40)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing page: %v", err)
	}
	clip := store.Clip{Name: "tone", Parts: map[string][]byte{store.KindWAV: []byte("RIFF....")}}
	cref, err := s.PutClip(ctx, clip)
	if err != nil || cref != store.ClipRef(&clip) {
		t.Fatalf("PutClip %q %v", cref, err)
	}
	if c, err := s.GetClip(ctx, cref); err != nil || string(c.Parts[store.KindWAV]) != "RIFF...." || c.Name != "tone" {
		t.Fatalf("GetClip %v %v", c, err)
	}
	if _, err := s.PutClip(ctx, store.Clip{Parts: map[string][]byte{"mp3": {1}}}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad clip kind: %v", err)
	}

	a, err := s.Put(ctx, store.Subscriber{ID: "alice", Identities: []string{"sip:Alice@Home1.net", "tel:+1-212-555-1111"}, CallerCard: ref, Ringback: cref}, store.Precondition{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Revision == 0 || a.Identities[0] != "Alice@home1.net" || a.Identities[1] != "+12125551111" {
		t.Fatalf("stored %+v", a)
	}
	if _, err := s.Put(ctx, store.Subscriber{ID: "alice", Identities: []string{"Alice@home1.net"}}, store.Precondition{IfNoneMatch: true}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("If-None-Match on an existing record: %v", err)
	}
	if _, err := s.Put(ctx, store.Subscriber{ID: "alice", Identities: []string{"alice@home1.net"}}, store.Precondition{IfMatch: a.Revision + 100}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale If-Match: %v", err)
	}
	if _, err := s.Put(ctx, store.Subscriber{ID: "nobody", Identities: []string{"x@y.z"}}, store.Precondition{IfMatch: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("If-Match on a missing record: %v", err)
	}
	var ie *store.IdentityError
	if _, err := s.Put(ctx, store.Subscriber{ID: "bob", Identities: []string{"bob@home1.net", "+12125551111"}}, store.Precondition{}); !errors.As(err, &ie) || ie.Owner != "alice" || ie.Identity != "+12125551111" {
		t.Fatalf("identity owned by alice: %v", err)
	}
	if _, err := s.Put(ctx, store.Subscriber{ID: "bob", Identities: []string{"bob@home1.net"}, CalleeCard: strings.Repeat("a", 40)}, store.Precondition{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("unknown page reference: %v", err)
	}
	if _, err := s.Put(ctx, store.Subscriber{ID: "bob", Identities: []string{"bad identity"}}, store.Precondition{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad identity: %v", err)
	}
	a2, err := s.Put(ctx, store.Subscriber{ID: "alice", Identities: []string{"alice@home1.net"}, CallerCard: ref}, store.Precondition{IfMatch: a.Revision})
	if err != nil || a2.Revision <= a.Revision {
		t.Fatalf("If-Match write: %+v %v", a2, err)
	}
	// The identity alice dropped is free again.
	b, err := s.Put(ctx, store.Subscriber{ID: "bob", Identities: []string{"+12125551111"}}, store.Precondition{})
	if err != nil || b.Revision <= a2.Revision {
		t.Fatalf("freed identity: %+v %v", b, err)
	}
	if r, err := s.Resolve(ctx, "tel:+1-212-555-1111"); err != nil || r.ID != "bob" {
		t.Fatalf("Resolve %+v %v", r, err)
	}
	if _, err := s.Resolve(ctx, "nobody@home1.net"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Resolve unknown: %v", err)
	}
	if err := s.Delete(ctx, "alice", store.Precondition{IfMatch: a.Revision}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Delete with a stale If-Match: %v", err)
	}
	if err := s.Delete(ctx, "alice", store.Precondition{IfMatch: a2.Revision}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if err := s.Delete(ctx, "alice", store.Precondition{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete twice: %v", err)
	}
	a3, err := s.Put(ctx, store.Subscriber{ID: "alice", Identities: []string{"alice@home1.net"}}, store.Precondition{IfNoneMatch: true})
	if err != nil || a3.Revision <= b.Revision+1 { // the delete took a revision too
		t.Fatalf("re-created: %+v %v", a3, err)
	}
	for i := range 5 {
		if _, err := s.Put(ctx, store.Subscriber{ID: "s" + string(rune('0'+i)), Identities: []string{"+1555000" + string(rune('0'+i))}}, store.Precondition{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Count(ctx); err != nil || n != 7 {
		t.Fatalf("Count %d %v", n, err)
	}
	var all []string
	cursor := ""
	for {
		page, next, err := s.List(ctx, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range page {
			all = append(all, sub.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if strings.Join(all, ",") != "alice,bob,s0,s1,s2,s3,s4" {
		t.Fatalf("List: %v", all)
	}
	if _, _, err := s.List(ctx, "", store.MaxListLimit+1); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("limit: %v", err)
	}
	if _, _, err := s.List(ctx, "bad cursor", 1); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("cursor: %v", err)
	}
}

// TestConcurrentIfMatch: of several writers holding the same revision, exactly one wins; the
// others get ErrConflict (WATCH/MULTI retried under contention, the precondition re-checked).
func TestConcurrentIfMatch(t *testing.T) {
	m := miniredis.RunT(t)
	s, _ := open(t, m.Addr())
	ctx := context.Background()
	a, err := s.Put(ctx, store.Subscriber{ID: "a", Identities: []string{"+15551"}}, store.Precondition{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range 8 {
		wg.Go(func() {
			_, err := s.Put(ctx, store.Subscriber{ID: "a", Identities: []string{"+15551"}, PushCapable: true}, store.Precondition{IfMatch: a.Revision})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 7 {
		t.Fatalf("wins %d conflicts %d", wins, conflicts)
	}
}

// TestNotifications: a write through node A is in A's index when Put returns, and reaches node B's
// index from the change stream (card, then a replaced card, then a delete).
func TestNotifications(t *testing.T) {
	m := miniredis.RunT(t)
	a, la := open(t, m.Addr())
	b, lb := open(t, m.Addr())
	ctx := context.Background()
	p1, p2 := testPage(t, "c.html", "one"), testPage(t, "c.html", "two")
	r1, _ := a.PutPage(ctx, p1)
	r2, _ := a.PutPage(ctx, p2)
	sub, err := a.Put(ctx, store.Subscriber{ID: "carol", Identities: []string{"+15557"}, CalleeCard: r1}, store.Precondition{})
	if err != nil {
		t.Fatal(err)
	}
	if pr, ok := la.Lookup("+15557"); !ok || pr.CalleeCard == nil || pr.CalleeCard.Version != p1.Version {
		t.Fatalf("own write not in A's index at return: %v %v", pr, ok)
	}
	eventually(t, "B sees the card", func() bool {
		pr, ok := lb.Lookup("+15557")
		return ok && pr.CalleeCard != nil && pr.CalleeCard.Version == p1.Version
	})
	if _, err := b.Put(ctx, store.Subscriber{ID: "carol", Identities: []string{"+15557"}, CalleeCard: r2}, store.Precondition{IfMatch: sub.Revision}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A sees B's card", func() bool {
		pr, ok := la.Lookup("+15557")
		return ok && pr.CalleeCard != nil && pr.CalleeCard.Version == p2.Version
	})
	if err := a.Delete(ctx, "carol", store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B sees the delete", func() bool { _, ok := lb.Lookup("+15557"); return !ok })
	if b.Revision() != a.Revision() {
		t.Fatalf("revisions %d %d", a.Revision(), b.Revision())
	}
	if b.Stats().Applied.Load() < 2 {
		t.Fatalf("B applied %d changes from the stream", b.Stats().Applied.Load())
	}
}

// cutProxy is a TCP proxy in front of Redis that a test can cut (close every connection and
// refuse new ones) and restore: one node losing Redis while another keeps it.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
	}
}

// TestResyncAfterMissedNotifications: node B loses Redis while A writes, and the stream is trimmed
// meanwhile (B cannot replay it): B serves calls from its index (a miss is plain, counted
// store_down), its writes fail with ErrUnavailable, Available is false; once Redis is reachable
// again B resynchronises by itself and holds A's writes, including a delete it never heard of.
func TestResyncAfterMissedNotifications(t *testing.T) {
	m := miniredis.RunT(t)
	a, _ := open(t, m.Addr())
	px := newCutProxy(t, m.Addr())
	b, lb := open(t, px.ln.Addr().String())
	ctx := context.Background()
	pg := testPage(t, "d.html", "dave")
	ref, _ := a.PutPage(ctx, pg)
	for _, id := range []string{"dave", "erin"} {
		if _, err := a.Put(ctx, store.Subscriber{ID: id, Identities: []string{id + "@home1.net"}, CallerCard: ref}, store.Precondition{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "B holds dave and erin", func() bool { _, ok := lb.Lookup("erin@home1.net"); return ok })
	if !b.Available() {
		t.Fatal("B not available")
	}

	px.setCut(true)
	eventually(t, "B notices Redis is gone", func() bool { return !b.Available() })
	if _, err := b.Put(ctx, store.Subscriber{ID: "x", Identities: []string{"x@home1.net"}}, store.Precondition{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write while Redis is gone: %v", err)
	}
	if pr, ok := lb.Lookup("dave@home1.net"); !ok || pr.CallerCard == nil {
		t.Fatalf("cached subscriber not served while Redis is gone: %v %v", pr, ok)
	}
	// Missed by B: a new subscriber, a changed one, a deleted one; the stream trimmed to nothing.
	if _, err := a.Put(ctx, store.Subscriber{ID: "frank", Identities: []string{"frank@home1.net"}, CalleeCard: ref}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(ctx, store.Subscriber{ID: "dave", Identities: []string{"dave@home1.net"}, PushCapable: true}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "erin", store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client().XTrimMaxLen(ctx, a.k.changes, 0).Result(); err != nil {
		t.Fatal(err)
	}
	resyncs := b.Stats().Resyncs.Load()
	px.setCut(false)
	eventually(t, "B back and resynchronised", func() bool { return b.Available() && b.Stats().Resyncs.Load() > resyncs })
	eventually(t, "B holds A's writes", func() bool {
		d, okd := lb.Lookup("dave@home1.net")
		_, oke := lb.Lookup("erin@home1.net")
		f, okf := lb.Lookup("frank@home1.net")
		return okd && d.PushCapable && d.CallerCard == nil && !oke && okf && f.CalleeCard != nil
	})
	if b.Revision() != a.Revision() {
		t.Fatalf("revisions %d %d", a.Revision(), b.Revision())
	}
	if _, err := b.Put(ctx, store.Subscriber{ID: "x", Identities: []string{"x@home1.net"}}, store.Precondition{}); err != nil {
		t.Fatalf("write after Redis returned: %v", err)
	}
	if b.Stats().Unavailable.Load() == 0 || b.Stats().Reconnects.Load() == 0 {
		t.Fatalf("counters: unavailable %d reconnects %d", b.Stats().Unavailable.Load(), b.Stats().Reconnects.Load())
	}
	if n := testutil.CollectAndCount(b.Collectors()[0]); n != 8 {
		t.Fatalf("%d series, want 8", n)
	}
}

// TestMissWhileDown: a subscriber whose versions are not cached is served plainly (no cards) at
// once while Redis is gone, counted as store_down, and gets its card again once Redis is back.
func TestMissWhileDown(t *testing.T) {
	m := miniredis.RunT(t)
	px := newCutProxy(t, m.Addr())
	w, err := New(Options{Addrs: []string{m.Addr()}, Logger: quiet(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	b, err := New(Options{Addrs: []string{px.ln.Addr().String()}, Timeout: 3 * time.Second, Logger: quiet(), GCInterval: -1}) // a miss that waited on Redis would take 3 s
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lb := b.OpenLive(store.LiveOptions{CacheBytes: 1, Logger: quiet()}, 2*time.Second) // room for one profile
	for _, id := range []string{"gina", "hank"} {                                      // hank's card evicts gina's
		ref, _ := w.PutPage(ctx, testPage(t, id+".html", id))
		if _, err := w.Put(ctx, store.Subscriber{ID: id, Identities: []string{id + "@home1.net"}, CallerCard: ref}, store.Precondition{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "B holds "+id, func() bool { _, ok := lb.Lookup(id + "@home1.net"); return ok })
	}
	eventually(t, "gina evicted", func() bool { return lb.Stats().Evictions.Load() > 0 })
	px.setCut(true)
	eventually(t, "B notices", func() bool { return !b.Available() })
	start := time.Now()
	pr, ok := lb.Lookup("gina@home1.net")
	if !ok || pr.CallerCard != nil {
		t.Fatalf("miss while down: %v %v", pr, ok)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a miss waited %v on a Redis that is down", d)
	}
	if lb.Stats().MissDown.Load() == 0 {
		t.Fatal("store_down miss not counted")
	}
	px.setCut(false)
	eventually(t, "B back", b.Available)
	eventually(t, "card served again", func() bool { pr, ok := lb.Lookup("gina@home1.net"); return ok && pr.CallerCard != nil })
}

// TestRedisLostData: Redis flushed (restarted without persistence): the node notices that the
// store revision went below its own and resynchronises to what Redis holds.
func TestRedisLostData(t *testing.T) {
	m := miniredis.RunT(t)
	a, la := open(t, m.Addr())
	ctx := context.Background()
	if _, err := a.Put(ctx, store.Subscriber{ID: "h", Identities: []string{"+15550"}}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	m.FlushAll()
	eventually(t, "index emptied", func() bool { _, ok := la.Lookup("+15550"); return !ok })
	if a.Stats().Resyncs.Load() == 0 {
		t.Fatal("no resync counted")
	}
}

// TestStartWithoutRedis: a node whose Redis is unreachable at start serves with an empty index
// (not Available: every call plain), and fills it by itself once Redis answers.
func TestStartWithoutRedis(t *testing.T) {
	m := miniredis.RunT(t)
	a, _ := open(t, m.Addr())
	if _, err := a.Put(context.Background(), store.Subscriber{ID: "i", Identities: []string{"+15552"}}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	px := newCutProxy(t, m.Addr())
	px.setCut(true)
	b, err := New(Options{Addrs: []string{px.ln.Addr().String()}, Timeout: time.Second, Logger: quiet(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lb := b.OpenLive(store.LiveOptions{Logger: quiet()}, 200*time.Millisecond)
	if b.Available() || lb.Len() != 0 {
		t.Fatalf("available %t with %d subscribers and Redis unreachable", b.Available(), lb.Len())
	}
	if _, ok := lb.Lookup("+15552"); ok || lb.Stats().MissDown.Load() != 1 {
		t.Fatalf("lookup while Redis was never reached: found %t, store_down misses %d", ok, lb.Stats().MissDown.Load())
	}
	if _, err := b.Put(context.Background(), store.Subscriber{ID: "j", Identities: []string{"+15553"}}, store.Precondition{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write: %v", err)
	}
	px.setCut(false)
	eventually(t, "index filled once Redis answers", func() bool { _, ok := lb.Lookup("+15552"); return ok && b.Available() })
}

// TestClusterMode: with Cluster set, the store runs on go-redis's cluster client (every key under
// one hash tag, so WATCH/MULTI and the stream stay in one slot): writes, conflicts and the change
// stream to a second node work as standalone (miniredis answers CLUSTER SLOTS as one node).
func TestClusterMode(t *testing.T) {
	m := miniredis.RunT(t)
	nodes := make([]*Store, 2)
	lives := make([]*store.Live, 2)
	for i := range nodes {
		s, err := New(Options{Addrs: []string{m.Addr()}, Cluster: true, Timeout: time.Second, Logger: quiet(), GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, ok := s.Client().(*redis.ClusterClient); !ok {
			t.Fatalf("client is a %T", s.Client())
		}
		nodes[i], lives[i] = s, s.OpenLive(store.LiveOptions{Logger: quiet()}, 2*time.Second)
	}
	ctx := context.Background()
	ref, err := nodes[0].PutPage(ctx, testPage(t, "k.html", "kim"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := nodes[0].Put(ctx, store.Subscriber{ID: "kim", Identities: []string{"+15554"}, CallerCard: ref}, store.Precondition{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Put(ctx, store.Subscriber{ID: "kim", Identities: []string{"+15554"}}, store.Precondition{IfMatch: sub.Revision + 1}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale If-Match through node 1: %v", err)
	}
	eventually(t, "node 1 holds kim's card", func() bool { p, ok := lives[1].Lookup("+15554"); return ok && p.CallerCard != nil })
}
