package sipmsg

import (
	"errors"
	"net/netip"
	"testing"

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
