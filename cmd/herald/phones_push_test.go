package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
)

// pushSeed writes a seed for a call between a push-capable simulated terminal (push_capable: true)
// and an ordinary phone: the caller with a caller card, the callee with a callee card and a ringback.
func pushSeed(t *testing.T, callerAOR, calleeAOR string, callerCapable bool) string {
	t.Helper()
	dir := phoneSeed(t, phoneCase{caller: &phone{}, callee: &phone{}}) // the pages
	capable := "\n  push_capable: true"
	callerExtra, calleeExtra := "", ""
	if callerCapable {
		callerExtra = capable
	} else {
		calleeExtra = capable
	}
	y := fmt.Sprintf("- identities: [%q]\n  caller_card: alice-card.html%s\n- identities: [%q]\n  callee_card: bob-callee.html\n  ringback: ringback%s\n",
		callerAOR, callerExtra, calleeAOR, calleeExtra)
	if err := os.WriteFile(filepath.Join(dir, "profiles.yaml"), []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// seedPage returns the caller card (callerCard) or callee card of aor in the seed directory.
func seedPage(t *testing.T, seed, aor string, callerCard bool) *content.Page {
	t.Helper()
	store, err := profile.LoadSeed(os.DirFS(seed))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := profile.LookupURI(store, aor)
	if !ok {
		t.Fatalf("no profile for %s", aor)
	}
	if callerCard {
		return p.CallerCard
	}
	return p.CalleeCard
}

// phoneLegChecks checks everything the phone sent and received in the call: no error response, no
// early-session part or m=message at the phone, a BYE answered 200 and not retransmitted.
// The phone as callee must answer 200 with SDP audio; a BYE from the phone is a failure unless it
// is the one hanging up (hangsUp).
func phoneLegChecks(capt *phoneCapture, from int, callID string, ph *phone, hangsUp bool, fail func(string, ...any)) {
	byeOK := false
	for _, p := range capt.since(from) {
		if p.callID != callID || !p.sip() || (p.src != ph.port && p.dst != ph.port) {
			continue
		}
		switch {
		case p.src == ph.port && p.method == "BYE" && !hangsUp:
			fail("%s hung up the call itself: %s", ph, p)
		case p.src == ph.port && p.cseq == "INVITE" && p.status == 200 && audioPort(p) == 0:
			fail("%s answered without SDP audio: %s", ph, p)
		case p.status >= 300:
			fail("error response %s", p)
		case p.dst == ph.port && earlySession(p):
			fail("early-session part or m=message reached %s: %s", ph, p)
		case p.method == "BYE" && p.resend:
			fail("BYE retransmitted: %s", p)
		case p.cseq == "BYE" && p.status == 200:
			byeOK = true
		}
	}
	if !byeOK {
		fail("no 200 for the BYE on %s's leg", ph)
	}
}

// runPushCalleePhone: a push-capable simulated terminal calls an ordinary phone, both with cards. In
// one call each card takes the route its recipient allows: the callee card reaches the terminal over
// MSRP (UPDATE on Herald's early dialog, claims 1/4), the caller card reaches the phone only as the
// Call-Info URL of a plain INVITE (claim 1/3's fallback).
func runPushCalleePhone(ctx context.Context, t *testing.T, lab *phoneLab, callee *phone, uePort int) (r phoneResult) {
	r = phoneResult{name: "pushterminal_calls_" + callee.kind + "/caller_card/callee_card", path: "general", callerLink: "none", calleeLink: "none", rtpUp: -1}
	fail := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		r.failures = append(r.failures, msg)
		t.Error(msg)
	}
	capt := lab.capture
	ueAOR := "sip:alice@" + uriHost(lab.host)
	seed := pushSeed(t, ueAOR, callee.aor(), true)
	in := startPhoneHerald(ctx, t, lab, callee, seed)
	lab.pushCalls++
	hport := in.sip.Port()
	from := capt.mark(ctx, t, "push-caller")
	defer func() {
		callee.hangup(t)
		if len(r.failures) > 0 {
			t.Logf("%s log:\n%s", callee, callee.tail(40))
		}
	}()
	ue, err := uesim.NewCaller(uesim.CallerOptions{Listen: net.JoinHostPort(lab.host, strconv.Itoa(uePort)), HoldTime: time.Second,
		RTPPort: phonesRTPBase + 390})
	if err != nil {
		t.Fatal(err)
	}
	defer ue.Close()
	type callOut struct {
		res *uesim.CallResult
		err error
	}
	done := make(chan callOut, 1)
	go func() {
		res, err := ue.Call(ctx, in.sipAddr(), ueAOR, sipURI(callee.user, lab.host, hport))
		done <- callOut{res, err}
	}()
	inv, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool { return p.dst == callee.port && p.method == "INVITE" }, nil)
	if err != nil {
		fail("INVITE did not reach %s: %v", callee, err)
		<-done
		return r
	}
	if earlySession(inv) || !strings.HasPrefix(strings.ToLower(inv.ctype), "application/sdp") {
		fail("INVITE at %s carries %s %v, want application/sdp without m=message", callee, inv.ctype, inv.media)
	}
	if r.calleeLink = fetchCard(inv.callInfo, seedPage(t, seed, ueAOR, true)); r.calleeLink != "ok" {
		fail("caller card at %s: %s", callee, r.calleeLink)
	}
	// The callee card goes to the terminal over MSRP while the phone rings; answer once delivered.
	deadline := time.Now().Add(10 * time.Second)
	for in.msrp.Stats().DeliveriesOK < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	callee.answer(t)
	out := <-done
	if out.err != nil {
		fail("push terminal's call: %v", out.err)
		return r
	}
	res := out.res
	if res.Final != 200 {
		fail("push terminal's call ended %d %s", res.Final, res.Reason)
	}
	if err := res.PageErrors[uesim.CalleeCard]; err != nil || !bytes.Equal(res.Pages[uesim.CalleeCard], seedPage(t, seed, callee.aor(), false).Body) {
		r.callerLink = fmt.Sprintf("msrp: %v", err)
		fail("callee card at the push terminal over MSRP: %v, %d bytes", err, len(res.Pages[uesim.CalleeCard]))
	} else {
		r.callerLink = "ok (msrp)"
	}
	// The capture lags the terminal's view: wait for the phone's 200 to the BYE there.
	if _, _, err := capt.wait(ctx, from, 5*time.Second, func(p capPkt) bool {
		return p.callID == inv.callID && p.src == callee.port && p.cseq == "BYE" && p.status == 200
	}, nil); err != nil {
		fail("%s did not answer the BYE: %v", callee, err)
	}
	phoneLegChecks(capt, from, inv.callID, callee, false, fail)
	r.completed = len(r.failures) == 0
	return r
}

