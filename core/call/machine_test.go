package call

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
)

func mustPage(name string) *content.Page {
	p, err := content.NewPage(name, []byte("<!DOCTYPE html><html><body>"+name+"</body></html>"))
	if err != nil {
		panic(err)
	}
	return p
}

var callerPage, calleePage = mustPage("caller.html"), mustPage("callee.html")

// Configurations of the tables: the caps of an IMS terminal (100rel, UPDATE, 199).
var (
	imsCaps = Caps{Reliable1xx: true, Update: true, EarlyDialogTerminated: true, EarlyMedia: true}
	// claims 1-4: both cards (the callee known to take the early-session part), ringback.
	cfgFull = Config{Plan: Plan{CallerCard: callerPage, CallerMode: CallerCardEarlySession, CalleeCard: calleePage,
		CalleeMode: CalleeCardUpdate, Ringback: "tone"}, Caps: imsCaps, Offer: true, InviteCSeq: 1, RSeq: 100,
		T1: 500 * time.Millisecond, TimerC: 180 * time.Second}
	// claims 5, 7: the callee card only; claim 6 adds ringback.
	cfgCallee     = with(cfgFull, func(c *Config) { c.Plan = Plan{CalleeCard: calleePage, CalleeMode: CalleeCardUpdate} })
	cfgCalleeRing = with(cfgFull, func(c *Config) {
		c.Plan = Plan{CalleeCard: calleePage, CalleeMode: CalleeCardUpdate, Ringback: "tone"}
	})
	// claim 3 to a callee of unknown capability, probing on.
	cfgProbe = with(cfgFull, func(c *Config) { c.Plan = Plan{CallerCard: callerPage, CallerMode: CallerCardProbe} })
	// never break a call: the callee card as a link (a caller not known to take the UPDATE).
	cfgLink     = with(cfgFull, func(c *Config) { c.Plan = Plan{CalleeCard: calleePage, CalleeMode: CalleeCardCallInfo} })
	cfgLinkRing = with(cfgFull, func(c *Config) {
		c.Plan = Plan{CalleeCard: calleePage, CalleeMode: CalleeCardCallInfo, Ringback: "tone"}
	})
	cfgLink100rel = with(cfgLink, func(c *Config) { c.Caps.RequireReliable = true })
	cfgFull100rel = with(cfgFull, func(c *Config) { c.Caps.RequireReliable = true })
	cfgNoOffer    = with(cfgFull, func(c *Config) { c.Offer = false })
)

func with(c Config, f func(*Config)) Config { f(&c); return c }

// Events of the tables.
var (
	fwd       = Event{Kind: EvForwarded, Sent: true}
	fwdPlain  = Event{Kind: EvForwarded}
	prack     = Event{Kind: EvPrack, Parsed: true, RSeq: 100, CSeq: 1, Method: "INVITE"}
	prack2    = Event{Kind: EvPrack, Parsed: true, RSeq: 101, CSeq: 1, Method: "INVITE"}
	updSent   = Event{Kind: EvUpdateOut, Update: UpdateOutSent}
	upd200    = Event{Kind: EvUpdateResult, Code: 200, EarlyAnswer: true}
	cancel    = Event{Kind: EvCancel}
	linkOK    = Event{Kind: EvLink, Sent: true}
	timerC    = Event{Kind: EvTimer, Timer: TimerC}
	reliable  = Event{Kind: EvTimer, Timer: TimerReliable}
	broken200 = Event{Kind: EvResponse, Code: 200, Reason: "OK"} // no session answer
	calleeGot = Event{Kind: EvPushDone, Card: CalleeCardPush, Delivered: true}
	// The MSRP plane's reports: a terminal bound to a card's session; a push failed by the terminal.
	callerBound = Event{Kind: EvPushBound, Card: CallerCardPush}
	calleeBound = Event{Kind: EvPushBound, Card: CalleeCardPush}
	callerGot   = Event{Kind: EvPushDone, Card: CallerCardPush, Delivered: true}
	calleeFail  = Event{Kind: EvPushDone, Card: CalleeCardPush, Failed: true}
)

func res(code int) Event { return Event{Kind: EvResponse, Code: code, Reason: "R", Session: true} }

