package callsip

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/core/sipmsg"
)

// engineinvite.go: the INVITE a call forwards, on the fast path's engine when it goes over UDP to
// an address (sipfast.Engine.ForwardInvite), as the controller uses a client transaction. The engine
// keeps the transaction (Timers A and B, the hop-by-hop ACK, the CANCEL) and hands each response over
// on the goroutine that read it; the controller reads them from its inbox as it reads sipgo's. The
// caller's side of the call stays on sipgo's server transaction.

// responseParser reads the responses the engine hands over, as sipgo's transport layer reads the
// datagrams it gets (one parser for every goroutine, Herald's lenient header parsers).
var responseParser = sip.NewParser(sip.WithHeadersParsers(sipmsg.HeaderParsers()))

// EngineInvite sends fwd, the INVITE of a call with cards as the server forwards it (Host.Forward:
// transport and destination set), on the engine's client INVITE transaction, and returns that
// transaction; or nil, having sent nothing and left fwd as it was, when fwd does not go over UDP to
// an IP address or a name the engine has an answer for (RFC 3263), is larger than max unless pinned (RFC 3261
// §18.1.1, the server's rule: max is the largest request it sends over UDP; a pinned next hop, named
// ;transport=udp, gets it whatever its size), its Max-Forwards would reach 0 (sipgo refuses it),
// or the engine cannot carry it: the server sends it through sipgo then. As sipgo's client does when
// it adds its Via, Max-Forwards is decremented and the caller's top Via gets rport and received
// (RFC 3581 §4). Responses the engine hands over that do not parse are counted in bad and dropped.
func EngineInvite(e *sipfast.Engine, fwd *sip.Request, pinned bool, max int, bad *atomic.Uint64) sip.ClientTransaction {
	if e == nil || !strings.EqualFold(fwd.Transport(), "udp") {
		return nil
	}
	if pinned {
		max = 0
	}
	dst, ok := engineDest(e, fwd.Destination())
	if !ok {
		return nil
	}
	dst.Addr = netip.AddrPortFrom(dst.Addr.Addr().Unmap(), dst.Addr.Port())
	mf := fwd.MaxForwards()
	if mf != nil && mf.Val() <= 1 {
		return nil
	}
	if mf != nil {
		mf.Dec()
	}
	if via := fwd.Via(); via != nil && via.Params.Has("rport") {
		// Idempotent: sipgo sets the same values if it sends fwd after all.
		if h, p, err := net.SplitHostPort(fwd.Source()); err == nil {
			via.Params.Add("rport", p)
			via.Params.Add("received", h)
		}
	}
	t := &engineInvite{e: e, src: dst.Addr.String(), done: make(chan struct{}), bad: bad}
	if !sipmsg.WithBytes(fwd, func(b []byte) bool {
		t.tx = e.ForwardInviteTo(b, dst, max, t.sink)
		return t.tx != nil
	}) {
		if mf != nil {
			*mf++
		}
		return nil
	}
	return t
}

// engineDest is where the engine sends a UDP request for dest (host:port): an IP address, or a
// name's cached answer (RFC 3263 §4.2: SRV when the port is 0), whose next target an unanswered
// INVITE fails over to (§4.3); false otherwise (sipgo's turn: its lookup, through the same cache,
// fills it for the next call).
func engineDest(e *sipfast.Engine, dest string) (sipfast.Target, bool) {
	if ap, err := netip.ParseAddrPort(dest); err == nil { // an address: no name to look at
		return sipfast.At(ap), ap.Addr().Zone() == ""
	}
	host, port, err := net.SplitHostPort(dest)
	if err != nil {
		return sipfast.Target{}, false
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return sipfast.Target{}, false
	}
	t, ok := e.Names().Target("udp", host, p)
	return t, ok && t.Addr.Addr().Zone() == ""
}

// engineInvite is the engine's client INVITE transaction (EngineInvite) as a sip.ClientTransaction.
// Responses reach the controller in the order the engine hands them over, without ever blocking the
// engine's goroutines: straight into the controller's inbox when it has room and nothing is waiting
// (SetTryPassUp), else queued for one goroutine that waits for the inbox (SetPassUp); the
// transaction's end without a final response (Timer B) goes the same way, last.
type engineInvite struct {
	e   *sipfast.Engine
	tx  *sipfast.Tx
	src string         // the next hop, as sipgo names a response's source
	bad *atomic.Uint64 // what does not parse, counted

	mu      sync.Mutex
	passUp  func(*sip.Response)
	tryUp   func(*sip.Response) bool
	onTerm  []sip.FnTxTerminate
	pending []*sip.Response // nil: the end (Timer B)
	pumping bool
	closed  bool
	err     error
	done    chan struct{}
}

var errEngineTimeout = fmt.Errorf("fast path engine: Timer B fired: %w", sip.ErrTransactionTimeout)

