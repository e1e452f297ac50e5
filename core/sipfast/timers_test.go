package sipfast

import (
	"slices"
	"testing"
	"time"
)

// step is one row of a clocked scenario: first the datagram in (if any) arrives from its peer and
// must get reason want; then the clock is set to at (from the start) and the due timers run. sent
// is exactly what the engine sent for both, in order, as "<peer> <start line>" (a request by its
// method).
type step struct {
	in   func(x *harness) ([]byte, bool) // the datagram, true when it comes from the callee
	want Reason
	at   time.Duration
	sent []string
}

// runSteps runs a scenario on a new harness.
func runSteps(t *testing.T, x *harness, steps []step) {
	t.Helper()
	now := time.Duration(0)
	for i, st := range steps {
		var got []string
		if st.in != nil {
			msg, fromCallee := st.in(x)
			from := x.caller
			if fromCallee {
				from = x.callee
			}
			r, sent := x.in(from, msg)
			if r != st.want {
				t.Fatalf("step %d: reason %v, want %v", i, r, st.want)
			}
			got = append(got, sent...)
		}
		if st.at < now {
			t.Fatalf("step %d: the clock goes back", i)
		}
		now = st.at
		got = append(got, x.at(st.at)...)
		if !slices.Equal(got, st.sent) {
			t.Fatalf("step %d (at %v): sent %q, want %q", i, st.at, got, st.sent)
		}
	}
}

// Datagrams of the scenarios: the caller's, and the callee's answers to what the engine forwarded.
func callerSends(msg []byte) func(*harness) ([]byte, bool) {
	return func(*harness) ([]byte, bool) { return msg, false }
}

// calleeAnswers answers the last request of that method the callee got.
func calleeAnswers(method, status, tag string) func(*harness) ([]byte, bool) {
	return func(x *harness) ([]byte, bool) {
		req := x.last["callee "+method]
		if req == nil {
			x.t.Fatalf("the callee got no %s to answer", method)
		}
		return reply(req, status, tag), true
	}
}

