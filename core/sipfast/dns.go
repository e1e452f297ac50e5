package sipfast

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// the one the URI names; for a sip: URI naming neither transport nor port nor an address, the one
// DNS names (§4.1, dnsSIPAuto): the domain's NAPTR records (RFC 3403) for SIP+D2U and SIP+D2T in
// order and preference, each leading to the SRV records of its replacement; without such records,
// _sip._udp SRV, then _sip._tcp; without any, UDP to A/AAAA at 5060. A request too big for UDP goes
// over TCP all the same (RFC 3261 §18.1.1), by _sip._tcp. A sips: URI without a port is resolved
// by its domain's SIPS+D2T NAPTR records, else _sips._tcp. Not done: SIPS+D2T (TLS) chosen for a
// sip: URI.

// Cache policy. The resolver (Config.Lookup, LookupSRV: Go's, which reads /etc/hosts and the
// system's servers) gives no record TTLs, so answers live a fixed time on the engine's clock, and an
// expired one keeps being used while its refresh runs (a next hop's address changing is rare; its
// DNS failing must not take the calls down with it).
const (
	dnsTTL     = 30 * time.Second
	dnsStale   = 5 * time.Minute // longest an expired answer is used while refreshes fail
	dnsNegTTL  = 5 * time.Second // a name that did not resolve is retried after this
	dnsTimeout = 5 * time.Second
	// dnsNAPTRTimeout bounds the NAPTR lookup within dnsTimeout (RFC 3263 §4.1: without an answer,
	// SRV per transport decides)
	dnsNAPTRTimeout = 2 * time.Second
	dnsMaxNames     = 4096 // names cached; beyond it new names take the general path (counted)
	// dnsTargetTimeout bounds the address lookup of each SRV target within dnsTimeout, so a target
	// whose name's servers do not answer costs its name 1 s, not every target after it.
	dnsTargetTimeout = time.Second
	// dnsMaxLookups bounds the SRV and A/AAAA lookups of one name's resolution: a domain's NAPTR
	// and SRV records (16 of each followed) could otherwise make one request cost some 300 lookups,
	// 500 questions, of the operator's resolver.
	dnsMaxLookups = 48
)

// SRV is one SRV record (RFC 2782), as Config.LookupSRV gives them: in the order to try them.
type SRV struct {
	Target           string
	Port             uint16
	Priority, Weight uint16 // RFC 2782: the lowest priority first; within it, chosen by weight per request
}

// dnsKind is what a cache entry answers for its name.
type dnsKind byte

const (
	dnsAddr    dnsKind = iota // A/AAAA: the URI has a port
	dnsSIPUDP                 // no port, UDP: _sip._udp SRV, else A/AAAA at 5060
	dnsSIPTCP                 // no port, TCP: _sip._tcp SRV, else 5060
	dnsSIPTLS                 // no port, TLS: _sips._tcp SRV, else 5061
	dnsSIPAuto                // no port, no transport named: NAPTR, else SRV per transport (RFC 3263 §4.1)
)

// NAPTR is one NAPTR record (RFC 3403 §4.1) as Names' NAPTR lookup gives them, in any order.
type NAPTR struct {
	Order, Preference uint16
	Flags, Service    string
	Replacement       string
}

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
	meta     []srvMeta // per target: its SRV record's priority and weight (nil: not SRV, in order)
	expires  time.Time
	resolved time.Time     // when targets were last obtained
	pending  chan struct{} // closed when the running lookup ends; nil when none runs
	used     time.Time     // when a request last asked for it (evict)
	tcp      bool          // dnsSIPAuto: the transport DNS named is TCP (else UDP)
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
	swept  time.Time              // the table's last sweep for idle names (evict)
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	srv    func(ctx context.Context, service, proto, name string) ([]SRV, error)
	naptr  func(ctx context.Context, name string) ([]NAPTR, error)
	v6     atomic.Bool // prefer IPv6 answers (Herald's UDP socket is IPv6; Engine.AddConn)
	strict bool        // an engine's: its fast path takes only targets of the preferred family (engine.target)
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

// sendable reports whether the fast path may send to ap: of its sockets' family when strict.
func (c *hostCache) sendable(ap netip.AddrPort) bool {
	if !c.strict {
		return true
	}
	return ap.Addr().Is6() == c.v6.Load()
}

