package uesim

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/herald-ims/herald/core/sdp"
)

// calleeRequest handles a request on the callee side's socket (the next hop after Herald). raw
// is the datagram m was parsed from (an INVITE is kept).
func (l *Lean) calleeRequest(c *leanCall, m *leanMsg, raw []byte, from netip.AddrPort) {
	if m.method == "INVITE" {
		if len(leanParam(m.to, "tag")) > 0 {
			l.reply(l.callee, m, from, 488, "Not Acceptable Here", "") // a re-INVITE: not in the push flows
			return
		}
		if c == nil { // a call this pair did not place (direct tests): the callee side alone
			c = &leanCall{l: l, id: string(m.callID), start: time.Now(), callerDone: make(chan struct{}),
				calleeDone: make(chan struct{})}
			if !l.add(c) {
				if c = l.lookup(m.callID); c == nil {
					return
				}
			} else {
				defer l.forget(c)
			}
		}
	}
	if c == nil {
		if m.method != "ACK" {
			l.Unmatched.Add(1)
			l.reply(l.callee, m, from, 481, "Call/Transaction Does Not Exist", "")
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.method {
	case "INVITE":
		if c.ceSeen {
			switch {
			case string(leanParam(m.vias[0], "branch")) == string(leanParam(c.ceInv.vias[0], "branch")):
				if c.ceLast != nil {
					l.send(l.callee, c.ceLast, from) // a retransmission: the last response again
				}
				return
			case !c.exchangeOver():
				// Another INVITE while the first is in progress (RFC 3261 §8.2.2.2's merged request).
				l.reply(l.callee, m, from, 482, "Loop Detected", "")
				return
			}
			// The first exchange is over: a new INVITE in the same Call-ID (Herald's resend without
			// the caller card's part after a broken answer) is a new call for this side, with a new
			// To-tag; the call's report stays the first exchange's.
			c.calleeReset()
		}
		c.onInvite(m, raw, from)
		return
	case "ACK":
		if c.ceFinal && m.cseq == c.ceInv.cseq {
			c.ceRetx.stop()
			c.ce.Acked = true
		}
		return
	}
	if !c.ceSeen || string(leanParam(m.to, "tag")) != c.ceTag {
		l.reply(l.callee, m, from, 481, "Call/Transaction Does Not Exist", "")
		return
	}
	if c.resend(l.callee, m, from) {
		return
	}
	var b []byte
	switch m.method {
	case "PRACK":
		if leanRAck(m.rack) != leanRAckOf(c.ceRSeq, c.ceInv.cseq) {
			b = l.reply(l.callee, m, from, 481, "Call/Transaction Does Not Exist", "")
			c.calleeFail(fmt.Errorf("%w: PRACK RAck %q", ErrProtocol, m.rack))
			break
		}
		b = l.reply(l.callee, m, from, 200, "OK", "")
		if !c.ce.Pracked {
			c.ce.Pracked = true
			c.ceRetx.stop()
			c.ring()
		}
	case "BYE":
		b = l.reply(l.callee, m, from, 200, "OK", "")
		c.ce.Bye = true
		c.calleeMaybeDone()
	case "CANCEL":
		b = l.reply(l.callee, m, from, 200, "OK", "")
		if !c.ceFinal { // RFC 3261 §9.2: 487 to the INVITE
			c.ceRetx.stop()
			c.ce.Canceled = true
			c.calleeFinal(487, "Request Terminated", "", nil)
			c.calleeMaybeDone()
		}
	case "UPDATE":
		var w leanWriter
		w.response(m, 200, "OK", "")
		w.line("Contact: <", l.calleeURI, ">")
		var body []byte
		if len(m.body) > 0 {
			if offer, err := sdp.Parse(m.body); err == nil {
				ans, _ := answerOffer(offer, l.host, uint64(randUint32()), l.o.CalleeRTPPort, false)
				body = ans.Marshal()
			}
		}
		if body != nil {
			b = w.body("application/sdp", body)
		} else {
			b = w.body("", nil)
		}
		l.send(l.callee, b, from)
	default:
		b = l.reply(l.callee, m, from, 200, "OK", "")
	}
	c.remember(m, b)
}

// onInvite answers a new INVITE: a reliable 183 with the early-session answer when it offers a
// push (RFC 3959, RFC 3262), else a 180 (reliable when the caller supports 100rel). Called with
// mu held.
func (c *leanCall) onInvite(m *leanMsg, raw []byte, from netip.AddrPort) {
	l := c.l
	c.ceSeen, c.ceFrom, c.ceStart = true, from, time.Now()
	c.ceRaw = bytes.Clone(raw)
	if err := c.ceInv.parse(c.ceRaw); err != nil { // parsed once already: cannot fail
		return
	}
	c.ce = CalleeCall{CallID: c.id}
	c.ceTag = randHex(8)
	c.ceRSeq = 1 + randUint32()%(1<<30)
	fail := func(code int, reason string, err error) {
		c.calleeFinal(code, reason, "", nil)
		c.calleeFail(err)
	}
	sess, early, err := sdp.SplitBody(string(c.ceInv.ctype), c.ceInv.body)
	if err != nil {
		fail(400, "Bad Request", fmt.Errorf("%w: invite body: %w", ErrProtocol, err))
		return
	}
	sessID := uint64(randUint32())
	if len(sess) > 0 {
		offer, err := sdp.Parse(sess)
		if err != nil {
			fail(488, "Not Acceptable Here", fmt.Errorf("%w: session sdp: %w", ErrProtocol, err))
			return
		}
		ans, _ := answerOffer(offer, l.host, sessID, l.o.CalleeRTPPort, false)
		c.ceAnswer = ans.Marshal()
	} else {
		c.ceAnswer = buildOffer("-", l.host, sessID, l.o.CalleeRTPPort, offerOptions{})
	}
	var earlyAnswer []byte
	if len(early) > 0 {
		if eo, err := sdp.Parse(early); err == nil && hasPush(eo) {
			c.ce.EarlyOffered = true
			ans, plans := answerOffer(eo, l.host, sessID+1, 0, true)
			if len(plans) > 0 {
				earlyAnswer, c.cePlan = ans.Marshal(), &plans[0]
			}
		}
	}
	reliable := leanOption(c.ceInv.options, "100rel")
	var w leanWriter
	if c.cePlan != nil {
		w.response(&c.ceInv, 183, "Session Progress", c.ceTag)
		c.ce.EarlyAnswered = true
	} else {
		w.response(&c.ceInv, 180, "Ringing", c.ceTag)
	}
	w.line("Contact: <", l.calleeURI, ">")
	if reliable {
		w.line("Require: 100rel")
		w.line("RSeq: ", itoa(c.ceRSeq))
	}
	var b []byte
	if c.cePlan != nil {
		boundary := "b" + randHex(4)
		body := sdp.BuildMultipart(boundary, []sdp.Part{
			{ContentType: "application/sdp", Disposition: "session", Body: c.ceAnswer},
			{ContentType: "application/sdp", Disposition: "early-session", Body: earlyAnswer},
		})
		b = w.body("multipart/mixed;boundary="+boundary, body)
	} else {
		b = w.body("", nil)
	}
	c.ceLast = b
	if !reliable {
		l.send(l.callee, b, from)
		c.ring()
		return
	}
	// RFC 3262 §3: retransmitted until its PRACK; none within 64·T1 rejects the INVITE with 504.
	c.ceRetx = c.retransmit(l.callee, b, from, func() {
		c.calleeFinal(504, "Server Time-out", "", nil)
		c.calleeFail(fmt.Errorf("%w: no PRACK for the reliable provisional", ErrTimeout))
	})
}

// calleeReset forgets the callee side's finished exchange, keeping its report. Called with mu held.
func (c *leanCall) calleeReset() {
	if c.ceFirst == nil {
		first := c.ce
		c.ceFirst = &first
	}
	c.ceRetx.stop()
	c.ceSeen, c.ceInv, c.ceRaw, c.ceLast, c.ceRetx, c.ceAnswer, c.cePlan = false, leanMsg{}, nil, nil, nil, nil, nil
	c.ceFetching, c.ceRung, c.ceFinal = false, false, false
}

// ring starts the caller card's fetch and the ring timer; the 200 waits for both. Called with mu
// held.
func (c *leanCall) ring() {
	if c.cePlan != nil {
		c.ceFetching = true
		p := *c.cePlan
		go c.fetchCallerCard(p)
	}
	wait := c.l.o.RingTime - time.Since(c.ceStart)
	if c.l.o.RingTime < 0 || wait <= 0 {
		c.ceRung = true
		c.answer()
		return
	}
	time.AfterFunc(wait, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ceRung = true
		c.answer()
	})
}

func (c *leanCall) fetchCallerCard(p pushPlan) {
	res, err := c.l.fetch(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ceFetching = false
	c.ce.Fetch = res
	if err != nil {
		c.ce.PageErr = err
	}
	c.answer()
	c.calleeMaybeDone()
}

// answer sends the 200 once ringing and the fetch are over, retransmitted until the ACK (RFC 3261
// §13.3.1.4). Called with mu held.
func (c *leanCall) answer() {
	if !c.ceRung || c.ceFetching || c.ceFinal {
		return
	}
	c.calleeFinal(200, "OK", "application/sdp", c.ceAnswer)
	c.ceRetx = c.retransmit(c.l.callee, c.ceLast, c.ceFrom, func() {
		c.calleeFail(fmt.Errorf("%w: no ACK for 200", ErrTimeout))
	})
}

// calleeFinal builds (and, for a non-2xx, sends) the INVITE's final response. Called with mu held.
func (c *leanCall) calleeFinal(code int, reason, ct string, body []byte) {
	var w leanWriter
	w.response(&c.ceInv, code, reason, c.ceTag)
	if code < 300 {
		w.line("Contact: <", c.l.calleeURI, ">")
		w.line("Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, OPTIONS")
	}
	c.ceLast = w.body(ct, body)
	c.ceFinal, c.ce.Final = true, code
	if code >= 300 {
		c.l.send(c.l.callee, c.ceLast, c.ceFrom) // resent on the INVITE's retransmissions
		c.calleeMaybeDone()
	}
}

// calleeFail records the callee side's first failure and ends it. Called with mu held.
func (c *leanCall) calleeFail(err error) {
	if c.ce.Err == nil {
		c.ce.Err = err
	}
	c.ceRetx.stop()
	c.ceFinal = true
	c.calleeMaybeDone()
}

// calleeMaybeDone reports the callee side done once the call is over for it (BYE, a non-2xx
// final or a failure) and its fetch has ended. Called with mu held.
func (c *leanCall) calleeMaybeDone() {
	if c.ceOver || c.ceFetching {
		return
	}
	if c.exchangeOver() {
		c.ceOver = true
		close(c.calleeDone)
	}
}

// exchangeOver says the callee side's current INVITE exchange has ended: BYE, a non-2xx final, or a
// failure. Called with mu held.
func (c *leanCall) exchangeOver() bool {
	return c.ce.Bye || c.ce.Err != nil || (c.ceFinal && c.ce.Final >= 300)
}
