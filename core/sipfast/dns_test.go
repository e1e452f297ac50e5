package sipfast

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
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
	host = strings.TrimSuffix(host, ".") // an SRV target or NAPTR replacement: absolute
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
	c := newHostCache(&Stats{}, nil, nil, wheel.NewMono())
	c.lookup = dns.lookup
	var mu sync.Mutex
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	v4, v6 := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")
	dns.set("scscf1.home1.net", v6, v4)

	if _, _, ok := c.get([]byte("scscf1.home1.net"), dnsAddr, 0); ok {
		t.Fatal("first get: cached before any lookup")
	}
	c.wg.Wait()
	if a, _, ok := c.get([]byte("scscf1.home1.net"), dnsAddr, 0); !ok || a.Addr() != v4 {
		t.Fatalf("after the lookup: %v %v, want %v (the IPv4 answer for an IPv4 socket)", a, ok, v4)
	}
	if c.st.DNSLookups.Load() != 1 {
		t.Fatalf("%d lookups, want 1", c.st.DNSLookups.Load())
	}

	// Expired: still served while the refresh runs; the refresh's new answer replaces it.
	advance(dnsTTL + time.Second)
	v4b := netip.MustParseAddr("192.0.2.8")
	dns.set("scscf1.home1.net", v4b)
	if a, _, ok := c.get([]byte("scscf1.home1.net"), dnsAddr, 0); !ok || a.Addr() != v4 {
		t.Fatalf("expired: %v %v, want the old answer while refreshing", a, ok)
	}
	c.wg.Wait()
	if a, _, _ := c.get([]byte("scscf1.home1.net"), dnsAddr, 0); a.Addr() != v4b {
		t.Fatalf("after refresh: %v, want %v", a, v4b)
	}

	// Refreshes fail: the last answer is used until dnsTTL+dnsStale after it was obtained.
	dns.set("scscf1.home1.net")
	advance(dnsTTL + time.Second)
	if _, _, ok := c.get([]byte("scscf1.home1.net"), dnsAddr, 0); !ok {
		t.Fatal("stale answer not used while the refresh fails")
	}
	c.wg.Wait()
	if c.st.DNSFailures.Load() != 1 {
		t.Fatalf("%d failures, want 1", c.st.DNSFailures.Load())
	}
	advance(dnsStale)
	if _, _, ok := c.get([]byte("scscf1.home1.net"), dnsAddr, 0); ok {
		t.Fatal("answer used past dnsStale")
	}
	c.wg.Wait()

	// A name that does not resolve is not looked up again before dnsNegTTL.
	before := c.st.DNSLookups.Load()
	for range 5 {
		if _, _, ok := c.get([]byte("nowhere.invalid"), dnsAddr, 0); ok {
			t.Fatal("unresolvable name cached")
		}
		c.wg.Wait()
	}
	if n := c.st.DNSLookups.Load() - before; n != 1 {
		t.Fatalf("%d lookups of an unresolvable name within dnsNegTTL, want 1", n)
	}
	advance(dnsNegTTL + time.Second)
	c.get([]byte("nowhere.invalid"), dnsAddr, 0)
	c.wg.Wait()
	if n := c.st.DNSLookups.Load() - before; n != 2 {
		t.Fatalf("%d lookups after dnsNegTTL, want 2", n)
	}

	// IPv6 sockets get IPv6 answers.
	c6 := newHostCache(&Stats{}, nil, nil, wheel.NewMono())
	c6.lookup = dns.lookup
	c6.v6.Store(true)
	dns.set("icscf.home1.net", v4, v6)
	c6.get([]byte("icscf.home1.net"), dnsAddr, 0)
	c6.wg.Wait()
	if a, _, ok := c6.get([]byte("icscf.home1.net"), dnsAddr, 0); !ok || a.Addr() != v6 {
		t.Fatalf("IPv6 socket: %v %v, want %v", a, ok, v6)
	}

	// The table is bounded: full of names in use, a new one is refused (counted); names nobody
	// asked for within dnsTTL+dnsStale (made up by a peer, say) are evicted to make room, at most
	// one sweep a second. A name longer than RFC 1035's 253 bytes is never cached.
	full := newHostCache(&Stats{}, nil, nil, wheel.NewMono())
	full.lookup = dns.lookup
	now := full.now()
	for i := range dnsMaxNames {
		full.m[string(dnsKey(nil, dnsAddr, []byte(time.Duration(i).String())))] = &dnsEntry{used: now}
	}
	if _, _, ok := full.get([]byte("one-more.home1.net"), dnsAddr, 0); ok || full.st.DNSFull.Load() != 1 || len(full.m) != dnsMaxNames {
		t.Fatalf("full table: ok %v, Full %d, %d names", ok, full.st.DNSFull.Load(), len(full.m))
	}
	for _, e := range full.m {
		e.used = now.Add(-dnsTTL - dnsStale - time.Second)
	}
	if full.get([]byte("one-more.home1.net"), dnsAddr, 0); full.st.DNSFull.Load() != 2 || len(full.m) != dnsMaxNames {
		t.Fatalf("a second sweep within a second: Full %d, %d names; want 2, %d", full.st.DNSFull.Load(), len(full.m), dnsMaxNames)
	}
	full.swept = now.Add(-time.Second)
	if full.get([]byte("one-more.home1.net"), dnsAddr, 0); full.st.DNSFull.Load() != 2 || len(full.m) != 1 {
		t.Fatalf("idle names: Full %d, %d names; want them evicted, the new one cached", full.st.DNSFull.Load(), len(full.m))
	}
	full.wg.Wait()
	long := []byte(strings.Repeat("a.", 127) + "net")
	if _, _, ok := full.get(long, dnsAddr, 0); ok || len(full.m) != 1 {
		t.Fatalf("a %d-byte name: ok %v, %d names; want it refused, not cached", len(long), ok, len(full.m))
	}
	if _, err := full.wait(context.Background(), string(long), dnsAddr, 0); err == nil {
		t.Fatal("a name longer than 253 bytes resolved")
	}
}

