package signal

import (
	"net/netip"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/safe"
)

// recover.go is the SIP plane's recovery net (core/safe). Every place where Herald runs code on a
// message from the wire on a goroutine of its own or of sipgo's recovers a panic there, answers what
// is owed (500 with Retry-After for a request that has no final response yet, RFC 3261 §21.5.1 and
// §20.33), counts it in herald_panics_total{plane="sip"} and in Stats.Panics, logs it once with its
// stack, and goes on serving. The boundaries:
//
//   - guard: every request handler registered with sipgo (OnInvite, OnBye, ...);
//   - callCtl.runSafe: one call's controller (it also cancels the INVITE it forwarded);
//   - onUnhandledResponse: sipgo's callback for responses no client transaction matched;
//   - the server transaction's OnCancel callback (sipgo's goroutine);
//   - fastPath.takeSafe: the fast path's per-datagram entry, on the socket's read goroutine;
//   - fastPath.tick: the fast path's timer loop;
//   - the helper goroutines Herald starts (CANCEL and UPDATE client transactions, the late-2xx
//     ACK and BYE).
//
// The net is not the fix: each panic it catches is a bug to fix at its cause.

// Test-only injection points: a test stores a function that panics, to prove a boundary holds.
// Production code never sets them; a nil pointer costs one atomic load.
var (
	hookHandler    atomic.Pointer[func(*sip.Request)]  // in guard, before the handler runs
	hookController atomic.Pointer[func(*sip.Request)]  // in the call controller, before run
	hookResponse   atomic.Pointer[func(*sip.Response)] // in the controller, for each response of its INVITE
	hookUnhandled  atomic.Pointer[func(*sip.Response)] // in onUnhandledResponse
	hookTake       atomic.Pointer[func([]byte)]        // in the fast path's take, before the scan
	hookTick       atomic.Pointer[func(struct{})]      // in the fast path's timer loop, under its lock
	hookFastLocked atomic.Pointer[func(*fmsg)]         // in the fast path's INVITE handling, under its lock
	hookHelper     atomic.Pointer[func(string)]        // in sipgo's OnCancel callback ("oncancel"), the CANCEL ("cancel") and UPDATE ("update") goroutines
)

// testUA and testTransport are appended to the options of the sipgo user agent and transport layer
// New builds; only the whole-server fuzz harness sets them (no DNS, no connection off the machine),
// before it builds its servers.
var (
	testUA        []sipgo.UserAgentOption
	testTransport []sip.TransportLayerOption
)

func fire[T any](h *atomic.Pointer[func(T)], v T) {
	if f := h.Load(); f != nil {
		(*f)(v)
	}
}

// recovered reports r, what recover() returned at a boundary: false when there was no panic,
// otherwise it is counted and logged (core/safe) and true.
func (s *Server) recovered(r any) bool {
	if !safe.Recovered(safe.SIP, s.log, r) {
		return false
	}
	s.Stats.Panics.Add(1)
	return true
}

// answer500 answers req 500 with Retry-After on tx; a fault while answering is swallowed (the panic
// that led here was already counted).
func answer500(tx sip.ServerTransaction, req *sip.Request) {
	defer func() { _ = recover() }()
	if req == nil || tx == nil || req.IsAck() {
		return // an ACK is never answered (RFC 3261 §17.2.1)
	}
	respond(tx, req, 500, "Server Internal Error", sip.NewHeader("Retry-After", "5"))
}

// guard is the boundary of every request handler registered with sipgo: it answers the requests
// checkRequest refuses (a bad ACK is dropped, never answered), and a panic in h with 500.
func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); s.recovered(r) {
				answer500(tx, req)
			}
		}()
		fire(&hookHandler, req)
		code, reason := checkRequest(req)
		if code == 0 {
			h(req, tx)
			return
		}
		if req.IsAck() {
			return
		}
		s.Stats.BadRequests.Add(1)
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		res.SipVersion = "SIP/2.0"
		_ = tx.Respond(res)
	}
}

// goSafe runs fn on a new goroutine counted in s.wg, behind the recovery net.
func (s *Server) goSafe(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { s.recovered(recover()) }()
		fn()
	}()
}

// takeSafe is the boundary of the fast path's per-datagram entry (netio/sipudp's read goroutine): a
// panic there is counted, the lock released if the panicking code held it, and a request other than
// ACK answered 500 statelessly from the socket it came in on.
func (f *fastPath) takeSafe(data []byte, src netip.AddrPort, c *fconn) (took bool) {
	var m fmsg
	defer func() {
		if r := recover(); f.s.recovered(r) {
			if m.locked {
				m.locked = false
				f.mu.Unlock()
			}
			took = f.verdictOf(ReasonFault)
			var q fmsg
			if c != nil && q.scan(data) && q.isReq && q.method != mACK {
				res := appendAnswer(make([]byte, 0, len(data)/2+128), &q, src, false, 500, "Server Internal Error", "Retry-After: 5\r\n", "")
				if err := c.send(res, src); err != nil {
					f.s.Stats.Fast.SendErrors.Add(1)
				}
			}
		}
	}()
	fire(&hookTake, data)
	return f.verdictOf(f.take(&m, data, src, c))
}

// lock takes f.mu for the handling of m; m remembers it, so that takeSafe can release it after a
// panic.
func (f *fastPath) lock(m *fmsg) {
	f.mu.Lock()
	m.locked = true
}

func (f *fastPath) unlock(m *fmsg) {
	m.locked = false
	f.mu.Unlock()
}
