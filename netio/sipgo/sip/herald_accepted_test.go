package sip

// Herald's tests of its accepted-transaction patch (herald_accepted.go, HERALD.md): not upstream's.

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// acceptedRig is a transaction layer on a real UDP socket whose handler answers every INVITE 200
// with the To tag "uas" and, unless keep is set, lets its transaction go at once.
type acceptedRig struct {
	txl   *TransactionLayer
	conn  Connection // the listener's connection, whose references the transactions take
	peer  net.PacketConn
	src   string
	calls chan *ServerTx
	keep  bool
}

func newAcceptedRig(t *testing.T, keep bool) *acceptedRig {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tpl := NewTransportLayer(net.DefaultResolver, NewParser(), nil)
	r := &acceptedRig{txl: NewTransactionLayer(tpl), calls: make(chan *ServerTx, 16), keep: keep}
	t.Cleanup(func() { r.txl.Close(); tpl.Close() })
	warm := make(chan struct{}, 1)
	r.txl.OnRequest(func(req *Request, tx *ServerTx) {
		if !req.IsInvite() {
			tx.Terminate() // only the warm-up OPTIONS: out of the store at once
			select {
			case warm <- struct{}{}:
			default:
			}
			return
		}
		tx.SetToTag("uas")
		res := NewResponseFromRequest(req, 200, "OK", nil)
		res.To().Params.Add("tag", "uas")
		if err := tx.Respond(res); err != nil {
			t.Error(err)
		}
		if r.keep {
			r.calls <- tx
		} else {
			r.calls <- nil
		}
	})
	go tpl.ServeUDP(pc)
	if r.peer, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.peer.Close() })
	r.src = r.peer.LocalAddr().String()
	// One datagram so that the transport knows the peer's connection.
	if _, err := r.peer.WriteTo(r.raw("OPTIONS", "OPTIONS", "warm"), pc.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-warm:
	case <-time.After(5 * time.Second):
		t.Fatal("the warm-up request never reached the handler")
	}
	// The connection the transactions of the peer's requests take a reference of.
	probe := r.request(t, "OPTIONS", "OPTIONS", "probe")
	if r.conn, err = tpl.serverRequestConnection(context.Background(), probe); err != nil {
		t.Fatal(err)
	}
	r.conn.TryClose()
	r.drain()
	return r
}

func (r *acceptedRig) raw(method, cseqMethod, branch string) []byte {
	return fmt.Appendf(nil, "%s sip:bob@x SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\n"+
		"From: <sip:a@x>;tag=f\r\nTo: <sip:bob@x>\r\nCall-ID: c-%s\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		method, r.src, branch, branch, cseqMethod)
}

// request parses one of the peer's requests as the transport hands it to the layer.
func (r *acceptedRig) request(t *testing.T, method, cseqMethod, branch string) *Request {
	t.Helper()
	msg, err := NewParser().ParseSIP(r.raw(method, cseqMethod, branch))
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*Request)
	req.SetTransport("UDP")
	req.SetSource(r.src)
	return req
}

// send hands the layer one request as the transport does.
func (r *acceptedRig) send(t *testing.T, method, cseqMethod, branch string) {
	t.Helper()
	if err := r.txl.handleRequest(r.request(t, method, cseqMethod, branch)); err != nil {
		t.Fatal(err)
	}
}

