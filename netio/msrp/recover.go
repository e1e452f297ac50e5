package msrp

import (
	"context"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/safe"
)

// The recovery net (core/safe): every place where the plane runs code on a terminal's bytes, or on a
// connection's state, from a goroutine the plane does not otherwise supervise recovers a panic there,
// counts it in herald_panics_total{plane="msrp"}, logs it once with its stack, fails the connection's
// session (Failed, errInternal), closes that connection and goes on serving every other one. The
// boundaries:
//
//   - gnet callbacks on an event loop: OnOpen, OnTraffic (frame handling, writes, wake-ups of paused
//     transfers) and OnClose. A panic that escaped one would end the process: gnet recovers nothing.
//     (The handler implements no OnTick: the timer goroutine replaces it.)
//   - runnables on a connection's owner: the timeout check (connState.Run) and Close's abort, on a gnet
//     loop or a stream connection's short goroutine, and a stream connection's wake.
//   - a stream connection's (msrps, dialled) goroutine: its TLS handshake, and its reader around the
//     frame handling.
//   - the timer goroutine, around each due node (a panic there would stop every timeout of the plane).
//   - a Connect's dial goroutine (its session fails).
//
// The net is not the fix: each recovered panic is a bug to fix at its cause.

// boundary names a recovery boundary for the test-only injection hook.
type boundary uint8

const (
	atOnOpen      boundary = iota + 1
	atOnTraffic            // gnet OnTraffic (reads and wake-ups)
	atOnClose              // gnet OnClose
	atStreamRead           // a stream connection's reader, around input
	atRunnable             // a runnable on the connection's owner (timeout check, Close's abort, stream wake)
	atTimer                // the timer goroutine, per due node
	atDial                 // a Connect's dial goroutine
	atStreamStart          // a stream connection's goroutine before its state exists (the msrps handshake)
)

// panicHook, set only by tests, is called at each boundary with the server and the boundary; a test
// panics in it to check that the boundary recovers. Nil in production: one atomic load per callback.
var panicHook atomic.Pointer[func(*Server, boundary)]

// hookPanic calls panicHook if a test set it.
func hookPanic(s *Server, b boundary) {
	if h := panicHook.Load(); h != nil {
		(*h)(s, b)
	}
}

// abandon fails the bound session after a recovered panic and stops all work on the connection; the
// caller closes it.
func (cs *connState) abandon() {
	cs.settle(push.Result{Outcome: push.Failed, Bytes: cs.x.sent, Err: errInternal})
	cs.x = transfer{}
	cs.lingering = true
	cs.hereClose = true // closed by the caller, not a lingering close
	cs.closeReady = false
}

// closeAfterPanic finishes what onClosed did not when it panicked: the admission, the timer node and
// the session are released exactly once (each step is idempotent or guarded).
func (cs *connState) closeAfterPanic() {
	s := cs.s
	cs.closed = true
	cs.releaseAdmission()
	s.wheel.kill(&cs.tn)
	cs.settle(push.Result{Outcome: push.Failed, Bytes: cs.x.sent, Err: errInternal})
	cs.x = transfer{}
}

// releaseAdmission gives the connection's admission back once.
func (cs *connState) releaseAdmission() {
	if !cs.released {
		cs.released = true
		cs.s.release(cs.ip)
	}
}

// recovered handles a panic recovered in OnTraffic: it reports it, abandons the connection and returns
// the action that closes it (gnet.None when it is closed already).
func (cs *connState) recovered(r any) gnet.Action {
	safe.Recovered(safe.MSRP, cs.s.log, r)
	cs.abandon()
	if cs.closed {
		return gnet.None
	}
	return gnet.Close
}

// guard runs f as the connection's owner (a runnable on its loop or a stream goroutine holding its
// mutex) and recovers a panic in it: reported, session failed, connection closed.
func (cs *connState) guard(f func()) {
	defer func() {
		if r := recover(); r != nil {
			safe.Recovered(safe.MSRP, cs.s.log, r)
			cs.abandon()
			if !cs.closed {
				cs.w.closeNow()
			}
		}
	}()
	hookPanic(cs.s, atRunnable)
	f()
}

// Run is the timeout runnable the timer goroutine queues on the connection's owner (gnet.Runnable; the
// connection itself, so that it costs no allocation of its own).
func (cs *connState) Run(context.Context) error {
	cs.guard(cs.timeout)
	return nil
}

// guardTimer runs the timer goroutine's work for one due node and recovers a panic in it, so that one
// broken node cannot stop the timeouts of the whole plane. The node's connection is closed through its
// owner; a session's is failed.
func (s *Server) guardTimer(n *tnode, now int64) {
	defer func() {
		if r := recover(); r != nil {
			safe.Recovered(safe.MSRP, s.log, r)
			switch {
			case n.cs != nil:
				cs := n.cs
				_ = cs.w.execute(gnet.RunnableFunc(func(context.Context) error {
					cs.abandon()
					if !cs.closed {
						cs.w.closeNow()
					}
					return nil
				}))
			case n.e != nil:
				s.finish(n.e, push.Result{Outcome: push.Failed, Err: errInternal})
			}
		}
	}()
	hookPanic(s, atTimer)
	if n.cs != nil {
		n.cs.fire(now)
	} else {
		s.expireUnbound(n.e)
	}
}
