package signal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/sdp"
	"github.com/herald-ims/herald/core/sipfast"
)

// checkPushOffer checks an SDP body whose last m-line is Herald's push offer of page (RFC 4975,
// RFC 5547, RFC 6714) and returns it.
func checkPushOffer(t *testing.T, where string, body []byte, page *content.Page) *sdp.Session {
	t.Helper()
	s, err := sdp.Parse(body)
	if err != nil {
		t.Fatalf("%s: SDP: %v\n%s", where, err, body)
	}
	m := s.Media[len(s.Media)-1]
	if m.Type != "message" || m.Proto != "TCP/MSRP" || m.Direction() != "sendonly" || m.Port == 0 {
		t.Fatalf("%s: last m-line %s %d %s %s, want message TCP/MSRP sendonly", where, m.Type, m.Port, m.Proto, m.Direction())
	}
	info, err := m.MSRP()
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if info.FileSelector == nil || !strings.EqualFold(info.FileSelector.Hash, page.HashSelector()) ||
		info.FileSelector.Size != int64(len(page.Body)) {
		t.Fatalf("%s: file-selector %+v, want %s size %d", where, info.FileSelector, page.HashSelector(), len(page.Body))
	}
	if len(info.Path) != 1 || !strings.HasPrefix(info.Path[0], "msrp://127.0.0.1:") || !strings.HasSuffix(info.Path[0], ";tcp") ||
		info.Setup != "actpass" || !info.CEMA {
		t.Fatalf("%s: path %v setup %q cema %t", where, info.Path, info.Setup, info.CEMA)
	}
	return s
}

// checkOwnEarlyDialog checks Herald's own early dialog with the caller (RFC 3262, RFC 3311): one
// reliable 183 with Require: 100rel and RSeq, a PRACK with the matching RAck answered 200, then one
// UPDATE keeping the caller's m-lines and adding the callee card's push offer. It returns the tag.
func checkOwnEarlyDialog(t *testing.T, h *rig, res *uesim.CallResult, page *content.Page) string {
	t.Helper()
	tag := heraldTag(res)
	if tag == "" {
		t.Fatal("no response from Herald's own early dialog")
	}
	d := dialogOf(t, res, tag)
	if d.Reliable != 1 || d.Pracked != 1 || d.Updates != 1 || len(d.Provisionals) == 0 || d.Provisionals[0] != 183 {
		t.Fatalf("Herald's early dialog %+v, want one reliable 183, PRACKed, one UPDATE", d)
	}
	// RFC 6228: when the call is answered, the caller (Supported: 199) learns that Herald's early
	// dialog ended with one unreliable 199 on it, sent before the 200 is relayed. (Checked on
	// Herald's socket: sipgo may hand the caller the 200 before the 199, ending its transaction.)
	if res.Final == 200 && call.HasToken(headerStrings(sentInvite(t, res).Request, "Supported"), "199") {
		var seq []int
		for _, d := range h.udpResponses(res.CallID, "INVITE") {
			if d.StatusCode == 199 && toTag(d) != tag || d.StatusCode == 199 && d.GetHeader("RSeq") != nil {
				t.Fatalf("199 on dialog %q (RSeq %v), want one unreliable 199 on Herald's %q", toTag(d), d.GetHeader("RSeq"), tag)
			}
			if d.StatusCode >= 199 {
				seq = append(seq, d.StatusCode)
			}
		}
		if len(seq) < 2 || seq[0] != 199 || seq[1] != 200 {
			t.Fatalf("Herald sent %v to the caller, want 199 then 200 (RFC 6228)", seq)
		}
	}
	var rseq string
	for _, m := range pick(res.Messages, uesim.Received, "INVITE", 183) {
		if toTag(m.Response) != tag {
			continue
		}
		if !strings.Contains(strings.Join(headerStrings(m.Response, "Require"), ","), "100rel") {
			t.Fatal("Herald's 183 lacks Require: 100rel")
		}
		r := headerStrings(m.Response, "RSeq")
		if len(r) != 1 || (rseq != "" && r[0] != rseq) {
			t.Fatalf("Herald's 183 RSeq %v (earlier %q): retransmissions must keep the RSeq", r, rseq)
		}
		rseq = r[0]
	}
	n, err := strconv.ParseUint(rseq, 10, 32)
	if err != nil || n == 0 || n >= 1<<31 {
		t.Fatalf("RSeq %q out of 1..2^31-1 (RFC 3262 §3)", rseq)
	}
	want := rseq + " " + strconv.FormatUint(uint64(sentInvite(t, res).Request.CSeq().SeqNo), 10) + " INVITE"
	var pracked bool
	for _, m := range pick(res.Messages, uesim.Sent, "PRACK", 0) {
		if toTag(m.Request) == tag {
			if got := strings.Join(headerStrings(m.Request, "RAck"), ","); got != want {
				t.Fatalf("PRACK RAck %q, want %q", got, want)
			}
			pracked = true
		}
	}
	if !pracked {
		t.Fatal("no PRACK on Herald's dialog")
	}
	upd := pick(res.Messages, uesim.Received, "UPDATE", 0)
	if len(upd) != 1 {
		t.Fatalf("%d UPDATEs received, want 1", len(upd))
	}
	u := upd[0].Request
	if tag, _ := u.From().Params.Get("tag"); tag != heraldTag(res) {
		t.Fatalf("UPDATE From-tag %q, want Herald's %q", tag, heraldTag(res))
	}
	s := checkPushOffer(t, "UPDATE", u.Body(), page)
	offer, err := sdp.Parse(sentInvite(t, res).Request.Body())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Media) != len(offer.Media)+1 {
		t.Fatalf("UPDATE has %d m-lines, want the caller's %d plus the push line", len(s.Media), len(offer.Media))
	}
	for i, m := range offer.Media {
		if s.Media[i].Type != m.Type {
			t.Fatalf("UPDATE m-line %d is %s, want %s (RFC 3264 §8: m-lines keep their order)", i, s.Media[i].Type, m.Type)
		}
	}
	if len(pick(res.Messages, uesim.Sent, "UPDATE", 200)) != 1 {
		t.Fatal("the caller did not answer the UPDATE with 200")
	}
	return tag
}

