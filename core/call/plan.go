// Package call is the per-call logic of Herald, independent of sockets: which of the patent's claims a
// call exercises (Plan), what the caller's signalling can carry (Caps), and the state machine that
// runs the call (Call: Events in, Actions out, no I/O; its phases and the states of Herald's own
// early dialog, State). core/signal only translates: SIP, MSRP and RTP into Events, Actions back.
//
// Claim map (CN104468556B; the README's "Wire contract per claim" states each claim):
//
//	claim 1/3: caller card added to the INVITE as an early-session m=message part (a=path, file-selector)
//	claim 1/4: callee card offered to the caller in an UPDATE (the media request message) on Herald's
//	           own early dialog
//	claim 2/6: ringback on that early dialog before the callee card goes out
//	claim 5/7: callee card only
//
// Each push goes only to a terminal known to take it (Decide); the others get the card as a
// Call-Info link, which exercises no claim.
package call

import (
	"strings"

	"github.com/herald-ims/herald/core/content"
)

// Caps is what the caller's INVITE says it supports (RFC 3261 Supported/Require/Allow).
type Caps struct {
	Reliable1xx           bool // "100rel" in Supported or Require (RFC 3262)
	RequireReliable       bool // "100rel" in Require: every provisional but 100 must be reliable (RFC 3262 §3)
	Update                bool // UPDATE in Allow, or Allow absent (RFC 3311 §5.1 says a UA SHOULD list it)
	EarlySession          bool // "early-session" in Supported (RFC 3959)
	EarlyDialogTerminated bool // "199" in Supported (RFC 6228)
	EarlyMedia            bool // P-Early-Media: supported (RFC 5009)
	// MessageFeature: the INVITE's Contact carries the RFC 3840 feature tag for message sessions
	// (sip.message, RFC 4569) and not with the value FALSE. Set by the signalling layer, which
	// reads the Contact; ParseCaps leaves it false.
	MessageFeature bool
}

// SaysPush reports whether the caller's INVITE says its terminal takes pushes in the early dialog:
// the RFC 3959 option tag early-session in Supported, or the sip.message feature tag in Contact.
func (c Caps) SaysPush() bool { return c.EarlySession || c.MessageFeature }

// Terminal is what Herald knows of a party's terminal taking its early-dialog pushes (the INVITE's
// early-session part, the UPDATE offering m=message). Ordinary phones do not: they fail such calls.
type Terminal uint8

// Terminal knowledge.
const (
	TerminalUnknown   Terminal = iota // nothing provisioned or learned
	TerminalCapable                   // provisioned on the profile, or learned from an answer or a fetch
	TerminalIncapable                 // learned from a refusal
)

// CallerCardMode says how the caller card reaches the callee.
type CallerCardMode uint8

// Caller card modes. Every mode but CallerCardNone also puts a Call-Info link in the INVITE.
const (
	CallerCardNone         CallerCardMode = iota
	CallerCardEarlySession                // the callee takes pushes: an early-session part in the INVITE (claims 1/3)
	CallerCardProbe                       // unknown callee, probing on: the part, resent without it when refused
	CallerCardCallInfo                    // unknown or incapable callee: the Call-Info link only
)

var callerModeNames = [...]string{"none", "early-session", "probe", "call-info"}

func (m CallerCardMode) String() string {
	if int(m) < len(callerModeNames) {
		return callerModeNames[m]
	}
	return "mode?"
}

var calleeModeNames = [...]string{"none", "update", "call-info"}

func (m CalleeCardMode) String() string {
	if int(m) < len(calleeModeNames) {
		return calleeModeNames[m]
	}
	return "mode?"
}

// Pushes reports whether the INVITE carries the early-session part.
func (m CallerCardMode) Pushes() bool { return m == CallerCardEarlySession || m == CallerCardProbe }

// ParseCaps reads Caps from the header values of an INVITE. Each argument holds every value of
// that header (comma lists are split here).
func ParseCaps(supported, require, allow []string, pEarlyMedia []string) Caps {
	return Caps{
		Reliable1xx:           HasToken(supported, "100rel") || HasToken(require, "100rel"),
		RequireReliable:       HasToken(require, "100rel"),
		Update:                HasToken(allow, "update") || len(allow) == 0,
		EarlySession:          HasToken(supported, "early-session"),
		EarlyDialogTerminated: HasToken(supported, "199"),
		EarlyMedia:            HasToken(pEarlyMedia, "supported"),
	}
}

