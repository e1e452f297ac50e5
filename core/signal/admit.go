package signal

import (
	"sync"

	"github.com/herald-ims/herald/core/callsip"
	"github.com/herald-ims/herald/core/sipfast"
)

// admission is the one owner of the calls in progress, whichever path carries them: Call-ID → the
// general path's controller or the fast path's INVITE transaction, Call-ID uniqueness (a second
// INVITE with a Call-ID in progress is a loop or a spiral: 482, RFC 3261 §16.3 step 4, §8.2.2.2)
// and the limit (limits.max_calls: 503). Both paths ask it; neither reads the other's tables. Its
// lock is a leaf: the fast path's engine calls it (through fastHost) under its lock, nothing calls the fast path under it.
type admission struct {
	mu    sync.Mutex
	calls map[string]admitted
}

// admitted is one call in progress: exactly one of ctl and fast is set.
type admitted struct {
	ctl  *callsip.Call // the general path's controller
	fast *sipfast.Tx   // the fast path's INVITE transaction
}

// admitResult is admission's answer to a new INVITE.
type admitResult uint8

const (
	admitOK   admitResult = iota
	admitLoop             // the Call-ID is in progress on either path: 482
	admitFull             // max calls in progress: 503
)

func newAdmission() *admission { return &admission{calls: map[string]admitted{}} }

// admit records the call callID for its path, unless that Call-ID is in progress or max calls are.
func (a *admission) admit(callID string, e admitted, max int) admitResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.calls[callID]; dup {
		return admitLoop
	}
	if len(a.calls) >= max {
		return admitFull
	}
	a.calls[callID] = e
	return admitOK
}

// release ends the call callID if e still holds it.
func (a *admission) release(callID string, e admitted) {
	a.mu.Lock()
	if a.calls[callID] == e {
		delete(a.calls, callID)
	}
	a.mu.Unlock()
}

// lookup is the call callID in progress, the zero admitted when there is none.
func (a *admission) lookup(callID string) admitted {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[callID]
}

// len is the calls in progress on both paths.
func (a *admission) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

// each calls fn for every call in progress, under the lock (fn must not call admission).
func (a *admission) each(fn func(e admitted)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.calls {
		fn(e)
	}
}
