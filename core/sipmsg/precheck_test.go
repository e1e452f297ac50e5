package sipmsg

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// req is a request with these header lines (CRLF added) and no body.
func req(start string, lines ...string) []byte {
	return []byte(start + "\r\n" + strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n")
}

var (
	via  = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKpc1"
	from = "From: <sip:erin@home1.net>;tag=f1"
	to   = "To: <sip:dave@home1.net>"
	cid  = "Call-ID: pc1@192.0.2.1"
	cseq = "CSeq: 1 INVITE"
)

// TestEarlyReject: what sipgo's transaction layer cannot key (no usable Via or CSeq) or would drop
// unanswered (a line that is no header) is answered 400 naming it, with the request's Via, From,
// To (given a tag), Call-ID and CSeq; an ACK, a response and every other request pass (nil).
func TestEarlyReject(t *testing.T) {
	inv := "INVITE sip:dave@home1.net SIP/2.0"
	for _, tc := range []struct {
		name   string
		msg    []byte
		reason string // "" passes
	}{
		{"valid", req(inv, via, from, to, cid, cseq), ""},
		{"no Via", req(inv, from, to, cid, cseq), "missing Via"},
		{"Via does not parse", req(inv, "Via: garbage", from, to, cid, cseq), "malformed Via"},
		{"compact v, second Via bad", req(inv, "v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", "Via: nonsense", from, to, cid, cseq), "malformed Via"},
		{"no CSeq", req(inv, via, from, to, cid), "missing CSeq"},
		{"CSeq does not parse", req(inv, via, from, to, cid, "CSeq: one INVITE"), "malformed CSeq"},
		{"a line without colon", req(inv, via, from, to, cid, cseq, "garbage line"), "malformed header line"},
		{"folded Via joins and parses", req(inv, "Via: SIP/2.0/UDP 192.0.2.1:5060", " ;branch=z9hG4bKf", from, to, cid, cseq), ""},
		{"ACK without Via: never answered", req("ACK sip:dave@home1.net SIP/2.0", from, to, cid, "CSeq: 1 ACK"), ""},
		{"a response", req("SIP/2.0 200 OK", from, to, cid, cseq), ""},
		{"not a request line", req("INVITE sip:dave@home1.net SIP/3.0", from, to, cid, cseq), ""},
		{"no end of headers", []byte("INVITE sip:dave@home1.net SIP/2.0\r\n" + from), ""},
	} {
		res := EarlyReject(tc.msg)
		if tc.reason == "" {
			if res != nil {
				t.Errorf("%s: answered\n%s", tc.name, res)
			}
			continue
		}
		if res == nil {
			t.Errorf("%s: passed, want 400 (%s)", tc.name, tc.reason)
			continue
		}
		lines := strings.Split(string(res), "\r\n")
		if lines[0] != "SIP/2.0 400 Bad Request ("+tc.reason+")" {
			t.Errorf("%s: %q", tc.name, lines[0])
		}
		var gotTo string
		for _, l := range lines {
			if strings.HasPrefix(l, "To:") {
				gotTo = l
			}
		}
		if !strings.HasPrefix(gotTo, to+";tag=") || len(gotTo) <= len(to)+5 {
			t.Errorf("%s: To %q, want the request's with a tag", tc.name, gotTo)
		}
		if !strings.Contains(string(res), from+"\r\n") || !strings.Contains(string(res), cid+"\r\n") || !strings.HasSuffix(string(res), "Content-Length: 0\r\n\r\n") {
			t.Errorf("%s: From, Call-ID or Content-Length missing:\n%s", tc.name, res)
		}
	}
}

// TestListenerFraming: over a real TCP connection, the bytes arriving as networks deliver them (a
// keep-alive, a rejected and a valid request coalesced in one write, a valid one dribbled a byte per
// write), sipgo's side reads the keep-alive alone, then each valid message whole, one per Read;
// the rejected one is answered 400 on the connection and counted.
func TestListenerFraming(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var bad atomic.Uint64
	l := Listener{Listener: ln, Bad: &bad}
	defer func() { _ = l.Close() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sc.Close() }()
	good := func(n string) []byte {
		return req("OPTIONS sip:h SIP/2.0", "Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK"+n, from, to, "Call-ID: "+n, "CSeq: 1 OPTIONS")
	}
	noVia := req("OPTIONS sip:h SIP/2.0", from, to, cid, "CSeq: 1 OPTIONS")
	go func() {
		_, _ = c.Write([]byte("\r\n\r\n"))
		_, _ = c.Write(append(append([]byte(nil), noVia...), good("g1")...))
		for _, b := range good("g2") {
			_, _ = c.Write([]byte{b})
		}
	}()
	_ = sc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64<<10)
	for _, want := range [][]byte{[]byte("\r\n\r\n"), good("g1"), good("g2")} {
		n, err := sc.Read(buf)
		if err != nil || string(buf[:n]) != string(want) {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := bufio.NewReader(io.LimitReader(c, 1<<16)).ReadString('\n')
	if err != nil || status != "SIP/2.0 400 Bad Request (missing Via)\r\n" {
		t.Fatalf("answer %q, %v", status, err)
	}
	if bad.Load() != 1 {
		t.Fatalf("Bad %d, want 1", bad.Load())
	}
}

// countingPC counts how sipgo's UDP writes reach the socket.
type countingPC struct {
	net.PacketConn
	addrPort, writeTo int
}

func (c *countingPC) WriteTo(p []byte, _ net.Addr) (int, error) { c.writeTo++; return len(p), nil }

func (c *countingPC) WriteToUDPAddrPort(p []byte, _ netip.AddrPort) (int, error) {
	c.addrPort++
	return len(p), nil
}

func (c *countingPC) ReadFrom([]byte) (int, net.Addr, error) { return 0, nil, net.ErrClosed }

// The wrappers Herald puts around the UDP socket it hands sipgo keep sipgo's write to an address
// and port (no address parsed and allocated per datagram); before, their embedded net.PacketConn
// hid the method and every response to a UDP caller took sipgo's slower fallback. A socket without
// the method still gets the datagram, through WriteTo.
func TestWrappersKeepAddrPortWrite(t *testing.T) {
	req, err := sip.ParseMessage([]byte("OPTIONS sip:h@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-w1;rport\r\nFrom: <sip:a@x>;tag=1\r\n" +
		"To: <sip:h@x>\r\nCall-ID: w1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.SetSource("127.0.0.1:5062")
	res := sip.NewResponseFromRequest(req.(*sip.Request), 200, "OK", nil)
	var bad atomic.Uint64
	for _, c := range []struct {
		name string
		wrap func(net.PacketConn) net.PacketConn
	}{
		{"PacketConn", func(pc net.PacketConn) net.PacketConn { return PacketConn{PacketConn: pc, Bad: &bad} }},
		{"FirstRead", func(pc net.PacketConn) net.PacketConn { return &FirstRead{PacketConn: pc, Ready: func() {}} }},
		{"FirstRead(PacketConn)", func(pc net.PacketConn) net.PacketConn {
			return &FirstRead{PacketConn: PacketConn{PacketConn: pc, Bad: &bad}, Ready: func() {}}
		}},
	} {
		under := &countingPC{}
		conn := &sip.UDPConnection{PacketConn: c.wrap(under)}
		if err := conn.WriteMsg(res); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if under.addrPort != 1 || under.writeTo != 0 {
			t.Errorf("%s: WriteToUDPAddrPort %d, WriteTo %d; want 1, 0", c.name, under.addrPort, under.writeTo)
		}
	}
	// A socket without WriteToUDPAddrPort: WriteTo, with the same address.
	plain := &writeToOnly{}
	if _, err := WriteToAddrPort(plain, []byte("x"), netip.MustParseAddrPort("127.0.0.1:5062")); err != nil || plain.to != "127.0.0.1:5062" {
		t.Errorf("fallback: wrote to %q (%v), want 127.0.0.1:5062", plain.to, err)
	}
}

type writeToOnly struct {
	net.PacketConn
	to string
}

func (w *writeToOnly) WriteTo(p []byte, a net.Addr) (int, error) {
	w.to = a.String()
	return len(p), nil
}
