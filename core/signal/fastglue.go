package signal

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/core/sipmsg"
)

// fastglue.go wires the fast path's engine (core/sipfast: scanner, transactions, timers, no I/O)
// to the Server: its sockets (fconn), and the answers it asks of the Server (fastHost): who Herald
// is, whom it trusts, the plain-call rule (call.Decide), admission, and what only sipgo's parser can
// do.

// testLookup, when set, replaces the engine's name lookups (only the whole-server fuzz harness sets
// it, before it builds its servers: no DNS off the machine).
var testLookup func(ctx context.Context, host string) ([]netip.Addr, error)

// newFastPath builds the engine for s.
func newFastPath(s *Server) *sipfast.Engine {
	h := &fastHost{s}
	st := &s.Stats
	cfg := sipfast.Config{
		ViaHost: s.opts.Host, ViaPort: func() int { return s.portFor(tpUDP) }, TCPPort: func() int { return s.portFor(tpTCP) },
		RecordRoute: s.opts.RecordRoute,
		T1:          s.opts.T1, T2: s.opts.T2, TimerC: s.opts.TimerC, MaxRequest: s.opts.UDPMaxRequest, Clock: s.opts.Clock,
		Log: s.log, Trace: s.opts.Trace, Stats: &st.Fast, Stray2xx: s.calls.Stripped.Bytes,
		Counters: sipfast.Counters{
			Invites: &st.Invites, Forwarded: &st.Forwarded, Rejected503: &st.Rejected503, BadRequests: &st.BadRequests,
			Cancels: &st.Cancels, CallsDone: &st.CallsDone, ForwardErrors: &st.ForwardErrors, DrainAborted: &st.DrainAborted,
			Active: &s.active,
		},
	}
	cfg.Names = s.names
	if s.hist != nil {
		cfg.FinalLatency = func(d time.Duration) { s.hist.Final.Observe(d.Seconds()) }
	}
	return sipfast.New(cfg, h)
}

// fconn is a UDP socket Herald serves, as the engine sends on it.
type fconn struct {
	pc   net.PacketConn
	udp  *net.UDPConn // pc itself when it is one: sends without allocating an address
	sock UDPSocket    // nil in benchmarks that feed the engine directly
	// trace is Options.WireTrace, set before the engine has the socket.
	trace func(dir, transport, peer string, msg []byte)
	reach [2]bool // the address families it sends to: IPv4, IPv6
}

