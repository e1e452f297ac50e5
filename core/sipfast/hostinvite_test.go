package sipfast

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// hostInvite is the INVITE of a call with cards as its controller hands it to ForwardInvite: the
// caller's Via below where Herald's goes, a tel: Request-URI and more header lines than the
// scanner indexes (which it refuses).
func hostInvite() []byte {
	var b strings.Builder
	b.WriteString("INVITE tel:+12125553333 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKcaller;rport=5061;received=127.0.0.1\r\n" +
		"Max-Forwards: 69\r\nRoute: <sip:127.0.0.1:5070;lr>\r\nFrom: <sip:erin@home1.net>;tag=f\r\nTo: <tel:+12125553333>\r\n" +
		"Call-ID: c-host\r\nCSeq: 7 INVITE\r\nContact: <sip:erin@127.0.0.1:5061>\r\n")
	for range maxFastHeaders {
		b.WriteString("P-Extra: x\r\n")
	}
	b.WriteString("Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n")
	return []byte(b.String())
}

// sinkRec records what ForwardInvite's sink gets: each response's start line, "end" for nil.
type sinkRec struct{ got []string }

func (s *sinkRec) sink(res []byte) {
	if res == nil {
		s.got = append(s.got, "end")
		return
	}
	line, _, _ := bytes.Cut(res, []byte("\r\n"))
	s.got = append(s.got, string(line))
}

func (s *sinkRec) take() []string { g := s.got; s.got = nil; return g }

func forwardHost(t *testing.T, x *harness, s *sinkRec) (*Tx, []byte) {
	t.Helper()
	before := x.st.HostInvites.Load()
	tx := x.e.ForwardInvite(hostInvite(), x.callee, 0, s.sink)
	if tx == nil {
		t.Fatal("ForwardInvite refused")
	}
	ds := x.c.take()
	if len(ds) != 1 || ds[0].To != x.callee {
		t.Fatalf("sent %v", x.lines(ds))
	}
	inv := ds[0].B
	if !bytes.HasPrefix(inv, []byte("INVITE tel:+12125553333 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch="+BranchPrefix)) ||
		!bytes.Contains(inv, []byte("\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKcaller;rport=5061;received=127.0.0.1\r\n")) ||
		!bytes.HasSuffix(inv, []byte("Content-Length: 4\r\n\r\nv=0\n")) {
		t.Fatalf("INVITE as sent:\n%s", inv)
	}
	if n := x.st.HostInvites.Load() - before; n != 1 {
		t.Fatalf("HostInvites counted %d, want 1", n)
	}
	return tx, inv
}

// TestForwardInviteTimers (the caller card's INVITE, claims 1 and 3, forwarded on the engine's client
// transaction) walks RFC 3261 §17.1.1.2 without an answer: Timer A resends the INVITE at T1, 2·T1,
// 4·T1 (doubling), and Timer B at 64·T1 tells the host once (nil) and leaves no transaction.
func TestForwardInviteTimers(t *testing.T) {
	x := newHarness(t, nil)
	var s sinkRec
	forwardHost(t, x, &s)
	for _, at := range []time.Duration{testT1, 3 * testT1, 7 * testT1} {
		if sent := x.at(at + 10*time.Millisecond); len(sent) != 1 || sent[0] != "callee INVITE" {
			t.Fatalf("Timer A at %v: %v", at, sent)
		}
		if sent := x.at(at + 20*time.Millisecond); len(sent) != 0 {
			t.Fatalf("after Timer A at %v: %v", at, sent)
		}
	}
	x.at(63 * testT1)
	if got := s.take(); len(got) != 0 {
		t.Fatalf("before Timer B the host heard %v", got)
	}
	x.at(64*testT1 + 20*time.Millisecond)
	if got := s.take(); len(got) != 1 || got[0] != "end" {
		t.Fatalf("at Timer B the host heard %v, want the end once", got)
	}
	if n := x.e.Transactions(); n != 0 {
		t.Fatalf("%d transactions after Timer B", n)
	}
	if c := x.ctr.CallsDone.Load(); c != 0 {
		t.Fatalf("the engine counted %d calls done: the host's call is the host's to count", c)
	}
}

