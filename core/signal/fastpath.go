package signal

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/wheel"
)

// The fast path: plain calls (no card either way, no ringback) that arrive and leave over UDP are
// proxied here, inside sipgo's UDP read loop (its transport read filter), instead of through sipgo's
// parser, transaction layer and a goroutine per message. It is a transaction-stateful, record-routing
// proxy (RFC 3261 §16) for INVITE, its CANCEL and ACK, and the in-dialog BYE and INFO: Herald's own
// scanner (fastmsg.go), one table of transactions keyed by branch, byte-level rewriting (Herald's
// Via and Record-Route on top, a Route popped, Max-Forwards decremented; everything else forwarded
// as received) and a timing wheel for the RFC 3261 timers (fastwheel.go).
//
// Everything else, and anything the scanner or these checks do not accept as ordinary, is handed to
// sipgo exactly as before: calls with a card or ringback, TCP and TLS on either side, names that need
// DNS, an INVITE that would outgrow UDP, untrusted peers, Max-Forwards at 1 or absent, a Call-ID
// in use, Proxy-Require, malformed messages. The decision is made per message from its content, so
// retransmissions take the same way as the original.

// maxTxFactor bounds the transactions the fast path holds at this many times Options.MaxCalls. A
// finished transaction is kept 64·T1 (32 s) to absorb retransmissions, so the table grows with the
// call rate, not with the calls in progress: with the default 10,000 calls the bound is 640,000
// transactions (≈ 0.5 GB), enough for 10,000 calls/s sustained (an INVITE and a BYE each). Above
// it new INVITEs and in-dialog requests are answered 503 without state and counted.
const maxTxFactor = 64

// fastPrefix starts the branch of every request the fast path sends; the rest is the transaction's
// id in hex. sipgo's branches are z9hG4bK. followed by random letters, so the two never collide.
const fastPrefix = "z9hG4bKhrld"

// Fast transaction states.
const (
	fsCalling    = iota // forwarded, nothing back yet
	fsProceeding        // a provisional came back
	fsCompleted         // a final non-2xx went upstream (INVITE: until the ACK; non-INVITE: Timer J)
	fsAccepted          // a 2xx went upstream (RFC 6026): absorbs INVITE retransmissions, relays 2xx ones
)

// ftx is one fast transaction: the server transaction toward the upstream peer and the client
// transaction toward the next hop, as one object. Guarded by fastPath.mu.
type ftx struct {
	id     uint64
	invite bool
	state  int
	branch string // upstream branch (key of fastPath.inv / nonInv)
	callID string // INVITE: key of fastPath.calls until the call ends
	up     netip.AddrPort
	down   netip.AddrPort
	conn   *fconn

	fwd  []byte // the request as forwarded (retransmissions; CANCEL and ACK are built from it)
	last []byte // the response last sent upstream (answers a retransmitted request; Timer G)
	ack  []byte // the ACK sent downstream for a non-2xx (sent again for a retransmitted final)
	cncl []byte // Herald's CANCEL downstream while unanswered

	okTag     string // To tag of the 2xx relayed upstream: the dialog whose ACKs the fast path forwards
	cseq      uint32 // the INVITE's CSeq number (its 2xx's ACK has the same)
	tag       string // To tag of Herald's own final response (487 and the CANCEL's 200 share it)
	sentUp    bool   // a response (100 included) went upstream
	gotProv   bool   // a provisional came back from downstream (a CANCEL may go, RFC 3261 §9.1)
	final     int    // status of the final response sent upstream, 0 before
	canceled  bool   // the caller cancelled, or Timer C fired: Herald sent CANCEL downstream
	ended     bool   // the call was counted done
	born      int64  // INVITE: f.now() when it arrived (call-setup histogram, call line)
	ivRetrans int64
	ivFinal   int64
	ivCancel  int64
	t         [numTimers]int64 // deadlines in ns since fastPath.base; 0 = off

	wn wheel.Node[*ftx] // in fastPath.w at due()
}

// fconn is a UDP socket Herald serves; the fast path answers and forwards from the socket a
// message came in on.
type fconn struct {
	pc   net.PacketConn
	udp  *net.UDPConn // pc itself when it is one: sends without allocating an address
	sock UDPSocket    // nil in benchmarks that feed the fast path directly
	// trace is Options.WireTrace, set before the socket is served.
	trace func(dir, transport, peer string, msg []byte)
}

func (c *fconn) send(b []byte, to netip.AddrPort) error {
	if c.trace != nil {
		c.trace("send", "UDP", to.String(), b)
	}
	if c.udp != nil {
		_, err := c.udp.WriteToUDPAddrPort(b, to)
		return err
	}
	_, err := c.pc.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}

// fsend is a datagram to send once fastPath.mu is released.
type fsend struct {
	c  *fconn
	b  []byte
	to netip.AddrPort
}

// FastStats are the fast path's counters (part of Stats).
type FastStats struct {
	// Calls is the calls proxied on the fast path; Fallbacks the new INVITEs it handed to the
	// general path (a card or ringback, TCP/TLS, DNS, size, trust, Max-Forwards, ...).
	Calls, Fallbacks atomic.Uint64
	// InDialog is the in-dialog requests (ACK for 2xx, BYE, INFO) it forwarded.
	InDialog atomic.Uint64
	// Retransmissions is the requests and responses it sent again on a timer (A, E, G) or for a
	// retransmitted request; Absorbed the retransmissions it answered without forwarding.
	Retransmissions, Absorbed atomic.Uint64
	// Timeouts is the transactions that ended without a final response downstream (Timer B, F, C).
	Timeouts atomic.Uint64
	// Stray is the responses to a fast-path branch that matched no transaction (a 2xx is relayed
	// statelessly, anything else dropped).
	Stray atomic.Uint64
	// SendErrors is the datagrams the socket refused.
	SendErrors atomic.Uint64
	// Unreadable is the responses naming a fast-path branch that neither the scanner nor sipgo's
	// parser could read (left to sipgo, which drops them).
	Unreadable atomic.Uint64
	// DNSLookups is the background A/AAAA lookups of Route and next-hop names (fastdns.go);
	// DNSFailures those that failed; DNSFull the requests that took the general path because the
	// name cache was full.
	DNSLookups, DNSFailures, DNSFull atomic.Uint64
	// Overload is the requests answered 503 because the fast path held its limit of transactions
	// (maxTxFactor × MaxCalls).
	Overload atomic.Uint64
	// Verdicts counts every datagram offered to the fast path by the reason of its verdict
	// (fastverdict.go): kept (fast), dropped, or handed to the general path.
	Verdicts [numReasons]atomic.Uint64
}

