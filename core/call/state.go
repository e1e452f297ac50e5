package call

import (
	"errors"
	"fmt"
)

// State is where Herald's own early dialog with the caller stands.
type State uint8

// States of Herald's early dialog with the caller (RFC 3262, RFC 3311 as used by TS 24.182 forking model).
const (
	Idle       State = iota // no early dialog of Herald's
	ProvSent                // reliable 183 sent, retransmitting until PRACK
	Early                   // PRACK received: offer/answer done, ringback may play
	UpdateSent              // UPDATE with the callee-card m=message offer in flight
	Pushing                 // 200 (UPDATE) received: the caller may fetch the callee card
	Pushed                  // the callee card was delivered (or failed): nothing left to do early
	Terminated              // the call was answered, rejected or cancelled, or the early dialog died
)

var stateNames = [...]string{"idle", "prov-sent", "early", "update-sent", "pushing", "pushed", "terminated"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// PushState is where one card's push stands: the push session the call opened, the terminal's
// MSRP connection bound to it, and the page's outcome, as the MSRP plane reports them.
type PushState uint8

// Push states.
const (
	PushNone      PushState = iota // no session opened for the card
	PushOffered                    // the session is open and offered (INVITE part, UPDATE); no terminal bound yet
	PushBound                      // a terminal's connection and acquisition request are bound to it: the page is going
	PushClosed                     // the call closed the session before its result came in
	PushDelivered                  // the terminal's success REPORT covered the page
	PushFailed                     // it ended undelivered: failure REPORT or response, timeout, disconnect, abort
)

var pushNames = [...]string{"none", "offered", "bound", "closed", "delivered", "failed"}

func (p PushState) String() string {
	if int(p) < len(pushNames) {
		return pushNames[p]
	}
	return fmt.Sprintf("push(%d)", p)
}

// ErrTransition is returned for a transition the state machine does not allow.
var ErrTransition = errors.New("call: illegal state transition")

var legal = map[State][]State{
	Idle:       {ProvSent, Terminated},
	ProvSent:   {ProvSent, Early, Terminated},
	Early:      {UpdateSent, Pushed, ProvSent, Terminated}, // ProvSent: a follow-up reliable 18x (the Call-Info fallback)
	UpdateSent: {Pushing, Early, Terminated},               // Early again after 491 glare or a failed UPDATE
	Pushing:    {Pushed, Terminated},
	Pushed:     {Terminated},
	Terminated: {Terminated},
}

// Machine tracks the state of one call's early dialog. Not concurrency-safe: only the call's
// controller goroutine touches it.
type Machine struct {
	state State
	trail []State
	buf   [8]State // what trail starts on: a push call's early dialog enters seven (terminated twice)
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Trail returns every state entered so far, in order (for traces and tests).
func (m *Machine) Trail() []State { return m.trail }

// to is To for the call's machine, whose transitions are all legal by construction (the table
// tests check the trail); an illegal one leaves the state as it was.
func (m *Machine) to(next State) { _ = m.To(next) }

// To moves to next, or returns ErrTransition and stays.
func (m *Machine) To(next State) error {
	for _, ok := range legal[m.state] {
		if ok == next {
			m.state = next
			if m.trail == nil {
				m.trail = m.buf[:0]
			}
			m.trail = append(m.trail, next)
			return nil
		}
	}
	return fmt.Errorf("%w: %s -> %s", ErrTransition, m.state, next)
}