// srvDNS is fakeDNS with SRV records, keyed "_service._proto.name"; a lookup of a key not in the
// table finds no records, as a name without SRV does. hold, when set, keeps every lookup waiting
// until it is closed.
type srvDNS struct {
	fakeDNS
	srvs     map[string][]SRV
	srvCalls int
	hold     chan struct{}
	naptrs   map[string][]NAPTR // by domain
	asked    []string           // every NAPTR and SRV name asked, in order
}

func newSRVDNS() *srvDNS {
	return &srvDNS{fakeDNS: fakeDNS{answers: map[string][]netip.Addr{}}, srvs: map[string][]SRV{}, naptrs: map[string][]NAPTR{}}
}

func (d *srvDNS) lookupSRV(_ context.Context, service, proto, name string) ([]SRV, error) {
	if d.hold != nil {
		<-d.hold
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.srvCalls++
	key := strings.TrimSuffix(name, ".") // a NAPTR record's replacement: absolute
	if service != "" {
		key = "_" + service + "._" + proto + "." + name
	}
	d.asked = append(d.asked, "SRV "+key)
	recs, ok := d.srvs[key]
	if !ok {
		return nil, errors.New(key + ": no such host")
	}
	recs = slices.Clone(recs)
	if !slices.ContainsFunc(recs, func(r SRV) bool { return r.Priority != 0 || r.Weight != 0 }) {
		for i := range recs { // records written without priorities: tried in the order written
			recs[i].Priority = uint16(i + 1)
		}
	}
	return recs, nil
}

func (d *srvDNS) lookupNAPTR(_ context.Context, name string) ([]NAPTR, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, "NAPTR "+name)
	recs, ok := d.naptrs[name]
	if !ok {
		return nil, errors.New(name + ": no such host")
	}
	return slices.Clone(recs), nil
}

// RFC 3263 §4.2, as table: a name with a port is resolved by A/AAAA; without one by SRV for the
// transport, targets in order, a target that does not resolve skipped; a name without SRV records
// by A/AAAA at the transport's default port; a lone "." target is "not available" (RFC 2782), not a
// reason to fall back to A/AAAA. Each resolution is counted, and those that used SRV apart.
func TestHostCacheRFC3263(t *testing.T) {
	d := newSRVDNS()
	a1, a2, a3 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	d.set("scscf.home1.net", a3) // also an A record: SRV still decides for a URI without a port
	d.set("scscf1.home1.net", a1)
	d.set("scscf2.home1.net", a2)
	d.set("hosts-only.home1.net", a3)
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}, {Target: "scscf2.home1.net.", Port: 5080}}
	d.srvs["_sip._tcp.scscf.home1.net"] = []SRV{{Target: "gone.home1.net.", Port: 5071}, {Target: "scscf2.home1.net.", Port: 5081}}
	d.srvs["_sips._tcp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5062}}
	d.srvs["_sip._udp.closed.home1.net"] = []SRV{{Target: "."}}
	d.set("closed.home1.net", a3)

	for _, tc := range []struct {
		name, host string
		kind       dnsKind
		want       string // "" : fails
		srv        bool
	}{
		{"port given: A only", "scscf.home1.net", dnsAddr, "192.0.2.3:0", false},
		{"no port, UDP: SRV, first target", "scscf.home1.net", dnsSIPUDP, "192.0.2.1:5070", true},
		{"no port, TCP: first target unresolvable, second", "scscf.home1.net", dnsSIPTCP, "192.0.2.2:5081", true},
		{"no port, TLS: _sips._tcp", "scscf.home1.net", dnsSIPTLS, "192.0.2.1:5062", true},
		{"no SRV records: A at 5060", "hosts-only.home1.net", dnsSIPUDP, "192.0.2.3:5060", false},
		{"no SRV records, TLS: A at 5061", "hosts-only.home1.net", dnsSIPTLS, "192.0.2.3:5061", false},
		{"\".\" target: not available", "closed.home1.net", dnsSIPUDP, "", true},
		{"nothing at all", "nowhere.home1.net", dnsSIPUDP, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &Stats{}
			c := newHostCache(st, d.lookup, d.lookupSRV, wheel.NewMono())
			ap, err := c.wait(context.Background(), tc.host, tc.kind, 0)
			if tc.want == "" {
				if err == nil || st.DNSFailures.Load() != 1 {
					t.Fatalf("got %v, %v (failures %d); want an error, counted", ap, err, st.DNSFailures.Load())
				}
				return
			}
			if err != nil || ap.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", ap, err, tc.want)
			}
			if got := st.DNSSRV.Load() == 1; got != tc.srv || st.DNSLookups.Load() != 1 {
				t.Fatalf("lookups %d, through SRV %d; want 1, SRV %v", st.DNSLookups.Load(), st.DNSSRV.Load(), tc.srv)
			}
		})
	}
}

