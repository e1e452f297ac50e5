package callsip

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sdp"
	"github.com/herald-ims/herald/core/sipmsg"
)

// ownDialog is the SIP side of Herald's own early dialog with the caller (TS 24.182 forking model:
// its own To-tag); where it stands is the call's machine's (call.State).
type ownDialog struct {
	cseq   uint32 // Herald's local CSeq for requests it sends on this dialog
	prov   *sip.Response
	answer *sdp.Session // Herald's current SDP on this dialog (the 183 answer, then the UPDATE offer)
	sessID uint64

	sent time.Time // when the outstanding reliable provisional was first sent

	streams []ringStream // ringback streams answered in the 183 (claims 2, 6)

	pub atomic.Pointer[string] // Herald's tag (the call's, never changed), published for handlers on other goroutines once a 183 of its own is built
}

type ringStream struct {
	st    RingStream
	dst   netip.AddrPort
	track media.Track
	enc   string
}

// earlyMedia is the P-Early-Media value of Herald's dialog (RFC 5009): sendonly while ringback plays.
func (d *ownDialog) earlyMedia() string {
	if len(d.streams) > 0 {
		return "sendonly"
	}
	return "inactive"
}

// answerOffer is Herald's answer to the caller's offer on its early dialog (call.EarlyAnswer): the
// ringback streams it names are reserved here, on the RTP plane, and kept for PRACK.
func (c *Call) answerOffer(offer *sdp.Session) *sdp.Session {
	s, d := c.env, &c.early
	host, _ := s.MSRP.Addr()
	var clip *media.Clip
	rtpHost := ""
	if c.plan.Ringback != "" && s.Ringback != nil {
		clip, rtpHost = s.Ringback.Clip(c.plan.Ringback), s.Ringback.Addr()
	}
	ans, lines, failed := call.EarlyAnswer(offer, clip, host, rtpHost, d.sessID, func(l call.RingLine) (int, error) {
		st, err := s.Ringback.Allocate()
		if err != nil {
			if n := s.Stats.RingbackNoPort.Add(1); n&(n-1) == 0 {
				// Logged the 1st, 2nd, 4th, 8th… time: an exhausted plane fails every call, and
				// the counter (/varz ringback_no_port) has them all.
				s.Log.Warn("ringback port", "call_id", c.callID, "skipped_lines", n, "error", err)
			}
			return 0, err
		}
		d.streams = append(d.streams, ringStream{st: st, dst: l.Dst, track: l.Choice.Track, enc: l.Choice.Encoding})
		return st.Port(), nil
	})
	switch {
	case clip == nil || len(lines) > 0:
	case failed:
		s.trace("herald: ringback %q skipped: no RTP port", c.plan.Ringback)
	default:
		s.Stats.RingbackNoCodec.Add(1)
		s.trace("herald: ringback %q skipped: no codec in common with the caller's offer", c.plan.Ringback)
	}
	return ans
}

// playRingback starts every answered stream (after PRACK: the offer/answer is complete) and
// returns how many play.
func (c *Call) playRingback() int {
	n := 0
	for _, r := range c.early.streams {
		if err := r.st.Play(r.dst, r.track); err != nil {
			c.env.Log.Warn("ringback play", "call_id", c.callID, "error", err)
			continue
		}
		n++
		c.env.Stats.Ringbacks.Add(1)
		c.rec.ringback.Store(true)
		if c.env.tracing() {
			c.env.trace("herald → caller  RTP ringback %q as %s to %s", c.plan.Ringback, r.enc, r.dst)
		}
	}
	return n
}

// stopRingback stops and releases every stream; safe to call more than once.
func (c *Call) stopRingback() {
	for _, r := range c.early.streams {
		r.st.Stop()
	}
	if len(c.early.streams) > 0 {
		c.env.trace("herald: ringback stopped")
		// What Herald offers next on its dialog (the UPDATE, call.UpdateOffer) says no media flows
		// on the lines the ringback played (RFC 3264 §8.4).
		if a := c.early.answer; a != nil {
			for _, m := range a.Media {
				if m.Port != 0 && m.Direction() == sdp.SendOnly {
					m.SetDirection(sdp.Inactive)
				}
			}
		}
	}
	c.early.streams = nil
}

