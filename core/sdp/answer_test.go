package sdp

import (
	"reflect"
	"slices"
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

// TestPreconditionFieldCounts: a=curr takes exactly three fields and a=des exactly four
// (RFC 3312 §5.1); a line with one more or one fewer is not answered.
func TestPreconditionFieldCounts(t *testing.T) {
	tests := map[string]struct {
		in   []Attr
		want []string
	}{
		"des 4": {[]Attr{{Key: "des", Value: "qos mandatory local sendrecv"}},
			[]string{"curr:qos local sendrecv", "curr:qos remote none", "des:qos mandatory remote sendrecv"}},
		"des 5":  {[]Attr{{Key: "des", Value: "qos mandatory local sendrecv extra"}}, nil},
		"des 3":  {[]Attr{{Key: "des", Value: "qos mandatory local"}}, nil},
		"curr 3": {[]Attr{{Key: "curr", Value: "qos e2e send"}}, []string{"curr:qos e2e recv"}},
		"curr 4": {[]Attr{{Key: "curr", Value: "qos e2e send x"}}, nil},
		"spaces": {[]Attr{{Key: "curr", Value: "  qos\te2e   none "}}, []string{"curr:qos e2e none"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, a := range answerPreconditions(tc.in) {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFieldsInto(t *testing.T) {
	var f [3]string
	for in, want := range map[string]int{"": 0, "  ": 0, "a": 1, " a  b\tc ": 3, "a b c d e": 5} {
		if n := fieldsInto(in, f[:]); n != want {
			t.Errorf("fieldsInto(%q) = %d, want %d", in, n, want)
		}
	}
	if fieldsInto(" IN IP4  192.0.2.1 ", f[:]); f != [3]string{"IN", "IP4", "192.0.2.1"} {
		t.Errorf("fields %q", f)
	}
	if n := testing.AllocsPerRun(100, func() { fieldsInto("IN IP4 192.0.2.1", f[:]) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
