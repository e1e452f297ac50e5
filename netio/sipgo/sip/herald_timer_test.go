package sip

// Herald's tests of its transaction patches (HERALD.md): not upstream's.

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// nullConn is a Connection that writes nowhere.
type nullConn struct{}

func (nullConn) LocalAddr() net.Addr    { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070} }
func (nullConn) WriteMsg(Message) error { return nil }
func (nullConn) Ref(int) int            { return 1 }
func (nullConn) TryClose() (int, error) { return 1, nil }
func (nullConn) Close() error           { return nil }

const heraldTimerInvite = "INVITE sip:bob@127.0.0.1:5080 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-timer-m\r\n" +
	"From: <sip:alice@example.com>;tag=a1\r\n" +
	"To: <sip:bob@example.com>\r\n" +
	"Call-ID: timer-m@127.0.0.1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Max-Forwards: 70\r\n" +
	"Content-Length: 0\r\n\r\n"

// heraldTimers reports which of the client transaction's timers are still armed.
func heraldTimers(tx *ClientTx) (a, b, d, m bool) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.timer_a != nil, tx.timer_b != nil, tx.timer_d != nil, tx.timer_m != nil
}

// TestHeraldTerminateStopsTimerM pins the patch to ClientTx.delete and actPassupAccept without the
// garbage collector: an INVITE client transaction that has passed up a 2xx (RFC 6026 §8.4:
// Accepted, Timer M = 64·T1) and is then terminated by its TU holds no timer, in both orders the
// TU can meet the FSM in. Terminated after Timer M started, delete stops it; terminated while the
// 2xx is being passed up (before the FSM starts Timer M: here forced by holding the pass-up until
// Terminate has run), Timer M is never started. Upstream left it running in both, and its closure
// held the transaction and its request for 32 s.
func TestHeraldTerminateStopsTimerM(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newTx := func(t *testing.T) *ClientTx {
		m, err := ParseMessage([]byte(heraldTimerInvite))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*Request)
		tx := NewClientTx("timer-m", req, nullConn{}, log)
		if err := tx.Init(); err != nil {
			t.Fatal(err)
		}
		if a, b, _, _ := heraldTimers(tx); !a || !b {
			t.Fatalf("an INVITE over UDP starts Timers A and B (RFC 3261 §17.1.1.2): A %v, B %v", a, b)
		}
		return tx
	}
	ok := func(req *Request) *Response { return NewResponseFromRequest(req, 200, "OK", nil) }

	t.Run("terminated after Timer M started", func(t *testing.T) {
		tx := newTx(t)
		go tx.Receive(ok(tx.origin))
		select {
		case <-tx.Responses():
		case <-time.After(5 * time.Second):
			t.Fatal("the 2xx was not passed up")
		}
		// The FSM starts Timer M after the pass-up returns; wait for it (it is the state the
		// first subtest is about), then terminate.
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, _, _, m := heraldTimers(tx); m {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Timer M never started in Accepted (RFC 6026 §8.4)")
			}
			time.Sleep(time.Millisecond)
		}
		tx.Terminate()
		if a, b, d, m := heraldTimers(tx); a || b || d || m {
			t.Fatalf("terminated transaction still holds timers: A %v, B %v, D %v, M %v", a, b, d, m)
		}
	})
	t.Run("terminated while the 2xx is passed up", func(t *testing.T) {
		tx := newTx(t)
		// The TU's Terminate runs on its own goroutine (Herald's controller gets the 2xx as an
		// event), and here is made to win the race: the pass-up returns only once Terminate has
		// marked the transaction done, before the FSM goes on to start Timer M.
		terminated := make(chan struct{})
		tx.SetPassUp(func(*Response) {
			go func() { tx.Terminate(); close(terminated) }()
			<-tx.Done()
		})
		tx.Receive(ok(tx.origin)) // synchronous: the FSM has finished with the 2xx when it returns
		select {
		case <-terminated:
		case <-time.After(5 * time.Second):
			t.Fatal("Terminate did not return once the FSM let go of the 2xx")
		}
		if a, b, d, m := heraldTimers(tx); a || b || d || m {
			t.Fatalf("Timer M started after the TU terminated the transaction: A %v, B %v, D %v, M %v", a, b, d, m)
		}
	})
}
