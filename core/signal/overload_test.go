package signal

import (
	"bytes"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/overload"
)

// overloaded returns a Shedder that sheds every call, as after eight overloaded windows.
func overloaded(t *testing.T) *overload.Shedder {
	t.Helper()
	sh := overload.New(overload.Options{Target: 32})
	for range 8 {
		sh.Observe(1000, 100) // a run queue that never fell under 1,000 goroutines
	}
	if sh.Ratio() != overload.Scale {
		t.Fatalf("shed share %d, want all", sh.Ratio())
	}
	return sh
}

// TestOverloadShedsToPlain: an overloaded Herald (Deps.Shed shedding every call) forwards a call
// between two parties with both cards as a plain call, whichever path decides (uesim's INVITE over
// UDP: the fast path's engine, which forwards it itself; over TCP: the general path's controller,
// after admission): the callee gets the caller's INVITE body untouched (no early-session part,
// claims 1/3 not exercised), the caller no 183 of Herald's own and no UPDATE (claims 1/4), the
// call is answered as it would be without Herald, and each is counted in herald_sip_shed_total.
// The same Herald with shedding back at none pushes both cards again.
func TestOverloadShedsToPlain(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond})
	sh := overloaded(t)
	h := startHeraldDeps(t, st, callee.Addr(), nil, nil, nil, func(d *Deps) { d.Shed = sh })
	for i, transport := range []string{"udp", "tcp"} {
		caller := newCaller(t, uesim.CallerOptions{Transport: transport})
		res := h.mustCall(t, caller, alice, bob)
		ce := calleeSide(t, callee, res.CallID)
		if got, want := bodyOf(ce.InviteRaw), bodyOf(sentInvite(t, res).Raw); !bytes.Equal(got, want) {
			t.Fatalf("%s: shed call's body changed (a card was added):\n%s\nwant\n%s", transport, got, want)
		}
		if n := len(pick(res.Messages, uesim.Received, "UPDATE", 0)); n != 0 || len(res.Dialogs) != 1 {
			t.Fatalf("%s: shed call got %d UPDATEs and %d dialogs, want none of Herald's own", transport, n, len(res.Dialogs))
		}
		if got := h.sig.Snapshot().Shed; got != uint64(i+1) {
			t.Fatalf("%s: herald_sip_shed_total %d, want %d", transport, got, i+1)
		}
	}
	if s := &h.sig.Stats; s.CallerCards.Load()+s.CalleeCards.Load() != 0 {
		t.Fatalf("cards pushed while shedding everything: %d/%d", s.CallerCards.Load(), s.CalleeCards.Load())
	}
	if snap := h.sig.Snapshot(); snap.Shed != 2 || snap.Overload.ShedShare != 1 || snap.Overload.RunQueue != 1000 {
		t.Fatalf("snapshot: shed %d, overload %+v", snap.Shed, snap.Overload)
	}

	// Clear again (32 clear windows from all): the next call has its cards.
	for range 32 {
		sh.Observe(0, 100)
	}
	caller := newCaller(t, uesim.CallerOptions{})
	res := h.mustCall(t, caller, alice, bob)
	if len(pick(res.Messages, uesim.Received, "UPDATE", 0)) != 1 {
		t.Fatal("after the overload: no UPDATE with the callee card")
	}
	h.quiet(t)
	if s := &h.sig.Stats; s.CallerCards.Load() != 1 || s.CalleeCards.Load() != 1 || sh.Calls.Load() != 2 {
		t.Fatalf("after the overload: cards %d/%d, shed %d; want 1/1 and still 2", s.CallerCards.Load(), s.CalleeCards.Load(), sh.Calls.Load())
	}
}

// TestOverloadOffByDefault: without a Shedder nothing is shed however the call looks.
func TestOverloadOffByDefault(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond})
	h := startHerald(t, st, callee.Addr(), nil)
	res := h.mustCall(t, newCaller(t, uesim.CallerOptions{}), alice, bob)
	if len(pick(res.Messages, uesim.Received, "UPDATE", 0)) != 1 || h.sig.Snapshot().Shed != 0 {
		t.Fatalf("no shedder: UPDATEs %d, shed %d", len(pick(res.Messages, uesim.Received, "UPDATE", 0)), h.sig.Snapshot().Shed)
	}
	if snap := h.sig.Snapshot(); snap.Overload != (Snapshot{}).Overload {
		t.Fatalf("no shedder: overload snapshot %+v", snap.Overload)
	}
}