// HasToken reports whether tok is one of the comma-separated tokens of vals (the values of one
// header: option tags in Supported and Require, methods in Allow), compared case-insensitively
// (RFC 3261 §7.3.1: a header's values may be folded into one comma-separated list). It allocates
// nothing: it runs for every INVITE.
func HasToken(vals []string, tok string) bool {
	for _, v := range vals {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// CalleeCardMode says how the callee card reaches the caller.
type CalleeCardMode uint8

// Callee card modes.
const (
	CalleeCardNone     CalleeCardMode = iota
	CalleeCardUpdate                  // reliable 183 + PRACK, then UPDATE with m=message (claims 1/4, 5/7)
	CalleeCardCallInfo                // caller lacks 100rel or UPDATE, or is not known to take pushes: Call-Info link on a 183
)

// Plan is what Herald will do for one call.
type Plan struct {
	CallerCard *content.Page // for the callee (claim 1); nil: forward the INVITE body untouched
	CallerMode CallerCardMode
	CalleeCard *content.Page // pushed to the caller (claims 1, 5)
	CalleeMode CalleeCardMode
	Ringback   string // clip to play on Herald's early dialog before the callee card (claims 2, 6)
}

// Claims lists the claims this plan exercises, for logs and traces.
func (p Plan) Claims() []int {
	var c []int
	pushed := p.CallerCard != nil && p.CallerMode.Pushes()
	switch {
	case pushed && p.CalleeMode == CalleeCardUpdate:
		c = append(c, 1, 3, 4)
		if p.Ringback != "" {
			c = append(c, 2)
		}
	case pushed:
		c = append(c, 3) // the caller-card half of claim 1
	case p.CalleeMode == CalleeCardUpdate:
		c = append(c, 5, 7)
		if p.Ringback != "" {
			c = append(c, 6)
		}
	}
	return c
}

// Plain reports whether the plan does nothing but forward the call: no card either way (not even
// as a Call-Info link) and no ringback. core/signal's fast path takes a call only when Decide's plan
// for it is Plain, so the two paths cannot disagree on which calls are plain.
func (p Plan) Plain() bool { return p.CallerCard == nil && p.CalleeCard == nil && p.Ringback == "" }

// OwnEarlyDialog reports whether Herald opens its own early dialog with the caller.
func (p Plan) OwnEarlyDialog() bool { return p.CalleeMode == CalleeCardUpdate || p.Ringback != "" }

// Party is the part of a subscriber profile a plan needs.
type Party struct {
	CallerCard *content.Page
	CalleeCard *content.Page
	Ringback   string
	Terminal   Terminal // whether the party's terminal takes early-dialog pushes
}

// Decide makes the plan for a call from the caller's and callee's profiles and terminal knowledge
// (nil when Herald has neither for the party), what the caller's signalling supports, and whether
// unknown callees are probed.
//
// Herald must never make a call fail that would have worked without it, so the MSRP pushes go only
// to terminals that take them. The caller card goes in an early-session part only to a callee
// known capable (or unknown, when probing); otherwise as a Call-Info link alone. The callee card
// goes in an UPDATE only to a caller with 100rel and UPDATE whose terminal is known capable or whose
// INVITE says it takes pushes (Caps.SaysPush), and not learned incapable; otherwise as Call-Info on
// a provisional.
func Decide(caller, callee *Party, caps Caps, probe bool) Plan {
	var p Plan
	calleeTerm, callerTerm := TerminalUnknown, TerminalUnknown
	if callee != nil {
		calleeTerm = callee.Terminal
	}
	if caller != nil {
		callerTerm = caller.Terminal
		p.CallerCard = caller.CallerCard
	}
	if p.CallerCard != nil {
		switch {
		case calleeTerm == TerminalCapable:
			p.CallerMode = CallerCardEarlySession
		case calleeTerm == TerminalUnknown && probe:
			p.CallerMode = CallerCardProbe
		default:
			p.CallerMode = CallerCardCallInfo
		}
	}
	if callee == nil {
		return p
	}
	takesPush := callerTerm == TerminalCapable || callerTerm == TerminalUnknown && caps.SaysPush()
	reliable := caps.Reliable1xx && caps.Update && takesPush
	if callee.CalleeCard != nil {
		p.CalleeCard = callee.CalleeCard
		if reliable {
			p.CalleeMode = CalleeCardUpdate
		} else {
			p.CalleeMode = CalleeCardCallInfo
		}
	}
	if callee.Ringback != "" && caps.Reliable1xx {
		p.Ringback = callee.Ringback
	}
	return p
}