// calleeTag is the To-tag the callee answered with.
func calleeTag(t *testing.T, ce uesim.CalleeCall) string {
	t.Helper()
	for _, m := range ce.Messages {
		if m.Dir == uesim.Sent && m.Response != nil && m.Status() > 100 {
			return toTag(m.Response)
		}
	}
	t.Fatal("the callee sent no response with a To-tag")
	return ""
}

// TestClaim5CalleeCardOnly proves claim 5 (callee card only): a caller without cards calls a callee
// with a callee card. The INVITE's body reaches the callee byte-for-byte (no early-session part), the
// callee's reliable 180 and the caller's PRACK pass through Herald, Herald opens its own early dialog
// (reliable 183, PRACK) and offers the callee card in an UPDATE, and the caller terminal gets the page.
func TestClaim5CalleeCardOnly(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 400 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{})
	res := h.mustCall(t, caller, dave, carol)
	ce := calleeSide(t, callee, res.CallID)

	inv := sentInvite(t, res)
	if got, want := bodyOf(ce.InviteRaw), bodyOf(inv.Raw); len(want) == 0 || !bytes.Equal(got, want) {
		t.Fatalf("forwarded INVITE body changed:\n%s\nwant\n%s", got, want)
	}
	if ct := ce.Invite.ContentType(); ct == nil || ct.Value() != "application/sdp" || ce.EarlyOffered {
		t.Fatalf("forwarded INVITE Content-Type %v, early-session offered %t", ct, ce.EarlyOffered)
	}
	if ce.Invite.GetHeader("Record-Route") == nil {
		t.Fatal("forwarded INVITE has no Record-Route")
	}
	// The callee's reliable 180 and the caller's PRACK for it pass through Herald (RFC 3262).
	ctag := calleeTag(t, ce)
	if d := dialogOf(t, res, ctag); d.Reliable != 1 || d.Pracked != 1 || !d.Confirmed || !ce.Pracked {
		t.Fatalf("callee's dialog at the caller %+v, callee pracked %t", d, ce.Pracked)
	}
	tag := checkOwnEarlyDialog(t, h, res, pages["carol-callee.html"])
	if tag == ctag {
		t.Fatal("Herald's early dialog reuses the callee's To-tag")
	}
	if !bytes.Equal(res.Pages[uesim.CalleeCard], pages["carol-callee.html"].Body) {
		t.Fatalf("callee card at the caller: %d bytes, %v", len(res.Pages[uesim.CalleeCard]), res.PageErrors)
	}
	if !ce.Acked || !ce.Bye || ce.Err != nil {
		t.Fatalf("callee: acked %t bye %t err %v", ce.Acked, ce.Bye, ce.Err)
	}
	h.quiet(t)
	st2 := h.msrp.Stats()
	if s := &h.sig.Stats; s.CallerCards.Load() != 0 || s.CalleeCards.Load() != 1 || s.Forwarded.Load() != 1 || st2.DeliveriesOK != 1 {
		t.Fatalf("stats: caller cards %d callee cards %d forwarded %d deliveries %d", s.CallerCards.Load(),
			s.CalleeCards.Load(), s.Forwarded.Load(), st2.DeliveriesOK)
	}
}

