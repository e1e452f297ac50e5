package signal

import (
	"context"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// popSelfRoute removes the top Route when it is Herald's own (loose routing, RFC 3261 §16.4).
// sipgo does not do this by itself.
func (s *Server) popSelfRoute(req *sip.Request) {
	if r := req.Route(); r != nil && s.isSelf(r.Address) {
		req.RemoveHeader("Route")
	}
}

// onAck forwards ACKs for 2xx (they carry their own branch and reach us as new requests). ACKs for
// non-2xx were absorbed by the INVITE server transaction.
func (s *Server) onAck(req *sip.Request, _ sip.ServerTransaction) {
	fwd := req.Clone()
	s.popSelfRoute(fwd)
	if fwd.Route() == nil && s.isSelf(fwd.Recipient) {
		return // addressed to Herald itself: an ACK in Herald's own dialog; nothing to do
	}
	if mf := fwd.MaxForwards(); mf != nil {
		if mf.Val() <= 1 {
			return
		}
		mf.Dec()
	}
	fwd.SetDestination("")
	fwd.SetTransport(transportToward(fwd))
	if err := s.cli.WriteRequest(fwd, s.sendOpts()...); err != nil {
		s.log.Warn("forward ACK", "call_id", callIDOf(req), "error", err)
	}
}

// proxyInDialog forwards an in-dialog request along its Route set (or to its Request-URI) and relays
// every response back. It blocks until the final response (sipgo requires that of a handler).
func (s *Server) proxyInDialog(req *sip.Request, tx sip.ServerTransaction) {
	fwd := req.Clone()
	s.popSelfRoute(fwd)
	if fwd.Route() == nil && s.isSelf(fwd.Recipient) {
		// Addressed to Herald with no route onward: a dialog of Herald's that no longer exists.
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if fwd.Route() == nil && fwd.Recipient.Host == "" {
		// A tel: (or other host-less) target and no Route: nothing to send it to. Answer at once
		// (RFC 3261 §16.3 step 1) instead of a DNS SRV lookup of an empty name per request.
		respond(tx, req, 416, "Unsupported URI Scheme")
		return
	}
	if mf := fwd.MaxForwards(); mf != nil && mf.Val() <= 1 {
		s.Stats.Rejected483.Add(1)
		respond(tx, req, 483, "Too Many Hops")
		return
	}
	fwd.SetDestination("")
	fwd.SetTransport(transportToward(fwd))
	ctx, cancel := context.WithTimeout(context.Background(), 64*s.opts.T1)
	defer cancel()
	clTx, err := s.cli.TransactionRequest(ctx, fwd, s.sendOpts(sipgo.ClientRequestDecreaseMaxForward)...)
	if err != nil {
		s.log.Warn("forward in-dialog request", "call_id", callIDOf(req), "method", req.Method, "error", err)
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	defer clTx.Terminate()
	if s.tracing() {
		s.trace("herald: proxy %s %s", req.Method, callIDOf(req))
	}
	for {
		select {
		case res := <-clTx.Responses():
			if res.StatusCode == 100 {
				continue
			}
			s.relayResponse(tx, req, res)
			if res.StatusCode >= 200 {
				return
			}
		case <-clTx.Done():
			respond(tx, req, 408, "Request Timeout")
			return
		case <-tx.Done():
			return
		case <-ctx.Done():
			respond(tx, req, 408, "Request Timeout")
			return
		}
	}
}

// relayResponse pops Herald's Via and sends res upstream on the server transaction of req.
func (s *Server) relayResponse(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) {
	out := res.Clone()
	out.RemoveHeader("Via")
	out.SetDestination(req.Source())
	out.SetTransport(req.Transport())
	if err := tx.Respond(out); err != nil {
		s.log.Debug("relay response", "call_id", callIDOf(req), "status", res.StatusCode, "error", err)
	}
}

// cancelRequest builds the CANCEL for a forwarded INVITE (RFC 3261 §9.1): same Request-URI, top Via
// (branch), Call-ID, From, To, CSeq number and Route set.
func cancelRequest(inv *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, inv.Recipient)
	c.AppendHeader(inv.Via().Clone())
	for _, r := range inv.GetHeaders("Route") {
		c.AppendHeader(sip.HeaderClone(r))
	}
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.AppendHeader(sip.HeaderClone(inv.From()))
	c.AppendHeader(sip.HeaderClone(inv.To()))
	c.AppendHeader(sip.HeaderClone(inv.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	c.SetBody(nil)
	return c
}

// ackAndBye ends a 2xx that arrived after Herald cancelled the INVITE (the CANCEL/200 race,
// RFC 3261 §15): the dialog it created is confirmed with ACK and torn down with BYE.
func (s *Server) ackAndBye(inv *sip.Request, res *sip.Response) {
	mk := func(m sip.RequestMethod, seq uint32) *sip.Request {
		target := inv.Recipient
		if c := res.Contact(); c != nil {
			target = c.Address
		}
		r := sip.NewRequest(m, target)
		rr := res.GetHeaders("Record-Route")
		for i := len(rr) - 1; i >= 0; i-- {
			if h, ok := rr[i].(*sip.RecordRouteHeader); ok && !s.isSelf(h.Address) {
				r.AppendHeader(&sip.RouteHeader{Address: h.Address})
			}
		}
		mf := sip.MaxForwardsHeader(70)
		r.AppendHeader(&mf)
		r.AppendHeader(sip.HeaderClone(inv.From()))
		r.AppendHeader(sip.HeaderClone(res.To()))
		r.AppendHeader(sip.HeaderClone(inv.CallID()))
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
		r.SetBody(nil)
		r.SetTransport(transportToward(r))
		return r
	}
	seq := inv.CSeq().SeqNo
	if err := s.cli.WriteRequest(mk(sip.ACK, seq), s.sendOpts()...); err != nil {
		s.log.Warn("ack late 2xx", "call_id", callIDOf(inv), "error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 64*s.opts.T1)
	defer cancel()
	if _, err := s.cli.Do(ctx, mk(sip.BYE, seq+1), s.sendOpts()...); err != nil {
		s.log.Warn("bye late 2xx", "call_id", callIDOf(inv), "error", err)
	}
}

func callIDOf(m interface{ CallID() *sip.CallIDHeader }) string {
	if c := m.CallID(); c != nil {
		return c.Value()
	}
	return ""
}
