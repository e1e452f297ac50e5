package callsip

import (
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/push"
)

// callact.go performs the actions of a call's state machine (core/call) in SIP, MSRP and RTP: the
// only place a call's controller changes anything outside itself.

// handle gives ev to the call's machine and performs what it returns, in order; an action that
// reports back (the ringback reserved or playing, the UPDATE sent, the link published, the INVITE
// resent) queues its event in c.next, handled in order once the batch is done (the machine's slice
// is valid until its next Handle).
func (c *Call) handle(ev call.Event) {
	for {
		for _, a := range c.m.Handle(ev) {
			c.act(a)
		}
		if len(c.next) == 0 {
			return
		}
		ev = c.next[0]
		c.next = c.next[1:]
	}
}

func (c *Call) report(ev call.Event) {
	if len(c.next) == 0 {
		c.next = c.nextBuf[:0] // nothing queued: start over on the call's own array
	}
	c.next = append(c.next, ev)
}

// ownFinal are Herald's own final responses: reason phrase, and whether the caller may retry
// (Retry-After, RFC 3261 §20.33).
var ownFinal = map[int]struct {
	reason string
	retry  bool
}{
	408: {"Request Timeout", false},
	487: {"Request Terminated", false},
	500: {"Server Internal Error", true},
	503: {"Service Unavailable", true},
}

func (c *Call) act(a call.Action) {
	s := c.env
	switch a.Kind {
	case call.ActRelay:
		if s.tracing() {
			if c.stripped {
				s.trace("herald: stripped the callee's early-session answer from %d", c.cur.StatusCode)
			}
			s.trace("herald → caller  SIP %d %s (relayed)", c.cur.StatusCode, c.cur.Reason)
		}
		if c.stripped && a.Code >= 200 {
			s.Stripped.note(c.callID) // its retransmissions, relayed statelessly, are stripped too
		}
		s.Host.Relay(c.tx, c.req, c.cur)
		if a.Code < 200 && c.cur.GetHeader("RSeq") != nil {
			c.noteReliable() // a reliable provisional of the callee's, relayed (RFC 3262 §3)
		}
		if a.Code >= 200 {
			c.noteFinal(a.Code)
		}
	case call.ActRespond:
		f := ownFinal[a.Code]
		if f.retry {
			c.respond(a.Code, f.reason, sip.NewHeader("Retry-After", "5"))
		} else {
			c.respond(a.Code, f.reason)
		}
	case call.ActSendEarly183:
		if a.NoRingback {
			c.plan.Ringback = "" // the callee's network plays its own early media
		}
		c.sendEarly183(a.RSeq, a.Link)
		c.report(call.Event{Kind: call.EvRingback, Lines: len(c.early.streams)})
	case call.ActSendLink183:
		c.sendLink183(a.Reliable, a.RSeq)
	case call.ActRetransmit183:
		c.sendProvisional()
	case call.ActSend199:
		c.send199()
	case call.ActArm:
		c.arm(a.Timer, a.At)
	case call.ActDisarm:
		c.disarm(a.Timer)
	case call.ActPlayRingback:
		c.report(call.Event{Kind: call.EvRingback, Started: true, Lines: c.playRingback()})
	case call.ActStopRingback:
		c.stopRingback()
	case call.ActClosePush:
		c.closeSession(c.session(a.Card))
	case call.ActApplyAnswer:
		if ps := c.session(a.Card); ps != nil {
			for _, info := range c.answers {
				if a.Card == call.CallerCardPush && s.tracing() {
					s.trace("herald: callee early-session answer: path %v setup %s", info.Path, info.Setup)
				}
				c.applyAnswer(ps, info)
			}
		}
	case call.ActLearn:
		if a.Side == call.Caller {
			c.learn(c.callerKey, c.callerProv, a.Capable, a.Why)
		} else {
			c.learn(c.calleeKey, c.calleeProv, a.Capable, a.Why)
		}
	case call.ActPublishLink:
		c.link = c.callInfo(c.plan.CalleeCard)
		c.report(call.Event{Kind: call.EvLink, Sent: c.link != ""})
	case call.ActSendUpdate:
		c.report(call.Event{Kind: call.EvUpdateOut, Update: c.sendCalleeCardUpdate()})
	case call.ActAnswerPrack, call.ActAnswerUpdate:
		if a.Code == 491 {
			c.in.Answer(491, "Request Pending", sip.NewHeader("Retry-After", "1"))
			break
		}
		c.in.Answer(a.Code, inDialogReason[a.Code])
	case call.ActRefuseBind:
		// The terminal bound to a session the machine closed (the close and the binding raced):
		// Close again ends that binding, '#' on its transfer (push.Plane.Close is idempotent).
		if ps := c.session(a.Card); ps != nil {
			if s.tracing() {
				s.trace("herald: %s push %s: bound after the call closed it: refused", ps.Role, ps.ID[:8])
			}
			c.closeSession(ps)
		}
	case call.ActCancelDownstream:
		s.trace("herald: CANCEL toward the callee")
		c.cancelDownstream()
	case call.ActAckBye:
		s.trace("herald: 2xx after CANCEL: ACK and BYE it")
		s.Host.AckAndBye(c.fwd, c.cur)
	case call.ActEndBroken:
		// A 2xx cannot be refused by a proxy, but this one was never relayed: the callee's dialog is
		// confirmed and ended (ACK, BYE) and the callee gets the INVITE again without the part.
		s.Log.Info("callee answered the early-session INVITE without a session answer; ending it, then resending without the part", "call_id", c.callID)
		c.endBrokenAnswer(c.cur)
	case call.ActResend:
		tx := c.resendWithoutCard(c.cur)
		if tx != nil {
			c.listen(tx)
		}
		c.report(call.Event{Kind: call.EvResent, Failed: tx == nil})
	case call.ActDetach:
		c.clTx = nil // the old transaction is over
	case call.ActCount:
		c.count(a.Counter)
	case call.ActDone:
		c.done = true
	}
}