type fastPath struct {
	s     *Server
	t1    int64
	t2    int64
	tick  int64
	clock wheel.Clock // Options.Clock: every instant of the fast path (timers, call durations)
	seed  maphash.Seed

	dns *hostCache

	conns atomic.Pointer[[]*fconn]

	mu     sync.Mutex
	inv    map[string]*ftx // INVITE transactions by upstream branch
	nonInv map[string]*ftx // BYE/INFO transactions by upstream branch
	out    map[uint64]*ftx // every transaction by Herald's branch id
	// dialogs are the calls answered 2xx in the last 64·T1, by Call-ID: the ACKs for their 2xx
	// (same Call-ID, the 2xx's To tag) are forwarded here; any other ACK without a fast transaction
	// goes to sipgo, whose server transaction may be waiting for it (the ACK of a non-2xx it sent).
	dialogs map[string]*ftx
	// own482 are the transaction keys of the 482s the fast path answered without state, two
	// generations of 64·T1: the caller's ACK for one ends here.
	own482   [2]map[string]struct{}
	own482At int64
	w        *wheel.Wheel[*ftx]
	due      []*wheel.Node[*ftx]

	nextID atomic.Uint64
	active atomic.Int64
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newFastPath(s *Server) *fastPath {
	f := &fastPath{
		s: s, t1: int64(s.opts.T1), t2: int64(s.opts.T2), clock: s.opts.Clock, seed: maphash.MakeSeed(),
		inv: map[string]*ftx{}, nonInv: map[string]*ftx{}, out: map[uint64]*ftx{},
		dialogs: map[string]*ftx{}, own482: [2]map[string]struct{}{{}, {}},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	f.nextID.Store(rand.Uint64() >> 16)
	if f.t2 <= 0 {
		f.t2 = 8 * f.t1 // RFC 3261: T2 4 s with T1 500 ms
	}
	f.tick = int64(10 * time.Millisecond)
	if q := f.t1 / 4; q < f.tick {
		f.tick = max(q, int64(time.Millisecond))
	}
	if f.clock == nil {
		f.clock = wheel.NewMono()
	}
	f.w = wheel.New[*ftx](time.Duration(f.tick), wheelSlots, f.now())
	f.dns = newHostCache(&s.Stats.Fast)
	if _, stepped := f.clock.(*wheel.Manual); stepped {
		close(f.done) // a stepped clock's owner runs the timers (tickSafe) after each step
	} else {
		go f.run()
	}
	return f
}

func (f *fastPath) close() {
	f.once.Do(func() { close(f.stop) })
	<-f.done
	f.dns.wg.Wait()
}

// target is the UDP destination a URI names: its IP literal, or its name's cached address when it
// has an explicit port (RFC 3263 §4.2: A/AAAA only). ok is false for another transport, a name
// without a port (NAPTR/SRV) or one not cached yet: the general path sends those.
func (f *fastPath) target(u sipURI) (netip.AddrPort, bool) {
	if len(u.transport) > 0 && !equalFold(u.transport, "udp") {
		return netip.AddrPort{}, false
	}
	port := u.port
	if ip, err := netip.ParseAddr(string(u.host)); err == nil {
		if ip.Zone() != "" {
			return netip.AddrPort{}, false
		}
		if port == 0 {
			port = 5060
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
	}
	if port == 0 {
		return netip.AddrPort{}, false
	}
	ip, ok := f.dns.get(u.host)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(port)), true
}

func (f *fastPath) now() int64 { return f.clock.Now() }

// addConn registers a UDP socket Herald serves.
func (f *fastPath) addConn(pc net.PacketConn, sock UDPSocket) *fconn {
	c := &fconn{pc: pc, sock: sock}
	c.udp, _ = pc.(*net.UDPConn)
	if a, ok := pc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil && !a.IP.IsUnspecified() {
		f.dns.mu.Lock()
		f.dns.v6 = true // an IPv6-only socket: resolve names to IPv6 addresses
		f.dns.mu.Unlock()
	}
	for {
		old := f.conns.Load()
		var next []*fconn
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, c)
		if f.conns.CompareAndSwap(old, &next) {
			return c
		}
	}
}

// take offers the fast path a datagram read from c's socket and returns why it kept it or not
// (Reason.Verdict: fast, drop, or general, which gets the datagram).
func (f *fastPath) take(m *fmsg, data []byte, src netip.AddrPort, c *fconn) Reason {
	if !m.scan(data) {
		// A response to one of the fast path's requests must reach its transaction even when the
		// next hop formats it in a way the scanner refuses (folded lines, compact oddities): read
		// it with sipgo's parser, print it canonically and scan that.
		if !bytes.HasPrefix(data, []byte("SIP/2.0 ")) {
			return f.rejectEarly(data, src, c)
		}
		if !bytes.Contains(data, []byte(fastPrefix)) {
			return ReasonUnscanned
		}
		norm := f.normalize(data)
		if norm == nil || !m.scan(norm) {
			f.s.Stats.Fast.Unreadable.Add(1)
			return ReasonUnreadable
		}
	}
	return f.handle(m, src, c)
}

// rejectEarly answers from c a request sipgo could not key a transaction by (precheck.go)
// (ReasonAnswered); the general path gets the others.
func (f *fastPath) rejectEarly(data []byte, src netip.AddrPort, c *fconn) Reason {
	res := earlyReject(data)
	if res == nil || c == nil {
		return ReasonUnscanned
	}
	f.s.Stats.BadRequests.Add(1)
	if err := c.send(res, src); err != nil {
		f.s.Stats.Fast.SendErrors.Add(1)
	}
	return ReasonAnswered
}

// tagOf is the tag parameter of a To (or From) value, nil when it has none.
func tagOf(v []byte) []byte {
	_, params, ok := nameAddr(v)
	if !ok {
		return nil
	}
	for len(params) > 0 {
		i := bytes.IndexByte(params, ';')
		if i < 0 {
			return nil
		}
		params = params[i+1:]
		p := params
		if e := bytes.IndexByte(p, ';'); e >= 0 {
			p = p[:e]
		}
		if k, v, ok := bytes.Cut(trimBlanks(p), []byte("=")); ok && equalFold(trimBlanks(k), "tag") {
			return trimBlanks(v)
		}
	}
	return nil
}

// normalize is a response as sipgo reads and prints it, nil when sipgo cannot read it.
func (f *fastPath) normalize(data []byte) []byte {
	msg, err := sip.NewParser(sip.WithHeadersParsers(headerParsers())).ParseSIP(data)
	if err != nil {
		return nil
	}
	res, ok := msg.(*sip.Response)
	if !ok || unparsed(res) != "" {
		return nil
	}
	return []byte(res.String())
}

func (f *fastPath) handle(m *fmsg, src netip.AddrPort, c *fconn) Reason {
	if !m.isReq {
		return f.onResponse(m)
	}
	switch m.method {
	case mINVITE:
		if m.toTag {
			return ReasonMethod // re-INVITE: the general path
		}
		return f.onInvite(m, src, c)
	case mACK:
		return f.onAck(m, src, c)
	case mCANCEL:
		return f.onCancel(m, src, c)
	case mBYE, mINFO:
		if !m.toTag {
			return ReasonOutOfDialog
		}
		return f.onInDialog(m, src, c)
	}
	return ReasonMethod
}

// flush sends what was queued under the lock.
func (f *fastPath) flush(q []fsend) {
	for _, d := range q {
		if len(d.b) == 0 {
			continue
		}
		if err := d.c.send(d.b, d.to); err != nil {
			f.s.Stats.Fast.SendErrors.Add(1)
			f.s.log.Debug("fast path send", "to", d.to.String(), "error", err)
		}
	}
}

// ---- requests ----

// route is the forwarding decision for a request: how many Route entries are Herald's (popped) and
// where the request goes.
type route struct {
	pop     int
	dst     netip.AddrPort
	general bool // a popped Route of Herald's names the general path's dialog (route.go dialogParam)
}

// routeOf pops Herald's own Routes and picks the next hop: the next Route, else (INVITE) the
// configured next hop or (in-dialog) the Request-URI. ok is false when that is not a UDP IP literal,
// or the request is addressed to Herald itself with nothing onward.
func (f *fastPath) routeOf(m *fmsg, invite bool) (route, bool) {
	var r route
	var next []byte
	ok := true
	m.eachRoute(func(uri []byte) bool {
		u, good := parseSIPURI(uri)
		if !good {
			if next == nil && hasPrefixFold(uri, "sips:") {
				ok = false
			}
			next = uri
			return false
		}
		if f.isSelf(u) {
			r.pop++
			r.general = r.general || u.general
			return true
		}
		next = uri
		return false
	})
	if !ok {
		return r, false
	}
	if next != nil {
		u, good := parseSIPURI(next)
		if !good || !u.lr {
			return r, false // strict routing or another scheme: the general path
		}
		dst, good := f.target(u)
		r.dst = dst
		return r, good
	}
	if invite {
		l := f.s.live.Load() // the configured next hop, when it is over UDP (Server.Reload)
		if !l.fastNextHopOK {
			return r, false
		}
		dst, good := f.target(l.fastNextHop)
		r.dst = dst
		return r, good
	}
	u, good := parseSIPURI(m.ruri.of(m.buf))
	if !good || f.isSelf(u) {
		return r, false
	}
	dst, good := f.target(u)
	r.dst = dst
	return r, good
}

// isSelf is Server.isSelf for a scanned URI: the same rule (isSelfAt) on its bytes.
func (f *fastPath) isSelf(u sipURI) bool {
	def := 5060
	if equalFold(u.transport, "tls") {
		def = 5061
	}
	return isSelfAt(f.s, u.host, u.port, def)
}

// eachRoute calls fn with the URI of each Route entry, top first, until fn returns false.
func (m *fmsg) eachRoute(fn func(uri []byte) bool) {
	if m.at[hRoute] < 0 {
		return
	}
	for i := int(m.at[hRoute]); i < m.n; i++ {
		if m.hdr[i].id != hRoute {
			continue
		}
		v := m.hdr[i].val.of(m.buf)
		for len(v) > 0 {
			e := entryEnd(v)
			uri, _, ok := nameAddr(trimBlanks(v[:e]))
			if !ok {
				fn(v[:e])
				return
			}
			if !fn(uri) {
				return
			}
			if e == len(v) {
				break
			}
			v = v[e+1:]
		}
	}
}

// entryEnd is the end of the first entry of a comma-separated name-addr list (a comma outside
// quotes and angle brackets), len(v) when there is one entry.
func entryEnd(v []byte) int {
	inQ, inA := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && inQ:
			i++
		case c == '"':
			inQ = !inQ
		case c == '<' && !inQ:
			inA = true
		case c == '>' && !inQ:
			inA = false
		case c == ',' && !inQ && !inA:
			return i
		}
	}
	return len(v)
}

