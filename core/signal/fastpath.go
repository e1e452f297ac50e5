package signal

import (
	"bytes"
	"hash/maphash"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

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
