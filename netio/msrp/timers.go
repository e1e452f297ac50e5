package msrp

import (
	"sync"
	"time"

	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/wheel"
)

// Timers: one goroutine (timerLoop) serves every connection and session through the timing wheel of
// core/wheel (intrusive nodes), so that the work per wake-up is O(due), never O(connections) or O(sessions),
// and an idle plane wakes once per wheel granularity. It never touches a connection's state directly:
// it wakes paused writers with Conn.Wake and queues timeout checks with EventLoop().Execute, and the loop
// re-checks everything before acting.
//
// A connection's node is due at min(deadline, lastRead+IdleTimeout) as known when it was scheduled;
// reads do not reschedule it (they only store lastRead), so a node that fires early is moved to the
// connection's real due time without involving its loop. A session's node is due at its bind deadline
// and is unlinked when its result is reported.

// tnode is a timer node: exactly one of cs and e is set.
type tnode struct {
	wn   wheel.Node[*tnode]
	dead bool // killed: never linked again (guarded by deadlines.mu)
	cs   *connState
	e    *entry
}

const wheelSlots = 1024

// deadlines is the plane's timing wheel (core/wheel) behind a leaf lock: connection loops schedule,
// the timer goroutine expires.
type deadlines struct {
	mu sync.Mutex
	w  *wheel.Wheel[*tnode]
}

func newWheel(gran time.Duration, now int64) *deadlines {
	return &deadlines{w: wheel.New[*tnode](gran, wheelSlots, now)}
}

// schedule makes n due at or before at: a node already due earlier stays where it is (it re-checks the
// real due time when it fires).
func (d *deadlines) schedule(n *tnode, at int64) {
	d.mu.Lock()
	if !n.dead && (!n.wn.Linked() || at < n.wn.At()) {
		n.wn.Value = n
		d.w.Schedule(&n.wn, at)
	}
	d.mu.Unlock()
}

// kill unlinks n for good: a later schedule (a racing fire) is ignored.
func (d *deadlines) kill(n *tnode) {
	d.mu.Lock()
	n.dead = true
	d.w.Remove(&n.wn)
	d.mu.Unlock()
}

// due unlinks and appends the nodes due at now. At most one revolution is walked, however long the
// pause was.
func (d *deadlines) due(now int64, dst []*tnode) []*tnode {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ns [64]*wheel.Node[*tnode]
	for _, n := range d.w.Expire(now, ns[:0]) {
		dst = append(dst, n.Value)
	}
	return dst
}

func (d *deadlines) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.w.Len()
}

// timerLoop runs until Stop: it fires due wheel nodes every granularity and, while some connection is
// paused (outbound buffer full, or lingering until flushed), wakes those every s.tick.
func (s *Server) timerLoop() {
	defer close(s.timerDone)
	gran := time.Duration(s.wheel.w.Gran())
	t := time.NewTimer(gran)
	defer t.Stop()
	next := time.Now().Add(gran)
	var scratch []*tnode
	for {
		select {
		case <-s.stopCh:
			return
		case <-s.pokeCh:
			// A connection paused: look again in one tick, not one granularity.
			if at := time.Now().Add(s.tick); at.Before(next) {
				next = at
				t.Reset(s.tick)
			}
			continue
		case <-t.C:
		}
		s.resumePaused()
		now := s.mono()
		scratch = s.wheel.due(now, scratch[:0])
		for i, n := range scratch {
			s.guardTimer(n, now)
			scratch[i] = nil
		}
		d := gran
		if s.pausedN.Load() > 0 {
			d = s.tick
		}
		next = time.Now().Add(d)
		t.Reset(d)
	}
}

// addPaused lists cs for a wake-up within one tick; it reports whether cs was not listed yet.
func (s *Server) addPaused(cs *connState) bool {
	if !cs.inPaused.CompareAndSwap(false, true) {
		return false
	}
	s.pausedMu.Lock()
	s.paused = append(s.paused, cs)
	s.pausedN.Store(int64(len(s.paused)))
	s.pausedMu.Unlock()
	select {
	case s.pokeCh <- struct{}{}:
	default:
	}
	return true
}

// resumePaused wakes every listed connection: OnTraffic then writes more chunks if the outbound buffer
// drained below the mark (and lists the connection again if not), or half-closes a lingering one.
func (s *Server) resumePaused() {
	s.pausedMu.Lock()
	list := s.paused
	s.paused = s.scratchC[:0]
	s.pausedN.Store(0)
	s.pausedMu.Unlock()
	for i, cs := range list {
		cs.inPaused.Store(false)
		cs.w.wake() // a closed connection ignores it
		list[i] = nil
	}
	s.scratchC = list[:0]
}

// due is the instant the connection's node should fire: its phase deadline or its idle limit. A
// lingering connection has no idle limit (timeout ignores it): after an idle timeout its lastRead is
// that old, and its node would otherwise fire again at every wheel tick until the linger ends.
func (cs *connState) due() int64 {
	if cs.lingerOnly.Load() {
		return cs.deadline.Load()
	}
	return min(cs.deadline.Load(), cs.lastRead.Load()+int64(cs.s.opts.IdleTimeout))
}

// setDeadline arms the current phase's deadline (bind, transfer, linger). Loop only.
func (cs *connState) setDeadline(at int64) {
	cs.deadline.Store(at)
	if !cs.closed {
		cs.s.wheel.schedule(&cs.tn, cs.due())
	}
}

// rearm puts the connection's node back at its real due time after a timeout check. Loop only.
func (cs *connState) rearm() {
	if !cs.closed {
		cs.s.wheel.schedule(&cs.tn, cs.due())
	}
}

// fire runs on the timer goroutine when cs's node is due: early nodes move to the real due time,
// otherwise a timeout check is queued on the connection's loop (which re-checks and rearms).
func (cs *connState) fire(now int64) {
	if d := cs.due(); d > now {
		cs.s.wheel.schedule(&cs.tn, d)
		return
	}
	if !cs.sweepQueued.CompareAndSwap(false, true) {
		return // a check is queued already; it rearms
	}
	if err := cs.w.execute(cs); err != nil {
		cs.sweepQueued.Store(false) // the engine is gone, and the connection with it
	}
}

// expireUnbound reports TimedOut for a session whose bind deadline passed without a bind. A bound
// Forkable session takes no more bindings from then on and is retired now, or by the end of its last
// transfer in flight (fork.go).
func (s *Server) expireUnbound(e *entry) {
	e.mu.Lock()
	unbound := e.binds == 0 && !e.closed
	idle := false
	if unbound || e.sess.Forkable {
		e.closed = true
		idle = e.conn == nil
	}
	e.mu.Unlock()
	switch {
	case unbound:
		s.finish(e, push.Result{Outcome: push.TimedOut, Err: errBindTimeout})
	case idle:
		s.retire(e)
	}
}
