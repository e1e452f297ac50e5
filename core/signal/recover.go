package signal

import (
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/safe"
	"github.com/herald-ims/herald/core/sipmsg"
)

// recover.go is the SIP plane's recovery net (core/safe). Every place where Herald runs code on a
// message from the wire on a goroutine of its own or of sipgo's recovers a panic there, answers what
// is owed (500 with Retry-After for a request that has no final response yet, RFC 3261 §21.5.1 and
// §20.33), counts it in herald_panics_total{plane="sip"} and in Stats.Panics, logs it once with its
// stack, and goes on serving. The boundaries:
//
//   - guard: every request handler registered with sipgo (OnInvite, OnBye, ...);
//   - core/callsip's runSafe: one call's controller (it also cancels the INVITE it forwarded), which
//     reports to Server.recovered through its host (callHost.Recovered);
//   - onUnhandledResponse: sipgo's callback for responses no client transaction matched;
//   - the server transaction's OnCancel callback (sipgo's goroutine; core/callsip's Call.Run);
//   - sipfast.Engine.Take: the fast path's per-datagram entry, on the socket's read goroutine, and
//     its Tick, the timer loop (both report to Server.recovered; their injection points are the
//     engine's Faults);
//   - the helper goroutines Herald starts (CANCEL and UPDATE client transactions: core/callsip's;
//     the late-2xx ACK and BYE).
//
// The net is not the fix: each panic it catches is a bug to fix at its cause.

// Test-only injection points: a test stores a function that panics, to prove a boundary holds.
// Production code never sets them; a nil pointer costs one atomic load. The call controller's are
// its Env's Faults (Server.calls), the fast path's its engine's.
var (
	hookHandler   atomic.Pointer[func(*sip.Request)]  // in guard, before the handler runs
	hookUnhandled atomic.Pointer[func(*sip.Response)] // in onUnhandledResponse
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
	sipmsg.Respond(tx, req, 500, "Server Internal Error", sip.NewHeader("Retry-After", "5"))
}

// guard is the boundary of every request handler registered with sipgo: it answers the requests
// sipmsg.CheckRequest refuses (a bad ACK is dropped, never answered), and a panic in h with 500.
func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); s.recovered(r) {
				answer500(tx, req)
			}
		}()
		fire(&hookHandler, req)
		code, reason := sipmsg.CheckRequest(req)
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
