package signal

import (
	"runtime"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/callsip"
)

// TestControllerFreedAfterCall: once a call with both cards has ended, its controller (and with it
// both INVITEs, the machine, the push sessions and SDP) can be collected while sipgo still holds
// the INVITE's server transaction (64·T1 after the 2xx, RFC 6026 Timer L: 32 s here). Before, the
// transaction's OnCancel callback held the controller for those 32 s, so the live heap grew with
// the call rate × 32 s × the whole call.
func TestControllerFreedAfterCall(t *testing.T) {
	leakCheck(t)
	freed := make(chan struct{})
	f := func(c *callsip.Call) {
		runtime.AddCleanup(c, func(ch chan struct{}) { close(ch) }, freed)
	}

	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 200 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	h.sig.calls.Faults.End.Store(&f)
	caller := newCaller(t, uesim.CallerOptions{})
	h.mustCall(t, caller, alice, bob)
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		select {
		case <-freed:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the ended call's controller is still live 5 s after the call (sipgo keeps the INVITE transaction 32 s)")
		}
	}
}
