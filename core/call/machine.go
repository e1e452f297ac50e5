package call

import (
	"fmt"
	"time"
)

// machine.go is one call's state machine: the claims as code. The SIP glue (core/signal) turns
// what happens on the wire into Events, hands each to Call.Handle and performs the Actions it
// returns, in order; it decides nothing itself. Handle does no I/O, reads no clock and draws no
// random number: the same events give the same actions, which is how the transitions are tested
// (machine_test.go) without sockets. Its vocabulary (phases, events, actions) is events.go; its
// half of the push sessions push.go.
//
// A call has two layers of state. Phase is where the call as a whole stands (forwarding, then an
// outcome). State (state.go) is where Herald's own early dialog with the caller stands (RFC 3262
// reliable 183, PRACK, the RFC 3311 UPDATE carrying the callee card, TS 24.182 forking model). On
// top, the push sessions open (the caller card offered in the INVITE, the callee card offered in the
// UPDATE) and whether ringback may be playing. The machine is the one owner of the push sessions'
// end: every ClosePush comes from it, once per session opened. It hears of each session as the MSRP
// plane reports it (EvPushBound: a terminal's connection and acquisition request bound to it, RFC
// 4975 §5.4; EvPushDone: the page delivered or not) and refuses a binding that raced its close.

// Config is what a call's machine is built from: the plan and the caller's capabilities, whether
// the caller's INVITE made an offer, its CSeq number (a PRACK's RAck names it), the first RSeq of
// Herald's reliable 183 (random, RFC 3262 §3: the glue draws it) and the timers.
type Config struct {
	Plan       Plan
	Caps       Caps
	Offer      bool   // the caller's INVITE has a body (an SDP offer)
	InviteCSeq uint32 // the caller's INVITE's CSeq number
	RSeq       uint32 // the first RSeq, 1..2^31-1
	T1         time.Duration
	TimerC     time.Duration
}

// Call is one call's state machine. Not safe for concurrent use: only the call's controller
// goroutine calls Handle.
type Call struct {
	cfg   Config
	phase Phase
	early Machine // Herald's own early dialog
	done  bool

	open     [3]bool      // push sessions open (a ClosePush owed), by Card
	push     [3]PushState // where each card's push stands, as the MSRP plane reported it
	ringback bool         // ringback streams may be held (an early 183 answered with a clip planned, until the plane says none)
	ringing  bool         // ringback is playing to the caller (claims 2, 6)
	progress bool         // the callee answered beyond 100 (101-299)
	resent   bool         // the INVITE was (or is being) sent again without the part
	followUp bool         // the outstanding reliable 183 is the link 183 after a refused UPDATE

	rseq uint32        // RSeq of the outstanding reliable 183
	due  time.Duration // when the pending retransmission is due, from the first send
	step time.Duration // the current retransmission interval: T1, 2·T1, 4·T1, …

	held  Event // the refusal held while the resend without the part is attempted
	acts  []Action
	trail []Phase

	// What acts and trail start on: a call's batches and phases fit, so the machine allocates
	// nothing of its own past the Call itself.
	actBuf   [8]Action
	trailBuf [8]Phase
}

// New returns the machine of a call about to be forwarded.
func New(cfg Config) *Call {
	c := new(Call)
	c.Init(cfg)
	return c
}

// Init makes c the machine of a call about to be forwarded, as New does, in place: a controller
// holds its machine by value instead of allocating it apart. c must not be copied once in use (its
// slices start on its own arrays).
func (c *Call) Init(cfg Config) {
	if cfg.T1 <= 0 {
		cfg.T1 = 500 * time.Millisecond
	}
	if cfg.TimerC <= 0 {
		cfg.TimerC = 180 * time.Second
	}
	if cfg.RSeq == 0 {
		cfg.RSeq = 1
	}
	*c = Call{cfg: cfg}
	c.acts, c.trail = c.actBuf[:0], c.trailBuf[:0]
}

// Phase returns where the call stands.
func (c *Call) Phase() Phase { return c.phase }

