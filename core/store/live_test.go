package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/herald-ims/herald/configs"
)

func newLiveTest(t testing.TB, s *Bolt, cacheBytes int64) *Live {
	t.Helper()
	l, err := NewLive(s, LiveOptions{CacheBytes: cacheBytes})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLiveSeesWrites: a write is visible to the next Lookup; a profile already handed out keeps
// its version.
func TestLiveSeesWrites(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	v1, _ := s.PutPage(ctx, testPage(t, "a.html", "v1"))
	if _, err := s.Put(ctx, Subscriber{ID: "a", Identities: []string{"sip:a@x", "+15551"}, CallerCard: v1}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	l := newLiveTest(t, s, 0)
	held, ok := l.Lookup("+15551")
	if !ok || held.CallerCard == nil || held.Key != "a@x" || string(held.CallerCard.Body) != string(testPage(t, "a.html", "v1").Body) {
		t.Fatalf("Lookup = %+v, %v", held, ok)
	}
	v2, _ := s.PutPage(ctx, testPage(t, "a.html", "v2"))
	if _, err := s.Put(ctx, Subscriber{ID: "a", Identities: []string{"sip:a@x"}, CallerCard: v2, CalleeCard: v1}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	now, ok := l.Lookup("a@x")
	if !ok || now.CallerCard == nil || string(now.CallerCard.Body) != string(testPage(t, "a.html", "v2").Body) || now.CalleeCard == nil {
		t.Fatalf("after write Lookup = %+v", now)
	}
	if string(held.CallerCard.Body) != string(testPage(t, "a.html", "v1").Body) {
		t.Fatal("a handed-out profile changed")
	}
	if _, ok := l.Lookup("+15551"); ok {
		t.Fatal("a dropped identity still resolves")
	}
	if err := s.Delete(ctx, "a", Precondition{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Lookup("a@x"); ok || l.Len() != 0 {
		t.Fatal("a deleted subscriber still resolves")
	}
	if l.CacheBytes() != 0 {
		t.Fatalf("cache holds %d bytes with no subscriber", l.CacheBytes())
	}
}

// TestLiveCacheBound: the cache stays within CacheBytes, and an evicted subscriber is loaded again
// on its next call with the right pages.
func TestLiveCacheBound(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	var size int64
	for i := range 20 {
		p := testPage(t, fmt.Sprintf("p%d.html", i), fmt.Sprintf("page %d %s", i, make([]byte, 0)))
		size = int64(len(p.Body) + len(p.Gzip) + len(p.Zstd))
		ref, _ := s.PutPage(ctx, p)
		if _, err := s.Put(ctx, Subscriber{ID: fmt.Sprintf("s%d", i), Identities: []string{fmt.Sprintf("+1555%02d", i)}, CalleeCard: ref}, Precondition{}); err != nil {
			t.Fatal(err)
		}
	}
	bound := 3*size + size/2
	l := newLiveTest(t, s, bound)
	for round := range 3 {
		for i := range 20 {
			p, ok := l.Lookup(fmt.Sprintf("+1555%02d", i))
			want := testPage(t, "x.html", fmt.Sprintf("page %d ", i)).Body
			if !ok || p.CalleeCard == nil || string(p.CalleeCard.Body) != string(want) {
				t.Fatalf("round %d subscriber %d: %+v", round, i, p)
			}
			if b := l.CacheBytes(); b > bound {
				t.Fatalf("cache %d bytes > bound %d", b, bound)
			}
		}
	}
	st := l.Stats()
	if st.MissLoaded.Load() < 40 || st.Evictions.Load() == 0 || st.MissError.Load() != 0 {
		t.Fatalf("loaded %d evicted %d errors %d", st.MissLoaded.Load(), st.Evictions.Load(), st.MissError.Load())
	}
}

// TestLiveHitAllocs: a hit allocates nothing.
func TestLiveHitAllocs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	ref, _ := s.PutPage(ctx, testPage(t, "a.html", "a"))
	if _, err := s.Put(ctx, Subscriber{ID: "a", Identities: []string{"+15551"}, CallerCard: ref}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	l := newLiveTest(t, s, 0)
	if n := testing.AllocsPerRun(100, func() { l.Lookup("+15551"); l.Lookup("+15552") }); n != 0 {
		t.Fatalf("Lookup allocates %v per run", n)
	}
}

// TestLiveClip: a ringback reference resolves to the framed clip; a name or reference that is not
// stored resolves to nil and is counted.
func TestLiveClip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	wav, _ := fs.ReadFile(configs.Clips, "ringback-8k.wav")
	awb, _ := fs.ReadFile(configs.Clips, "ringback.awb")
	ref, err := s.PutClip(ctx, Clip{Name: "tune", Parts: map[string][]byte{KindWAV: wav, KindAWB: awb}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, Subscriber{ID: "b", Identities: []string{"+15552"}, Ringback: ref}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	l := newLiveTest(t, s, 0)
	p, _ := l.Lookup("+15552")
	c := l.Clip(p.Ringback)
	if c == nil || c.PCMU == nil || c.AMRWBOA == nil || c.H264 != nil {
		t.Fatalf("clip %+v", c)
	}
	if l.Clip("classic") != nil || l.Clip(PageRef(testPage(t, "x.html", "x"))) != nil || l.Stats().ClipMissing.Load() != 2 {
		t.Fatalf("missing clips: %d counted", l.Stats().ClipMissing.Load())
	}
}

// TestLiveMissWhenLoadersBusy: a subscriber whose versions are not cached, looked up while every
// miss loader is busy, gets its profile without cards (the call is proxied plainly) and the miss is
// counted as plain; once a loader is free the next lookup loads the cards.
func TestLiveMissWhenLoadersBusy(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	var refs []string
	for i := range 2 {
		p := testPage(t, fmt.Sprintf("p%d.html", i), fmt.Sprintf("page %d", i))
		ref, _ := s.PutPage(ctx, p)
		refs = append(refs, ref)
		if _, err := s.Put(ctx, Subscriber{ID: fmt.Sprintf("s%d", i), Identities: []string{fmt.Sprintf("+1555%d", i)}, CallerCard: ref, PushCapable: true}, Precondition{}); err != nil {
			t.Fatal(err)
		}
	}
	pg, _ := s.GetPage(ctx, refs[0])
	one := int64(len(pg.Body) + len(pg.Gzip) + len(pg.Zstd))
	l, err := NewLive(s, LiveOptions{CacheBytes: one, MissLoads: 1}) // room for one subscriber's card
	if err != nil {
		t.Fatal(err)
	}
	var cold string
	for i := range 2 {
		if e := l.byKey[fmt.Sprintf("+1555%d", i)]; e.prof.Load() == nil {
			cold = e.base.Key
		}
	}
	if cold == "" {
		t.Fatal("both subscribers cached: the bound did not hold")
	}
	l.sem <- struct{}{} // the only loader is busy
	p, ok := l.Lookup(cold)
	<-l.sem
	if !ok || p.CallerCard != nil || !p.PushCapable || p.Key != cold || l.Stats().MissPlain.Load() != 1 {
		t.Fatalf("busy miss: %+v, %v; plain misses %d", p, ok, l.Stats().MissPlain.Load())
	}
	if p, _ := l.Lookup(cold); p.CallerCard == nil || l.Stats().MissLoaded.Load() != 1 {
		t.Fatalf("free miss: card %v, loaded %d", p.CallerCard, l.Stats().MissLoaded.Load())
	}
}

// TestMetrics: the collector reports the index, the cache and the store's writes.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	l := newLiveTest(t, s, 0)
	ref, _ := s.PutPage(ctx, testPage(t, "a.html", "a"))
	if _, err := s.Put(ctx, Subscriber{ID: "a", Identities: []string{"+15551"}, CallerCard: ref}, Precondition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, Subscriber{ID: "a", Identities: []string{"+15551"}}, Precondition{IfNoneMatch: true}); !errors.Is(err, ErrConflict) {
		t.Fatal(err)
	}
	l.Clip("nosuch")
	reg := prometheus.NewRegistry()
	reg.MustRegister(l.Collectors()...)
	want := `
# HELP herald_store_clip_missing_total Ringbacks that resolved to no clip.
# TYPE herald_store_clip_missing_total counter
herald_store_clip_missing_total 1
# HELP herald_store_subscribers Indexed subscribers.
# TYPE herald_store_subscribers gauge
herald_store_subscribers 1
# HELP herald_store_writes_total Store writes by result.
# TYPE herald_store_writes_total counter
herald_store_writes_total{result="committed"} 2
herald_store_writes_total{result="failed"} 0
herald_store_writes_total{result="refused"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "herald_store_subscribers", "herald_store_writes_total", "herald_store_clip_missing_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(l.Collectors()[0]); n != 14 { // misses: loaded, plain, error, store_down
		t.Fatalf("%d series, want 14", n)
	}
	if b := l.CacheBytes(); b == 0 {
		t.Fatal("the written card is not cached")
	}
}
