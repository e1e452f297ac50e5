package signal

import (
	"context"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sipmsg"
)

// popSelfRoute removes the top Routes while they are Herald's own (loose routing, RFC 3261 §16.4;
// two of them when Herald double record-routed the dialog, RFC 5658) and returns the top Route left,
// nil if none. sipgo does not pop by itself. Callers keep the result: sip.Request.Route allocates
// and walks the headers on every call when there is no Route.
func (s *Server) popSelfRoute(req *sip.Request) *sip.RouteHeader {
	r := req.Route()
	for r != nil && s.isSelf(r.Address) {
		req.RemoveHeader("Route")
		r = req.Route()
	}
	return r
}

// forwardInvite sends the INVITE fwd toward its next hop (transport and destination set) on a new
// client transaction. pinned: the next hop's URI named ;transport=udp (RFC 3263 §4.1), so fwd goes
// over UDP whatever its size. Otherwise RFC 3261 §18.1.1 applies: an INVITE larger than
// UDPMaxRequest goes over TCP (pickTransport), and when that attempt fails (the next hop speaks only
// UDP: refused, reset) the request itself is sent again over UDP, whole, early-session part
// included; IP fragmentation is the accepted cost.
func (s *Server) forwardInvite(ctx context.Context, fwd *sip.Request, pinned bool, callID string) (sip.ClientTransaction, error) {
	intended := fwd.Transport()
	clTx, err := s.forward(ctx, fwd, pinned)
	if err == nil || pinned || !strings.EqualFold(intended, "udp") || !strings.EqualFold(fwd.Transport(), "tcp") {
		return clTx, err
	}
	s.Stats.TCPRefusedUDP.Add(1)
	s.log.Info("next hop refused TCP; INVITE sent again over UDP (RFC 3261 §18.1.1)", "call_id", callID, "size", sipmsg.RequestSize(fwd), "error", err)
	s.trace("herald: next hop refused TCP: INVITE sent again over UDP, whole (%d bytes)", sipmsg.RequestSize(fwd))
	sipmsg.Unsent(fwd)
	fwd.SetTransport("UDP")
	return s.forward(ctx, fwd, true)
}

// pinnedFor reports whether fwd, an INVITE Herald forwards (its own Routes popped), goes over UDP
// whatever its size: its next hop, the top Route left or else the configured next hop, named
// ;transport=udp (RFC 3263 §4.1).
func (s *Server) pinnedFor(fwd *sip.Request) bool {
	if r := fwd.Route(); r != nil {
		return udpPinned(&r.Address)
	}
	return s.live.Load().nextHopPinned
}

// originate sends a request Herald itself originates toward a terminal (the UPDATE on its early
// dialog) and waits for its final response. As for a forwarded INVITE (forwardInvite), when RFC 3261
// §18.1.1 moved it to TCP for its size and the terminal refused TCP, it goes again over UDP, whole.
func (s *Server) originate(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	intended := req.Transport()
	tx, err := s.cli.TransactionRequest(ctx, req, s.sendOpts()...)
	if err != nil && strings.EqualFold(intended, "udp") && strings.EqualFold(req.Transport(), "tcp") {
		s.Stats.TCPRefusedUDP.Add(1)
		req.RemoveHeader("Via") // Herald's, added by the failed attempt
		req.SetTransport("UDP")
		tx, err = s.cli.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia, s.pickPinned)
	}
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, tx.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// udpPinned reports whether u names ;transport=udp: its requests go over UDP whatever their size.
func udpPinned(u *sip.Uri) bool {
	t, ok := u.UriParams.Get("transport")
	return ok && strings.EqualFold(t, "udp")
}

