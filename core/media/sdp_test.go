package media

import (
	"errors"
	"testing"

	"github.com/herald-ims/herald/core/sdp"
)

// An IMS-style audio+video offer parsed by core/sdp: the audio line gets AMR-WB octet-aligned, the
// video line H.264, and an m=message line has no codec in common (answered with port 0 by the caller).
func TestChooseMediaFromSDP(t *testing.T) {
	offer := "v=0\r\no=ue 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
		"m=audio 49170 RTP/AVP 116 107 8 105\r\n" +
		"a=rtpmap:116 AMR-WB/16000/1\r\na=fmtp:116 mode-change-capability=2;max-red=0\r\n" +
		"a=rtpmap:107 AMR-WB/16000/1\r\na=fmtp:107 octet-align=1;mode-change-capability=2;max-red=0\r\n" +
		"a=rtpmap:105 telephone-event/16000\r\na=ptime:20\r\na=sendrecv\r\n" +
		"m=video 49172 RTP/AVPF 112\r\na=rtpmap:112 H264/90000\r\n" +
		"a=fmtp:112 profile-level-id=42C01F;packetization-mode=1;sprop-parameter-sets=Z0LAH9kA,aMuDyyA=\r\n" +
		"m=message 9 TCP/MSRP *\r\na=accept-types:text/html\r\n"
	s, err := sdp.Parse([]byte(offer))
	if err != nil {
		t.Fatal(err)
	}
	c := loadSampleClip(t)
	want := []struct {
		pt    uint8
		attrs []string
		err   error
	}{
		{pt: 116, attrs: []string{"rtpmap:116 AMR-WB/16000/1", "ptime:20"}},
		{pt: 112, attrs: []string{"rtpmap:112 H264/90000", "fmtp:112 profile-level-id=42c00d;packetization-mode=1"}},
		{err: ErrNoCommonCodec},
	}
	if len(s.Media) != len(want) {
		t.Fatalf("%d m-lines", len(s.Media))
	}
	for i, w := range want {
		ch, err := c.ChooseMedia(s.Media[i])
		if !errors.Is(err, w.err) {
			t.Fatalf("m-line %d: err = %v, want %v", i, err, w.err)
		}
		if w.err != nil {
			continue
		}
		var got []string
		for _, a := range ch.AnswerAttrs() {
			got = append(got, a.String())
		}
		if ch.PayloadType != w.pt || len(got) != len(w.attrs) {
			t.Fatalf("m-line %d: pt %d attrs %q, want %d %q", i, ch.PayloadType, got, w.pt, w.attrs)
		}
		for j := range got {
			if got[j] != w.attrs[j] {
				t.Errorf("m-line %d attr %d: %q, want %q", i, j, got[j], w.attrs[j])
			}
		}
	}
}