// Early returns where Herald's early dialog stands.
func (c *Call) Early() State { return c.early.State() }

// Phases returns every phase entered so far, in order.
func (c *Call) Phases() []Phase { return c.trail }

// Open reports whether card's push session is open.
func (c *Call) Open(card Card) bool { return card < Card(len(c.open)) && c.open[card] }

// Push returns where card's push stands.
func (c *Call) Push(card Card) PushState {
	if card >= Card(len(c.push)) {
		return PushNone
	}
	return c.push[card]
}

// CardSent reports whether the forwarded INVITE carries the caller card's early-session part (its
// push session is open: a resend without the part closed it).
func (c *Call) CardSent() bool { return c.open[CallerCardPush] }

// Final reports whether a final response went upstream.
func (c *Call) Final() bool { return c.phase.final() }

// Canceled reports whether the forwarded INVITE is being cancelled downstream.
func (c *Call) Canceled() bool { return c.phase.canceled() }

// Ringing reports whether ringback is playing to the caller (claims 2, 6).
func (c *Call) Ringing() bool { return c.ringing }

// Done reports whether the controller is finished.
func (c *Call) Done() bool { return c.done }

// Handle applies ev and returns what the glue must do, in order. The slice is reused by the next
// Handle. After ActDone it returns nothing but EvEnd's releases.
func (c *Call) Handle(ev Event) []Action {
	c.acts = c.acts[:0]
	if c.done && ev.Kind != EvEnd {
		return c.acts
	}
	switch ev.Kind {
	case EvForwarded:
		c.forwarded(ev)
	case EvResponse:
		c.response(ev)
	case EvClientDone:
		if !c.phase.final() {
			c.finish()
			c.to(Rejected)
			c.do(Action{Kind: ActRespond, Code: 408})
		}
		c.end()
	case EvCancel:
		if !c.phase.final() {
			c.callerCancel()
		}
	case EvCallerGone:
		switch {
		case c.phase.final():
			c.end()
		case ev.Canceled:
			c.callerCancel()
		default:
			c.finish()
			c.to(Failed)
			c.end()
		}
	case EvDrain:
		if !c.phase.final() {
			c.do(Action{Kind: ActCount, Counter: CountDrainAborted})
			c.finish()
			c.to(Drained)
			c.do(Action{Kind: ActRespond, Code: 487})
			c.cancelDownstream()
		}
	case EvTimer:
		c.timer(ev.Timer)
	case EvPrack:
		c.prack(ev)
	case EvUpdateOut:
		c.updateOut(ev)
	case EvUpdateResult:
		c.updateResult(ev)
	case EvInboundUpdate:
		// RFC 3311 §5.2: 491 while Herald's own offer is pending (glare); otherwise 488: Herald
		// does not renegotiate its early media.
		if c.early.State() == UpdateSent {
			c.do(Action{Kind: ActAnswerUpdate, Code: 491})
		} else {
			c.do(Action{Kind: ActAnswerUpdate, Code: 488})
		}
	case EvPushBound:
		c.pushBound(ev.Card)
	case EvPushDone:
		c.pushDone(ev)
	case EvLink:
		c.link(ev.Sent)
	case EvBrokenEnded:
		c.brokenEnded(ev)
	case EvResent:
		c.resentResult(ev)
	case EvRingback:
		switch {
		case !c.ringback:
		case ev.Started:
			c.ringing = ev.Lines > 0
		case ev.Lines == 0:
			c.ringback = false // no codec in common or no port: nothing to play, nothing to stop
		}
	case EvFault:
		// The recovery net caught a panic in the controller: 500 (with Retry-After) when nothing
		// final went upstream, CANCEL downstream unless sent already. Failed first: no 199.
		final, canceled := c.phase.final(), c.phase.canceled()
		if !canceled {
			c.to(Failed)
		}
		if !final {
			c.do(Action{Kind: ActRespond, Code: 500})
		}
		if !canceled {
			c.finish()
			c.do(Action{Kind: ActCancelDownstream})
		}
		c.end()
	case EvEnd:
		c.release()
	}
	return c.acts
}

