// Package wheel is Herald's one timing wheel: a hashed wheel of intrusive nodes (Varghese and Lauck,
// "Hashed and Hierarchical Timing Wheels", 1987) with no clock and no goroutine of its own. Its owner
// reads a Clock, calls Expire with that instant, and acts on what is due; every instant is an int64
// of nanoseconds on the owner's clock. Tests inject a Manual clock and step it, so timer behaviour is
// checked by tables of instants instead of wall-clock waits.
//
// Costs: Schedule and Remove are O(1); Expire walks the slots whose ticks passed since the last call
// (at most one revolution, however long the pause) and, in each, the nodes hashed there, firing those
// due and leaving those of a later revolution. A node is due on the first Expire whose instant is at
// or after its deadline and at or after the start of the tick that deadline rounds up to: never
// early, at most one granularity late (plus the owner's wake-up delay).
//
// A Wheel is not safe for concurrent use: its owner serialises calls (a lock or one goroutine).
package wheel

import (
	"sync/atomic"
	"time"
)

// Node is one timer, embedded in the value it times (Value points back at it). The zero Node is
// unlinked; a Node belongs to at most one Wheel.
type Node[T any] struct {
	prev, next *Node[T]
	at         int64
	linked     bool
	Value      T
}

// Linked reports whether n is scheduled.
func (n *Node[T]) Linked() bool { return n.linked }

// At is n's deadline, meaningful while it is linked.
func (n *Node[T]) At() int64 { return n.at }

// Wheel is a hashed timing wheel of Nodes carrying a T.
type Wheel[T any] struct {
	gran  int64
	mask  int64
	last  int64     // the last tick expired: slots up to it are done
	slots []Node[T] // sentinels of circular lists
	n     int
}

// New returns a wheel of slots slots (rounded up to a power of two, at least 2) of gran nanoseconds
// each, whose ticks up to now are over. A deadline further than slots·gran ahead is kept and looked
// at once per revolution.
func New[T any](gran time.Duration, slots int, now int64) *Wheel[T] {
	if gran <= 0 {
		gran = time.Millisecond
	}
	size := 2
	for size < slots {
		size <<= 1
	}
	w := &Wheel[T]{gran: int64(gran), mask: int64(size - 1), slots: make([]Node[T], size)}
	for i := range w.slots {
		h := &w.slots[i]
		h.prev, h.next = h, h
	}
	w.last = now / w.gran
	return w
}

// Gran is the wheel's granularity in nanoseconds.
func (w *Wheel[T]) Gran() int64 { return w.gran }

// Len is the number of scheduled nodes.
func (w *Wheel[T]) Len() int { return w.n }

// Schedule makes n due at at, moving it if it was scheduled already. A deadline in the past is due
// at the next tick.
func (w *Wheel[T]) Schedule(n *Node[T], at int64) {
	if n.linked {
		w.unlink(n)
	}
	tick := at / w.gran
	if at%w.gran != 0 && at > 0 {
		tick++ // the tick that starts at or after at: never early
	}
	if tick <= w.last {
		tick = w.last + 1
	}
	h := &w.slots[tick&w.mask]
	n.at = at
	n.prev, n.next = h.prev, h
	h.prev.next = n
	h.prev = n
	n.linked = true
	w.n++
}

// Remove unschedules n; an unlinked n is left alone.
func (w *Wheel[T]) Remove(n *Node[T]) {
	if n.linked {
		w.unlink(n)
	}
}

func (w *Wheel[T]) unlink(n *Node[T]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next, n.linked = nil, nil, false
	w.n--
}

// Expire advances the wheel to now and appends to dst every node due at now, unlinked, in no
// particular order. The owner may Schedule them again (or others) once Expire returned.
func (w *Wheel[T]) Expire(now int64, dst []*Node[T]) []*Node[T] {
	cur := now / w.gran
	if size := w.mask + 1; cur-w.last > size {
		w.last = cur - size // one revolution visits every slot
	}
	for w.last < cur {
		w.last++
		h := &w.slots[w.last&w.mask]
		for n := h.next; n != h; {
			next := n.next
			if n.at <= now {
				w.unlink(n)
				dst = append(dst, n)
			}
			n = next
		}
	}
	return dst
}

// Clock is a monotonic clock: nanoseconds since an origin of its own.
type Clock interface {
	Now() int64
}

// Mono is the process's monotonic clock from the instant NewMono was called.
type Mono struct{ base time.Time }

// NewMono starts a monotonic clock at 0.
func NewMono() Mono { return Mono{base: time.Now()} }

// Now is the time since NewMono.
func (m Mono) Now() int64 { return int64(time.Since(m.base)) }

// Manual is a clock that moves only when told (tests); safe for concurrent use.
type Manual struct{ t atomic.Int64 }

// Now is the instant last set.
func (m *Manual) Now() int64 { return m.t.Load() }

// Set moves the clock to t.
func (m *Manual) Set(t int64) { m.t.Store(t) }

// Advance moves the clock d forward and returns the new instant.
func (m *Manual) Advance(d time.Duration) int64 { return m.t.Add(int64(d)) }
