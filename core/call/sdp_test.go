package call

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/sdp"
)

const (
	offerHead = "v=0\r\no=alice 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
	lPCMU     = "m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	lOpus     = "m=audio 49170 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
	lVideoVP8 = "m=video 49172 RTP/AVP 100\r\na=rtpmap:100 VP8/90000\r\n"
	lMSRP     = "m=message 9 TCP/MSRP *\r\na=path:msrp://198.51.100.7:9/x;tcp\r\n"
)

func parse(t *testing.T, s string) *sdp.Session {
	t.Helper()
	sess, err := sdp.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

func wavClip(t *testing.T) *media.Clip {
	t.Helper()
	c := &media.Clip{Name: "tone"}
	b, err := fs.ReadFile(configs.Clips, "ringback-8k.wav")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadWAV(b); err != nil {
		t.Fatal(err)
	}
	return c
}

func pushLine() *sdp.Media {
	return sdp.PushOffer{Host: "192.0.2.10", Port: 2855, PathURI: "msrp://192.0.2.10:2855/s1;tcp", AcceptTypes: []string{"text/html"},
		FileSelector: sdp.FileSelector{Name: "card.html", Type: "text/html", Size: 10, Hash: "sha-1:00"}, TransferID: "t1",
		Disposition: "render"}.Media()
}

// TestEarlyAnswer proves the answer on Herald's own early dialog (claims 2, 6): the line the clip
// serves in a codec the caller offered plays ringback sendonly in that codec only (TS 24.182
// Annex B a=content:g.3gpp.cat) on the port reserved for it, toward the caller's c= and port;
// lines it cannot serve get port 0; with no codec in common, no clip, or no port, every line is
// answered inactive and nothing is reserved (the call goes on without ringback).
func TestEarlyAnswer(t *testing.T) {
	clip := wavClip(t)
	tests := map[string]struct {
		offer    string
		clip     *media.Clip
		failPort bool
		want     []string // per m-line: "<port> <direction> <formats>", or "0" for a refused line
		lines    int
		failed   bool
	}{
		"claim 2: pcmu plays, msrp line refused":     {offer: lPCMU + lMSRP, clip: clip, want: []string{"40000 sendonly 0", "0"}, lines: 1},
		"claim 2: video it cannot serve gets port 0": {offer: lPCMU + lVideoVP8, clip: clip, want: []string{"40000 sendonly 0", "0"}, lines: 1},
		"claim 6: no codec in common: inactive":      {offer: lOpus, clip: clip, want: []string{"9 inactive 111"}},
		"no clip: every line inactive":               {offer: lPCMU + lMSRP, want: []string{"9 inactive 0", "0"}},
		"no port: inactive, reported":                {offer: lPCMU, clip: clip, failPort: true, want: []string{"9 inactive 0"}, failed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var asked []RingLine
			ans, lines, failed := EarlyAnswer(parse(t, offerHead+tc.offer), tc.clip, "192.0.2.10", "192.0.2.20", 7,
				func(l RingLine) (int, error) {
					asked = append(asked, l)
					if tc.failPort {
						return 0, errors.New("no port")
					}
					return 40000, nil
				})
			if len(ans.Media) != len(tc.want) {
				t.Fatalf("%d m-lines, want %d", len(ans.Media), len(tc.want))
			}
			for i, w := range tc.want {
				m := ans.Media[i]
				got := strings.Join(append([]string{strconv.Itoa(m.Port), m.Direction()}, m.Formats...), " ")
				if w == "0" && m.Port == 0 {
					continue
				}
				if got != w {
					t.Errorf("m-line %d: %s, want %s", i, got, w)
				}
			}
			if len(lines) != tc.lines || failed != tc.failed {
				t.Fatalf("%d lines (failed %t), want %d (%t)", len(lines), failed, tc.lines, tc.failed)
			}
			for _, l := range lines {
				if l.Dst.String() != "198.51.100.7:49170" || l.Choice.Track.Packets == nil {
					t.Errorf("ringback line %d to %s", l.Index, l.Dst)
				}
				if c, _ := ans.Media[l.Index].Attr("content"); c != "g.3gpp.cat" {
					t.Errorf("line %d lacks a=content:g.3gpp.cat", l.Index)
				}
			}
			wantConn := "192.0.2.10"
			if tc.lines > 0 {
				wantConn = "192.0.2.20"
			}
			if got := sdp.ConnAddr(ans.Conn); got != wantConn {
				t.Errorf("c= %s, want %s", got, wantConn)
			}
		})
	}
}