// TestNoCardPlainForwarding proves the no-card case (a party with no card and no ringback is plainly proxied):
// the body is forwarded untouched, Herald sends no response of its own (no 183, no UPDATE), opens no
// push session, and the call and its in-dialog requests pass through it (Record-Route).
func TestNoCardPlainForwarding(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{})
	for _, pair := range [][2]string{{dave, erin}, {erin, dave}} {
		res := h.mustCall(t, caller, pair[0], pair[1])
		ce := calleeSide(t, callee, res.CallID)
		if got, want := bodyOf(ce.InviteRaw), bodyOf(sentInvite(t, res).Raw); !bytes.Equal(got, want) {
			t.Fatalf("%s → %s: body changed:\n%s\nwant\n%s", pair[0], pair[1], got, want)
		}
		if ct := ce.Invite.ContentType(); ct == nil || ct.Value() != "application/sdp" {
			t.Fatalf("forwarded Content-Type %v", ct)
		}
		ctag := calleeTag(t, ce)
		for _, m := range res.Messages {
			if m.Dir == uesim.Received && m.Response != nil && m.Status() > 100 && m.Method() == "INVITE" && toTag(m.Response) != ctag {
				t.Fatalf("%s → %s: response %d from another dialog (tag %q): Herald answered itself", pair[0], pair[1], m.Status(), toTag(m.Response))
			}
		}
		if len(res.Dialogs) != 1 || len(pick(res.Messages, uesim.Received, "UPDATE", 0)) != 0 {
			t.Fatalf("dialogs %+v", res.Dialogs)
		}
		// ACK and BYE came through Herald: it record-routed the dialog.
		for _, method := range []string{"ACK", "BYE"} {
			got := pick(ce.Messages, uesim.Received, method, 0)
			if len(got) == 0 {
				t.Fatalf("callee received no %s", method)
			}
			if v := got[0].Request.Via(); v == nil || v.Host != "127.0.0.1" || strconv.Itoa(v.Port) != portOf(h.addr) {
				t.Fatalf("%s top Via %v, want Herald %s", method, v, h.addr)
			}
		}
	}
	h.quiet(t)
	if s := &h.sig.Stats; s.CallerCards.Load()+s.CalleeCards.Load() != 0 || s.Forwarded.Load() != 2 {
		t.Fatalf("stats: cards %d/%d forwarded %d", s.CallerCards.Load(), s.CalleeCards.Load(), s.Forwarded.Load())
	}
	if ms := h.msrp.Stats(); ms.ConnsAccepted != 0 || ms.Binds != 0 {
		t.Fatalf("msrp used without cards: %+v", ms)
	}
}

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestCancelEndToEnd proves CANCEL end to end (RFC 3261 §9, §16.10): the caller's CANCEL gets 200 and
// its INVITE 487, the forwarded INVITE is cancelled downstream (the callee's transaction matched the
// CANCEL and answered 487), and every push of the call still pending is aborted.
func TestCancelEndToEnd(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	// The callee never takes the caller card (no early-session) and the caller fetches the callee
	// card late, so both pushes are pending when the CANCEL comes.
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 5 * time.Second, NoEarlySession: true})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{CancelAfter: 200 * time.Millisecond, FetchDelay: 400 * time.Millisecond, FetchTimeout: time.Second})
	res, _ := h.call(t, caller, alice, bob) // the late fetch fails: its error is expected
	if res.Final != 487 || !res.Canceled {
		t.Fatalf("caller final %d canceled %t, want 487", res.Final, res.Canceled)
	}
	if len(pick(res.Messages, uesim.Received, "CANCEL", 200)) == 0 {
		t.Fatal("the caller's CANCEL got no 200")
	}
	if len(pick(res.Messages, uesim.Received, "INVITE", 200)) != 0 {
		t.Fatal("a 200 to the INVITE reached the caller after its CANCEL")
	}
	if d := dialogOf(t, res, heraldTag(res)); d.Updates != 1 {
		t.Fatalf("Herald's dialog %+v: the callee card was not offered before the CANCEL", d)
	}
	ce := calleeSide(t, callee, res.CallID)
	if !ce.Canceled || ce.Final != 487 {
		t.Fatalf("callee: canceled %t final %d, want the forwarded INVITE cancelled (487)", ce.Canceled, ce.Final)
	}
	h.quiet(t)
	ms := h.msrp.Stats()
	if ms.DeliveriesAborted != 2 || ms.DeliveriesOK != 0 {
		t.Fatalf("pushes: aborted %d delivered %d, want both aborted", ms.DeliveriesAborted, ms.DeliveriesOK)
	}
	if h.sig.Stats.Cancels.Load() != 1 {
		t.Fatalf("Cancels %d", h.sig.Stats.Cancels.Load())
	}
}

