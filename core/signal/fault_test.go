package signal

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/profile"
)

// faultyStore fails the way a broken profile backend could: by panicking inside the call controller.
type faultyStore struct{}

func (faultyStore) Lookup(string) (*profile.Profile, bool) { panic("profile store exploded") }

// TestControllerFaultAnswers500 proves Herald's own faults get 500 with Retry-After, never silence
// (issue 4 item 5), and that the call's state is still released.
func TestControllerFaultAnswers500(t *testing.T) {
	leakCheck(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
	h := startHerald(t, faultyStore{}, callee.Addr(), nil)
	caller := newCaller(t, uesim.CallerOptions{})
	res, _ := h.call(t, caller, alice, bob)
	if res.Final != 500 {
		t.Fatalf("final %d, want 500", res.Final)
	}
	var retryAfter bool
	for _, m := range res.Messages {
		if m.Response != nil && m.Status() == 500 && m.Response.GetHeader("Retry-After") != nil {
			retryAfter = true
		}
	}
	if !retryAfter || h.sig.Stats.Panics.Load() != 1 || len(callee.Calls()) != 0 {
		t.Fatalf("Retry-After %t, panics %d, forwarded %d", retryAfter, h.sig.Stats.Panics.Load(), len(callee.Calls()))
	}
	h.quiet(t)
}

// TestMaxCalls503 proves the call limit is a clean, counted refusal: with MaxCalls 1, a second INVITE
// while the first rings gets 503 with Retry-After and is not forwarded; the first call completes.
func TestMaxCalls503(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 600 * time.Millisecond, AnswerWithoutPage: true})
	h := startHerald(t, st, callee.Addr(), func(o *Options) { o.MaxCalls = 1 })
	first, second := newCaller(t, uesim.CallerOptions{}), newCaller(t, uesim.CallerOptions{})
	done := make(chan *uesim.CallResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, _ := first.Call(ctx, h.addr, dave, erin)
		done <- res
	}()
	deadline := time.Now().Add(5 * time.Second)
	for h.sig.ActiveCalls() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	res, _ := h.call(t, second, dave, erin)
	if res.Final != 503 {
		t.Fatalf("second call: final %d, want 503", res.Final)
	}
	var retryAfter bool
	for _, m := range res.Messages {
		if m.Response != nil && m.Status() == 503 && m.Response.GetHeader("Retry-After") != nil {
			retryAfter = true
		}
	}
	if !retryAfter || h.sig.Stats.Rejected503.Load() != 1 {
		t.Fatalf("Retry-After %t, Rejected503 %d", retryAfter, h.sig.Stats.Rejected503.Load())
	}
	if r := <-done; r == nil || r.Final != 200 {
		t.Fatalf("first call did not complete: %+v", r)
	}
	if n := len(callee.Calls()); n != 1 {
		t.Fatalf("callee saw %d INVITEs, want 1", n)
	}
	h.quiet(t)
}

// TestMalformedBodyForwardedUntouched sends the issue-2 bad input: an INVITE whose SDP body is
// malformed, from a caller who has a caller card. Herald must not crash or add its part: the body
// reaches the next hop byte for byte, the bad body is counted, and no push session is left open.
func TestMalformedBodyForwardedUntouched(t *testing.T) {
	for name, body := range map[string]string{
		"garbage sdp":         "this is not sdp\r\n",
		"truncated multipart": "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond, AnswerWithoutPage: true})
			h := startHerald(t, st, callee.Addr(), nil)
			ct := "application/sdp"
			if strings.HasPrefix(body, "--") {
				ct = "multipart/mixed;boundary=b1"
			}
			caller := newCaller(t, uesim.CallerOptions{Rewrite: func(r *sip.Request) {
				r.SetBody([]byte(body))
				h := sip.ContentTypeHeader(ct)
				r.ReplaceHeader(&h)
			}})
			res, _ := h.call(t, caller, alice, bob)
			if res.Final == 0 || res.Final == 500 {
				t.Fatalf("final %d: the bad body must be forwarded or answered 400/488, not crash", res.Final)
			}
			cc := calleeSide(t, callee, res.CallID)
			if cc.Invite == nil || string(cc.Invite.Body()) != body {
				t.Fatalf("next hop got body %q, want the caller's %q untouched", cc.Invite.Body(), body)
			}
			if got := cc.Invite.ContentType().Value(); got != ct {
				t.Fatalf("next hop got Content-Type %q, want %q", got, ct)
			}
			if h.sig.Stats.BadBodies.Load() != 1 || h.sig.Stats.CallerCards.Load() != 0 {
				t.Fatalf("BadBodies %d CallerCards %d", h.sig.Stats.BadBodies.Load(), h.sig.Stats.CallerCards.Load())
			}
			h.quiet(t)
		})
	}
}