// The general path's lookups (wait) and the fast path's (get) share one cache: concurrent waiters
// for a name make one lookup between them and all get its answer; the fast path then finds it
// without a lookup of its own; a name whose lookup failed fails at once for dnsNegTTL; a waiter
// whose context ends stops waiting; with the table full a waiter still gets an answer (uncached).
func TestHostCacheWait(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	d.hold = make(chan struct{})
	st := &Stats{}
	c := newHostCache(st, d.lookup, d.lookupSRV, wheel.NewMono())

	const waiters = 8
	got := make(chan string, waiters)
	for range waiters {
		go func() {
			ap, err := c.wait(context.Background(), "scscf.home1.net", dnsSIPUDP, 0)
			got <- fmt.Sprint(ap, err)
		}()
	}
	if _, _, ok := c.get([]byte("scscf.home1.net"), dnsSIPUDP, 0); ok {
		t.Fatal("fast path: answer before the lookup ended")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.wait(ctx, "scscf.home1.net", dnsSIPUDP, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended context: %v, want context.Canceled", err)
	}
	close(d.hold)
	for range waiters {
		if s := <-got; s != "192.0.2.1:5070 <nil>" {
			t.Fatalf("waiter got %s", s)
		}
	}
	if ap, _, ok := c.get([]byte("scscf.home1.net"), dnsSIPUDP, 0); !ok || ap.String() != "192.0.2.1:5070" {
		t.Fatalf("fast path after the wait: %v %v", ap, ok)
	}
	if st.DNSLookups.Load() != 1 || d.srvCalls != 1 || d.calls != 1 {
		t.Fatalf("%d resolutions, %d SRV and %d A/AAAA queries; want 1 each", st.DNSLookups.Load(), d.srvCalls, d.calls)
	}

	// A failed name: the first waiter waits for the lookup, the next ones fail without one.
	for i := range 3 {
		if _, err := c.wait(context.Background(), "nowhere.home1.net", dnsAddr, 5060); err == nil {
			t.Fatalf("wait %d: unresolvable name resolved", i)
		}
	}
	if n := st.DNSLookups.Load(); n != 2 {
		t.Fatalf("%d resolutions after three waits for an unresolvable name, want 2", n)
	}

	// Full: an uncached answer, counted.
	full := newHostCache(&Stats{}, d.lookup, d.lookupSRV, wheel.NewMono())
	for i := range dnsMaxNames { // names in use: none evicted
		full.m[string(dnsKey(nil, dnsAddr, []byte(time.Duration(i).String())))] = &dnsEntry{used: full.now()}
	}
	if ap, err := full.wait(context.Background(), "scscf.home1.net", dnsSIPUDP, 0); err != nil || ap.String() != "192.0.2.1:5070" || full.st.DNSFull.Load() != 1 || len(full.m) != dnsMaxNames {
		t.Fatalf("full table: %v %v, full %d, %d names", ap, err, full.st.DNSFull.Load(), len(full.m))
	}
}

// Engine.Resolve, the general path's resolver: IP literals (bracketed IPv6 too) without DNS, a
// port's default per transport, SRV by transport for a name without a port; Cached answers the same
// without blocking once the name is cached.
func TestEngineResolve(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	d.srvs["_sip._tcp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5071}}
	d.srvs["_sips._tcp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5072}}
	e := New(Config{Lookup: d.lookup, LookupSRV: d.lookupSRV, Clock: &wheel.Manual{}}, newFakeHost())
	defer e.Close()
	type resolveCase struct {
		tp, host string
		port     int
		want     string // "": an error
	}
	for _, tc := range []resolveCase{
		{"udp", "192.0.2.9", 0, "192.0.2.9:5060"},
		{"tls", "192.0.2.9", 0, "192.0.2.9:5061"},
		{"tcp", "[2001:db8::9]", 5070, "[2001:db8::9]:5070"},
		{"udp", "scscf1.home1.net", 5090, "192.0.2.1:5090"},
		{"udp", "scscf.home1.net", 0, "192.0.2.1:5070"},
		{"TCP", "scscf.home1.net", 0, "192.0.2.1:5071"},
		{"tls", "scscf.home1.net", 0, "192.0.2.1:5072"},
		{"udp", "nowhere.home1.net", 0, ""},
		{"udp", "scscf1.home1.net", 70000, ""},
		{"ws", "scscf1.home1.net", 0, "192.0.2.1:0"},
		{"wss", "192.0.2.9", 0, "192.0.2.9:0"},
	} {
		ap, err := e.Names().Resolve(context.Background(), tc.tp, tc.host, tc.port)
		if tc.want == "" {
			if err == nil {
				t.Errorf("Resolve(%s %s:%d) = %v, want an error", tc.tp, tc.host, tc.port, ap)
			}
			continue
		}
		if err != nil || ap.String() != tc.want {
			t.Errorf("Resolve(%s %s:%d) = %v, %v; want %s", tc.tp, tc.host, tc.port, ap, err, tc.want)
		}
	}
	for _, tc := range []resolveCase{
		{"udp", "scscf.home1.net", 0, "192.0.2.1:5070"},
		{"tcp", "scscf.home1.net", 0, "192.0.2.1:5071"},
		{"udp", "scscf1.home1.net", 5090, "192.0.2.1:5090"},
		{"udp", "192.0.2.9", 0, "192.0.2.9:5060"},
	} {
		if ap, ok := e.Names().Cached(tc.tp, tc.host, tc.port); !ok || ap.String() != tc.want {
			t.Errorf("Cached(%s %s:%d) = %v, %v; want %s", tc.tp, tc.host, tc.port, ap, ok, tc.want)
		}
	}
	if _, ok := e.Names().Cached("udp", "other.home1.net", 0); ok {
		t.Error("Cached: an uncached name answered")
	}
}

// Without an engine (Names alone: the fast path off), a name with only IPv6 addresses resolves to
// one. With an engine on IPv4 sockets it still does for the general path (whose TCP connects to
// either family: a dual-stack core's IPv6-only S-CSCF is not lost to the fast path being on), a name
// of both families gives its IPv4 address first, and the fast path takes only IPv4 targets, as its
// sockets can send to no other.
func TestNamesFamily(t *testing.T) {
	d := newSRVDNS()
	d.set("v6only.home1.net", netip.MustParseAddr("2001:db8::5"))
	d.set("both.home1.net", netip.MustParseAddr("2001:db8::6"), netip.MustParseAddr("192.0.2.6"))
	n := NewNames(d.lookup, d.lookupSRV, nil, &Stats{})
	if ap, err := n.Resolve(context.Background(), "udp", "v6only.home1.net", 5060); err != nil || ap.String() != "[2001:db8::5]:5060" {
		t.Fatalf("Names alone: %v %v, want the IPv6 address", ap, err)
	}
	n.Close()
	e := New(Config{Names: NewNames(d.lookup, d.lookupSRV, nil, &Stats{}), Clock: &wheel.Manual{}}, newFakeHost())
	defer e.Close()
	ctx := context.Background()
	// The general path (sipgo over TCP connects to either family) still gets the IPv6 address...
	if ap, err := e.Names().Resolve(ctx, "tcp", "v6only.home1.net", 5060); err != nil || ap.String() != "[2001:db8::5]:5060" {
		t.Fatalf("engine on IPv4 sockets, general path: %v %v, want the IPv6 address", ap, err)
	}
	// ...and one of both families its sockets' first.
	if ap, err := e.Names().Resolve(ctx, "udp", "both.home1.net", 5060); err != nil || ap.String() != "192.0.2.6:5060" {
		t.Fatalf("both families: %v %v, want the IPv4 address first", ap, err)
	}
	// The fast path sends from IPv4 sockets: only the IPv4 target.
	if ap, _, ok := e.target(sipURI{host: []byte("v6only.home1.net"), port: 5060}, false, false); ok {
		t.Fatalf("engine on IPv4 sockets: target %v, want none (the general path's)", ap)
	}
	if ap, _, ok := e.target(sipURI{host: []byte("both.home1.net"), port: 5060}, false, false); !ok || ap.String() != "192.0.2.6:5060" {
		t.Fatalf("engine, both families: %v %v", ap, ok)
	}
}

// BenchmarkTarget is what finding a request's destination costs the fast path per request: an IP
// literal, a name with a port (cached A/AAAA answer) and a domain without a port (cached SRV answer).
// Once a name is cached it costs a map lookup under a lock: no DNS, no allocation.
func BenchmarkTarget(b *testing.B) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	e := New(Config{Lookup: d.lookup, LookupSRV: d.lookupSRV, Clock: &wheel.Manual{}}, newFakeHost())
	defer e.Close()
	for _, bc := range []struct {
		name string
		u    sipURI
	}{
		{"ip", sipURI{host: []byte("192.0.2.1"), port: 5070}},
		{"name-port", sipURI{host: []byte("scscf1.home1.net"), port: 5070}},
		{"srv", sipURI{host: []byte("scscf.home1.net")}},
	} {
		warmTarget(b, e, bc.u)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := e.target(bc.u, false, false); !ok {
					b.Fatal("not cached")
				}
			}
		})
	}
}