// forward sends an INVITE on a new client transaction. sipgo uses ctx only to set up the connection
// (DNS, TCP, TLS): 64·T1 (Timer B) in all, 7·T1 for the first target, then taken for dead as a silent
// one is (RFC 3263 §4.3; a SYN a firewall drops goes unanswered). pinned: UDP whatever its size.
func (s *Server) forward(ctx context.Context, req *sip.Request, pinned bool) (sip.ClientTransaction, error) {
	ctx, cancel := context.WithTimeout(ctx, 64*s.opts.T1)
	defer cancel()
	send := func(ctx context.Context) (sip.ClientTransaction, error) {
		if pinned {
			return s.cli.TransactionRequest(ctx, req, sipgo.ClientRequestDecreaseMaxForward, sipgo.ClientRequestAddVia, s.pickPinned)
		}
		return s.cli.TransactionRequest(ctx, req, s.sendOpts(sipgo.ClientRequestDecreaseMaxForward)...)
	}
	first, stop := context.WithTimeout(ctx, 7*s.opts.T1)
	defer stop()
	tx, err := send(first)
	if err != nil && (s.names.DownAt(req.Transport(), req.Destination(), req.SentTo()) || first.Err() == context.DeadlineExceeded) {
		sipmsg.Unsent(req) // refused, unreachable or silent: the name's next target, else the same again
		tx, err = send(ctx)
	}
	return tx, err
}

// onAck forwards ACKs for 2xx (they carry their own branch and reach us as new requests). ACKs for
// non-2xx were absorbed by the INVITE server transaction.
func (s *Server) onAck(req *sip.Request, _ sip.ServerTransaction) {
	fwd := forwardCopy(req)
	route := s.popSelfRoute(fwd)
	if route == nil && s.isSelf(fwd.Recipient) {
		return // addressed to Herald itself: an ACK in Herald's own dialog; nothing to do
	}
	if mf := fwd.MaxForwards(); mf != nil {
		if mf.Val() <= 1 {
			return
		}
		mf.Dec()
	}
	sipmsg.TowardNextHop(fwd, route, s.names)
	if err := s.cli.WriteRequest(fwd, s.sendOpts()...); err != nil {
		s.Stats.ForwardErrors.Add(1)
		s.log.Warn("forward ACK", "call_id", callIDOf(req), "error", err)
	}
}

