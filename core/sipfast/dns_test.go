package sipfast

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/wheel"
)

// fakeDNS answers lookups from a table the test changes, counts them, and lets the test hold them.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	calls   int
}

func (d *fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	a, ok := d.answers[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	return a, nil
}

func (d *fakeDNS) set(host string, addrs ...netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if addrs == nil {
		delete(d.answers, host)
		return
	}
	d.answers[host] = addrs
}

// RFC 3263 §4.2 on the fast path: a name is looked up once in the background while the first
// requests take the general path, then served from the cache; an expired answer stays in use while
// it is refreshed and while refreshes fail (up to dnsStale); a name that never resolved is retried
// after dnsNegTTL; the table is bounded and a full table is counted.
func TestFastPathHostCache(t *testing.T) {
	dns := &fakeDNS{answers: map[string][]netip.Addr{}}
	c := newHostCache(&Stats{}, nil, wheel.NewMono())
	c.lookup = dns.lookup
	var mu sync.Mutex
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	v4, v6 := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")
	dns.set("scscf1.home1.net", v6, v4)

	if _, ok := c.get([]byte("scscf1.home1.net")); ok {
		t.Fatal("first get: cached before any lookup")
	}
	c.wg.Wait()
	if a, ok := c.get([]byte("scscf1.home1.net")); !ok || a != v4 {
		t.Fatalf("after the lookup: %v %v, want %v (the IPv4 answer for an IPv4 socket)", a, ok, v4)
	}
	if c.st.DNSLookups.Load() != 1 {
		t.Fatalf("%d lookups, want 1", c.st.DNSLookups.Load())
	}

	// Expired: still served while the refresh runs; the refresh's new answer replaces it.
	advance(dnsTTL + time.Second)
	v4b := netip.MustParseAddr("192.0.2.8")
	dns.set("scscf1.home1.net", v4b)
	if a, ok := c.get([]byte("scscf1.home1.net")); !ok || a != v4 {
		t.Fatalf("expired: %v %v, want the old answer while refreshing", a, ok)
	}
	c.wg.Wait()
	if a, _ := c.get([]byte("scscf1.home1.net")); a != v4b {
		t.Fatalf("after refresh: %v, want %v", a, v4b)
	}

	// Refreshes fail: the last answer is used until dnsTTL+dnsStale after it was obtained.
	dns.set("scscf1.home1.net")
	advance(dnsTTL + time.Second)
	if _, ok := c.get([]byte("scscf1.home1.net")); !ok {
		t.Fatal("stale answer not used while the refresh fails")
	}
	c.wg.Wait()
	if c.st.DNSFailures.Load() != 1 {
		t.Fatalf("%d failures, want 1", c.st.DNSFailures.Load())
	}
	advance(dnsStale)
	if _, ok := c.get([]byte("scscf1.home1.net")); ok {
		t.Fatal("answer used past dnsStale")
	}
	c.wg.Wait()

	// A name that does not resolve is not looked up again before dnsNegTTL.
	before := c.st.DNSLookups.Load()
	for range 5 {
		if _, ok := c.get([]byte("nowhere.invalid")); ok {
			t.Fatal("unresolvable name cached")
		}
		c.wg.Wait()
	}
	if n := c.st.DNSLookups.Load() - before; n != 1 {
		t.Fatalf("%d lookups of an unresolvable name within dnsNegTTL, want 1", n)
	}
	advance(dnsNegTTL + time.Second)
	c.get([]byte("nowhere.invalid"))
	c.wg.Wait()
	if n := c.st.DNSLookups.Load() - before; n != 2 {
		t.Fatalf("%d lookups after dnsNegTTL, want 2", n)
	}

	// IPv6 sockets get IPv6 answers.
	c6 := newHostCache(&Stats{}, nil, wheel.NewMono())
	c6.lookup, c6.v6 = dns.lookup, true
	dns.set("icscf.home1.net", v4, v6)
	c6.get([]byte("icscf.home1.net"))
	c6.wg.Wait()
	if a, ok := c6.get([]byte("icscf.home1.net")); !ok || a != v6 {
		t.Fatalf("IPv6 socket: %v %v, want %v", a, ok, v6)
	}

	// The table is bounded.
	full := newHostCache(&Stats{}, nil, wheel.NewMono())
	full.lookup = dns.lookup
	for i := range dnsMaxNames {
		full.m[string(rune('a'+i%26))+time.Duration(i).String()] = &dnsEntry{}
	}
	if _, ok := full.get([]byte("one-more.home1.net")); ok || full.st.DNSFull.Load() != 1 || len(full.m) != dnsMaxNames {
		t.Fatalf("full table: ok %v, Full %d, %d names", ok, full.st.DNSFull.Load(), len(full.m))
	}
}
