package callsip

import (
	"strings"
	"testing"

	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sdp"
	msrpnet "github.com/herald-ims/herald/netio/msrp"
)

// The real plane verifies by fingerprint: applyAnswer's type assertion must not silently miss it.
var _ fingerprintConnector = (*msrpnet.Server)(nil)

// connectPlane records the Connect and ConnectFingerprint calls applyAnswer makes.
type connectPlane struct {
	tlsPlane
	calls *[]string // "connect <addr>" or "fingerprint <addr> <fps>"
}

func (p connectPlane) Connect(_ string, _ string, addr string) error {
	*p.calls = append(*p.calls, "connect "+addr)
	return nil
}

func (p connectPlane) ConnectFingerprint(_ string, _ string, addr string, fps []sdp.Fingerprint) error {
	s := make([]string, len(fps))
	for i, f := range fps {
		s[i] = f.String()
	}
	*p.calls = append(*p.calls, "fingerprint "+addr+" "+strings.Join(s, ","))
	return nil
}

// TestAnswerFingerprintReachesConnect: the a=fingerprint of a terminal's a=setup:passive answer (media
// or session level, RFC 8122 §5) is what the plane verifies the msrps connection by; an answer without
// one dials with CA verification (Connect).
func TestAnswerFingerprintReachesConnect(t *testing.T) {
	const fp = "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3A:12:34:56:78:9A:BC:DE:F0:12:34:56"
	const head = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
	const m = "m=message 7394 TCP/TLS/MSRP *\r\na=path:msrps://198.51.100.7:7394/t1;tcp\r\na=setup:passive\r\n"
	for _, tc := range []struct {
		name, sdp, want string
	}{
		{"media level", head + m + "a=fingerprint:" + fp + "\r\n", "fingerprint 198.51.100.7:7394 " + fp},
		{"session level", head + "a=fingerprint:" + strings.ToLower(fp) + "\r\n" + m, "fingerprint 198.51.100.7:7394 " + fp},
		{"none", head + m, "connect 198.51.100.7:7394"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, err := sdp.Parse([]byte(tc.sdp))
			if err != nil {
				t.Fatal(err)
			}
			info, err := ans.Media[0].MSRP()
			if err != nil {
				t.Fatal(err)
			}
			var calls []string
			c := &Call{env: testEnv(connectPlane{calls: &calls})}
			c.applyAnswer(&push.Session{ID: "ps-1"}, info)
			if len(calls) != 1 || calls[0] != tc.want {
				t.Fatalf("calls %q, want %q", calls, tc.want)
			}
		})
	}
}