// proxyInDialog forwards an in-dialog request along its Route set (or to its Request-URI) and relays
// every response back. It blocks until the final response (sipgo requires that of a handler).
func (s *Server) proxyInDialog(req *sip.Request, tx sip.ServerTransaction) {
	if r := req.Route(); (r == nil || !s.isSelf(r.Address)) && !s.trusted(req) {
		sipmsg.Respond(tx, req, 403, "Forbidden") // not along Herald's Record-Route, nor a trusted peer's: no open relay
		return
	}
	fwd := forwardCopy(req)
	route := s.popSelfRoute(fwd)
	if route == nil && s.isSelf(fwd.Recipient) {
		// Addressed to Herald with no route onward: a dialog of Herald's that no longer exists.
		sipmsg.Respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if route == nil && fwd.Recipient.Host == "" {
		// A tel: (or other host-less) target and no Route: nothing to send it to. Answer at once
		// (RFC 3261 §16.3 step 1) instead of a DNS SRV lookup of an empty name per request.
		sipmsg.Respond(tx, req, 416, "Unsupported URI Scheme")
		return
	}
	if mf := fwd.MaxForwards(); mf != nil && mf.Val() <= 1 {
		s.Stats.Rejected483.Add(1)
		sipmsg.Respond(tx, req, 483, "Too Many Hops")
		return
	}
	sipmsg.TowardNextHop(fwd, route, s.names)
	ctx, cancel := context.WithTimeout(context.Background(), 64*s.opts.T1)
	defer cancel()
	clTx, err := s.cli.TransactionRequest(ctx, fwd, s.sendOpts(sipgo.ClientRequestDecreaseMaxForward)...)
	if err != nil {
		s.Stats.ForwardErrors.Add(1)
		s.log.Warn("forward in-dialog request", "call_id", callIDOf(req), "method", req.Method, "error", err)
		sipmsg.Respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	defer clTx.Terminate()
	if s.tracing() {
		s.trace("herald: proxy %s %s", req.Method, callIDOf(req))
	}
	for {
		select {
		case res := <-clTx.Responses():
			if res.StatusCode == 100 || s.badResponse(res) {
				continue
			}
			s.relayResponse(tx, req, res)
			if res.StatusCode >= 200 {
				return
			}
		case <-clTx.Done():
			sipmsg.Respond(tx, req, 408, "Request Timeout")
			return
		case <-tx.Done():
			return
		case <-ctx.Done():
			sipmsg.Respond(tx, req, 408, "Request Timeout")
			return
		}
	}
}

// forwardCopy is the request Herald forwards for req: req.Clone() without the deep copy. The copy has
// its own start line, header list and transport, so popping a Route, prepending a Via
// or a Record-Route and choosing the next hop leave req (the server transaction's origin, from which
// sipgo builds 100, 487 and Herald its own answers) untouched. The header values themselves are
// shared with req, except Max-Forwards and the top Via, the ones the forwarding path changes in
// place: ClientRequestDecreaseMaxForward and the TCP fallback's undo; ClientRequestAddVia, which
// fills in the rport and received of the Via below Herald's (RFC 3581 §4) while sipgo may be
// building a 100 Trying from req on another goroutine (a data race FuzzServer found). Whoever
// changes another header of the copy replaces it (ReplaceHeader, SetBody do) rather than writing
// through it.
//
// Clone deep-copied every header (From, To, Contact with their parameter lists, Via, CSeq...) for
// each INVITE, ACK and BYE Herald forwards: ≈ 6% of Herald's CPU at 4000 calls/s, plus the garbage.
func forwardCopy(req *sip.Request) *sip.Request {
	fwd := sip.NewRequest(req.Method, req.Recipient) // copies the URI's parameter and header lists
	fwd.SipVersion = req.SipVersion
	topVia := true
	for _, h := range req.Headers() {
		switch v := h.(type) {
		case *sip.MaxForwardsHeader:
			c := *v
			h = &c
		case *sip.ViaHeader:
			if topVia {
				h, topVia = v.Clone(), false
			}
		}
		fwd.AppendHeader(h)
	}
	fwd.SetBody(req.Body()) // same length: the shared Content-Length is left as it is
	fwd.SetTransport(req.Transport())
	fwd.SetSource(req.Source())
	fwd.Laddr = req.Laddr // the destination is not copied: every caller sets the next hop
	return fwd
}

// relayResponse pops Herald's Via and sends res upstream on the server transaction of req. It takes
// res over: a response read from a client transaction's Responses() is no longer used by sipgo
// (the transaction builds its ACK for a non-2xx before passing the response up, and a retransmission
// arrives as a new *sip.Response), so it is changed and sent as it is rather than cloned. The
// caller must not change res afterwards: the server transaction keeps it for retransmissions.
func (s *Server) relayResponse(tx sip.ServerTransaction, req *sip.Request, res *sip.Response) {
	sipmsg.ForUpstream(res)
	res.SetDestination(req.Source())
	res.SetTransport(req.Transport())
	if err := tx.Respond(res); err != nil {
		s.log.Debug("relay response", "call_id", callIDOf(req), "status", res.StatusCode, "error", err)
	}
}

// ackAndBye ends a 2xx that arrived after Herald cancelled the INVITE (the CANCEL/200 race,
// RFC 3261 §15): the dialog it created is confirmed with ACK and torn down with BYE.
func (s *Server) ackAndBye(inv *sip.Request, res *sip.Response) {
	if inv.From() == nil || inv.CallID() == nil || inv.CSeq() == nil || res.To() == nil {
		return
	}
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
		r.SetTransport(sipmsg.TransportToward(r))
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
