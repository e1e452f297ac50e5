package sipfast

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// filler is n header lines an engine does not interpret.
func filler(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "X%d: x\r\n", i)
	}
	return b.String()
}

// TestScanLongMessage: the scanner indexes up to maxHeaderLines header lines, those past the
// first maxFastHeaders too (each header it interprets found where it is, Via after 300 others),
// and leaves a message with one line more to the general path.
func TestScanLongMessage(t *testing.T) {
	const pad = 300
	msg := []byte("SIP/2.0 180 Ringing\r\n" + filler(pad) +
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKc\r\n" +
		"From: <sip:erin@home1.net>;tag=f\r\nTo: <sip:dave@home1.net>;tag=d\r\nCall-ID: long@x\r\n" +
		"CSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n")
	var m fmsg
	if !m.scan(msg) {
		t.Fatal("a response with 306 header lines was refused")
	}
	if m.n != pad+6 || len(m.more) != pad+6-maxFastHeaders {
		t.Fatalf("indexed %d lines, %d past the first %d", m.n, len(m.more), maxFastHeaders)
	}
	for id, want := range map[hdrID]string{hCallID: "long@x", hTo: "<sip:dave@home1.net>;tag=d", hCSeq: "7 INVITE"} {
		if got := string(m.value(id)); got != want {
			t.Errorf("header %d = %q, want %q", id, got, want)
		}
	}
	if got := string(m.branch.of(msg)); got != "z9hG4bK1" || m.cseq != 7 || !m.toTag {
		t.Errorf("branch %q, CSeq %d, To tag %v", got, m.cseq, m.toTag)
	}
	if out := string(stripVia(&m)); !strings.Contains(out, filler(pad)+"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKc\r\nFrom:") {
		t.Errorf("Herald's Via not stripped from its line:\n%s", out)
	}

	at := func(n int) []byte { // a response of exactly n header lines
		return []byte("SIP/2.0 200 OK\r\n" + filler(n-5) + "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n" +
			"From: <sip:e@h>;tag=f\r\nTo: <sip:d@h>;tag=d\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n")
	}
	if !m.scan(at(maxHeaderLines)) || m.n != maxHeaderLines {
		t.Errorf("%d header lines refused (n %d)", maxHeaderLines, m.n)
	}
	if m.scan(at(maxHeaderLines + 1)) {
		t.Errorf("%d header lines accepted", maxHeaderLines+1)
	}
	// A scan reuses the lines past the first ones; a short message after a long one has none.
	if !m.scan(at(10)) || m.n != 10 || len(m.more) != 0 {
		t.Errorf("short after long: n %d, %d more", m.n, len(m.more))
	}
}

// TestPlainLongMessages: a plain call whose messages carry more header lines than the scanner
// indexed inline (maxFastHeaders) is proxied like any other: the INVITE forwarded whole, the callee's
// long 180 and 486 relayed with every line (the 486 ACKed hop by hop), where before the engine could
// not read those responses and dropped them as unreadable, failing a call a proxy would have carried.
func TestPlainLongMessages(t *testing.T) {
	const pad = 80 // the INVITE stays under the UDP size the harness forwards (RFC 3261 §18.1.1)
	inv := invite("z9hG4bKlong", "long@x", "sip:dave@home1.net", filler(pad))
	long := func(status, tag string) func(*harness) ([]byte, bool) {
		return func(x *harness) ([]byte, bool) {
			return padReply(reply(x.last["callee INVITE"], status, tag), pad), true
		}
	}
	x := newHarness(t, nil)
	runSteps(t, x, []step{
		{in: callerSends(inv), want: ReasonForwarded, sent: []string{"callee INVITE"}},
		{in: long("180 Ringing", "d1"), want: ReasonResponse, at: testT1 / 2, sent: []string{"caller SIP/2.0 180 Ringing"}},
		{in: long("486 Busy Here", "d1"), want: ReasonResponse, at: testT1, sent: []string{"callee ACK", "caller SIP/2.0 486 Busy Here"}},
		{in: long("486 Busy Here", "d1"), want: ReasonResponse, at: testT1 + testT1/4, sent: []string{"callee ACK"}}, // a retransmission: ACKed again (Timer G is due at 1.5·T1)
	})
	fwd := x.last["callee INVITE"]
	if !bytes.Contains(fwd, []byte(filler(pad))) {
		t.Errorf("the forwarded INVITE lost header lines:\n%s", fwd)
	}
	got := x.last["caller SIP/2.0"] // the last response to the caller: the 486
	if bytes.Count(got, []byte("P-Extra: x\r\n")) != pad || bytes.Count(got, []byte("Via:")) != 1 ||
		!bytes.Contains(got, []byte("Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKlong\r\n")) {
		t.Errorf("relayed 486 (every line, the caller's Via alone):\n%s", got)
	}
	if ack := x.last["callee ACK"]; !bytes.Contains(ack, []byte(";tag=d1\r\n")) {
		t.Errorf("ACK of the long 486:\n%s", ack)
	}
	if n := x.st.Unreadable.Load(); n != 0 {
		t.Errorf("%d datagrams unreadable", n)
	}
}
