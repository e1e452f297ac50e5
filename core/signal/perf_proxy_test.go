package signal

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sipmsg"
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

// TestForwardCopy: the forwarded copy shares header values with the request but not its header
// list, its Max-Forwards or its start line, so the forwarding steps leave the server transaction's
// origin as it was received.
func TestForwardCopy(t *testing.T) {
	req := parseRequest(t, []byte(benchInvite))
	before := req.String()
	fwd := forwardCopy(req)
	if fwd.String() != before {
		t.Fatalf("copy differs:\n%s\nwant\n%s", fwd.String(), before)
	}
	fwd.RemoveHeader("Record-Route")
	fwd.PrependHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "herald", Port: 5060,
		Params: sip.NewParams()})
	if err := sipgo.ClientRequestDecreaseMaxForward(nil, fwd); err != nil {
		t.Fatal(err)
	}
	fwd.Recipient.Host = "next.example"
	fwd.SetDestination("next.example:5060")
	fwd.SetBody([]byte("v=0\r\n"))
	if got := req.String(); got != before {
		t.Fatalf("origin changed:\n%s\nwant\n%s", got, before)
	}
	if mf := fwd.MaxForwards(); mf == nil || mf.Val() != 68 {
		t.Fatalf("forwarded Max-Forwards %v, want 68", mf)
	}
}

// TestHeaderParsersContactOnDemand: Contact is not parsed with the message (sipmsg.HeaderParsers) but
// sip.Message.Contact still returns it, and it is relayed as received.
func TestHeaderParsersContactOnDemand(t *testing.T) {
	p := sip.NewParser(sip.WithHeadersParsers(sipmsg.HeaderParsers()))
	m, err := p.ParseSIP([]byte(benchInvite))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*sip.Request)
	c := req.Contact()
	if c == nil || c.Address.User != "sipp" || c.Address.Port != 15080 {
		t.Fatalf("Contact() = %v", c)
	}
	if !strings.Contains(req.String(), "\r\nContact: <sip:sipp@127.0.0.1:15080>\r\n") {
		t.Fatalf("Contact not relayed as received:\n%s", req.String())
	}
	if req.From() == nil || req.To() == nil || req.Via() == nil || req.CSeq() == nil {
		t.Fatal("a header Herald and sipgo read is no longer parsed")
	}
}