func (c *Call) do(a Action) { c.acts = append(c.acts, a) }

func (c *Call) to(p Phase) {
	c.phase = p
	c.trail = append(c.trail, p)
}

func (c *Call) end() {
	if !c.done {
		c.done = true
		c.do(Action{Kind: ActDone})
	}
}

func (c *Call) learn(side Side, capable bool, why string) {
	c.do(Action{Kind: ActLearn, Side: side, Capable: capable, Why: why})
}

func (c *Call) stopRingback() {
	if c.ringback {
		c.ringback, c.ringing = false, false
		c.do(Action{Kind: ActStopRingback})
	}
}

func (c *Call) forwarded(ev Event) {
	if c.phase != Planned {
		return
	}
	if ev.Failed {
		// RFC 3261 §16.9: a transport error counts as a 503 from the next hop.
		c.opened(CallerCardPush, ev.Sent)
		c.closePush(CallerCardPush)
		c.to(Rejected)
		c.do(Action{Kind: ActRespond, Code: 503})
		c.end()
		return
	}
	c.to(Forwarding)
	c.opened(CallerCardPush, ev.Sent)
	c.do(Action{Kind: ActArm, Timer: TimerC, At: c.cfg.TimerC})
}

// response handles one response of the forwarded INVITE (already vetted by the glue).
func (c *Call) response(ev Event) {
	code := ev.Code
	if c.phase == Planned || code < 100 || code > 699 {
		return
	}
	if code > 100 && code < 200 {
		c.do(Action{Kind: ActArm, Timer: TimerC, At: c.cfg.TimerC}) // RFC 3261 §16.7 step 2
	}
	if c.lacksSession(ev) {
		// A 2xx cannot be refused by a proxy, but this one is not relayed: the callee's dialog is
		// confirmed and ended (ACK, BYE), then the INVITE goes again without the part; the caller
		// sees only what follows.
		c.resent = true
		c.do(Action{Kind: ActEndBroken})
		c.do(Action{Kind: ActDetach}) // Timer C still runs
		return
	}
	if c.refusedCard(code) {
		c.held = ev
		c.resend(ev)
		return
	}
	c.relay(ev)
}

// relay is the ordinary handling of a response: relayed upstream, the call ended on a final one,
// and Herald's own early dialog opened when the callee alerts.
func (c *Call) relay(ev Event) {
	code := ev.Code
	if code > 100 && code < 300 {
		c.progress = true
	}
	if code == 100 {
		return
	}
	if c.phase.canceled() {
		if code >= 200 && code < 300 {
			c.do(Action{Kind: ActAckBye}) // a 2xx after CANCEL (RFC 3261 §16.7 step 5 does not apply: nothing relays it)
		}
		if code >= 200 {
			c.end()
		}
		return
	}
	if c.phase.final() {
		return // a second final response: the first one was relayed
	}
	if code < 200 && ev.CalleeEarlyMedia && c.ringback {
		// The callee's network plays its own early media to the caller (an announcement, its own
		// alerting tone) and says so with P-Early-Media (RFC 5009 §5): the caller renders the
		// dialog that authorised early media last, and two streams toward its one port would
		// garble both, so Herald's ringback yields before the response is relayed. Herald's early
		// dialog, and the cards on it, go on; its P-Early-Media becomes inactive.
		c.stopRingback()
		c.do(Action{Kind: ActCount, Counter: CountRingbackYielded})
	}
	if ev.EarlyAnswer {
		c.learn(Callee, true, "answered the early-session offer")
		if c.open[CallerCardPush] {
			c.do(Action{Kind: ActApplyAnswer, Card: CallerCardPush})
		}
	}
	if code >= 200 {
		c.finish()
	}
	c.do(Action{Kind: ActRelay, Code: code})
	if code >= 200 {
		if code < 300 {
			c.to(Answered)
		} else {
			c.to(Rejected)
		}
		c.end()
		return
	}
	// The callee is alerting: Herald opens its own early dialog with the caller (ringback, then
	// the callee card), once.
	if code >= 180 && c.early.State() == Idle {
		p := c.cfg.Plan
		switch {
		case p.OwnEarlyDialog() || p.CalleeMode == CalleeCardCallInfo && c.cfg.Caps.RequireReliable:
			// With the callee card's link when that is its mode (reliable: a caller that requires
			// 100rel needs every provisional so, RFC 3262 §3).
			c.startEarly(ev.CalleeEarlyMedia)
		case p.CalleeMode == CalleeCardCallInfo:
			c.do(Action{Kind: ActPublishLink})
		}
	}
}