// next is the target e's answer gives now that dst, where a request went, is down (RFC 3263 §4.3):
// its first target other than dst not marked down that ok takes (the engine's UDP: its sockets'
// family); false when e is nil (an IP literal has no other target) or none is left. The answer is
// the transaction's own, never another name's that shares dst.
func (c *hostCache) next(e *dnsEntry, dst netip.AddrPort, ok func(netip.AddrPort) bool) (netip.AddrPort, bool) {
	if e == nil {
		return netip.AddrPort{}, false
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range e.targets {
		if t.Port() == 0 { // a dnsAddr answer: the URI's port
			t = netip.AddrPortFrom(t.Addr(), dst.Port())
		}
		if until, down := c.down[t]; t != dst && (!down || !now.Before(until)) && ok(t) {
			return t, true
		}
	}
	return netip.AddrPort{}, false
}

// evict drops the names no request asked for within dnsTTL+dnsStale and no lookup is filling, at
// most once a second, so names a peer made up (the Routes of stray requests) do not hold the table
// for good. c.mu is held.
func (c *hostCache) evict(now time.Time) {
	if now.Sub(c.swept) < time.Second {
		return
	}
	c.swept = now
	for k, e := range c.m {
		if e.pending == nil && now.Sub(e.used) > dnsTTL+dnsStale {
			c.unknow(e)
			delete(c.m, k)
		}
	}
}

// unknow takes e's targets out of known. c.mu is held.
func (c *hostCache) unknow(e *dnsEntry) {
	for _, t := range e.targets {
		if c.known[t]--; c.known[t] <= 0 {
			delete(c.known, t)
		}
	}
}

// entry is host's entry for key, made when there is room (evicting idle names when the table is
// full), marked used at now; nil when the table is full (counted in DNSFull) or host is no valid
// domain name (longer than 253 bytes, RFC 1035 §2.3.4). c.mu is held.
func (c *hostCache) entry(key []byte, host int, now time.Time) *dnsEntry {
	e := c.m[string(key)]
	if e == nil {
		if host > 253 {
			return nil
		}
		if len(c.m) >= dnsMaxNames {
			c.evict(now)
		}
		if len(c.m) >= dnsMaxNames {
			c.st.DNSFull.Add(1)
			return nil
		}
		e = &dnsEntry{}
		c.m[string(key)] = e
	}
	e.used = now
	return e
}

// get returns the cached answer of host for kind (its target to use now; port for a dnsAddr
// answer), ok false when there is none usable yet
// (a lookup is then started if none runs). It never blocks on DNS.
func (c *hostCache) get(host []byte, kind dnsKind, port int) (netip.AddrPort, *dnsEntry, bool) {
	ap, e, _, ok := c.getAnswer(host, kind, port)
	return ap, e, ok
}

// getAnswer is get with, for dnsSIPAuto, the transport DNS named (tcp).
func (c *hostCache) getAnswer(host []byte, kind dnsKind, port int) (ap netip.AddrPort, e *dnsEntry, tcp, ok bool) {
	if c.lookup == nil {
		return netip.AddrPort{}, nil, false, false
	}
	var buf [64]byte
	key := dnsKey(buf[:], kind, host)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e = c.entry(key, len(host), now); e == nil {
		return netip.AddrPort{}, nil, false, false
	}
	ap, tcp, ok = c.pick(e, port, now), e.tcp, e.usable(now)
	c.refresh(e, host, kind, now)
	return ap, e, tcp, ok
}

// peek is host's usable dnsSIPAuto dnsAnswer, if cached, over TCP (tcp) or UDP; it neither adds an
// entry nor starts a lookup. It lets a request sent over the transport DNS named reach the target
// DNS named for it (a NAPTR record's replacement is not always _sip._tcp.host).
func (c *hostCache) peek(host []byte, tcp bool) (netip.AddrPort, *dnsEntry, bool) {
	if c.lookup == nil {
		return netip.AddrPort{}, nil, false
	}
	var buf [64]byte
	key := dnsKey(buf[:], dnsSIPAuto, host)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[string(key)]
	if e == nil || e.tcp != tcp || !e.usable(now) {
		return netip.AddrPort{}, nil, false
	}
	e.used = now
	return c.pick(e, 0, now), e, true
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
	ap, _, err := c.waitAnswer(ctx, host, kind, port)
	return ap, err
}

// waitAnswer is wait with, for dnsSIPAuto, the transport DNS named (tcp).
func (c *hostCache) waitAnswer(ctx context.Context, host string, kind dnsKind, port int) (ap netip.AddrPort, tcp bool, err error) {
	if c.lookup == nil {
		return netip.AddrPort{}, false, fmt.Errorf("%s: no resolver", host)
	}
	key := string(dnsKey(nil, kind, []byte(host)))
	for waited := false; ; waited = true {
		now := c.now()
		c.mu.Lock()
		e := c.entry([]byte(key), len(host), now)
		if e == nil {
			c.mu.Unlock()
			if len(host) > 253 {
				return netip.AddrPort{}, false, fmt.Errorf("%.40s...: a name longer than 253 bytes (RFC 1035 §2.3.4)", host)
			}
			a, err := c.resolve(ctx, host, kind) // the table full of names in use: uncached
			if err != nil {
				return netip.AddrPort{}, false, err
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.pick(&dnsEntry{targets: a.targets, meta: a.meta}, port, now), a.tcp, nil
		}
		ap, tcp, usable := c.pick(e, port, now), e.tcp, e.usable(now)
		c.refresh(e, []byte(host), kind, now)
		pending := e.pending
		c.mu.Unlock()
		switch {
		case usable:
			return ap, tcp, nil
		case pending == nil || waited:
			return netip.AddrPort{}, false, fmt.Errorf("%s: %w", host, errNoAnswer)
		}
		select {
		case <-pending:
		case <-ctx.Done():
			return netip.AddrPort{}, false, fmt.Errorf("%s: %w", host, ctx.Err())
		}
	}
}

// fill runs e's lookup and stores its answer.
func (c *hostCache) fill(host string, kind dnsKind, e *dnsEntry) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	a, err := c.resolve(ctx, host, kind)
	cancel()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	close(e.pending)
	e.pending = nil
	if err != nil {
		e.expires = now.Add(dnsNegTTL) // the stale dnsAnswer, if any, stays usable until dnsStale
		return
	}
	c.unknow(e)
	for _, t := range a.targets {
		c.known[t]++
	}
	e.targets, e.meta, e.tcp, e.resolved, e.expires = a.targets, a.meta, a.tcp, now, now.Add(dnsTTL)
}

// dnsAnswer is what one lookup found.
type dnsAnswer struct {
	targets []netip.AddrPort
	meta    []srvMeta // SRV: per target (dnsEntry.meta)
	tcp     bool      // dnsSIPAuto: DNS named TCP
	srv     bool      // SRV records gave the targets
	naptr   bool      // a NAPTR record led to them
}

// resolve looks host up for kind (RFC 3263 §4): counted in DNSLookups, DNSSRV (answered through
// SRV records), DNSNAPTR (through a NAPTR record) and DNSFailures.
func (c *hostCache) resolve(ctx context.Context, host string, kind dnsKind) (dnsAnswer, error) {
	c.st.DNSLookups.Add(1)
	ctx = context.WithValue(ctx, budgetKey{}, new(int))
	var a dnsAnswer
	var err error
	if kind == dnsSIPAuto {
		a, err = c.queryAuto(ctx, host)
	} else {
		a, err = c.query(ctx, host, kind)
	}
	if err != nil {
		c.st.DNSFailures.Add(1)
		return dnsAnswer{}, err
	}
	if a.srv {
		c.st.DNSSRV.Add(1)
	}
	if a.naptr {
		c.st.DNSNAPTR.Add(1)
	}
	return a, nil
}

// query is host's targets for kind (RFC 3263 §4.2): SRV for its transport when the URI has no
// port, else (or without SRV records) A/AAAA. For TLS without a port (a sips: URI), the domain's
// SIPS+D2T NAPTR records first (§4.1: a sips: URI considers those alone), then _sips._tcp.
func (c *hostCache) query(ctx context.Context, host string, kind dnsKind) (dnsAnswer, error) {
	service, proto, port := kind.srv()
	if kind == dnsSIPTLS {
		if a, _ := c.naptrTargets(ctx, host, naptrTLS); a.naptr {
			return a, nil
		}
	}
	if service != "" {
		if a, found, err := c.srvTargets(ctx, service, proto, host); found {
			return a, err
		}
		// No SRV records (or no answer at all: a name only /etc/hosts knows): A/AAAA.
	}
	return c.hostTargets(ctx, host, port)
}

// srvTargets is the addresses of the SRV records of _service._proto.name (of name itself when
// service and proto are empty: a NAPTR replacement), in order; found is false when there are no
// records (or no SRV lookup).
func (c *hostCache) srvTargets(ctx context.Context, service, proto, name string) (a dnsAnswer, found bool, err error) {
	if c.srv == nil {
		return dnsAnswer{}, false, nil
	}
	srvName := name
	if service != "" {
		srvName = "_" + service + "._" + proto + "." + name
	}
	// Go's LookupSRV orders the records by priority, then by weight at random (RFC 2782), and
	// returns the well-formed ones with an error when others are not.
	if err := spend(ctx); err != nil {
		return dnsAnswer{}, true, err
	}
	recs, _ := c.srv(ctx, service, proto, name)
	if len(recs) == 0 {
		return dnsAnswer{}, false, nil
	}
	if len(recs) == 1 && (recs[0].Target == "." || recs[0].Target == "") {
		// RFC 2782: "." alone means the service is decidedly not available at this domain.
		return dnsAnswer{}, true, fmt.Errorf("%s SRV: service not available", srvName)
	}
	var last error
	// A target "." or port 0 among others is no server (RFC 2782); the names are looked up as the
	// absolute names they are (the resolver's search list does not apply).
	recs = slices.DeleteFunc(slices.Clone(recs), func(r SRV) bool { return r.Port == 0 || r.Target == "." || r.Target == "" })
	for i, r := range recs[:min(len(recs), dnsMaxTarget)] { // a hostile answer's thousand records: 16 looked up
		if len(a.targets) == dnsMaxTarget {
			break
		}
		tctx, cancel := context.WithTimeout(ctx, dnsTargetTimeout) // a lame target leaves the others time
		ips, err := c.addrs(tctx, r.Target)
		cancel()
		last = cmp.Or(err, last)
		for _, ip := range ips[:min(len(ips), dnsMaxTarget-len(a.targets))] {
			a.targets = append(a.targets, netip.AddrPortFrom(ip, r.Port))
			a.meta = append(a.meta, srvMeta{prio: r.Priority, weight: r.Weight, rec: uint8(i)})
		}
	}
	if len(a.targets) == 0 {
		return dnsAnswer{}, true, fmt.Errorf("no target of %s SRV resolved: %w", srvName, last)
	}
	a.srv = true
	return a, true, nil
}

// hostTargets is host's A/AAAA addresses at port.
func (c *hostCache) hostTargets(ctx context.Context, host string, port uint16) (dnsAnswer, error) {
	ips, err := c.addrs(ctx, host)
	if err != nil {
		return dnsAnswer{}, err
	}
	targets := make([]netip.AddrPort, 0, min(len(ips), dnsMaxTarget))
	for _, ip := range ips[:min(len(ips), dnsMaxTarget)] {
		targets = append(targets, netip.AddrPortFrom(ip, port))
	}
	return dnsAnswer{targets: targets}, nil
}

// addrs is host's A/AAAA answers, those of the family Herald's UDP sockets send from first, each
// family in the resolver's order: the fast path takes only the first (engine.target), the general
// path any (its TCP connects to either), so a name of the other family alone still resolves.
func (c *hostCache) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	if err := spend(ctx); err != nil {
		return nil, err
	}
	addrs, err := c.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	v6 := c.v6.Load()
	var same, other []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is6() == v6 {
			same = append(same, a)
		} else {
			other = append(other, a)
		}
	}
	if len(same)+len(other) == 0 {
		return nil, fmt.Errorf("%s: no address", host)
	}
	return append(same, other...), nil
}

