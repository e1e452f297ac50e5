package sipfast

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// prack is the caller's PRACK for Herald's reliable 183 on the early dialog with Herald's To tag.
func prack(branch, callID, toTag string, cseq int) []byte {
	return request("PRACK", branch, callID, "<sip:dave@home2.net>;tag="+toTag, cseq, "RAck: 4711 1 INVITE\r\n")
}

// TestOwnPrack (claims 1, 5: the callee card's media request message needs Herald's own early
// dialog, whose reliable 183 the caller PRACKs, RFC 3262 §3) walks a PRACK on Herald's own early
// dialog through the engine: handed to the host with its RAck and nothing sent until the call
// answers (a retransmission meanwhile is absorbed, RFC 3261 §17.2.2 Trying); the call's 200 goes to
// where the PRACK came from, with the PRACK's Via (RFC 3261 §18.2.1), From, To, Call-ID and CSeq; a
// retransmission after gets the same 200 (Completed); a second answer is dropped; after Timer J the
// transaction is gone.
func TestOwnPrack(t *testing.T) {
	x := newHarness(t, nil)
	x.h.own["c-own"] = "herald1"
	req := prack("z9hG4bKp1", "c-own", "herald1", 2)
	if r, sent := x.in(x.caller, req); r != ReasonOwn || len(sent) != 0 {
		t.Fatalf("PRACK: %v, sent %v; want own, nothing sent", r, sent)
	}
	if len(x.h.ownReqs) != 1 {
		t.Fatalf("host took %d requests, want 1", len(x.h.ownReqs))
	}
	or := x.h.ownReqs[0]
	if or.Method != "PRACK" || or.RAck != "4711 1 INVITE" || or.Tx == nil {
		t.Fatalf("own request %+v", or)
	}
	if r, sent := x.in(x.caller, req); r != ReasonAbsorbed || len(sent) != 0 || len(x.h.ownReqs) != 1 {
		t.Fatalf("retransmission before the answer: %v, sent %v, host took %d; want absorbed, nothing", r, sent, len(x.h.ownReqs))
	}
	x.e.AnswerOwn(or.Tx, 200, "OK", "")
	ds := x.c.take()
	if len(ds) != 1 || ds[0].To != x.caller {
		t.Fatalf("answer: %v", x.lines(ds))
	}
	res := string(ds[0].B)
	for _, want := range []string{"SIP/2.0 200 OK\r\n", "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKp1\r\n",
		"From: <sip:erin@home1.net>;tag=f\r\n", "To: <sip:dave@home2.net>;tag=herald1\r\n", "Call-ID: c-own\r\n",
		"CSeq: 2 PRACK\r\n", "Content-Length: 0\r\n\r\n"} {
		if !strings.Contains(res, want) {
			t.Errorf("200 lacks %q:\n%s", want, res)
		}
	}
	if strings.Contains(res, "RAck") {
		t.Errorf("200 copies RAck:\n%s", res)
	}
	x.e.AnswerOwn(or.Tx, 481, "Call/Transaction Does Not Exist", "")
	if ds := x.c.take(); len(ds) != 0 {
		t.Fatalf("second answer sent: %v", x.lines(ds))
	}
	r, sent := x.in(x.caller, req)
	if r != ReasonAbsorbed || len(sent) != 1 || !bytes.Equal(x.last["caller SIP/2.0"], ds[0].B) {
		t.Fatalf("retransmission after the answer: %v, sent %v; want absorbed, the same 200", r, sent)
	}
	x.at(64*testT1 + 20*time.Millisecond) // Timer J
	if n := x.e.Transactions(); n != 0 {
		t.Fatalf("%d transactions after Timer J, want 0", n)
	}
}

// TestOwnPrackOtherDialog: a PRACK whose To tag is not Herald's (the callee's reliable 18x, which
// the general path relays) and a PRACK without a To tag go the general way, leaving no transaction
// behind; so does a PRACK for a call Herald does not carry.
func TestOwnPrackOtherDialog(t *testing.T) {
	x := newHarness(t, nil)
	x.h.own["c-own"] = "herald1"
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"callee's tag", prack("z9hG4bKp2", "c-own", "callee9", 2)},
		{"unknown call", prack("z9hG4bKp3", "c-other", "herald1", 2)},
		{"no To tag", request("PRACK", "z9hG4bKp4", "c-own", "<sip:dave@home2.net>", 2, "RAck: 1 1 INVITE\r\n")},
	} {
		if r, sent := x.in(x.caller, tc.req); r != ReasonMethod || len(sent) != 0 {
			t.Errorf("%s: %v, sent %v; want method (general path), nothing sent", tc.name, r, sent)
		}
	}
	if n := x.e.Transactions(); n != 0 || len(x.h.ownReqs) != 0 {
		t.Fatalf("%d transactions, host took %d; want none", n, len(x.h.ownReqs))
	}
}

// TestOwnPrackUnanswered: a call that never answers its PRACK (its controller stuck) does not
// leave the caller retransmitting forever: at 64·T1 the engine answers 500 with Retry-After and
// counts it; the call's late answer is dropped.
func TestOwnPrackUnanswered(t *testing.T) {
	x := newHarness(t, nil)
	x.h.own["c-own"] = "herald1"
	if r, _ := x.in(x.caller, prack("z9hG4bKp5", "c-own", "herald1", 2)); r != ReasonOwn {
		t.Fatalf("PRACK: %v", r)
	}
	if sent := x.at(64*testT1 - testT1); len(sent) != 0 {
		t.Fatalf("before Timer F: %v", sent)
	}
	sent := x.at(64*testT1 + 20*time.Millisecond)
	if len(sent) != 1 || sent[0] != "caller SIP/2.0 500 Server Internal Error" {
		t.Fatalf("at Timer F: %v, want the 500", sent)
	}
	if !strings.Contains(string(x.last["caller SIP/2.0"]), "Retry-After: 5\r\n") || x.st.OwnUnanswered.Load() != 1 {
		t.Fatalf("500 without Retry-After or not counted:\n%s", x.last["caller SIP/2.0"])
	}
	x.e.AnswerOwn(x.h.ownReqs[0].Tx, 200, "OK", "")
	if ds := x.c.take(); len(ds) != 0 {
		t.Fatalf("late answer sent: %v", x.lines(ds))
	}
}
