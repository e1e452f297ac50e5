package sipfast

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestEngineAsksHost proves what the engine asks of its host and does with the answers, one row per
// question, without sockets: each row sets the fake host up, offers datagrams and checks the
// reason, exactly what went out and the counters.
func TestEngineAsksHost(t *testing.T) {
	inv := invite("z9hG4bKh1", "h1@x", "sip:dave@home1.net")
	to := "<sip:dave@home1.net>"
	expect := func(t *testing.T, what string, r Reason, sent []string, wantR Reason, want ...string) {
		t.Helper()
		if r != wantR || !slices.Equal(sent, want) {
			t.Fatalf("%s: %v %q, want %v %q", what, r, sent, wantR, want)
		}
	}
	header := func(t *testing.T, msg []byte, name string) string {
		t.Helper()
		for _, l := range strings.Split(string(msg), "\r\n") {
			if v, ok := strings.CutPrefix(l, name+": "); ok {
				return v
			}
		}
		t.Fatalf("no %s in\n%s", name, msg)
		return ""
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, x *harness)
	}{
		{"Trusted: an untrusted peer's INVITE goes to the general path (403 there)", func(t *testing.T, x *harness) {
			x.h.untrusted = x.caller.Addr()
			r, sent := x.in(x.caller, inv)
			expect(t, "INVITE", r, sent, ReasonUntrusted)
			if x.st.Fallbacks.Load() != 1 || x.st.Calls.Load() != 0 {
				t.Fatalf("Fallbacks %d, Calls %d", x.st.Fallbacks.Load(), x.st.Calls.Load())
			}
		}},
		{"Plain: a call with a card goes to the general path", func(t *testing.T, x *harness) {
			x.h.cards["sip:dave@home1.net"] = true
			r, sent := x.in(x.caller, inv)
			expect(t, "INVITE", r, sent, ReasonNotPlain)
		}},
		{"General: a Call-ID the general path carries is its (482 there)", func(t *testing.T, x *harness) {
			x.h.general["h1@x"] = true
			r, sent := x.in(x.caller, inv)
			expect(t, "INVITE", r, sent, ReasonAdmission)
		}},
		{"Calls/MaxCalls: the limit counts both paths (503 there)", func(t *testing.T, x *harness) {
			x.h.maxCalls, x.h.general["other@x"] = 1, true
			r, sent := x.in(x.caller, inv)
			expect(t, "INVITE", r, sent, ReasonAdmission)
		}},
		{"Admit and Release: the call holds its Call-ID until its final; a second branch is a loop (482)", func(t *testing.T, x *harness) {
			r, sent := x.in(x.caller, inv)
			expect(t, "INVITE", r, sent, ReasonForwarded, "callee INVITE")
			if x.h.calls["h1@x"] == nil || x.ctr.Active.Load() != 1 || x.e.Calls() != 1 {
				t.Fatalf("admitted %v, Active %d", x.h.calls, x.ctr.Active.Load())
			}
			loop := bytes.Replace(inv, []byte("z9hG4bKh1"), []byte("z9hG4bKh2"), 1)
			r, sent = x.in(x.caller, loop)
			expect(t, "loop", r, sent, ReasonAnswered, "caller SIP/2.0 482 Loop Detected")
			r, sent = x.in(x.caller, request("ACK", "z9hG4bKh2", "h1@x", to+";tag=x", 1))
			expect(t, "ACK of the 482", r, sent, ReasonAbsorbed)
			r, sent = x.in(x.callee, reply(x.last["callee INVITE"], "486 Busy Here", "b"))
			expect(t, "486", r, sent, ReasonResponse, "callee ACK", "caller SIP/2.0 486 Busy Here")
			if len(x.h.calls) != 0 || x.ctr.Active.Load() != 0 || x.ctr.CallsDone.Load() != 1 || x.ctr.Invites.Load() != 2 {
				t.Fatalf("after the final: admitted %v, Active %d, CallsDone %d, Invites %d", x.h.calls,
					x.ctr.Active.Load(), x.ctr.CallsDone.Load(), x.ctr.Invites.Load())
			}
		}},
		{"Draining: 503 with Retry-After, nothing forwarded", func(t *testing.T, x *harness) {
			x.h.draining = true
			r, sent := x.in(x.caller, inv)
			expect(t, "INVITE", r, sent, ReasonAnswered, "caller SIP/2.0 503 Service Unavailable")
			if v := header(t, x.last["caller SIP/2.0"], "Retry-After"); v != DrainRetryAfter || x.ctr.Rejected503.Load() != 1 {
				t.Fatalf("Retry-After %q, Rejected503 %d", v, x.ctr.Rejected503.Load())
			}
		}},
		{"MaxCalls bounds the transactions: MaxTxFactor × MaxCalls, then 503 without state", func(t *testing.T, x *harness) {
			x.h.maxCalls = 1
			for i := range MaxTxFactor {
				r, sent := x.in(x.caller, request("BYE", fmt.Sprintf("z9hG4bKl%d", i), "l@x", to+";tag=d", 2+i))
				expect(t, "BYE", r, sent, ReasonForwarded, "callee BYE")
			}
			r, sent := x.in(x.caller, request("BYE", "z9hG4bKover", "l@x", to+";tag=d", 99))
			expect(t, "BYE over the limit", r, sent, ReasonAnswered, "caller SIP/2.0 503 Service Unavailable")
			r, sent = x.in(x.caller, inv)
			expect(t, "INVITE over the limit", r, sent, ReasonAnswered, "caller SIP/2.0 503 Service Unavailable")
			if x.st.Overload.Load() != 2 || x.e.Transactions() != MaxTxFactor {
				t.Fatalf("Overload %d, %d transactions", x.st.Overload.Load(), x.e.Transactions())
			}
		}},
		{"Self: a Route naming the general path's dialog (;herald=general) leaves the BYE to it", func(t *testing.T, x *harness) {
			bye := request("BYE", "z9hG4bKg1", "g1@x", to+";tag=d", 2, "Route: <sip:127.0.0.1:5060;lr;"+DialogParam+"=general>\r\n")
			r, sent := x.in(x.caller, bye)
			expect(t, "BYE", r, sent, ReasonGeneralCall)
			own := request("BYE", "z9hG4bKg2", "g2@x", to+";tag=d", 2, "Route: <sip:127.0.0.1:5060;lr>\r\n")
			r, sent = x.in(x.caller, own)
			expect(t, "BYE of an engine dialog", r, sent, ReasonForwarded, "callee BYE")
			if bytes.Contains(x.last["callee BYE"], []byte("Route:")) {
				t.Fatalf("Herald's own Route not popped:\n%s", x.last["callee BYE"])
			}
		}},
		{"Reject: a request the scanner refuses is the host's to answer", func(t *testing.T, x *harness) {
			r, sent := x.in(x.caller, []byte("OPTIONS sip:h SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nContent-Length: 0\r\n\r\n"))
			expect(t, "no Via", r, sent, ReasonAnswered, "caller SIP/2.0 400 Bad Request (missing Via)")
			r, sent = x.in(x.caller, []byte("OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKo\r\n\r\n"))
			expect(t, "OPTIONS", r, sent, ReasonUnscanned)
			if x.ctr.BadRequests.Load() != 1 {
				t.Fatalf("BadRequests %d", x.ctr.BadRequests.Load())
			}
		}},
		{"Normalize: a response the scanner refuses is read by the host's parser, or left unreadable", func(t *testing.T, x *harness) {
			x.in(x.caller, inv)
			// A folded line (RFC 3261 §7.3.1): the scanner refuses it, a full parser reads it.
			folded := bytes.Replace(reply(x.last["callee INVITE"], "180 Ringing", "n"), []byte("\r\nCall-ID: "), []byte("\r\nCall-ID:\r\n "), 1)
			r, sent := x.in(x.callee, folded)
			expect(t, "without the host's parser", r, sent, ReasonUnreadable)
			x.h.normalize = func(b []byte) []byte { return bytes.Replace(b, []byte("Call-ID:\r\n "), []byte("Call-ID: "), 1) }
			r, sent = x.in(x.callee, folded)
			expect(t, "with it", r, sent, ReasonResponse, "caller SIP/2.0 180 Ringing")
			if x.st.Unreadable.Load() != 1 {
				t.Fatalf("Unreadable %d", x.st.Unreadable.Load())
			}
			r, sent = x.in(x.caller, inv) // a retransmission gets the last response again (§17.2.1)
			expect(t, "INVITE again", r, sent, ReasonAbsorbed, "caller SIP/2.0 180 Ringing")
		}},
		{"Late2xx: a 2xx crossing Herald's CANCEL goes to the host to ACK and BYE", func(t *testing.T, x *harness) {
			x.in(x.caller, inv)
			x.in(x.callee, reply(x.last["callee INVITE"], "180 Ringing", "l"))
			r, sent := x.in(x.caller, request("CANCEL", "z9hG4bKh1", "h1@x", to, 1))
			expect(t, "CANCEL", r, sent, ReasonAnswered, "caller SIP/2.0 200 OK", "caller SIP/2.0 487 Request Terminated", "callee CANCEL")
			r, sent = x.in(x.callee, reply(x.last["callee INVITE"], "200 OK", "l"))
			expect(t, "late 200", r, sent, ReasonResponse)
			if x.h.late != 1 || x.ctr.Cancels.Load() != 1 {
				t.Fatalf("Late2xx %d, Cancels %d", x.h.late, x.ctr.Cancels.Load())
			}
		}},
		{"AbortAll (a drain's end): 487 up and CANCEL down for calls without a final, counted", func(t *testing.T, x *harness) {
			x.in(x.caller, inv)
			x.in(x.callee, reply(x.last["callee INVITE"], "180 Ringing", "a"))
			x.e.AbortAll()
			if got := x.lines(x.c.take()); !slices.Equal(got, []string{"caller SIP/2.0 487 Request Terminated", "callee CANCEL"}) {
				t.Fatalf("AbortAll sent %q", got)
			}
			x.e.AbortAll() // the call has its final: nothing more
			if got := x.c.take(); len(got) != 0 || x.ctr.DrainAborted.Load() != 1 {
				t.Fatalf("second AbortAll sent %d, DrainAborted %d", len(got), x.ctr.DrainAborted.Load())
			}
		}},
		{"Recovered: a panic under the lock is answered 500, counted, and the lock released", func(t *testing.T, x *harness) {
			boom := func(b []byte) {
				if bytes.Contains(b, []byte("X-Boom")) {
					panic("injected")
				}
			}
			x.e.Faults.Locked.Store(&boom)
			r, sent := x.in(x.caller, invite("z9hG4bKp1", "p1@x", "sip:dave@home1.net", "X-Boom: 1\r\n"))
			expect(t, "INVITE", r, sent, ReasonFault, "caller SIP/2.0 500 Server Internal Error")
			r, sent = x.in(x.caller, inv)
			expect(t, "next INVITE", r, sent, ReasonForwarded, "callee INVITE")
			tick := func(struct{}) { panic("tick") }
			x.e.Faults.Tick.Store(&tick)
			x.at(testT1) // recovered: nothing sent, lock released
			x.e.Faults.Tick.Store(nil)
			// What the panicking tick did not run (Timer A at T1) runs at the next, with the 100 Trying.
			if got := x.at(2 * testT1); !slices.Equal(got, []string{"callee INVITE", "caller SIP/2.0 100 Trying"}) {
				t.Fatalf("timers after the panic: %q", got)
			}
			if x.h.panics != 2 {
				t.Fatalf("%d panics recovered, want 2", x.h.panics)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newHarness(t, nil)) })
	}
}
