package signal

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/profile"
)

// capClock is the capability cache's clock, moved by the test.
type capClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *capClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *capClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func canon(t *testing.T, uri string) string {
	t.Helper()
	k, err := profile.Canonical(uri)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantLearned(t *testing.T, caps *profile.CapCache, key string, capable, known bool) {
	t.Helper()
	if c, k := caps.Lookup(key); c != capable || k != known {
		t.Fatalf("cache %s: capable %t known %t; want %t %t", key, c, k, capable, known)
	}
}

// TestCapabilityCalleeLearned proves the gate on the caller card through the SIP plane with
// bench/uesim terminals (capable by construction, but Herald has to know it): erin has no profile.
//  1. Unknown callee: the INVITE carries the caller card as a Call-Info link only, the caller's SDP
//     as it sent it, no early-session part.
//  2. Probing on: the part goes to the unknown callee, whose reliable 183 answers the early-session
//     offer and whose terminal fetches the card: learned capable.
//  3. Probing off (another Herald sharing the cache): the callee is known, so it gets the part and
//     fetches the card over MSRP (claims 1/3).
//  4. At the entry's TTL (injected clock) the callee is unknown again: Call-Info only.
func TestCapabilityCalleeLearned(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	clk := &capClock{t: time.Unix(1_800_000_000, 0)}
	caps := profile.NewCapCache(16, time.Hour, clk.now)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond})
	caller := newCaller(t, uesim.CallerOptions{})
	probing := startHeraldCaps(t, st, callee.Addr(), func(o *Options) { o.Probe = true }, caps)
	plain := startHeraldCaps(t, st, callee.Addr(), nil, caps)
	erinKey := canon(t, erin)

	callInfoOnly := func(step string) {
		t.Helper()
		res := plain.mustCall(t, caller, alice, erin)
		ce := calleeSide(t, callee, res.CallID)
		if ce.EarlyOffered || ce.Page != nil {
			t.Fatalf("%s: the unknown callee was offered the early-session part (fetched %d bytes)", step, len(ce.Page))
		}
		if got, want := bodyOf(ce.InviteRaw), bodyOf(sentInvite(t, res).Raw); !bytes.Equal(got, want) {
			t.Fatalf("%s: forwarded body changed:\n%s\nwant the caller's\n%s", step, got, want)
		}
		if ct := ce.Invite.ContentType(); ct == nil || ct.Value() != "application/sdp" {
			t.Fatalf("%s: forwarded Content-Type %v, want the caller's application/sdp", step, ct)
		}
		ci := headerStrings(ce.Invite, "Call-Info")
		if len(ci) != 1 {
			t.Fatalf("%s: Call-Info %q, want the caller card's link", step, ci)
		}
		checkCallInfo(t, step, ci)
	}

	callInfoOnly("unknown callee")
	wantLearned(t, caps, erinKey, false, false)
	if n := plain.sig.Stats.Capability.CallerCardCallInfo.Load(); n != 1 {
		t.Fatalf("CallerCardCallInfo = %d, want 1", n)
	}

	res := probing.mustCall(t, caller, alice, erin)
	ce := calleeSide(t, callee, res.CallID)
	if !ce.EarlyOffered || !ce.EarlyAnswered || !bytes.Equal(ce.Page, pages["alice-card.html"].Body) {
		t.Fatalf("probed callee: offered %t answered %t page %d bytes (%v)", ce.EarlyOffered, ce.EarlyAnswered, len(ce.Page), ce.PageErr)
	}
	if n := probing.sig.Stats.Capability.CallerCardProbes.Load(); n != 1 {
		t.Fatalf("CallerCardProbes = %d, want 1", n)
	}
	wantLearned(t, caps, erinKey, true, true)

	res = plain.mustCall(t, caller, alice, erin)
	ce = calleeSide(t, callee, res.CallID)
	if !ce.EarlyOffered || !bytes.Equal(ce.Page, pages["alice-card.html"].Body) {
		t.Fatalf("learned callee: offered %t, page %d bytes (%v); want the caller card over MSRP", ce.EarlyOffered, len(ce.Page), ce.PageErr)
	}
	if n := plain.sig.Stats.Capability.CallerCardProbes.Load(); n != 0 {
		t.Fatalf("the learned callee was probed (%d)", n)
	}
	if n := plain.sig.Stats.CallerCards.Load(); n != 1 {
		t.Fatalf("CallerCards = %d, want 1", n)
	}

	clk.add(time.Hour)
	callInfoOnly("after the TTL")
	if n := caps.Stats.Expired.Load(); n != 1 {
		t.Fatalf("Expired = %d, want 1", n)
	}
	plain.quiet(t)
	probing.quiet(t)
}