// TestCancel200Race proves the CANCEL/200 race (RFC 3261 §9.2, §15): the callee's 200 crosses Herald's
// CANCEL; the caller keeps its 487 and never sees the 200, and Herald confirms the callee's dialog
// with ACK and ends it with BYE.
func TestCancel200Race(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 5 * time.Second, AnswerOnCancel: true})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{CancelAfter: 150 * time.Millisecond})
	res, err := h.call(t, caller, dave, carol)
	if err != nil || res.Final != 487 {
		t.Fatalf("caller final %d, %v, want 487", res.Final, err)
	}
	if len(pick(res.Messages, uesim.Received, "INVITE", 200)) != 0 {
		t.Fatal("the late 200 was relayed to the caller after its CANCEL")
	}
	ce := calleeSide(t, callee, res.CallID)
	if ce.Final != 200 || ce.Canceled || !ce.Acked || !ce.Bye || ce.Err != nil {
		t.Fatalf("callee: final %d canceled %t acked %t bye %t err %v, want its 200 ACKed and BYEd", ce.Final,
			ce.Canceled, ce.Acked, ce.Bye, ce.Err)
	}
	ctag := calleeTag(t, ce)
	from, _ := sentInvite(t, res).Request.From().Params.Get("tag")
	for _, method := range []string{"ACK", "BYE"} {
		got := pick(ce.Messages, uesim.Received, method, 0)
		if len(got) != 1 {
			t.Fatalf("callee received %d %s, want 1", len(got), method)
		}
		r := got[0].Request
		if ft, _ := r.From().Params.Get("tag"); ft != from || toTag(r) != ctag || r.CallID().Value() != res.CallID {
			t.Fatalf("%s not in the callee's dialog: from-tag %q to-tag %q", method, ft, toTag(r))
		}
		if v := r.Via(); v == nil || strconv.Itoa(v.Port) != portOf(h.addr) {
			t.Fatalf("%s top Via %v, want Herald's", method, v)
		}
	}
	h.quiet(t)
	if h.sig.Stats.Cancels.Load() != 1 {
		t.Fatalf("Cancels %d", h.sig.Stats.Cancels.Load())
	}
}

// TestPrackLossRetransmit proves RFC 3262 §3 retransmission: the caller loses Herald's first 183;
// Herald retransmits it (same RSeq) on T1 and the PRACK for the retransmission is matched by its RAck,
// after which the UPDATE goes out as usual.
func TestPrackLossRetransmit(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 500 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	var seen atomic.Int32
	caller := newCaller(t, uesim.CallerOptions{DropReliable: func(res *sip.Response) bool {
		return isHerald(res) && seen.Add(1) == 1
	}})
	res := h.mustCall(t, caller, dave, carol)
	if res.Dropped != 1 {
		t.Fatalf("dropped %d reliable provisionals, want 1", res.Dropped)
	}
	n := 0
	for _, m := range pick(res.Messages, uesim.Received, "INVITE", 183) {
		if isHerald(m.Response) {
			n++
		}
	}
	if n < 2 || h.sig.Stats.ReliableRetransmits.Load() < 1 {
		t.Fatalf("Herald's 183 arrived %d times, %d retransmissions counted; want a retransmission", n,
			h.sig.Stats.ReliableRetransmits.Load())
	}
	checkOwnEarlyDialog(t, h, res, pages["carol-callee.html"]) // one RSeq, RAck matched, UPDATE sent
	if !bytes.Equal(res.Pages[uesim.CalleeCard], pages["carol-callee.html"].Body) {
		t.Fatalf("callee card not delivered: %v", res.PageErrors)
	}
	h.quiet(t)
	if h.sig.Stats.PrackTimeouts.Load() != 0 {
		t.Fatal("PRACK timeout counted")
	}
}

