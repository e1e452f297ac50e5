package signal

import (
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/profile"
)

// faultyStore fails the way a broken profile backend could: by panicking inside the call controller.
type faultyStore struct{}

func (faultyStore) Lookup(string) (*profile.Profile, bool) { panic("profile store exploded") }

// TestControllerFaultAnswers500 proves Herald's own faults get 500 with Retry-After, never silence
// (issue 4 item 5), and that the call's state is still released.
func TestControllerFaultAnswers500(t *testing.T) {
	leakCheck(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
	h := startHerald(t, faultyStore{}, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{})
	res, _ := h.call(t, caller, alice, bob)
	if res.Final != 500 {
		t.Fatalf("final %d, want 500", res.Final)
	}
	var retryAfter bool
	for _, m := range res.Messages {
		if m.Response != nil && m.Status() == 500 && m.Response.GetHeader("Retry-After") != nil {
			retryAfter = true
		}
	}
	if !retryAfter || h.sig.Stats.Panics.Load() != 1 || len(callee.Calls()) != 0 {
		t.Fatalf("Retry-After %t, panics %d, forwarded %d", retryAfter, h.sig.Stats.Panics.Load(), len(callee.Calls()))
	}
	h.quiet(t)
}
