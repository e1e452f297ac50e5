package uesim

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sdp"
)

// fakeHerald plays Herald's caller leg for the Caller tests (3GPP TS 24.182 forking model): its own early
// dialog (reliable 183, P-Early-Media, ringback answer), then an UPDATE carrying the callee card
// push offer, then the callee's 180/200 on a second To-tag (forking model).
type fakeHerald struct {
	ep        *endpoint
	push      *pushServer // nil: the UPDATE offers no m=message
	page      []byte
	prack     chan *sip.Request
	ack       chan *sip.Request
	updateRes chan *sip.Response
}

func newFakeHerald(t *testing.T, push *pushServer, page []byte) *fakeHerald {
	t.Helper()
	h := &fakeHerald{push: push, page: page, prack: make(chan *sip.Request, 4), ack: make(chan *sip.Request, 4),
		updateRes: make(chan *sip.Response, 1)}
	ep, err := newEndpoint("herald", "caller", "", Link{}, nil, discard(), 64, func(srv *sipgo.Server) {
		srv.OnInvite(h.onInvite)
		srv.OnPrack(func(req *sip.Request, tx sip.ServerTransaction) {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
			h.prack <- req
		})
		srv.OnAck(func(req *sip.Request, _ sip.ServerTransaction) { h.ack <- req })
		srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	h.ep = ep
	if err := ep.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.close() })
	return h
}

func (h *fakeHerald) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason, tag string,
	body []byte, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, body)
	res.To().Params.Add("tag", tag)
	res.AppendHeader(h.ep.contact())
	for _, hd := range hdrs {
		res.AppendHeader(hd)
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	_ = tx.Respond(res)
}

func (h *fakeHerald) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	offer, err := sdp.Parse(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	crbt, _ := answerOffer(offer, "127.0.0.1", 1, 50000, false)
	for _, m := range crbt.Media {
		if m.Port != 0 {
			m.SetDirection(sdp.SendOnly)
		}
	}
	h.respond(req, tx, 183, "Session Progress", "ps-crbt-1", crbt.Marshal(),
		sip.NewHeader("Require", "100rel"), sip.NewHeader("RSeq", "501"),
		sip.NewHeader("P-Early-Media", "sendonly"),
		sip.NewHeader("Call-Info", "<https://127.0.0.1/h/abc.html>;purpose=info"),
		// Two proxies on the path: the caller's route set is their reverse (RFC 3261 §12.1.2).
		&sip.RecordRouteHeader{Address: sip.Uri{Scheme: "sip", Host: "10.0.0.99", Port: 5060,
			UriParams: sip.HeaderParams{{K: "lr", V: ""}}}},
		&sip.RecordRouteHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: h.ep.addr.Port,
			UriParams: sip.HeaderParams{{K: "lr", V: ""}}}})
	select {
	case <-h.prack:
	case <-time.After(3 * time.Second):
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "No PRACK", nil))
		return
	}

	// The media request message: UPDATE on Herald's early dialog.
	upd := sip.NewRequest(sip.UPDATE, req.Contact().Address)
	from := sip.FromHeader{Address: req.To().Address, Params: sip.HeaderParams{{K: "tag", V: "ps-crbt-1"}}}
	upd.AppendHeader(&from)
	to := sip.ToHeader{Address: req.From().Address, Params: req.From().Params.Clone()}
	upd.AppendHeader(&to)
	upd.AppendHeader(sip.HeaderClone(req.CallID()))
	upd.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.UPDATE})
	mf := sip.MaxForwardsHeader(70)
	upd.AppendHeader(&mf)
	upd.AppendHeader(h.ep.contact())
	upd.AppendHeader(sip.NewHeader("P-Early-Media", "sendonly"))
	upd.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if h.push != nil {
		crbt.AddMedia(sdp.PushOffer{
			Host: "127.0.0.1", Port: h.push.port(), PathURI: h.push.path(), AcceptTypes: []string{"text/html"},
			FileSelector: sdp.FileSelector{Name: "callee-page.html", Type: "text/html", Size: int64(len(h.page)),
				Hash: HashSelector(h.page)},
			TransferID: "Q7w2Ls9x", Disposition: "render",
		}.Media())
	}
	upd.SetBody(crbt.Marshal())
	upd.SetTransport("UDP")
	ures, err := h.ep.do(context.Background(), nil, upd)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "UPDATE failed", nil))
		return
	}
	h.updateRes <- ures
	if h.push != nil && !strings.Contains(string(ures.Body()), "m=message 0 ") {
		select {
		case <-h.push.done:
		case <-time.After(3 * time.Second):
		}
	}

	// The callee answers on its own To-tag.
	h.respond(req, tx, 180, "Ringing", "bob-77", nil)
	// sipgo handles each datagram in its own goroutine: a 200 right behind the 180 could overtake
	// it and close the client transaction's Proceeding state.
	time.Sleep(10 * time.Millisecond)
	ans, _ := answerOffer(offer, "127.0.0.1", 2, 60000, false)
	h.respond(req, tx, 200, "OK", "bob-77", ans.Marshal())
	select {
	case <-h.ack:
	case <-time.After(3 * time.Second):
	}
}

