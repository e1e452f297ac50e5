package callsip

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/push"
)

// inboxCall is a controller with only its inbox, notes and timers: enough for what reaches it, not
// for acting on it.
func inboxCall(t *testing.T) *Call {
	t.Helper()
	c := &Call{events: make(chan any, inboxSize), notes: make(chan pushNote, notesSize)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	t.Cleanup(func() {
		c.cancel()
		for _, tm := range c.timers {
			if tm != nil {
				tm.Stop()
			}
		}
	})
	return c
}

// fires collects the timer fires posted to c's inbox within d.
func fires(c *Call, d time.Duration) []timerFired {
	var got []timerFired
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.events:
			if f, ok := ev.(timerFired); ok {
				got = append(got, f)
			}
		case <-deadline:
			return got
		}
	}
}

// TestArmDropsEarlierFires: the machine's timers reach the one inbox (no channel per timer in the
// controller's select), and arming a timer again (RFC 3261 §16.7 step 2: a provisional restarts
// Timer C) or stopping it (the reliable 183 answered by PRACK, RFC 3262 §3) makes a fire of the
// earlier run stale even when it was already on its way: exactly one current fire per run.
func TestArmDropsEarlierFires(t *testing.T) {
	c := inboxCall(t)
	c.arm(call.TimerC, time.Millisecond)
	var first timerFired
	select {
	case ev := <-c.events: // the first run fired and posted; the controller has not taken it yet
		first = ev.(timerFired)
	case <-time.After(5 * time.Second):
		t.Fatal("Timer C did not fire")
	}
	if c.stale(first) {
		t.Fatal("the fire of the running Timer C is stale")
	}
	c.arm(call.TimerC, 30*time.Millisecond)
	if !c.stale(first) {
		t.Fatal("a fire of Timer C's earlier run is current after it was armed again")
	}
	c.arm(call.TimerCancelWait, time.Millisecond)
	c.disarm(call.TimerCancelWait) // may have fired already: then its fire is stale
	got := fires(c, time.Second)
	var current []timerFired
	for _, f := range got {
		if !c.stale(f) {
			current = append(current, f)
		}
	}
	if len(current) != 1 || current[0].t != call.TimerC {
		t.Fatalf("fires %v, current %v: want exactly the second Timer C current", got, current)
	}
	if !c.stale(timerFired{t: call.Timer(200), gen: 1}) {
		t.Fatal("a timer the controller does not run is not stale")
	}
}

// TestInboxDropsStale: a response or end of a client transaction the call no longer listens to (the
// INVITE resent without the early-session part, or the transaction detached), and a push note of a
// session that is not (or no longer) its card's, are dropped; the current ones are not.
func TestInboxDropsStale(t *testing.T) {
	c := inboxCall(t)
	oldTx, curTx := &sip.ClientTx{}, &sip.ClientTx{}
	c.clTx = curTx
	res := &sip.Response{}
	for _, tc := range []struct {
		ev    any
		stale bool
	}{
		{&txResponse{oldTx, res}, true},
		{&txDone{oldTx}, true},
		{&txResponse{curTx, res}, false},
		{&txDone{curTx}, false},
		{cancelled{}, false},
		{drainAbort{}, false},
	} {
		if got := c.stale(tc.ev); got != tc.stale {
			t.Errorf("stale(%T) = %t, want %t", tc.ev, got, tc.stale)
		}
	}
	c.clTx = nil // ActDetach
	if !c.stale(&txResponse{curTx, res}) || !c.stale(&txDone{curTx}) {
		t.Error("a detached transaction's response or end is not stale")
	}

	ps := &push.Session{Role: push.CallerCard}
	other := &push.Session{Role: push.CallerCard}
	if !c.stale(pushNote{ps: ps, bound: true}) {
		t.Error("a note of a session that never opened is not stale")
	}
	c.pushes[call.CallerCardPush] = ps
	if c.stale(pushNote{ps: ps, bound: true}) || !c.stale(pushNote{ps: other}) {
		t.Error("the card's session's note is stale, or another session's is not")
	}
}

// TestWatchNotesInOrder: the plane's hook (push.Session.Notify) queues a session's binding and then
// its result on the controller's notes without blocking, and once the notes are full a note still
// arrives (off the plane's goroutine) instead of being lost.
func TestWatchNotesInOrder(t *testing.T) {
	c := inboxCall(t)
	ps := &push.Session{Role: push.CalleeCard, Notify: c.notifier()}
	if other := c.notifier(); fmt.Sprintf("%p", other) != fmt.Sprintf("%p", ps.Notify) {
		t.Fatal("a second push session of the call got a hook of its own")
	}
	ps.NotifyBound()
	if !ps.Report(push.Result{Outcome: push.Delivered, Bytes: 7}) {
		t.Fatal("Report with Notify set said the result was not taken")
	}
	if n := <-c.notes; !n.bound || n.ps != ps {
		t.Fatalf("first note %+v, want the binding", n)
	}
	if n := <-c.notes; n.bound || n.r.Outcome != push.Delivered || n.r.Bytes != 7 {
		t.Fatalf("second note %+v, want the result", n)
	}
	for range notesSize + 2 {
		ps.Report(push.Result{Outcome: push.Aborted})
	}
	got := 0
	for got < notesSize+2 {
		select {
		case <-c.notes:
			got++
		case <-time.After(2 * time.Second):
			t.Fatalf("%d of %d notes arrived: one was lost once the notes were full", got, notesSize+2)
		}
	}
}