// warmTarget caches what target reads for u: the name's transport and targets for a URI naming
// neither transport nor port (RFC 3263 §4.1), its addresses for one with a port.
func warmTarget(tb testing.TB, e *Engine, u sipURI) {
	tb.Helper()
	if u.port == 0 {
		if tp := e.Names().Transport(context.Background(), string(u.host)); tp != "UDP" {
			tb.Fatalf("%s: transport %q, want UDP", u.host, tp)
		}
		return
	}
	if _, err := e.Names().Resolve(context.Background(), "udp", string(u.host), u.port); err != nil {
		tb.Fatal(err)
	}
}

// A request toward a cached name finds its destination without allocating (BenchmarkTarget measures
// it): the fast path's cost for names is a map lookup, not a lookup of DNS or an allocation.
func TestTargetNameNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}}
	e := New(Config{Lookup: d.lookup, LookupSRV: d.lookupSRV, Clock: &wheel.Manual{}}, newFakeHost())
	defer e.Close()
	for _, u := range []sipURI{{host: []byte("scscf1.home1.net"), port: 5070}, {host: []byte("scscf.home1.net")}} {
		warmTarget(t, e, u)
		if _, _, ok := e.target(u, false, false); !ok {
			t.Fatalf("%s: not cached", u.host)
		}
		if n := testing.AllocsPerRun(100, func() { e.target(u, false, false) }); n != 0 {
			t.Errorf("%s: %.0f allocations per request, want 0", u.host, n)
		}
	}
}