// prackGiveUpAt64T1 says Herald abandons its reliable 183 at 64·T1 as RFC 3262 §3 says. While false
// (Herald's retransmit timer only notices the deadline on the first tick after it, ~127·T1), the
// test logs the time instead of failing.
// TODO(lead): set to true with the early.go fix in the H6 report.
const prackGiveUpAt64T1 = true

// TestPrackNeverGiveUp proves the give-up of RFC 3262 §3: a caller that never PRACKs Herald's 183
// gets it retransmitted on T1, 2·T1, 4·T1 … until 64·T1, then Herald abandons its early dialog (no
// UPDATE, no callee-card push) and the call itself still completes.
func TestPrackNeverGiveUp(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 128*testT1 + 400*time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{DropReliable: isHerald})
	res := h.mustCall(t, caller, dave, carol)
	if h.sig.Stats.PrackTimeouts.Load() != 1 {
		t.Fatalf("PrackTimeouts %d, want 1", h.sig.Stats.PrackTimeouts.Load())
	}
	// Retransmissions at T1, 3·T1, 7·T1, 15·T1, 31·T1 and 63·T1: six before 64·T1.
	if n := h.sig.Stats.ReliableRetransmits.Load(); n != 6 {
		t.Errorf("%d retransmissions, want 6 (T1 doubling within 64·T1)", n)
	}
	if res.Dropped != 7 {
		t.Errorf("caller saw Herald's 183 %d times, want 7", res.Dropped)
	}
	start, ok1 := h.trace.find("own early dialog tag")
	end, ok2 := h.trace.find("no PRACK within 64*T1")
	if !ok1 || !ok2 {
		t.Fatal("trace lacks the 183 or the give-up")
	}
	if gaveUp := end - start; gaveUp < 64*testT1-5*time.Millisecond || gaveUp > 64*testT1+300*time.Millisecond {
		if prackGiveUpAt64T1 {
			t.Errorf("gave up after %v, want 64·T1 = %v", gaveUp, 64*testT1)
		} else {
			t.Logf("KNOWN BUG: gave up after %v, want 64·T1 = %v", gaveUp, 64*testT1)
		}
	}
	if len(pick(res.Messages, uesim.Received, "UPDATE", 0)) != 0 || h.sig.Stats.CalleeCards.Load() != 0 {
		t.Fatal("UPDATE sent on an early dialog that was never PRACKed")
	}
	h.quiet(t)
}

// TestUpdateGlare proves RFC 3311 §5.2: an UPDATE from the caller on Herald's early dialog while
// Herald's own UPDATE is unanswered gets 491; Herald's UPDATE then completes and the card arrives.
func TestUpdateGlare(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 500 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{GlareUpdate: true})
	res := h.mustCall(t, caller, dave, carol)
	d := dialogOf(t, res, heraldTag(res))
	if len(d.SentUpdates) != 1 || d.SentUpdates[0] != 491 {
		t.Fatalf("the caller's UPDATE on Herald's dialog got %v, want [491]", d.SentUpdates)
	}
	glare := pick(res.Messages, uesim.Received, "UPDATE", 491)
	if len(glare) != 1 || toTag(glare[0].Response) != heraldTag(res) {
		t.Fatal("491 not on Herald's dialog")
	}
	checkOwnEarlyDialog(t, h, res, pages["carol-callee.html"])
	if !bytes.Equal(res.Pages[uesim.CalleeCard], pages["carol-callee.html"].Body) {
		t.Fatalf("callee card not delivered after the glare: %v", res.PageErrors)
	}
	h.quiet(t)
}

// TestCalleeWithoutEarlySession proves that a callee that ignores the early-session offer (RFC 3959
// handling=optional) still gets a normal call: the caller card is offered, never fetched, its push
// aborted at the answer, the callee card still reaches the caller, and the call completes.
func TestCalleeWithoutEarlySession(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 400 * time.Millisecond, NoEarlySession: true})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{})
	res := h.mustCall(t, caller, alice, bob)
	ce := calleeSide(t, callee, res.CallID)
	if !ce.EarlyOffered || ce.EarlyAnswered || ce.Page != nil || !ce.Bye {
		t.Fatalf("callee: offered %t answered %t page %d bytes bye %t", ce.EarlyOffered, ce.EarlyAnswered, len(ce.Page), ce.Bye)
	}
	checkCallInfo(t, "forwarded INVITE", headerStrings(ce.Invite, "Call-Info"))
	if _, published := h.web.counts(); callInfoFallback && published < 1 {
		t.Fatal("caller card not published for the Call-Info fallback")
	}
	if !bytes.Equal(res.Pages[uesim.CalleeCard], pages["bob-callee.html"].Body) {
		t.Fatalf("callee card: %v", res.PageErrors)
	}
	h.quiet(t)
	if ms := h.msrp.Stats(); ms.DeliveriesAborted != 1 || ms.DeliveriesOK != 1 {
		t.Fatalf("pushes: aborted %d delivered %d, want the caller card aborted, the callee card delivered",
			ms.DeliveriesAborted, ms.DeliveriesOK)
	}
}