// TestUpdateOffer proves the media request message's offer (claims 1/4, 5/7): the m-lines of
// Herald's 183 answer in their places (RFC 3264 §8), the version one up, the callee card's push line
// last; the 183's answer itself is left as it was.
func TestUpdateOffer(t *testing.T) {
	cur := parse(t, "v=0\r\no=herald 7 3 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"+
		"m=audio 9 RTP/AVP 0\r\na=inactive\r\n")
	before := string(cur.Marshal())
	up := UpdateOffer(cur, "192.0.2.10", 7, pushLine())
	if len(up.Media) != 2 || up.Media[0].Type != "audio" || up.Media[1].Type != "message" || up.Origin.SessVersion != "4" {
		t.Fatalf("offer %s", up.Marshal())
	}
	if string(cur.Marshal()) != before {
		t.Fatal("the 183's answer was modified")
	}
	if info, err := up.Media[1].MSRP(); err != nil || info.FileSelector == nil || info.Setup != "actpass" {
		t.Fatalf("push line %+v, %v", info, err)
	}
	// Without a 183 answer (no offer in the INVITE): a session of its own with the push line alone.
	if up := UpdateOffer(nil, "192.0.2.10", 7, pushLine()); len(up.Media) != 1 || up.Media[0].Type != "message" {
		t.Fatalf("offer without an answer %s", up.Marshal())
	}
}

// TestCallerCardBody proves what the INVITE toward the callee carries (claims 1, 3; never break a
// call): the caller's SDP byte for byte as the session part plus the early-session part with the
// push line; bodies the part must not touch (multipart/signed, no SDP, malformed SDP) are refused.
func TestCallerCardBody(t *testing.T) {
	offer := []byte(offerHead + lPCMU)
	for name, tc := range map[string]struct {
		ct   string
		body []byte
		ok   bool
	}{
		"claim 3: an SDP offer":     {"application/sdp", offer, true},
		"claim 3: no body":          {"", nil, true}, // accepted, but there is no session to add to (below)
		"multipart/signed":          {`multipart/signed;protocol="application/pkcs7-signature";boundary=b`, []byte("--b\r\n\r\nx\r\n--b--\r\n"), false},
		"not SDP":                   {"application/unknownformat", []byte("<audio/>"), false},
		"malformed SDP is left be":  {"application/sdp", []byte("v=0\r\nbogus\r\n"), false},
		"SDP type without any body": {"application/sdp", nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := CheckCallerBody(tc.ct, tc.body)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckCallerBody: %v, want ok %t", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			ct, body, err := WithCallerCard(tc.ct, tc.body, "192.0.2.10", 9, pushLine(), "herald-b1")
			if len(tc.body) == 0 {
				if err == nil {
					t.Fatalf("early-session part added to an INVITE without an offer: %s", body)
				}
				return // forwarded untouched
			}
			if err != nil {
				t.Fatal(err)
			}
			session, early, err := sdp.SplitBody(ct, body)
			if err != nil || early == nil {
				t.Fatalf("no early-session part in %s: %v", ct, err)
			}
			if !bytes.Equal(session, tc.body) {
				t.Fatalf("the caller's offer changed:\n%s", session)
			}
			e := parse(t, string(early))
			if len(e.Media) != 1 || e.Media[0].Type != "message" || e.Media[0].Direction() != "sendonly" {
				t.Fatalf("early-session part %s", early)
			}
		})
	}
}