// sink is the engine's hand-over (sipfast.Engine.ForwardInvite): a response, or nil at Timer B.
func (t *engineInvite) sink(raw []byte) {
	if raw == nil {
		t.deliver(nil)
		return
	}
	msg, err := responseParser.ParseSIP(raw)
	res, ok := msg.(*sip.Response)
	if err != nil || !ok {
		t.bad.Add(1) // dropped, as sipgo drops what it cannot parse
		return
	}
	res.SetTransport("UDP")
	res.SetSource(t.src)
	t.deliver(res)
}

func (t *engineInvite) deliver(res *sip.Response) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if res != nil && len(t.pending) == 0 && !t.pumping && t.tryUp != nil && t.tryUp(res) {
		return
	}
	t.pending = append(t.pending, res)
	t.pump()
}

// pump starts the goroutine that hands the queue over in order, unless it runs or cannot go on
// (a response waits for SetPassUp). Under t.mu.
func (t *engineInvite) pump() {
	if t.pumping || len(t.pending) == 0 || t.pending[0] != nil && t.passUp == nil {
		return
	}
	t.pumping = true
	go func() {
		for {
			t.mu.Lock()
			if t.closed || len(t.pending) == 0 || t.pending[0] != nil && t.passUp == nil {
				t.pumping = false
				t.mu.Unlock()
				return
			}
			res := t.pending[0]
			t.pending = t.pending[1:]
			up := t.passUp
			t.mu.Unlock()
			if res == nil {
				t.end(errEngineTimeout)
				continue
			}
			up(res)
		}
	}()
}

// end closes the transaction once: Done, Err and the OnTerminate functions (called here, in order).
func (t *engineInvite) end(err error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed, t.err, t.pending = true, err, nil
	fns := t.onTerm
	t.onTerm = nil
	close(t.done)
	t.mu.Unlock()
	for _, f := range fns {
		f("", err)
	}
}

// SetPassUp sets how responses reach the controller when they must wait (sip.ClientTx.SetPassUp's
// contract: in order; it may block). Responses already queued go to it.
func (t *engineInvite) SetPassUp(f func(*sip.Response)) {
	t.mu.Lock()
	t.passUp = f
	t.pump()
	t.mu.Unlock()
}

// SetTryPassUp sets how a response reaches the controller without waiting: false when it cannot
// take it now (the response is then queued for SetPassUp's function).
func (t *engineInvite) SetTryPassUp(f func(*sip.Response) bool) {
	t.mu.Lock()
	t.tryUp = f
	t.mu.Unlock()
}

// CancelInvite sends CANCEL for the INVITE (sipfast.Engine.CancelInvite).
func (t *engineInvite) CancelInvite() { t.e.CancelInvite(t.tx) }

// Terminate lets the engine's transaction go (sipfast.Engine.EndInvite) and ends this one.
func (t *engineInvite) Terminate() {
	t.e.EndInvite(t.tx)
	t.end(sip.ErrTransactionTerminated)
}

func (t *engineInvite) OnTerminate(f sip.FnTxTerminate) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.onTerm = append(t.onTerm, f)
	return true
}

func (t *engineInvite) Done() <-chan struct{} { return t.done }

func (t *engineInvite) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Responses is never sent on: the responses go to SetPassUp's function (the controller sets it).
func (t *engineInvite) Responses() <-chan *sip.Response { return nil }

// OnRetransmission is not supported: the engine absorbs retransmitted finals itself (their ACK).
func (t *engineInvite) OnRetransmission(sip.FnTxResponse) bool { return false }

// EngineOriginate sends req, a request Herald originates on its own early dialog (the UPDATE), on
// the engine e (sipfast.Engine.Originate) when its next hop is a UDP peer at an IP literal: the
// first Route's URI (loose routing, RFC 3261 §12.2.1.1) or else the Request-URI (the caller's
// Contact). False when e is nil or cannot carry it: the caller sends it through sipgo.
func EngineOriginate(e *sipfast.Engine, req *sip.Request, done func(code int, body []byte)) bool {
	if e == nil || !strings.EqualFold(req.Transport(), "udp") {
		return false
	}
	next := &req.Recipient
	if r := req.Route(); r != nil {
		next = &r.Address
	}
	if t, ok := next.UriParams.Get("transport"); next.Scheme != "sip" || ok && !strings.EqualFold(t, "udp") {
		return false
	}
	ip, err := netip.ParseAddr(strings.Trim(next.Host, "[]"))
	if err != nil || ip.Zone() != "" {
		return false
	}
	port := cmp.Or(next.Port, 5060)
	return sipmsg.WithBytes(req, func(b []byte) bool { return e.Originate(b, netip.AddrPortFrom(ip.Unmap(), uint16(port)), done) })
}
