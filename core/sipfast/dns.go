package sipfast

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-ims/herald/core/wheel"
)

// dns.go: host names, for both of Herald's paths. IMS Routes and next hops are names
// (scscf1.home1.net, often without a port), and a proxy must neither wait for DNS inside its read
// loop nor ask DNS again for every message. Names is the one cache of answers; the fast path reads
// it without blocking (a request whose name is not cached yet takes the general path while one
// background lookup fills it), and the general path (sipgo, through the host's resolver hook) waits
// on the same lookup (Names.Resolve), so a name is looked up once per dnsTTL whichever path asks.
//
// RFC 3263 §4.2 (and §5 for a response's Via): a URI with a name and an explicit port is resolved by
// A/AAAA alone; a name without a port by SRV for the transport (_sip._udp, _sip._tcp, _sips._tcp
// for TLS), the targets tried in the order the resolver gives (priority, then weight: RFC 2782);
// only when the name has no SRV records, by A/AAAA at the transport's default port. The transport is
// the one the URI names, else UDP (TCP for a request too big for UDP, RFC 3261 §18.1.1). Not done:
// NAPTR (§4.1), and §4.1's SRV queries for every supported transport when a domain has no NAPTR
// records (a domain with only _sip._tcp records gets UDP to its A record for a URI naming no
// transport).

// Cache policy. The resolver (Config.Lookup, LookupSRV: Go's, which reads /etc/hosts and the
// system's servers) gives no record TTLs, so answers live a fixed time on the engine's clock, and an
// expired one keeps being used while its refresh runs (a next hop's address changing is rare; its
// DNS failing must not take the calls down with it).
const (
	dnsTTL      = 30 * time.Second
	dnsStale    = 5 * time.Minute // longest an expired answer is used while refreshes fail
	dnsNegTTL   = 5 * time.Second // a name that did not resolve is retried after this
	dnsTimeout  = 5 * time.Second
	dnsMaxNames = 4096 // names cached; beyond it new names take the general path (counted)
)

// SRV is one SRV record (RFC 2782), as Config.LookupSRV gives them: in the order to try them.
type SRV struct {
	Target string
	Port   uint16
}

// dnsKind is what a cache entry answers for its name.
type dnsKind byte

const (
	dnsAddr   dnsKind = iota // A/AAAA: the URI has a port
	dnsSIPUDP                // no port, UDP: _sip._udp SRV, else A/AAAA at 5060
	dnsSIPTCP                // no port, TCP: _sip._tcp SRV, else 5060
	dnsSIPTLS                // no port, TLS: _sips._tcp SRV, else 5061
)

// srv is the SRV service and protocol a kind looks up, and the port without SRV records.
func (k dnsKind) srv() (service, proto string, port uint16) {
	switch k {
	case dnsSIPUDP:
		return "sip", "udp", 5060
	case dnsSIPTCP:
		return "sip", "tcp", 5060
	case dnsSIPTLS:
		return "sips", "tcp", 5061
	}
	return "", "", 0
}

type dnsEntry struct {
	// targets are the answer in the order to try them (RFC 3263 §4.3): each SRV target's addresses
	// in the records' order, or the name's addresses; port 0 for dnsAddr (the URI's port is used).
	// Empty while the first lookup runs or after it failed.
	targets  []netip.AddrPort
	expires  time.Time
	resolved time.Time     // when targets were last obtained
	pending  chan struct{} // closed when the running lookup ends; nil when none runs
}

// Failover (RFC 3263 §4.3): a destination that let a request go unanswered (Timer B or F, not even
// a provisional) or refused it (a transport error) is marked down for dnsDownFor, and answers skip
// it for the next of their targets meanwhile: the next SRV target, or the name's next address. The
// request itself is not sent again (its caller has timed out by then too); the next ones go
// elsewhere. When every target is down, the first is used all the same.
const (
	dnsDownFor   = 30 * time.Second
	dnsMaxDown   = 1024 // destinations remembered down; beyond it a new one is not remembered (counted)
	dnsMaxTarget = 16   // targets kept per answer
)