// TestEngineTimers proves the RFC 3261 timers of the engine's transactions on the injected clock,
// one table per scenario, to the instant: what goes out at each step and nothing else (T1 100 ms,
// T2 800 ms).
func TestEngineTimers(t *testing.T) {
	const T1 = testT1
	inv := invite("z9hG4bKc1", "c1@x", "sip:dave@home1.net")
	to := "<sip:dave@home1.net>"
	for _, tc := range []struct {
		name   string
		steps  []step
		txLeft int // transactions held at the end
	}{{
		// §17.1.1.2: Timer A doubles from T1 until Timer B (64·T1) ends the INVITE with 408; the
		// proxy's 100 Trying goes at 200 ms (§16.2); the 408 is retransmitted (Timer G, doubling
		// to T2) until the caller's ACK; Timer H (64·T1 after the 408) forgets it.
		name: "Timer A, 100 Trying, Timer B, G, ACK, H",
		steps: []step{
			{in: callerSends(inv), want: ReasonForwarded, sent: []string{"callee INVITE"}},
			{at: T1, sent: []string{"callee INVITE"}},
			{at: 2*T1 - 1},
			{at: 2 * T1, sent: []string{"caller SIP/2.0 100 Trying"}},
			{at: 3 * T1, sent: []string{"callee INVITE"}},
			{at: 7 * T1, sent: []string{"callee INVITE"}},
			{at: 15 * T1, sent: []string{"callee INVITE"}},
			{at: 31 * T1, sent: []string{"callee INVITE"}},
			{at: 63 * T1, sent: []string{"callee INVITE"}},
			{at: 64 * T1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
			{at: 65 * T1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
			{at: 67 * T1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
			{in: callerSends(request("ACK", "z9hG4bKc1", "c1@x", to+";tag=x", 1)), want: ReasonAbsorbed, at: 72 * T1},
			{at: 127 * T1},
			{at: 128 * T1}, // Timer H: gone
		},
	}, {
		// A provisional stops Timers A and B (§17.1.1.2) and starts Timer C (§16.6 step 11; every
		// provisional restarts it, §16.7 step 2); when it fires: 408 upstream and CANCEL downstream
		// (§16.8), the CANCEL retransmitted until its 200; the callee's 487 is ACKed (§17.1.1.3)
		// and not relayed (the caller has its 408, retransmitted until its ACK).
		name: "180 stops A and B, Timer C, CANCEL, 487",
		steps: []step{
			{in: callerSends(inv), want: ReasonForwarded, sent: []string{"callee INVITE"}},
			{in: calleeAnswers("INVITE", "180 Ringing", "d1"), want: ReasonResponse, at: T1 / 2, sent: []string{"caller SIP/2.0 180 Ringing"}},
			{at: 64 * T1},
			{at: testTimerC - 1},
			{at: testTimerC, sent: []string{"caller SIP/2.0 408 Request Timeout", "callee CANCEL"}},
			{at: testTimerC + T1, sent: []string{"caller SIP/2.0 408 Request Timeout", "callee CANCEL"}},
			{in: calleeAnswers("CANCEL", "200 OK", "d1"), want: ReasonResponse, at: testTimerC + 2*T1},
			{in: calleeAnswers("INVITE", "487 Request Terminated", "d1"), want: ReasonResponse, at: testTimerC + 3*T1,
				sent: []string{"callee ACK", "caller SIP/2.0 408 Request Timeout"}},
			{in: calleeAnswers("INVITE", "487 Request Terminated", "d1"), want: ReasonResponse, at: testTimerC + 4*T1,
				sent: []string{"callee ACK"}}, // a retransmitted final: the ACK again
			{in: callerSends(request("ACK", "z9hG4bKc1", "c1@x", to+";tag=x", 1)), want: ReasonAbsorbed, at: testTimerC + 63*T1},
			{at: testTimerC + 64*T1}, // Timer H
		},
	}, {
		// A 2xx ends the INVITE transaction upstream (RFC 6026: accepted): each 2xx, retransmitted
		// ones too, is relayed; the caller's ACK for it is forwarded statelessly (§16.11), until
		// 64·T1, when the transaction and its dialog are forgotten and a late ACK goes to the
		// general path.
		name: "2xx relayed, ACK forwarded, accepted state ends at 64·T1",
		steps: []step{
			{in: callerSends(inv), want: ReasonForwarded, sent: []string{"callee INVITE"}},
			{in: calleeAnswers("INVITE", "200 OK", "d3"), want: ReasonResponse, at: T1 / 2, sent: []string{"caller SIP/2.0 200 OK"}},
			{in: calleeAnswers("INVITE", "200 OK", "d3"), want: ReasonResponse, at: T1, sent: []string{"caller SIP/2.0 200 OK"}},
			{in: callerSends(request("ACK", "z9hG4bKa3", "c1@x", to+";tag=d3", 1)), want: ReasonForwarded, at: 2 * T1,
				sent: []string{"callee ACK"}},
			{in: callerSends(inv), want: ReasonAbsorbed, at: T1/2 + 64*T1 - 1}, // a late INVITE retransmission: nothing
			{at: T1/2 + 64*T1},
			{in: callerSends(request("ACK", "z9hG4bKa3", "c1@x", to+";tag=d3", 1)), want: ReasonNoTransaction, at: 65 * T1},
		},
	}, {
		// A non-INVITE (here BYE) is retransmitted on Timer E, doubling from T1 to T2 (§17.1.2.2),
		// until Timer F (64·T1) answers it 408; the 408 answers a retransmission (Timer J keeps it
		// 64·T1).
		name: "BYE: Timer E to T2, F, J",
		steps: []step{
			{in: callerSends(request("BYE", "z9hG4bKb4", "b4@x", to+";tag=d", 2)), want: ReasonForwarded, sent: []string{"callee BYE"}},
			{at: T1, sent: []string{"callee BYE"}},
			{at: 3 * T1, sent: []string{"callee BYE"}},
			{at: 7 * T1, sent: []string{"callee BYE"}},
			{at: 15 * T1, sent: []string{"callee BYE"}},
			{at: 23*T1 - 1},
			{at: 23 * T1, sent: []string{"callee BYE"}}, // T2 = 8·T1 from now on
			{at: 31 * T1, sent: []string{"callee BYE"}},
			{at: 39 * T1, sent: []string{"callee BYE"}},
			{at: 47 * T1, sent: []string{"callee BYE"}},
			{at: 55 * T1, sent: []string{"callee BYE"}},
			{at: 63 * T1, sent: []string{"callee BYE"}},
			{at: 64 * T1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
			{in: callerSends(request("BYE", "z9hG4bKb4", "b4@x", to+";tag=d", 2)), want: ReasonAbsorbed, at: 127 * T1,
				sent: []string{"caller SIP/2.0 408 Request Timeout"}},
			{at: 128 * T1}, // Timer J
		},
	}, {
		// What a finished call's transactions keep for 64·T1 (Tx.retain drops the rest): the INVITE
		// answered 2xx relays 2xx retransmissions and absorbs INVITE ones; a late provisional or
		// non-2xx from the callee gets nothing sent anywhere, a CANCEL after the 2xx only its 200;
		// the BYE's 200 answers a BYE retransmission, a retransmitted 200 for the BYE is absorbed
		// (Timer K); Timer L and Timer J forget them.
		name: "retained after the 2xx and the BYE's 200",
		steps: []step{
			{in: callerSends(inv), want: ReasonForwarded, sent: []string{"callee INVITE"}},
			{in: calleeAnswers("INVITE", "200 OK", "d6"), want: ReasonResponse, at: T1 / 2, sent: []string{"caller SIP/2.0 200 OK"}},
			{in: calleeAnswers("INVITE", "180 Ringing", "d6"), want: ReasonResponse, at: T1},
			{in: calleeAnswers("INVITE", "486 Busy Here", "d6"), want: ReasonResponse, at: T1},
			{in: callerSends(request("CANCEL", "z9hG4bKc1", "c1@x", to, 1)), want: ReasonAnswered, at: T1,
				sent: []string{"caller SIP/2.0 200 OK"}},
			{in: calleeAnswers("INVITE", "200 OK", "d6"), want: ReasonResponse, at: 2 * T1, sent: []string{"caller SIP/2.0 200 OK"}},
			{in: callerSends(request("BYE", "z9hG4bKb6", "c1@x", to+";tag=d6", 2)), want: ReasonForwarded, at: 2 * T1,
				sent: []string{"callee BYE"}},
			{in: calleeAnswers("BYE", "200 OK", "d6"), want: ReasonResponse, at: 2*T1 + T1/2, sent: []string{"caller SIP/2.0 200 OK"}},
			{in: calleeAnswers("BYE", "200 OK", "d6"), want: ReasonResponse, at: 5 * T1},
			{in: callerSends(request("BYE", "z9hG4bKb6", "c1@x", to+";tag=d6", 2)), want: ReasonAbsorbed, at: 6 * T1,
				sent: []string{"caller SIP/2.0 200 OK"}},
			{in: callerSends(inv), want: ReasonAbsorbed, at: 7 * T1},
			{at: T1/2 + 64*T1}, // Timer L
			{in: callerSends(request("BYE", "z9hG4bKb6", "c1@x", to+";tag=d6", 2)), want: ReasonAbsorbed, at: 2*T1 + T1/2 + 64*T1 - 1,
				sent: []string{"caller SIP/2.0 200 OK"}},
			{at: 2*T1 + T1/2 + 64*T1}, // Timer J
		},
	}, {
		// A CANCEL before any provisional (§9.1): 200 and 487 to the caller at once, but no CANCEL
		// downstream; the INVITE keeps being retransmitted (Timer A) until a provisional comes, and
		// the CANCEL goes then (retransmitted on its own Timer E); the 487 on Timer G.
		name: "CANCEL before a provisional",
		steps: []step{
			{in: callerSends(inv), want: ReasonForwarded, sent: []string{"callee INVITE"}},
			{in: callerSends(request("CANCEL", "z9hG4bKc1", "c1@x", to, 1)), want: ReasonAnswered,
				sent: []string{"caller SIP/2.0 200 OK", "caller SIP/2.0 487 Request Terminated"}},
			{at: T1, sent: []string{"callee INVITE", "caller SIP/2.0 487 Request Terminated"}},
			{in: calleeAnswers("INVITE", "180 Ringing", "d5"), want: ReasonResponse, at: 2 * T1,
				sent: []string{"callee CANCEL", "callee CANCEL"}},
			{at: 3 * T1, sent: []string{"caller SIP/2.0 487 Request Terminated"}},
			{in: calleeAnswers("CANCEL", "200 OK", "d5"), want: ReasonResponse, at: 4 * T1},
			{in: calleeAnswers("INVITE", "487 Request Terminated", "d5"), want: ReasonResponse, at: 7 * T1,
				sent: []string{"callee ACK", "caller SIP/2.0 487 Request Terminated"}},
			{at: 64*T1 - 1, sent: []string{"caller SIP/2.0 487 Request Terminated"}}, // G: one retransmission per Tick, however far the clock went
			{at: 64 * T1}, // Timer H (64·T1 after the 487)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			x := newHarness(t, nil)
			runSteps(t, x, tc.steps)
			if n := x.e.Transactions(); n != tc.txLeft {
				t.Fatalf("%d transactions left, want %d", n, tc.txLeft)
			}
		})
	}
}