// TestCallerWithoutReliableOrUpdate proves that a caller without 100rel, or without UPDATE in Allow,
// gets no reliable provisional and no UPDATE from Herald (RFC 3262 §3, RFC 3311 §5.1) and its call
// completes; the callee card is then offered only as a Call-Info link on an unreliable 183.
func TestCallerWithoutReliableOrUpdate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts uesim.CallerOptions
	}{
		{"no-100rel", uesim.CallerOptions{Supported: []string{"timer"}}},
		{"no-update", uesim.CallerOptions{Rewrite: func(r *sip.Request) {
			r.RemoveHeader("Allow")
			r.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, PRACK, OPTIONS"))
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 300 * time.Millisecond})
			h := startHerald(t, st, callee.Addr(), nil)
			caller := newCaller(t, tc.opts)
			res := h.mustCall(t, caller, dave, carol)
			var fromHerald []*sip.Response
			for _, m := range res.Messages {
				if m.Dir != uesim.Received || m.Response == nil {
					continue
				}
				if isHerald(m.Response) {
					fromHerald = append(fromHerald, m.Response)
					if m.Response.GetHeader("RSeq") != nil || strings.Contains(strings.Join(headerStrings(m.Response, "Require"), ","), "100rel") {
						t.Fatalf("reliable %d from Herald to a caller that cannot take it", m.Status())
					}
				}
			}
			if len(pick(res.Messages, uesim.Received, "UPDATE", 0)) != 0 || h.sig.Stats.CalleeCards.Load() != 0 {
				t.Fatal("UPDATE sent to a caller without UPDATE/100rel")
			}
			var ci []string
			for _, r := range fromHerald {
				ci = append(ci, headerStrings(r, "Call-Info")...)
			}
			checkCallInfo(t, "Herald's unreliable 183", ci)
			h.quiet(t) // also: every published page revoked with the call
			if _, published := h.web.counts(); callInfoFallback && published != 1 {
				t.Fatalf("%d pages published for the Call-Info fallback, want the callee card", published)
			}
		})
	}
}

// TestUDPToTCPSwitch proves RFC 3261 §18.1.1: the forwarded INVITE that grows past 1300 bytes with
// the early-session part goes to the next hop over TCP (its Via says TCP), while a small one stays on
// UDP.
func TestUDPToTCPSwitch(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{})
	for _, tc := range []struct {
		from, to, transport string
		big                 bool
	}{
		{alice, bob, "tcp", true},
		{dave, erin, "udp", false},
	} {
		res := h.mustCall(t, caller, tc.from, tc.to)
		if tr := sentInvite(t, res).Request.Transport(); !strings.EqualFold(tr, "udp") {
			t.Fatalf("the caller sent its INVITE over %s", tr)
		}
		ce := calleeSide(t, callee, res.CallID)
		size := len(ce.Invite.String())
		if got := strings.ToLower(ce.Invite.Transport()); got != tc.transport || (size > 1300) != tc.big {
			t.Fatalf("%s → %s: forwarded INVITE of %d bytes arrived over %s, want %s", tc.from, tc.to, size, got, tc.transport)
		}
		if v := ce.Invite.Via(); v == nil || !strings.EqualFold(v.Transport, tc.transport) {
			t.Fatalf("top Via %v, want transport %s", v, tc.transport)
		}
	}
	h.quiet(t)
	if n := h.sig.Stats.UDPToTCP.Load(); n != 1 {
		t.Fatalf("UDPToTCP %d, want 1", n)
	}
}