// hostCache resolves names for both paths; the fast path never blocks on it.
type hostCache struct {
	mu     sync.Mutex
	m      map[string]*dnsEntry // by kind byte + name
	down   map[netip.AddrPort]time.Time
	known  map[netip.AddrPort]int // how many answers hold each target (port 0: dnsAddr's): what markDown takes
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	srv    func(ctx context.Context, service, proto, name string) ([]SRV, error)
	v6     bool // prefer IPv6 answers (Herald's UDP socket is IPv6)
	strict bool // only the preferred family (an engine's sockets send from one); else fall back to the other
	now    func() time.Time
	wg     sync.WaitGroup // the lookups running; no new one starts once closed
	closed bool
	st     *Stats // DNSLookups, DNSSRV, DNSFailures, DNSFull, DNSDown
}

// newHostCache is a cache resolving names with lookup and srv (the host's resolver: Config.Lookup,
// LookupSRV); without lookup no name is ever usable, without srv a name without a port is taken to
// have no SRV records. Its answers age on clock, the engine's.
func newHostCache(st *Stats, lookup func(ctx context.Context, host string) ([]netip.Addr, error),
	srv func(ctx context.Context, service, proto, name string) ([]SRV, error), clock wheel.Clock) *hostCache {
	now := func() time.Time { return time.Unix(0, clock.Now()) }
	return &hostCache{st: st, m: map[string]*dnsEntry{}, down: map[netip.AddrPort]time.Time{}, known: map[netip.AddrPort]int{}, lookup: lookup, srv: srv, now: now}
}

// key writes kind and host into buf: the entry's key, without allocating (m[string(key)]).
func dnsKey(buf []byte, kind dnsKind, host []byte) []byte {
	return append(append(buf[:0], byte(kind)), host...)
}

// usable reports whether e's answer may be used at now.
func (e *dnsEntry) usable(now time.Time) bool {
	return len(e.targets) > 0 && now.Sub(e.resolved) < dnsTTL+dnsStale
}

// pick is e's first target not down at now (its port 0 read as port), else its first. c.mu is held.
func (c *hostCache) pick(e *dnsEntry, port int, now time.Time) netip.AddrPort {
	if len(e.targets) == 0 {
		return netip.AddrPort{}
	}
	with := func(t netip.AddrPort) netip.AddrPort {
		if t.Port() == 0 {
			return netip.AddrPortFrom(t.Addr(), uint16(port))
		}
		return t
	}
	if len(c.down) > 0 {
		for _, t := range e.targets {
			if until, down := c.down[with(t)]; !down || !now.Before(until) {
				return with(t)
			}
		}
	}
	return with(e.targets[0])
}

// isDown reports whether dst is marked down now.
func (c *hostCache) isDown(dst netip.AddrPort) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	until, down := c.down[dst]
	return down && now.Before(until)
}

// markDown marks dst down for dnsDownFor (failover), counted in DNSDown, when it is a target of a
// cached answer: a terminal's address that does not answer (a BYE to a phone gone) is none of the
// cache's business and would only fill the list.
func (c *hostCache) markDown(dst netip.AddrPort) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known[dst] == 0 && c.known[netip.AddrPortFrom(dst.Addr(), 0)] == 0 {
		return
	}
	if _, known := c.down[dst]; !known && len(c.down) >= dnsMaxDown {
		for d, until := range c.down {
			if !now.Before(until) {
				delete(c.down, d)
			}
		}
		if len(c.down) >= dnsMaxDown {
			c.st.DNSDownFull.Add(1)
			return
		}
	}
	c.down[dst] = now.Add(dnsDownFor)
	c.st.DNSDown.Add(1)
}