// read returns the next datagram the peer gets within d, or "".
func (r *acceptedRig) read(d time.Duration) string {
	buf := make([]byte, 4096)
	r.peer.SetReadDeadline(time.Now().Add(d))
	n, _, err := r.peer.ReadFrom(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// drain reads every datagram already sent to the peer.
func (r *acceptedRig) drain() {
	for r.read(50*time.Millisecond) != "" {
	}
}

func (r *acceptedRig) sizes() (live, accepted int) {
	r.txl.serverTransactions.lock()
	live = len(r.txl.serverTransactions.items)
	r.txl.serverTransactions.unlock()
	return live, r.txl.acceptedLen()
}

// heraldShortTimerL sets Timer L to d for one test.
func heraldShortTimerL(t *testing.T, d time.Duration) {
	old := Timer_L
	Timer_L = d
	t.Cleanup(func() { Timer_L = old })
}

// TestHeraldAcceptedKeptAsKey proves that an INVITE server transaction answered 2xx is kept by the
// layer, for Timer L, as its key and not as the transaction, and that it still does what RFC 6026
// §7.1 asks of Accepted: a retransmitted INVITE is absorbed (no new transaction, nothing sent), a
// CANCEL is answered 200 with the INVITE's To tag (RFC 3261 §9.2), and at Timer L the key goes
// and the connection's reference is released. Without the patch the layer's store keeps the
// transaction itself for 64·T1.
func TestHeraldAcceptedKeptAsKey(t *testing.T) {
	heraldShortTimerL(t, 300*time.Millisecond)
	r := newAcceptedRig(t, false)
	refs := r.conn.Ref(0)

	r.send(t, "INVITE", "INVITE", "acc-1")
	<-r.calls
	if got := r.read(time.Second); !strings.HasPrefix(got, "SIP/2.0 200 OK") {
		t.Fatalf("the peer got %q, want the 200", got)
	}
	if live, acc := r.sizes(); live != 0 || acc != 1 {
		t.Fatalf("after the 2xx: %d transactions in the store and %d accepted keys, want 0 and 1", live, acc)
	}
	// The TU let go: once the collector has run, the entry no longer leads to a transaction.
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		if _, held := r.txl.acceptedServerTx("z9hG4bKacc-1" + TxSeperator + "INVITE"); !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the accepted transaction is still live though nothing but the layer's entry points at it")
		}
		time.Sleep(10 * time.Millisecond)
	}

	r.send(t, "INVITE", "INVITE", "acc-1") // a retransmission
	select {
	case <-r.calls:
		t.Fatal("a retransmitted INVITE in Accepted reached the TU as a new request")
	case <-time.After(50 * time.Millisecond):
	}
	if got := r.read(100 * time.Millisecond); got != "" {
		t.Fatalf("a retransmitted INVITE in Accepted was answered: %q", got)
	}
	r.send(t, "ACK", "INVITE", "acc-1") // an ACK with the INVITE's branch: nobody left to read it
	if live, acc := r.sizes(); live != 0 || acc != 1 {
		t.Fatalf("after a retransmission and an ACK: %d transactions, %d accepted keys, want 0 and 1", live, acc)
	}

	r.send(t, "CANCEL", "CANCEL", "acc-1")
	got := r.read(time.Second)
	if !strings.HasPrefix(got, "SIP/2.0 200 OK") || !strings.Contains(got, "CSeq: 1 CANCEL") || !strings.Contains(got, ";tag=uas") {
		t.Fatalf("a CANCEL of an accepted INVITE must get 200 with the INVITE's To tag, got %q", got)
	}
	if live, _ := r.sizes(); live != 0 {
		t.Fatalf("the CANCEL made a transaction: %d in the store", live)
	}

	// The key goes under the store's lock and the reference is released just after it, on the
	// timer's goroutine (expireAccepted): both are awaited.
	deadline = time.Now().Add(5 * time.Second)
	for {
		_, acc := r.sizes()
		got := r.conn.Ref(0)
		if acc == 0 && got == refs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Timer L: %d accepted keys, the connection holds %d references (%d before the INVITE): want the key gone and the transaction's released",
				acc, got, refs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// After Timer L the same branch is a new transaction (RFC 3261 §17.2.3 matches only live ones).
	r.send(t, "INVITE", "INVITE", "acc-1")
	select {
	case <-r.calls:
	case <-time.After(time.Second):
		t.Fatal("after Timer L the INVITE did not reach the TU")
	}
}

// TestHeraldAcceptedHeldByTU proves that a transaction the TU still holds behaves as upstream's:
// it is found for a retransmission and a CANCEL, and Timer L terminates it (Done closes, the key
// goes, the reference is released); one the TU terminates early leaves at once.
func TestHeraldAcceptedHeldByTU(t *testing.T) {
	heraldShortTimerL(t, 300*time.Millisecond)
	r := newAcceptedRig(t, true)
	refs := r.conn.Ref(0)

	r.send(t, "INVITE", "INVITE", "held-1")
	tx := <-r.calls
	r.drain()
	if got, ok := r.txl.getServerTx(tx.Key()); !ok || got != tx {
		t.Fatal("the layer does not find an accepted transaction the TU holds")
	}
	r.send(t, "INVITE", "INVITE", "held-1")
	if got := r.read(100 * time.Millisecond); got != "" {
		t.Fatalf("a retransmitted INVITE in Accepted was answered: %q", got)
	}
	select {
	case <-tx.Done():
		t.Fatal("the accepted transaction ended before Timer L")
	default:
	}
	select {
	case <-tx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Timer L did not terminate the accepted transaction the TU holds")
	}
	// Done closes as the transaction terminates; the layer lets its key go and the reference is
	// released right after, on the same goroutine (ServerTx.delete): a loaded machine can be read
	// in between.
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		live, acc := r.sizes()
		got := r.conn.Ref(0)
		if live == 0 && acc == 0 && got == refs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Timer L: %d transactions, %d accepted keys, %d references (%d before); want none and as before",
				live, acc, got, refs)
		}
	}

	r.send(t, "INVITE", "INVITE", "held-2")
	tx = <-r.calls
	tx.Terminate()
	if live, acc := r.sizes(); live != 0 || acc != 0 {
		t.Fatalf("after Terminate: %d transactions, %d accepted keys, want none", live, acc)
	}
	if got := r.conn.Ref(0); got != refs {
		t.Fatalf("references %d after Terminate, %d before", got, refs)
	}
	time.Sleep(Timer_L + 2*acceptedTick) // the key's expiry finds nothing and releases nothing
	if got := r.conn.Ref(0); got != refs {
		t.Fatalf("references %d after the expiry of a terminated key, %d before", got, refs)
	}
}

// TestHeraldAcceptedBytes measures what an answered INVITE leaves live for Timer L once its TU has
// let go, against upstream's way (the transaction kept whole, with its own Timer L), in the same
// run: the key must cost less than half.
func TestHeraldAcceptedBytes(t *testing.T) {
	if raceEnabled {
		t.Skip("sizes differ under the race detector")
	}
	measure := func(upstream bool, tag string) float64 {
		r := newAcceptedRig(t, false)
		if upstream {
			r.txl.accepted.timer = nil // serverTxAccepted declines: each transaction runs its own Timer L
		}
		const n = 2000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i++ {
			if err := r.txl.handleRequest(r.request(t, "INVITE", "INVITE", fmt.Sprintf("%s-%d", tag, i))); err != nil {
				t.Fatal(err)
			}
			<-r.calls
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		live, acc := r.sizes()
		if live+acc != n {
			t.Fatalf("%d transactions and %d keys, want %d in all", live, acc, n)
		}
		return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	}
	up := measure(true, "up")
	key := measure(false, "key")
	t.Logf("live bytes per answered INVITE during Timer L: upstream %.0f, as a key %.0f", up, key)
	if key > up/2 {
		t.Fatalf("an accepted INVITE kept as a key costs %.0f bytes, upstream's way %.0f: want less than half", key, up)
	}
}