func (c *fconn) Send(b []byte, to netip.AddrPort) error {
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

// Reaches reports whether the socket can send to ip (sipfast.Reacher), as addFastConn read it.
func (c *fconn) Reaches(ip netip.Addr) bool {
	return c.reach[0] && ip.Unmap().Is4() || c.reach[1] && !ip.Unmap().Is4()
}

// addFastConn registers pc (read by sock) with the engine. An IPv4 socket reaches IPv4 addresses,
// an IPv6 one bound to an address IPv6 ones, a wildcard IPv6 one (dual-stack) both.
func (s *Server) addFastConn(pc net.PacketConn, sock UDPSocket) *fconn {
	c := &fconn{pc: pc, sock: sock, reach: [2]bool{true, true}, trace: s.opts.WireTrace}
	c.udp, _ = pc.(*net.UDPConn)
	a, ok := pc.LocalAddr().(*net.UDPAddr)
	if ok && (a.IP.To4() != nil || !a.IP.IsUnspecified()) {
		c.reach = [2]bool{a.IP.To4() != nil, a.IP.To4() == nil}
	}
	if s.fast != nil {
		s.fast.AddConn(c, !c.reach[0])
	}
	return c
}

// tcpFast is the TCP transport's hook (sip.TCPFast): each whole message read from a TCP connection
// goes to the engine first; what it leaves, sipgo parses.
func (s *Server) tcpFast(msg []byte, from netip.AddrPort) bool {
	took := s.fast.Take(msg, from, s.tcp)
	if took && s.opts.WireTrace != nil { // the rest goes to sipgo, whose tracer sees it
		s.opts.WireTrace("recv", "TCP", from.String(), msg)
	}
	return took
}

// fastHost is the Server as the engine asks it (sipfast.Host).
type fastHost struct{ s *Server }

func (h *fastHost) Self(host []byte, port, defPort int) bool {
	return isSelfAt(h.s, host, port, defPort)
}
func (h *fastHost) Trusted(ip netip.Addr) bool { return h.s.trustedAddr(ip) }
func (h *fastHost) Draining() bool             { return h.s.draining.Load() }
func (h *fastHost) MaxCalls() int              { return h.s.live.Load().maxCalls }
func (h *fastHost) Calls() int                 { return h.s.adm.len() }
func (h *fastHost) General(callID string) bool { return h.s.adm.lookup(callID).ctl != nil }
func (h *fastHost) Recovered(r any) bool       { return h.s.recovered(r) }
func (h *fastHost) Reject(data []byte) []byte  { return sipmsg.EarlyReject(data) }

func (h *fastHost) NextHop() ([]byte, int, []byte, bool) {
	l := h.s.live.Load() // the configured next hop, when it is over UDP or TCP (Server.Reload)
	return l.fastNextHost, l.fastNextPort, l.fastNextTP, l.fastNextHopOK
}

// Plain is the plain-call rule: call.Decide, the general path's rule, on the same parties.
func (h *fastHost) Plain(callID, caller, callee []byte, reliable1xx bool) bool {
	return h.s.plainCall(callID, string(caller), string(callee), reliable1xx) // parties.go: the lookups go along when not plain
}

func (h *fastHost) Admit(callID string, tx *sipfast.Tx) sipfast.AdmitResult {
	switch h.s.adm.admit(callID, admitted{fast: tx}, h.s.live.Load().maxCalls) {
	case admitLoop:
		return sipfast.AdmitLoop
	case admitFull:
		return sipfast.AdmitFull
	}
	return sipfast.AdmitOK
}

func (h *fastHost) Release(callID string, tx *sipfast.Tx) {
	h.s.adm.release(callID, admitted{fast: tx})
}

func (h *fastHost) Normalize(data []byte) []byte { return sipmsg.Normalize(data) }

// Own hands a PRACK on a call's own early dialog (its To tag is Herald's, callsip.Call.OwnDialog)
// to that call, which answers it through the engine (callsip.Call.PrackOn, fastAnswer); any other
// request stays with the general path, which proxies it along its route.
func (h *fastHost) Own(callID, toTag []byte, req sipfast.OwnRequest) bool {
	c := h.s.adm.lookup(string(callID)).ctl
	if c == nil || !c.OwnDialog(string(toTag)) {
		return false
	}
	c.PrackOn(req.RAck, fastAnswer{h.s.fast, req.Tx})
	return true
}

// fastAnswer answers a request the engine handed to a call (Host.Own) on the engine's transaction.
type fastAnswer struct {
	e  *sipfast.Engine
	tx *sipfast.Tx
}

func (a fastAnswer) Answer(code int, reason string, hdrs ...sip.Header) {
	a.e.AnswerOwn(a.tx, code, reason, sipmsg.HeaderLines(hdrs...))
}

// Late2xx hands the late 2xx to the general path's ACK-and-BYE (rare; off the read loop).
func (h *fastHost) Late2xx(fwd, res []byte) {
	s := h.s
	req, resp, err := sipmsg.ParseExchange(fwd, res)
	if err != nil || req.Via() == nil {
		s.log.Warn("fast path: late 2xx after CANCEL not parsed", "error", err)
		return
	}
	req.SetTransport(req.Via().Transport) // the INVITE's: UDP or TCP (its top Via is Herald's)
	s.goSafe(func() { s.ackAndBye(req, resp) })
}