// get returns the cached answer of host for kind (its target to use now; port for a dnsAddr
// answer), ok false when there is none usable yet (a lookup is then started if none runs). It
// never blocks on DNS.
func (c *hostCache) get(host []byte, kind dnsKind, port int) (netip.AddrPort, bool) {
	if c.lookup == nil {
		return netip.AddrPort{}, false
	}
	var buf [64]byte
	key := dnsKey(buf[:], kind, host)
	now := c.now()
	c.mu.Lock()
	e := c.m[string(key)]
	if e == nil {
		if len(c.m) >= dnsMaxNames {
			c.mu.Unlock()
			c.st.DNSFull.Add(1)
			return netip.AddrPort{}, false
		}
		e = &dnsEntry{}
		c.m[string(key)] = e
	}
	ap, usable := c.pick(e, port, now), e.usable(now)
	c.refresh(e, host, kind, now)
	c.mu.Unlock()
	return ap, usable
}

// refresh starts e's lookup when its answer has expired, none runs and c is open. c.mu is held.
func (c *hostCache) refresh(e *dnsEntry, host []byte, kind dnsKind, now time.Time) {
	if now.After(e.expires) && e.pending == nil && !c.closed {
		e.pending = make(chan struct{})
		c.wg.Add(1)
		go c.fill(string(host), kind, e)
	}
}

// errNoAnswer is the answer for a name whose last lookup failed (within dnsNegTTL of it).
var errNoAnswer = errors.New("no address (RFC 3263)")

// wait returns host's answer for kind as get does, but waits for a lookup when there is no usable
// answer (the general path's lookups: sipgo's goroutines may block). A name whose last lookup failed
// less than dnsNegTTL ago fails at once. With the table full it resolves host uncached.
func (c *hostCache) wait(ctx context.Context, host string, kind dnsKind, port int) (netip.AddrPort, error) {
	if c.lookup == nil {
		return netip.AddrPort{}, fmt.Errorf("%s: no resolver", host)
	}
	key := string(dnsKey(nil, kind, []byte(host)))
	for waited := false; ; waited = true {
		now := c.now()
		c.mu.Lock()
		e := c.m[key]
		if e == nil {
			if len(c.m) >= dnsMaxNames {
				c.mu.Unlock()
				c.st.DNSFull.Add(1)
				targets, err := c.resolve(ctx, host, kind)
				if err != nil {
					return netip.AddrPort{}, err
				}
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.pick(&dnsEntry{targets: targets}, port, now), nil
			}
			e = &dnsEntry{}
			c.m[key] = e
		}
		ap, usable := c.pick(e, port, now), e.usable(now)
		c.refresh(e, []byte(host), kind, now)
		pending := e.pending
		c.mu.Unlock()
		switch {
		case usable:
			return ap, nil
		case pending == nil || waited:
			return netip.AddrPort{}, fmt.Errorf("%s: %w", host, errNoAnswer)
		}
		select {
		case <-pending:
		case <-ctx.Done():
			return netip.AddrPort{}, fmt.Errorf("%s: %w", host, ctx.Err())
		}
	}
}

// fill runs e's lookup and stores its answer.
func (c *hostCache) fill(host string, kind dnsKind, e *dnsEntry) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	targets, err := c.resolve(ctx, host, kind)
	cancel()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	close(e.pending)
	e.pending = nil
	if err != nil {
		e.expires = now.Add(dnsNegTTL) // the stale answer, if any, stays usable until dnsStale
		return
	}
	for _, t := range e.targets {
		if c.known[t]--; c.known[t] <= 0 {
			delete(c.known, t)
		}
	}
	for _, t := range targets {
		c.known[t]++
	}
	e.targets, e.resolved, e.expires = targets, now, now.Add(dnsTTL)
}

// resolve looks host up for kind (RFC 3263 §4.2): counted in DNSLookups, DNSSRV (answered through
// SRV records) and DNSFailures.
func (c *hostCache) resolve(ctx context.Context, host string, kind dnsKind) ([]netip.AddrPort, error) {
	c.st.DNSLookups.Add(1)
	targets, srv, err := c.query(ctx, host, kind)
	if err != nil {
		c.st.DNSFailures.Add(1)
		return nil, err
	}
	if srv {
		c.st.DNSSRV.Add(1)
	}
	return targets, nil
}

