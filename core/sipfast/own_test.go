package sipfast

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/wheel"
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

// ownUpdate is an UPDATE of Herald's own early dialog as the host hands it to Originate (no Via).
func ownUpdate(body string) []byte {
	return []byte("UPDATE sip:erin@127.0.0.1:5061 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:dave@home2.net>;tag=herald1\r\n" +
		"To: <sip:erin@home1.net>;tag=f\r\nCall-ID: c-own\r\nCSeq: 1 UPDATE\r\nContact: <sip:herald@127.0.0.1:5060>\r\n" +
		"Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// answerTo is the caller's response to the request req the engine sent: its Via, From, To, Call-ID
// and CSeq, and body.
func answerTo(req []byte, status string, body string) []byte {
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\r\n")
	for _, l := range strings.Split(string(req), "\r\n")[1:] {
		for _, h := range []string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
			if strings.HasPrefix(l, h) {
				b.WriteString(l + "\r\n")
			}
		}
	}
	b.WriteString("Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	return []byte(b.String())
}

// TestOriginateUpdate (claims 1 and 5: the media request message is Herald's UPDATE on its own
// early dialog) walks a request Herald originates through the engine's client transaction (RFC
// 3261 §17.1.2): sent with the engine's Via on top; retransmitted on Timer E (T1, 2·T1) until the
// 200 comes; the 200's status and body reach done once, a retransmitted 200 is absorbed (Timer
// K), and the transaction is gone after Timer K.
func TestOriginateUpdate(t *testing.T) {
	x := newHarness(t, nil)
	var got []string
	done := func(code int, body []byte) { got = append(got, strconv.Itoa(code)+" "+string(body)) }
	if !x.e.Originate(ownUpdate("v=0\r\n"), x.caller, done) {
		t.Fatal("Originate refused")
	}
	ds := x.c.take()
	if len(ds) != 1 || ds[0].To != x.caller {
		t.Fatalf("sent %v", x.lines(ds))
	}
	upd := ds[0].B
	if !bytes.HasPrefix(upd, []byte("UPDATE sip:erin@127.0.0.1:5061 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch="+BranchPrefix)) ||
		!bytes.HasSuffix(upd, []byte("Content-Length: 5\r\n\r\nv=0\r\n")) {
		t.Fatalf("UPDATE as sent:\n%s", upd)
	}
	if sent := x.at(testT1 + 20*time.Millisecond); len(sent) != 1 || sent[0] != "caller UPDATE" {
		t.Fatalf("Timer E at T1: %v", sent)
	}
	if sent := x.at(2*testT1 + 20*time.Millisecond); len(sent) != 0 {
		t.Fatalf("Timer E doubles: sent %v at 2·T1", sent)
	}
	if sent := x.at(3*testT1 + 20*time.Millisecond); len(sent) != 1 {
		t.Fatalf("Timer E at 3·T1: %v", sent)
	}
	ok := answerTo(upd, "200 OK", "v=0\r\nm=message 9 TCP/MSRP *\r\n")
	if r, sent := x.in(x.caller, ok); r != ReasonResponse || len(sent) != 0 {
		t.Fatalf("200: %v, sent %v", r, sent)
	}
	if len(got) != 1 || got[0] != "200 v=0\r\nm=message 9 TCP/MSRP *\r\n" {
		t.Fatalf("done got %q", got)
	}
	if r, sent := x.in(x.caller, ok); r != ReasonResponse || len(sent) != 0 || len(got) != 1 {
		t.Fatalf("retransmitted 200: %v, sent %v, done called %d times", r, sent, len(got))
	}
	if sent := x.at(10 * time.Second); len(sent) != 0 || x.e.Transactions() != 0 {
		t.Fatalf("after Timer K: sent %v, %d transactions", sent, x.e.Transactions())
	}
}

// TestOriginateTimeout: a caller that never answers Herald's UPDATE gets it on Timer E, doubling
// up to T2 (RFC 3261 §17.1.2.2), and at Timer F (64·T1) done gets 408 (§8.1.3.1) and the
// transaction is gone; a request larger than MaxRequest is refused without sending anything (the
// host sends it another way).
func TestOriginateTimeout(t *testing.T) {
	x := newHarness(t, func(c *Config) { c.MaxRequest = 600 })
	var got []int
	if !x.e.Originate(ownUpdate(""), x.caller, func(code int, _ []byte) { got = append(got, code) }) {
		t.Fatal("Originate refused")
	}
	x.c.take()
	n := 0
	for d := 10 * time.Millisecond; d < 64*testT1; d += 10 * time.Millisecond {
		n += len(x.at(d))
	}
	// T1 = 100 ms, T2 = 800 ms: at 100, 300, 700, 1500, 2300, ... 6300 ms: 10 retransmissions.
	if n != 10 || len(got) != 0 {
		t.Fatalf("%d retransmissions before Timer F (want 10), done %v", n, got)
	}
	x.at(64*testT1 + 10*time.Millisecond)
	if len(got) != 1 || got[0] != 408 || x.e.Transactions() != 0 {
		t.Fatalf("at Timer F: done %v, %d transactions; want 408, none", got, x.e.Transactions())
	}
	if x.e.Originate(ownUpdate(strings.Repeat("a", 600)), x.caller, func(int, []byte) {}) || len(x.c.take()) != 0 {
		t.Fatal("an UPDATE over MaxRequest was sent")
	}
}

// famConn is a recConn that reaches one address family (sipfast.Reacher).
type famConn struct {
	recConn
	v6 bool
}

func (c *famConn) Reaches(ip netip.Addr) bool { return (ip.Is6() && !ip.Is4In6()) == c.v6 }

// TestOriginateConnFamily: an UPDATE goes out from the first socket that reaches its destination's
// address family (a dual-stack deployment listens on an IPv4 and an IPv6 socket); with none that
// reaches it Originate refuses without sending, and the host sends it another way.
func TestOriginateConnFamily(t *testing.T) {
	e := New(Config{ViaHost: "192.0.2.1", ViaPort: func() int { return 5060 }, Clock: new(wheel.Manual)}, newFakeHost())
	defer e.Close()
	v4 := &famConn{}
	e.AddConn(v4, false)
	if e.Originate(ownUpdate(""), netip.MustParseAddrPort("[2001:db8::7]:5060"), func(int, []byte) {}) || len(v4.take()) != 0 {
		t.Fatal("an UPDATE to an IPv6 peer went out on the only, IPv4, socket")
	}
	v6 := &famConn{v6: true}
	e.AddConn(v6, true)
	for _, tc := range []struct {
		dst  string
		want *famConn
	}{{"[2001:db8::7]:5060", v6}, {"192.0.2.7:5060", v4}, {"[::ffff:192.0.2.7]:5060", v4}} {
		if !e.Originate(ownUpdate(""), netip.MustParseAddrPort(tc.dst), func(int, []byte) {}) {
			t.Fatalf("%s: refused", tc.dst)
		}
		got4, got6 := len(v4.take()), len(v6.take())
		if (tc.want == v4) != (got4 == 1) || (tc.want == v6) != (got6 == 1) || got4+got6 != 1 {
			t.Fatalf("%s: sent %d on the IPv4 socket, %d on the IPv6 one", tc.dst, got4, got6)
		}
	}
}

// TestStray2xxConnFamily: a 2xx relayed by its next Via alone (no transaction left, RFC 6026) leaves
// from a socket of that Via's address family, as an originated UPDATE does (connToward).
func TestStray2xxConnFamily(t *testing.T) {
	e := New(Config{ViaHost: "192.0.2.1", ViaPort: func() int { return 5060 }, Clock: new(wheel.Manual)}, newFakeHost())
	defer e.Close()
	v4, v6 := &famConn{}, &famConn{v6: true}
	e.AddConn(v4, false)
	e.AddConn(v6, true)
	for i, tc := range []struct {
		up   string
		want *famConn
	}{{"[2001:db8::7]:5061", v6}, {"192.0.2.7:5061", v4}} {
		res := fmt.Sprintf("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"+
			"Via: SIP/2.0/UDP %s;branch=z9hG4bKup%d\r\nFrom: <sip:erin@home1.net>;tag=f\r\nTo: <sip:dave@home1.net>;tag=d\r\n"+
			"Call-ID: s%d@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", e.branchOf(uint64(i+1)), tc.up, i, i)
		if !e.Take([]byte(res), netip.MustParseAddrPort("192.0.2.9:5060"), v4) {
			t.Fatalf("%s: the stray 2xx was not taken", tc.up)
		}
		got4, got6 := v4.take(), v6.take()
		sent := append(got4, got6...)
		if len(sent) != 1 || sent[0].To != netip.MustParseAddrPort(tc.up) || (tc.want == v4) != (len(got4) == 1) {
			t.Fatalf("%s: sent %d on the IPv4 socket, %d on the IPv6 one: %+v", tc.up, len(got4), len(got6), sent)
		}
	}
}
