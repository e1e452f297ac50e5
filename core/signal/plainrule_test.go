package signal

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/sipfast"
)

// TestPlainRuleOneOwner proves that the fast path's "is this call plain" is call.Decide's plan
// (Plan.Plain), the rule the general path executes, for every combination of caller card, callee
// card, ringback and 100rel (in Supported, in Require, compact k, absent). The case the two used to
// disagree on: a callee with a ringback and a caller without 100rel is plain (Decide drops the
// ringback, RFC 3262 being needed for Herald's early dialog).
func TestPlainRuleOneOwner(t *testing.T) {
	st, pages := testStore(t)
	ringer, _ := profile.Canonical("sip:ringer@home1.net")
	st.Put(&profile.Profile{Key: ringer, Ringback: "ringback"})
	cardee, _ := profile.Canonical("sip:cardee@home1.net")
	st.Put(&profile.Profile{Key: cardee, CalleeCard: pages["carol-callee.html"]})
	plainTel, _ := profile.Canonical("tel:+1-212-555-4444") // a profile without cards, reached at a tel: URI
	st.Put(&profile.Profile{Key: plainTel})
	s := &Server{deps: Deps{Profiles: st}}
	h := &fastHost{s}
	for _, from := range []string{alice, dave, erin} { // caller card, none, no profile
		// callee card, none, none, ringback; then tel: Request-URIs (RFC 3966): callee cards (carol),
		// none (a profile, local number with its context; no profile)
		for _, to := range []string{"sip:cardee@home1.net", dave, erin, "sip:ringer@home1.net",
			carol, "tel:+1-212-555-4444", "tel:555-4444;phone-context=+1-212", "tel:+12125559999"} {
			for _, rel := range []string{"", "Supported: timer, 100rel\r\n", "Require: 100REL\r\n", "k: 100rel\r\n", "Supported: 100relx\r\n"} {
				msg := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKpr\r\nMax-Forwards: 70\r\n"+
					"From: <%s>;tag=a\r\nTo: <%s>\r\nCall-ID: pr@x\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n", to, from, to, rel)
				got, ok := sipfast.Plain(h, []byte(msg))
				if !ok {
					t.Fatalf("scanner refused:\n%s", msg)
				}
				caps := call.Caps{Reliable1xx: rel != "" && rel != "Supported: 100relx\r\n"}
				want := call.Decide(s.lookUp(from).plainParty(), s.lookUp(to).plainParty(), caps, false).Plain()
				if got != want {
					t.Errorf("from %s to %s %q: fast path plain %t, Decide's plan plain %t", from, to, rel, got, want)
				}
				// The expected answers, stated independently of Decide.
				expect := from != alice && (to == dave || to == erin || to == "sip:ringer@home1.net" && !caps.Reliable1xx ||
					strings.HasPrefix(to, "tel:") && to != carol)
				if want != expect {
					t.Errorf("from %s to %s %q: plain %t, want %t", from, to, rel, want, expect)
				}
			}
		}
	}
}

// TestPlainTelCallTakesFastPath: over real sockets, a call without cards to a tel: Request-URI
// (RFC 3966; what an IMS core often reaches the served user at, 3GPP TS 24.229 §5.4.3.3) is
// forwarded by the fast path to the configured next hop with its Request-URI as it came, and a call
// to a tel: URI with a callee card (carol) is handed to the general path, which adds the card.
func TestPlainTelCallTakesFastPath(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, "tel:+1-212-555-9999")
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	if fwd.start != "INVITE tel:+1-212-555-9999 SIP/2.0" {
		t.Fatalf("forwarded as %q", fwd.start)
	}
	top := fwd.all("Via")[0]
	if _, br, _ := strings.Cut(top, ";branch="); !fpBranchRE.MatchString(strings.SplitN(br, ";", 2)[0]) {
		t.Fatalf("forwarded with Via %q: not the fast path's branch", top)
	}
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1)
	callee.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", "tb", false, "", ""))
	if m := fpFinal(t, "486", caller); m.start != "SIP/2.0 486 Busy Here" {
		t.Fatalf("caller got %s, want the 486", m.start)
	}

	if ack := parseFP(t, "ACK", callee.next(t, "ACK of the 486").data); !strings.HasPrefix(ack.start, "ACK tel:+1-212-555-9999 ") {
		t.Fatalf("callee got %q, want the 486's ACK (RFC 3261 §17.1.1.3)", ack.start)
	}

	c = newFPCall(caller, erin, carol) // a callee card: the general path's call
	caller.send(t, r.addr, c.invite())
	fwd = parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE with the card").data)
	if fwd.start != "INVITE "+carol+" SIP/2.0" {
		t.Fatalf("forwarded as %q", fwd.start)
	}
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1) // still the first call's
	callee.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", "tc", false, "", ""))
	if m := fpFinal(t, "486", caller); m.start != "SIP/2.0 486 Busy Here" {
		t.Fatalf("caller got %s, want the 486", m.start)
	}
	r.quiet(t)
}

