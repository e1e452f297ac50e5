package msrp

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// thinLink is a terminal on a thin radio link as Herald sees it: before the connect, a 4 KB receive
// buffer (a small window) and a 536-byte MSS (RFC 9293 §3.7.1 default), so that the bytes Herald
// queues toward it take seconds to drain at a slow read rate.
func thinLink() dialOpt {
	return func(d *net.Dialer) {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096); serr == nil {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 536)
				}
			})
			return errors.Join(err, serr)
		}
	}
}

// trickle is a terminal's slow reads: at most chunk bytes every gap.
type trickle struct {
	net.Conn
	chunk int
	gap   time.Duration
}

func (r *trickle) Read(b []byte) (int, error) {
	time.Sleep(r.gap)
	return r.Conn.Read(b[:min(len(b), r.chunk)])
}

// slowAbort binds a slow terminal (rd: its reads until the abort) to a 900 KB page, lets a few chunks through and aborts the session
// (Close): the '#' chunk is then queued behind everything Herald's socket holds toward the terminal.
func slowAbort(t *testing.T, o Options, rd *trickle) (*Server, *client, *push.Session, time.Time) {
	t.Helper()
	o.MaxOutbound = 2 * DefaultChunkSize // Herald's own queue: two chunks, the rest waits in the socket
	s := startServer(t, o)
	sess := openSession(t, s, push.CallerCard, bigPage(900<<10), 30*time.Second)
	c := dial(t, s, thinLink())
	rd.Conn = c.conn
	c.conn = rd
	c.bind(s.PathURI(sess.ID))
	if f := c.mustNext(5 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	for range 4 {
		f := c.mustNext(5 * time.Second)
		if f.Method != "SEND" || f.Flag != msrp.FlagMore {
			t.Fatalf("chunk %+v, want a SEND in the middle of the page", f)
		}
		c.respond(f, 200)
	}
	s.Close(sess.ID)
	return s, c, sess, time.Now()
}

// TestLingerSlowReaderGetsHash: a session aborted while a terminal on a thin link reads slowly
// (~5 KB/s) and answers every chunk with 200, as terminals do. The '#' chunk is queued behind tens of
// KB (Herald's two-chunk queue, the socket's unsent bytes up to notSentLowat, the terminal's 4 KB
// window), which take longer than lingerTimeout to go; Herald must keep the connection open and keep
// reading the terminal's 200s while the terminal takes them (before this, it closed after 2 s, and the
// next 200s made its kernel reset the connection, destroying the rest and the '#'). The terminal
// reads every chunk up to the '#' then closes, and the close is counted as the peer's.
func TestLingerSlowReaderGetsHash(t *testing.T) {
	o := testOptions()
	o.LingerMax = 20 * time.Second // never reached: the terminal keeps taking bytes
	rd := &trickle{chunk: 256, gap: 20 * time.Millisecond}
	s, c, sess, abortAt := slowAbort(t, o, rd)
	rd.gap = 50 * time.Millisecond // from the abort on; read by this goroutine only
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Aborted {
		t.Fatalf("result %+v, want Aborted", res)
	}
	n := 0
	for {
		f, err := c.next(o.LingerMax)
		if err != nil {
			t.Fatalf("after %d more chunks, %s after the abort: %v; want chunks up to one flagged '#'", n, time.Since(abortAt), err)
		}
		if f.Method != "SEND" {
			t.Fatalf("got %+v, want SEND chunks", f)
		}
		n++
		c.respond(f, 200)
		if f.Flag == msrp.FlagAbort {
			break
		}
		if f.Flag != msrp.FlagMore {
			t.Fatalf("chunk %d flag %q before the '#'", n, f.Flag)
		}
	}
	took := time.Since(abortAt)
	if took < lingerTimeout {
		// The test has lost its point (the '#' came before a plain 2 s linger would have closed): the
		// queue toward the terminal was smaller than it is built to be.
		t.Fatalf("'#' %s after the abort, within lingerTimeout %s: the linger was never extended", took, lingerTimeout)
	}
	_ = c.conn.Close() // the terminal closes once the message ended
	waitFor(t, "the lingering connection closed", func() bool { return s.Stats().ConnsOpen == 0 })
	st := s.Stats()
	if st.LingerClosedByPeer != 1 || st.LingerFlushed+st.LingerStalled+st.LingerCapped != 0 {
		t.Fatalf("linger closes: peer %d flushed %d stalled %d cap %d; want the peer's only",
			st.LingerClosedByPeer, st.LingerFlushed, st.LingerStalled, st.LingerCapped)
	}
	t.Logf("'#' %d chunks and %s after the abort", n, took)
}

// TestLingerStalledReaderCut: bounded shutdown. A terminal that stops reading altogether (its window
// closed, the '#' still queued) is closed by Herald once lingerTimeout has passed without it taking a
// byte, long before LingerMax, and counted as stalled.
func TestLingerStalledReaderCut(t *testing.T) {
	o := testOptions()
	o.LingerMax = 8 * time.Second
	rd := &trickle{chunk: 256, gap: 20 * time.Millisecond}
	s, _, sess, abortAt := slowAbort(t, o, rd) // and never reads again
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Aborted {
		t.Fatalf("result %+v, want Aborted", res)
	}
	waitForWithin(t, o.LingerMax, "the stalled connection closed", func() bool { return s.Stats().ConnsOpen == 0 })
	if d := time.Since(abortAt); d < lingerTimeout {
		t.Fatalf("closed %s after the abort, before lingerTimeout %s", d, lingerTimeout)
	}
	st := s.Stats()
	if st.LingerStalled != 1 || st.LingerClosedByPeer+st.LingerFlushed+st.LingerCapped != 0 {
		t.Fatalf("linger closes: peer %d flushed %d stalled %d cap %d; want one stalled",
			st.LingerClosedByPeer, st.LingerFlushed, st.LingerStalled, st.LingerCapped)
	}
}

// TestLingerCapCutsTrickle: bounded shutdown. A terminal that keeps taking bytes, but too slowly
// (~2.5 KB/s) to reach the '#' before LingerMax, keeps its connection past lingerTimeout and is cut at
// LingerMax, counted as capped; it never sees the '#'.
func TestLingerCapCutsTrickle(t *testing.T) {
	o := testOptions()
	o.LingerMax = 3 * time.Second // > lingerTimeout: one extension, then the cap
	rd := &trickle{chunk: 256, gap: 20 * time.Millisecond}
	s, c, sess, abortAt := slowAbort(t, o, rd)
	rd.gap = 100 * time.Millisecond // from the abort on (before the reading goroutine starts)
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Aborted {
		t.Fatalf("result %+v, want Aborted", res)
	}
	go func() { // the terminal goes on reading and answering until the connection ends
		for {
			f, err := c.next(30 * time.Second)
			if err != nil {
				return
			}
			if f.Flag == msrp.FlagAbort {
				t.Errorf("'#' read %s after the abort: the trickle was fast enough to finish", time.Since(abortAt))
				return
			}
			_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.conn.Write(msrp.AppendResponse(nil, f.TID, 200, "OK", []byte(f.FromPath), []byte(c.path)))
		}
	}()
	waitForWithin(t, o.LingerMax+3*time.Second, "the capped connection closed", func() bool { return s.Stats().ConnsOpen == 0 })
	if d := time.Since(abortAt); d < o.LingerMax {
		t.Fatalf("closed %s after the abort, before LingerMax %s", d, o.LingerMax)
	}
	st := s.Stats()
	if st.LingerCapped != 1 || st.LingerClosedByPeer+st.LingerFlushed+st.LingerStalled != 0 {
		t.Fatalf("linger closes: peer %d flushed %d stalled %d cap %d; want one capped",
			st.LingerClosedByPeer, st.LingerFlushed, st.LingerStalled, st.LingerCapped)
	}
}

// TestLingerAfterIdleTimeoutQuietTimer: a connection that idles out lingers with a lastRead older than
// IdleTimeout; its timer node must wait for the linger deadline, not fire at every wheel tick (about 50
// times in the 2 s linger here) to find nothing due. The terminal takes the whole page and keeps quiet
// without closing: Herald closes it after lingerTimeout, counted as flushed.
func TestLingerAfterIdleTimeoutQuietTimer(t *testing.T) {
	o := testOptions()
	o.IdleTimeout = 300 * time.Millisecond // the wheel granularity follows: 300 ms / 8
	s := startServer(t, o)
	var fires atomic.Int64
	observe(t, s, func(b boundary) {
		if b == atTimer {
			fires.Add(1)
		}
	})
	sess := openSession(t, s, push.CallerCard, htmlPage(t, 5000), 10*time.Second)
	c := dial(t, s)
	c.bind(s.PathURI(sess.ID))
	c.mustNext(2 * time.Second)
	c.receivePage(2*time.Second, false) // no 200s, no REPORT: silence
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.TimedOut {
		t.Fatalf("result %+v, want TimedOut (idle)", res)
	}
	before := fires.Load()
	waitForWithin(t, 2*lingerTimeout, "the idle connection's linger ended", func() bool { return s.Stats().ConnsOpen == 0 })
	if n := fires.Load() - before; n > 5 {
		t.Errorf("the timer fired %d times during one connection's linger, want a few", n)
	}
	if st := s.Stats(); st.IdleTimeouts != 1 || st.LingerFlushed != 1 {
		t.Errorf("idle timeouts %d, linger flushed %d; want 1 and 1", st.IdleTimeouts, st.LingerFlushed)
	}
}

// TestLingerMaxOption: LingerMax defaults to DefaultLingerMax, the caller sees the value in force, and a
// negative one is refused.
func TestLingerMaxOption(t *testing.T) {
	s, err := New(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if s.LingerMax() != DefaultLingerMax {
		t.Errorf("LingerMax() = %s, want the default %s", s.LingerMax(), DefaultLingerMax)
	}
	o := testOptions()
	o.LingerMax = -time.Second
	if _, err := New(o); !errors.Is(err, ErrBadOptions) {
		t.Errorf("LingerMax -1s: %v, want ErrBadOptions", err)
	}
}

// waitForWithin polls cond until it holds, failing the test after d.
func waitForWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
