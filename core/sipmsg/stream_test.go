package sipmsg

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestTCPStreamWithoutConnection: before the transport layer is set, and toward a peer without a
// connection, the stream reports none and refuses the send with ErrNoConnection (the fast path then
// leaves the request to the general path, or counts the send error); nothing is dialled.
func TestTCPStreamWithoutConnection(t *testing.T) {
	to := netip.MustParseAddrPort("127.0.0.1:5060")
	traced := 0
	s := &TCPStream{Trace: func(string, string, string, []byte) { traced++ }}
	if s.Connected(to) || !errors.Is(s.Send([]byte("x"), to), ErrNoConnection) {
		t.Fatal("a stream without a transport layer sent or reported a connection")
	}
	s.Layer = sip.NewTransportLayer(nil, sip.NewParser(), nil)
	defer s.Layer.Close()
	if s.Connected(to) || !errors.Is(s.Send([]byte("x"), to), ErrNoConnection) {
		t.Fatal("a stream without a connection sent or reported one")
	}
	if traced != 0 {
		t.Fatalf("%d sends traced, none went", traced)
	}
}

// TestHeaderLines: the extra header lines of an answer, each ending in CRLF.
func TestHeaderLines(t *testing.T) {
	got := HeaderLines(sip.NewHeader("Require", "100rel"), sip.NewHeader("RSeq", "1"))
	if got != "Require: 100rel\r\nRSeq: 1\r\n" || HeaderLines() != "" {
		t.Fatalf("%q", got)
	}
}

// TestResponseVia: where RFC 3261 §18.2.2 sends a response whose request's connection failed: the
// top Via's received address, else its sent-by host, and the sent-by port (5060 by default); never a
// name (not resolved here) nor rport (the request's source port is the dead connection's).
func TestResponseVia(t *testing.T) {
	res := func(via string) []byte {
		return []byte("SIP/2.0 180 Ringing\r\nVia: " + via + "\r\nVia: SIP/2.0/TCP 192.0.2.9:5070;branch=z9hG4bK2\r\n" +
			"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	}
	for _, tc := range []struct {
		via  string
		want string // "" for none
	}{
		{"SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK1;rport=40000;received=198.51.100.7", "198.51.100.7:5062"},
		{"SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK1", "192.0.2.10:5062"},
		{"SIP/2.0/TCP 192.0.2.10;branch=z9hG4bK1", "192.0.2.10:5060"},
		{"SIP/2.0/TCP [2001:db8::10]:5062;branch=z9hG4bK1", "[2001:db8::10]:5062"},
		{"SIP/2.0/TCP pcscf.example.net:5062;branch=z9hG4bK1", ""},
	} {
		got, ok := responseVia(res(tc.via))
		if tc.want == "" && ok || tc.want != "" && (!ok || got.String() != tc.want) {
			t.Errorf("Via %q: %v %v, want %q", tc.via, got, ok, tc.want)
		}
	}
	if _, ok := responseVia([]byte("SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n")); ok {
		t.Error("a response without Via gave an address")
	}
}

// TestTCPStreamReconnect: a response to a peer without a connection goes on a new one to its Via's
// address, counted; one whose Via names no address, or beyond MaxReconnects in flight, is refused
// and counted as failed; a request is never sent that way.
func TestTCPStreamReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var sent, failed atomic.Uint64
	s := &TCPStream{Layer: sip.NewTransportLayer(nil, sip.NewParser(), nil), Reconnects: &sent, ReconnectFailed: &failed}
	defer s.Layer.Close()
	gone := netip.MustParseAddrPort("127.0.0.1:9") // the request's connection, closed
	res := []byte("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/TCP " + ln.Addr().String() + ";branch=z9hG4bK1\r\n" +
		"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	if err := s.Send([]byte("BYE sip:b@h SIP/2.0\r\n\r\n"), gone); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("a request without a connection: %v", err)
	}
	if err := s.Send(res, gone); err != nil {
		t.Fatal(err)
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(2 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("no new connection: %v", err)
	}
	defer c.Close()
	got := make([]byte, len(res))
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, res) {
		t.Fatalf("read %q, %v", got, err)
	}
	for deadline := time.Now().Add(2 * time.Second); sent.Load() != 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if sent.Load() != 1 || failed.Load() != 0 {
		t.Fatalf("sent %d, failed %d", sent.Load(), failed.Load())
	}
	if err := s.Send(bytes.Replace(res, []byte(ln.Addr().String()), []byte("pcscf.example.net"), 1), gone); !errors.Is(err, ErrNoConnection) || failed.Load() != 1 {
		t.Fatalf("a Via naming a host: %v, failed %d", err, failed.Load())
	}
	s.dialing.Store(MaxReconnects)
	if err := s.Send(res, gone); !errors.Is(err, ErrReconnects) || failed.Load() != 2 {
		t.Fatalf("beyond MaxReconnects: %v, failed %d", err, failed.Load())
	}
}

// TestForUpstream: the proxy's Via goes, the next stays; a response without Content-Length gets one
// of its body's length (0 without a body), one with it keeps it.
func TestForUpstream(t *testing.T) {
	p := sip.NewParser(sip.WithHeadersParsers(HeaderParsers()))
	for _, tc := range []struct{ in, wantCL string }{
		{"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKh\r\nVia: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKc\r\n" +
			"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n", "0"},
		{"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKh\r\nVia: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKc\r\n" +
			"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n", "5"},
		{"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKh\r\nVia: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKc\r\n" +
			"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 5\r\n\r\nv=0\r\n", "5"},
	} {
		m, err := p.ParseSIP([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		res := m.(*sip.Response)
		ForUpstream(res)
		out := res.String()
		if strings.Count(out, "Content-Length: ") != 1 || !strings.Contains(out, "Content-Length: "+tc.wantCL+"\r\n") ||
			strings.Contains(out, "10.0.0.1") || !strings.Contains(out, "Via: SIP/2.0/TCP 10.0.0.2") {
			t.Errorf("relayed:\n%s", out)
		}
	}
}