// query is host's targets for kind, and whether SRV records gave them.
func (c *hostCache) query(ctx context.Context, host string, kind dnsKind) ([]netip.AddrPort, bool, error) {
	service, proto, port := kind.srv()
	if service != "" && c.srv != nil {
		// Go's LookupSRV orders the records by priority, then by weight at random (RFC 2782), and
		// returns the well-formed ones with an error when others are not.
		if recs, _ := c.srv(ctx, service, proto, host); len(recs) > 0 {
			if len(recs) == 1 && (recs[0].Target == "." || recs[0].Target == "") {
				// RFC 2782: "." alone means the service is decidedly not available at this domain.
				return nil, true, fmt.Errorf("%s: _%s._%s SRV: service not available", host, service, proto)
			}
			var targets []netip.AddrPort
			var last error
			for _, r := range recs[:min(len(recs), dnsMaxTarget)] { // a hostile answer's thousand records: 16 looked up
				if len(targets) == dnsMaxTarget {
					break
				}
				ips, err := c.addrs(ctx, strings.TrimSuffix(r.Target, "."))
				last = cmp.Or(err, last)
				for _, ip := range ips[:min(len(ips), dnsMaxTarget-len(targets))] {
					targets = append(targets, netip.AddrPortFrom(ip, r.Port))
				}
			}
			if len(targets) == 0 {
				return nil, true, fmt.Errorf("%s: no SRV target of _%s._%s resolved: %w", host, service, proto, last)
			}
			return targets, true, nil
		}
		// No SRV records (or no answer at all: a name only /etc/hosts knows): A/AAAA.
	}
	ips, err := c.addrs(ctx, host)
	if err != nil {
		return nil, false, err
	}
	targets := make([]netip.AddrPort, 0, min(len(ips), dnsMaxTarget))
	for _, ip := range ips[:min(len(ips), dnsMaxTarget)] {
		targets = append(targets, netip.AddrPortFrom(ip, port))
	}
	return targets, false, nil
}

// addrs is host's A/AAAA answers of the family Herald sends from (of the other family when it has
// none and the cache is not strict), in the resolver's order.
func (c *hostCache) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := c.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	v6, strict := c.v6, c.strict
	c.mu.Unlock()
	var same, other []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is6() == v6 {
			same = append(same, a)
		} else {
			other = append(other, a)
		}
	}
	switch {
	case len(same) > 0:
		return same, nil
	case len(other) > 0 && !strict:
		return other, nil
	}
	return nil, fmt.Errorf("%s: no IPv%d address", host, map[bool]int{false: 4, true: 6}[v6])
}

// Names is the one owner of name answers (RFC 3263) for a Herald: the fast path's engine reads it
// without blocking (Config.Names), the general path (sipgo, through sip.WithTransportLayerResolver)
// waits on it (Resolve). It works without an engine too (fast_path off), so a name resolves the
// same way whichever path or mode sends toward it.
type Names struct{ c *hostCache }

// NewNames is a Names resolving with lookup (A/AAAA) and srv (SRV records in the order to try
// them; nil: no name has any), its answers aging on clock (nil: the monotonic clock) and counted in
// st's DNS counters. Without an engine it prefers IPv4 answers and takes IPv6 ones when a name has
// no IPv4 address; an engine that uses it takes only the family its sockets send from.
func NewNames(lookup func(ctx context.Context, host string) ([]netip.Addr, error),
	srv func(ctx context.Context, service, proto, name string) ([]SRV, error), clock wheel.Clock, st *Stats) *Names {
	if clock == nil {
		clock = wheel.NewMono()
	}
	return &Names{newHostCache(st, lookup, srv, clock)}
}

// Close starts no lookup from now on (what is cached still answers) and waits for those running.
func (n *Names) Close() { n.c.close() }

func (c *hostCache) close() {
	c.mu.Lock()
	c.closed = true // under c.mu, as every wg.Add (refresh): none can follow the Wait
	c.mu.Unlock()
	c.wg.Wait()
}

