package msrp

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/safe"
)

// injected is the panic value the recovery tests inject.
const injected = "injected by recover_test"

var (
	hookOnce  sync.Once
	hooks     sync.Map // *Server → *armedPanic
	observers sync.Map // *Server → func(boundary): sees every boundary the server passes
)

// installHook sets the package's panicHook once: it serves injectPanic and observe, each for its own
// server only.
func installHook() {
	hookOnce.Do(func() {
		h := func(s *Server, b boundary) {
			if v, ok := observers.Load(s); ok {
				v.(func(boundary))(b)
			}
			if v, ok := hooks.Load(s); ok {
				a := v.(*armedPanic)
				if a.at == b && a.armed.CompareAndSwap(true, false) {
					panic(injected)
				}
			}
		}
		panicHook.Store(&h)
	})
}

// observe calls f at every boundary s passes until the test ends.
func observe(t *testing.T, s *Server, f func(boundary)) {
	t.Helper()
	installHook()
	observers.Store(s, f)
	t.Cleanup(func() { observers.Delete(s) })
}

// armedPanic panics once at boundary at.
type armedPanic struct {
	at    boundary
	armed atomic.Bool
}

// injectPanic makes the next call of boundary at on s panic (once). Only s is affected: tests of other
// servers running meanwhile never see the hook.
func injectPanic(t *testing.T, s *Server, at boundary) *armedPanic {
	t.Helper()
	installHook()
	a := &armedPanic{at: at}
	a.armed.Store(true)
	hooks.Store(s, a)
	t.Cleanup(func() { hooks.Delete(s) })
	return a
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// recoveryPlane is a split-test plane that logs to a buffer.
func recoveryPlane(t *testing.T) (*splitPlane, *logBuffer) {
	t.Helper()
	term, herald := testTLS(t)
	o, cli := tlsOptions(t)
	o.TLSClientConfig = herald
	o.ChunkSize = 512
	lb := &logBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return &splitPlane{s: startServer(t, o), cli: cli, term: term}, lb
}

// expectRecovered checks that exactly one panic was recovered on the MSRP plane since before, that it
// was logged with its stack, and that the plane still serves: a passive acquisition and page delivery
// over TCP and over TLS and an active one complete on the same server (claims 1/5).
func expectRecovered(t *testing.T, p *splitPlane, lb *logBuffer, before uint64) {
	t.Helper()
	waitFor(t, "the panic counted", func() bool { return safe.Count(safe.MSRP) > before })
	if got := safe.Count(safe.MSRP) - before; got != 1 {
		t.Fatalf("herald_panics_total{plane=msrp} grew by %d, want 1", got)
	}
	if l := lb.String(); !strings.Contains(l, "recovered panic") || !strings.Contains(l, "plane=msrp") ||
		!strings.Contains(l, injected) || !strings.Contains(l, "goroutine") {
		t.Fatalf("the panic was not logged with its stack: %q", l)
	}
	waitFor(t, "the affected connection released", func() bool {
		st := p.s.Stats()
		return st.ConnsOpen == 0 && st.SessionsOpen == 0 && p.s.streamCount() == 0
	})
	p.passive(t, false, script{cut: whole})
	p.passive(t, true, script{cut: whole})
	p.active(t, false, script{cut: whole})
	if got := safe.Count(safe.MSRP) - before; got != 1 {
		t.Fatalf("panics after the healthy deliveries: %d", got)
	}
}

// expectFailedInternal waits for sess's result: Failed with errInternal.
func expectFailedInternal(t *testing.T, sess *push.Session) {
	t.Helper()
	res := waitResult(t, sess, 3*time.Second)
	if res.Outcome != push.Failed || !errors.Is(res.Err, errInternal) {
		t.Fatalf("result %+v, want Failed with errInternal", res)
	}
}

// bound opens a session and binds a TCP (or TLS) terminal to it; it returns after the page arrived.
func (p *splitPlane) bound(t *testing.T, secure bool) (*client, *push.Session) {
	t.Helper()
	sess := push.NewSession("call-recover", push.CallerCard, splitPage(t), 10*time.Second)
	sess.Secure = secure
	if err := p.s.Open(sess); err != nil {
		t.Fatal(err)
	}
	var c *client
	if secure {
		c = dialTLS(t, p.s, p.cli)
	} else {
		c = dial(t, p.s)
	}
	c.bind(p.s.PathURI(sess.ID))
	if f := c.mustNext(3 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	c.receiveChunks(t)
	return c, sess
}

// TestRecoveryNetMSRP: a panic at each recovery boundary of the MSRP plane (recover.go) is recovered
// there, counted in herald_panics_total{plane="msrp"} (safe.Count) and logged with its stack; the
// affected connection is closed and its session fails with errInternal, and the same server then
// completes acquisitions and page deliveries (claims 1/5) passive over TCP and TLS and active. Not
// parallel: the panic count is process-wide.
func TestRecoveryNetMSRP(t *testing.T) {
	t.Run("OnOpen", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atOnOpen)
		c := dial(t, p.s)
		c.expectClosed(3 * time.Second)
		expectRecovered(t, p, lb, before)
	})
	t.Run("OnTraffic", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		c, sess := p.bound(t, false)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atOnTraffic)
		c.write(c.response(&frame{TID: "abcd1234", FromPath: p.s.PathURI(sess.ID)}, 200))
		expectFailedInternal(t, sess)
		c.expectClosed(3 * time.Second)
		expectRecovered(t, p, lb, before)
	})
	t.Run("OnClose", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		c, sess := p.bound(t, false)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atOnClose)
		_ = c.conn.Close()
		expectFailedInternal(t, sess)
		expectRecovered(t, p, lb, before)
	})
	t.Run("runnable on the loop (Close's abort)", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		c, sess := p.bound(t, false)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atRunnable)
		p.s.Close(sess.ID)
		expectFailedInternal(t, sess)
		c.expectClosed(3 * time.Second)
		expectRecovered(t, p, lb, before)
	})
	t.Run("runnable on a stream connection (Close's abort, TLS)", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		c, sess := p.bound(t, true)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atRunnable)
		p.s.Close(sess.ID)
		expectFailedInternal(t, sess)
		c.expectClosed(3 * time.Second)
		expectRecovered(t, p, lb, before)
	})
	t.Run("TLS connection before its state (handshake)", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atStreamStart)
		host, port := p.s.TLSAddr()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp",
			net.JoinHostPort(host, strconv.Itoa(port)), p.cli)
		if err == nil { // the handshake cannot complete: the plane closed the socket
			_ = conn.Close()
			t.Fatal("TLS handshake completed on a connection whose goroutine panicked")
		}
		expectRecovered(t, p, lb, before)
	})
	t.Run("TLS reader", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		c, sess := p.bound(t, true)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atStreamRead)
		c.write(c.response(&frame{TID: "abcd1234", FromPath: p.s.PathURI(sess.ID)}, 200))
		expectFailedInternal(t, sess)
		c.expectClosed(3 * time.Second)
		expectRecovered(t, p, lb, before)
	})
	t.Run("timer goroutine", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atTimer)
		sess := push.NewSession("call-recover-timer", push.CallerCard, splitPage(t), 50*time.Millisecond)
		if err := p.s.Open(sess); err != nil {
			t.Fatal(err)
		}
		expectFailedInternal(t, sess)
		expectRecovered(t, p, lb, before)
		// The timer goroutine still runs: the next unbound session times out.
		sess = push.NewSession("call-recover-timer-2", push.CallerCard, splitPage(t), 50*time.Millisecond)
		if err := p.s.Open(sess); err != nil {
			t.Fatal(err)
		}
		if res := waitResult(t, sess, 3*time.Second); res.Outcome != push.TimedOut {
			t.Fatalf("second session %+v, want TimedOut", res)
		}
	})
	t.Run("dial goroutine", func(t *testing.T) {
		p, lb := recoveryPlane(t)
		before := safe.Count(safe.MSRP)
		injectPanic(t, p.s, atDial)
		sess := push.NewSession("call-recover-dial", push.CallerCard, splitPage(t), 10*time.Second)
		if err := p.s.Open(sess); err != nil {
			t.Fatal(err)
		}
		term := newPassiveTerminal(t)
		if err := p.s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		expectFailedInternal(t, sess)
		expectRecovered(t, p, lb, before)
	})
}