// RFC 3263 §4.3 in the cache: a name's targets are all its SRV targets' addresses in order (or its
// own addresses); a target marked down is skipped for dnsDownFor, for the next; with every target
// down the first is used; a mark outlives no dnsDownFor; the list of marks is bounded and counted.
func TestHostCacheFailover(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.set("scscf2.home1.net", netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3"))
	d.set("pair.home1.net", netip.MustParseAddr("192.0.2.4"), netip.MustParseAddr("192.0.2.5"))
	d.srvs["_sip._udp.scscf.home1.net"] = []SRV{{Target: "scscf1.home1.net.", Port: 5070}, {Target: "scscf2.home1.net.", Port: 5080}}
	st := &Stats{}
	c := newHostCache(st, d.lookup, d.lookupSRV, wheel.NewMono())
	var mu sync.Mutex
	clock := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(dt time.Duration) { mu.Lock(); clock = clock.Add(dt); mu.Unlock() }
	ctx := context.Background()
	srv := func() string {
		ap, err := c.wait(ctx, "scscf.home1.net", dnsSIPUDP, 0)
		return fmt.Sprint(ap, err)
	}
	if got := srv(); got != "192.0.2.1:5070 <nil>" {
		t.Fatalf("first target: %s", got)
	}
	c.markDown(netip.MustParseAddrPort("192.0.2.1:5070"))
	if got := srv(); got != "192.0.2.2:5080 <nil>" {
		t.Fatalf("first target down: %s, want the next SRV target", got)
	}
	c.markDown(netip.MustParseAddrPort("192.0.2.2:5080"))
	if got := srv(); got != "192.0.2.3:5080 <nil>" {
		t.Fatalf("two down: %s, want the second target's next address", got)
	}
	c.markDown(netip.MustParseAddrPort("192.0.2.3:5080"))
	if got := srv(); got != "192.0.2.1:5070 <nil>" {
		t.Fatalf("all down: %s, want the first all the same", got)
	}
	advance(dnsDownFor)
	if ap, _, ok := c.get([]byte("scscf.home1.net"), dnsSIPUDP, 0); !ok || ap.String() != "192.0.2.1:5070" {
		t.Fatalf("after dnsDownFor: %v %v, want the first target again", ap, ok)
	}
	c.wg.Wait() // the refresh get started (the answer had expired)

	// A name with a port: its addresses, the URI's port applied to each and to the marks.
	if ap, err := c.wait(ctx, "pair.home1.net", dnsAddr, 5090); err != nil || ap.String() != "192.0.2.4:5090" {
		t.Fatalf("A records: %v %v", ap, err)
	}
	c.markDown(netip.MustParseAddrPort("192.0.2.4:5090"))
	if ap, _, _ := c.get([]byte("pair.home1.net"), dnsAddr, 5090); ap.String() != "192.0.2.5:5090" {
		t.Fatalf("first address down: %v, want the second", ap)
	}
	if ap, _, _ := c.get([]byte("pair.home1.net"), dnsAddr, 5091); ap.String() != "192.0.2.4:5091" {
		t.Fatalf("another port: %v, want the first address (only :5090 is down)", ap)
	}
	if n := st.DNSDown.Load(); n != 4 {
		t.Fatalf("%d marks counted, want 4", n)
	}

	// Not a target of any answer (a terminal that does not answer): not marked, not counted.
	c.markDown(netip.MustParseAddrPort("203.0.113.7:5060"))
	if len(c.down) != 4 || st.DNSDown.Load() != 4 {
		t.Fatalf("a terminal's address marked: %d marks, %d counted", len(c.down), st.DNSDown.Load())
	}

	// Bounded: a full list of live marks takes no new one (counted); expired ones make room.
	clear(c.down)
	c.known[netip.MustParseAddrPort("198.51.100.2:5060")] = 1
	for i := range dnsMaxDown {
		c.down[netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), uint16(i+1))] = clock.Add(time.Hour)
	}
	c.markDown(netip.MustParseAddrPort("198.51.100.2:5060"))
	if st.DNSDownFull.Load() != 1 || len(c.down) != dnsMaxDown {
		t.Fatalf("full: %d not kept, %d marks", st.DNSDownFull.Load(), len(c.down))
	}
	advance(2 * time.Hour)
	c.markDown(netip.MustParseAddrPort("198.51.100.2:5060"))
	if len(c.down) != 1 {
		t.Fatalf("%d marks after the expired ones made room, want 1", len(c.down))
	}
}