// TestResponseAnswers proves how the machine's facts are read from the answers (claims 1, 3, 4):
// whether a 2xx answers the caller's offer (no: the callee did not take the early-session part),
// the callee terminal's early-session answer (its MSRP line, for the caller card), and the
// caller's answer to the UPDATE (the m=message line declined, or taken with its a=path).
func TestResponseAnswers(t *testing.T) {
	answer := offerHead + "m=audio 30000 RTP/AVP 0\r\n"
	mixedCT, mixed, err := WithCallerCard("application/sdp", []byte(answer), "192.0.2.30", 3, pushLine(), "b2")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ct      string
		body    string
		session bool
		early   int
	}{
		"an answer":                             {"application/sdp", answer, true, 0},
		"every line refused":                    {"application/sdp", offerHead + "m=audio 0 RTP/AVP 0\r\n", false, 0},
		"no body":                               {"", "", false, 0},
		"malformed":                             {"application/sdp", "v=0\r\nbogus\r\n", false, 0},
		"claim 1: with an early-session answer": {mixedCT, string(mixed), true, 1},
	} {
		t.Run(name, func(t *testing.T) {
			if got := SessionAnswered(tc.ct, []byte(tc.body)); got != tc.session {
				t.Errorf("SessionAnswered %t, want %t", got, tc.session)
			}
			infos := EarlyAnswers(tc.ct, []byte(tc.body))
			if len(infos) != tc.early {
				t.Fatalf("%d early answers, want %d", len(infos), tc.early)
			}
			if tc.early > 0 && (len(infos[0].Path) != 1 || infos[0].Path[0] != "msrp://192.0.2.10:2855/s1;tcp") {
				t.Errorf("early answer path %v", infos[0].Path)
			}
		})
	}
	taken := offerHead + lPCMU + "m=message 40000 TCP/MSRP *\r\na=path:msrp://198.51.100.7:40000/c1;tcp\r\na=setup:active\r\n"
	if declined, infos := UpdateAnswer([]byte(taken)); declined || len(infos) != 1 || infos[0].Setup != "active" {
		t.Errorf("claim 4, taken: declined %t, %+v", declined, infos)
	}
	refused := offerHead + lPCMU + "m=message 0 TCP/MSRP *\r\n"
	if declined, infos := UpdateAnswer([]byte(refused)); !declined || infos != nil {
		t.Errorf("claim 4, m=message port 0: declined %t, %+v", declined, infos)
	}
	if declined, infos := UpdateAnswer([]byte("v=0\r\nbogus\r\n")); declined || infos != nil {
		t.Errorf("malformed answer: declined %t, %+v", declined, infos)
	}
}

// Ringback goes to one stream per media type, and only to an address a terminal can have: the
// caller's offer is the caller's to write, and 64 audio lines toward 0.0.0.0, loopback or a
// multicast group made Herald send 64 streams there (and hold 64 port pairs) for up to 3 minutes.
// Loopback is a terminal's address only in a lab where Herald's own RTP address is loopback too.
func TestEarlyAnswerTargets(t *testing.T) {
	clip := wavClip(t)
	line := func(c string, port int) string {
		return fmt.Sprintf("m=audio %d RTP/AVP 0\r\nc=IN IP4 %s\r\na=rtpmap:0 PCMU/8000\r\n", port, c)
	}
	for _, tc := range []struct {
		name, offer, rtpHost string
		dsts                 []string
	}{
		{"64 audio lines: one stream", strings.Repeat(lPCMU, 64), "192.0.2.20", []string{"198.51.100.7:49170"}},
		{"unspecified, multicast, link-local, broadcast, low port: none",
			line("0.0.0.0", 4000) + line("224.0.0.1", 4000) + line("169.254.1.1", 4000) + line("255.255.255.255", 4000) + line("198.51.100.7", 80),
			"192.0.2.20", nil},
		{"loopback from a real address: none", line("127.0.0.1", 4000), "192.0.2.20", nil},
		{"loopback in a lab: played", line("127.0.0.1", 4000), "127.0.0.1", []string{"127.0.0.1:4000"}},
		{"a refused line, then a good one", line("0.0.0.0", 4000) + line("198.51.100.9", 4002), "192.0.2.20", []string{"198.51.100.9:4002"}},
	} {
		_, lines, _ := EarlyAnswer(parse(t, offerHead+tc.offer), clip, "192.0.2.10", tc.rtpHost, 7,
			func(RingLine) (int, error) { return 40000, nil })
		var got []string
		for _, l := range lines {
			got = append(got, l.Dst.String())
		}
		if !slices.Equal(got, tc.dsts) {
			t.Errorf("%s: streams to %v, want %v", tc.name, got, tc.dsts)
		}
	}
}
