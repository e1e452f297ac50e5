package callsip

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/push"
)

// TestScanInviteAllocs: the INVITE's capabilities and identity are read without an allocation
// (the values went into a slice per header name before).
func TestScanInviteAllocs(t *testing.T) {
	req := newRigMessages(t).invite
	req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:alice@home1.net>, <tel:+12125551111>"))
	caps, pai := scanInvite(req)
	if !caps.Reliable1xx || !caps.EarlySession || !caps.EarlyDialogTerminated || !caps.Update || caps.RequireReliable ||
		identityOf(pai, req) != "<sip:alice@home1.net>" {
		t.Fatalf("caps %+v, identity %q", caps, identityOf(pai, req))
	}
	if !supports(req, "early-session") || supports(req, "timer") {
		t.Fatal("Supported read wrong")
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, func() { caps, pai = scanInvite(req) }); n != 0 {
		t.Errorf("scanInvite: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = supports(req, "early-session") }); n != 0 {
		t.Errorf("supports: %v allocations, want 0", n)
	}
}

// TestNotesNoTraceAllocs: with tracing off, the plane's binding and result of a session reach the
// machine without an allocation (the trace's arguments were boxed all the same before), and so
// does the PRACK.
func TestNotesNoTraceAllocs(t *testing.T) {
	c := inboxCall(t)
	c.env = testEnv(fakePlane{})
	c.m = &c.machine
	ps := &push.Session{ID: "kX9r3Qz7Lp2Vw8Yt5Nc1", Role: push.CallerCard}
	ans := rigAnswer(make(chan int, 1))
	pr := &prackEvent{rack: "776656 1 INVITE", ans: ans}
	note := func() {
		c.machine.Init(call.Config{Plan: call.Plan{CallerMode: call.CallerCardEarlySession}})
		c.handle(call.Event{Kind: call.EvForwarded, Sent: true})
		c.pushes[call.CallerCardPush] = ps
		c.onNote(pushNote{ps: ps, bound: true})
		c.onNote(pushNote{ps: ps, r: push.Result{Outcome: push.Failed, Bytes: 4096}})
		c.onPrack(pr)
		if code := <-ans; code != 481 {
			t.Fatalf("PRACK without a reliable 183 answered %d, want 481", code)
		}
	}
	note()
	if c.m.Push(call.CallerCardPush) != call.PushFailed || c.env.Stats.PushFailed.Load() != 1 {
		t.Fatalf("caller card %v, failed %d", c.m.Push(call.CallerCardPush), c.env.Stats.PushFailed.Load())
	}
	if raceEnabled {
		return
	}
	// Two are Timer C's (armed on EvForwarded: its timer and function).
	if n := testing.AllocsPerRun(100, note); n != 2 {
		t.Errorf("notes and PRACK: %v allocations, want 2", n)
	}
}