// forwardRequest writes the request m as Herald forwards it: Herald's Via (branch) and, for an
// INVITE, its Record-Route on top; r.pop Route entries removed; Max-Forwards decremented; the
// caller's top Via given received and rport when it asked for rport (RFC 3581); everything else,
// body included, byte for byte.
func (f *fastPath) forwardRequest(m *fmsg, src netip.AddrPort, r route, branch []byte, recordRoute bool) []byte {
	buf := m.buf
	b := make([]byte, 0, len(buf)+160)
	b = append(b, buf[m.start.a:m.start.b]...)
	b = f.appendVia(b, branch)
	if recordRoute {
		b = append(b, "Record-Route: <sip:"...)
		b = appendHostPort(b, f.s.opts.Host, f.s.portFor(tpUDP))
		b = append(b, ";lr>\r\n"...)
	}
	pop := r.pop
	firstVia := true
	for i := 0; i < m.n; i++ {
		h := &m.hdr[i]
		switch {
		case h.id == hVia && firstVia:
			firstVia = false
			b = appendViaLine(b, m, h, src)
		case h.id == hMaxFwd:
			b = append(b, "Max-Forwards: "...)
			b = strconv.AppendInt(b, int64(m.mf-1), 10)
			b = append(b, '\r', '\n')
		case h.id == hRoute && pop > 0:
			v := h.val.of(buf)
			for pop > 0 && len(v) > 0 {
				e := entryEnd(v)
				pop--
				if e == len(v) {
					v = nil
				} else {
					v = trimBlanks(v[e+1:])
				}
			}
			if len(v) > 0 {
				b = append(b, "Route: "...)
				b = append(b, v...)
				b = append(b, '\r', '\n')
			}
		default:
			b = append(b, buf[h.line.a:h.line.b]...)
		}
	}
	b = append(b, '\r', '\n')
	return append(b, buf[m.body:]...)
}

// appendViaLine copies the first Via line, with received and rport filled in when the top value
// has a bare rport (RFC 3581 §4; sipgo's proxying did the same).
func appendViaLine(b []byte, m *fmsg, h *hline, src netip.AddrPort) []byte {
	if m.rport.empty() {
		return append(b, m.buf[h.line.a:h.line.b]...)
	}
	b = append(b, m.buf[h.line.a:m.rport.b]...)
	b = append(b, '=')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, m.buf[m.rport.b:m.viaEnd]...)
	b = append(b, ";received="...)
	b = src.Addr().AppendTo(b)
	return append(b, m.buf[m.viaEnd:h.line.b]...)
}

func (f *fastPath) appendVia(b, branch []byte) []byte {
	b = append(b, "Via: SIP/2.0/UDP "...)
	b = appendHostPort(b, f.s.opts.Host, f.s.portFor(tpUDP))
	b = append(b, ";branch="...)
	b = append(b, branch...)
	return append(b, '\r', '\n')
}

func appendHostPort(b []byte, host string, port int) []byte {
	if bytes.IndexByte([]byte(host), ':') >= 0 && host[0] != '[' {
		b = append(b, '[')
		b = append(b, host...)
		b = append(b, ']')
	} else {
		b = append(b, host...)
	}
	if port > 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(port), 10)
	}
	return b
}

func (f *fastPath) branchOf(id uint64) []byte {
	b := make([]byte, 0, len(fastPrefix)+16)
	b = append(b, fastPrefix...)
	return strconv.AppendUint(b, id, 16)
}