// setups are the states the table starts from: a configuration and the events that lead there.
var setups = map[string]struct {
	cfg Config
	evs []Event
}{
	"planned":            {cfgFull, nil},
	"forwarding":         {cfgFull, []Event{fwd}},
	"prov-sent":          {cfgFull, []Event{fwd, res(180)}},
	"early":              {cfgFull, []Event{fwd, res(180), prack}},
	"update-sent":        {cfgFull, []Event{fwd, res(180), prack, updSent}},
	"prov-sent-noring":   {cfgFull, []Event{fwd, res(180), {Kind: EvRingback}}},
	"ringing":            {cfgFull, []Event{fwd, res(180), {Kind: EvRingback, Lines: 1}, prack, {Kind: EvRingback, Started: true, Lines: 1}, updSent}},
	"update-refused":     {cfgFull, []Event{fwd, res(180), prack, updSent, {Kind: EvUpdateResult, Code: 504}}},
	"update-refused-req": {cfgFull100rel, []Event{fwd, res(180), prack, updSent, {Kind: EvUpdateResult, Code: 504}}},
	"link-pending":       {cfgFull100rel, []Event{fwd, res(180), prack, updSent, {Kind: EvUpdateResult, Code: 504}, linkOK}},
	"pushing":            {cfgFull, []Event{fwd, res(180), prack, updSent, upd200}},
	"pushed":             {cfgFull, []Event{fwd, res(180), prack, updSent, upd200, calleeGot}},
	"caller-bound":       {cfgFull, []Event{fwd, callerBound}},
	"callee-bound":       {cfgFull, []Event{fwd, res(180), prack, updSent, calleeBound, upd200}},
	"answered-early":     {cfgFull, []Event{fwd, res(180), res(200)}},
	"rejected":           {cfgFull, []Event{fwd, res(486)}},
	"cancelled-update":   {cfgFull, []Event{fwd, res(180), prack, updSent, cancel}},
	"timed-out":          {cfgFull, []Event{fwd, timerC}},
	"broken":             {cfgFull, []Event{fwd, broken200}},
	"broken-cancelled":   {cfgFull, []Event{fwd, broken200, cancel}},
	"probe":              {cfgProbe, []Event{fwd}},
	"probe-ringing":      {cfgProbe, []Event{fwd, res(180)}},
	"probe-resending":    {cfgProbe, []Event{fwd, res(480)}},
	"callee-prov":        {cfgCallee, []Event{fwdPlain, res(180)}},
	"callee-ring-prov":   {cfgCalleeRing, []Event{fwdPlain, res(180)}},
	"link-forwarding":    {cfgLink, []Event{fwdPlain}},
	"link-ring-early":    {cfgLinkRing, []Event{fwdPlain, res(180), prack}},
	"link100-forwarding": {cfgLink100rel, []Event{fwdPlain}},
	"no-offer":           {cfgNoOffer, []Event{fwd}},
}

func run(t *testing.T, name string) *Call {
	t.Helper()
	st, ok := setups[name]
	if !ok {
		t.Fatalf("no setup %q", name)
	}
	c := New(st.cfg)
	for _, ev := range st.evs {
		c.Handle(ev)
	}
	return c
}

