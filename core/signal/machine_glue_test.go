package signal

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/callsip"
)

// TestClaim1MachineRunsTheCall proves that core/signal only translates: a whole claim 1 call over
// real sockets (alice's caller card in the INVITE, bob's callee card in the UPDATE on Herald's own
// early dialog, both pages fetched) is run by the call's state machine, whose trail is the claim's
// sequence: forwarding, then answered; Herald's early dialog prov-sent (reliable 183), early
// (PRACK), update-sent, pushing (200 to the UPDATE), then terminated with the answer; each
// terminal's MSRP binding to its page's session one of the machine's events; and no push session
// left open by it.
func TestClaim1MachineRunsTheCall(t *testing.T) {
	leakCheck(t)
	var mu sync.Mutex
	var ended []*callsip.Call
	f := func(c *callsip.Call) {
		mu.Lock()
		ended = append(ended, c)
		mu.Unlock()
	}

	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 400 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	h.sig.calls.Faults.End.Store(&f)
	caller := newCaller(t, uesim.CallerOptions{})
	res := h.mustCall(t, caller, alice, bob)
	if string(res.Pages[uesim.CalleeCard]) != string(pages["bob-callee.html"].Body) {
		t.Fatalf("callee card at the caller: %d bytes, %v", len(res.Pages[uesim.CalleeCard]), res.PageErrors)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(ended)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call's controller did not end within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	c := ended[0]
	mu.Unlock()
	if c.CallID() != res.CallID {
		t.Fatalf("ended call %q, want %q", c.CallID(), res.CallID)
	}
	m := c.Machine()
	var phases, early []string
	for _, p := range m.Phases() {
		phases = append(phases, p.String())
	}
	for _, s := range m.EarlyTrail() {
		early = append(early, s.String())
	}
	if got := strings.Join(phases, " "); got != "forwarding answered" {
		t.Errorf("phases %q, want forwarding answered", got)
	}
	// The callee card's delivery may be reported before or after the answer: pushed is optional.
	got := strings.Replace(strings.Join(early, " "), " pushed", "", 1)
	if !strings.HasPrefix(got, "prov-sent early update-sent pushing terminated") {
		t.Errorf("early dialog %q, want prov-sent early update-sent pushing [pushed] terminated", strings.Join(early, " "))
	}
	// Each terminal's MSRP binding reached the machine as an event (EvPushBound) while the phones
	// rang (400 ms): the pages then went; their delivery may be reported after the answer.
	for _, card := range []call.Card{call.CallerCardPush, call.CalleeCardPush} {
		if st := m.Push(card); st != call.PushBound && st != call.PushDelivered {
			t.Errorf("%s push %s at the end, want bound or delivered", card, st)
		}
	}
	if m.Open(call.CallerCardPush) || m.Open(call.CalleeCardPush) || !m.Done() {
		t.Errorf("after the call: caller card open %t, callee card open %t, done %t",
			m.Open(call.CallerCardPush), m.Open(call.CalleeCardPush), m.Done())
	}
}
