package signal

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/safe"
)

// The recovery net (recover.go): at each boundary an injected panic is counted once in
// herald_panics_total{plane="sip"} (safe.Count) and Stats.Panics, a request owed an answer gets 500
// with Retry-After, and the node goes on serving: a valid call completes after.

// inject makes hook panic for the values match selects, until the test ends.
func inject[T any](t *testing.T, hook *atomic.Pointer[func(T)], match func(T) bool) {
	t.Helper()
	f := func(v T) {
		if match(v) {
			panic("injected fault")
		}
	}
	hook.Store(&f)
	t.Cleanup(func() { hook.Store(nil) })
}

// marked is a raw INVITE of c carrying the header that selects it for an injected panic.
func marked(c *fpCall) []byte {
	return bytes.Replace(c.invite(), []byte("User-Agent: fp-test\r\n"), []byte("User-Agent: fp-test\r\nX-Inject: panic\r\n"), 1)
}

func isMarked(req *sip.Request) bool { return req.GetHeader("X-Inject") != nil }

// check500 checks a response of Herald's to be 500 with Retry-After (RFC 3261 §21.5.1, §20.33).
func check500(t *testing.T, what string, res []byte) {
	t.Helper()
	if !bytes.HasPrefix(res, []byte("SIP/2.0 500 ")) || !bytes.Contains(res, []byte("\r\nRetry-After: ")) {
		t.Fatalf("%s: want 500 with Retry-After, got\n%s", what, res)
	}
}

// panicked waits until the SIP plane counted want more panics than before, in both counters.
func panicked(t *testing.T, h *rig, before, beforeStats uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(fpWait)
	for safe.Count(safe.SIP)-before < want || h.sig.Stats.Panics.Load()-beforeStats < want {
		if time.Now().After(deadline) {
			t.Fatalf("panics counted: safe %d, Stats %d, want %d", safe.Count(safe.SIP)-before, h.sig.Stats.Panics.Load()-beforeStats, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := safe.Count(safe.SIP) - before; got != want {
		t.Fatalf("panics counted %d, want %d", got, want)
	}
}

func TestRecoverRequestHandler(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 20 * time.Millisecond, AnswerWithoutPage: true})
	h := startHerald(t, st, callee.Addr(), func(o *Options) { o.DisableFastPath = true })
	inject(t, &hookHandler, isMarked)
	before, beforeStats := safe.Count(safe.SIP), h.sig.Stats.Panics.Load()
	p := newFPPeer(t)
	p.send(t, h.addr, marked(newFPCall(p, dave, erin)))
	check500(t, "INVITE", p.nextNot100(t, "answer").data)
	panicked(t, h, before, beforeStats, 1)
	h.mustCall(t, newCaller(t, uesim.CallerOptions{}), dave, erin)
	h.quiet(t)
}

func TestRecoverCallController(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 1500 * time.Millisecond, AnswerWithoutPage: true}) // the valid call with both cards: both pages fetched before the answer ends the pushes, on a loaded box too
	h := startHerald(t, st, callee.Addr(), nil)
	inject(t, &h.sig.calls.Faults.Controller, isMarked)
	before, beforeStats := safe.Count(safe.SIP), h.sig.Stats.Panics.Load()
	p := newFPPeer(t)
	c := newFPCall(p, alice, bob) // cards: the general path's controller
	p.send(t, h.addr, marked(c))
	check500(t, "INVITE", p.nextNot100(t, "answer").data)
	panicked(t, h, before, beforeStats, 1)
	if len(callee.Calls()) != 0 {
		t.Fatal("the INVITE was forwarded")
	}
	h.mustCall(t, newCaller(t, uesim.CallerOptions{}), alice, bob)
	h.quiet(t)
}

// TestRecoverResponseHandling: a panic while the controller handles the callee's first provisional answers the
// caller 500 and cancels the forwarded INVITE (the callee's transaction ends, nothing is left).
func TestRecoverResponseHandling(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 1500 * time.Millisecond, AnswerWithoutPage: true}) // the valid call with both cards: both pages fetched before the answer ends the pushes, on a loaded box too
	h := startHerald(t, st, callee.Addr(), nil)
	var armed atomic.Bool
	armed.Store(true)
	inject(t, &h.sig.calls.Faults.Response, func(res *sip.Response) bool {
		return res.StatusCode > 100 && res.StatusCode < 200 && armed.CompareAndSwap(true, false)
	})
	before, beforeStats := safe.Count(safe.SIP), h.sig.Stats.Panics.Load()
	res, _ := h.call(t, newCaller(t, uesim.CallerOptions{}), alice, bob)
	if res.Final != 500 {
		t.Fatalf("final %d, want 500", res.Final)
	}
	for _, m := range res.Messages {
		if m.Response != nil && m.Status() == 500 && m.Response.GetHeader("Retry-After") == nil {
			t.Fatal("500 without Retry-After")
		}
	}
	panicked(t, h, before, beforeStats, 1)
	cc := calleeSide(t, callee, res.CallID)
	if cc.Final != 487 {
		t.Fatalf("callee's INVITE ended %d, want 487 (Herald's CANCEL)", cc.Final)
	}
	h.mustCall(t, newCaller(t, uesim.CallerOptions{}), alice, bob)
	h.quiet(t)
}

