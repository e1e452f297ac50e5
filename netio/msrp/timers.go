package msrp

import (
	"sync"
	"time"

	"github.com/herald-ims/herald/core/push"
)

// Timers: one goroutine (timerLoop) serves every connection and session through a hashed timing wheel
// with intrusive nodes, so that the work per wake-up is O(due), never O(connections) or O(sessions),
// and an idle plane wakes once per wheel granularity. It never touches a connection's state directly:
// it wakes paused writers with Conn.Wake and queues timeout checks with EventLoop().Execute, and the loop
// re-checks everything before acting.
//
// A connection's node is due at min(deadline, lastRead+IdleTimeout) as known when it was scheduled;
// reads do not reschedule it (they only store lastRead), so a node that fires early is moved to the
// connection's real due time without involving its loop. A session's node is due at its bind deadline
// and is unlinked when its result is reported.

// tnode is an intrusive wheel node: exactly one of cs and e is set.
type tnode struct {
	prev, next *tnode
	at         int64 // due instant, s.mono()
	linked     bool
	dead       bool // killed: never linked again (guarded by wheel.mu)
	cs         *connState
	e          *entry
}

const wheelSlots = 1024

// wheel is a hashed timing wheel; mu is a leaf lock.
type wheel struct {
	mu    sync.Mutex
	gran  int64 // nanoseconds per slot
	cur   int64 // next slot tick (instant/gran) to process
	slots [wheelSlots]tnode
	n     int // linked nodes
}

func newWheel(gran int64, now int64) *wheel {
	w := &wheel{gran: gran, cur: now / gran}
	for i := range w.slots {
		h := &w.slots[i]
		h.prev, h.next = h, h
	}
	return w
}

func (w *wheel) unlinkLocked(n *tnode) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next, n.linked = nil, nil, false
	w.n--
}

func (w *wheel) linkLocked(n *tnode, at int64) {
	n.at = at
	tick := max(at/w.gran, w.cur)
	h := &w.slots[tick%wheelSlots]
	n.prev, n.next = h.prev, h
	h.prev.next = n
	h.prev = n
	n.linked = true
	w.n++
}

// schedule makes n due at or before at: a node already due earlier stays where it is (it re-checks the
// real due time when it fires).
func (w *wheel) schedule(n *tnode, at int64) {
	w.mu.Lock()
	if n.dead {
		w.mu.Unlock()
		return
	}
	if n.linked {
		if n.at <= at {
			w.mu.Unlock()
			return
		}
		w.unlinkLocked(n)
	}
	w.linkLocked(n, at)
	w.mu.Unlock()
}

// kill unlinks n for good: a later schedule (a racing fire) is ignored.
func (w *wheel) kill(n *tnode) {
	w.mu.Lock()
	n.dead = true
	if n.linked {
		w.unlinkLocked(n)
	}
	w.mu.Unlock()
}

// due unlinks and appends the nodes due at now from every slot whose tick has fully passed. Nodes of a
// later round in the same slot stay. At most one revolution is walked, however long the pause was.
func (w *wheel) due(now int64, dst []*tnode) []*tnode {
	w.mu.Lock()
	defer w.mu.Unlock()
	end := now / w.gran // the current tick is not over: its nodes wait for the next wake-up
	if end-w.cur > wheelSlots {
		w.cur = end - wheelSlots
	}
	for ; w.cur < end; w.cur++ {
		h := &w.slots[w.cur%wheelSlots]
		for n := h.next; n != h; {
			next := n.next
			if n.at <= now {
				w.unlinkLocked(n)
				dst = append(dst, n)
			}
			n = next
		}
	}
	return dst
}

func (w *wheel) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// timerLoop runs until Stop: it fires due wheel nodes every granularity and, while some connection is
// paused (outbound buffer full, or lingering until flushed), wakes those every s.tick.
func (s *Server) timerLoop() {
	defer close(s.timerDone)
	gran := time.Duration(s.wheel.gran)
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

// due is the instant the connection's node should fire: its phase deadline or its idle limit.
func (cs *connState) due() int64 {
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

// expireUnbound reports TimedOut for a session whose bind deadline passed without a bind.
func (s *Server) expireUnbound(e *entry) {
	e.mu.Lock()
	unbound := e.conn == nil && !e.closed
	if unbound {
		e.closed = true
	}
	e.mu.Unlock()
	if unbound {
		s.finish(e, push.Result{Outcome: push.TimedOut, Err: errBindTimeout})
	}
}