// idOf reads the transaction id of a fast-path branch, ok false for any other branch.
func idOf(branch []byte) (uint64, bool) {
	if len(branch) <= len(fastPrefix) || string(branch[:len(fastPrefix)]) != fastPrefix {
		return 0, false
	}
	id, err := strconv.ParseUint(string(branch[len(fastPrefix):]), 16, 64)
	return id, err == nil
}

// plain reports whether the call's plan is plain forwarding: call.Decide, the rule the general
// path executes, on the same parties, and Plan.Plain. Of the caller's capabilities only 100rel
// (Supported or Require, RFC 3262) changes whether a plan is plain (no ringback without it), so
// that is all the fast path reads.
func (f *fastPath) plain(m *fmsg) bool {
	caller := m.value(hFrom)
	if m.at[hPAI] >= 0 {
		caller = []byte(firstNameAddr(string(m.value(hPAI))))
	}
	caps := call.Caps{Reliable1xx: m.hasOptionTag(hSupported, "100rel") || m.hasOptionTag(hRequire, "100rel")}
	plan := call.Decide(f.s.partyFor(string(caller)), f.s.partyFor(string(m.ruri.of(m.buf))), caps, f.s.opts.Probe)
	return plan.Plain()
}

// hasOptionTag reports whether any line of the header id (Supported or Require) lists tag, a
// lower-case option tag (RFC 3261 §20.37, §20.32: comma-separated, case-insensitive).
func (m *fmsg) hasOptionTag(id hdrID, tag string) bool {
	if m.at[id] < 0 {
		return false
	}
	for i := int(m.at[id]); i < m.n; i++ {
		if m.hdr[i].id != id {
			continue
		}
		for v := m.hdr[i].val.of(m.buf); len(v) > 0; {
			t := v
			if c := bytes.IndexByte(v, ','); c >= 0 {
				t, v = v[:c], v[c+1:]
			} else {
				v = nil
			}
			if equalFold(trimBlanks(t), tag) {
				return true
			}
		}
	}
	return false
}

func (f *fastPath) onInvite(m *fmsg, src netip.AddrPort, c *fconn) Reason {
	var kb [160]byte
	var q [2]fsend
	n := 0
	f.lock(m)
	fire(&hookFastLocked, m)
	if tx := f.inv[string(m.txKey(kb[:0]))]; tx != nil {
		// A retransmission: the last response again, if any (RFC 3261 §17.2.1).
		if tx.last != nil && tx.state != fsAccepted {
			q[0] = fsend{tx.conn, tx.last, tx.up}
			n = 1
		}
		f.unlock(m)
		f.s.Stats.Fast.Absorbed.Add(1)
		f.flush(q[:n])
		return ReasonAbsorbed
	}
	f.unlock(m)

	s := f.s
	switch {
	case m.mf <= 1:
		return f.fallback(ReasonMaxForwards)
	case m.proxyRq:
		return f.fallback(ReasonProxyRequire)
	case !s.trustedAddr(src.Addr()):
		return f.fallback(ReasonUntrusted)
	}
	r, ok := f.routeOf(m, true)
	if !ok {
		return f.fallback(ReasonRoute)
	}
	if !f.plain(m) {
		return f.fallback(ReasonNotPlain)
	}
	callID := string(m.value(hCallID))
	if s.adm.lookup(callID).ctl != nil || s.adm.len() >= s.live.Load().maxCalls {
		return f.fallback(ReasonAdmission) // the general path answers 482 or 503 (and counts it)
	}
	if s.draining.Load() {
		// A drain (Server.Drain): the previous hop tries another instance.
		s.Stats.Invites.Add(1)
		s.Stats.Rejected503.Add(1)
		f.flush([]fsend{{c, appendAnswer(nil, m, src, false, 503, "Service Unavailable", "Retry-After: "+drainRetryAfter+"\r\n", ""), src}})
		return ReasonAnswered
	}

	tx := &ftx{id: f.nextID.Add(1), invite: true, branch: string(m.txKey(nil)), callID: callID, cseq: m.cseq, up: src, down: r.dst, conn: c, born: f.now()}
	tx.fwd = f.forwardRequest(m, src, r, f.branchOf(tx.id), s.opts.RecordRoute)
	if len(tx.fwd) > s.opts.UDPMaxRequest {
		return f.fallback(ReasonSize) // RFC 3261 §18.1.1: the general path sends it over TCP
	}

	f.lock(m)
	if f.inv[tx.branch] != nil {
		f.unlock(m) // the same INVITE, read twice at once from two sockets
		f.s.Stats.Fast.Absorbed.Add(1)
		return ReasonAbsorbed
	}
	if len(f.out) >= maxTxFactor*s.live.Load().maxCalls {
		f.unlock(m)
		s.Stats.Invites.Add(1)
		s.Stats.Fast.Overload.Add(1)
		s.Stats.Rejected503.Add(1)
		f.flush([]fsend{{c, appendAnswer(nil, m, src, false, 503, "Service Unavailable", "Retry-After: 5\r\n", ""), src}})
		return ReasonAnswered
	}
	switch s.adm.admit(callID, admitted{fast: tx}, s.live.Load().maxCalls) {
	case admitFull:
		f.unlock(m)
		return f.fallback(ReasonAdmission) // the general path answers 503 (and counts it)
	case admitLoop:
		if s.adm.lookup(callID).ctl != nil {
			f.unlock(m)
			return f.fallback(ReasonAdmission) // the general path's call: it answers 482
		}
		// A second INVITE with the Call-ID of a fast call and a new branch: a loop or a spiral
		// back to us.
		f.own482[0][tx.branch] = struct{}{}
		f.unlock(m)
		s.Stats.Invites.Add(1)
		f.flush([]fsend{{c, answer(m, src, 482, "Loop Detected", ""), src}})
		return ReasonAnswered
	}
	f.inv[tx.branch] = tx
	f.out[tx.id] = tx
	now := f.now()
	tx.ivRetrans = f.t1
	tx.t[tRetransmit] = now + f.t1
	tx.t[tNoAnswer] = now + 64*f.t1
	tx.t[tTrying] = now + int64(sip.Timer_1xx)
	tx.t[tTimerC] = now + int64(s.opts.TimerC) // RFC 3261 §16.6 step 11: from the forwarding on
	f.relink(tx)
	f.active.Add(1)
	s.active.Add(1)
	fwd := tx.fwd
	f.unlock(m)

	s.Stats.Invites.Add(1)
	s.Stats.Forwarded.Add(1)
	s.Stats.Fast.Calls.Add(1)
	if s.tracing() {
		s.trace("herald: INVITE %s: no card, no ringback: forwarded on the fast path", m.ruri.of(m.buf))
	}
	if err := c.send(fwd, r.dst); err != nil {
		// RFC 3261 §16.9: a transport error is a 503 from the next hop.
		s.Stats.ForwardErrors.Add(1)
		s.log.Warn("forward INVITE", "call_id", callID, "error", err)
		f.lock(m)
		q := f.answerUp(tx, 503, "Service Unavailable", "Retry-After: 5\r\n", nil)
		f.unlock(m)
		f.flush(q)
	}
	return ReasonForwarded
}

