package uesim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sdp"
)

// addEarlySession turns the caller's INVITE into what Herald forwards (RFC 3959): the
// caller's SDP as the session part plus an early-session part pushing the page of s.
func addEarlySession(s *pushServer, page []byte) func(*sip.Request) {
	return func(req *sip.Request) {
		early := sdp.NewSession("herald", "127.0.0.1", 77)
		early.AddMedia(sdp.PushOffer{
			Host: "127.0.0.1", Port: s.port(), PathURI: s.path(),
			AcceptTypes:  []string{"text/html"},
			FileSelector: sdp.FileSelector{Name: "caller-card.html", Type: "text/html", Size: int64(len(page)), Hash: HashSelector(page)},
			TransferID:   "vBnG0ZeBq7", Disposition: "render",
		}.Media())
		body := sdp.BuildMultipart("ps-b1", []sdp.Part{
			{ContentType: "application/sdp", Disposition: "session", Body: req.Body()},
			{ContentType: "application/sdp", Disposition: "early-session;handling=optional", Body: early.Marshal()},
		})
		req.RemoveHeader("Content-Type")
		req.AppendHeader(sip.NewHeader("Content-Type", "multipart/mixed;boundary=ps-b1"))
		req.SetBody(body)
	}
}

func TestCalleeEarlySession(t *testing.T) {
	page := testPage(9120)
	tests := map[string]struct {
		ce        CalleeOptions
		wantProv  int
		wantPage  bool
		wantSeq   string
		wantResps int
	}{
		"early-session answered, page fetched": {
			ce: CalleeOptions{RingTime: 20 * time.Millisecond}, wantProv: 183, wantPage: true, wantResps: 5,
			wantSeq: "s:INVITE r:183/INVITE s:PRACK r:200/PRACK r:200/INVITE s:ACK s:BYE r:200/BYE",
		},
		"early-session, no chunk responses, unreliable 183": {
			ce:       CalleeOptions{RingTime: 20 * time.Millisecond, No100rel: true, NoChunkResponses: true},
			wantProv: 183, wantPage: true, wantResps: 0,
			wantSeq: "s:INVITE r:183/INVITE r:200/INVITE s:ACK s:BYE r:200/BYE",
		},
		"early-session unsupported": {
			ce: CalleeOptions{RingTime: 20 * time.Millisecond, NoEarlySession: true}, wantProv: 180,
			wantSeq: "s:INVITE r:180/INVITE s:PRACK r:200/PRACK r:200/INVITE s:ACK s:BYE r:200/BYE",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			caller, callee, tb := newPair(t, CallerOptions{Video: true}, tc.ce)
			s := newPushServer(t, page)
			caller.inviteHook = addEarlySession(s, page)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := caller.Call(ctx, callee.Addr(), "sip:alice@home1.net", "tel:+1-212-555-2222")
			if err != nil || res.Final != 200 {
				t.Fatalf("Call = %d, %v\n%s", res.Final, err, tb)
			}
			if got := strings.Join(methods(res.Messages), " "); !sameFlow(methods(res.Messages), tc.wantSeq) {
				t.Errorf("caller flow\n got %s\nwant %s", got, tc.wantSeq)
			}
			cc, err := callee.WaitCall(ctx, res.CallID)
			if err != nil || cc.Err != nil {
				t.Fatalf("WaitCall: %v / %v", err, cc.Err)
			}
			if !cc.EarlyOffered || cc.EarlyAnswered != tc.wantPage {
				t.Errorf("early offered %v answered %v", cc.EarlyOffered, cc.EarlyAnswered)
			}
			if cc.Invite.Transport() != "TCP" {
				t.Errorf("a %d-byte INVITE came over %s, want TCP (RFC 3261 §18.1.1)", len(cc.InviteRaw), cc.Invite.Transport())
			}
			if !strings.Contains(string(cc.InviteRaw), "Content-Disposition: early-session;handling=optional") {
				t.Errorf("raw INVITE lacks the early-session part:\n%s", cc.InviteRaw)
			}
			if !tc.wantPage {
				if cc.Page != nil || cc.PageErr != nil {
					t.Errorf("page fetched although early-session is off: %d bytes, %v", len(cc.Page), cc.PageErr)
				}
				return
			}
			if cc.PageErr != nil || string(cc.Page) != string(page) {
				t.Fatalf("callee page: %d bytes, err %v\n%s", len(cc.Page), cc.PageErr, tb)
			}
			_, resps, reports := s.wait(t)
			if resps != tc.wantResps || len(reports) != 1 || !strings.HasPrefix(reports[0], "000 200 OK") {
				t.Errorf("server saw %d chunk responses, reports %q", resps, reports)
			}
			// The 183 as the caller received it (early-session part removed, RFC 3959).
			var p183 *Message
			for i := range res.Messages {
				if res.Messages[i].Status() == 183 {
					p183 = &res.Messages[i]
				}
			}
			if p183 == nil {
				t.Fatal("no 183 recorded")
			}
			t.Logf("INVITE %d bytes, 183 %d bytes", len(cc.InviteRaw), len(p183.Raw))
			if len(p183.Raw) > udpSizeLimit {
				t.Errorf("183 is %d bytes, above sipgo's UDP limit", len(p183.Raw))
			}
			sessPart, earlyPart, err := sdp.SplitBody(headerValue(p183.Response, "Content-Type"), p183.Response.Body())
			if err != nil || sessPart == nil || earlyPart == nil {
				t.Fatalf("183 body: %v\n%s", err, p183.Raw)
			}
			sess, err := sdp.Parse(sessPart)
			if err != nil || len(sess.Media) != 2 || sess.Media[0].Port == 0 || sess.Media[1].Type != "video" {
				t.Errorf("session answer: %v\n%s", err, sessPart)
			}
			es, err := sdp.Parse(earlyPart)
			if err != nil || len(es.Media) != 1 {
				t.Fatalf("early answer: %v\n%s", err, earlyPart)
			}
			info, err := es.Media[0].MSRP()
			if err != nil {
				t.Fatal(err)
			}
			if es.Media[0].Port != 9 || info.Direction != sdp.RecvOnly || info.Setup != "active" || !info.CEMA ||
				info.TransferID != "vBnG0ZeBq7" || info.FileSelector == nil ||
				info.FileSelector.Hash != HashSelector(page) || info.FileSelector.Size != int64(len(page)) ||
				!strings.HasPrefix(info.Path[0], "msrp://127.0.0.1:9/") {
				t.Errorf("early answer:\n%s", earlyPart)
			}
			if tc.ce.No100rel {
				return
			}
			if p183.Response.GetHeaders("RSeq") == nil || !hasOption(p183.Response, "100rel", "Require") {
				t.Errorf("183 not reliable:\n%s", p183.Raw)
			}
			rseq := headerValue(p183.Response, "RSeq")
			for _, m := range res.Messages {
				if m.Method() == "PRACK" && m.Request != nil {
					if got := headerValue(m.Request, "RAck"); got != rseq+" 1 INVITE" {
						t.Errorf("RAck = %q, want %q", got, rseq+" 1 INVITE")
					}
				}
			}
			if d := res.Dialogs; len(d) != 1 || d[0].Reliable != 1 || d[0].Pracked != 1 || !d[0].Confirmed {
				t.Errorf("dialogs = %+v", d)
			}
		})
	}
}