// TestSplitUnmatchedReportsIgnored: REPORTs for another Message-ID, split at every position of their
// first 40 bytes, are counted and ignored (RFC 4975 §7.1.2: never answered) and leave the transfer and
// the stream in step.
func TestSplitUnmatchedReportsIgnored(t *testing.T) {
	t.Parallel()
	p := newSplitPlane(t)
	c, sess := p.bound(t, false)
	path := p.s.PathURI(sess.ID)
	for k := 1; k < 40; k++ {
		rep := msrp.AppendReport(nil, msrp.NewTID(), []byte(path), []byte(c.path), "no-such-message",
			msrp.ByteRange{Start: 1, End: 10, Total: 1200}, 200, "OK")
		feed(t, p.s, c.conn, [][]byte{rep[:k], rep[k:]})
	}
	// feed returns once the last bytes are read; the frame is handled just after.
	waitFor(t, "39 unknown REPORTs counted", func() bool { return p.s.Stats().ReportsUnknown == 39 })
	select {
	case res := <-sess.Done:
		t.Fatalf("unmatched REPORTs ended the session: %+v", res)
	default:
	}
	if st := p.s.Stats(); st.ReportsUnknown != 39 || st.FramesMalformed != 0 {
		t.Fatalf("stats %+v, want 39 unknown REPORTs", st)
	}
	p.s.Close(sess.ID)
	if res := waitResult(t, sess, 3*time.Second); res.Outcome != push.Aborted {
		t.Fatalf("result %+v", res)
	}
}