// TestOverloadShedOnce: an INVITE with a card that the fast path would hand to the general path is
// shed on the fast path when the share says so, and forwarded plain by the engine itself (no trip
// through the general path); the caller's retransmission of it is absorbed by the engine's
// transaction, never admitted as a second call (482). The callee gets one INVITE with the caller's
// body untouched, its 200 reaches the caller, and the call is counted shed once.
func TestOverloadShedOnce(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	sh := overloaded(t)
	r := startHeraldDeps(t, st, callee.addr(), nil, nil, nil, func(d *Deps) { d.Shed = sh })
	c := newFPCall(caller, alice, erin) // alice has a caller card; a sip: Request-URI, which the scanner reads
	inv := c.invite()
	caller.send(t, r.addr, inv)
	caller.send(t, r.addr, inv) // a retransmission
	fwd := parseFP(t, "shed INVITE", callee.next(t, "shed INVITE").data)
	if !bytes.Equal(fwd.body, []byte(c.body)) {
		t.Fatalf("shed INVITE's body changed:\n%s\nwant\n%s", fwd.body, c.body)
	}
	callee.send(t, r.addr, fpReply(t, fwd, 200, "OK", "shed", false, "<sip:erin@"+callee.addr()+">", fpSDP))
	if m := fpFinal(t, "200", caller); m.start != "SIP/2.0 200 OK" {
		t.Fatalf("caller got %s, want the callee's 200", m.start)
	}
	for _, g := range caller.drain(200 * time.Millisecond) {
		if bytes.HasPrefix(g.data, []byte("SIP/2.0 4")) {
			t.Fatalf("the retransmission was answered as another call:\n%s", g.data)
		}
	}
	for _, g := range callee.drain(100 * time.Millisecond) {
		if bytes.HasPrefix(g.data, []byte("INVITE ")) && !bytes.Equal(g.data, fwd.raw) {
			t.Fatalf("a second INVITE reached the callee:\n%s", g.data)
		}
	}
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1)
	fpStat(t, "Shed", &sh.Calls, 1)
	fpStat(t, "CallerCards", &r.sig.Stats.CallerCards, 0)
}

// TestOverloadShedDecidedOnce: the fast path's plain-call rule gives every copy of an INVITE the
// first copy's answer. An INVITE with cards handed to the general path while nothing was shed is
// handed over again when its retransmission comes after the share has grown to all (the general
// path's transaction absorbs it and its controller decides, after admission); a new INVITE at that
// share is shed. Without the memory the retransmission was forwarded plain by the fast path while
// the general path held the first copy, and the caller got 482 (Session 16's measurement).
func TestOverloadShedDecidedOnce(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	sh := overload.New(overload.Options{Target: 32})
	h := startHeraldDeps(t, st, "127.0.0.1:9", nil, nil, nil, func(d *Deps) { d.Shed = sh })
	first := []byte("decided-once@192.0.2.7")
	if h.sig.plainCall(first, alice, bob, true) {
		t.Fatal("a call with both cards was plain with nothing shed")
	}
	for range 8 {
		sh.Observe(1000, 100) // overloaded: the share grows to all
	}
	if h.sig.plainCall(first, alice, bob, true) {
		t.Fatal("the retransmission of an INVITE handed to the general path was shed on the fast path")
	}
	if !h.sig.plainCall([]byte("new@192.0.2.8"), alice, bob, true) {
		t.Fatal("a new call with cards was not shed at a share of all")
	}
	if !h.sig.plainCall([]byte("plain@192.0.2.9"), erin, erin, true) {
		t.Fatal("a plain call is not plain")
	}
	if got := sh.Calls.Load(); got != 1 {
		t.Fatalf("%d calls counted shed, want 1", got)
	}
}
