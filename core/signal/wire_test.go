package signal

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/sipfast"
)

// wireEarlyAnswer is a callee terminal's answer to the caller card's early-session offer (RFC 3959):
// an m=message line for MSRP in which the terminal connects (a=setup:active, RFC 6135).
const wireEarlyAnswer = "v=0\r\no=dave 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=message 9 TCP/MSRP *\r\na=accept-types:text/html\r\na=path:msrp://127.0.0.1:9/wire1;tcp\r\na=setup:active\r\n"

// wireMultipart is a multipart/mixed body (RFC 2046 §5.1) of the given parts, each an SDP with its
// Content-Disposition ("" for none: the session part).
func wireMultipart(parts ...[2]string) (ct, body string) {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--wb1\r\nContent-Type: application/sdp\r\n")
		if p[0] != "" {
			b.WriteString("Content-Disposition: " + p[0] + "\r\n")
		}
		b.WriteString("\r\n" + p[1] + "\r\n")
	}
	b.WriteString("--wb1--\r\n")
	return "multipart/mixed;boundary=wb1", b.String()
}

// wireReply is fpReply with a body of any Content-Type.
func wireReply(t *testing.T, req fpMsg, code int, reason, tag, contact, ct, body string) []byte {
	t.Helper()
	res := fpReply(t, req, code, reason, tag, false, contact, body)
	if body != "" {
		res = bytes.Replace(res, []byte("Content-Type: application/sdp\r\n"), []byte("Content-Type: "+ct+"\r\n"), 1)
	}
	return res
}

// wireCallee is the next hop as the general path reaches it: over TCP for a card call (the early-
// session part makes the INVITE too big for UDP, RFC 3261 §18.1.1), else over UDP.
type wireCallee struct {
	udp  *fpPeer
	conn net.Conn
	br   *bufio.Reader
	r    *rig
}

func (w *wireCallee) send(t *testing.T, b []byte) {
	t.Helper()
	if w.conn != nil {
		fpWriteTCP(t, w.conn, b)
		return
	}
	w.udp.send(t, w.r.addr, b)
}

// next is the next message from Herald that is not a copy of skip (UDP retransmissions).
func (w *wireCallee) next(t *testing.T, what string, skip []byte) fpMsg {
	t.Helper()
	if w.conn != nil {
		return parseFP(t, what, fpReadTCP(t, w.conn, w.br))
	}
	return parseFP(t, what, w.udp.next(t, what, skip).data)
}

// wireCall starts a call from "from" to dave through Herald with a raw UDP caller, and returns the
// callee's link and the INVITE as the callee got it. With tcp the callee also listens on TCP and
// takes the INVITE there.
func wireCall(t *testing.T, from string, tcp bool, tune func(*Options)) (*rig, *fpPeer, *wireCallee, *fpCall, fpMsg) {
	t.Helper()
	st, _ := testStore(t)
	caller := newFPPeer(t)
	w := &wireCallee{}
	var ln *net.TCPListener
	if tcp {
		w.udp, ln = newFPPeerTCP(t)
	} else {
		w.udp = newFPPeer(t)
	}
	w.r = startHerald(t, st, w.udp.addr(), tune)
	c := newFPCall(caller, from, dave)
	c.lowerVia = "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKue7;received=192.0.2.70"
	caller.send(t, w.r.addr, c.invite())
	if tcp {
		w.conn, w.br = fpAccept(t, ln)
	}
	fwd := w.next(t, "forwarded INVITE", nil)
	return w.r, caller, w, c, fwd
}

// contentTypeLines are the Content-Type header lines of a message, long or compact form.
func contentTypeLines(m fpMsg) []string {
	return append(m.all("Content-Type"), m.all("c")...)
}

// TestStrippedEarlyAnswerLeavesNoEmptyContentType: the callee's 180 carries only its answer to the
// caller card's early-session offer (RFC 3959), which Herald keeps for itself. The 180 the caller
// gets has no body, Content-Length 0 and no Content-Type line at all: before the fix it carried
// "Content-Type:" with an empty value, which is no media-type (RFC 3261 §20.15) and which
// belle-sip (linphone) refuses with a parser error. A 183 with the session answer beside the
// early-session one reaches the caller with the session answer alone, as application/sdp.
func TestStrippedEarlyAnswerLeavesNoEmptyContentType(t *testing.T) {
	leakCheck(t)
	r, caller, callee, c, fwd := wireCall(t, alice, true, nil)
	if ct := fwd.one(t, "forwarded INVITE", "Content-Type"); !strings.HasPrefix(ct, "multipart/mixed") {
		t.Fatalf("forwarded INVITE: Content-Type %q, want the caller card's multipart/mixed", ct)
	}
	contact := "<sip:dave@" + callee.udp.addr() + ">"

	ct, body := wireMultipart([2]string{"early-session", wireEarlyAnswer})
	callee.send(t, wireReply(t, fwd, 180, "Ringing", "wc1", contact, ct, body))
	ring := parseFP(t, "relayed 180", caller.nextNot100(t, "relayed 180").data)
	if ring.start != "SIP/2.0 180 Ringing" {
		t.Fatalf("relayed: %q, want the 180", ring.start)
	}
	if got := contentTypeLines(ring); len(got) != 0 || len(ring.body) != 0 {
		t.Fatalf("relayed 180: Content-Type lines %q, body %q; want neither:\n%s", got, ring.body, ring.raw)
	}
	if cl := ring.one(t, "relayed 180", "Content-Length"); cl != "0" {
		t.Fatalf("relayed 180: Content-Length %q, want 0", cl)
	}

	ct, body = wireMultipart([2]string{"", fpSDPAnswer}, [2]string{"early-session", wireEarlyAnswer})
	callee.send(t, wireReply(t, fwd, 183, "Session Progress", "wc1", contact, ct, body))
	prog := parseFP(t, "relayed 183", caller.nextNot100(t, "relayed 183").data)
	if got := contentTypeLines(prog); len(got) != 1 || got[0] != "application/sdp" || string(prog.body) != fpSDPAnswer {
		t.Fatalf("relayed 183: Content-Type %q, body %q; want the session answer alone:\n%s", got, prog.body, prog.raw)
	}

	callee.send(t, fpReply(t, fwd, 486, "Busy Here", "wc1", false, "", ""))
	callee.next(t, "ACK for the 486", fwd.raw)
	caller.nextNot100(t, "relayed 486")
	caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, "<"+dave+">;tag=wc1", nil))
	r.quiet(t)
}