// kindFor is the cache entry a URI's transport and port need (RFC 3263 §4.2).
func kindFor(transport string, port int) dnsKind {
	if port != 0 {
		return dnsAddr
	}
	switch strings.ToLower(transport) {
	case "udp":
		return dnsSIPUDP
	case "tcp":
		return dnsSIPTCP
	case "tls":
		return dnsSIPTLS
	}
	return dnsAddr // another transport (ws, wss): A/AAAA, the caller's default port
}

// literal is host as an IP address (an IPv6 reference's brackets dropped) and port, with the
// transport's default port for 0; isIP false when host is a name; an error for a port out of range.
func literal(transport, host string, port int) (ap netip.AddrPort, isIP bool, err error) {
	if port < 0 || port > 65535 {
		return netip.AddrPort{}, false, fmt.Errorf("%s: port %d out of range", host, port)
	}
	ip, perr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if perr != nil {
		return netip.AddrPort{}, false, nil
	}
	if port == 0 {
		port = defaultPort(transport)
	}
	return netip.AddrPortFrom(ip, uint16(port)), true, nil
}

// Resolve is where a message for host goes over transport: host's IP literal, else the cache's
// answer, waiting for its lookup when none is cached (RFC 3263 §4.2 and §5: A/AAAA with port, SRV
// for the transport when port is 0, else the transport's default port; for a transport other than
// udp, tcp and tls, A/AAAA, with port 0 left for the caller's default). Its signature is sipgo's
// sip.Resolver.
func (n *Names) Resolve(ctx context.Context, transport, host string, port int) (netip.AddrPort, error) {
	if ap, isIP, err := literal(transport, host, port); isIP || err != nil {
		return ap, err
	}
	return n.c.wait(ctx, host, kindFor(transport, port), port)
}

// Cached is Resolve's answer when the cache has one now (or host is an IP literal), ok false
// otherwise (a lookup is then started). It never blocks.
func (n *Names) Cached(transport, host string, port int) (netip.AddrPort, bool) {
	if ap, isIP, err := literal(transport, host, port); isIP || err != nil {
		return ap, err == nil
	}
	return n.c.get([]byte(host), kindFor(transport, port), port)
}

// DownAt marks where a request for dest (host:port, port 0: none named) over transport went down
// (RFC 3263 §4.3): the target its name resolves to now is skipped for dnsDownFor (an IP literal
// is not marked: it has no other target). For a request that could not be sent (its connection refused or unreachable). It
// reports whether the name now answers another target, where the request may go at once (counted
// in DNSFailovers).
func (n *Names) DownAt(transport, dest string) bool {
	i := strings.LastIndexByte(dest, ':')
	p, err := strconv.Atoi(dest[i+1:])
	if i < 0 || err != nil {
		return false
	}
	if _, isIP, _ := literal(transport, dest[:i], p); isIP {
		return false // an address has no other target
	}
	ap, ok := n.Cached(transport, dest[:i], p)
	if !ok {
		return false
	}
	n.c.markDown(ap)
	if next, ok := n.Cached(transport, dest[:i], p); ok && next != ap && !n.c.isDown(next) {
		n.c.st.DNSFailovers.Add(1)
		return true
	}
	return false
}

// Names is the engine's name cache (Config.Names, or its own).
func (f *Engine) Names() *Names { return f.names }

// maybeIP reports whether host may be an IP literal: an IPv4 one ends in a digit, an IPv6 one has a
// colon; a domain name has neither (its top label is never all digits, RFC 3696 §2). It spares a
// name the failed parse (which allocates its error) and an address a scan of every byte.
func maybeIP(host []byte) bool {
	if len(host) == 0 {
		return false
	}
	if c := host[len(host)-1]; c >= '0' && c <= '9' {
		return true
	}
	return bytes.IndexByte(host, ':') >= 0
}

// defaultPort is a SIP transport's port when a URI names none (RFC 3261 §19.1.2); 0 for others.
func defaultPort(transport string) int {
	switch strings.ToLower(transport) {
	case "udp", "tcp":
		return 5060
	case "tls":
		return 5061
	}
	return 0
}