// TestForwardInviteAnswered: a provisional stops Timers A and B and goes to the host, as each
// further one, except a 100 (Trying), which stops them only (a proxy forwards none, RFC 3261 §16.7
// step 4); every 2xx goes to the host, a retransmitted one too (a proxy forwards each, RFC 3261
// §16.7 step 5); once the host lets go (EndInvite) the transaction is gone and a retransmitted 2xx
// is relayed upstream statelessly by the caller's Via.
func TestForwardInviteAnswered(t *testing.T) {
	x := newHarness(t, nil)
	var s sinkRec
	tx, inv := forwardHost(t, x, &s)
	for _, st := range []string{"100 Trying", "180 Ringing"} {
		if r, sent := x.in(x.callee, reply(inv, st, "t1")); r != ReasonResponse || len(sent) != 0 {
			t.Fatalf("%s: %v, sent %v", st, r, sent)
		}
	}
	if sent := x.at(64*testT1 + 20*time.Millisecond); len(sent) != 0 {
		t.Fatalf("Timers A and B still ran after the provisional: %v", sent)
	}
	ok := reply(inv, "200 OK", "t1")
	x.in(x.callee, ok)
	x.in(x.callee, ok)
	if got := s.take(); strings.Join(got, "|") != "SIP/2.0 180 Ringing|SIP/2.0 200 OK|SIP/2.0 200 OK" {
		t.Fatalf("host heard %q", got)
	}
	x.e.EndInvite(tx)
	if n := x.e.Transactions(); n != 0 {
		t.Fatalf("%d transactions after EndInvite of an answered INVITE", n)
	}
	r, sent := x.in(x.callee, ok)
	if r != ReasonStray2xx || len(sent) != 1 || sent[0] != "caller SIP/2.0 200 OK" || len(s.take()) != 0 {
		t.Fatalf("2xx after EndInvite: %v, sent %v", r, sent)
	}
	if bytes.Contains(x.last["caller SIP/2.0"], []byte(BranchPrefix)) {
		t.Fatalf("relayed 2xx keeps Herald's Via:\n%s", x.last["caller SIP/2.0"])
	}
}

// TestForwardInviteRejected: a non-2xx final is ACKed hop by hop (RFC 3261 §17.1.1.3: the INVITE's
// Request-URI and top Via, the response's To, CSeq method ACK) and goes to the host once; a
// retransmission of it is ACKed again and not handed over; the transaction is kept until Timer D
// (64·T1 here), also after the host let go.
func TestForwardInviteRejected(t *testing.T) {
	x := newHarness(t, nil)
	var s sinkRec
	tx, inv := forwardHost(t, x, &s)
	busy := reply(inv, "486 Busy Here", "t2")
	for i := range 2 {
		if r, sent := x.in(x.callee, busy); r != ReasonResponse || len(sent) != 1 || sent[0] != "callee ACK" {
			t.Fatalf("486 #%d: %v, sent %v", i+1, r, sent)
		}
	}
	ack := string(x.last["callee ACK"])
	topVia, _, _ := strings.Cut(strings.SplitN(string(inv), "\r\n", 3)[1], "\r\n")
	for _, want := range []string{"ACK tel:+12125553333 SIP/2.0\r\n" + topVia + "\r\n", "Route: <sip:127.0.0.1:5070;lr>\r\n",
		"To: <tel:+12125553333>;tag=t2\r\n", "Call-ID: c-host\r\n", "CSeq: 7 ACK\r\n"} {
		if !strings.Contains(ack, want) {
			t.Errorf("ACK lacks %q:\n%s", want, ack)
		}
	}
	if strings.Count(ack, "Via:") != 1 {
		t.Errorf("ACK carries more than the top Via:\n%s", ack)
	}
	if got := s.take(); len(got) != 1 || got[0] != "SIP/2.0 486 Busy Here" {
		t.Fatalf("host heard %q, want the 486 once", got)
	}
	x.e.EndInvite(tx)
	if r, sent := x.in(x.callee, busy); r != ReasonResponse || len(sent) != 1 || sent[0] != "callee ACK" {
		t.Fatalf("486 after EndInvite: %v, sent %v", r, sent)
	}
	x.at(64*testT1 + 20*time.Millisecond)
	if n := x.e.Transactions(); n != 0 || len(s.take()) != 0 {
		t.Fatalf("%d transactions after Timer D", n)
	}
}

