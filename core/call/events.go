package call

import (
	"fmt"
	"time"
)

// events.go is the machine's vocabulary (machine.go): where a call stands (Phase), its cards,
// sides and timers, the Events the glue reports and the Actions it performs, in small values (no
// SIP types).

// Phase is where the call as a whole stands.
type Phase uint8

// Phases. Every phase after Forwarding is an outcome: a final response went (or is owed) upstream.
const (
	Planned    Phase = iota // plan made, the INVITE not forwarded yet
	Forwarding              // INVITE forwarded, no final response upstream yet
	Answered                // the callee's 2xx relayed
	Rejected                // a final non-2xx upstream: the callee's, or Herald's own (503, 408, 500)
	Cancelled               // the caller's CANCEL: 487 upstream (by the transaction layer), CANCEL downstream
	TimedOut                // Timer C (RFC 3261 §16.8): 408 upstream, CANCEL downstream
	Drained                 // the drain's time is up: 487 upstream, CANCEL downstream (RFC 3261 §16.10)
	Failed                  // a fault or the caller's transaction lost: whatever is owed, then CANCEL downstream
)

var phaseNames = [...]string{"planned", "forwarding", "answered", "rejected", "cancelled", "timed-out", "drained", "failed"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", p)
}

// final: a final response went upstream (or the transaction layer sent it).
func (p Phase) final() bool { return p > Forwarding }

// canceled: the forwarded INVITE was (or is being) cancelled downstream.
func (p Phase) canceled() bool { return p >= Cancelled }

// Card is one of the two pages a call pushes over MSRP.
type Card uint8

// Cards.
const (
	CallerCardPush Card = iota + 1 // the caller card, offered to the callee in the INVITE (claims 1, 3)
	CalleeCardPush                 // the callee card, offered to the caller in the UPDATE (claims 1/4, 5/7)
)

func (c Card) String() string {
	switch c {
	case CallerCardPush:
		return "caller-card"
	case CalleeCardPush:
		return "callee-card"
	}
	return "card?"
}

// Side names a party of the call.
type Side uint8

// Sides.
const (
	Caller Side = iota + 1
	Callee
)

func (s Side) String() string {
	if s == Caller {
		return "caller"
	}
	return "callee"
}

// Timer names the timers the machine arms; the glue runs them and reports EvTimer.
type Timer uint8

// Timers.
const (
	TimerC          Timer = iota + 1 // RFC 3261 §16.8: the callee's answer
	TimerReliable                    // RFC 3262 §3: the next retransmission of Herald's reliable 183
	TimerCancelWait                  // 64·T1 for the callee's answer to Herald's CANCEL
)

var timerNames = [...]string{"?", "timer-c", "reliable", "cancel-wait"}

func (t Timer) String() string {
	if int(t) < len(timerNames) {
		return timerNames[t]
	}
	return "timer?"
}

// EventKind is what happened.
type EventKind uint8

// Events the glue reports.
const (
	EvForwarded     EventKind = iota + 1 // the INVITE went to the next hop (Sent: caller card part in it); Failed: it could not be sent
	EvResponse                           // a response to the forwarded INVITE (Code, Reason, Session, EarlyAnswer)
	EvClientDone                         // the forwarded INVITE's transaction ended without a final response
	EvCancel                             // the caller's CANCEL matched (the transaction layer answered 200 and 487)
	EvCallerGone                         // the caller's server transaction ended (Canceled: by a CANCEL)
	EvDrain                              // the drain's time is up (Server.AbortCalls)
	EvTimer                              // Timer fired
	EvPrack                              // a PRACK on Herald's early dialog (Parsed, RSeq, CSeq, Method)
	EvUpdateOut                          // the glue's attempt at the UPDATE (Update: sent, no target, not opened)
	EvUpdateResult                       // the caller's answer to the UPDATE (Code 0: none; Declined; EarlyAnswer)
	EvInboundUpdate                      // the caller sent an UPDATE on Herald's early dialog
	EvPushBound                          // the MSRP plane bound a terminal's connection and acquisition request to Card's session
	EvPushDone                           // Card's push session ended (Delivered; Failed: by the terminal or the network, else aborted)
	EvLink                               // the callee card's Call-Info link (Sent: published)
	EvBrokenEnded                        // the ACK and BYE of a 2xx without a session answer are done
	EvResent                             // the INVITE resent without the part (Failed: could not be)
	EvRingback                           // the RTP plane\'s ringback streams: Lines reserved for the 183, or (Started) playing
	EvFault                              // the glue recovered a panic in this call
	EvEnd                                // the controller is ending: release whatever is still held
)

