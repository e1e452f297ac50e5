package sipfast

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/herald-ims/herald/core/wheel"
)

// dns.go: host names on the fast path. IMS Routes and next hops are names (scscf1.home1.net),
// and a proxy must not wait for DNS inside its read loop. A URI with a name and an explicit port is
// resolved by A/AAAA alone (RFC 3263 §4.2), so the fast path keeps a small cache of those answers:
// a request whose name is not cached yet takes the general path (sipgo resolves it as before) while
// one background lookup fills the cache; later requests for that name stay on the fast path. A URI
// with a name and no port needs NAPTR/SRV (RFC 3263 §4.1) and always takes the general path.

// Cache policy. The resolver (Config.Lookup) gives no record TTLs, so answers live a fixed time on
// the engine's clock, and an expired one keeps being used while its refresh runs (a next hop's
// address changing is rare; its DNS failing must not take the fast path's calls down with it).
const (
	dnsTTL      = 30 * time.Second
	dnsStale    = 5 * time.Minute // longest an expired answer is used while refreshes fail
	dnsNegTTL   = 5 * time.Second // a name that did not resolve is retried after this
	dnsTimeout  = 5 * time.Second
	dnsMaxNames = 4096 // names cached; beyond it new names take the general path (counted)
)

type dnsEntry struct {
	addr     netip.Addr // invalid while the first lookup runs or after it failed
	expires  time.Time
	resolved time.Time // when addr was last obtained
	pending  bool
}

// hostCache resolves names for the fast path without blocking it.
type hostCache struct {
	mu     sync.Mutex
	m      map[string]*dnsEntry
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	v6     bool // prefer IPv6 answers (Herald's UDP socket is IPv6)
	now    func() time.Time
	wg     sync.WaitGroup
	st     *Stats // DNSLookups, DNSFailures, DNSFull
}

// newHostCache is a cache resolving names with lookup (the host's resolver: Config.Lookup); with
// none, no name is ever usable. Its answers age on clock, the engine's.
func newHostCache(st *Stats, lookup func(ctx context.Context, host string) ([]netip.Addr, error), clock wheel.Clock) *hostCache {
	now := func() time.Time { return time.Unix(0, clock.Now()) }
	return &hostCache{st: st, m: map[string]*dnsEntry{}, lookup: lookup, now: now}
}

// get returns the cached address of host, ok false when there is none usable yet (a lookup is then
// started if none runs).
func (c *hostCache) get(host []byte) (netip.Addr, bool) {
	if c.lookup == nil {
		return netip.Addr{}, false
	}
	now := c.now()
	c.mu.Lock()
	e := c.m[string(host)]
	if e == nil {
		if len(c.m) >= dnsMaxNames {
			c.mu.Unlock()
			c.st.DNSFull.Add(1)
			return netip.Addr{}, false
		}
		e = &dnsEntry{}
		c.m[string(host)] = e
	}
	addr, usable := e.addr, e.addr.IsValid() && now.Sub(e.resolved) < dnsTTL+dnsStale
	if now.After(e.expires) && !e.pending {
		e.pending = true
		c.wg.Add(1)
		go c.resolve(string(host), e)
	}
	c.mu.Unlock()
	return addr, usable
}

func (c *hostCache) resolve(host string, e *dnsEntry) {
	defer c.wg.Done()
	c.st.DNSLookups.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	addrs, err := c.lookup(ctx, host)
	cancel()
	var pick netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is6() == c.v6 {
			pick = a
			break
		}
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e.pending = false
	if err != nil || !pick.IsValid() {
		c.st.DNSFailures.Add(1)
		e.expires = now.Add(dnsNegTTL) // the stale answer, if any, stays usable until dnsStale
		return
	}
	e.addr, e.resolved, e.expires = pick, now, now.Add(dnsTTL)
}
