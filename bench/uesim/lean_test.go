package uesim

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const leanInvite = "INVITE sip:bob@callee.load SIP/2.0\r\n" +
	"v: SIP/2.0/UDP 127.0.0.1:17070;branch=z9hG4bKh1, SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKc1;rport=5062\r\n" +
	"Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKc0\r\n" +
	"f: <sip:alice@caller.load>;tag=a1\r\n" +
	"t: <sip:bob@callee.load>\r\n" +
	"i: cid-1@lean\r\n" +
	"CSeq: 7 INVITE\r\n" +
	"m: \"Alice\" <sip:alice@10.0.0.1:5062;transport=udp>;expires=60\r\n" +
	"k: timer, 100rel\r\n" +
	"Record-Route: <sip:p2.load;lr>, <sip:p1.load;lr>\r\n" +
	"c: application/sdp\r\n" +
	"l: 5\r\n\r\nv=0\r\ntrailing"

// TestLeanParse: the lean terminals' SIP reader takes compact header names (RFC 3261 §7.3.3),
// several Via values in one header and across headers, name-addr Contacts, option tags, and
// bounds the body by Content-Length.
func TestLeanParse(t *testing.T) {
	var m leanMsg
	if err := m.parse([]byte(leanInvite)); err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"method":    {m.method, "INVITE"},
		"ruri":      {string(m.ruri), "sip:bob@callee.load"},
		"vias":      {strings.Join(bytesStrings(m.vias), " | "), "SIP/2.0/UDP 127.0.0.1:17070;branch=z9hG4bKh1 | SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKc1;rport=5062 | SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKc0"},
		"from tag":  {string(leanParam(m.from, "tag")), "a1"},
		"call-id":   {string(m.callID), "cid-1@lean"},
		"contact":   {string(m.contact), "sip:alice@10.0.0.1:5062;transport=udp"},
		"rr":        {strings.Join(bytesStrings(m.recRoutes), " | "), "<sip:p2.load;lr> | <sip:p1.load;lr>"},
		"body":      {string(m.body), "v=0\r\n"},
		"branch":    {string(leanParam(m.vias[0], "branch")), "z9hG4bKh1"},
		"content-t": {string(m.ctype), "application/sdp"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if m.cseq != 7 || !m.isReq || !leanOption(m.options, "100rel") || leanOption(m.options, "199") {
		t.Errorf("cseq %d req %v options %q", m.cseq, m.isReq, m.options)
	}
	if leanParam(m.to, "tag") != nil {
		t.Error("To has no tag")
	}
	var r leanMsg
	res := "SIP/2.0 183 Session Progress\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n" +
		"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nRequire: 100rel\r\nRSeq: 9\r\nContent-Length: 0\r\n\r\n"
	if err := r.parse([]byte(res)); err != nil || r.isReq || r.status != 183 || r.method != "INVITE" || r.rseq != 9 ||
		!leanOption(r.require, "100rel") || string(leanParam(r.to, "tag")) != "2" {
		t.Errorf("response: err %v %+v", err, r)
	}
}

// TestLeanParseRefuses: what the lean reader cannot act on is refused with an error, never read
// past its end.
func TestLeanParseRefuses(t *testing.T) {
	ok := "Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
	for name, in := range map[string]string{
		"no end of headers":       "INVITE sip:a@b SIP/2.0\r\n" + ok,
		"bad start line":          "INVITE sip:a@b\r\n" + ok + "\r\n",
		"bad status":              "SIP/2.0 99x Hm\r\n" + ok + "\r\n",
		"short status":            "SIP/2.0 2\r\n" + ok + "\r\n",
		"no Call-ID":              "INVITE sip:a@b SIP/2.0\r\n" + strings.Replace(ok, "Call-ID: x\r\n", "", 1) + "\r\n",
		"no Via":                  "INVITE sip:a@b SIP/2.0\r\n" + strings.Replace(ok, "Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\n", "", 1) + "\r\n",
		"bad CSeq":                "INVITE sip:a@b SIP/2.0\r\n" + strings.Replace(ok, "CSeq: 1 INVITE", "CSeq: one INVITE", 1) + "\r\n",
		"Content-Length too long": "INVITE sip:a@b SIP/2.0\r\n" + ok + "Content-Length: 10\r\n\r\nabc",
		"negative Content-Length": "INVITE sip:a@b SIP/2.0\r\n" + ok + "Content-Length: -1\r\n\r\n",
		"bad RSeq":                "SIP/2.0 183 OK\r\n" + ok + "RSeq: x\r\n\r\n",
	} {
		var m leanMsg
		if err := m.parse([]byte(in)); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
}

// TestLeanReplyTo: a response goes to the request's source when its top Via asks for rport (RFC
// 3581), else to the source IP and the Via's sent-by port, 5060 when it names none (RFC 3261
// §18.2.2).
func TestLeanReplyTo(t *testing.T) {
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	for via, want := range map[string]string{
		"SIP/2.0/UDP 127.0.0.1:17070;branch=z9hG4bK1;rport": "127.0.0.1:40000",
		"SIP/2.0/UDP 127.0.0.1:17070;rport;branch=z9hG4bK1": "127.0.0.1:40000",
		"SIP/2.0/UDP 127.0.0.1:17070;branch=z9hG4bK1":       "127.0.0.1:17070",
		"SIP/2.0/UDP herald.load;branch=z9hG4bK1":           "127.0.0.1:5060",
	} {
		m := leanMsg{vias: [][]byte{[]byte(via)}}
		if got := leanReplyTo(&m, src).String(); got != want {
			t.Errorf("%s: %s, want %s", via, got, want)
		}
	}
}

func bytesStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// TestLeanDirectCall: a Lean pair calls its own callee side: the 180 is reliable (the INVITE
// supports 100rel) and PRACKed, the 200 ACKed, the BYE answered, and both sides report.
func TestLeanDirectCall(t *testing.T) {
	l := newTestLean(t, LeanOptions{RingTime: 20 * time.Millisecond, FetchTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := l.Call(ctx, l.CalleeAddr(), "sip:alice@caller.load", "sip:bob@callee.load")
	if r.Err != nil || r.Caller.Final != 200 || r.Caller.Timings.FirstProvisional <= 0 {
		t.Fatalf("caller: err %v final %d timings %+v", r.Err, r.Caller.Final, r.Caller.Timings)
	}
	ce := r.Callee
	if ce == nil || !ce.Pracked || !ce.Acked || !ce.Bye || ce.Final != 200 || ce.Err != nil || ce.EarlyOffered {
		t.Fatalf("callee: %+v", ce)
	}
	if n := l.Refused.Load() + l.Unmatched.Load(); n != 0 {
		t.Errorf("%d datagrams refused or unmatched", n)
	}
}

// lossyRelay forwards datagrams between the first address that writes to it and to, dropping the
// first copy of every distinct start line per Call-ID-less key (the first INVITE, the first 180,
// the first 200...): each must be recovered by a retransmission.
type lossyRelay struct {
	pc      net.PacketConn
	mu      sync.Mutex
	seen    map[string]bool
	dropped int
}

func newLossyRelay(t *testing.T, to string) *lossyRelay {
	t.Helper()
	pc := listenUDP(t)
	dst, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	r := &lossyRelay{pc: pc, seen: map[string]bool{}}
	go func() {
		var back net.Addr
		b := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			line, _, _ := strings.Cut(string(b[:n]), "\r\n")
			r.mu.Lock()
			drop := !r.seen[line]
			r.seen[line] = true
			if drop {
				r.dropped++
			}
			r.mu.Unlock()
			out := net.Addr(dst)
			if from.String() == dst.String() {
				out = back
			} else {
				back = from
			}
			if !drop && out != nil {
				_, _ = pc.WriteTo(b[:n], out)
			}
		}
	}()
	return r
}

// TestLeanRetransmits: with the first copy of every message between caller and callee lost, the
// call still completes: Timer A resends the INVITE, the callee resends its reliable 180 until the
// PRACK (RFC 3262 §3) and its 200 until the ACK (RFC 3261 §13.3.1.4).
func TestLeanRetransmits(t *testing.T) {
	l := newTestLean(t, LeanOptions{RingTime: -1, FetchTimeout: time.Second, T1: 50 * time.Millisecond})
	relay := newLossyRelay(t, l.CalleeAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := l.Call(ctx, relay.pc.LocalAddr().String(), "sip:alice@caller.load", "sip:bob@callee.load")
	if r.Err != nil || r.Caller.Final != 200 {
		t.Fatalf("caller: err %v final %d", r.Err, r.Caller.Final)
	}
	if ce := r.Callee; ce == nil || !ce.Pracked || !ce.Acked || !ce.Bye {
		t.Fatalf("callee: %+v", r.Callee)
	}
	relay.mu.Lock()
	defer relay.mu.Unlock()
	if relay.dropped < 3 { // INVITE, 180, 200 at least
		t.Errorf("relay dropped %d datagrams, want the first INVITE, 180 and 200", relay.dropped)
	}
}

// TestLeanTimesOut: a target that never answers ends the call at Timer B with ErrTimeout and no
// final status; the callee side is not waited for.
func TestLeanTimesOut(t *testing.T) {
	l := newTestLean(t, LeanOptions{T1: 5 * time.Millisecond})
	pc := listenUDP(t)
	r := l.Call(context.Background(), pc.LocalAddr().String(), "sip:alice@caller.load", "sip:bob@callee.load")
	if !errors.Is(r.Err, ErrTimeout) || r.Caller.Final != 0 || r.Callee != nil {
		t.Fatalf("err %v final %d callee %+v, want a timeout", r.Err, r.Caller.Final, r.Callee)
	}
}

// TestLeanSecondInvite: the lean callee takes a second INVITE in one Call-ID once the first
// exchange is over (Herald's resend without the caller card's part after a broken answer) as a new
// call with a new To-tag; a retransmission gets the last response again; an INVITE with yet another
// branch while the second is in progress is a merged request (RFC 3261 §8.2.2.2: 482).
func TestLeanSecondInvite(t *testing.T) {
	l := newTestLean(t, LeanOptions{RingTime: -1, T1: 50 * time.Millisecond})
	pc := listenUDP(t)
	callee, err := net.ResolveUDPAddr("udp", l.CalleeAddr())
	if err != nil {
		t.Fatal(err)
	}
	me := pc.LocalAddr().String()
	req := func(method, branch, toTag string, cseq int) {
		to := "<sip:bob@callee.load>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		b := method + " sip:bob@callee.load SIP/2.0\r\nVia: SIP/2.0/UDP " + me + ";branch=" + branch + "\r\n" +
			"From: <sip:alice@caller.load>;tag=a1\r\nTo: " + to + "\r\nCall-ID: second-invite@test\r\n" +
			"CSeq: " + strconv.Itoa(cseq) + " " + method + "\r\nContact: <sip:h@" + me + ">\r\nContent-Length: 0\r\n\r\n"
		if _, err := pc.WriteTo([]byte(b), callee); err != nil {
			t.Fatal(err)
		}
	}
	// final waits for a response with status code to method, skipping others.
	final := func(code int, method string) *leanMsg {
		t.Helper()
		buf := make([]byte, 65536)
		for {
			_ = pc.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("waiting for %d to %s: %v", code, method, err)
			}
			m := &leanMsg{}
			if err := m.parse(bytes.Clone(buf[:n])); err != nil {
				t.Fatal(err)
			}
			if m.status == code && m.method == method {
				return m
			}
		}
	}
	req("INVITE", "z9hG4bKa", "", 1)
	first := string(leanParam(final(200, "INVITE").to, "tag"))
	req("ACK", "z9hG4bKa2", first, 1)
	req("BYE", "z9hG4bKb", first, 2)
	final(200, "BYE")

	req("INVITE", "z9hG4bKc", "", 3)
	second := string(leanParam(final(200, "INVITE").to, "tag"))
	if second == "" || second == first {
		t.Fatalf("second exchange To-tag %q, first %q: want a new one", second, first)
	}
	req("INVITE", "z9hG4bKc", "", 3) // retransmission: the 200 again
	if again := string(leanParam(final(200, "INVITE").to, "tag")); again != second {
		t.Errorf("retransmission answered with tag %q, want %q", again, second)
	}
	req("INVITE", "z9hG4bKd", "", 4) // merged: the second exchange is not over
	final(482, "INVITE")
}

// newTestLean is a Lean pair closed when the test ends.
func newTestLean(t *testing.T, o LeanOptions) *Lean {
	t.Helper()
	l, err := NewLean(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// listenUDP is a UDP socket on loopback closed when the test ends.
func listenUDP(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}