func TestCallerUpdatePush(t *testing.T) {
	page := testPage(9120)
	tests := map[string]struct {
		push      bool
		co        CallerOptions
		wantPage  bool
		wantLines []string // m= lines of the UPDATE answer
	}{
		"callee card pushed in UPDATE": {
			push: true, co: CallerOptions{Video: true}, wantPage: true,
			wantLines: []string{"m=audio 30000 RTP/AVP 0", "m=video 30002 RTP/AVP 98", "m=message 9 TCP/MSRP *"},
		},
		"UPDATE without m=message": {
			wantLines: []string{"m=audio 30000 RTP/AVP 0"},
		},
		"terminal rejects the push": {
			push: true, co: CallerOptions{RejectPush: true},
			wantLines: []string{"m=audio 30000 RTP/AVP 0", "m=message 0 TCP/MSRP *"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var push *pushServer
			if tc.push {
				push = newPushServer(t, page)
			}
			h := newFakeHerald(t, push, page)
			tb := &traceBuf{}
			tc.co.Trace, tc.co.Logger = tb.trace, discard()
			caller, err := NewCaller(tc.co)
			if err != nil {
				t.Fatal(err)
			}
			defer caller.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := caller.Call(ctx, h.ep.Addr(), "sip:alice@home1.net", "tel:+1-212-555-2222")
			if err != nil || res.Final != 200 {
				t.Fatalf("Call = %d, %v\n%s", res.Final, err, tb)
			}
			want := "s:INVITE r:183/INVITE s:PRACK r:200/PRACK r:UPDATE s:200/UPDATE r:180/INVITE r:200/INVITE s:ACK s:BYE r:200/BYE"
			if got := strings.Join(methods(res.Messages), " "); !sameFlow(methods(res.Messages), want) {
				t.Errorf("caller flow\n got %s\nwant %s", got, want)
			}
			if len(res.Dialogs) != 2 {
				t.Fatalf("dialogs = %+v", res.Dialogs)
			}
			herald, bob := res.Dialogs[0], res.Dialogs[1]
			if herald.ToTag != "ps-crbt-1" || herald.Reliable != 1 || herald.Pracked != 1 || herald.Updates != 1 ||
				herald.PEarlyMedia != "sendonly" || herald.Confirmed {
				t.Errorf("herald dialog = %+v", herald)
			}
			if bob.ToTag != "bob-77" || !bob.Confirmed || len(bob.Provisionals) != 1 || bob.Provisionals[0] != 180 {
				t.Errorf("callee dialog = %+v", bob)
			}
			for _, m := range res.Messages {
				if m.Request != nil && m.Method() == "PRACK" {
					var routes []string
					for _, r := range m.Request.GetHeaders("Route") {
						routes = append(routes, r.Value())
					}
					want := "<sip:127.0.0.1:" + strconv.Itoa(h.ep.addr.Port) + ";lr>|<sip:10.0.0.99:5060;lr>"
					if strings.Join(routes, "|") != want || !strings.HasPrefix(m.Request.Recipient.String(), "sip:herald@") {
						t.Errorf("PRACK R-URI %s routes %q, want Contact and %q", m.Request.Recipient.String(), routes, want)
					}
				}
			}
			if len(res.CallInfo) != 1 || !strings.Contains(res.CallInfo[0], "purpose=info") {
				t.Errorf("call-info = %q", res.CallInfo)
			}
			ures := <-h.updateRes
			ans, err := sdp.Parse(ures.Body())
			if err != nil {
				t.Fatalf("UPDATE answer: %v\n%s", err, ures.Body())
			}
			var lines []string
			for _, m := range ans.Media {
				lines = append(lines, "m="+m.Type+" "+strconv.Itoa(m.Port)+" "+m.Proto+" "+strings.Join(m.Formats, " "))
			}
			if strings.Join(lines, "|") != strings.Join(tc.wantLines, "|") {
				t.Errorf("UPDATE answer m-lines\n got %q\nwant %q", lines, tc.wantLines)
			}
			if ans.Media[0].Direction() != sdp.RecvOnly {
				t.Errorf("audio answer direction %s, want recvonly (ringback is sendonly)", ans.Media[0].Direction())
			}
			if !tc.wantPage {
				if len(res.Pages) != 0 || len(res.PageErrors) != 0 {
					t.Errorf("pages %d, errors %v", len(res.Pages), res.PageErrors)
				}
				return
			}
			info, err := ans.Media[len(ans.Media)-1].MSRP()
			if err != nil || info.Direction != sdp.RecvOnly || info.Setup != "active" || !info.CEMA ||
				info.TransferID != "Q7w2Ls9x" || info.FileSelector == nil {
				t.Errorf("m=message answer: %+v %v", info, err)
			}
			if string(res.Pages[CalleeCard]) != string(page) || res.Timings.PageDone <= 0 {
				t.Fatalf("callee card: %d bytes, errors %v", len(res.Pages[CalleeCard]), res.PageErrors)
			}
			_, resps, reports := push.wait(t)
			if resps != 5 || len(reports) != 1 || !strings.HasPrefix(reports[0], "000 200 OK") {
				t.Errorf("server saw %d chunk responses, reports %q", resps, reports)
			}
		})
	}
}
