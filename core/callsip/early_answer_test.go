package callsip

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/push"
)

// A callee that answers the caller's offer in a reliable 183 (RFC 3262; VoLTE with preconditions
// does) sends its 200 without SDP, rightly (RFC 3261 §13.2.1: the offer was answered). Herald takes
// that 200 for the answer it is, and the call completes: before, Herald took it for a callee that
// failed the caller card's INVITE (a 200 without a session answer), ended it with ACK and BYE and
// sent the INVITE again without the card.
func TestSessionAnsweredInReliable183(t *testing.T) {
	r := newRig(t)
	m := newRigMessages(t)
	const dialog = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-rig-1;rport\r\n" +
		"From: <sip:alice@home1.net>;tag=a1\r\nCall-ID: rig-1@192.0.2.1\r\nCSeq: 1 INVITE\r\n"
	body := "--rb\r\nContent-Type: application/sdp\r\nContent-Disposition: session\r\n\r\n" +
		"v=0\r\no=bob 1 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" +
		"\r\n--rb\r\nContent-Type: application/sdp\r\nContent-Disposition: early-session\r\n\r\n" +
		"v=0\r\no=bob 1 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n" +
		"m=message 9 TCP/MSRP *\r\na=accept-types:text/html\r\na=path:msrp://192.0.2.2:9/bx;tcp\r\na=setup:active\r\n" +
		"\r\n--rb--\r\n"
	m.ringing = rigParse(t, "SIP/2.0 183 Session Progress\r\n"+dialog+"To: <sip:bob@home2.net>;tag=b1\r\n"+
		"Contact: <sip:bob@192.0.2.2:5060>\r\nRequire: 100rel\r\nRSeq: 1\r\nContent-Type: multipart/mixed;boundary=rb\r\n"+
		"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body).(*sip.Response)
	m.ok = rigParse(t, "SIP/2.0 200 OK\r\n"+dialog+"To: <sip:bob@home2.net>;tag=b1\r\n"+
		"Contact: <sip:bob@192.0.2.2:5060>\r\nContent-Length: 0\r\n\r\n").(*sip.Response)

	c := New(r.env, m.invite, r.stx, "rig-1@192.0.2.1", "h1", time.Now())
	go c.Run(r.end)
	tx := <-r.host.tx
	<-tx.set
	r.plane.session(0).NotifyBound()
	r.plane.session(0).Report(push.Result{Outcome: push.Delivered})
	drained(c)
	tx.passUp(m.ringing)
	drained(c)
	tx.passUp(m.ok)
	select {
	case <-r.ended:
	case tx2 := <-r.host.tx:
		t.Fatalf("the INVITE sent again (%v): the 200 without SDP taken for a failed caller card", tx2)
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not end after the callee's 200")
	}
	for len(r.stx.resp) > 0 {
		if res := <-r.stx.resp; res.StatusCode >= 300 || strings.Contains(res.Reason, "Error") {
			t.Fatalf("the caller got %d %s", res.StatusCode, res.Reason)
		}
	}
	if len(r.host.tx) != 0 {
		t.Fatal("the INVITE was sent again")
	}
}