// inDialogReason are the reason phrases of Herald's answers to a PRACK or UPDATE on its dialog.
var inDialogReason = map[int]string{
	200: "OK",
	400: "Bad Request",
	481: "Call/Transaction Does Not Exist",
	488: "Not Acceptable Here",
}

func (c *Call) count(n call.Counter) {
	st := c.env.Stats
	switch n {
	case call.CountCancel:
		st.Cancels.Add(1)
		c.env.trace("herald: caller CANCEL: pushes stopped")
	case call.CountDrainAborted:
		st.DrainAborted.Add(1)
	case call.CountPrackTimeout:
		st.PrackTimeouts.Add(1)
		c.env.trace("herald: no PRACK within 64*T1: Herald's early dialog abandoned")
	case call.CountRetransmit:
		st.ReliableRetransmits.Add(1)
	case call.CountUpdateRefused:
		st.Capability.UpdateRefused.Add(1)
	case call.CountLinkOnly:
		st.Capability.CalleeCardCallInfo.Add(1)
	case call.CountLateBind:
		st.PushLateBinds.Add(1)
	case call.CountPushFailed:
		st.PushFailed.Add(1)
	case call.CountRingbackYielded:
		st.RingbackYielded.Add(1)
		c.env.trace("herald: the callee's network authorised its own early media (P-Early-Media): ringback stopped")
	}
}

// arm runs timer t: Timer C and the CANCEL's wait from now, the reliable 183's retransmission at
// `at` after its first send (the schedule the machine keeps, RFC 3262 §3). Arming again replaces
// the earlier run (RFC 3261 §16.7 step 2: a provisional restarts Timer C): its fire, if it comes
// all the same, carries an older generation and is dropped (onEvent).
func (c *Call) arm(t call.Timer, at time.Duration) {
	if int(t) >= timerSlots {
		return
	}
	wait := at
	if t == call.TimerReliable {
		wait = time.Until(c.early.sent.Add(at))
	}
	c.disarm(t)
	ev := timerFired{t: t, gen: c.timerGen[t]}
	events, gone := c.events, c.ctx.Done()
	c.timers[t] = time.AfterFunc(wait, func() { postEvent(events, gone, ev) })
}

// disarm stops timer t; a fire already on its way is dropped (its generation is past).
func (c *Call) disarm(t call.Timer) {
	if int(t) >= timerSlots {
		return
	}
	c.timerGen[t]++
	if tm := c.timers[t]; tm != nil {
		tm.Stop()
		c.timers[t] = nil
	}
}

// session is the call's push session for card, nil when none was opened.
func (c *Call) session(card call.Card) *push.Session {
	role := push.CallerCard
	if card == call.CalleeCardPush {
		role = push.CalleeCard
	}
	for i := len(c.sessions) - 1; i >= 0; i-- {
		if c.sessions[i].Role == role {
			return c.sessions[i]
		}
	}
	return nil
}

// closeSession is the one place a push session is closed: an in-flight transfer is aborted with '#'
// (RFC 4975 §7.1.1). The machine decides when (call.ActClosePush, once per session, and
// call.ActRefuseBind, a binding that raced that close); the only other caller is addCallerCard, for
// a session it opened but could not offer.
func (c *Call) closeSession(ps *push.Session) {
	if ps != nil {
		c.env.MSRP.Close(ps.ID)
	}
}

// rseqHeader is the RSeq header of a reliable provisional.
func rseqHeader(rseq uint32) sip.Header {
	return sip.NewHeader("RSeq", strconv.FormatUint(uint64(rseq), 10))
}