// runPhoneCallsPush: an ordinary phone calls a push-capable simulated terminal, both with cards: the
// caller card reaches the terminal over MSRP (early-session part, claim 1/3), the callee card reaches
// the phone only as the Call-Info URL of a provisional (claims 5/7's fallback).
func runPhoneCallsPush(ctx context.Context, t *testing.T, lab *phoneLab, caller *phone, uePort int) (r phoneResult) {
	r = phoneResult{name: caller.kind + "_calls_pushterminal/caller_card/callee_card", path: "general", callerLink: "none", calleeLink: "none", rtpUp: -1}
	fail := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		r.failures = append(r.failures, msg)
		t.Error(msg)
	}
	capt := lab.capture
	ueAOR := "sip:frank@" + uriHost(lab.host)
	seed := pushSeed(t, caller.aor(), ueAOR, false)
	ue, err := uesim.NewCallee(uesim.CalleeOptions{Listen: net.JoinHostPort(lab.host, strconv.Itoa(uePort)), RingTime: 4 * time.Second, // the test fetches the Call-Info URL when its capture shows the 183; the answer revokes it
		RTPPort: phonesRTPBase + 392})
	if err != nil {
		t.Fatal(err)
	}
	defer ue.Close()
	in := startPhoneHerald(ctx, t, lab, &phone{host: lab.host, port: uePort}, seed)
	lab.pushCalls++
	hport := in.sip.Port()
	from := capt.mark(ctx, t, "push-callee")
	defer func() {
		caller.hangup(t)
		if len(r.failures) > 0 {
			t.Logf("%s log:\n%s", caller, caller.tail(40))
		}
	}()
	caller.dial(t, sipURI("frank", lab.host, hport))
	inv0, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool {
		return p.src == caller.port && p.dst == hport && p.method == "INVITE"
	}, nil)
	if err != nil {
		fail("%s sent no INVITE: %v", caller, err)
		return r
	}
	callID := inv0.callID
	mine := func(p capPkt) bool { return p.callID == callID }
	broken := func(p capPkt) bool { return mine(p) && p.dst == caller.port && p.cseq == "INVITE" && p.status >= 300 }
	p, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool {
		return mine(p) && p.dst == caller.port && p.status > 100 && p.status < 200 && p.callInfo != ""
	}, broken)
	if err != nil {
		r.callerLink = "no Call-Info on a provisional"
		fail("callee card at %s: %v", caller, err)
	} else if r.callerLink = fetchCard(p.callInfo, seedPage(t, seed, ueAOR, false)); r.callerLink != "ok" {
		fail("callee card at %s: %s", caller, r.callerLink)
	}
	if _, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool {
		return mine(p) && p.dst == caller.port && p.cseq == "INVITE" && p.status == 200
	}, broken); err != nil {
		fail("the terminal's 200 did not reach %s: %v", caller, err)
		return r
	}
	if _, _, err := capt.wait(ctx, from, 5*time.Second, func(p capPkt) bool {
		return mine(p) && p.src == caller.port && p.method == "ACK"
	}, nil); err != nil {
		fail("%s sent no ACK: %v", caller, err)
	}
	caller.hangup(t)
	if _, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool {
		return mine(p) && p.dst == caller.port && p.cseq == "BYE" && p.status == 200
	}, nil); err != nil {
		fail("200 for the BYE did not reach %s: %v", caller, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cc, err := ue.WaitCall(wctx, callID)
	if err != nil || cc.Err != nil || !cc.Acked || !cc.Bye {
		fail("the terminal's side: %v %v acked %t bye %t", err, cc.Err, cc.Acked, cc.Bye)
	}
	if !cc.EarlyOffered || cc.PageErr != nil || !bytes.Equal(cc.Page, seedPage(t, seed, caller.aor(), true).Body) {
		r.calleeLink = fmt.Sprintf("msrp: offered %t, %v", cc.EarlyOffered, cc.PageErr)
		fail("caller card at the push terminal over MSRP: offered %t, %v, %d bytes", cc.EarlyOffered, cc.PageErr, len(cc.Page))
	} else {
		r.calleeLink = "ok (msrp)"
	}
	phoneLegChecks(capt, from, callID, caller, true, fail)
	r.completed = len(r.failures) == 0
	return r
}