// TestGeneralPathAckNon2xxOneVia: Herald's ACK for a non-2xx final response to an INVITE it
// forwarded on the general path (a card call, and a plain call with the fast path off) carries one
// Via, equal to the INVITE's top one (RFC 3261 §17.1.1.3), with the INVITE's Request-URI, Route,
// From, Call-ID and CSeq number and the response's To. The ACK is built by sipgo's INVITE client
// transaction, which copied every Via of the forwarded INVITE (the caller's below Herald's) until
// netio/sipgo's patch; the bytes are checked as the next hop reads them.
func TestGeneralPathAckNon2xxOneVia(t *testing.T) {
	for _, tc := range []struct {
		name string
		tune func(*Options)
		from string
		tcp  bool
	}{
		{"caller card over TCP", nil, alice, true},
		{"fast path off over UDP", func(o *Options) { o.DisableFastPath = true }, erin, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			r, caller, callee, c, fwd := wireCall(t, tc.from, tc.tcp, tc.tune)
			if n := len(fwd.all("Via")); n != 3 {
				t.Fatalf("forwarded INVITE: %d Vias, want Herald's over the caller's two", n)
			}
			if strings.Contains(fwd.all("Via")[0], sipfast.BranchPrefix) {
				t.Fatalf("forwarded on the fast path (%s); this test is about the general path", fwd.all("Via")[0])
			}
			busy := fpReply(t, fwd, 486, "Busy Here", "wa1", false, "", "")
			callee.send(t, busy)
			ack := callee.next(t, "ACK for the 486", fwd.raw)
			fpHopRequest(t, "ACK for the 486", ack, fwd, "ACK", parseFP(t, "486", busy).one(t, "486", "To"))
			if rel := parseFP(t, "relayed 486", caller.nextNot100(t, "relayed 486").data); rel.start != "SIP/2.0 486 Busy Here" {
				t.Fatalf("relayed: %q, want the 486", rel.start)
			}
			caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, "<"+dave+">;tag=wa1", nil))
			r.quiet(t)
		})
	}
}

// TestRetransmitted2xxStripped: the callee's 200 carries its session answer and an answer to the
// caller card's early-session offer (RFC 3959), and the callee sends it again after the call's
// controller has ended (its ACK lost: RFC 3261 §13.3.1.4 retransmits a 2xx until the ACK). Herald
// relays the retransmission statelessly (RFC 3261 §16.7 step 5, RFC 6026), from sipgo's unmatched
// responses (callee over TCP) or from the fast path's engine (over UDP); the caller must get the
// same 200 both times: the session answer alone, as application/sdp. Before callsip.Stripped the
// retransmission reached the caller with the early-session part Herald keeps for itself.
func TestRetransmitted2xxStripped(t *testing.T) {
	for _, tc := range []struct {
		name string
		tcp  bool
	}{
		{"callee over TCP (general path)", true},
		{"callee over UDP (fast path's engine)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			r, caller, callee, c, fwd := wireCall(t, alice, tc.tcp, nil)
			contact := "<sip:dave@" + callee.udp.addr() + ">"
			ct, body := wireMultipart([2]string{"", fpSDPAnswer}, [2]string{"early-session", wireEarlyAnswer})
			ok := wireReply(t, fwd, 200, "OK", "wr1", contact, ct, body)
			check := func(what string) {
				t.Helper()
				got := parseFP(t, what, caller.nextNot100(t, what).data)
				if got.start != "SIP/2.0 200 OK" {
					t.Fatalf("%s: %q, want the 200", what, got.start)
				}
				if cts := contentTypeLines(got); len(cts) != 1 || cts[0] != "application/sdp" || string(got.body) != fpSDPAnswer {
					t.Fatalf("%s: Content-Type %q, body %q; want the session answer alone:\n%s", what, cts, got.body, got.raw)
				}
			}
			callee.send(t, ok)
			check("relayed 200")
			deadline := time.Now().Add(5 * time.Second)
			for r.sig.ActiveCalls() != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the call's controller did not end after the 200")
				}
				time.Sleep(5 * time.Millisecond)
			}
			callee.send(t, ok) // the 200 again: the caller's ACK was lost
			check("relayed retransmission of the 200")
			caller.send(t, r.addr, c.request("ACK", c.ruri, "z9hG4bKack2xx", 1, "<"+dave+">;tag=wr1", nil))
			r.quiet(t)
		})
	}
}
