package signal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sdp"
)

// callCtl is one call's controller state. Only the goroutine running run touches it; other goroutines
// send on events.
type callCtl struct {
	s      *Server
	req    *sip.Request // the caller's INVITE as received
	tx     sip.ServerTransaction
	callID string
	tag    string // Herald's To tag toward the caller: its own responses and early dialog
	caps   call.Caps
	plan   call.Plan
	ctx    context.Context
	cancel context.CancelFunc
	events chan any
	wg     sync.WaitGroup // helper goroutines (UPDATE transaction)

	fwd       *sip.Request // the INVITE as forwarded (with Herald's Via)
	sessions  []*push.Session
	early     ownDialog // Herald's own early dialog toward the caller
	final     bool      // a final response went upstream
	canceled  bool
	cancelled chan struct{} // closed by sipgo's OnCancel callback
	rec       callRecord    // histograms and the call's info line (callrecord.go)

	// The gate on early-dialog pushes (capability.go): the keys each party's terminal is learned
	// under, whether its capability is provisioned, the caller card's Call-Info link, whether the
	// callee answered anything beyond 100, and whether the INVITE was resent without the part.
	callerKey, calleeKey   string
	callerProv, calleeProv bool
	callerLink             string
	progress, resent       bool
}

// onInvite is the controller of a new call; it returns after the INVITE's final response.
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
		respondTag(tx, req, tag, 403, "Forbidden")
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() <= 1 {
		s.Stats.Rejected483.Add(1)
		respondTag(tx, req, tag, 483, "Too Many Hops")
		return
	}
	callID := callIDOf(req)
	if callID == "" || req.From() == nil || req.CSeq() == nil {
		respondTag(tx, req, tag, 400, "Bad Request")
		return
	}
	c := &callCtl{s: s, req: req, tx: tx, callID: callID, tag: tag, events: make(chan any, 8)}
	c.rec.start = start
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.cancelled = make(chan struct{})
	switch s.adm.admit(callID, admitted{ctl: c}, s.live.Load().maxCalls) {
	case admitLoop:
		c.cancel()
		// A second INVITE with a Call-ID in progress on either path but a new branch: a loop or
		// a spiral back to us.
		respondTag(tx, req, tag, 482, "Loop Detected")
		return
	case admitFull:
		c.cancel()
		s.Stats.Rejected503.Add(1)
		respondTag(tx, req, tag, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	if s.draining.Load() {
		s.adm.release(callID, admitted{ctl: c})
		c.cancel()
		// A drain (Server.Drain): the previous hop tries another instance.
		s.Stats.Rejected503.Add(1)
		respondTag(tx, req, tag, 503, "Service Unavailable", sip.NewHeader("Retry-After", drainRetryAfter))
		return
	}
	// A matched CANCEL does not end the server transaction's Done(); sipgo reports it here (it has
	// already answered 200 to the CANCEL and 487 to the INVITE).
	// sipgo runs this on its own goroutine; once only, whatever sipgo does with a repeated CANCEL.
	var cancelOnce sync.Once
	tx.OnCancel(func(*sip.Request) {
		defer func() { s.recovered(recover()) }()
		cancelOnce.Do(func() { close(c.cancelled) })
		fire(&hookHelper, "oncancel")
	})
	s.active.Add(1)
	s.wg.Add(1)
	defer func() {
		c.cancel()
		c.wg.Wait()
		c.stopRingback()
		for _, ps := range c.sessions {
			s.deps.MSRP.Close(ps.ID)
		}
		if s.deps.Web != nil {
			s.deps.Web.RevokeCall(callID)
		}
		s.adm.release(callID, admitted{ctl: c})
		s.active.Add(-1)
		s.Stats.CallsDone.Add(1)
		c.logEnd()
		s.wg.Done()
	}()
	c.runSafe()
}

// runSafe runs the controller behind the recovery net (recover.go): a fault in it answers the
// caller 500 with Retry-After instead of leaving the INVITE unanswered, and cancels the INVITE it
// forwarded (the deferred cleanup above still releases everything else).
func (c *callCtl) runSafe() {
	defer func() {
		if r := recover(); c.s.recovered(r) {
			if !c.final {
				c.final = true
				func() {
					defer func() { _ = recover() }()
					c.respond(500, "Server Internal Error", sip.NewHeader("Retry-After", "5"))
				}()
			}
			if !c.canceled {
				c.canceled = true
				func() {
					defer func() { c.s.recovered(recover()) }()
					c.finish()
					c.cancelDownstream()
				}()
			}
		}
	}()
	fire(&hookController, c.req)
	c.run()
}

// respond sends Herald's own response to the caller's INVITE, with the call's To tag.
func (c *callCtl) respond(code int, reason string, hdrs ...sip.Header) {
	c.noteFinal(code)
	respondTag(c.tx, c.req, c.tag, code, reason, hdrs...)
}

func (s *Server) partyFor(uri string) *call.Party {
	key, err := profile.Canonical(uri)
	if err != nil {
		return nil
	}
	p, ok := s.deps.Profiles.Lookup(key)
	if !ok || p == nil {
		return nil
	}
	return &call.Party{CallerCard: p.CallerCard, CalleeCard: p.CalleeCard, Ringback: p.Ringback}
}

// inviteHeaders are the header values of an INVITE the controller decides on, read in one pass.
type inviteHeaders struct {
	supported, require, allow, earlyMedia []string
	pai                                   sip.Header // the first P-Asserted-Identity, nil if none
}

// scanInvite walks req's headers once, instead of one GetHeaders per name (each walks the whole
// list and lower-cases every generic header's name, allocating).
func scanInvite(req *sip.Request) inviteHeaders {
	var hv inviteHeaders
	for _, h := range req.Headers() {
		name := h.Name()
		switch {
		case strings.EqualFold(name, "Supported"):
			hv.supported = append(hv.supported, h.Value())
		case strings.EqualFold(name, "Require"):
			hv.require = append(hv.require, h.Value())
		case strings.EqualFold(name, "Allow"):
			hv.allow = append(hv.allow, h.Value())
		case strings.EqualFold(name, "P-Early-Media"):
			hv.earlyMedia = append(hv.earlyMedia, h.Value())
		case hv.pai == nil && strings.EqualFold(name, "P-Asserted-Identity"):
			hv.pai = h
		}
	}
	return hv
}

// noCaps are the capabilities of an INVITE without Supported, Require, Allow or P-Early-Media
// (call.ParseCaps is pure: computed once instead of four empty maps per call).
var noCaps = call.ParseCaps(nil, nil, nil, nil)

// caps are the caller's capabilities (call.ParseCaps).
func (hv *inviteHeaders) caps() call.Caps {
	if hv.supported == nil && hv.require == nil && hv.allow == nil && hv.earlyMedia == nil {
		return noCaps
	}
	return call.ParseCaps(hv.supported, hv.require, hv.allow, hv.earlyMedia)
}

// callerIdentity is P-Asserted-Identity when present, else From (TS 24.229 §5.7).
func (hv *inviteHeaders) callerIdentity(req *sip.Request) string {
	if hv.pai != nil {
		return firstNameAddr(hv.pai.Value()) // the first identity (sip: or tel:)
	}
	return uriText(&req.From().Address)
}

// uriText is u.String() for the identities of every INVITE, without sipgo's per-URI IPv6 test of
// the host (net.ParseIP, which allocates for every IPv4 literal, on every URI it prints). An IPv6
// literal host is bracketed as sipgo does (RFC 3261 §25.1).
func uriText(u *sip.Uri) string {
	scheme := u.Scheme
	if scheme == "" {
		scheme = "sip"
	}
	if raw := u.Raw(); raw != "" {
		return scheme + ":" + raw // tel:, urn: and other non-SIP URIs are kept as received
	}
	var b strings.Builder
	b.Grow(len(scheme) + len(u.User) + len(u.Host) + 24)
	b.WriteString(scheme)
	b.WriteByte(':')
	if u.HierarhicalSlashes {
		b.WriteString("//")
	}
	if u.User != "" {
		b.WriteString(u.User)
		if u.Password != "" {
			b.WriteByte(':')
			b.WriteString(u.Password)
		}
		b.WriteByte('@')
	}
	if strings.IndexByte(u.Host, ':') >= 0 && !strings.HasPrefix(u.Host, "[") {
		b.WriteByte('[')
		b.WriteString(u.Host)
		b.WriteByte(']')
	} else {
		b.WriteString(u.Host)
	}
	if u.Port > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.Port))
	}
	if u.UriParams != nil && u.UriParams.Length() > 0 {
		b.WriteByte(';')
		b.WriteString(u.UriParams.ToString(';'))
	}
	if u.Headers != nil && u.Headers.Length() > 0 {
		b.WriteByte('?')
		b.WriteString(u.Headers.ToString('&'))
	}
	return b.String()
}