// TestCapabilityProbeRefused is a probed callee that fails the multipart INVITE the way baresip 1.0
// does (500 Call Error before any 18x). Herald ACKs the 500 (one Via), does not relay it, and sends
// the INVITE again at once without the early-session part: the caller's SDP as it sent it, the
// Call-Info link, a new branch, the same Call-ID and CSeq. The callee answers that one and the call
// completes. The next call to the same callee, probing still on, gets no part: the refusal was
// remembered. Raw UDP peers on both sides (bytes on the wire).
func TestCapabilityProbeRefused(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caps := profile.NewCapCache(16, time.Hour, nil)
	caller := newFPPeer(t)
	callee, ln := newFPPeerTCP(t) // the INVITE with the part is too big for UDP (RFC 3261 §18.1.1)
	r := startHeraldCaps(t, st, callee.addr(), func(o *Options) { o.Probe = true }, caps)
	c := newFPCall(caller, alice, erin)
	inv := c.invite()
	caller.send(t, r.addr, inv)
	conn, br := fpAccept(t, ln)
	first := parseFP(t, "INVITE with the part", fpReadTCP(t, conn, br))
	if ct := first.one(t, "INVITE", "Content-Type"); !strings.HasPrefix(ct, "multipart/mixed") {
		t.Fatalf("probed INVITE: Content-Type %q, want multipart/mixed with the early-session part", ct)
	}
	refusal := fpReply(t, first, 500, "Call Error", "bs1", false, "", "")
	fpWriteTCP(t, conn, refusal)
	ack := parseFP(t, "ACK for the 500", fpReadTCP(t, conn, br))
	fpHopRequest(t, "ACK for the 500", ack, first, "ACK", parseFP(t, "500", refusal).one(t, "500", "To"))

	// Small again: over UDP, the next hop's transport.
	second := parseFP(t, "INVITE without the part", callee.next(t, "INVITE without the part").data)
	sent := parseFP(t, "caller's INVITE", inv)
	if second.one(t, "resent", "Content-Type") != "application/sdp" || !bytes.Equal(second.body, sent.body) {
		t.Fatalf("resent INVITE: Content-Type %q body\n%s\nwant the caller's application/sdp\n%s", second.one(t, "resent", "Content-Type"), second.body, sent.body)
	}
	if ci := second.all("Call-Info"); len(ci) != 1 {
		t.Fatalf("resent INVITE: Call-Info %q, want the caller card's link", ci)
	} else {
		checkCallInfo(t, "resent INVITE", ci)
	}
	if second.all("Via")[0] == first.all("Via")[0] {
		t.Fatalf("resent INVITE reuses the branch of the refused one: %s", second.all("Via")[0])
	}
	for _, h := range []string{"Call-ID", "CSeq", "From", "To"} {
		if second.one(t, "resent", h) != first.one(t, "first", h) {
			t.Fatalf("resent INVITE: %s %q, want %q", h, second.one(t, "resent", h), first.one(t, "first", h))
		}
	}
	if got, want := second.all("Via")[1:], first.all("Via")[1:]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("resent INVITE: Vias below Herald's %q, want %q", got, want)
	}

	contact := "<sip:erin@" + callee.addr() + ">"
	ring := fpReply(t, second, 180, "Ringing", "bs2", false, contact, "")
	callee.send(t, r.addr, ring)
	if got := parseFP(t, "relayed", caller.nextNot100(t, "relayed 180").data); got.start != "SIP/2.0 180 Ringing" {
		t.Fatalf("the caller got %q first, want the 180 (the 500 must not be relayed)", got.start)
	}
	callee.send(t, r.addr, fpReply(t, second, 200, "OK", "bs2", false, contact, fpSDPAnswer))
	if got := parseFP(t, "relayed", caller.next(t, "relayed 200").data); got.start != "SIP/2.0 200 OK" {
		t.Fatalf("the caller got %q, want the 200", got.start)
	}
	to := "<" + erin + ">;tag=bs2"
	target := "sip:erin@" + callee.addr()
	caller.send(t, r.addr, c.request("ACK", target, fpBranch(), 1, to, []string{fpRoute(r)}))
	callee.next(t, "ACK for the 200", second.raw)
	wantLearned(t, caps, canon(t, erin), false, true)
	if n := r.sig.Stats.Capability.Resent.Load(); n != 1 {
		t.Fatalf("Resent = %d, want 1", n)
	}

	// Next call: remembered as not capable, so no part although probing is on.
	c2 := newFPCall(caller, alice, erin)
	caller.send(t, r.addr, c2.invite())
	again := parseFP(t, "next INVITE", callee.next(t, "next INVITE", second.raw).data)
	if ct := again.one(t, "next INVITE", "Content-Type"); ct != "application/sdp" || len(again.all("Call-Info")) != 1 {
		t.Fatalf("next INVITE to the refusing callee: Content-Type %q Call-Info %q; want the caller's SDP and the link only", ct, again.all("Call-Info"))
	}
	if n := r.sig.Stats.Capability.CallerCardProbes.Load(); n != 1 {
		t.Fatalf("CallerCardProbes = %d, want 1 (the second call is not a probe)", n)
	}
	callee.send(t, r.addr, fpReply(t, again, 486, "Busy Here", "bs3", false, "", ""))
	callee.next(t, "ACK for the 486", again.raw)
	caller.nextNot100(t, "relayed 486")
	caller.send(t, r.addr, c2.request("ACK", c2.ruri, c2.branch, 1, "<"+erin+">;tag=bs3", nil))
	if n := r.sig.Stats.Capability.Resent.Load(); n != 1 {
		t.Fatalf("Resent = %d after a 486 without the part, want 1", n)
	}
	r.quiet(t)
}