// The engine marks a next hop down when its forwarded INVITE got no response at all by its third
// retransmission (7·T1, RFC 3263 §4.3), and sends that INVITE on to the name's next SRV target as a
// new request with a new branch, Timers A and B started again: the call placed while the first
// target was dead completes at the next one. The dead target's late response matches nothing. A
// call placed after the mark goes to the next target at once; the first target is tried again once
// the mark has expired. With no other target the INVITE stays where it was and gets its 408 at
// Timer B.
func TestEngineFailover(t *testing.T) {
	d := deadLivePool("udp")
	d.srvs["_sip._udp.alone.home1.net"] = []SRV{{Target: "dead.home1.net.", Port: 5098}}
	x := newHarness(t, func(c *Config) { c.Lookup, c.LookupSRV = d.lookup, d.lookupSRV })
	for _, name := range []string{"scscf.home1.net", "alone.home1.net"} {
		if tp := x.e.Names().Transport(context.Background(), name); tp != "UDP" {
			t.Fatalf("%s: transport %q, want UDP (RFC 3263 §4.1: _sip._udp)", name, tp)
		}
	}
	route := "Route: <sip:scscf.home1.net;lr>\r\n"
	sentTo := func(sent []string, who string) bool {
		return slices.Contains(sent, who+" INVITE")
	}
	if r, sent := x.in(x.caller, invite("z9hG4bKf1", "f1@x", "sip:dave@home1.net", route)); r != ReasonForwarded || !sentTo(sent, "127.0.0.1:5099") {
		t.Fatalf("first call: %v %q, want forwarded to the first SRV target", r, sent)
	}
	toDead := x.last["127.0.0.1:5099 INVITE"]
	for i, at := range []time.Duration{testT1, 3 * testT1} { // Timer A: T1, 2·T1 apart
		if sent := x.at(at); !sentTo(sent, "127.0.0.1:5099") {
			t.Fatalf("retransmission %d: %q", i+1, sent)
		}
	}
	if sent := x.at(7 * testT1); !sentTo(sent, "callee") || sentTo(sent, "127.0.0.1:5099") {
		t.Fatalf("at 7·T1: %q, want the INVITE sent to the next SRV target instead of a third retransmission", sent)
	}
	toLive := x.last["callee INVITE"]
	if branchOf(t, toLive) == branchOf(t, toDead) || !bytes.Equal(withoutVia(toLive), withoutVia(toDead)) {
		t.Fatalf("the INVITE to the next target: branch %s (was %s); want a new branch and nothing else changed", branchOf(t, toLive), branchOf(t, toDead))
	}
	if x.st.DNSDown.Load() != 1 || x.st.DNSRetargets.Load() != 1 {
		t.Fatalf("marked down %d, sent on %d; want 1, 1", x.st.DNSDown.Load(), x.st.DNSRetargets.Load())
	}
	if sent := x.at(8 * testT1); !sentTo(sent, "callee") || len(sent) != 1 {
		t.Fatalf("at 8·T1: %q, want Timer A started again for the next target: one retransmission to it", sent)
	}
	if r, sent := x.in(netip.MustParseAddrPort("127.0.0.1:5099"), reply(toDead, "180 Ringing", "late")); r != ReasonStray || len(sent) != 0 {
		t.Fatalf("the dead target's late 180: %v %q, want a stray, not relayed", r, sent)
	}
	if r, sent := x.in(x.callee, reply(toLive, "180 Ringing", "t1")); r != ReasonResponse || !slices.Contains(sent, "caller SIP/2.0 180 Ringing") {
		t.Fatalf("the next target's 180: %v %q, want relayed to the caller", r, sent)
	}
	if r, sent := x.in(x.caller, invite("z9hG4bKf2", "f2@x", "sip:dave@home1.net", route)); r != ReasonForwarded || !sentTo(sent, "callee") {
		t.Fatalf("second call, after the mark: %v %q, want forwarded to the next SRV target (the callee)", r, sent)
	}
	if r, sent := x.in(x.callee, reply(toLive, "200 OK", "t1")); r != ReasonResponse || !slices.Contains(sent, "caller SIP/2.0 200 OK") {
		t.Fatalf("the next target's 200: %v %q, want relayed to the caller", r, sent)
	}
	if sent := x.at(7*testT1 + 64*testT1); slices.Contains(sent, "caller SIP/2.0 408 Request Timeout") {
		t.Fatalf("the first call's Timer B: %q; it was answered", sent)
	}

	// A name with no other target: the INVITE stays, and times out.
	x.in(x.caller, invite("z9hG4bKf9", "f9@x", "sip:dave@home1.net", "Route: <sip:alone.home1.net;lr>\r\n"))
	base := 7*testT1 + 64*testT1
	for _, at := range []time.Duration{1, 3, 7} {
		if sent := x.at(base + at*testT1); !sentTo(sent, "127.0.0.1:5098") {
			t.Fatalf("alone, at %d·T1: %q, want a retransmission to the only target", at, sent)
		}
	}
	if sent := x.at(base + 64*testT1); !slices.Contains(sent, "caller SIP/2.0 408 Request Timeout") || x.st.DNSRetargets.Load() != 1 {
		t.Fatalf("alone, Timer B: %q (%d sent on), want 408 upstream and nothing sent on", sent, x.st.DNSRetargets.Load())
	}

	x.at(base + 64*testT1 + dnsDownFor)
	if r, sent := x.in(x.caller, invite("z9hG4bKf3", "f3@x", "sip:dave@home1.net", route)); r != ReasonForwarded || !sentTo(sent, "127.0.0.1:5099") {
		t.Fatalf("after dnsDownFor: %v %q, want the first SRV target again", r, sent)
	}
}

