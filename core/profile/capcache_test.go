package profile

import (
	"fmt"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func wantCap(t *testing.T, c *CapCache, key string, capable, known bool) {
	t.Helper()
	if gc, gk := c.Lookup(key); gc != capable || gk != known {
		t.Fatalf("Lookup(%q) = capable %t known %t; want %t %t", key, gc, gk, capable, known)
	}
}

// TestCapCacheLearnExpire: nothing is known before a terminal showed anything; a yes and a no are
// remembered and the last one wins; an entry is gone at its TTL (injected clock), and learning again
// restarts the TTL.
func TestCapCacheLearnExpire(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	c := NewCapCache(10, time.Hour, clk.now)
	wantCap(t, c, "alice@home1.net", false, false)
	c.Learn("alice@home1.net", true)
	c.Learn("+12125553333", false)
	wantCap(t, c, "alice@home1.net", true, true)
	wantCap(t, c, "+12125553333", false, true)
	c.Learn("alice@home1.net", false)
	wantCap(t, c, "alice@home1.net", false, true)

	clk.add(59 * time.Minute)
	c.Learn("+12125553333", true) // restarts its hour
	clk.add(time.Minute)
	wantCap(t, c, "alice@home1.net", false, false) // learned an hour ago: expired
	wantCap(t, c, "+12125553333", true, true)
	if n := c.Len(); n != 1 {
		t.Fatalf("Len = %d after the expiry, want 1", n)
	}
	clk.add(time.Hour)
	wantCap(t, c, "+12125553333", false, false)
	s := &c.Stats
	if s.Expired.Load() != 2 || s.LearnedCapable.Load() != 2 || s.LearnedIncapable.Load() != 2 {
		t.Fatalf("stats: expired %d capable %d incapable %d; want 2 2 2", s.Expired.Load(), s.LearnedCapable.Load(), s.LearnedIncapable.Load())
	}
	if s.Hits.Load() != 4 || s.Misses.Load() != 3 {
		t.Fatalf("stats: hits %d misses %d; want 4 3", s.Hits.Load(), s.Misses.Load())
	}
}

// TestCapCacheBounded: the cache never holds more than its size; the entry dropped for room is the
// least recently learned or read.
func TestCapCacheBounded(t *testing.T) {
	c := NewCapCache(3, time.Hour, nil)
	for i := range 3 {
		c.Learn(fmt.Sprint("k", i), true)
	}
	wantCap(t, c, "k0", true, true) // k0 read: k1 is now the oldest
	c.Learn("k3", false)
	if n := c.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	wantCap(t, c, "k1", false, false)
	wantCap(t, c, "k0", true, true)
	wantCap(t, c, "k3", false, true)
	for i := range 1000 {
		c.Learn(fmt.Sprint("m", i), i%2 == 0)
	}
	if n, ev := c.Len(), c.Stats.Evicted.Load(); n != 3 || ev != 1001 {
		t.Fatalf("Len %d evicted %d after 1000 more; want 3 and 1001", n, ev)
	}
}

// TestCapCacheOff: a nil cache and one of size 0 know nothing and learn nothing.
func TestCapCacheOff(t *testing.T) {
	var nilCache *CapCache
	nilCache.Learn("a", true)
	wantCap(t, nilCache, "a", false, false)
	c := NewCapCache(0, time.Hour, nil)
	c.Learn("a", true)
	wantCap(t, c, "a", false, false)
	if c.Len() != 0 || nilCache.Len() != 0 {
		t.Fatal("a cache of size 0 holds entries")
	}
}

// TestCapCacheConcurrent is for the race detector: lookups and learning from many goroutines.
func TestCapCacheConcurrent(t *testing.T) {
	c := NewCapCache(64, time.Minute, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint("k", (g*7+i)%100)
				c.Learn(k, i%3 == 0)
				c.Lookup(k)
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 64 {
		t.Fatalf("Len %d above the size 64", n)
	}
}

// TestCapCacheKeyCopied: a lesson keeps its own copy of the key, never the caller's string: a key
// taken from a SIP message as it is (a tel: number out of P-Asserted-Identity) would otherwise keep
// the message's whole header text live for the lesson's lifetime.
func TestCapCacheKeyCopied(t *testing.T) {
	c := NewCapCache(4, time.Hour, time.Now)
	header := "P-Asserted-Identity: <tel:+12125552222>, <sip:alice@example.com>" // a parsed message's text
	key := header[len("P-Asserted-Identity: <tel:") : len("P-Asserted-Identity: <tel:")+len("+12125552222")]
	c.Learn(key, true)
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.items {
		if unsafe.StringData(k) == unsafe.StringData(key) {
			t.Fatal("the cache holds the caller's string, a piece of the message's text")
		}
		if k != key {
			t.Fatalf("cached key %q, want %q", k, key)
		}
	}
}