// TestTrust proves the trust rule of issue 4 item 7: an INVITE from outside Options.Trusted gets 403
// and nothing is forwarded; from inside it is served.
func TestTrust(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		final   int
	}{
		{"untrusted", "192.0.2.0/24", 403},
		{"trusted", "127.0.0.0/8", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
			h := startHerald(t, st, callee.Addr(), func(o *Options) { o.Trusted = mustPrefixes(t, "10.0.0.0/8", tc.trusted) })
			caller := newCaller(t, uesim.CallerOptions{})
			res, err := h.call(t, caller, dave, erin)
			if res.Final != tc.final {
				t.Fatalf("final %d (%v), want %d", res.Final, err, tc.final)
			}
			if tc.final == 403 {
				if !errors.Is(err, uesim.ErrCallFailed) || len(callee.Calls()) != 0 || h.sig.Stats.Rejected403.Load() != 1 {
					t.Fatalf("err %v, %d calls forwarded, Rejected403 %d", err, len(callee.Calls()), h.sig.Stats.Rejected403.Load())
				}
			}
			h.quiet(t)
		})
	}
}

// TestMaxForwards483 proves RFC 3261 §16.3 step 3: an INVITE whose Max-Forwards would reach 0 gets 483
// and is not forwarded.
func TestMaxForwards483(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{Rewrite: func(r *sip.Request) {
		mf := sip.MaxForwardsHeader(1)
		r.ReplaceHeader(&mf)
	}})
	res, err := h.call(t, caller, alice, bob)
	if res.Final != 483 || !errors.Is(err, uesim.ErrCallFailed) {
		t.Fatalf("final %d, %v, want 483", res.Final, err)
	}
	if len(callee.Calls()) != 0 || h.sig.Stats.Rejected483.Load() != 1 {
		t.Fatalf("%d calls forwarded, Rejected483 %d", len(callee.Calls()), h.sig.Stats.Rejected483.Load())
	}
	h.quiet(t)
}

// TestLoopDetected482 proves loop detection (RFC 3261 §16.3 step 4, §8.2.2.2): a second INVITE with the
// Call-ID of a call in progress (a spiral back to Herald) gets 482, and the first call is unharmed.
func TestLoopDetected482(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 600 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	first := newCaller(t, uesim.CallerOptions{})
	done := make(chan *uesim.CallResult, 1)
	go func() {
		res, _ := first.Call(context.Background(), h.addr, dave, erin)
		done <- res
	}()
	var callID string
	for deadline := time.Now().Add(5 * time.Second); callID == ""; time.Sleep(5 * time.Millisecond) {
		if cs := callee.Calls(); len(cs) > 0 {
			callID = cs[0].CallID
		}
		if time.Now().After(deadline) {
			t.Fatal("first call never arrived")
		}
	}
	second := newCaller(t, uesim.CallerOptions{Rewrite: func(r *sip.Request) {
		cid := sip.CallIDHeader(callID)
		r.ReplaceHeader(&cid)
	}})
	res, err := h.call(t, second, erin, dave)
	if res.Final != 482 || !errors.Is(err, uesim.ErrCallFailed) {
		t.Fatalf("looped INVITE: final %d, %v, want 482", res.Final, err)
	}
	if r := <-done; r == nil || r.Final != 200 {
		t.Fatalf("first call: %+v", r)
	}
	if n := len(callee.Calls()); n != 1 {
		t.Fatalf("%d calls forwarded, want 1", n)
	}
	h.quiet(t)
}

// TestFinalResponsesRelayed proves that every final response of the callee (RFC 3261 §16.7 step 6)
// reaches the caller unchanged, the callee's transaction gets its hop-by-hop ACK, and the call's
// pushes end with it.
func TestFinalResponsesRelayed(t *testing.T) {
	for _, code := range []int{486, 603} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 200 * time.Millisecond, RejectCode: code})
			h := startHerald(t, st, callee.Addr(), nil)
			caller := newCaller(t, uesim.CallerOptions{})
			res, err := h.call(t, caller, alice, bob)
			ce := calleeSide(t, callee, res.CallID)
			if res.Final != code || !errors.Is(err, uesim.ErrCallFailed) || ce.Final != code {
				t.Fatalf("caller final %d (%v), callee sent %d, want %d", res.Final, err, ce.Final, code)
			}
			f := pick(res.Messages, uesim.Received, "INVITE", code)
			if len(f) == 0 || toTag(f[0].Response) != calleeTag(t, ce) || f[0].Response.Reason != pick(ce.Messages, uesim.Sent, "INVITE", code)[0].Response.Reason {
				t.Fatalf("%d not relayed unchanged", code)
			}
			if !ce.Acked {
				t.Fatalf("the callee's %d got no ACK", code)
			}
			h.quiet(t)
		})
	}
}

