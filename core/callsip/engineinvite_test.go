package callsip

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// rawResponse is a callee's response to a forwarded INVITE, as the engine hands it over.
func rawResponse(code int, reason string) []byte {
	return fmt.Appendf(nil, "SIP/2.0 %d %s\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-hrld-1\r\n"+
		"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKc\r\nFrom: <sip:erin@home1.net>;tag=f\r\n"+
		"To: <sip:dave@home2.net>;tag=t\r\nCall-ID: c-fi\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", code, reason)
}

// tryInto is a controller's non-blocking post (listen's): into inbox when it has room.
func tryInto(inbox chan *sip.Response) func(*sip.Response) bool {
	return func(res *sip.Response) bool {
		select {
		case inbox <- res:
			return true
		default:
			return false
		}
	}
}

// TestEngineInviteOrderNeverBlocks proves how the responses of a call's INVITE on the engine
// (EngineInvite) reach its controller: in the order the engine hands them over, without ever blocking
// the engine's goroutine (the sink returns while the controller takes nothing), a response that
// came before the controller listens included; the end at Timer B comes last, after every response
// before it; what does not parse is counted and dropped, as sipgo drops it.
func TestEngineInviteOrderNeverBlocks(t *testing.T) {
	var bad atomic.Uint64
	ti := &engineInvite{src: "127.0.0.1:5070", done: make(chan struct{}), bad: &bad}
	ti.sink(rawResponse(100, "Trying")) // before the controller listens
	ti.sink([]byte("SIP/2.0 nonsense\r\n\r\n"))
	if bad.Load() != 1 {
		t.Fatalf("unparsable response counted %d times, want 1", bad.Load())
	}

	inbox := make(chan *sip.Response) // a controller that takes nothing yet: every try fails
	ti.SetTryPassUp(tryInto(inbox))
	var ended atomic.Bool
	if !ti.OnTerminate(func(_ string, err error) {
		if !errors.Is(err, sip.ErrTransactionTimeout) {
			t.Errorf("ended with %v, want a timeout", err)
		}
		ended.Store(true)
	}) {
		t.Fatal("OnTerminate refused before the end")
	}
	ti.SetPassUp(func(res *sip.Response) { inbox <- res })

	const n = 50
	returned := make(chan struct{})
	go func() {
		for i := range n {
			ti.sink(rawResponse(180+i%2, "Ringing"))
		}
		ti.sink(nil) // Timer B
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("the engine's goroutine blocked on a controller that takes nothing")
	}

	want := []int{100}
	for i := range n {
		want = append(want, 180+i%2)
	}
	for i, code := range want {
		select {
		case res := <-inbox:
			if res.StatusCode != code || res.Transport() != "UDP" || res.Source() != "127.0.0.1:5070" {
				t.Fatalf("response %d: %d over %s from %s, want %d over UDP from the next hop", i, res.StatusCode, res.Transport(), res.Source(), code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("response %d (%d) never came", i, code)
		}
		if i < len(want)-1 && ended.Load() {
			t.Fatalf("the end came before response %d", i+1)
		}
	}
	select {
	case <-ti.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Timer B")
	}
	// Done closes before the OnTerminate functions run (end): wait for them.
	for deadline := time.Now().Add(5 * time.Second); !ended.Load() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if !ended.Load() || !errors.Is(ti.Err(), sip.ErrTransactionTimeout) || ti.OnTerminate(func(string, error) {}) {
		t.Fatalf("after the end: ended %t, Err %v", ended.Load(), ti.Err())
	}
	ti.sink(rawResponse(200, "OK")) // after the end: dropped, not delivered
	select {
	case res := <-inbox:
		t.Fatalf("%d delivered after the end", res.StatusCode)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestEngineInviteTryFirst: with room in the controller's inbox and nothing queued, a response goes
// straight in on the engine's goroutine (no goroutine of its own).
func TestEngineInviteTryFirst(t *testing.T) {
	var bad atomic.Uint64
	ti := &engineInvite{src: "127.0.0.1:5070", done: make(chan struct{}), bad: &bad}
	inbox := make(chan *sip.Response, 4)
	ti.SetTryPassUp(tryInto(inbox))
	ti.SetPassUp(func(*sip.Response) { t.Error("the waiting path was taken with room in the inbox") })
	for _, code := range []int{100, 180, 200} {
		ti.sink(rawResponse(code, "x"))
		ti.mu.Lock()
		pumping := ti.pumping
		ti.mu.Unlock()
		if len(inbox) == 0 || pumping {
			t.Fatalf("%d: not in the inbox at once", code)
		}
		if res := <-inbox; res.StatusCode != code {
			t.Fatalf("got %d, want %d", res.StatusCode, code)
		}
	}
}