// refusedCard: the callee refused the INVITE carrying the caller card's early-session part, which
// then goes again, once, without it (never break a call): a final response before any 18x or 2xx.
// To a probed callee (unknown capability) any 4xx-6xx counts but a challenge (401/407) or the end
// of a CANCEL (487); to a callee known to take the part only the answers that can be about the
// body: a known terminal that is busy (486) or declines (603) is not asked twice.
func (c *Call) refusedCard(code int) bool {
	if code < 400 || !c.open[CallerCardPush] || c.progress || c.resent || c.phase.final() {
		return false
	}
	if c.cfg.Plan.CallerMode == CallerCardProbe {
		return code != 401 && code != 407 && code != 487
	}
	switch code {
	case 400, 415, 488, 500, 501, 606:
		return true
	}
	return false
}

// lacksSession: a 2xx to the INVITE carrying the part, without a usable answer to the caller's
// offer (linphone 5.1 fails a multipart INVITE so: 200 without SDP, then BYE). Only when the
// caller's INVITE made an offer: one without gets the offer in the 2xx.
func (c *Call) lacksSession(ev Event) bool {
	return ev.Code >= 200 && ev.Code < 300 && !ev.Session && c.cfg.Offer && c.open[CallerCardPush] &&
		!c.resent && !c.phase.final()
}

// resend closes the caller card's session, remembers the callee as not capable and asks for the
// INVITE again as Herald forwards it to such a callee (Call-Info link only).
func (c *Call) resend(ev Event) {
	c.resent = true
	c.closePush(CallerCardPush)
	c.learn(Callee, false, fmt.Sprintf("refused the INVITE with the early-session part: SIP/2.0 %d %s", ev.Code, ev.Reason))
	c.do(Action{Kind: ActResend})
}

func (c *Call) resentResult(ev Event) {
	held := c.held
	c.held = Event{}
	if !ev.Failed {
		return
	}
	if held.Kind == EvResponse {
		c.relay(held) // the refusal is relayed as it is
		return
	}
	// The resend after a broken answer could not go: the caller gets 500.
	if !c.phase.final() {
		c.finish()
		c.to(Rejected)
		c.do(Action{Kind: ActRespond, Code: 500})
		c.end()
	}
}

func (c *Call) brokenEnded(ev Event) {
	switch {
	case c.phase.canceled():
		return // waiting for the callee's answer to the CANCEL
	case c.phase.final():
		c.end()
		return
	}
	c.held = Event{}
	c.resend(ev)
}

func (c *Call) callerCancel() {
	c.to(Cancelled) // final before finish: no 199, the 487 ends Herald's dialog too
	c.do(Action{Kind: ActCount, Counter: CountCancel})
	c.finish()
	c.cancelDownstream()
}

func (c *Call) cancelDownstream() {
	c.do(Action{Kind: ActCancelDownstream})
	c.do(Action{Kind: ActArm, Timer: TimerCancelWait, At: 64 * c.cfg.T1})
}

func (c *Call) timer(t Timer) {
	switch t {
	case TimerC:
		// The callee never answered: 408 upstream, CANCEL downstream (RFC 3261 §16.8).
		if !c.phase.final() {
			c.finish()
			c.to(TimedOut)
			c.do(Action{Kind: ActRespond, Code: 408})
			c.cancelDownstream()
		}
	case TimerCancelWait:
		if c.phase.canceled() {
			c.end()
		}
	case TimerReliable:
		c.retransmit()
	}
}

