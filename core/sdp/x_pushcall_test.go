package sdp

import (
	"strconv"
	"testing"
)

// The SDP work of one push call (the caller and the callee both have a card), done as core/call and
// core/callsip do it: the caller's INVITE offer (plain application/sdp), the caller card's
// early-session part added to it (RFC 3959), the callee's reliable 183 with its early-session answer
// stripped and read (RFC 5547 receiver), Herald's own inactive 183 answer, the callee card's UPDATE
// offer (RFC 3311) and the caller's answer to it, and the callee's 200.

// pushCallerOffer is a caller terminal's IMS audio offer (AMR-WB, PCMU, PCMA, telephone-event).
const pushCallerOffer = `v=0
o=caller 3724394400 3724394400 IN IP4 198.51.100.7
s=-
c=IN IP4 198.51.100.7
t=0 0
m=audio 49170 RTP/AVP 96 0 8 101
a=rtpmap:96 AMR-WB/16000
a=fmtp:96 mode-change-capability=2;max-red=0
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=ptime:20
a=sendrecv
`

// pushCalleeAnswer is the callee's session answer to pushCallerOffer (its 183's session part and its 200).
const pushCalleeAnswer = `v=0
o=- 3600507138 3600507138 IN IP4 10.1.2.3
s=-
c=IN IP4 10.1.2.3
t=0 0
m=audio 40000 RTP/AVP 96
a=rtpmap:96 AMR-WB/16000
a=fmtp:96 mode-change-capability=2;max-red=0
a=sendrecv
`

// pushUpdateAnswer is the caller's answer to Herald's UPDATE: its audio line as in Herald's early
// answer, and the callee card's m=message taken as an RFC 5547 receiver (RFC 4975 §8 a=path,
// RFC 6135 a=setup, RFC 6714 a=msrp-cema).
const pushUpdateAnswer = `v=0
o=- 3724394401 3724394401 IN IP4 198.51.100.7
s=-
c=IN IP4 198.51.100.7
t=0 0
m=audio 49170 RTP/AVP 96
a=rtpmap:96 AMR-WB/16000
a=inactive
m=message 9 TCP/MSRP *
a=recvonly
a=accept-types:text/html
a=path:msrp://198.51.100.7:9/Hq3n7Vb2Xc;tcp
a=setup:active
a=msrp-cema
a=file-selector:name:"callee-page.html" type:text/html size:9120 hash:sha-1:0A:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:9F
a=file-transfer-id:Q7w2Ls9x
`

// pushCall holds one push call's bodies as they arrive on the wire.
type pushCall struct {
	offer, answer, updAnswer []byte
	ct183                    string
	body183                  []byte // multipart/mixed: pushCalleeAnswer, then std93Early as early-session
	caller, callee           PushOffer
}

func newPushCall() *pushCall {
	card := func(name, id string) PushOffer {
		return PushOffer{
			Host: "192.0.2.10", Port: 2855, PathURI: "msrp://192.0.2.10:2855/" + id + ";tcp",
			AcceptTypes:  []string{"text/html"},
			FileSelector: FileSelector{Name: name, Type: "text/html", Size: 18432, Hash: fileHash},
			TransferID:   id[:10], Disposition: "render",
		}
	}
	return &pushCall{
		offer:     []byte(crlf(pushCallerOffer)),
		answer:    []byte(crlf(pushCalleeAnswer)),
		updAnswer: []byte(crlf(pushUpdateAnswer)),
		ct183:     TypeMultipart + ";boundary=b1f3a", body183: BuildMultipart("b1f3a", []Part{
			{ContentType: TypeSDP, Disposition: DispSession, Body: []byte(crlf(pushCalleeAnswer))},
			{ContentType: TypeSDP, Disposition: EarlySessionOptional, Body: []byte(crlf(std93Early))},
		}),
		caller: card("caller-card.html", "kX9r3Qz7Lp2Vw8Yt5Nc1"),
		callee: card("callee-page.html", "Zr8cV2nQ0wHs5Jk7Tb4E"),
	}
}

// run does the call's SDP work once and checks what it read.
func (c *pushCall) run(tb testing.TB) {
	const host, sessID = "192.0.2.10", 2890844526
	// The caller's INVITE (call.CheckCallerBody) and the caller card added to it (call.WithCallerCard).
	offer := c.parseSession(tb, TypeSDP, c.offer)
	early := NewSession("herald", host, sessID)
	early.Media = append(early.Media, c.caller.Media())
	ct, body, err := AddEarlySession(TypeSDP, c.offer, early.Marshal(), "herald-a1b2c3")
	if err != nil || len(body) <= len(c.offer) || ct == "" {
		tb.Fatalf("AddEarlySession: %q %v", ct, err)
	}
	// The callee's reliable 183: its early-session part stripped from what is relayed, and read
	// (callsip onResponse, call.EarlyAnswers).
	if _, _, stripped, err := StripEarlySession(c.ct183, c.body183); err != nil || !stripped {
		tb.Fatalf("StripEarlySession: %v %v", stripped, err)
	}
	_, eb, err := SplitBody(c.ct183, c.body183)
	if err != nil {
		tb.Fatal(err)
	}
	es, err := Parse(eb)
	if err != nil {
		tb.Fatal(err)
	}
	if info, err := es.Media[0].MSRP(); err != nil || !es.Media[0].IsMSRP() || info.Setup != "active" {
		tb.Fatalf("early-session answer: %+v %v", info, err)
	}
	// Herald's own early dialog answers the caller's offer inactive (call.EarlyAnswer, no ringback).
	ans := AnswerInactive(offer, host, sessID, func(_ int, m *Media) int {
		if m.Type == "message" {
			return 0
		}
		return 9
	})
	_ = ans.Marshal()
	// The callee card's UPDATE offer (call.UpdateOffer) and the caller's answer (call.UpdateAnswer).
	upd := *ans
	upd.Media = append([]*Media(nil), ans.Media...)
	ver, _ := strconv.ParseUint(upd.Origin.SessVersion, 10, 64)
	upd.Origin.SessVersion = strconv.FormatUint(ver+1, 10)
	upd.Media = append(upd.Media, c.callee.Media())
	_ = upd.Marshal()
	ua := c.parseSession(tb, TypeSDP, c.updAnswer)
	if info, err := ua.Media[1].MSRP(); err != nil || len(info.Path) != 1 {
		tb.Fatalf("UPDATE answer: %+v %v", info, err)
	}
	// The callee's 200 (call.SessionAnswered).
	if s := c.parseSession(tb, TypeSDP, c.answer); s.Media[0].Port == 0 {
		tb.Fatal("200 refuses the audio")
	}
}

// parseSession is SplitBody then Parse of the session part.
func (c *pushCall) parseSession(tb testing.TB, ct string, body []byte) *Session {
	session, _, err := SplitBody(ct, body)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := Parse(session)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkPushCallSDP is the SDP work of one push call (pushCall.run).
func BenchmarkPushCallSDP(b *testing.B) {
	c := newPushCall()
	b.ReportAllocs()
	for b.Loop() {
		c.run(b)
	}
}