// deadLivePool is the fake DNS of a pool scscf.home1.net over proto (udp, tcp): its first SRV
// target dead.home1.net at 127.0.0.1:5099 (nobody answers there), its second live.home1.net at
// 127.0.0.1:5070, the harness's callee.
func deadLivePool(proto string) *srvDNS {
	d := newSRVDNS()
	d.set("dead.home1.net", netip.MustParseAddr("127.0.0.1"))
	d.set("live.home1.net", netip.MustParseAddr("127.0.0.1"))
	d.srvs["_sip._"+proto+".scscf.home1.net"] = []SRV{{Target: "dead.home1.net.", Port: 5099}, {Target: "live.home1.net.", Port: 5070}}
	return d
}

// branchOf is the branch of msg's top Via.
func branchOf(t *testing.T, msg []byte) string {
	t.Helper()
	_, after, ok := bytes.Cut(msg, []byte(";branch="))
	if !ok {
		t.Fatalf("no branch in %q", msg)
	}
	end := bytes.IndexAny(after, ";\r")
	return string(after[:end])
}

// withoutVia is msg without its top Via's branch value (what retarget changes).
func withoutVia(msg []byte) []byte {
	i := bytes.Index(msg, []byte(";branch="))
	j := i + bytes.IndexAny(msg[i+1:], ";\r") + 1
	return append(bytes.Clone(msg[:i]), msg[j:]...)
}

