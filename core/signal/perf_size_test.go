package signal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/herald-ims/herald/core/callsip"
	"github.com/herald-ims/herald/core/sipmsg"
)

// benchInvite is a plain-forwarding INVITE as Herald sends it: SIPp's uac_plain with Herald's Via and
// Record-Route added.
const benchInvite = "INVITE sip:dave@127.0.0.1:15070 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:15060;branch=z9hG4bK.herald1;rport\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:15080;branch=z9hG4bK-12345-1-0;received=127.0.0.1;rport=15080\r\n" +
	"Record-Route: <sip:127.0.0.1:15060;lr>\r\n" +
	"From: sipp <sip:dave@127.0.0.1:15080>;tag=12345SIPpTag001\r\n" +
	"To: <sip:dave@127.0.0.1:15070>\r\n" +
	"Call-ID: 1-12345@127.0.0.1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Contact: <sip:sipp@127.0.0.1:15080>\r\n" +
	"Max-Forwards: 69\r\n" +
	"Subject: Performance Test\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 129\r\n" +
	"\r\n" +
	"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

func parseRequest(tb testing.TB, raw []byte) *sip.Request {
	tb.Helper()
	msg, err := sip.NewParser().ParseSIP(raw)
	if err != nil {
		tb.Skipf("not parsed: %v", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		tb.Skip("not a request")
	}
	return req
}

// TestRequestSize: requestSize is exactly len(String()) for the bench INVITE, requests Herald builds
// (CANCEL, compact headers, no body) and every RFC 4475 torture request sipgo parses.
func TestRequestSize(t *testing.T) {
	tests := map[string]func(t *testing.T) *sip.Request{
		"plain invite": func(t *testing.T) *sip.Request { return parseRequest(t, []byte(benchInvite)) },
		"cancel built by herald": func(t *testing.T) *sip.Request {
			return callsip.CancelRequest(parseRequest(t, []byte(benchInvite)))
		},
		"compact headers": func(t *testing.T) *sip.Request {
			r := parseRequest(t, []byte(benchInvite))
			r.CompactHeaders = true
			return r
		},
		"no body": func(t *testing.T) *sip.Request {
			r := parseRequest(t, []byte(benchInvite))
			r.SetBody(nil)
			return r
		},
	}
	files, _ := filepath.Glob("testdata/torture/*.dat")
	if len(files) == 0 {
		t.Fatal("no torture messages in testdata/torture")
	}
	for _, f := range files {
		tests["torture "+filepath.Base(f)] = func(t *testing.T) *sip.Request {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			return parseRequest(t, raw)
		}
	}
	for name, mk := range tests {
		t.Run(name, func(t *testing.T) {
			r := mk(t)
			if got, want := sipmsg.RequestSize(r), len(r.String()); got != want {
				t.Fatalf("requestSize = %d, len(String()) = %d", got, want)
			}
		})
	}
}