// callerIdentity is P-Asserted-Identity when present, else From (TS 24.229 §5.7).
func callerIdentity(req *sip.Request) string {
	hv := scanInvite(req)
	return hv.callerIdentity(req)
}

// firstNameAddr returns the first element of a comma-separated name-addr list, ignoring commas inside
// quoted display names and <…> URIs.
func firstNameAddr(v string) string {
	inQuote, inAngle := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '<' && !inQuote:
			inAngle = true
		case c == '>' && !inQuote:
			inAngle = false
		case c == ',' && !inQuote && !inAngle:
			return strings.TrimSpace(v[:i])
		}
	}
	return strings.TrimSpace(v)
}

func (c *callCtl) run() {
	s, req := c.s, c.req
	hv := scanInvite(req)
	c.caps = hv.caps()
	c.caps.MessageFeature = messageFeature(req)
	caller, callerKey, callerProv := s.party(hv.callerIdentity(req))
	callee, calleeKey, calleeProv := s.party(uriText(&req.Recipient))
	c.callerKey, c.callerProv, c.calleeKey, c.calleeProv = callerKey, callerProv, calleeKey, calleeProv
	c.plan = call.Decide(caller, callee, c.caps, s.opts.Probe)
	if s.tracing() {
		s.trace("herald: INVITE %s from %s: plan caller-card=%t (%s) callee-card=%t (%s) claims %v", req.Recipient.String(),
			hv.callerIdentity(req), c.plan.CallerCard != nil, c.plan.CallerMode, c.plan.CalleeCard != nil, c.plan.CalleeMode, c.plan.Claims())
	}

	if c.plan.CallerCard != nil {
		// The HTTP link every terminal gets; the only form for one not known to take the
		// early-session part (capability.go).
		if c.callerLink = c.callInfo(c.plan.CallerCard); c.callerLink != "" {
			s.trace("herald: caller card linked for HTTP fetch: Call-Info %s", c.callerLink)
		}
		switch c.plan.CallerMode {
		case call.CallerCardCallInfo:
			s.Stats.Capability.CallerCardCallInfo.Add(1)
			s.trace("herald: callee's terminal not known to take early-session pushes: caller card as Call-Info only")
		case call.CallerCardProbe:
			s.Stats.Capability.CallerCardProbes.Add(1)
		}
	}
	fwd := c.newForward()
	if c.plan.CallerMode.Pushes() {
		if err := c.addCallerCard(fwd); err != nil {
			s.Stats.BadBodies.Add(1)
			s.log.Info("caller card not added; INVITE forwarded untouched", "call_id", c.callID, "error", err)
			s.trace("herald: caller card not added (%v); body forwarded untouched", err)
		}
	}
	clTx, err := s.forwardInvite(c.ctx, fwd, s.pinnedFor(fwd), c.callID)
	if err != nil {
		// RFC 3261 §16.9: a transport error counts as a 503 from the next hop. With TLS this includes a
		// next hop whose certificate does not verify: nothing was sent to it.
		s.Stats.ForwardErrors.Add(1)
		s.log.Warn("forward INVITE", "call_id", c.callID, "error", err)
		c.respond(503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	txs := []sip.ClientTransaction{clTx}
	// The current client transaction's channels; nil while a resend waits (capability.go).
	respCh, doneCh := clTx.Responses(), clTx.Done()
	defer func() {
		for _, tx := range txs {
			tx.Terminate()
		}
	}()
	c.fwd = fwd
	s.Stats.Forwarded.Add(1)
	if s.tracing() {
		s.trace("herald → next hop  SIP INVITE %s (%s)", fwd.Recipient.String(), contentType(fwd))
	}

	timerC := time.NewTimer(s.opts.TimerC)
	defer timerC.Stop()
	var cancelDeadline <-chan time.Time
	for {
		select {
		case res := <-respCh:
			fire(&hookResponse, res)
			if s.badResponse(res) {
				continue
			}
			if res.StatusCode > 100 && res.StatusCode < 200 {
				timerC.Reset(s.opts.TimerC) // RFC 3261 §16.7 step 2: a provisional restarts Timer C
			}
			if c.answerLacksSession(res) {
				// A 2xx cannot be refused by a proxy, but this one was never relayed: the callee's
				// dialog is confirmed and ended (ACK, BYE) and the callee gets the INVITE again
				// without the part; the caller sees only what follows.
				c.s.log.Info("callee answered the early-session INVITE without a session answer; ending it, then resending without the part", "call_id", c.callID)
				c.endBrokenAnswer(res)
				respCh, doneCh = nil, nil // the old transaction is over; Timer C still runs
				continue
			}
			if c.refusedCard(res) {
				// sipgo's transaction has ACKed the refusal; it is not relayed: the callee gets the
				// INVITE again without the early-session part (capability.go).
				if tx := c.resendWithoutCard(res); tx != nil {
					clTx = tx
					txs = append(txs, tx)
					respCh, doneCh = tx.Responses(), tx.Done()
					continue
				}
			}
			if res.StatusCode > 100 && res.StatusCode < 300 {
				c.progress = true
			}
			if c.onResponse(res) {
				return
			}
		case <-doneCh:
			if !c.final {
				c.finish()
				c.respond(408, "Request Timeout")
			}
			return
		case <-c.cancelled:
			c.cancelled = nil
			if !c.final {
				c.onCallerCancel()
				cancelDeadline = time.After(64 * s.opts.T1)
			}
		case <-c.tx.Done():
			if c.final {
				return
			}
			if errors.Is(c.tx.Err(), sip.ErrTransactionCanceled) && !c.canceled {
				c.onCallerCancel()
				cancelDeadline = time.After(64 * s.opts.T1)
				continue
			}
			c.finish()
			return
		case ev := <-c.events:
			if _, ok := ev.(drainAbort); ok {
				// The drain's time is up (Server.AbortCalls): 487 upstream, CANCEL downstream
				// (RFC 3261 §16.10), pushes closed with '#' mid-page (RFC 4975 §7.1.1).
				if !c.final {
					s.Stats.DrainAborted.Add(1)
					c.finish()
					c.final = true
					c.respond(487, "Request Terminated")
					c.canceled = true
					c.cancelDownstream()
					cancelDeadline = time.After(64 * s.opts.T1)
				}
				continue
			}
			if e, ok := ev.(brokenAnswerEnded); ok {
				// The callee's dialog of the 2xx without a session answer is over: a single-line
				// phone is free again for the INVITE without the part (unless the call ended
				// meanwhile: CANCEL or Timer C).
				if c.canceled || c.final {
					if c.canceled {
						continue // waiting for cancelDeadline
					}
					return
				}
				if tx := c.resendWithoutCard(e.res); tx != nil {
					clTx = tx
					txs = append(txs, tx)
					respCh, doneCh = tx.Responses(), tx.Done()
				} else if !c.final {
					c.finish()
					c.final = true
					respond(c.tx, req, 500, "Server Internal Error", sip.NewHeader("Retry-After", "5"))
				}
				continue
			}
			c.onEvent(ev)
		case <-c.early.retransmit:
			c.retransmitProvisional()
		case <-timerC.C:
			// Timer C: the callee never answered. 408 upstream, CANCEL downstream (RFC 3261 §16.8).
			if !c.final {
				c.finish()
				c.final = true
				c.respond(408, "Request Timeout")
				c.canceled = true
				c.cancelDownstream()
				cancelDeadline = time.After(64 * s.opts.T1)
			}
		case <-cancelDeadline:
			return
		}
	}
}

// newForward is the caller's INVITE as Herald forwards it, before any early-session part: Herald's
// own Route popped (or the next hop set), its Record-Route, and the caller card's Call-Info link.
func (c *callCtl) newForward() *sip.Request {
	s, req := c.s, c.req
	fwd := forwardCopy(req)
	if route := s.popSelfRoute(fwd); route == nil {
		l := s.live.Load()
		fwd.SetDestination(l.nextHop)
		fwd.SetTransport(strings.ToUpper(l.nextHopTransport))
	} else {
		towardNextHop(fwd, route)
	}
	if s.opts.RecordRoute {
		s.recordRoute(fwd, req.Transport(), fwd.Transport(), req.Recipient.Scheme == "sips")
	}
	if c.callerLink != "" {
		fwd.AppendHeader(sip.NewHeader("Call-Info", c.callerLink))
	}
	return fwd
}

// onCallerCancel stops everything early and cancels the forwarded INVITE; sipgo already answered
// 200 to the CANCEL and 487 to the INVITE.
func (c *callCtl) onCallerCancel() {
	c.canceled, c.final = true, true
	c.s.Stats.Cancels.Add(1)
	c.s.trace("herald: caller CANCEL: pushes stopped, CANCEL toward the callee")
	c.finish()
	c.cancelDownstream()
}

// onResponse handles one response of the forwarded INVITE; it returns true when the call's controller
// is done.
func (c *callCtl) onResponse(res *sip.Response) bool {
	s := c.s
	if res.StatusCode == 100 {
		return false
	}
	if c.canceled {
		if res.IsSuccess() {
			s.trace("herald: 2xx after CANCEL: ACK and BYE it")
			s.ackAndBye(c.fwd, res)
		}
		return res.StatusCode >= 200
	}
	out := res
	if ct := contentType(res); ct != "" && len(res.Body()) > 0 {
		newCT, body, stripped, err := sdp.StripEarlySession(ct, res.Body())
		if err == nil && stripped {
			c.noteEarlyAnswer(ct, res.Body())
			out = res.Clone()
			setBody(out, newCT, body) // an early-session part alone leaves no body and no Content-Type
			s.trace("herald: stripped the callee's early-session answer from %d", res.StatusCode)
		}
	}
	if res.StatusCode >= 200 {
		c.finish()
	}
	if s.tracing() {
		s.trace("herald → caller  SIP %d %s (relayed)", res.StatusCode, res.Reason)
	}
	s.relayResponse(c.tx, c.req, out)
	if res.StatusCode > 100 && res.StatusCode < 200 && res.GetHeader("RSeq") != nil {
		c.noteReliable() // a reliable provisional of the callee's, relayed (RFC 3262 §3)
	}
	if res.StatusCode >= 200 {
		c.noteFinal(res.StatusCode)
		c.final = true
		return true
	}
	// The callee is alerting: Herald opens its own early dialog with the caller (ringback, then the
	// callee card), once.
	if res.StatusCode >= 180 && c.early.m.State() == call.Idle {
		switch {
		case c.plan.OwnEarlyDialog() || c.plan.CalleeMode == call.CalleeCardCallInfo && c.caps.RequireReliable:
			// With the callee card's Call-Info link when that is its mode (reliable, as a caller
			// that requires 100rel needs every provisional, RFC 3262 §3).
			c.startEarlyDialog()
		case c.plan.CalleeMode == call.CalleeCardCallInfo:
			c.calleeCardCallInfo()
		}
	}
	return false
}

// callInfo publishes page for this call and returns the Call-Info value pointing at it, or "" when
// Herald has no HTTP plane or the page cannot be published.
func (c *callCtl) callInfo(page *content.Page) string {
	if c.s.deps.Web == nil || page == nil {
		return ""
	}
	url, _, err := c.s.deps.Web.Publish(page, c.callID)
	if err != nil {
		c.s.log.Info("call-info fallback not published", "call_id", c.callID, "error", err)
		return ""
	}
	c.s.Stats.CallInfoLinks.Add(1)
	return "<" + url + ">;purpose=info"
}

// noteEarlyAnswer logs the callee terminal's early-session answer (its path and connection role).
func (c *callCtl) noteEarlyAnswer(ct string, body []byte) {
	_, early, err := sdp.SplitBody(ct, body)
	if err != nil || early == nil {
		return
	}
	sess, err := sdp.Parse(early)
	if err != nil {
		return
	}
	for _, m := range sess.Media {
		if info, err := m.MSRP(); err == nil && m.Port != 0 {
			c.learnCallee(true, "answered the early-session offer")
			c.s.trace("herald: callee early-session answer: path %s setup %s", strings.Join(info.Path, " "), info.Setup)
			for _, ps := range c.sessions {
				if ps.Role == push.CallerCard {
					c.applyAnswer(ps, info)
				}
			}
		}
	}
}

// fingerprintConnector is a push.Connector that verifies an msrps terminal's certificate by the
// a=fingerprint of its answer (RFC 8122) instead of a CA chain (netio/msrp.Server).
type fingerprintConnector interface {
	ConnectFingerprint(id string, peerPath string, addr string, fps []sdp.Fingerprint) error
}

// applyAnswer hands the terminal's MSRP answer to the plane: its a=accept-types (a compressed variant
// of the page is sent only when listed) and, when it answered a=setup:passive (RFC 6135), the
// address Herald must connect to, with the answer's a=fingerprint (RFC 8122) when it has any.
func (c *callCtl) applyAnswer(ps *push.Session, info sdp.MSRPInfo) {
	if as, ok := c.s.deps.MSRP.(push.AcceptSetter); ok && len(info.AcceptTypes) > 0 {
		as.SetAccept(ps.ID, info.AcceptTypes)
	}
	if !strings.EqualFold(info.Setup, "passive") || len(info.Path) == 0 {
		return
	}
	cn, ok := c.s.deps.MSRP.(push.Connector)
	if !ok {
		return
	}
	addr := ""
	if info.CEMA && info.ConnAddr != "" && info.Port > 0 {
		// RFC 6714: connect to c=/m= (what an IMS-ALG may have rewritten), not the a=path host.
		addr = net.JoinHostPort(info.ConnAddr, strconv.Itoa(info.Port))
	} else if u, err := msrp.ParseURI([]byte(info.Path[0])); err == nil {
		port := u.Port
		if port == 0 {
			port = msrp.DefaultPort
		}
		addr = net.JoinHostPort(u.Host, strconv.Itoa(port))
	}
	if addr == "" {
		return
	}
	var err error
	if fc, ok := cn.(fingerprintConnector); ok && len(info.Fingerprints) > 0 {
		err = fc.ConnectFingerprint(ps.ID, strings.Join(info.Path, " "), addr, info.Fingerprints)
	} else {
		err = cn.Connect(ps.ID, strings.Join(info.Path, " "), addr)
	}
	if err != nil {
		c.s.log.Info("msrp active connect", "call_id", c.callID, "error", err)
		return
	}
	c.s.trace("herald: terminal answered setup:passive: Herald connects to %s", addr)
}

// finish ends everything Herald does early in this call: the push sessions, the ringback and Herald's
// own early dialog (with 199 when the caller supports it). Idempotent.
func (c *callCtl) finish() {
	c.stopRingback() // first: within one packet time of the final response or CANCEL
	for _, ps := range c.sessions {
		c.s.deps.MSRP.Close(ps.ID)
	}
	c.endEarlyDialog()
}

// cancelDownstream sends CANCEL for the forwarded INVITE; its response is awaited off the controller.
func (c *callCtl) cancelDownstream() {
	if c.fwd == nil {
		return
	}
	cr := cancelRequest(c.fwd)
	if cr == nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { c.s.recovered(recover()) }()
		ctx, cancel := context.WithTimeout(context.Background(), 64*c.s.opts.T1)
		defer cancel()
		cr.SetTransport(c.fwd.Transport())
		cr.Laddr = c.fwd.Laddr
		if _, err := c.s.cli.Do(ctx, cr, prebuilt); err != nil {
			c.s.log.Debug("cancel downstream", "call_id", c.callID, "error", err)
		}
		fire(&hookHelper, "cancel")
	}()
}

// addCallerCard opens the caller-card push session and adds its early-session offer to fwd
// (claims 1 and 3). The caller's SDP stays byte-for-byte as the session part.
func (c *callCtl) addCallerCard(fwd *sip.Request) error {
	ct := contentType(fwd)
	session, _, err := sdp.SplitBody(ct, fwd.Body())
	if err != nil {
		return err
	}
	// Only an SDP body or multipart/mixed holding one: never multipart/signed (the early-session part
	// would break the signature) nor a body without SDP.
	if mt := sdp.MediaType(ct); ct != "" && mt != "application/sdp" && mt != "multipart/mixed" || len(fwd.Body()) > 0 && session == nil {
		return fmt.Errorf("signal: unsupported body type %q", ct)
	}
	if session != nil {
		// The caller's offer stays byte-for-byte, but it must be SDP: a malformed one is forwarded
		// untouched, without Herald's part (the next hop answers it 400/488 as it sees fit).
		if _, err := sdp.Parse(session); err != nil {
			return fmt.Errorf("signal: caller's offer: %w", err)
		}
	}
	ps, offer, err := c.openPush(push.CallerCard, c.plan.CallerCard)
	if err != nil {
		return err
	}
	early := sdp.NewSession("herald", offer.Host, uint64(time.Now().UnixNano()))
	early.Media = append(early.Media, offer.Media())
	newCT, body, err := sdp.AddEarlySession(ct, fwd.Body(), early.Marshal(), "herald-"+push.NewID(6))
	if err != nil {
		c.s.deps.MSRP.Close(ps.ID)
		return err
	}
	fwd.SetBody(body)
	fwd.ReplaceHeader(ctHeader(newCT))
	if !hasToken(headerValues(fwd, "Supported"), "early-session") {
		fwd.AppendHeader(sip.NewHeader("Supported", "early-session"))
	}
	c.s.Stats.CallerCards.Add(1)
	c.s.trace("herald: caller card %q (%d bytes) offered as early-session, path %s", c.plan.CallerCard.Name,
		len(c.plan.CallerCard.Body), offer.PathURI)
	return nil
}

// openPush creates and opens a push session and the SDP offer that advertises it.
func (c *callCtl) openPush(role push.Role, page *content.Page) (*push.Session, sdp.PushOffer, error) {
	ps := push.NewSession(c.callID, role, page, c.s.opts.SessionTTL)
	host, port := c.s.deps.MSRP.Addr()
	if ta, ok := c.s.deps.MSRP.(interface{ TLSAddr() (string, int) }); ok && c.s.opts.OfferTLS {
		// msrps: the session binds only over TLS and a=path says msrps:// (RFC 4975 §6).
		if h, p := ta.TLSAddr(); p != 0 {
			ps.Secure, host, port = true, h, p
		}
	}
	if err := c.s.deps.MSRP.Open(ps); err != nil {
		return nil, sdp.PushOffer{}, fmt.Errorf("signal: open push session: %w", err)
	}
	c.sessions = append(c.sessions, ps)
	c.watch(ps)
	pg := ps.Page
	offer := sdp.PushOffer{
		Secure:      ps.Secure,
		Host:        host,
		Port:        port,
		PathURI:     c.s.deps.MSRP.PathURI(ps.ID),
		AcceptTypes: []string{"text/html"},
		FileSelector: sdp.FileSelector{
			Name: pg.Name, Type: "text/html", Size: int64(len(pg.Body)), Hash: pg.HashSelector(),
		},
		TransferID:  ps.TransferID,
		Disposition: "render",
	}
	return ps, offer, nil
}

// pushDone is posted when a push session reports its result.
type pushDone struct {
	s *push.Session
	r push.Result
}

// watch forwards the session's single result to the controller.
func (c *callCtl) watch(ps *push.Session) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case r := <-ps.Done:
			select {
			case c.events <- pushDone{ps, r}:
			case <-c.ctx.Done():
			}
		case <-c.ctx.Done():
		}
	}()
}

func (c *callCtl) onEvent(ev any) {
	switch e := ev.(type) {
	case pushDone:
		c.s.trace("herald: %s push %s: %s (%d bytes)", e.s.Role, e.s.ID[:8], e.r.Outcome, e.r.Bytes)
		if e.r.Outcome == push.Delivered {
			// A terminal that fetched its page takes the pushes.
			if e.s.Role == push.CallerCard {
				c.learnCallee(true, "fetched the caller card")
			} else {
				c.learnCaller(true, "fetched the callee card")
			}
		}
		if e.s.Role == push.CalleeCard && c.early.m.State() == call.Pushing {
			_ = c.early.m.To(call.Pushed)
		}
	case *prackEvent:
		c.onPrack(e)
	case *updateDone:
		c.onUpdateDone(e)
	case *inboundUpdate:
		c.onInboundUpdate(e)
	}
}

func contentType(m interface{ ContentType() *sip.ContentTypeHeader }) string {
	if h := m.ContentType(); h != nil {
		return h.Value()
	}
	return ""
}

func hasToken(vals []string, tok string) bool {
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}