// TestForwardInviteCancel: the host's CANCEL (CancelInvite) waits for a provisional (RFC 3261 §9.1),
// goes with it, is retransmitted until its own 200, and names the INVITE as the hop-by-hop builder
// does; the callee's 487 is ACKed and handed over.
func TestForwardInviteCancel(t *testing.T) {
	x := newHarness(t, nil)
	var s sinkRec
	tx, inv := forwardHost(t, x, &s)
	x.e.CancelInvite(tx)
	if ds := x.c.take(); len(ds) != 0 {
		t.Fatalf("CANCEL before any provisional: %v", x.lines(ds))
	}
	if _, sent := x.in(x.callee, reply(inv, "180 Ringing", "t3")); len(sent) != 1 || sent[0] != "callee CANCEL" {
		t.Fatalf("provisional: sent %v, want the held CANCEL", sent)
	}
	cancel := string(x.last["callee CANCEL"])
	for _, want := range []string{"CANCEL tel:+12125553333 SIP/2.0\r\n", "To: <tel:+12125553333>\r\n", "CSeq: 7 CANCEL\r\n"} {
		if !strings.Contains(cancel, want) {
			t.Errorf("CANCEL lacks %q:\n%s", want, cancel)
		}
	}
	if sent := x.at(testT1 + 20*time.Millisecond); len(sent) != 1 || sent[0] != "callee CANCEL" {
		t.Fatalf("CANCEL retransmission: %v", sent)
	}
	x.in(x.callee, reply([]byte(cancel), "200 OK", "t3"))
	if sent := x.at(4*testT1 + 20*time.Millisecond); len(sent) != 0 {
		t.Fatalf("CANCEL retransmitted after its 200: %v", sent)
	}
	if _, sent := x.in(x.callee, reply(inv, "487 Request Terminated", "t3")); len(sent) != 1 || sent[0] != "callee ACK" {
		t.Fatalf("487: sent %v", sent)
	}
	if got := s.take(); strings.Join(got, "|") != "SIP/2.0 180 Ringing|SIP/2.0 487 Request Terminated" {
		t.Fatalf("host heard %q", got)
	}
}

// TestForwardInviteLetGo: a host that lets go before a final response (its call ended: the caller
// cancelled, a fault) leaves the INVITE cancelled, not dangling; a 2xx that crosses that CANCEL
// (RFC 3261 §15) goes to Host.Late2xx, which confirms and ends the dialog, and not to the sink.
func TestForwardInviteLetGo(t *testing.T) {
	x := newHarness(t, nil)
	var s sinkRec
	tx, inv := forwardHost(t, x, &s)
	x.in(x.callee, reply(inv, "180 Ringing", "t4"))
	s.take()
	x.e.EndInvite(tx)
	if ds := x.c.take(); len(ds) != 1 || !bytes.HasPrefix(ds[0].B, []byte("CANCEL ")) {
		t.Fatalf("EndInvite without a final sent %v, want the CANCEL", x.lines(ds))
	}
	x.in(x.callee, reply(inv, "200 OK", "t4"))
	if x.h.late != 1 || len(s.take()) != 0 {
		t.Fatalf("2xx after the host let go: Late2xx %d, sink %v", x.h.late, s.got)
	}
	x.e.CancelInvite(tx) // too late, and idempotent: nothing more goes
	if ds := x.c.take(); len(ds) != 0 {
		t.Fatalf("CancelInvite after the 2xx sent %v", x.lines(ds))
	}
}

// TestForwardInviteLimits: the host's size limit (RFC 3261 §18.1.1 is the host's to apply) and the
// engine's transaction limit refuse the request with nothing sent, and no transaction kept.
func TestForwardInviteLimits(t *testing.T) {
	x := newHarness(t, nil)
	var s sinkRec
	if tx := x.e.ForwardInvite(hostInvite(), x.callee, 200, s.sink); tx != nil {
		t.Fatal("an INVITE over max was taken")
	}
	x.h.maxCalls = 0
	if tx := x.e.ForwardInvite(hostInvite(), x.callee, 0, s.sink); tx != nil {
		t.Fatal("an INVITE over the transaction limit was taken")
	}
	if ds := x.c.take(); len(ds) != 0 || x.e.Transactions() != 0 || x.st.HostInvites.Load() != 0 {
		t.Fatalf("sent %v, %d transactions", x.lines(ds), x.e.Transactions())
	}
}