var eventNames = [...]string{"?", "forwarded", "response", "client-done", "cancel", "caller-gone", "drain", "timer",
	"prack", "update-out", "update-result", "inbound-update", "push-bound", "push-done", "link", "broken-ended", "resent", "ringback", "fault", "end"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", k)
}

// UpdateOut is how the glue's attempt to send the UPDATE went.
type UpdateOut uint8

// UPDATE attempts.
const (
	UpdateOutSent     UpdateOut = iota + 1 // the UPDATE is in flight, the callee card's session open
	UpdateOutNoTarget                      // the caller's Contact does not parse: no target for the UPDATE
	UpdateOutNotOpen                       // the callee card's push session could not be opened
)

// Event is one thing that happened to the call, in small values (no SIP types).
type Event struct {
	Kind EventKind
	// EvResponse, EvUpdateResult: the status code (0: no response at all) and reason.
	Code   int
	Reason string
	// Session (EvResponse): a 2xx carries a usable answer to the caller's offer (a session SDP
	// with an m-line not refused); EarlyAnswer: the callee's early-session answer with an MSRP
	// line (EvResponse), or the caller's MSRP answer in the 200 (UPDATE) (EvUpdateResult).
	Session, EarlyAnswer bool
	// EvUpdateResult: the caller's answer declined the m=message line (port 0, RFC 3264 §6).
	Declined bool
	// EvResponse: a provisional response authorises the callee network's own early media toward
	// the caller (P-Early-Media: sendrecv or sendonly on some m-line, RFC 5009 §5).
	CalleeEarlyMedia bool
	// EvForwarded: Sent says the early-session part is in the INVITE; Failed that nothing was sent.
	// EvResent: Failed that the resend could not be sent. EvLink: Sent that the link exists.
	// EvPushDone: Delivered that the terminal's success REPORT covered the page (RFC 4975 §7.1.2);
	// Failed that the terminal or the network ended it (a failure REPORT or response, a timeout, a
	// disconnect); neither: aborted (Herald closed it, or the plane shut down).
	Sent, Failed bool
	// EvCallerGone: the caller's transaction ended by a CANCEL.
	Canceled bool
	Timer    Timer
	// EvPrack: the RAck header parsed, and its values (RFC 3262 §7.2).
	Parsed     bool
	RSeq, CSeq uint32
	Method     string
	Update     UpdateOut
	Card       Card
	Delivered  bool
	// EvRingback: how many ringback streams the RTP plane reserved (the 183's answer names them)
	// or, with Started, started playing.
	Lines   int
	Started bool
}

// ActionKind is what the glue must do.
type ActionKind uint8

// Actions the machine asks for.
const (
	ActRelay            ActionKind = iota + 1 // relay the response being handled upstream (its early-session answer stripped)
	ActRespond                                // send Herald's own final response Code upstream
	ActSendEarly183                           // open Herald's early dialog: reliable 183 (RSeq) answering the caller's offer; Link: with the callee card's Call-Info
	ActSendLink183                            // 183 with the callee card's Call-Info link, no body; Reliable with RSeq
	ActRetransmit183                          // send the outstanding reliable 183 again
	ActSend199                                // 199 Early Dialog Terminated on Herald's dialog (RFC 6228)
	ActArm                                    // arm Timer to fire At after its base (TimerReliable: after the first send of the 183; others: now)
	ActDisarm                                 // stop Timer
	ActPlayRingback                           // start the ringback streams answered in the 183 (claims 2, 6)
	ActStopRingback                           // stop and release the ringback streams
	ActClosePush                              // close Card's push session ('#' on a transfer in flight, RFC 4975 §7.1.1)
	ActApplyAnswer                            // hand the terminal's MSRP answer of the event to Card's session
	ActLearn                                  // remember whether Side's terminal takes early-dialog pushes (Capable, Why)
	ActPublishLink                            // publish the callee card for HTTP; report EvLink
	ActSendUpdate                             // the media request message: open the callee card's session, send the UPDATE; report EvUpdateOut
	ActAnswerPrack                            // answer the PRACK Code
	ActAnswerUpdate                           // answer the caller's UPDATE Code (491 with Retry-After, or 488)
	ActCancelDownstream                       // CANCEL the forwarded INVITE
	ActRefuseBind                             // a terminal bound to Card's session after the machine closed it: end that binding
	ActAckBye                                 // ACK and BYE a 2xx that is not relayed (it came after CANCEL)
	ActEndBroken                              // ACK and BYE a 2xx without a session answer; report EvBrokenEnded
	ActResend                                 // forward the INVITE again without the early-session part; report EvResent
	ActDetach                                 // stop listening to the current client transaction (it is over)
	ActCount                                  // count Counter
	ActDone                                   // the call's controller is finished
)