// Close while the general path still resolves (sipgo's handlers outlive the server's Close by a
// moment): no lookup starts after it (a WaitGroup Add racing its Wait, which the race detector
// caught in core/signal's TLS tests), what is cached still answers, an uncached name fails at once.
func TestNamesClose(t *testing.T) {
	d := newSRVDNS()
	d.set("scscf1.home1.net", netip.MustParseAddr("192.0.2.1"))
	st := &Stats{}
	n := NewNames(d.lookup, d.lookupSRV, nil, st)
	ctx := context.Background()
	if _, err := n.Resolve(ctx, "udp", "scscf1.home1.net", 5060); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				n.Resolve(ctx, "udp", fmt.Sprintf("h%d-%d.home1.net", i, j), 5060)
			}
		})
	}
	n.Close()
	wg.Wait()
	before := st.DNSLookups.Load()
	if _, err := n.Resolve(ctx, "udp", "late.home1.net", 5060); err == nil {
		t.Fatal("a name resolved after Close")
	}
	if ap, err := n.Resolve(ctx, "udp", "scscf1.home1.net", 5060); err != nil || ap.String() != "192.0.2.1:5060" {
		t.Fatalf("cached answer after Close: %v %v", ap, err)
	}
	if st.DNSLookups.Load() != before {
		t.Fatal("a lookup started after Close")
	}
}

// A hostile or careless answer is bounded: of a thousand SRV records only the first dnsMaxTarget
// are looked up, and an answer keeps at most dnsMaxTarget targets however many addresses they have.
func TestHostCacheBounded(t *testing.T) {
	d := newSRVDNS()
	var dead, many []SRV
	for i := range 1000 {
		dead = append(dead, SRV{Target: fmt.Sprintf("gone%d.home1.net", i), Port: 5060}) // none resolves
	}
	var addrs []netip.Addr
	for j := range 20 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{192, 0, 2, byte(j)}))
	}
	d.set("big.home1.net", addrs...)
	many = append(many, SRV{Target: "big.home1.net", Port: 5060}, SRV{Target: "big.home1.net", Port: 5070})
	d.srvs["_sip._udp.dead.home1.net"] = dead
	d.srvs["_sip._udp.many.home1.net"] = many
	c := newHostCache(&Stats{}, d.lookup, d.lookupSRV, wheel.NewMono())
	if _, err := c.resolve(context.Background(), "dead.home1.net", dnsSIPUDP); err == nil || d.calls != dnsMaxTarget {
		t.Fatalf("1,000 unresolvable targets: %v after %d A/AAAA lookups; want an error after %d", err, d.calls, dnsMaxTarget)
	}
	a, err := c.resolve(context.Background(), "many.home1.net", dnsSIPUDP)
	if err != nil || len(a.targets) != dnsMaxTarget {
		t.Fatalf("%d targets, %v; want %d", len(a.targets), err, dnsMaxTarget)
	}
}

// DownAt, the general path's failover: it marks where the request went down (the address sipgo sent
// it to, else the name's current target) and reports a next one (counted), reports none when every
// target is down or the destination is an IP literal (which it does not mark), and ignores what is
// not host:port. Two calls silent at the first target, the second reported after the first moved
// on: the live second target stays up (marking the name's answer of the moment marked it down).
func TestNamesDownAt(t *testing.T) {
	d := newSRVDNS()
	d.set("a.home1.net", netip.MustParseAddr("192.0.2.1"))
	d.set("b.home1.net", netip.MustParseAddr("192.0.2.2"))
	d.srvs["_sip._tcp.scscf.home1.net"] = []SRV{{Target: "a.home1.net.", Port: 5060}, {Target: "b.home1.net.", Port: 5060}}
	st := &Stats{}
	n := NewNames(d.lookup, d.lookupSRV, nil, st)
	defer n.Close()
	first, err := n.Resolve(context.Background(), "tcp", "scscf.home1.net", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !n.DownAt("TCP", "scscf.home1.net:0", netip.AddrPort{}) {
		t.Fatal("first target refused: no next target reported")
	}
	if ap, _ := n.Cached("tcp", "scscf.home1.net", 0); ap.String() != "192.0.2.2:5060" {
		t.Fatalf("after DownAt: %v, want the second target", ap)
	}
	if !n.DownAt("TCP", "scscf.home1.net:0", first) { // the second call, sent to the first target too
		t.Fatal("a second call silent at the first target: no next target reported")
	}
	if ap, _ := n.Cached("tcp", "scscf.home1.net", 0); ap.String() != "192.0.2.2:5060" {
		t.Fatalf("after the second call's DownAt: %v, want the second target still", ap)
	}
	if n.DownAt("tcp", "scscf.home1.net:0", netip.AddrPort{}) {
		t.Fatal("both targets down: a next one reported")
	}
	for _, dest := range []string{"192.0.2.9:5060", "[2001:db8::1]:5060", "no-port", "scscf.home1.net:x"} {
		if n.DownAt("tcp", dest, netip.AddrPort{}) {
			t.Errorf("%s: a next target reported", dest)
		}
	}
	if st.DNSDown.Load() != 3 || st.DNSFailovers.Load() != 2 {
		t.Fatalf("marked %d, failovers %d; want 3, 2 (IP literals not marked)", st.DNSDown.Load(), st.DNSFailovers.Load())
	}
}