// Names is the one owner of name answers (RFC 3263) for a Herald: the fast path's engine reads it
// without blocking (Config.Names), the general path (sipgo, through sip.WithTransportLayerResolver)
// waits on it (Resolve). It works without an engine too (fast_path off), so a name resolves the
// same way whichever path or mode sends toward it.
type Names struct{ c *hostCache }

// NewNames is a Names resolving with lookup (A/AAAA) and srv (SRV records in the order to try
// them; nil: no name has any), its answers aging on clock (nil: the monotonic clock) and counted in
// st's DNS counters. It gives a name's addresses of its preferred family first (IPv4, or IPv6 for
// an engine on IPv6 sockets) and those of the other after; an engine's fast path takes only the
// family its sockets send from, the general path either.
func NewNames(lookup func(ctx context.Context, host string) ([]netip.Addr, error),
	srv func(ctx context.Context, service, proto, name string) ([]SRV, error), clock wheel.Clock, st *Stats) *Names {
	if clock == nil {
		clock = wheel.NewMono()
	}
	return &Names{newHostCache(st, lookup, srv, clock)}
}

// WithNAPTR gives n its NAPTR lookup (RFC 3403; nil: no name has NAPTR records, §4.1 starts at
// SRV) and returns n. It is set before n is first used.
func (n *Names) WithNAPTR(naptr func(ctx context.Context, name string) ([]NAPTR, error)) *Names {
	n.c.naptr = naptr
	return n
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
// dnsAnswer, waiting for its lookup when none is cached (RFC 3263 §4.2 and §5: A/AAAA with port, SRV
// for the transport when port is 0, else the transport's default port; for a transport other than
// udp, tcp and tls, A/AAAA, with port 0 left for the caller's default). Its signature is sipgo's
// sip.Resolver.
func (n *Names) Resolve(ctx context.Context, transport, host string, port int) (netip.AddrPort, error) {
	if ap, isIP, err := literal(transport, host, port); isIP || err != nil {
		return ap, err
	}
	kind := kindFor(transport, port)
	if ap, _, ok := n.chosen(host, kind); ok {
		return ap, nil
	}
	return n.c.wait(ctx, host, kind, port)
}

// chosen is the target of host's dnsSIPAuto answer when the request goes over the transport it
// names (Transport chose it, so its NAPTR record's SRV targets, not _sip._udp's or _sip._tcp's).
func (n *Names) chosen(host string, kind dnsKind) (netip.AddrPort, *dnsEntry, bool) {
	if kind != dnsSIPUDP && kind != dnsSIPTCP {
		return netip.AddrPort{}, nil, false
	}
	return n.c.peek([]byte(host), kind == dnsSIPTCP)
}

// Transport is the transport DNS names toward host, "UDP" or "TCP", for a sip: URI that names
// neither transport nor port (RFC 3263 §4.1: NAPTR, else SRV per transport, else UDP); it waits
// for the lookup as Resolve does. It is "" for an IP literal or a name that does not resolve: the
// URI's default (UDP) stands, and Resolve then gives the error. Resolve toward host over the
// transport it gave answers with the targets of the records that chose it.
func (n *Names) Transport(ctx context.Context, host string) string {
	if _, isIP, err := literal("udp", host, 0); isIP || err != nil {
		return ""
	}
	_, tcp, err := n.c.waitAnswer(ctx, host, dnsSIPAuto, 0)
	switch {
	case err != nil:
		return ""
	case tcp:
		return "TCP"
	}
	return "UDP"
}

// Cached is Resolve's answer when the cache has one now (or host is an IP literal), ok false
// otherwise (a lookup is then started). It never blocks.
func (n *Names) Cached(transport, host string, port int) (netip.AddrPort, bool) {
	t, ok := n.Target(transport, host, port)
	return t.Addr, ok
}

// Target is a destination as the cache gave it: the address, and the answer it came from, whose
// other targets a request sent there fails over to (Engine.ForwardInviteTo; RFC 3263 §4.3).
type Target struct {
	Addr netip.AddrPort
	name *dnsEntry // nil: an IP literal
}

// At is the Target of an address no name gave (no other target).
func At(ap netip.AddrPort) Target { return Target{Addr: ap} }

// Target is Cached with the answer the address came from.
func (n *Names) Target(transport, host string, port int) (Target, bool) {
	if ap, isIP, err := literal(transport, host, port); isIP || err != nil {
		return Target{Addr: ap}, err == nil
	}
	kind := kindFor(transport, port)
	if ap, e, ok := n.chosen(host, kind); ok {
		return Target{ap, e}, true
	}
	ap, e, ok := n.c.get([]byte(host), kind, port)
	return Target{ap, e}, ok
}

// DownAt marks where a request for dest (host:port, port 0: none named) over transport went down
// (RFC 3263 §4.3): at, the address it was sent to (sipgo's resolved address), else, when at is not
// valid, the target its name answers now, is skipped for dnsDownFor (an IP literal is not marked:
// it has no other target). For a request that could not be sent (its connection refused or
// unreachable) or went unanswered. It reports whether the name now answers another target, where
// the request may go at once (counted in DNSFailovers). Marking at, not the name's answer now,
// keeps a second call silent at a dead target from marking the live one the first call moved to.
func (n *Names) DownAt(transport, dest string, at netip.AddrPort) bool {
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
	if at.IsValid() {
		ap = netip.AddrPortFrom(at.Addr().Unmap(), at.Port())
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