// TestPlainRingbackWithout100relTakesFastPath: over real sockets, the call the two rules disagreed
// on (a callee with a ringback, a caller without 100rel) is forwarded by the fast path (its branch,
// Fast.Calls), not handed to the general path to be forwarded plainly there.
func TestPlainRingbackWithout100relTakesFastPath(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	ringer, _ := profile.Canonical("sip:ringer@home1.net")
	st.Put(&profile.Profile{Key: ringer, Ringback: "ringback"})
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, "sip:ringer@home1.net") // Supported: timer, no 100rel
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	top := fwd.all("Via")[0]
	if _, br, _ := strings.Cut(top, ";branch="); !fpBranchRE.MatchString(strings.SplitN(br, ";", 2)[0]) {
		t.Fatalf("forwarded with Via %q: not the fast path's branch", top)
	}
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1)
	fpStat(t, "Fast.Fallbacks", &r.sig.Stats.Fast.Fallbacks, 0)
	callee.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", "rb", false, "", ""))
	if m := fpFinal(t, "486", caller); m.start != "SIP/2.0 486 Busy Here" {
		t.Fatalf("caller got %s, want the 486", m.start)
	}
	r.quiet(t)
}

// TestAliasRouteISC: the INVITE an S-CSCF sends an application server on ISC (3GPP TS 24.229
// §5.4.3.3) routes through the AS's URI from the initial filter criteria, then back to the
// S-CSCF: Route: <sip:as.ims.example;lr>, <sip:scscf;lr;odi=...>. With that name among
// Options.Aliases, Herald takes the first Route as its own on both paths (RFC 3261 §16.4), pops
// it, and forwards along the second: a plain call on the fast path, a call with a card on the
// general path; neither goes to the configured next hop.
func TestAliasRouteISC(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, scscf, other := newFPPeer(t), newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, other.addr(), func(o *Options) { o.Aliases = []string{"AS.ims.example"} })
	back := "<sip:" + scscf.addr() + ";lr;odi=a1b2>"
	for i, tc := range []struct {
		to   string
		fast uint64 // Fast.Calls after the call
	}{{dave, 1}, {carol, 1}} {
		c := newFPCall(caller, erin, tc.to)
		c.routes = []string{"<sip:as.ims.example;lr>", back}
		caller.send(t, r.addr, c.invite())
		fwd := parseFP(t, "forwarded INVITE", scscf.nextNot100(t, "INVITE back to the S-CSCF").data)
		if got := fwd.all("Route"); len(got) != 1 || got[0] != back {
			t.Fatalf("call %d: forwarded with Route %q, want only %q", i, got, back)
		}
		fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, tc.fast)
		scscf.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", fmt.Sprintf("isc%d", i), false, "", ""))
		if m := fpFinal(t, "486", caller); m.start != "SIP/2.0 486 Busy Here" {
			t.Fatalf("call %d: caller got %s, want the 486", i, m.start)
		}
		if ack := parseFP(t, "ACK", scscf.nextNot100(t, "ACK of the 486").data); !strings.HasPrefix(ack.start, "ACK ") {
			t.Fatalf("call %d: S-CSCF got %q, want the 486's ACK", i, ack.start)
		}
	}
	if n := other.silent(t, "the configured next hop", 50*time.Millisecond); n != 0 {
		t.Fatalf("the next hop got %d datagrams", n)
	}
	r.quiet(t)
}