// TestCapabilityKnownCalleeBusyNotResent: a callee known to take the part that is busy (486) is not
// asked again: only answers that can be about the body make Herald resend (the plain 486 reaches
// the caller, and nothing is learned).
func TestCapabilityKnownCalleeBusyNotResent(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caps := profile.NewCapCache(16, time.Hour, nil)
	callee := newCallee(t, uesim.CalleeOptions{RejectCode: 486, RingTime: -1, NoEarlySession: true})
	caller := newCaller(t, uesim.CallerOptions{})
	r := startHeraldCaps(t, st, callee.Addr(), nil, caps)
	res, _ := r.call(t, caller, alice, bob)
	if res.Final != 486 {
		t.Fatalf("final %d, want the callee's 486", res.Final)
	}
	if n := r.sig.Stats.Capability.Resent.Load(); n != 0 {
		t.Fatalf("Resent = %d, want 0", n)
	}
	wantLearned(t, caps, canon(t, bob), false, false)
	r.quiet(t)
}

// TestCapabilityUpdateRefused is the caller side (claims 4/5/7: the callee card through the media
// request message). erin's terminal says it takes pushes (Supported: early-session, as linphone's
// does not) but refuses the UPDATE offering m=message, as linphone 5.1 does with 504 (and others
// with 488). The early dialog stays as it was: no BYE or CANCEL, and the callee card reaches the
// caller as a Call-Info link on a 183 of Herald's own dialog; the callee's 200 completes the call.
// The refusal is remembered: on the next call the caller gets no UPDATE, only the Call-Info link.
func TestCapabilityUpdateRefused(t *testing.T) {
	for _, code := range []int{504, 488} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			caps := profile.NewCapCache(16, time.Hour, nil)
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 300 * time.Millisecond})
			caller := newCaller(t, uesim.CallerOptions{RefuseUpdate: code})
			r := startHeraldCaps(t, st, callee.Addr(), nil, caps)

			res := r.mustCall(t, caller, erin, carol)
			tag := heraldTag(res)
			d := dialogOf(t, res, tag)
			if d.Updates != 1 || d.Pracked < 1 {
				t.Fatalf("Herald's dialog: %d UPDATEs, %d PRACKed; want the UPDATE after the PRACKed 183", d.Updates, d.Pracked)
			}
			if len(res.Pages[uesim.CalleeCard]) != 0 {
				t.Fatal("the refusing caller fetched the callee card")
			}
			if len(res.CallInfo) != 1 {
				t.Fatalf("Call-Info %q, want the callee card's link once", res.CallInfo)
			}
			checkCallInfo(t, "fallback", res.CallInfo)
			// The dialog lives on until the callee's answer ends it (with a 199, RFC 6228, which
			// the caller supports; unreliable, so it may also arrive after the 200 and be dropped).
			if provs := d.Provisionals; len(provs) < 2 || len(provs) > 3 || provs[0] != 183 || provs[1] != 183 || len(provs) == 3 && provs[2] != 199 {
				t.Fatalf("Herald's dialog provisionals %v, want the reliable 183, the Call-Info 183 (and 199 at the answer)", d.Provisionals)
			}
			if n := r.sig.Stats.Capability.UpdateRefused.Load(); n != 1 {
				t.Fatalf("UpdateRefused = %d, want 1", n)
			}
			for _, m := range res.Messages {
				if strings.Contains(m.String(), "200 (INVITE)") {
					break // the caller's own BYE ends the call later
				}
				if s := firstLine(m.Raw); strings.HasPrefix(s, "BYE ") || strings.HasPrefix(s, "CANCEL ") {
					t.Fatalf("early dialog torn down before the answer: %s", s)
				}
			}
			wantLearned(t, caps, canon(t, erin), false, true)

			res = r.mustCall(t, caller, erin, carol)
			for _, dl := range res.Dialogs {
				if dl.Updates != 0 {
					t.Fatalf("remembered caller got %d UPDATEs in dialog %s", dl.Updates, dl.ToTag)
				}
			}
			if len(res.CallInfo) != 1 {
				t.Fatalf("second call: Call-Info %q, want the callee card's link", res.CallInfo)
			}
			if n := r.sig.Stats.Capability.UpdateRefused.Load(); n != 1 {
				t.Fatalf("UpdateRefused = %d after the second call, want 1", n)
			}
			r.quiet(t)
		})
	}
}