func (d *ownDialog) publishedTag() string {
	if p := d.pub.Load(); p != nil {
		return *p
	}
	return ""
}

// publish makes Herald's tag known to the PRACK and UPDATE handlers (OwnDialog): tag is the call's
// (Call.tag), set before the call runs and never changed, so it is published as it is, not copied.
func (d *ownDialog) publish(tag *string) {
	if d.pub.Load() == nil {
		d.pub.Store(tag)
	}
}

// callerOffer is the caller's SDP offer (the session part of its INVITE's body), parsed once:
// addCallerCard's check has parsed it when the caller card went out. Nil when the INVITE has none
// or it does not parse.
func (c *Call) callerOffer() *sdp.Session {
	if !c.offerRead {
		c.offerRead = true
		if session, _, err := sdp.SplitBody(contentType(c.req), c.req.Body()); err == nil && session != nil {
			c.offer, _ = sdp.Parse(session)
		}
	}
	return c.offer
}

// sendEarly183 opens Herald's early dialog: a reliable 183 (RFC 3262) answering the caller's offer,
// media inactive until a ringback plays on it; with the callee card's Call-Info link when link is
// set (the caller is not known to take the UPDATE).
func (c *Call) sendEarly183(rseq uint32, link bool) {
	s := c.env
	d := &c.early
	d.sessID = uint64(time.Now().UnixNano())
	d.cseq = 1

	var body []byte
	if offer := c.callerOffer(); offer != nil {
		d.answer = c.answerOffer(offer)
		body = d.answer.Marshal()
	}
	res := sip.NewResponseFromRequest(c.req, 183, "Session Progress", nil)
	res.To().Params.Add("tag", c.tag)
	res.SetDestination(c.req.Source())
	res.AppendHeader(sip.NewHeader("Require", "100rel"))
	res.AppendHeader(rseqHeader(rseq))
	res.AppendHeader(s.Host.Contact(c.req.Transport()))
	res.AppendHeader(sip.NewHeader("Allow", Allow))
	if c.caps.EarlyMedia {
		res.AppendHeader(sip.NewHeader("P-Early-Media", d.earlyMedia()))
	}
	if link {
		if l := c.callInfo(c.plan.CalleeCard); l != "" {
			res.AppendHeader(sip.NewHeader("Call-Info", l))
			s.Stats.Capability.CalleeCardCallInfo.Add(1)
			if s.tracing() {
				s.trace("herald: caller not known to take the UPDATE: callee card as Call-Info %s on the 183", l)
			}
		}
	}
	if body != nil {
		res.AppendHeader(ctHeader("application/sdp"))
		res.SetBody(body)
	}
	d.prov = res
	d.publish(&c.tag)
	d.sent = time.Now()
	if s.tracing() {
		s.trace("herald → caller  SIP 183 Session Progress (own early dialog tag %s, Require: 100rel, RSeq %d)", c.tag, rseq)
	}
	c.sendProvisional()
	c.noteReliable()
}

// sendLink183 offers the callee card to the caller as a Call-Info link (c.link) on a 183 without a
// body, on Herald's dialog; reliable (Require: 100rel, RSeq) when the caller requires 100rel.
func (c *Call) sendLink183(reliable bool, rseq uint32) {
	d := &c.early
	d.publish(&c.tag)
	res := sip.NewResponseFromRequest(c.req, 183, "Session Progress", nil)
	res.To().Params.Add("tag", c.tag)
	res.AppendHeader(c.env.Host.Contact(c.req.Transport()))
	res.AppendHeader(sip.NewHeader("Call-Info", c.link))
	res.SetDestination(c.req.Source())
	if !reliable {
		if c.env.tracing() {
			c.env.trace("herald → caller  SIP 183 Session Progress (callee card as Call-Info %s)", c.link)
		}
		_ = c.tx.Respond(res)
		return
	}
	res.AppendHeader(sip.NewHeader("Require", "100rel"))
	res.AppendHeader(rseqHeader(rseq))
	d.prov = res
	d.sent = time.Now()
	if c.env.tracing() {
		c.env.trace("herald → caller  SIP 183 Session Progress (callee card as Call-Info %s; Require: 100rel, RSeq %d)", c.link, rseq)
	}
	c.sendProvisional()
}

