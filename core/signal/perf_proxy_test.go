package signal

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestInDialogTelTarget: an in-dialog request whose Request-URI is a tel: URI and that has no Route
// left (SIPp sends one when it lost the dialog's Contact) is answered 416 at once, without the DNS
// SRV lookup of an empty host that used to hold it for hundreds of milliseconds.
func TestInDialogTelTarget(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	h := startHerald(t, st, "127.0.0.1:9", nil)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := map[string]struct {
		id, route string
		want      string
	}{
		"tel target, only herald's route": {id: "tel1", route: "Route: <sip:127.0.0.1:" + h.addr[strings.LastIndexByte(h.addr, ':')+1:] + ";lr>\r\n", want: "SIP/2.0 416 "},
		"tel target, no route":            {id: "tel2", want: "SIP/2.0 416 "},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			bye := "BYE tel:+12125554444 SIP/2.0\r\n" +
				"Via: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bK-" + tc.id + "\r\n" +
				tc.route +
				"Max-Forwards: 70\r\nFrom: <sip:dave@home1.net>;tag=a\r\nTo: <tel:+12125554444>;tag=b\r\n" +
				"Call-ID: " + tc.id + "\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
			dst, _ := net.ResolveUDPAddr("udp", h.addr)
			start := time.Now()
			if _, err := conn.WriteTo([]byte(bye), dst); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4096)
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if got := string(buf[:n]); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("answer %q, want %q", firstLine(buf[:n]), tc.want)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Fatalf("answered after %v", d)
			}
		})
	}
}