func TestRecoverUnhandledResponse(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 20 * time.Millisecond, AnswerWithoutPage: true})
	h := startHerald(t, st, callee.Addr(), nil)
	inject(t, &hookUnhandled, func(res *sip.Response) bool { return res.GetHeader("X-Inject") != nil })
	before, beforeStats := safe.Count(safe.SIP), h.sig.Stats.Panics.Load()
	p := newFPPeer(t)
	stray := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:" + portOf(h.addr) + ";branch=z9hG4bKstray1\r\n" +
		"Via: SIP/2.0/UDP " + p.addr() + ";branch=z9hG4bKstray0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n" +
		"Call-ID: stray@test\r\nCSeq: 1 INVITE\r\nX-Inject: panic\r\nContent-Length: 0\r\n\r\n"
	p.send(t, h.addr, []byte(stray))
	panicked(t, h, before, beforeStats, 1)
	h.mustCall(t, newCaller(t, uesim.CallerOptions{}), dave, erin)
	h.quiet(t)
}

func TestRecoverFastPathTake(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 20 * time.Millisecond, AnswerWithoutPage: true})
	h := startHerald(t, st, callee.Addr(), nil)
	inject(t, &h.sig.fast.Faults.Take, func(b []byte) bool { return bytes.Contains(b, []byte("X-Inject: panic")) })
	before, beforeStats := safe.Count(safe.SIP), h.sig.Stats.Panics.Load()
	p := newFPPeer(t)
	p.send(t, h.addr, marked(newFPCall(p, dave, erin)))
	check500(t, "INVITE", p.nextNot100(t, "answer").data)
	panicked(t, h, before, beforeStats, 1)
	h.mustCall(t, newCaller(t, uesim.CallerOptions{}), dave, erin) // a fast-path call
	if h.sig.Stats.Fast.Calls.Load() == 0 {
		t.Fatal("the valid call did not take the fast path")
	}
	h.quiet(t)
}

// TestRecoverFastPathTimers: a panic in the fast path's timer loop, with its table lock held, is
// counted, the lock released, and the loop goes on: a fast-path call completes after.
func TestRecoverFastPathTimers(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 20 * time.Millisecond, AnswerWithoutPage: true})
	h := startHerald(t, st, callee.Addr(), nil)
	var armed atomic.Bool
	armed.Store(true)
	before, beforeStats := safe.Count(safe.SIP), h.sig.Stats.Panics.Load()
	inject(t, &h.sig.fast.Faults.Tick, func(struct{}) bool { return armed.CompareAndSwap(true, false) })
	panicked(t, h, before, beforeStats, 1)
	h.mustCall(t, newCaller(t, uesim.CallerOptions{}), dave, erin)
	if h.sig.Stats.Fast.Calls.Load() == 0 {
		t.Fatal("the valid call did not take the fast path")
	}
	h.quiet(t)
}

// TestRecoverFastPathUnderLock: a panic in the fast path's handling of an INVITE while it holds its
// table lock is answered 500, and the lock released: the next fast-path call completes.
func TestRecoverFastPathUnderLock(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 20 * time.Millisecond, AnswerWithoutPage: true})
	h := startHerald(t, st, callee.Addr(), nil)
	inject(t, &h.sig.fast.Faults.Locked, func(b []byte) bool { return bytes.Contains(b, []byte("X-Inject: panic")) })
	before, beforeStats := safe.Count(safe.SIP), h.sig.Stats.Panics.Load()
	p := newFPPeer(t)
	p.send(t, h.addr, marked(newFPCall(p, dave, erin)))
	check500(t, "INVITE", p.nextNot100(t, "answer").data)
	panicked(t, h, before, beforeStats, 1)
	h.mustCall(t, newCaller(t, uesim.CallerOptions{}), dave, erin)
	if h.sig.Stats.Fast.Calls.Load() == 0 {
		t.Fatal("the valid call did not take the fast path")
	}
	h.quiet(t)
}

// TestRecoverHelpers: a panic in sipgo's OnCancel callback Herald registers, in the goroutine that
// CANCELs the forwarded INVITE, or in the one that sends the callee card's UPDATE, is counted once
// and the call still ends as it should (487 to the cancelled caller, 200 to the answered one);
// nothing is left and a call completes after.
func TestRecoverHelpers(t *testing.T) {
	for _, tc := range []struct {
		where  string
		cancel bool
		final  int
	}{{"oncancel", true, 487}, {"cancel", true, 487}, {"update", false, 200}} {
		t.Run(tc.where, func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			ring := 300 * time.Millisecond
			if tc.cancel {
				ring = time.Second // the caller cancels at 200 ms (and the valid call after rings this long)
			}
			callee := newCallee(t, uesim.CalleeOptions{RingTime: ring, AnswerWithoutPage: true})
			h := startHerald(t, st, callee.Addr(), nil)
			var armed atomic.Bool
			armed.Store(true)
			inject(t, &h.sig.calls.Faults.Helper, func(w string) bool { return w == tc.where && armed.CompareAndSwap(true, false) })
			before, beforeStats := safe.Count(safe.SIP), h.sig.Stats.Panics.Load()
			opts := uesim.CallerOptions{FetchTimeout: time.Second}
			if tc.cancel {
				opts.CancelAfter = 200 * time.Millisecond
			}
			res, _ := h.call(t, newCaller(t, opts), alice, bob)
			if res.Final != tc.final {
				t.Fatalf("final %d, want %d", res.Final, tc.final)
			}
			panicked(t, h, before, beforeStats, 1)
			calleeSide(t, callee, res.CallID)
			h.quiet(t)
			h.mustCall(t, newCaller(t, uesim.CallerOptions{}), dave, erin)
			h.quiet(t)
		})
	}
}