// sendProvisional sends (again) the reliable provisional: the same response each time, complete
// before its first send and never changed after, so the transaction layer may write it meanwhile.
func (c *Call) sendProvisional() {
	if err := c.tx.Respond(c.early.prov); err != nil {
		c.env.Log.Debug("send reliable provisional", "call_id", c.callID, "error", err)
	}
}

// send199 ends Herald's early dialog before the final response (RFC 6228: 199 Early Dialog
// Terminated, unreliable).
func (c *Call) send199() {
	res := sip.NewResponseFromRequest(c.req, 199, "Early Dialog Terminated", nil)
	res.To().Params.Add("tag", c.tag)
	res.AppendHeader(c.env.Host.Contact(c.req.Transport()))
	res.SetDestination(c.req.Source())
	c.env.trace("herald → caller  SIP 199 Early Dialog Terminated (own early dialog)")
	_ = c.tx.Respond(res)
}

// Answerer answers one request on Herald's own early dialog: on sipgo's server transaction
// (sipgoAnswer) or on the fast path's (core/signal's, through sipfast.Engine.AnswerOwn).
type Answerer interface {
	Answer(code int, reason string, hdrs ...sip.Header)
}

// sipgoAnswer answers req on sipgo's server transaction tx.
type sipgoAnswer struct {
	req *sip.Request
	tx  sip.ServerTransaction
}

func (a sipgoAnswer) Answer(code int, reason string, hdrs ...sip.Header) {
	sipmsg.Respond(a.tx, a.req, code, reason, hdrs...)
}

// prackEvent carries a PRACK on Herald's early dialog to the controller: its RAck value and how to
// answer it; done, when set, is closed once it was answered.
type prackEvent struct {
	rack string
	ans  Answerer
	done chan struct{}
}

// post hands a request on Herald's own dialog to the call's controller and blocks (as sipgo needs
// of a handler) until the controller has answered it, closing done; if the call ends first the
// request gets 481.
func (c *Call) post(ev any, done <-chan struct{}, req *sip.Request, tx sip.ServerTransaction) {
	select {
	case c.events <- ev:
		// The controller cancels ctx only after run returns, and it answers every event it takes
		// before that, so done closes once the event was taken. The channel is buffered: an event
		// left in it by a controller that ended meanwhile is answered here.
		select {
		case <-done:
		case <-c.ctx.Done():
			select {
			case <-done:
			default:
				sipmsg.Respond(tx, req, 481, "Call/Transaction Does Not Exist")
			}
		}
	case <-c.ctx.Done():
		sipmsg.Respond(tx, req, 481, "Call/Transaction Does Not Exist")
	}
}

func (d *ownDialog) tagPublished(tag string) bool { return tag != "" && d.publishedTag() == tag }

func (c *Call) onPrack(e *prackEvent) {
	if e.done != nil {
		defer close(e.done)
	}
	rseq, cseq, method, ok := rseqOf(e.rack)
	c.in = e.ans
	if c.env.tracing() {
		c.env.trace("caller → herald  SIP PRACK (RAck %d %d %s)", rseq, cseq, method)
	}
	c.handle(call.Event{Kind: call.EvPrack, Parsed: ok, RSeq: rseq, CSeq: cseq, Method: method})
}