var actionNames = [...]string{"?", "relay", "respond", "early183", "link183", "retransmit183", "199", "arm", "disarm",
	"play-ringback", "stop-ringback", "close-push", "apply-answer", "learn", "publish-link", "send-update",
	"answer-prack", "answer-update", "cancel-downstream", "refuse-bind", "ack-bye", "end-broken", "resend", "detach", "count", "done"}

func (k ActionKind) String() string {
	if int(k) < len(actionNames) {
		return actionNames[k]
	}
	return fmt.Sprintf("action(%d)", k)
}

// Counter names a statistic the glue counts for an action.
type Counter uint8

// Counters.
const (
	CountCancel          Counter = iota + 1 // the caller cancelled
	CountDrainAborted                       // a call ended by the drain
	CountPrackTimeout                       // no PRACK within 64·T1
	CountRetransmit                         // a reliable 183 sent again
	CountUpdateRefused                      // the caller refused the UPDATE or its m=message line
	CountLinkOnly                           // the callee card went as a Call-Info link on a 183
	CountLateBind                           // a terminal bound to a push session the call had already closed
	CountPushFailed                         // a push ended by the terminal or the network, not delivered
	CountRingbackYielded                    // the ringback stopped for the callee network's own early media
)

var counterNames = [...]string{"?", "cancel", "drain-aborted", "prack-timeout", "retransmit", "update-refused", "link-only",
	"late-bind", "push-failed", "ringback-yielded"}

func (c Counter) String() string {
	if int(c) < len(counterNames) {
		return counterNames[c]
	}
	return "counter?"
}

// Action is one thing the glue must do, in small values.
type Action struct {
	Kind ActionKind
	Code int
	RSeq uint32
	Link bool // ActSendEarly183: with the callee card's Call-Info link
	// NoRingback (ActSendEarly183): answer without the ringback, the callee's network playing its own
	// early media (Event.CalleeEarlyMedia).
	NoRingback bool
	Reliable   bool // ActSendLink183
	Timer      Timer
	At         time.Duration
	Card       Card
	Side       Side
	Capable    bool
	Why        string
	Counter    Counter
}

func (a Action) String() string {
	switch a.Kind {
	case ActRelay, ActRespond, ActAnswerPrack, ActAnswerUpdate:
		return fmt.Sprintf("%s %d", a.Kind, a.Code)
	case ActSendLink183:
		if a.Reliable {
			return fmt.Sprintf("link183 rseq %d", a.RSeq)
		}
		return "link183"
	case ActSendEarly183:
		if a.Link {
			return fmt.Sprintf("early183 rseq %d link", a.RSeq)
		}
		return fmt.Sprintf("early183 rseq %d", a.RSeq)
	case ActArm:
		return fmt.Sprintf("arm %s %s", a.Timer, a.At)
	case ActDisarm:
		return "disarm " + a.Timer.String()
	case ActClosePush, ActApplyAnswer, ActRefuseBind:
		return fmt.Sprintf("%s %s", a.Kind, a.Card)
	case ActLearn:
		return fmt.Sprintf("learn %s %t", a.Side, a.Capable)
	case ActCount:
		return "count " + a.Counter.String()
	}
	return a.Kind.String()
}