func render(acts []Action) string {
	s := make([]string, len(acts))
	for i, a := range acts {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// TestTransitions is the call's state machine, state by event: each row names the claim (or the
// rule, "never break a call" and the RFC's) it proves, and gives every action in order, the phase
// and Herald's early dialog state after it. Out-of-order and duplicate events are rows of their
// own: a 200 before the PRACK, a PRACK after the final response, a CANCEL during the UPDATE, the
// UPDATE's answer after it, a second final response, a duplicate PRACK or UPDATE answer.
func TestTransitions(t *testing.T) {
	rows := []struct {
		claim, from string
		ev          Event
		want        string
		phase       Phase
		early       State
	}{
		// The claims, in order.
		{"claim 1/3: the INVITE carries the caller card; Timer C runs", "planned", fwd,
			"arm timer-c 3m0s", Forwarding, Idle},
		{"claim 1: the callee's early-session answer connects its terminal to the caller card", "forwarding",
			Event{Kind: EvResponse, Code: 183, EarlyAnswer: true},
			"arm timer-c 3m0s, learn callee true, apply-answer caller-card, relay 183, early183 rseq 100, arm reliable 500ms", Forwarding, ProvSent},
		{"claim 2: the callee alerts: Herald's own early dialog, reliable 183", "forwarding", res(180),
			"arm timer-c 3m0s, relay 180, early183 rseq 100, arm reliable 500ms", Forwarding, ProvSent},
		{"claim 2/4: PRACK: ringback plays before the callee card's UPDATE goes", "prov-sent", prack,
			"answer-prack 200, disarm reliable, play-ringback, send-update", Forwarding, Early},
		{"claim 4: the UPDATE is out, the callee card's session open", "early", updSent, "", Forwarding, UpdateSent},
		{"claim 4: an UPDATE reported before the PRACK: its session is not left open", "prov-sent", updSent,
			"close-push callee-card", Forwarding, ProvSent},
		{"claim 4: the caller's 200 (UPDATE) takes the m=message line", "update-sent", upd200,
			"learn caller true, apply-answer callee-card", Forwarding, Pushing},
		{"claim 4: the callee card fetched", "pushing", calleeGot, "learn caller true", Forwarding, Pushed},
		{"claim 1: the caller card fetched", "pushing", Event{Kind: EvPushDone, Card: CallerCardPush, Delivered: true},
			"learn callee true", Forwarding, Pushing},
		{"claim 1: the answer ends it all: ringback, pushes, 199, then the 200", "pushed", res(200),
			"stop-ringback, close-push caller-card, close-push callee-card, 199, relay 200, done", Answered, Terminated},
		{"claim 5: callee card only: no ringback, the UPDATE after PRACK", "callee-prov", prack,
			"answer-prack 200, disarm reliable, send-update", Forwarding, Early},
		{"claim 6: callee card and ringback", "callee-ring-prov", prack,
			"answer-prack 200, disarm reliable, play-ringback, send-update", Forwarding, Early},
		// The MSRP plane's reports: binds and outcomes.
		{"claim 1: the callee's terminal binds to the caller card's session: the page goes", "forwarding", callerBound,
			"", Forwarding, Idle},
		{"claim 4: the caller's terminal binds before its 200 (UPDATE) reaches Herald", "update-sent", calleeBound,
			"", Forwarding, UpdateSent},
		{"claim 4: the 200 (UPDATE) after that bind", "update-sent", upd200, "learn caller true, apply-answer callee-card", Forwarding, Pushing},
		{"claim 4: a second report of the same bind changes nothing", "callee-bound", calleeBound, "", Forwarding, Pushing},
		{"claim 1: the caller card delivered over the bound connection", "caller-bound", callerGot, "learn callee true", Forwarding, Idle},
		{"claim 4: the callee card failed by the terminal: counted, nothing left to push early", "callee-bound", calleeFail,
			"count push-failed", Forwarding, Pushed},
		{"claim 4: an aborted push is Herald's own close: not counted", "callee-bound",
			Event{Kind: EvPushDone, Card: CalleeCardPush}, "", Forwarding, Pushed},
		{"claim 4: a second result of one session changes nothing", "pushed", calleeGot, "", Forwarding, Pushed},
		{"claim 4: a result for a session never opened changes nothing", "early", calleeGot, "", Forwarding, Early},
		{"claim 4: a bind after the CANCEL closed the session is refused and counted", "cancelled-update", calleeBound,
			"count late-bind, refuse-bind callee-card", Cancelled, Terminated},
		{"claim 1: a bind after the CANCEL closed the caller card's session is refused and counted", "cancelled-update", callerBound,
			"count late-bind, refuse-bind caller-card", Cancelled, Terminated},
		{"claim 1: a bind after Timer C is refused and counted", "timed-out", callerBound,
			"count late-bind, refuse-bind caller-card", TimedOut, Terminated},
		{"claim 4: a bind after the caller refused the UPDATE is refused and counted", "update-refused", calleeBound,
			"count late-bind, refuse-bind callee-card", Forwarding, Early},
		{"claim 3: a bind to the part the callee refused (resent without it) is refused and counted", "probe-resending", callerBound,
			"count late-bind, refuse-bind caller-card", Forwarding, Idle},
		{"claim 1: a bind after the answer: the controller is done, the plane refuses (closed at the answer)", "answered-early", callerBound,
			"", Answered, Terminated},
		{"claim 4: a bind to a card never offered is nobody's", "early", calleeBound, "", Forwarding, Early},
		{"claim 4: the page delivered after the CANCEL's close raced it: still learned", "cancelled-update", calleeGot,
			"learn caller true", Cancelled, Terminated},
		{"claim 5: a further 18x is relayed, no second early dialog", "callee-prov", res(183), "arm timer-c 3m0s, relay 183", Forwarding, ProvSent},

		// Ringback as the RTP plane reports it.
		{"claim 2: no codec in common or no port: nothing to play", "prov-sent-noring", prack,
			"answer-prack 200, disarm reliable, send-update", Forwarding, Early},
		{"claim 2: no ringback reserved: the answer stops none", "prov-sent-noring", res(200),
			"close-push caller-card, disarm reliable, 199, relay 200, done", Answered, Terminated},
		{"claim 2: ringback playing stops first on the answer", "ringing", res(200),
			"stop-ringback, close-push caller-card, close-push callee-card, 199, relay 200, done", Answered, Terminated},

		// Out of order and duplicates.
		{"claim 2: a 200 before the PRACK answer ends the early dialog with 199", "prov-sent", res(200),
			"stop-ringback, close-push caller-card, disarm reliable, 199, relay 200, done", Answered, Terminated},
		{"RFC 3262 §4: a PRACK after the final response: nothing (the glue answers 481)", "answered-early", prack,
			"", Answered, Terminated},
		{"claim 4: a CANCEL during the UPDATE: no 199, both pushes closed, CANCEL downstream", "update-sent", cancel,
			"count cancel, stop-ringback, close-push caller-card, close-push callee-card, cancel-downstream, arm cancel-wait 32s", Cancelled, Terminated},
		{"claim 4: the UPDATE's 200 after the CANCEL changes nothing", "cancelled-update", upd200, "", Cancelled, Terminated},
		{"RFC 3261 §16.10: a second CANCEL", "cancelled-update", cancel, "", Cancelled, Terminated},
		{"RFC 3261 §16.10: the 487 after CANCEL ends the call", "cancelled-update", res(487), "done", Cancelled, Terminated},
		{"RFC 3261 §16.10: a 2xx after CANCEL is ACKed and BYEd, never relayed", "cancelled-update", res(200), "ack-bye, done", Cancelled, Terminated},
		{"RFC 3261 §16.7: a second final response is not relayed", "rejected", res(200), "", Rejected, Terminated},
		{"RFC 3262: a retransmitted PRACK is answered again", "update-sent", prack, "answer-prack 200", Forwarding, UpdateSent},
		{"RFC 3262 §4: a PRACK for another RSeq", "prov-sent", Event{Kind: EvPrack, Parsed: true, RSeq: 99, CSeq: 1, Method: "INVITE"},
			"answer-prack 481", Forwarding, ProvSent},
		{"RFC 3262 §4: a PRACK for another request", "prov-sent", Event{Kind: EvPrack, Parsed: true, RSeq: 100, CSeq: 2, Method: "INVITE"},
			"answer-prack 481", Forwarding, ProvSent},
		{"RFC 3262 §7.2: a PRACK without a valid RAck", "prov-sent", Event{Kind: EvPrack}, "answer-prack 400", Forwarding, ProvSent},
		{"claim 4: a duplicate UPDATE answer", "pushing", upd200, "", Forwarding, Pushing},
		{"RFC 3311 §5.2: the caller's UPDATE in glare gets 491", "update-sent", Event{Kind: EvInboundUpdate}, "answer-update 491", Forwarding, UpdateSent},
		{"RFC 3311: Herald does not renegotiate its early media", "pushing", Event{Kind: EvInboundUpdate}, "answer-update 488", Forwarding, Pushing},
		{"claim 2: a second 180 does not open a second early dialog", "prov-sent", res(180), "arm timer-c 3m0s, relay 180", Forwarding, ProvSent},
		{"a duplicate forwarded report", "forwarding", fwd, "", Forwarding, Idle},

		// The UPDATE refused: never break a call.
		{"claim 4, never break a call: a refused UPDATE leaves the early dialog; the card goes as a link", "update-sent",
			Event{Kind: EvUpdateResult, Code: 488},
			"close-push callee-card, count update-refused, learn caller false, publish-link", Forwarding, Early},
		{"claim 4, never break a call: no answer to the UPDATE at all (nothing learnt of the caller)", "update-sent", Event{Kind: EvUpdateResult},
			"close-push callee-card, count update-refused, publish-link", Forwarding, Early},
		{"RFC 3311 §5.2: a 491 (glare with the caller's own UPDATE) teaches nothing of the caller", "update-sent",
			Event{Kind: EvUpdateResult, Code: 491}, "close-push callee-card, count update-refused, publish-link", Forwarding, Early},
		{"a 504 is learnt (linphone 5.1 refuses m=message so)", "update-sent",
			Event{Kind: EvUpdateResult, Code: 504}, "close-push callee-card, count update-refused, learn caller false, publish-link", Forwarding, Early},
		{"a 503 (overload) teaches nothing of the caller", "update-sent",
			Event{Kind: EvUpdateResult, Code: 503}, "close-push callee-card, count update-refused, publish-link", Forwarding, Early},
		{"claim 4, never break a call: the m=message line declined (RFC 3264 §6)", "update-sent",
			Event{Kind: EvUpdateResult, Code: 200, Declined: true},
			"close-push callee-card, count update-refused, learn caller false, publish-link", Forwarding, Early},
		{"never break a call: the link on an unreliable 183", "update-refused", linkOK, "count link-only, link183", Forwarding, Early},
		{"RFC 3262 §3: a caller requiring 100rel gets the link reliably, next RSeq", "update-refused-req", linkOK,
			"count link-only, link183 rseq 101, arm reliable 500ms", Forwarding, ProvSent},
		{"RFC 3262 §3: its PRACK starts nothing more", "link-pending", prack2, "answer-prack 200, disarm reliable", Forwarding, Early},
		{"RFC 3262 §4: the first 183's RSeq no longer matches", "link-pending", prack, "answer-prack 481", Forwarding, ProvSent},
		{"never break a call: no web plane, no link", "update-refused", Event{Kind: EvLink}, "", Forwarding, Early},
		{"never break a call: an unparsable Contact: the card as a link", "early",
			Event{Kind: EvUpdateOut, Update: UpdateOutNoTarget}, "publish-link", Forwarding, Early},
		{"claim 4: the callee card's session could not open: the call goes on", "early",
			Event{Kind: EvUpdateOut, Update: UpdateOutNotOpen}, "", Forwarding, Early},
		{"never break a call: callee card as a link to a caller not known to take the UPDATE", "link-forwarding", res(180),
			"arm timer-c 3m0s, relay 180, publish-link", Forwarding, Idle},
		{"never break a call: that link on a 183 of a dialog that ends there", "link-forwarding", linkOK,
			"count link-only, link183", Forwarding, Terminated},
		{"RFC 3262 §3: a caller requiring 100rel gets the link on a reliable 183", "link100-forwarding", res(180),
			"arm timer-c 3m0s, relay 180, early183 rseq 100 link, arm reliable 500ms", Forwarding, ProvSent},
		{"claim 2 with the link: ringback plays, no UPDATE", "link-ring-early", res(200),
			"stop-ringback, 199, relay 200, done", Answered, Terminated},

		// The caller card refused: resent without the part (never break a call).
		{"claim 3, never break a call: a known callee refusing the body gets the INVITE again without the part", "forwarding", res(488),
			"close-push caller-card, learn callee false, resend", Forwarding, Idle},
		{"claim 3: a known callee that is busy is not asked twice", "forwarding", res(486),
			"close-push caller-card, relay 486, done", Rejected, Terminated},
		{"claim 3, probing: an unknown callee's refusal", "probe", res(480), "close-push caller-card, learn callee false, resend", Forwarding, Idle},
		{"claim 3, probing: a challenge is relayed", "probe", res(407), "close-push caller-card, relay 407, done", Rejected, Terminated},
		{"claim 3, probing: a refusal after the callee alerted is relayed", "probe-ringing", res(480),
			"close-push caller-card, relay 480, done", Rejected, Terminated},
		{"claim 3, probing: the resend went", "probe-resending", Event{Kind: EvResent}, "", Forwarding, Idle},
		{"claim 3, probing: the resend could not go: the refusal is relayed", "probe-resending", Event{Kind: EvResent, Failed: true},
			"relay 480, done", Rejected, Terminated},
		{"claim 3, probing: the resend's answer is relayed, not refused again", "probe-resending", res(480),
			"relay 480, done", Rejected, Terminated},
		{"claim 3, never break a call: a 2xx without a session answer is ended, not relayed", "forwarding", broken200,
			"end-broken, detach", Forwarding, Idle},
		{"claim 3: then the INVITE goes again without the part", "broken", Event{Kind: EvBrokenEnded, Code: 200, Reason: "OK"},
			"close-push caller-card, learn callee false, resend", Forwarding, Idle},
		{"claim 3: a broken answer's end after CANCEL: nothing more", "broken-cancelled", Event{Kind: EvBrokenEnded, Code: 200}, "", Cancelled, Terminated},
		{"claim 3: the resend after a broken answer could not go: 500", "broken", Event{Kind: EvResent, Failed: true},
			"close-push caller-card, respond 500, done", Rejected, Terminated},
		{"RFC 3264: a caller without an offer gets it in the 2xx: relayed", "no-offer", broken200,
			"close-push caller-card, relay 200, done", Answered, Terminated},

		// Timers, drain, the caller's transaction, faults.
		{"RFC 3261 §16.8: Timer C: 408 up, CANCEL down", "forwarding", timerC,
			"close-push caller-card, respond 408, cancel-downstream, arm cancel-wait 32s", TimedOut, Terminated},
		{"RFC 3261 §16.8: Timer C while ringing: 199 first", "prov-sent", timerC,
			"stop-ringback, close-push caller-card, disarm reliable, 199, respond 408, cancel-downstream, arm cancel-wait 32s", TimedOut, Terminated},
		{"RFC 3261 §16.10: the CANCEL's wait ends the call", "timed-out", Event{Kind: EvTimer, Timer: TimerCancelWait}, "done", TimedOut, Terminated},
		{"RFC 3261 §16.10: the callee's 487 after Timer C", "timed-out", res(487), "done", TimedOut, Terminated},
		{"drain: 487 up, CANCEL down, pushes closed with '#'", "pushing", Event{Kind: EvDrain},
			"count drain-aborted, stop-ringback, close-push caller-card, close-push callee-card, 199, respond 487, cancel-downstream, arm cancel-wait 32s", Drained, Terminated},
		{"drain: a call already cancelled", "cancelled-update", Event{Kind: EvDrain}, "", Cancelled, Terminated},
		{"RFC 3261 §17.1.1.2: the INVITE's transaction ended unanswered: 408", "forwarding", Event{Kind: EvClientDone},
			"close-push caller-card, respond 408, done", Rejected, Terminated},
		{"the caller's transaction lost", "prov-sent", Event{Kind: EvCallerGone},
			"stop-ringback, close-push caller-card, disarm reliable, 199, done", Failed, Terminated},
		{"the caller's transaction ended by CANCEL", "forwarding", Event{Kind: EvCallerGone, Canceled: true},
			"count cancel, close-push caller-card, cancel-downstream, arm cancel-wait 32s", Cancelled, Terminated},
		{"the caller's transaction ends after the final response", "cancelled-update", Event{Kind: EvCallerGone, Canceled: true},
			"done", Cancelled, Terminated},
		{"RFC 3261 §16.9: the INVITE could not be sent: 503", "planned", Event{Kind: EvForwarded, Sent: true, Failed: true},
			"close-push caller-card, respond 503, done", Rejected, Idle},
		{"a fault mid-call: 500 up, CANCEL down, no 199", "pushing", Event{Kind: EvFault},
			"respond 500, stop-ringback, close-push caller-card, close-push callee-card, cancel-downstream, done", Failed, Terminated},
		{"the controller's end releases what is held", "update-sent", Event{Kind: EvEnd},
			"stop-ringback, close-push caller-card, close-push callee-card", Forwarding, Terminated},
		{"the controller's end after the answer releases nothing twice", "answered-early", Event{Kind: EvEnd}, "", Answered, Terminated},
		{"retransmission timer after PRACK: nothing", "update-sent", reliable, "", Forwarding, UpdateSent},
	}
	for _, r := range rows {
		t.Run(r.claim, func(t *testing.T) {
			c := run(t, r.from)
			if got := render(c.Handle(r.ev)); got != r.want {
				t.Errorf("%s + %s:\n got  %s\n want %s", r.from, r.ev.Kind, got, r.want)
			}
			if c.Phase() != r.phase || c.Early() != r.early {
				t.Errorf("%s + %s: phase %s early %s, want %s %s", r.from, r.ev.Kind, c.Phase(), c.Early(), r.phase, r.early)
			}
		})
	}
}

// TestReliableSchedule proves RFC 3262 §3 as the machine keeps it: the reliable 183 is sent again at
// T1, 3·T1, 7·T1 … 63·T1 after its first send (each deadline from the first send, not from the
// wake-up), and at 64·T1 without PRACK Herald's early dialog is abandoned and its ringback stopped
// (claim 2), while the call goes on.
func TestReliableSchedule(t *testing.T) {
	c := run(t, "prov-sent")
	var arms []string
	retransmits := 0
	for range 10 {
		for _, a := range c.Handle(reliable) {
			switch a.Kind {
			case ActArm:
				arms = append(arms, a.At.String())
			case ActRetransmit183:
				retransmits++
			}
		}
	}
	if got, want := strings.Join(arms, " "), "1.5s 3.5s 7.5s 15.5s 31.5s 32s"; got != want {
		t.Errorf("deadlines %s, want %s", got, want)
	}
	if retransmits != 6 || c.Early() != Terminated || c.Phase() != Forwarding {
		t.Errorf("%d retransmissions, early %s, phase %s; want 6, terminated, forwarding", retransmits, c.Early(), c.Phase())
	}
	// The call goes on: the answer is relayed, nothing of the abandoned dialog is sent (no 199).
	if got := render(c.Handle(res(200))); got != "close-push caller-card, relay 200, done" {
		t.Errorf("answer after the give-up: %s", got)
	}
}

// pool is every event the glue can report, in its variants.
var pool = []Event{
	res(100), res(180), res(183), {Kind: EvResponse, Code: 183, EarlyAnswer: true}, res(200), broken200, res(486),
	res(488), res(480), res(487), prack, prack2, {Kind: EvPrack}, updSent, {Kind: EvUpdateOut, Update: UpdateOutNoTarget},
	{Kind: EvUpdateOut, Update: UpdateOutNotOpen}, upd200, {Kind: EvUpdateResult, Code: 504},
	{Kind: EvUpdateResult, Code: 200, Declined: true}, {Kind: EvInboundUpdate}, calleeGot,
	{Kind: EvPushDone, Card: CallerCardPush}, linkOK, {Kind: EvLink}, cancel, {Kind: EvCallerGone},
	{Kind: EvCallerGone, Canceled: true}, {Kind: EvDrain}, timerC, reliable, {Kind: EvTimer, Timer: TimerCancelWait},
	{Kind: EvClientDone}, {Kind: EvBrokenEnded, Code: 200}, {Kind: EvResent}, {Kind: EvResent, Failed: true},
	{Kind: EvFault}, {Kind: EvForwarded, Sent: true, Failed: true}, fwd,
	{Kind: EvRingback}, {Kind: EvRingback, Lines: 1}, {Kind: EvRingback, Started: true, Lines: 1},
	callerBound, calleeBound, callerGot, calleeFail, {Kind: EvPushDone, Card: CalleeCardPush},
}

// checkRun feeds evs, then the controller's end, to a new machine of cfg and fails when what it
// asks for breaks one of the rules a carrier sees: every push session opened (the caller card in
// the INVITE, the callee card in the UPDATE) closed exactly once by the end, never twice, never one
// not open; a terminal's binding refused only to a session the call opened and closed, each refusal
// counted; at most one final response upstream and no 199 after it; ringback played at most once
// and never after it stopped; nothing after the end but the releases.
func checkRun(t *testing.T, what string, cfg Config, evs []Event) {
	t.Helper()
	c := New(cfg)
	evs = append(evs[:len(evs):len(evs)], Event{Kind: EvEnd})
	var opened, closed [3]int
	finals, plays, stops := 0, 0, 0
	done := false
	for i, ev := range evs {
		was := [3]bool{false, c.Open(CallerCardPush), c.Open(CalleeCardPush)}
		acts := c.Handle(ev)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s, event %d (%s) of %v: "+format, append([]any{what, i, ev.Kind, kinds(evs)}, args...)...)
		}
		if done && ev.Kind != EvEnd && len(acts) > 0 {
			fail("actions after done: %s", render(acts))
		}
		for _, card := range []Card{CallerCardPush, CalleeCardPush} {
			// A session the glue reported opened in this very event counts as opened.
			if !was[card] && (c.Open(card) || closedIn(acts, card)) {
				opened[card]++
			}
		}
		for _, a := range acts {
			switch a.Kind {
			case ActClosePush:
				closed[a.Card]++
				if closed[a.Card] > opened[a.Card] {
					fail("%s closed %d times, opened %d", a.Card, closed[a.Card], opened[a.Card])
				}
			case ActRefuseBind:
				if ev.Kind != EvPushBound || ev.Card != a.Card || c.Open(a.Card) || opened[a.Card] == 0 {
					fail("refused a binding to %s (open %t, opened %d)", a.Card, c.Open(a.Card), opened[a.Card])
				}
				if !counted(acts, CountLateBind) {
					fail("a refused binding not counted")
				}
			case ActRelay, ActRespond:
				if a.Kind == ActRespond || a.Code >= 200 {
					finals++
				}
			case ActSend199:
				if finals > 0 || c.Phase() == Cancelled {
					fail("199 after the final response")
				}
			case ActPlayRingback:
				plays++
				if stops > 0 {
					fail("ringback played after it stopped")
				}
			case ActStopRingback:
				stops++
			case ActDone:
				done = true
			}
			if ev.Kind == EvEnd && a.Kind != ActClosePush && a.Kind != ActStopRingback && a.Kind != ActDisarm {
				fail("the end did %s", a)
			}
		}
		if finals > 1 || plays > 1 || stops > 1 {
			fail("%d finals upstream, ringback played %d stopped %d times", finals, plays, stops)
		}
	}
	for _, card := range []Card{CallerCardPush, CalleeCardPush} {
		if opened[card] != closed[card] || c.Open(card) {
			t.Fatalf("%s %v: %s opened %d closed %d", what, kinds(evs), card, opened[card], closed[card])
		}
	}
}

// TestPushSessionsOneOwner proves that the machine is the one owner of the push sessions' end (they
// were closed from six places in the SIP glue), with checkRun's other rules, over 3000 event
// sequences in any order, duplicates included, across the plans of every claim.
func TestPushSessionsOneOwner(t *testing.T) {
	cfgs := []Config{cfgFull, cfgFull100rel, cfgCallee, cfgCalleeRing, cfgProbe, cfgLink, cfgLink100rel, cfgLinkRing, cfgNoOffer}
	for seed := range uint64(3000) {
		rng := rand.New(rand.NewPCG(seed, 15))
		cfg := cfgs[rng.IntN(len(cfgs))]
		evs := []Event{fwd}
		if cfg.Plan.CallerCard == nil {
			evs[0] = fwdPlain
		}
		for range rng.IntN(30) {
			evs = append(evs, pool[rng.IntN(len(pool))])
		}
		checkRun(t, "seed "+strconv.FormatUint(seed, 10), cfg, evs)
	}
}

// TestEveryStateEveryEvent runs every event of the pool, then every event again (a duplicate), from
// every state of the table's setups, under checkRun's rules.
func TestEveryStateEveryEvent(t *testing.T) {
	for name, st := range setups {
		for _, ev := range pool {
			for _, again := range pool {
				evs := append(append([]Event(nil), st.evs...), ev, again)
				checkRun(t, name, st.cfg, evs)
			}
		}
	}
}

func counted(acts []Action, n Counter) bool {
	for _, a := range acts {
		if a.Kind == ActCount && a.Counter == n {
			return true
		}
	}
	return false
}

func closedIn(acts []Action, card Card) bool {
	for _, a := range acts {
		if a.Kind == ActClosePush && a.Card == card {
			return true
		}
	}
	return false
}

func kinds(evs []Event) []string {
	s := make([]string, len(evs))
	for i, e := range evs {
		s[i] = e.Kind.String()
	}
	return s
}

// TestDeterministic proves Handle has no hidden input (clock, randomness): the same events give
// the same actions, phases and early-dialog trail.
func TestDeterministic(t *testing.T) {
	evs := []Event{fwd, res(180), reliable, prack, updSent, upd200, calleeGot, res(200)}
	var out [2]string
	for i := range out {
		c := New(cfgFull)
		for _, ev := range evs {
			out[i] += render(c.Handle(ev)) + "; "
		}
		out[i] += c.Phase().String()
		for _, s := range c.early.Trail() {
			out[i] += " " + s.String()
		}
	}
	if out[0] != out[1] {
		t.Fatalf("two runs differ:\n%s\n%s", out[0], out[1])
	}
	if !strings.HasSuffix(out[0], "answered prov-sent early update-sent pushing pushed terminated") {
		t.Fatalf("trail %s", out[0])
	}
}

// TestRingbackState proves the ringback state of claims 2 and 6 as the RTP plane reports it:
// playing once started after PRACK, stopped (and no longer playing) on the answer; a plane that
// reserved no stream has nothing to stop.
func TestRingbackState(t *testing.T) {
	c := run(t, "ringing")
	if !c.Ringing() {
		t.Fatal("ringback not playing after PRACK and the plane's start")
	}
	if acts := c.Handle(res(200)); len(acts) == 0 || acts[0].Kind != ActStopRingback || c.Ringing() {
		t.Fatalf("answer: %s, ringing %t; want the ringback stopped first", render(acts), c.Ringing())
	}
	c = run(t, "prov-sent-noring")
	c.Handle(prack)
	if c.Ringing() {
		t.Fatal("ringing without a stream")
	}
}

// TestRingbackYieldsToCalleeEarlyMedia: while Herald's ringback plays (claim 2), a provisional
// response from the callee's side that authorises its own early media (P-Early-Media: sendrecv or
// sendonly, RFC 5009 §5) stops the ringback before it is relayed, counted; the call and Herald's
// early dialog go on (the answer then stops nothing more). One that does not authorise it, or
// comes when no ringback plays, changes nothing.
func TestRingbackYieldsToCalleeEarlyMedia(t *testing.T) {
	em := res(183)
	em.CalleeEarlyMedia = true
	c := run(t, "ringing")
	acts := c.Handle(em)
	if got := render(acts); !strings.HasSuffix(got, "stop-ringback, count ringback-yielded, relay 183") || c.Ringing() {
		t.Fatalf("183 with early media: %s, ringing %t; want stop, count, relay", got, c.Ringing())
	}
	if c.Phase().final() {
		t.Fatal("the call ended")
	}
	for _, a := range c.Handle(res(200)) {
		if a.Kind == ActStopRingback {
			t.Fatal("stopped twice")
		}
	}
	c = run(t, "ringing")
	for _, a := range c.Handle(res(183)) { // no P-Early-Media authorising it
		if a.Kind == ActStopRingback || a.Kind == ActCount {
			t.Fatalf("183 without early media: %s", render(c.Handle(res(183))))
		}
	}
	if !c.Ringing() {
		t.Fatal("ringback stopped without the callee's early media")
	}
	c = run(t, "prov-sent-noring")
	if acts := c.Handle(em); len(acts) == 0 || acts[0].Kind == ActStopRingback {
		t.Fatalf("no ringback playing: %s", render(acts))
	}
	// The 180 that opens Herald's early dialog already authorises the callee's early media: the
	// 183 goes without the ringback, counted, and nothing plays after the PRACK.
	c = run(t, "forwarding")
	alert := res(180)
	alert.CalleeEarlyMedia = true
	acts = c.Handle(alert)
	var sent *Action
	for i := range acts {
		if acts[i].Kind == ActSendEarly183 {
			sent = &acts[i]
		}
	}
	if got := render(acts); sent == nil || !sent.NoRingback || !strings.Contains(got, "count ringback-yielded") {
		t.Fatalf("180 with early media: %s; want the 183 without ringback, counted", got)
	}
	c.Handle(prack)
	c.Handle(Event{Kind: EvRingback, Lines: 0, Started: true})
	if c.Ringing() {
		t.Fatal("ringing although the callee's network plays its own early media")
	}
	c = run(t, "forwarding")
	for _, a := range c.Handle(res(180)) {
		if a.Kind == ActSendEarly183 && a.NoRingback {
			t.Fatal("a 180 without early media dropped the ringback")
		}
	}
}

// TestPushStates proves the push half of claims 1 and 4 as the MSRP plane reports it: each card's
// session offered (the INVITE's part, the UPDATE), a terminal bound to it (even before the 200
// (UPDATE)), the page delivered; the answer's close leaves a delivered page delivered. And after a
// CANCEL: the caller card's session closed, a binding that raced the close refused, its abort
// reported as the one result.
func TestPushStates(t *testing.T) {
	type step struct {
		ev             Event
		caller, callee PushState
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"both cards", []step{
			{fwd, PushOffered, PushNone},
			{callerBound, PushBound, PushNone},
			{res(180), PushBound, PushNone},
			{prack, PushBound, PushNone},
			{updSent, PushBound, PushOffered},
			{calleeBound, PushBound, PushBound},
			{upd200, PushBound, PushBound},
			{calleeGot, PushBound, PushDelivered},
			{callerGot, PushDelivered, PushDelivered},
			{res(200), PushDelivered, PushDelivered},
		}},
		{"cancelled", []step{
			{fwd, PushOffered, PushNone},
			{cancel, PushClosed, PushNone},
			{callerBound, PushClosed, PushNone},
			{Event{Kind: EvPushDone, Card: CallerCardPush}, PushFailed, PushNone},
		}},
	} {
		c := New(cfgFull)
		for i, st := range tc.steps {
			c.Handle(st.ev)
			if got := [2]PushState{c.Push(CallerCardPush), c.Push(CalleeCardPush)}; got != [2]PushState{st.caller, st.callee} {
				t.Fatalf("%s, step %d (%s): caller %s callee %s, want %s %s", tc.name, i, st.ev.Kind, got[0], got[1], st.caller, st.callee)
			}
		}
	}
}