// finish ends everything Herald does early in the call: ringback first (within one packet time of
// the final response or CANCEL), the push sessions, and Herald's early dialog, with 199 when the
// caller supports it and no final response has gone yet (RFC 6228). Idempotent.
func (c *Call) finish() {
	c.stopRingback()
	c.closePush(CallerCardPush)
	c.closePush(CalleeCardPush)
	st := c.early.State()
	if st == ProvSent {
		c.do(Action{Kind: ActDisarm, Timer: TimerReliable})
	}
	c.early.to(Terminated)
	if st == Idle || st == Terminated {
		return
	}
	if !c.phase.final() && c.cfg.Caps.EarlyDialogTerminated {
		c.do(Action{Kind: ActSend199})
	}
}

// release is the controller's last word: whatever is still held goes.
func (c *Call) release() {
	c.stopRingback()
	c.closePush(CallerCardPush)
	c.closePush(CalleeCardPush)
	if c.early.State() == ProvSent {
		c.do(Action{Kind: ActDisarm, Timer: TimerReliable})
	}
	c.early.to(Terminated)
	c.done = true
}

// startEarly sends Herald's reliable 183 answering the caller's offer (RFC 3262); media is inactive
// until a ringback plays on it. When the response that opens it already authorises the callee
// network's own early media (calleeMedia, RFC 5009), the 183 answers without the ringback: it
// yields as it would once playing (relay).
func (c *Call) startEarly(calleeMedia bool) {
	c.rseq = c.cfg.RSeq
	c.early.to(ProvSent)
	yield := calleeMedia && c.cfg.Plan.Ringback != ""
	if yield {
		c.do(Action{Kind: ActCount, Counter: CountRingbackYielded})
	}
	c.ringback = c.cfg.Plan.Ringback != "" && !yield
	c.do(Action{Kind: ActSendEarly183, RSeq: c.rseq, Link: c.cfg.Plan.CalleeMode == CalleeCardCallInfo, NoRingback: yield})
	c.armReliable()
}

func (c *Call) armReliable() {
	c.step, c.due = c.cfg.T1, c.cfg.T1
	c.do(Action{Kind: ActArm, Timer: TimerReliable, At: c.due})
}

// retransmit runs on T1, 2·T1, 4·T1 … after the first send until PRACK; at 64·T1 Herald's early
// dialog is abandoned (RFC 3262 §3) and its ringback stopped, while the call goes on. The schedule
// is kept from the first send (T1, 3·T1, 7·T1, … 63·T1, 64·T1), not from when the timer happened to
// fire, so a late wake-up neither drops a retransmission nor shifts the give-up.
func (c *Call) retransmit() {
	if c.early.State() != ProvSent {
		return
	}
	t64 := 64 * c.cfg.T1
	if c.due >= t64 {
		c.do(Action{Kind: ActCount, Counter: CountPrackTimeout})
		c.early.to(Terminated)
		c.stopRingback()
		return
	}
	c.do(Action{Kind: ActCount, Counter: CountRetransmit})
	c.do(Action{Kind: ActRetransmit183})
	c.step *= 2
	c.due = min(c.due+c.step, t64)
	c.do(Action{Kind: ActArm, Timer: TimerReliable, At: c.due})
}