// sendCalleeCardUpdate is the media request message of claims 1 and 5: an UPDATE on Herald's early
// dialog that keeps the current m-lines and adds the callee card's m=message push offer (claims 4, 7).
func (c *Call) sendCalleeCardUpdate() call.UpdateOut {
	s := c.env
	d := &c.early
	// Contact is parsed on demand (sipmsg.HeaderParsers): an INVITE whose Contact does not parse has no
	// target for the UPDATE, and the call goes on without the callee card.
	target := c.req.Contact()
	if target == nil {
		s.Log.Info("callee card not offered in an UPDATE: caller's Contact does not parse", "call_id", c.callID)
		return call.UpdateOutNoTarget
	}
	ps, offer, err := c.openPush(push.CalleeCard, c.plan.CalleeCard)
	if err != nil {
		s.Log.Warn("callee card", "call_id", c.callID, "error", err)
		return call.UpdateOutNotOpen
	}
	host, _ := s.MSRP.Addr()
	sess := call.UpdateOffer(d.answer, host, d.sessID, offer.Media())
	body := sess.Marshal()

	u := sip.NewRequest(sip.UPDATE, target.Address)
	for _, h := range c.req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			u.AppendHeader(&sip.RouteHeader{Address: rr.Address})
		}
	}
	h := &updateHeaders{
		mf:   70,
		from: sip.FromHeader{DisplayName: c.req.To().DisplayName, Address: c.req.To().Address, Params: sip.NewParams()},
		to:   sip.ToHeader{DisplayName: c.req.From().DisplayName, Address: c.req.From().Address, Params: c.req.From().Params.Clone()},
		ct:   "application/sdp",
	}
	u.AppendHeader(&h.mf)
	h.from.Params.Add("tag", c.tag)
	u.AppendHeader(&h.from)
	u.AppendHeader(&h.to)
	u.AppendHeader(sip.HeaderClone(c.req.CallID()))
	d.cseq++
	h.cseq = sip.CSeqHeader{SeqNo: d.cseq, MethodName: sip.UPDATE}
	u.AppendHeader(&h.cseq)
	u.AppendHeader(s.Host.Contact(c.req.Transport()))
	if c.caps.EarlyMedia {
		u.AppendHeader(sip.NewHeader("P-Early-Media", d.earlyMedia()))
	}
	u.AppendHeader(&h.ct)
	u.SetBody(body)
	u.SetTransport(sipmsg.TransportToward(u))
	s.Stats.CalleeCards.Add(1)
	if s.tracing() {
		s.trace("herald → caller  SIP UPDATE (media request message: callee card %q, path %s)", ps.Page.Name, offer.PathURI)
	}
	if s.Host.OriginateOwn(u, func(code int, body []byte) {
		// Runs on the engine's goroutine, behind its recovery net (sipfast.Engine.Take, Tick).
		fire(&c.env.Faults.Helper, "update")
		c.postUpdate(&updateDone{code: code, body: body, sess: ps})
	}) {
		return call.UpdateOutSent
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { s.Host.Recovered(recover()) }()
		fire(&c.env.Faults.Helper, "update")
		ctx, cancel := context.WithTimeout(c.ctx, 64*s.T1)
		defer cancel()
		res, err := s.Host.Originate(ctx, u)
		ev := &updateDone{err: err, sess: ps}
		if res != nil {
			ev.code, ev.body = res.StatusCode, res.Body()
		}
		select {
		case c.events <- ev:
		case <-c.ctx.Done():
		}
	}()
	return call.UpdateOutSent
}

// updateHeaders are the typed headers of Herald's UPDATE, made in one allocation instead of one
// each; the UPDATE holds them all as long as any.
type updateHeaders struct {
	mf   sip.MaxForwardsHeader
	from sip.FromHeader
	to   sip.ToHeader
	cseq sip.CSeqHeader
	ct   sip.ContentTypeHeader
}

// updateDone is the final answer to Herald's UPDATE: its status and body, or the error that left it
// without one.
type updateDone struct {
	code int
	body []byte
	err  error
	sess *push.Session
}

// postUpdate hands the fast path's answer to Herald's UPDATE (Host.OriginateOwn) to the controller
// without blocking the engine: queued, or, when the queue is full, by a goroutine that gives up once
// the call has ended. An answer for an ended call is dropped.
func (c *Call) postUpdate(ev *updateDone) {
	c.ownMu.Lock()
	defer c.ownMu.Unlock()
	if c.ownClosed {
		return
	}
	select {
	case c.events <- ev:
	default:
		go func() {
			select {
			case c.events <- ev:
			case <-c.ctx.Done():
			}
		}()
	}
}