// TestCapabilityCallerUnknown: a caller with 100rel and UPDATE that neither is provisioned, nor
// learned, nor says it takes pushes (no early-session in Supported, no +sip.message) gets no
// UPDATE: the callee card comes as a Call-Info link. The same caller saying
// "Contact: ...;+sip.message" gets the UPDATE and fetches the card (claims 5/7).
func TestCapabilityCallerUnknown(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	caps := profile.NewCapCache(16, time.Hour, nil)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 300 * time.Millisecond})
	plainUA := newCaller(t, uesim.CallerOptions{Supported: []string{"100rel", "timer"}})
	r := startHeraldCaps(t, st, callee.Addr(), nil, caps)
	res := r.mustCall(t, plainUA, erin, carol)
	for _, dl := range res.Dialogs {
		if dl.Updates != 0 {
			t.Fatalf("unknown caller got %d UPDATEs", dl.Updates)
		}
	}
	if len(res.CallInfo) != 1 || len(res.Pages[uesim.CalleeCard]) != 0 {
		t.Fatalf("unknown caller: Call-Info %q, page %d bytes; want the link only", res.CallInfo, len(res.Pages[uesim.CalleeCard]))
	}
	checkCallInfo(t, "unknown caller", res.CallInfo)

	var tag atomic.Bool
	tag.Store(true)
	tagged := newCaller(t, uesim.CallerOptions{Supported: []string{"100rel", "timer"}, Rewrite: func(req *sip.Request) {
		if h := req.GetHeader("Contact"); h != nil && tag.Load() {
			v := h.Value() + ";+sip.message"
			req.RemoveHeader("Contact")
			req.AppendHeader(sip.NewHeader("Contact", v))
		}
	}})
	res = r.mustCall(t, tagged, erin, carol)
	if !bytes.Equal(res.Pages[uesim.CalleeCard], pages["carol-callee.html"].Body) {
		t.Fatalf("caller with +sip.message: callee card %d bytes (%v), want it over MSRP", len(res.Pages[uesim.CalleeCard]), res.PageErrors)
	}
	// It accepted the m=message line and fetched: learned, so without the tag next time it still
	// gets the UPDATE.
	wantLearned(t, caps, canon(t, erin), true, true)
	tag.Store(false)
	res = r.mustCall(t, tagged, erin, carol)
	if !bytes.Equal(res.Pages[uesim.CalleeCard], pages["carol-callee.html"].Body) {
		t.Fatalf("learned caller without the tag: callee card %d bytes (%v), want it over MSRP", len(res.Pages[uesim.CalleeCard]), res.PageErrors)
	}
	r.quiet(t)
}

