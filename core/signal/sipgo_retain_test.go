package signal

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The tests below pin the two Herald patches to sipgo's transactions that bound what a finished
// transaction keeps (netio/sipgo/HERALD.md): ClientTx.Terminate stops Timer M, and a server
// transaction answered finally drops its request (and an INVITE's 2xx) while it is kept 64·T1 for
// retransmissions. Both are what a push call's memory at a sustained call rate is made of.

// recConn is a sip.Connection that records what the transaction layer writes.
type recConn struct {
	mu  sync.Mutex
	out [][]byte
}

func (c *recConn) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070} }
func (c *recConn) WriteMsg(m sip.Message) error {
	var b bytes.Buffer
	m.StringWrite(&b)
	c.mu.Lock()
	c.out = append(c.out, b.Bytes())
	c.mu.Unlock()
	return nil
}
func (c *recConn) Ref(int) int            { return 1 }
func (c *recConn) TryClose() (int, error) { return 1, nil }
func (c *recConn) Close() error           { return nil }
func (c *recConn) writes() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.out...)
}
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func parseReq(t *testing.T, s string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

const retainInvite = "INVITE sip:bob@127.0.0.1:5080 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-retain-1\r\n" +
	"From: <sip:alice@example.com>;tag=a1\r\n" +
	"To: <sip:bob@example.com>\r\n" +
	"Call-ID: retain-1@127.0.0.1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Contact: <sip:alice@127.0.0.1:5060>\r\n" +
	"Max-Forwards: 70\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 4\r\n\r\nv=0\n"

const retainPrack = "PRACK sip:herald@127.0.0.1:5070 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-retain-2\r\n" +
	"From: <sip:alice@example.com>;tag=a1\r\n" +
	"To: <sip:bob@example.com>;tag=h1\r\n" +
	"Call-ID: retain-1@127.0.0.1\r\n" +
	"CSeq: 2 PRACK\r\n" +
	"RAck: 1 1 INVITE\r\n" +
	"Max-Forwards: 70\r\n" +
	"Content-Length: 0\r\n\r\n"

// answeredServerTx is a server transaction for req that has sent its final response res.
func answeredServerTx(t *testing.T, key string, req *sip.Request, conn sip.Connection, res *sip.Response) *sip.ServerTx {
	t.Helper()
	tx := sip.NewServerTx(key, req, conn, quietLog())
	if err := tx.Init(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Respond(res); err != nil {
		t.Fatal(err)
	}
	return tx
}

// collected reports whether the object a cleanup was registered on is collected within d.
func collected(ch <-chan struct{}, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-ch:
			return true
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}

// isolated reruns the calling test alone in a child process with one P (GOMAXPROCS=1) and reports
// whether it did; the child, seeing its own name in HERALD_ISOLATED, runs the test's body. For a
// test that asks the collector whether a stopped timer let go of what its closure held: the runtime
// keeps a stopped timer in its P's heap, closure and all, until it clears that heap's stopped
// timers, which it does at once only when they are over a quarter of the timers there and it is
// that P checking (runtime/time.go, timers.check). In the package's run, timers that earlier tests
// left on the other P (sipgo's 32 s Timer B and Timer L of their calls) can hold that off past any
// deadline; alone on one P, the heap is the test's own.
func isolated(t *testing.T) bool {
	t.Helper()
	if os.Getenv("HERALD_ISOLATED") == t.Name() {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "HERALD_ISOLATED="+t.Name(), "GOMAXPROCS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")) {
		t.Fatalf("%s did not run in its own process:\n%s", t.Name(), out)
	}
	return true
}

// TestSipgoClientTxTerminateStopsTimerM is the memory side of the Timer M patch, run in its own
// process (isolated); sipgo's TestHeraldTerminateStopsTimerM pins the timers themselves, in both
// orders the TU can meet the FSM in.
func TestSipgoClientTxTerminateStopsTimerM(t *testing.T) {
	if isolated(t) {
		return
	}
	conn := &recConn{}
	freed := make(chan struct{})
	func() {
		req := parseReq(t, retainInvite)
		runtime.AddCleanup(req, func(ch chan struct{}) { close(ch) }, freed)
		tx := sip.NewClientTx("retain-client", req, conn, quietLog())
		if err := tx.Init(); err != nil {
			t.Fatal(err)
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		go tx.Receive(res) // RFC 6026 §8.4: Accepted, Timer M (64·T1) starts
		select {
		case <-tx.Responses():
		case <-time.After(2 * time.Second):
			t.Fatal("the 2xx was not passed up")
		}
		// What Herald does once it has the 2xx: at once, so this also races the FSM, which passes
		// the 2xx up before it starts Timer M (under -race that order shows up often).
		tx.Terminate()
	}()
	// Nothing here refers to the transaction any more; Timer M is 32 s, so a request still live
	// after a few collections is held by the timer's closure.
	if !collected(freed, 3*time.Second) {
		t.Fatal("a terminated INVITE client transaction is still held with its request (Timer M left running)")
	}
}

func TestSipgoServerTxSlimAfterFinal(t *testing.T) {
	t.Run("INVITE accepted: request and 2xx dropped, retransmission absorbed", func(t *testing.T) {
		conn := &recConn{}
		reqFreed, resFreed := make(chan struct{}), make(chan struct{})
		tx := func() *sip.ServerTx {
			req := parseReq(t, retainInvite)
			runtime.AddCleanup(req, func(ch chan struct{}) { close(ch) }, reqFreed)
			res := sip.NewResponseFromRequest(req, 200, "OK", []byte("v=0\n"))
			runtime.AddCleanup(res, func(ch chan struct{}) { close(ch) }, resFreed)
			return answeredServerTx(t, "retain-inv", req, conn, res)
		}()
		tx.TerminateGracefully() // what sipgo's server does when the handler returns
		if !collected(reqFreed, 3*time.Second) || !collected(resFreed, 3*time.Second) {
			t.Fatal("an accepted INVITE server transaction still holds its request or its 2xx")
		}
		select {
		case <-tx.Done():
			t.Fatal("the accepted transaction ended before Timer L (RFC 6026 §7.1)")
		default:
		}
		n := len(conn.writes())
		if err := tx.Receive(parseReq(t, retainInvite)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if got := len(conn.writes()); got != n {
			t.Fatalf("a retransmitted INVITE in Accepted was answered (%d writes, want %d): it must be absorbed", got, n)
		}
		tx.Terminate()
	})
	t.Run("non-INVITE completed: request dropped, retransmission answered with the same final", func(t *testing.T) {
		conn := &recConn{}
		reqFreed := make(chan struct{})
		tx := func() *sip.ServerTx {
			req := parseReq(t, retainPrack)
			runtime.AddCleanup(req, func(ch chan struct{}) { close(ch) }, reqFreed)
			return answeredServerTx(t, "retain-prack", req, conn, sip.NewResponseFromRequest(req, 200, "OK", nil))
		}()
		tx.TerminateGracefully()
		if !collected(reqFreed, 3*time.Second) {
			t.Fatal("a completed non-INVITE server transaction still holds its request")
		}
		if err := tx.Receive(parseReq(t, retainPrack)); err != nil {
			t.Fatal(err)
		}
		w := conn.writes()
		if len(w) != 2 || !bytes.Equal(w[0], w[1]) || !bytes.HasPrefix(w[1], []byte("SIP/2.0 200 OK\r\n")) {
			t.Fatalf("a retransmitted PRACK in Completed must get the same 200 again (RFC 3261 §17.2.2), writes:\n%q", w)
		}
		tx.Terminate()
	})
	t.Run("the TU's OnCancel callback let go at the final response, 2xx or not", func(t *testing.T) {
		for _, code := range []int{200, 486} {
			freed := make(chan struct{})
			conn := &recConn{}
			tx := func() *sip.ServerTx {
				req := parseReq(t, retainInvite)
				tx := sip.NewServerTx(fmt.Sprintf("retain-oncancel-%d", code), req, conn, quietLog())
				if err := tx.Init(); err != nil {
					t.Fatal(err)
				}
				held := new([64]byte) // what a TU's callback holds of its call (core/callsip: a channel)
				runtime.AddCleanup(held, func(ch chan struct{}) { close(ch) }, freed)
				tx.OnCancel(func(*sip.Request) { _ = held[0] })
				if err := tx.Respond(sip.NewResponseFromRequest(req, code, "Final", nil)); err != nil {
					t.Fatal(err)
				}
				return tx
			}()
			if !collected(freed, 3*time.Second) {
				t.Fatalf("after its %d the INVITE server transaction still holds the OnCancel callback (only Proceeding acts on a CANCEL)", code)
			}
			tx.Terminate()
		}
	})
	t.Run("stand-ins shared for standard methods only (the table stays bounded)", func(t *testing.T) {
		finalOrigin := func(method string, n int) *sip.Request {
			raw := strings.ReplaceAll(retainPrack, "PRACK", method)
			raw = strings.Replace(raw, "z9hG4bK-retain-2", fmt.Sprintf("z9hG4bK-slim-%s-%d", method, n), 1)
			req := parseReq(t, raw)
			req.SetTransport("UDP") // as the transport layer sets it on a received request
			tx := answeredServerTx(t, fmt.Sprintf("slim-%s-%d", method, n), req, &recConn{},
				sip.NewResponseFromRequest(req, 200, "OK", nil))
			defer tx.Terminate()
			return tx.Origin()
		}
		if a, b := finalOrigin("INFO", 1), finalOrigin("INFO", 2); a != b || a.Method != sip.INFO {
			t.Fatalf("two finished INFO transactions: stand-ins %p %p, want one shared", a, b)
		}
		// A method a peer invents is not interned: a flood of them must not grow a table for good.
		if a, b := finalOrigin("XFLOOD", 1), finalOrigin("XFLOOD", 2); a == b || a.Method != "XFLOOD" {
			t.Fatalf("two finished XFLOOD transactions share stand-in %p: a peer's methods would be kept forever", a)
		}
	})
}
