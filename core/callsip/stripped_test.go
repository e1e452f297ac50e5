package callsip

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

const strippedOK = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKue7\r\n" +
	"From: <sip:alice@home1.net>;tag=a\r\nTo: <sip:dave@home1.net>;tag=d\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n" +
	"Contact: <sip:dave@192.0.2.9>\r\nContent-Type: multipart/mixed;boundary=b1\r\nContent-Length: %d\r\n\r\n%s"

const strippedBody = "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=d 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\r\n" +
	"--b1\r\nContent-Type: application/sdp\r\nContent-Disposition: early-session\r\n\r\nv=0\r\no=d 2 2 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\na=path:msrp://192.0.2.9:9/s;tcp\r\n\r\n--b1--\r\n"

func strippedMsg(callID string) []byte {
	return fmt.Appendf(nil, strippedOK, callID, len(strippedBody), strippedBody)
}

// TestStripped: a 2xx relayed statelessly loses the callee's early-session answer only for a call
// whose first 2xx Herald relayed without it, and only for 64·T1 (its Timer M, RFC 6026); every
// other 2xx, a plain call's with its caller's own early-session exchange included, leaves as it came.
func TestStripped(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewStripped(32 * time.Second)
	s.now = func() time.Time { return now }
	s.note("card-call")

	msg := strippedMsg("card-call")
	out := s.Bytes([]byte("card-call"), msg)
	m, err := sip.ParseMessage(out)
	if err != nil {
		t.Fatalf("the stripped 2xx does not parse: %v\n%s", err, out)
	}
	res := m.(*sip.Response)
	if ct := contentType(res); ct != "application/sdp" || strings.Contains(string(res.Body()), "early-session") ||
		!strings.Contains(string(res.Body()), "m=audio 4000") {
		t.Fatalf("noted call: Content-Type %q, body %q; want the session answer alone:\n%s", ct, res.Body(), out)
	}
	if cl := res.ContentLength(); cl == nil || int(*cl) != len(res.Body()) {
		t.Fatalf("noted call: Content-Length %v for a body of %d bytes", cl, len(res.Body()))
	}

	plain := strippedMsg("plain-call")
	if got := s.Bytes([]byte("plain-call"), plain); string(got) != string(plain) {
		t.Fatalf("a call never noted was rewritten:\n%s", got)
	}
	var none *Stripped
	if got := none.Bytes([]byte("card-call"), msg); string(got) != string(msg) || none.Response(res) {
		t.Fatal("a nil Stripped rewrote a 2xx")
	}

	// Hostile or broken input under a noted Call-ID leaves as it came, whole: bytes sipgo cannot
	// parse, a request, a non-2xx, a multipart body whose boundary never closes.
	for name, in := range map[string][]byte{
		"garbage":        []byte("\x00\xffSIP/2.0 200\r\n\r\n"),
		"truncated":      msg[:len(msg)/2],
		"request":        []byte("BYE sip:a@x SIP/2.0\r\nVia: SIP/2.0/UDP x;branch=z9hG4bK1\r\nCall-ID: card-call\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"),
		"486":            bytes.Replace(msg, []byte("200 OK"), []byte("486 Busy Here"), 1),
		"open multipart": bytes.Replace(msg, []byte("--b1--"), []byte("--b2--"), 1),
	} {
		if got := s.Bytes([]byte("card-call"), in); !bytes.Equal(got, in) {
			t.Fatalf("%s: rewritten to\n%q", name, got)
		}
	}

	now = now.Add(32 * time.Second)
	if got := s.Bytes([]byte("card-call"), msg); string(got) != string(msg) {
		t.Fatal("a call was still stripped after 64·T1")
	}
	s.note("next") // expires what is due
	if len(s.until) != 1 || len(s.queue)-s.head != 1 {
		t.Fatalf("after expiry: %d calls, %d queued; want the new one alone", len(s.until), len(s.queue)-s.head)
	}
}