func (c *Call) prack(ev Event) {
	switch {
	case !ev.Parsed:
		c.do(Action{Kind: ActAnswerPrack, Code: 400})
		return
	case c.rseq == 0 || ev.RSeq != c.rseq || ev.CSeq != c.cfg.InviteCSeq || ev.Method != "INVITE":
		// RFC 3262 §4: a PRACK that matches no unacknowledged reliable provisional gets 481.
		c.do(Action{Kind: ActAnswerPrack, Code: 481})
		return
	}
	c.do(Action{Kind: ActAnswerPrack, Code: 200})
	if c.early.State() != ProvSent {
		return // a retransmitted PRACK: answered again, nothing else to do
	}
	c.early.to(Early)
	c.do(Action{Kind: ActDisarm, Timer: TimerReliable})
	if c.followUp {
		c.followUp = false // the link 183 after a refused UPDATE: nothing more to start
		return
	}
	if c.ringback {
		c.do(Action{Kind: ActPlayRingback}) // claim 2: the RTP bearer plays before the callee card is offered
	}
	if c.cfg.Plan.CalleeMode == CalleeCardUpdate {
		c.do(Action{Kind: ActSendUpdate})
	}
}

func (c *Call) updateOut(ev Event) {
	if ev.Update == UpdateOutSent {
		c.opened(CalleeCardPush, true)
	}
	if c.early.State() != Early || c.phase.final() {
		c.closePush(CalleeCardPush) // not possible while the glue reports at once; never left open
		return
	}
	switch ev.Update {
	case UpdateOutSent:
		c.early.to(UpdateSent)
	case UpdateOutNoTarget:
		c.do(Action{Kind: ActPublishLink})
	}
}

func (c *Call) updateResult(ev Event) {
	if c.early.State() != UpdateSent {
		return // the call ended meanwhile, or a duplicate
	}
	refused := ev.Code < 200 || ev.Code >= 300
	if refused || ev.Declined {
		// RFC 3311 §5.1: a refused UPDATE changes nothing of the early dialog, which stays as it
		// was (ringback goes on); RFC 3264 §6: a declined line likewise. The card goes the
		// harmless way, and the refusal is remembered.
		c.early.to(Early)
		c.closePush(CalleeCardPush)
		c.do(Action{Kind: ActCount, Counter: CountUpdateRefused})
		switch {
		case refused && (ev.Code == 0 || ev.Code == 408 || ev.Code == 491 || ev.Code == 503):
			// No answer, a timeout, a glare with the caller's own UPDATE (RFC 3311 §5.2: a VoLTE
			// caller's precondition UPDATE right after its PRACK) or an overload say nothing of
			// what the caller can take: this call gets the link, the next ones try again. (Any
			// other refusal is learnt: linphone 5.1 refuses m=message with 504.)
		case refused:
			c.learn(Caller, false, fmt.Sprintf("refused the UPDATE offering m=message (%d)", ev.Code))
		default:
			c.learn(Caller, false, "declined the m=message line of the UPDATE")
		}
		c.do(Action{Kind: ActPublishLink})
		return
	}
	c.early.to(Pushing)
	if ev.EarlyAnswer {
		c.learn(Caller, true, "accepted the m=message line of the UPDATE")
		c.do(Action{Kind: ActApplyAnswer, Card: CalleeCardPush})
	}
}

// link offers the callee card as a Call-Info link on a 183 without a body, once it is published:
// on Herald's own early dialog when it has one (after a refused UPDATE), else on a new one that
// ends there (a caller without 100rel or UPDATE, or not known to take the UPDATE). A caller that
// requires 100rel gets it reliably on an early dialog (RFC 3262 §3), with the next RSeq.
func (c *Call) link(published bool) {
	if !published || c.phase.final() {
		return
	}
	c.do(Action{Kind: ActCount, Counter: CountLinkOnly})
	switch st := c.early.State(); {
	case st == Idle:
		c.early.to(Terminated) // nothing more happens on this dialog
		c.do(Action{Kind: ActSendLink183})
	case c.cfg.Caps.RequireReliable && st == Early:
		c.rseq++
		c.followUp = true
		c.early.to(ProvSent)
		c.do(Action{Kind: ActSendLink183, Reliable: true, RSeq: c.rseq})
		c.armReliable()
	default:
		c.do(Action{Kind: ActSendLink183})
	}
}

// EarlyTrail returns every state Herald's early dialog entered, in order.
func (c *Call) EarlyTrail() []State { return c.early.Trail() }