// TestHostHopSameAsHopRequest: for an INVITE the scanner reads, the host's builder (hostHop) gives
// the same CANCEL and ACK as the fast path's (hopRequest): one builder, two readers.
func TestHostHopSameAsHopRequest(t *testing.T) {
	x := newHarness(t, nil)
	var s sinkRec
	fwd := invite("z9hG4bKc", "c-same", "sip:dave@127.0.0.1:5070", "Route: <sip:127.0.0.1:5070;lr>\r\n")
	tx := x.e.ForwardInvite(fwd, x.callee, 0, s.sink)
	if tx == nil {
		t.Fatal("ForwardInvite refused")
	}
	sent := x.c.take()[0].B
	for _, tc := range []struct {
		meth string
		to   []byte
	}{{"CANCEL", nil}, {"ACK", []byte("<sip:dave@127.0.0.1:5070>;tag=t9")}} {
		if h, f := hostHop(sent, tc.meth, tc.to), hopRequest(sent, tc.meth, tc.to); h == nil || !bytes.Equal(h, f) {
			t.Errorf("%s: host\n%s\nfast\n%s", tc.meth, h, f)
		}
	}
	if hostHop([]byte("INVITE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"), "CANCEL", nil) != nil {
		t.Error("hostHop built a CANCEL without a Via and a CSeq")
	}
}

// longReply is reply with more header lines than the scanner indexes (a response the general path
// reads, which sipgo would have handed to a call whose INVITE went out on sipgo).
func longReply(req []byte, status, tag string) []byte {
	return padReply(reply(req, status, tag), maxHeaderLines+1)
}

// padReply is r with n header lines more, right after its status line (before its Via).
func padReply(r []byte, n int) []byte {
	head, rest, _ := bytes.Cut(r, []byte("\r\n"))
	var b bytes.Buffer
	b.Write(head)
	b.WriteString("\r\n")
	for range n {
		b.WriteString("P-Extra: x\r\n")
	}
	b.Write(rest)
	return b.Bytes()
}

// TestForwardInviteLongResponses: a response to a call's INVITE that the scanner refuses even as the
// general path prints it (more header lines than it indexes) still reaches the call, read
// leniently (hostLoose), where it would otherwise be dropped as unreadable: the INVITE's call would
// fail where it worked on sipgo. A non-2xx is ACKed as any; the same response to a branch the engine
// does not hold for a call stays unreadable.
func TestForwardInviteLongResponses(t *testing.T) {
	x := newHarness(t, nil)
	x.h.normalize = func(b []byte) []byte { return bytes.Clone(b) } // as sipgo prints it: still too long
	var s sinkRec
	_, inv := forwardHost(t, x, &s)
	if r, sent := x.in(x.callee, longReply(inv, "180 Ringing", "t5")); r != ReasonResponse || len(sent) != 0 {
		t.Fatalf("long 180: %v, sent %v", r, sent)
	}
	if sent := x.at(testT1 + 20*time.Millisecond); len(sent) != 0 {
		t.Fatalf("Timer A ran after the long provisional: %v", sent)
	}
	if r, _ := x.in(x.callee, longReply(inv, "200 OK", "t5")); r != ReasonResponse {
		t.Fatalf("long 200: %v", r)
	}
	if got := s.take(); strings.Join(got, "|") != "SIP/2.0 180 Ringing|SIP/2.0 200 OK" {
		t.Fatalf("host heard %q", got)
	}

	var s2 sinkRec
	_, inv2 := forwardHost(t, x, &s2)
	if r, sent := x.in(x.callee, longReply(inv2, "486 Busy Here", "t6")); r != ReasonResponse || len(sent) != 1 || sent[0] != "callee ACK" {
		t.Fatalf("long 486: %v, sent %v", r, sent)
	}
	if !strings.Contains(string(x.last["callee ACK"]), "To: <tel:+12125553333>;tag=t6\r\n") {
		t.Fatalf("ACK of the long 486:\n%s", x.last["callee ACK"])
	}
	if got := s2.take(); len(got) != 1 || got[0] != "SIP/2.0 486 Busy Here" {
		t.Fatalf("host heard %q", got)
	}

	// A long 2xx after a 486, once the host let go: no stateless relay of what was read leniently
	// (it has no Via indexed; before, stripping it panicked).
	var s3 sinkRec
	tx3, inv3 := forwardHost(t, x, &s3)
	x.in(x.callee, longReply(inv3, "486 Busy Here", "t8"))
	x.e.EndInvite(tx3)
	if r, _ := x.in(x.callee, longReply(inv3, "200 OK", "t8")); r != ReasonResponse || x.h.panics != 0 {
		t.Fatalf("long 2xx after the host let go: %v, %d panics", r, x.h.panics)
	}

	stray := longReply(bytes.Replace(inv, []byte(BranchPrefix), []byte(BranchPrefix+"ff"), 1), "200 OK", "t7")
	if r, _ := x.in(x.callee, stray); r != ReasonUnreadable {
		t.Fatalf("long response to no call's INVITE: %v, want unreadable", r)
	}
}
