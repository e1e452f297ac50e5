package msrp

import (
	"context"

	"github.com/herald-ims/herald/core/push"
)

// The plane has one timer: gnet's ticker goroutine calls OnTick every s.tick. It never touches a
// connection's state directly; it wakes paused writers with Conn.Wake and queues timeout checks with
// EventLoop().Execute, and the loop re-checks everything before acting.

// addPaused lists cs for a wake-up on the next tick; it reports whether cs was not listed yet.
func (s *Server) addPaused(cs *connState) bool {
	if !cs.inPaused.CompareAndSwap(false, true) {
		return false
	}
	s.pausedMu.Lock()
	s.paused = append(s.paused, cs)
	s.pausedMu.Unlock()
	return true
}

// resumePaused wakes every listed connection: OnTraffic then writes more chunks if the outbound buffer
// drained below the mark (and lists the connection again if not), or half-closes a lingering one.
func (s *Server) resumePaused() {
	s.pausedMu.Lock()
	list := s.paused
	s.paused = s.scratchC[:0]
	s.pausedMu.Unlock()
	for i, cs := range list {
		cs.inPaused.Store(false)
		_ = cs.c.Wake(nil) // a closed connection ignores it
		list[i] = nil
	}
	s.scratchC = list[:0]
}

// sweep queues a timeout check on the loop of every connection whose deadline or idle time passed, and
// reports TimedOut for sessions that expired without a bind.
func (s *Server) sweep(now int64) {
	idle := int64(s.opts.IdleTimeout)
	conns := s.conns.each(s.scratchConns[:0])
	for i, cs := range conns {
		if now >= cs.deadline.Load() || now-cs.lastRead.Load() >= idle {
			if cs.sweepQueued.CompareAndSwap(false, true) {
				if err := cs.c.EventLoop().Execute(context.Background(), cs.onTimeout); err != nil {
					cs.sweepQueued.Store(false)
				}
			}
		}
		conns[i] = nil
	}
	s.scratchConns = conns[:0]

	exp := s.sessions.expired(now, s.scratchE[:0])
	for i, e := range exp {
		e.mu.Lock()
		unbound := e.conn == nil && !e.closed
		if unbound {
			e.closed = true
		}
		e.mu.Unlock()
		if unbound {
			s.finish(e, push.Result{Outcome: push.TimedOut, Err: errBindTimeout})
		}
		exp[i] = nil
	}
	s.scratchE = exp[:0]
}
