package sdp

import (
	"reflect"
	"testing"
)

func TestAnswerInactivePCMU(t *testing.T) {
	offer := mustParse(t, crlf(pcmuOffer))
	var calls []int
	ans := AnswerInactive(offer, "192.0.2.11", 7, func(i int, m *Media) int {
		calls = append(calls, i)
		return 40000
	})
	want := crlf(`v=0
o=- 7 7 IN IP4 192.0.2.11
s=-
c=IN IP4 192.0.2.11
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=inactive
`)
	if got := string(ans.Marshal()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !reflect.DeepEqual(calls, []int{0}) {
		t.Errorf("portFor calls = %v", calls)
	}
}

func TestAnswerInactiveAudioVideoPreconditions(t *testing.T) {
	offer := mustParse(t, crlf(imsOffer))
	ans := AnswerInactive(offer, "2001:db8::11", 9, func(i int, m *Media) int { return 40000 + 2*i })
	want := crlf(`v=0
o=- 9 9 IN IP6 2001:db8::11
s=-
c=IN IP6 2001:db8::11
t=0 0
m=audio 40000 RTP/AVP 97
a=rtpmap:97 AMR-WB/16000/1
a=fmtp:97 mode-change-capability=2;max-red=0
a=curr:qos local sendrecv
a=curr:qos remote none
a=des:qos mandatory remote sendrecv
a=des:qos optional local sendrecv
a=inactive
m=video 40002 RTP/AVP 98
a=rtpmap:98 H264/90000
a=fmtp:98 profile-level-id=42C01F;packetization-mode=1;sprop-parameter-sets=Z0LAH9oFB+hAAAADAEAAAA8jxgyo,aM4G4g==
a=curr:qos local sendrecv
a=curr:qos remote none
a=des:qos mandatory remote sendrecv
a=des:qos optional local recv
a=inactive
`)
	if got := string(ans.Marshal()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAnswerInactiveMessageAndRejects(t *testing.T) {
	// Herald's UPDATE offer (claim 4): video, audio, message. The video line is rejected
	// by portFor, the message line always.
	offer := mustParse(t, crlf(std94Update))
	offer.Media[1].Port = 40000
	var calls []int
	ans := AnswerInactive(offer, "192.0.2.20", 1, func(i int, m *Media) int {
		calls = append(calls, i)
		if m.Type == "video" {
			return 0
		}
		return 50000
	})
	want := crlf(`v=0
o=- 1 1 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=video 0 RTP/AVP 98
m=audio 50000 RTP/AVP 97
a=rtpmap:97 AMR-WB/16000
a=inactive
m=message 0 TCP/MSRP *
`)
	if got := string(ans.Marshal()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !reflect.DeepEqual(calls, []int{0, 1}) {
		t.Errorf("portFor calls = %v, want [0 1]", calls)
	}
	// A line the offerer disabled stays disabled without asking portFor.
	offer.Media[1].Port = 0
	calls = nil
	ans = AnswerInactive(offer, "192.0.2.20", 1, func(i int, m *Media) int { calls = append(calls, i); return 1 })
	if ans.Media[1].Port != 0 || len(ans.Media[1].Attrs) != 0 || !reflect.DeepEqual(calls, []int{0}) {
		t.Errorf("disabled line answered: %+v calls %v", ans.Media[1], calls)
	}
	if len(ans.Media) != len(offer.Media) {
		t.Errorf("answer has %d m-lines, offer %d", len(ans.Media), len(offer.Media))
	}
}

func TestAnswerInactiveE2EPrecondition(t *testing.T) {
	offer := mustParse(t, crlf(`v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
t=0 0
m=audio 4000 RTP/AVP 0
a=curr:qos e2e send
a=des:qos mandatory e2e sendrecv
`))
	ans := AnswerInactive(offer, "192.0.2.2", 1, func(int, *Media) int { return 4002 })
	want := []string{"qos e2e recv"}
	if got := ans.Media[0].AttrAll("curr"); !reflect.DeepEqual(got, want) {
		t.Errorf("curr = %q, want %q", got, want)
	}
	if got := ans.Media[0].AttrAll("des"); !reflect.DeepEqual(got, []string{"qos mandatory e2e sendrecv"}) {
		t.Errorf("des = %q", got)
	}
}
