package signal

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/callsip"
	"github.com/herald-ims/herald/core/sipmsg"
)

// callglue.go hands the general path's calls to their controllers (core/callsip): onInvite admits
// and routes the caller's INVITE, then runs the call; the PRACKs and UPDATEs on Herald's own early
// dialog go to the call they belong to; callHost is the Server as a call asks it (callsip.Host).

// onInvite admits a new call and runs its controller; it returns after the INVITE's final response.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.To() != nil && req.To().Params.Has("tag") {
		s.proxyInDialog(req, tx) // re-INVITE inside a dialog Herald record-routed
		return
	}
	s.Stats.Invites.Add(1)
	start := time.Now()
	// Herald's To tag for every response it or sipgo's transaction layer sends to this INVITE
	// (RFC 3261 §8.2.6.2), its own early dialog's included.
	tag := sip.GenerateTagN(16)
	if st, ok := tx.(*sip.ServerTx); ok {
		st.SetToTag(tag)
	}
	if !s.trusted(req) {
		s.Stats.Rejected403.Add(1)
		sipmsg.RespondTag(tx, req, tag, 403, "Forbidden")
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() <= 1 {
		s.Stats.Rejected483.Add(1)
		sipmsg.RespondTag(tx, req, tag, 483, "Too Many Hops")
		return
	}
	callID := callIDOf(req)
	if callID == "" || req.From() == nil || req.CSeq() == nil {
		sipmsg.RespondTag(tx, req, tag, 400, "Bad Request")
		return
	}
	c := callsip.New(s.calls, req, tx, callID, tag, start)
	switch s.adm.admit(callID, admitted{ctl: c}, s.live.Load().maxCalls) {
	case admitLoop:
		c.Discard()
		// A second INVITE with a Call-ID in progress on either path but a new branch: a loop or
		// a spiral back to us.
		sipmsg.RespondTag(tx, req, tag, 482, "Loop Detected")
		return
	case admitFull:
		c.Discard()
		s.Stats.Rejected503.Add(1)
		sipmsg.RespondTag(tx, req, tag, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	if s.draining.Load() {
		s.adm.release(callID, admitted{ctl: c})
		c.Discard()
		// A drain (Server.Drain): the previous hop tries another instance.
		s.Stats.Rejected503.Add(1)
		sipmsg.RespondTag(tx, req, tag, 503, "Service Unavailable", sip.NewHeader("Retry-After", drainRetryAfter))
		return
	}
	s.active.Add(1)
	s.wg.Add(1)
	defer s.wg.Done()
	c.Run(func() {
		s.adm.release(callID, admitted{ctl: c})
		s.active.Add(-1)
		s.Stats.CallsDone.Add(1)
	})
}

// onPrack handles a PRACK. PRACKs for Herald's own 183 go to the call's controller; all others
// (the callee's reliable 18x) are proxied along the dialog's route.
func (s *Server) onPrack(req *sip.Request, tx sip.ServerTransaction) {
	if c := s.ownDialogCall(req); c != nil {
		c.Prack(req, tx)
		return
	}
	s.proxyInDialog(req, tx)
}

// onUpdate routes UPDATEs: on Herald's own early dialog to the controller, others along the route.
func (s *Server) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	if c := s.ownDialogCall(req); c != nil {
		c.Update(req, tx)
		return
	}
	s.proxyInDialog(req, tx)
}

// ownDialogCall returns the call when req is addressed to Herald's own early dialog (its To-tag is
// Herald's), else nil. The tag is read under the table lock only as an immutable string set before
// the 183 went out.
func (s *Server) ownDialogCall(req *sip.Request) *callsip.Call {
	to := req.To()
	if to == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	if c := s.adm.lookup(callIDOf(req)).ctl; c != nil && c.OwnDialog(tag) {
		return c
	}
	return nil
}

// newCalls is what s's calls share (callsip.Env), built by New once the options have their defaults.
func newCalls(s *Server) *callsip.Env {
	return &callsip.Env{Host: callHost{s}, Log: s.log, Trace: s.opts.Trace,
		T1: s.opts.T1, TimerC: s.opts.TimerC, SessionTTL: s.opts.SessionTTL, OfferTLS: s.opts.OfferTLS, Probe: s.opts.Probe,
		MSRP: s.deps.MSRP, Web: s.deps.Web, Ringback: s.deps.Ringback, Capabilities: s.deps.Capabilities,
		Shed: s.deps.Shed, Stats: &s.Stats, Hist: s.hist, Stripped: callsip.NewStripped(64 * s.opts.T1)}
}

// callHost is the Server as a call asks it (callsip.Host).
type callHost struct{ s *Server }

func (h callHost) Parties(caller, callee string) (cr, ce callsip.LookedUp) {
	r, e := h.s.parties(caller, callee)
	return callsip.LookedUp{Key: r.key, Profile: r.pr}, callsip.LookedUp{Key: e.key, Profile: e.pr}
}

func (h callHost) Forward(req *sip.Request) *sip.Request {
	s := h.s
	fwd := forwardCopy(req)
	route := s.popSelfRoute(fwd)
	if route == nil {
		route = s.live.Load().nextHopRoute
	}
	sipmsg.TowardNextHop(fwd, route, s.names)
	if s.opts.RecordRoute {
		s.recordRoute(fwd, req.Transport(), fwd.Transport(), req.Recipient.Scheme == "sips")
	}
	return fwd
}

func (h callHost) Invite(ctx context.Context, fwd *sip.Request, callID string) (sip.ClientTransaction, error) {
	pinned := h.s.pinnedFor(fwd)
	if t := callsip.EngineInvite(h.s.fast, fwd, pinned, h.s.opts.UDPMaxRequest, &h.s.Stats.BadResponses); t != nil {
		return t, nil
	}
	return h.s.forwardInvite(ctx, fwd, pinned, callID)
}

func (h callHost) Originate(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	return h.s.originate(ctx, req)
}

func (h callHost) OriginateOwn(req *sip.Request, done func(code int, body []byte)) bool {
	return callsip.EngineOriginate(h.s.fast, req, done)
}

func (h callHost) Cancel(ctx context.Context, cr *sip.Request) error {
	_, err := h.s.cli.Do(ctx, cr, prebuilt)
	return err
}

func (h callHost) Relay(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) {
	h.s.relayResponse(tx, req, res)
}

func (h callHost) BadResponse(res *sip.Response) bool            { return h.s.badResponse(res) }
func (h callHost) AckAndBye(inv *sip.Request, res *sip.Response) { h.s.ackAndBye(inv, res) }
func (h callHost) Contact(transport string) *sip.ContactHeader   { return h.s.contact(transport) }
func (h callHost) Recovered(r any) bool                          { return h.s.recovered(r) }
func (h callHost) DownAt(r *sip.Request) bool {
	return h.s.names.DownAt(r.Transport(), r.Destination(), r.SentTo())
}