func (f *fastPath) fallback(r Reason) Reason {
	f.s.Stats.Fast.Fallbacks.Add(1)
	return r
}

// appendAnswer appends Herald's own response to the request m (RFC 3261 §8.2.6.2): the status
// line; m's Via lines (the first as forwarded, with received and rport; or, when m is a request
// Herald forwarded, without Herald's Via on top), From, Call-ID and CSeq; its To with a tag when m had
// none and the response is final; extra header lines; an empty body.
func appendAnswer(b []byte, m *fmsg, src netip.AddrPort, forwarded bool, code int, reason, extra, tag string) []byte {
	b = append(b, "SIP/2.0 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, '\r', '\n')
	top := true
	var to *hline
	for i := 0; i < m.n; i++ {
		h := &m.hdr[i]
		switch h.id {
		case hVia:
			if top {
				top = false
				if forwarded {
					continue // Herald's own
				}
				b = appendViaLine(b, m, h, src)
				continue
			}
			fallthrough
		case hFrom, hCallID, hCSeq:
			b = append(b, m.buf[h.line.a:h.line.b]...)
		case hTo:
			to = h
		}
	}
	b = append(b, m.buf[to.line.a:to.line.b-2]...)
	if code > 100 && !m.toTag {
		if tag == "" {
			tag = newTag()
		}
		b = append(b, ";tag="...)
		b = append(b, tag...)
	}
	b = append(b, '\r', '\n')
	b = append(b, extra...)
	return append(b, "Content-Length: 0\r\n\r\n"...)
}

// answer is Herald's own response to the request m.
func answer(m *fmsg, src netip.AddrPort, code int, reason, tag string) []byte {
	return appendAnswer(make([]byte, 0, len(m.buf)/2+128), m, src, false, code, reason, "", tag)
}

// answerFwd is Herald's own response to the request it forwarded as fwd, nil if fwd is gone.
func answerFwd(fwd []byte, code int, reason, extra, tag string) []byte {
	var m fmsg
	if fwd == nil || !m.scan(fwd) {
		return nil
	}
	return appendAnswer(make([]byte, 0, len(fwd)/2+128), &m, netip.AddrPort{}, true, code, reason, extra, tag)
}

// newTag is a random To tag (RFC 3261 §19.3).
func newTag() string {
	var t [8]byte
	r := rand.Uint64()
	for i := range t {
		t[i] = byte(r >> (8 * i))
	}
	return hex.EncodeToString(t[:])
}

// answerUp sends Herald's own final (or 100) response to the INVITE of tx upstream. Under f.mu.
func (f *fastPath) answerUp(tx *ftx, code int, reason, extra string, q []fsend) []fsend {
	res := answerFwd(tx.fwd, code, reason, extra, tx.tag)
	if res == nil {
		return q
	}
	tx.sentUp = true
	if code >= 200 {
		f.finalUp(tx, code, res)
	}
	return append(q, fsend{tx.conn, res, tx.up})
}

// finalUp records the final response of an INVITE transaction sent upstream: the call is over for
// Herald. Under f.mu.
func (f *fastPath) finalUp(tx *ftx, code int, res []byte) {
	tx.final = code
	now := f.now()
	if f.s.hist != nil { // nil only in a Server built without New (unit tests)
		f.s.hist.final.Observe(time.Duration(now - tx.born).Seconds())
	}
	tx.t[tTrying], tx.t[tTimerC], tx.t[tNoAnswer] = 0, 0, 0
	if code < 300 {
		tx.state = fsAccepted
		tx.last = nil
		f.dialogs[tx.callID] = tx
		tx.t[tEnd] = now + 64*f.t1
		if !tx.canceled {
			tx.fwd = nil
		}
	} else {
		tx.state = fsCompleted
		tx.last = res
		tx.ivFinal = f.t1
		tx.t[tFinal] = now + f.t1  // Timer G
		tx.t[tEnd] = now + 64*f.t1 // Timer H (and D downstream)
	}
	f.relink(tx)
	f.endCall(tx)
}

// endCall counts the call done and frees its Call-ID. Under f.mu.
func (f *fastPath) endCall(tx *ftx) {
	if tx.ended {
		return
	}
	tx.ended = true
	f.s.adm.release(tx.callID, admitted{fast: tx})
	f.active.Add(-1)
	f.s.active.Add(-1)
	f.s.Stats.CallsDone.Add(1)
	// The call's one info line (callrecord.go has the controller's): the fast path carries calls
	// Herald pushes nothing into, so pushes is 0 and there is no ringback.
	if f.s.log != nil && f.s.log.Enabled(context.Background(), slog.LevelInfo) {
		outcome := "none" // ended by a timer or a transport error before any final response
		if tx.final != 0 {
			outcome = strconv.Itoa(tx.final)
		}
		f.s.log.Info("call finished", "call_id", tx.callID, "outcome", outcome, "pushes", 0, "ringback", false,
			"duration", time.Duration(f.now()-tx.born).Round(time.Microsecond).String(), "path", "fast")
	}
}

// forget removes tx from every table. Under f.mu.
func (f *fastPath) forget(tx *ftx) {
	f.w.Remove(&tx.wn)
	if tx.invite {
		if f.inv[tx.branch] == tx {
			delete(f.inv, tx.branch)
		}
		f.endCall(tx)
		if f.dialogs[tx.callID] == tx {
			delete(f.dialogs, tx.callID)
		}
	} else if f.nonInv[tx.branch] == tx {
		delete(f.nonInv, tx.branch)
	}
	delete(f.out, tx.id)
}

// onAck absorbs the ACK for a non-2xx Herald sent upstream, and forwards an ACK for a 2xx
// statelessly along its Route (it is its own transaction, RFC 3261 §17.1.1.3).
func (f *fastPath) onAck(m *fmsg, src netip.AddrPort, c *fconn) Reason {
	var kb [160]byte
	f.lock(m)
	if tx := f.inv[string(m.txKey(kb[:0]))]; tx != nil && tx.state != fsAccepted {
		if tx.state == fsCompleted && tx.t[tFinal] != 0 {
			tx.t[tFinal] = 0 // Timer G stops; tEnd (H, and D downstream) still bounds the state
			f.relink(tx)
		}
		f.unlock(m)
		f.s.Stats.Fast.Absorbed.Add(1)
		return ReasonAbsorbed
	}
	key := m.txKey(kb[:0])
	_, mine := f.own482[0][string(key)]
	if !mine {
		_, mine = f.own482[1][string(key)]
	}
	d := f.dialogs[string(m.value(hCallID))]
	// The ACK for that INVITE's 2xx: same dialog and CSeq number (the ACK of a later re-INVITE,
	// which sipgo proxies, has a higher one, and if it acknowledges a non-2xx it must end there).
	ours := d != nil && d.cseq == m.cseq && d.okTag == string(tagOf(m.value(hTo)))
	f.unlock(m)
	if mine {
		f.s.Stats.Fast.Absorbed.Add(1)
		return ReasonAbsorbed // the ACK for the fast path's own 482
	}
	if !ours || m.mf < 0 {
		// Not the ACK for a 2xx the fast path relayed: it may be the ACK for a non-2xx one of sipgo's
		// server transactions is retransmitting (RFC 3261 §17.2.1), which must end there.
		return ReasonNoTransaction
	}
	r, ok := f.routeOf(m, false)
	if !ok {
		return ReasonRoute
	}
	if m.mf <= 1 {
		return ReasonHopLimit // dropped, as the general path does
	}
	// Stateless forwarding: the branch is derived from the upstream one, so a retransmitted ACK
	// leaves with the same branch (RFC 3261 §16.11).
	h := maphash.Bytes(f.seed, m.branch.of(m.buf))
	b := make([]byte, 0, len(fastPrefix)+18)
	b = append(b, fastPrefix...)
	b = append(b, 'a')
	b = strconv.AppendUint(b, h, 16)
	fwd := f.forwardRequest(m, src, r, b, false)
	f.s.Stats.Fast.InDialog.Add(1)
	f.flush([]fsend{{c, fwd, r.dst}})
	return ReasonForwarded
}

// onCancel answers a CANCEL for a fast INVITE: 200 to the CANCEL, 487 to the INVITE when it has no
// final response yet, and CANCEL downstream (RFC 3261 §16.10). Any other CANCEL goes to sipgo.
func (f *fastPath) onCancel(m *fmsg, src netip.AddrPort, c *fconn) Reason {
	var kb [160]byte
	f.lock(m)
	tx := f.inv[string(m.txKey(kb[:0]))]
	if tx == nil {
		f.unlock(m)
		return ReasonNoTransaction
	}
	if tx.tag == "" {
		tx.tag = newTag()
	}
	q := []fsend{{c, answer(m, src, 200, "OK", tx.tag), src}}
	if tx.final == 0 {
		q = f.answerUp(tx, 487, "Request Terminated", "", q)
		q = f.cancelDown(tx, q)
		f.s.Stats.Cancels.Add(1)
		if f.s.tracing() {
			f.s.trace("herald: caller CANCEL: CANCEL toward the callee (fast path)")
		}
	}
	f.unlock(m)
	f.flush(q)
	return ReasonAnswered
}

// cancelDown sends CANCEL for tx's forwarded INVITE and retransmits it until answered. Under f.mu.
func (f *fastPath) cancelDown(tx *ftx, q []fsend) []fsend {
	if tx.canceled || tx.fwd == nil {
		return q
	}
	tx.canceled = true
	tx.cncl = hopRequest(tx.fwd, "CANCEL", nil)
	if tx.cncl == nil {
		return q
	}
	now := f.now()
	if tx.t[tEnd] == 0 || tx.t[tEnd] < now+64*f.t1 {
		tx.t[tEnd] = now + 64*f.t1
	}
	if !tx.gotProv {
		// RFC 3261 §9.1: no CANCEL before a provisional response; the INVITE keeps being
		// retransmitted (Timer A) until one comes, and the CANCEL goes then.
		f.relink(tx)
		return q
	}
	return f.sendCancel(tx, now, q)
}

// sendCancel sends Herald's CANCEL downstream and starts its retransmissions. Under f.mu.
func (f *fastPath) sendCancel(tx *ftx, now int64, q []fsend) []fsend {
	tx.ivCancel = f.t1
	tx.t[tCancel] = now + f.t1
	f.relink(tx)
	return append(q, fsend{tx.conn, tx.cncl, tx.down})
}

// hopRequest builds the CANCEL, or the ACK for a non-2xx, of a forwarded INVITE (RFC 3261 §9.1,
// §17.1.1.3): its Request-URI, top Via, Route set, From, Call-ID and CSeq number; the To of the
// response for an ACK (to != nil), the INVITE's for a CANCEL.
func hopRequest(fwd []byte, meth string, to []byte) []byte {
	var m fmsg
	if !m.scan(fwd) {
		return nil
	}
	b := make([]byte, 0, 512)
	b = append(b, meth...)
	b = append(b, ' ')
	b = append(b, m.ruri.of(fwd)...)
	b = append(b, " SIP/2.0\r\n"...)
	top := &m.hdr[m.at[hVia]]
	b = append(b, "Via: "...)
	b = append(b, fwd[top.val.a:m.viaEnd]...)
	b = append(b, '\r', '\n')
	for i := 0; i < m.n; i++ {
		h := &m.hdr[i]
		switch h.id {
		case hRoute, hFrom, hCallID:
			b = append(b, fwd[h.line.a:h.line.b]...)
		case hTo:
			if to == nil {
				b = append(b, fwd[h.line.a:h.line.b]...)
			}
		}
	}
	if to != nil {
		b = append(b, "To: "...)
		b = append(b, to...)
		b = append(b, '\r', '\n')
	}
	b = append(b, "CSeq: "...)
	b = strconv.AppendUint(b, uint64(m.cseq), 10)
	b = append(b, ' ')
	b = append(b, meth...)
	b = append(b, "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"...)
	return b
}

// onInDialog forwards a BYE or INFO along its Route set on a fast non-INVITE transaction.
func (f *fastPath) onInDialog(m *fmsg, src netip.AddrPort, c *fconn) Reason {
	var kb [160]byte
	f.lock(m)
	if tx := f.nonInv[string(m.txKey(kb[:0]))]; tx != nil {
		var q []fsend
		if tx.last != nil {
			q = append(q, fsend{tx.conn, tx.last, tx.up})
		}
		f.unlock(m)
		f.s.Stats.Fast.Absorbed.Add(1)
		f.flush(q)
		return ReasonAbsorbed
	}
	f.unlock(m)
	if m.mf <= 1 {
		return ReasonMaxForwards
	}
	if m.proxyRq {
		return ReasonProxyRequire
	}
	callID := m.value(hCallID)
	if f.s.adm.lookup(string(callID)).ctl != nil {
		return ReasonGeneralCall // a call the general path controls
	}
	r, ok := f.routeOf(m, false)
	if r.general {
		return ReasonGeneralCall // the general path's dialog, whose controller may have ended
	}
	if !ok {
		return ReasonRoute
	}
	tx := &ftx{id: f.nextID.Add(1), branch: string(m.txKey(nil)), up: src, down: r.dst, conn: c}
	tx.fwd = f.forwardRequest(m, src, r, f.branchOf(tx.id), false)
	if len(tx.fwd) > f.s.opts.UDPMaxRequest {
		return ReasonSize
	}
	f.lock(m)
	if f.nonInv[tx.branch] != nil {
		f.unlock(m)
		f.s.Stats.Fast.Absorbed.Add(1)
		return ReasonAbsorbed
	}
	if len(f.out) >= maxTxFactor*f.s.live.Load().maxCalls {
		// The transaction limit (maxTxFactor): refused without state (RFC 3261 §21.5.4).
		f.unlock(m)
		f.s.Stats.Fast.Overload.Add(1)
		f.flush([]fsend{{c, answer(m, src, 503, "Service Unavailable", ""), src}})
		return ReasonAnswered
	}
	f.nonInv[tx.branch] = tx
	f.out[tx.id] = tx
	now := f.now()
	tx.ivRetrans = f.t1
	tx.t[tRetransmit] = now + f.t1
	tx.t[tNoAnswer] = now + 64*f.t1
	f.relink(tx)
	fwd := tx.fwd
	f.unlock(m)
	f.s.Stats.Fast.InDialog.Add(1)
	if f.s.tracing() {
		f.s.trace("herald: proxy %s %s (fast path)", methodNames[m.method], callID)
	}
	if err := c.send(fwd, r.dst); err != nil {
		f.s.Stats.ForwardErrors.Add(1)
		f.lock(m)
		res := answerFwd(tx.fwd, 503, "Service Unavailable", "Retry-After: 5\r\n", "")
		f.completeNonInvite(tx, res)
		f.unlock(m)
		f.flush([]fsend{{c, res, src}})
	}
	return ReasonForwarded
}

// completeNonInvite records the final response of a non-INVITE transaction. Under f.mu.
func (f *fastPath) completeNonInvite(tx *ftx, res []byte) {
	tx.state = fsCompleted
	tx.last = res
	tx.fwd = nil
	tx.t = [numTimers]int64{}
	tx.t[tEnd] = f.now() + 64*f.t1 // Timer J
	f.relink(tx)
}

// ---- responses ----

// stripVia is res without its top Via value (Herald's).
func stripVia(m *fmsg) []byte {
	buf := m.buf
	h := &m.hdr[m.at[hVia]]
	b := make([]byte, 0, len(buf))
	b = append(b, buf[:h.line.a]...)
	if m.viaEnd < h.val.b {
		// More values on the line: keep them.
		b = append(b, buf[h.line.a:h.val.a]...)
		b = append(b, trimBlanks(buf[m.viaEnd+1:h.val.b])...)
		b = append(b, buf[h.val.b:h.line.b]...)
	}
	return append(b, buf[h.line.b:]...)
}

func (f *fastPath) onResponse(m *fmsg) Reason {
	id, ok := idOf(m.branch.of(m.buf))
	if !ok {
		return ReasonSipgoBranch // a response to sipgo's own client transactions
	}
	f.lock(m)
	tx := f.out[id]
	if tx == nil {
		f.unlock(m)
		f.s.Stats.Fast.Stray.Add(1)
		if m.cseqM == mINVITE && m.status >= 200 && m.status < 300 {
			f.relayStateless(m)
			return ReasonStray2xx
		}
		return ReasonStray
	}
	var q []fsend
	switch {
	case m.cseqM == mCANCEL:
		if m.status >= 200 {
			tx.cncl, tx.t[tCancel] = nil, 0
			f.relink(tx)
		}
	case tx.invite && m.cseqM == mINVITE:
		q = f.inviteResponse(tx, m, q)
	case !tx.invite && m.cseqM != mINVITE:
		q = f.nonInviteResponse(tx, m, q)
	}
	f.unlock(m)
	f.flush(q)
	return ReasonResponse
}

// inviteResponse handles a response to a fast INVITE. Under f.mu.
func (f *fastPath) inviteResponse(tx *ftx, m *fmsg, q []fsend) []fsend {
	now := f.now()
	code := m.status
	if code < 200 {
		if !tx.gotProv {
			tx.gotProv = true
			if tx.state == fsCalling {
				tx.state = fsProceeding
			}
			tx.t[tRetransmit], tx.t[tNoAnswer] = 0, 0 // Timers A and B stop
			if tx.cncl != nil && tx.t[tCancel] == 0 {
				q = f.sendCancel(tx, now, q) // the CANCEL held for this provisional (§9.1)
			}
		}
		if code > 100 && tx.final == 0 && !tx.canceled {
			tx.t[tTimerC] = now + int64(f.s.opts.TimerC) // restarted by every provisional (§16.7 step 2)
			tx.t[tTrying] = 0
			out := stripVia(m)
			tx.last, tx.sentUp = out, true
			q = append(q, fsend{tx.conn, out, tx.up})
		}
		f.relink(tx)
		return q
	}
	if code >= 300 {
		// Hop-by-hop ACK downstream (RFC 3261 §17.1.1.3), sent again for every retransmission.
		if tx.ack == nil && tx.fwd != nil {
			tx.ack = hopRequest(tx.fwd, "ACK", m.value(hTo))
		}
		if tx.ack != nil {
			q = append(q, fsend{tx.conn, tx.ack, tx.down})
		}
		tx.t[tRetransmit], tx.t[tNoAnswer], tx.t[tCancel], tx.cncl = 0, 0, 0, nil
		if tx.final == 0 {
			out := stripVia(m)
			f.finalUp(tx, code, out)
			q = append(q, fsend{tx.conn, out, tx.up})
		}
		tx.fwd = nil
		f.relink(tx)
		return q
	}
	// 2xx.
	if tx.canceled {
		// The CANCEL/200 race (RFC 3261 §15): the caller cancelled (or Timer C fired) and has its
		// final response. Confirm and end the callee's dialog.
		if tx.fwd != nil {
			f.raceBye(tx.fwd, m.buf)
		}
		return q
	}
	if tx.final >= 300 {
		// A 2xx after Herald's 408 for an INVITE nothing answered (Timer B): every 2xx is forwarded
		// (RFC 3261 §16.7 step 5); the caller's UA ends the dialog it did not expect.
		return append(q, fsend{tx.conn, stripVia(m), tx.up})
	}
	tx.t[tRetransmit], tx.t[tNoAnswer], tx.t[tCancel], tx.cncl = 0, 0, 0, nil
	out := stripVia(m)
	if tx.final == 0 {
		tx.okTag = string(tagOf(m.value(hTo)))
		f.finalUp(tx, code, out)
	}
	// Every 2xx (retransmissions too) goes upstream: the UAC's ACK stops them (RFC 6026).
	return append(q, fsend{tx.conn, out, tx.up})
}

// raceBye hands the late 2xx to the general path's ACK-and-BYE (rare; off the read loop).
func (f *fastPath) raceBye(fwd, res []byte) {
	p := sip.NewParser(sip.WithHeadersParsers(headerParsers()))
	inv, err1 := p.ParseSIP(fwd)
	rs, err2 := p.ParseSIP(append([]byte(nil), res...))
	req, ok1 := inv.(*sip.Request)
	resp, ok2 := rs.(*sip.Response)
	if err1 != nil || err2 != nil || !ok1 || !ok2 {
		f.s.log.Warn("fast path: late 2xx after CANCEL not parsed", "error", errors.Join(err1, err2))
		return
	}
	if f.s.tracing() {
		f.s.trace("herald: 2xx after CANCEL: ACK and BYE it")
	}
	req.SetTransport("UDP")
	f.s.goSafe(func() { f.s.ackAndBye(req, resp) })
}

// nonInviteResponse handles a response to a fast BYE or INFO. Under f.mu.
func (f *fastPath) nonInviteResponse(tx *ftx, m *fmsg, q []fsend) []fsend {
	if tx.state == fsCompleted {
		return q // Timer K: a retransmitted final is absorbed
	}
	if m.status < 200 {
		if tx.state == fsCalling {
			tx.state = fsProceeding
			tx.ivRetrans = f.t2 // RFC 3261 §17.1.2.2: T2 once a provisional arrived
		}
		if m.status > 100 {
			out := stripVia(m)
			tx.last = out
			q = append(q, fsend{tx.conn, out, tx.up})
		}
		return q
	}
	out := stripVia(m)
	f.completeNonInvite(tx, out)
	return append(q, fsend{tx.conn, out, tx.up})
}

// relayStateless sends a 2xx with no transaction left upstream by its next Via (RFC 3261 §16.11,
// RFC 6026): received and rport when present, else sent-by.
func (f *fastPath) relayStateless(m *fmsg) {
	out := stripVia(m)
	var n fmsg
	if !n.scan(out) {
		return
	}
	dst, ok := viaTarget(&n)
	if !ok {
		return
	}
	c := f.anyConn()
	if c == nil {
		return
	}
	f.flush([]fsend{{c, out, dst}})
}

func (f *fastPath) anyConn() *fconn {
	if cs := f.conns.Load(); cs != nil && len(*cs) > 0 {
		return (*cs)[0]
	}
	return nil
}

// viaTarget is where a response goes by the top Via of m: received/rport, else sent-by.
func viaTarget(m *fmsg) (netip.AddrPort, bool) {
	h := &m.hdr[m.at[hVia]]
	top := m.buf[h.val.a:m.viaEnd]
	top = top[len("SIP/2.0/UDP "):]
	semi := bytes.IndexByte(top, ';')
	if semi < 0 {
		return netip.AddrPort{}, false
	}
	host, params := top[:semi], top[semi:]
	var hostB []byte
	port := 5060
	if c := bytes.LastIndexByte(host, ':'); c >= 0 && bytes.IndexByte(host, ']') < c {
		p, ok := atoi(host[c+1:])
		if !ok {
			return netip.AddrPort{}, false
		}
		hostB, port = host[:c], p
	} else {
		hostB = host
	}
	hostB = bytes.Trim(hostB, "[]")
	for _, p := range bytes.Split(params[1:], []byte(";")) {
		p = trimBlanks(p)
		if eq := bytes.IndexByte(p, '='); eq > 0 {
			k, v := p[:eq], p[eq+1:]
			switch {
			case equalFold(k, "received"):
				hostB = v
			case equalFold(k, "rport"):
				if n, ok := atoi(v); ok {
					port = n
				}
			}
		}
	}
	ip, err := netip.ParseAddr(string(hostB))
	if err != nil || port <= 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

// ---- timers ----

func (f *fastPath) run() {
	defer close(f.done)
	t := time.NewTicker(time.Duration(f.tick))
	defer t.Stop()
	var q []fsend
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		q = f.tickSafe(q[:0])
	}
}

// tickSafe runs the timers that are due, behind the recovery net (recover.go): a panic releases
// the lock and the loop goes on with the next tick.
func (f *fastPath) tickSafe(q []fsend) []fsend {
	locked := false
	defer func() {
		if r := recover(); f.s.recovered(r) && locked {
			clear(f.due)
			f.mu.Unlock()
		}
	}()
	f.mu.Lock()
	locked = true
	fire(&hookTick, struct{}{})
	now := f.now()
	if now-f.own482At >= 64*f.t1 {
		f.own482[1], f.own482[0], f.own482At = f.own482[0], map[string]struct{}{}, now
	}
	f.due = f.w.Expire(now, f.due[:0])
	for _, n := range f.due {
		q = f.fire(n.Value, now, q)
	}
	clear(f.due)
	locked = false
	f.mu.Unlock()
	f.flush(q)
	return q
}

// fire runs the timers of tx that are due. Under f.mu.
func (f *fastPath) fire(tx *ftx, now int64, q []fsend) []fsend {
	due := func(i int) bool {
		if tx.t[i] != 0 && tx.t[i] <= now {
			tx.t[i] = 0
			return true
		}
		return false
	}
	if due(tEnd) {
		f.forget(tx)
		return q
	}
	if due(tRetransmit) && tx.fwd != nil {
		q = append(q, fsend{tx.conn, tx.fwd, tx.down})
		f.s.Stats.Fast.Retransmissions.Add(1)
		if tx.invite {
			tx.ivRetrans *= 2 // Timer A doubles (RFC 3261 §17.1.1.2)
		} else {
			tx.ivRetrans = min(2*tx.ivRetrans, f.t2) // Timer E
		}
		tx.t[tRetransmit] = now + tx.ivRetrans
	}
	if due(tNoAnswer) {
		f.s.Stats.Fast.Timeouts.Add(1)
		tx.t[tRetransmit] = 0
		if tx.invite {
			if tx.final == 0 {
				q = f.answerUp(tx, 408, "Request Timeout", "", q)
			}
			tx.fwd = nil
		} else {
			res := answerFwd(tx.fwd, 408, "Request Timeout", "", "")
			f.completeNonInvite(tx, res)
			q = append(q, fsend{tx.conn, res, tx.up})
		}
	}
	if due(tTrying) && !tx.sentUp && tx.final == 0 {
		q = f.answerUp(tx, 100, "Trying", "", q)
		tx.last = q[len(q)-1].b
	}
	if due(tTimerC) && tx.final == 0 {
		// Timer C: the callee never answered. 408 upstream, CANCEL downstream (RFC 3261 §16.8).
		f.s.Stats.Fast.Timeouts.Add(1)
		q = f.answerUp(tx, 408, "Request Timeout", "", q)
		q = f.cancelDown(tx, q)
	}
	if due(tFinal) && tx.state == fsCompleted && tx.last != nil {
		q = append(q, fsend{tx.conn, tx.last, tx.up})
		f.s.Stats.Fast.Retransmissions.Add(1)
		tx.ivFinal = min(2*tx.ivFinal, f.t2) // Timer G
		tx.t[tFinal] = now + tx.ivFinal
	}
	if due(tCancel) && tx.cncl != nil {
		q = append(q, fsend{tx.conn, tx.cncl, tx.down})
		f.s.Stats.Fast.Retransmissions.Add(1)
		tx.ivCancel = min(2*tx.ivCancel, f.t2)
		tx.t[tCancel] = now + tx.ivCancel
	}
	f.relink(tx)
	return q
}