// onUpdateDone turns the caller's answer to the UPDATE into an event: its code (0 for none), and
// whether the answer declined the m=message line (RFC 3264 §6) or took it (its MSRP lines).
func (c *Call) onUpdateDone(e *updateDone) {
	ev := call.Event{Kind: call.EvUpdateResult}
	c.answers = nil
	ev.Code = e.code
	if e.err != nil || e.code < 200 || e.code >= 300 {
		if ev.Code >= 200 && ev.Code < 300 {
			ev.Code = 0 // a transport error after all
		}
		if c.env.tracing() {
			c.env.trace("herald: UPDATE refused (%d %v): callee card withdrawn from MSRP, offered as Call-Info", ev.Code, e.err)
		}
		c.handle(ev)
		return
	}
	ev.Declined, c.answers = call.UpdateAnswer(e.body)
	if ev.Declined {
		c.env.trace("caller → herald  SIP 200 (UPDATE): callee card declined (m=message port 0)")
	}
	if c.env.tracing() {
		for _, info := range c.answers {
			c.env.trace("caller → herald  SIP 200 (UPDATE): path %v setup %s", info.Path, info.Setup)
		}
	}
	ev.EarlyAnswer = len(c.answers) > 0
	c.handle(ev)
}

// inboundUpdate is an UPDATE the caller sent on Herald's early dialog.
type inboundUpdate struct {
	req  *sip.Request
	tx   sip.ServerTransaction
	done chan struct{}
}

// OwnDialog reports whether tag, a request's To tag, is Herald's on this call's own early dialog:
// the request is then the call's (Prack, Update), not one to proxy. The tag is published, as an
// immutable string, before the 183 that carries it goes out; any goroutine may ask.
func (c *Call) OwnDialog(tag string) bool { return c.early.tagPublished(tag) }

// Prack hands a PRACK on Herald's own early dialog (OwnDialog), received by sipgo, to the call's
// controller and returns once it was answered (481 when the call ended first).
func (c *Call) Prack(req *sip.Request, tx sip.ServerTransaction) {
	ev := &prackEvent{rack: headerValue(req, "RAck"), ans: sipgoAnswer{req, tx}, done: make(chan struct{})}
	c.post(ev, ev.done, req, tx)
}

// PrackOn hands a PRACK on Herald's own early dialog (OwnDialog), received by the fast path, to
// the call's controller without waiting: a answers it once, from the controller, or here with 481
// when the call has ended, or 500 with Retry-After when the controller has more events queued than
// it holds (a peer flooding the dialog). Whatever the call has not taken when it ends is answered
// 481 (drainOwn).
//
// The answers given here are given after ownMu is released: the engine calls its callbacks
// (postUpdate) with its own lock held, so ownMu is never held while calling into the engine.
func (c *Call) PrackOn(rack string, a Answerer) {
	c.ownMu.Lock()
	closed, queued := c.ownClosed, false
	if !closed && len(c.events) < prackQueue {
		select {
		case c.events <- &prackEvent{rack: rack, ans: a}:
			queued = true
		default:
		}
	}
	c.ownMu.Unlock()
	switch {
	case closed:
		a.Answer(481, "Call/Transaction Does Not Exist")
	case !queued:
		a.Answer(500, "Server Internal Error", sip.NewHeader("Retry-After", "1"))
	}
}

// drainOwn closes the call to PrackOn and answers 481 to the PRACKs it left untaken. Run calls it
// once the controller has returned.
func (c *Call) drainOwn() {
	c.ownMu.Lock()
	c.ownClosed = true
	c.ownMu.Unlock()
	for {
		select {
		case ev := <-c.events:
			if e, ok := ev.(*prackEvent); ok && e.done == nil {
				e.ans.Answer(481, "Call/Transaction Does Not Exist")
			}
		default:
			return
		}
	}
}

// Update hands an UPDATE the caller sent on Herald's own early dialog (OwnDialog) to the call's
// controller and returns once it was answered (481 when the call ended first).
func (c *Call) Update(req *sip.Request, tx sip.ServerTransaction) {
	ev := &inboundUpdate{req: req, tx: tx, done: make(chan struct{})}
	c.post(ev, ev.done, req, tx)
}

func rseqOf(v string) (rseq, cseq uint32, method string, ok bool) {
	var f [3]string // RFC 3262 §7.2: RAck = response-num CSeq-num Method
	n := 0
	for x := range strings.FieldsSeq(v) {
		if n == len(f) {
			return 0, 0, "", false
		}
		f[n] = x
		n++
	}
	if n != 3 {
		return 0, 0, "", false
	}
	a, err1 := strconv.ParseUint(f[0], 10, 32)
	b, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	return uint32(a), uint32(b), f[2], true
}