// TestCapabilityProbeAnsweredWithoutSession is a probed callee that fails the multipart INVITE the
// way linphone 5.1 does: 200 without SDP (it could not read the body), then hangs up. A proxy cannot
// refuse a 2xx, but Herald had not relayed it: it confirms and ends that dialog (ACK, then BYE, as
// for a 2xx after CANCEL) and sends the INVITE again without the part. The caller never sees the
// broken 200; it gets the callee's real answer, with SDP. The callee is remembered as not capable.
func TestCapabilityProbeAnsweredWithoutSession(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caps := profile.NewCapCache(16, time.Hour, nil)
	caller := newFPPeer(t)
	callee, ln := newFPPeerTCP(t)
	r := startHeraldCaps(t, st, callee.addr(), func(o *Options) { o.Probe = true }, caps)
	c := newFPCall(caller, alice, erin)
	caller.send(t, r.addr, c.invite())
	conn, br := fpAccept(t, ln)
	first := parseFP(t, "INVITE with the part", fpReadTCP(t, conn, br))
	if ct := first.one(t, "INVITE", "Content-Type"); !strings.HasPrefix(ct, "multipart/mixed") {
		t.Fatalf("probed INVITE: Content-Type %q, want multipart/mixed", ct)
	}
	contact := "<sip:erin@" + callee.addr() + ">"
	fpWriteTCP(t, conn, fpReply(t, first, 200, "OK", "ls1", false, contact, ""))

	// Herald's ACK and BYE for that 200 and the new INVITE, in any order (all over UDP: the ACK and
	// BYE go to the 200's Contact, the INVITE is small again).
	var ack, bye, second fpMsg
	for range 3 {
		m := parseFP(t, "after the 200 without SDP", callee.next(t, "ACK, BYE and INVITE").data)
		switch {
		case strings.HasPrefix(m.start, "ACK "):
			ack = m
		case strings.HasPrefix(m.start, "BYE "):
			bye = m
			callee.send(t, r.addr, fpReply(t, m, 200, "OK", "", false, "", ""))
		case strings.HasPrefix(m.start, "INVITE "):
			second = m
		default:
			t.Fatalf("unexpected at the callee: %s", m.start)
		}
	}
	for what, m := range map[string]fpMsg{"ACK": ack, "BYE": bye} {
		if m.raw == nil || !strings.HasSuffix(m.one(t, what, "To"), ";tag=ls1") {
			t.Fatalf("%s for the 200 without SDP: %q", what, m.start)
		}
	}
	if second.raw == nil || second.one(t, "resent", "Content-Type") != "application/sdp" {
		t.Fatalf("resent INVITE: %q, want the caller's SDP without the part", second.start)
	}
	callee.send(t, r.addr, fpReply(t, second, 200, "OK", "ls2", false, contact, fpSDPAnswer))
	got := parseFP(t, "relayed", caller.nextNot100(t, "relayed 200").data)
	if got.start != "SIP/2.0 200 OK" || !strings.HasSuffix(got.one(t, "200", "To"), ";tag=ls2") || string(got.body) != fpSDPAnswer {
		t.Fatalf("the caller got %q To %q body %q; want the 200 with SDP of the resent INVITE", got.start, got.one(t, "200", "To"), got.body)
	}
	caller.send(t, r.addr, c.request("ACK", "sip:erin@"+callee.addr(), fpBranch(), 1, "<"+erin+">;tag=ls2", []string{fpRoute(r)}))
	callee.next(t, "ACK for the real 200", second.raw)
	wantLearned(t, caps, canon(t, erin), false, true)
	caller.silent(t, "caller after its ACK", 3*testT1)
	r.quiet(t)
}

// TestCapabilityCallInfoReliableWhenRequired: a caller whose INVITE has Require: 100rel gets every
// provisional of Herald's reliably (RFC 3262 §3), the Call-Info ones too: the fallback 183 after
// its refused UPDATE goes with the next RSeq and is PRACKed (the dialog now holds two PRACKed
// reliable 183s); on the next call (refusal remembered) the only 183, carrying the Call-Info link
// and answering the offer inactive, is reliable as well.
func TestCapabilityCallInfoReliableWhenRequired(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caps := profile.NewCapCache(16, time.Hour, nil)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 300 * time.Millisecond})
	caller := newCaller(t, uesim.CallerOptions{RefuseUpdate: 504, Rewrite: func(req *sip.Request) {
		req.AppendHeader(sip.NewHeader("Require", "100rel"))
	}})
	r := startHeraldCaps(t, st, callee.Addr(), nil, caps)

	res := r.mustCall(t, caller, erin, carol)
	d := dialogOf(t, res, heraldTag(res))
	if d.Updates != 1 || d.Reliable != 2 || d.Pracked != 2 {
		t.Fatalf("Herald's dialog: %d UPDATEs, %d reliable, %d PRACKed; want the refused UPDATE and two PRACKed reliable 183s", d.Updates, d.Reliable, d.Pracked)
	}
	if len(res.CallInfo) != 1 {
		t.Fatalf("Call-Info %q, want the callee card's link", res.CallInfo)
	}
	checkCallInfo(t, "reliable fallback", res.CallInfo)

	res = r.mustCall(t, caller, erin, carol)
	d = dialogOf(t, res, heraldTag(res))
	if d.Updates != 0 || d.Reliable != 1 || d.Pracked != 1 || len(res.CallInfo) != 1 {
		t.Fatalf("second call: %d UPDATEs, %d reliable, %d PRACKed, Call-Info %q; want one reliable 183 with the link", d.Updates, d.Reliable, d.Pracked, res.CallInfo)
	}
	r.quiet(t)
}