// TestTimerC408 proves Timer C (RFC 3261 §16.6 step 11, §16.8): a callee that rings past Timer C gets
// a CANCEL and the caller a 408.
func TestTimerC408(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 5 * time.Second})
	const timerC = 400 * time.Millisecond
	h := startHerald(t, st, callee.Addr(), func(o *Options) { o.TimerC = timerC })
	caller := newCaller(t, uesim.CallerOptions{})
	res, err := h.call(t, caller, dave, carol)
	if res.Final != 408 || !errors.Is(err, uesim.ErrCallFailed) {
		t.Fatalf("final %d, %v, want 408", res.Final, err)
	}
	if res.Timings.Final < timerC || res.Timings.Final > timerC+time.Second {
		t.Fatalf("408 after %v, want about Timer C = %v", res.Timings.Final, timerC)
	}
	ce := calleeSide(t, callee, res.CallID)
	if !ce.Canceled || ce.Final != 487 {
		t.Fatalf("callee: canceled %t final %d, want CANCEL downstream", ce.Canceled, ce.Final)
	}
	h.quiet(t)
}

// mustPrefixes parses CIDRs.
func mustPrefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

// TestOneToTagPerRequest proves RFC 3261 §8.2.6.2 and §9.2 on a push call the caller cancels after
// Herald's reliable 183 (issue 11 item 4): the 183 of Herald's own early dialog, the 200 to the
// CANCEL and the 487 to the INVITE carry one and the same To tag (before, sipgo's transaction layer
// gave the 200 and the 487 a new random tag each).
func TestOneToTagPerRequest(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 5 * time.Second})
	h := startHerald(t, st, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{CancelAfter: 300 * time.Millisecond, FetchTimeout: time.Second})
	res, _ := h.call(t, caller, alice, bob)
	if res.Final != 487 || !res.Canceled {
		t.Fatalf("caller final %d canceled %t, want 487", res.Final, res.Canceled)
	}
	own := heraldTag(res)
	if own == "" {
		t.Fatal("no 183 on Herald's own early dialog before the CANCEL")
	}
	ok200 := pick(res.Messages, uesim.Received, "CANCEL", 200)
	r487 := pick(res.Messages, uesim.Received, "INVITE", 487)
	if len(ok200) == 0 || len(r487) == 0 {
		t.Fatalf("%d 200s to the CANCEL, %d 487s", len(ok200), len(r487))
	}
	for _, m := range append(ok200, r487...) {
		if got := toTag(m.Response); got != own {
			t.Fatalf("%d (%s) To tag %q, want the 183's %q", m.Status(), m.Method(), got, own)
		}
	}
	calleeSide(t, callee, res.CallID)
	h.quiet(t)
}

// TestOwnPrackOnFastPath (claims 1, 5) shows the one stack of Herald's own early dialog's PRACK
// and UPDATE over UDP: the fast path's engine takes the PRACK (verdict own), keeps its server
// transaction and the call answers it there; the UPDATE goes out on the engine's client
// transaction and its 200 comes back there; sipgo parses neither. With the fast path off, sipgo's
// transactions carry both. Either way the early dialog checks out (one reliable 183, PRACKed with
// the right RAck, the UPDATE with the callee card) and the card is delivered.
func TestOwnPrackOnFastPath(t *testing.T) {
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%t", fast), func(t *testing.T) {
			leakCheck(t)
			st, pages := testStore(t)
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 300 * time.Millisecond})
			h := startHerald(t, st, callee.Addr(), func(o *Options) { o.DisableFastPath = !fast })
			res := h.mustCall(t, newCaller(t, uesim.CallerOptions{}), dave, carol)
			checkOwnEarlyDialog(t, h, res, pages["carol-callee.html"])
			if !bytes.Equal(res.Pages[uesim.CalleeCard], pages["carol-callee.html"].Body) {
				t.Fatalf("callee card not delivered: %v", res.PageErrors)
			}
			want := uint64(0)
			if fast {
				want = 1
			}
			if got := h.sig.Stats.Fast.Verdicts[sipfast.ReasonOwn].Load(); got != want {
				t.Fatalf("fast-path verdicts own %d, want %d", got, want)
			}
			if got := h.sig.Stats.Fast.Originated.Load(); got != want {
				t.Fatalf("UPDATEs originated on the fast path %d, want %d", got, want)
			}
			h.quiet(t)
		})
	}
}
