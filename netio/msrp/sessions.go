package msrp

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-ims/herald/core/push"
)

// entry is one registered push session.
//
// sess is read-only. mu guards conn (and the connections' nextBound links), binds, closed, dialing
// and retired; done makes the result report happen exactly once. Lock order: entry.mu is a leaf
// (nothing else is locked while holding it).
//
// A session that is not Forkable leaves the table with its result (finish). A Forkable one stays
// after it, taking further bindings, until it is retired (fork.go): by Close, or at its bind deadline
// once no transfer of it is in flight.
type entry struct {
	sess    *push.Session
	expires int64 // s.mono() deadline for a bind, from sess.Expires

	mu sync.Mutex
	// conn is the bound connection, nil until the bind. For a Forkable session it lists the bindings
	// whose transfers are in flight, linked by connState.nextBound (the first, and the further ones:
	// connState.fork), and a transfer leaves it at its end (fork.go).
	conn    *connState
	closed  bool  // Close, a result (not Forkable) or the bind deadline (Forkable): refuse binds
	dialing bool  // Connect is dialling the terminal: refuse binds
	binds   uint8 // bindings taken, the first included (Forkable: capped at MaxForkBinds)
	retired bool  // out of the table (retire)

	done   atomic.Bool              // result reported
	accept atomic.Pointer[[]string] // the terminal's accept-types: Session.Accept, or SetAccept's
	tn     tnode                    // bind-deadline timer
}

const sessionShards = 64

// sessionTable maps session-id → *entry in shards so that binds on many loops and Opens on many SIP
// goroutines rarely meet on one mutex.
type sessionTable struct {
	seed   maphash.Seed
	count  atomic.Int64
	shards [sessionShards]struct {
		mu sync.Mutex
		m  map[string]*entry
		_  [40]byte // keep shards on separate cache lines
	}
}

func newSessionTable() *sessionTable {
	t := &sessionTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*entry)
	}
	return t
}

func (t *sessionTable) shard(id []byte) int {
	return int(maphash.Bytes(t.seed, id) % sessionShards)
}

// add inserts e unless its id exists or the table holds max entries.
func (t *sessionTable) add(e *entry, max int) error {
	sh := &t.shards[t.shard([]byte(e.sess.ID))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, dup := sh.m[e.sess.ID]; dup {
		return push.ErrDuplicate
	}
	if t.count.Add(1) > int64(max) {
		t.count.Add(-1)
		return push.ErrPlaneFull
	}
	sh.m[e.sess.ID] = e
	return nil
}

// get looks up id without allocating (the string conversion in the map index is optimised away).
func (t *sessionTable) get(id []byte) *entry {
	sh := &t.shards[t.shard(id)]
	sh.mu.Lock()
	e := sh.m[string(id)]
	sh.mu.Unlock()
	return e
}

// remove deletes id if it still maps to e.
func (t *sessionTable) remove(e *entry) {
	sh := &t.shards[t.shard([]byte(e.sess.ID))]
	sh.mu.Lock()
	if sh.m[e.sess.ID] == e {
		delete(sh.m, e.sess.ID)
		t.count.Add(-1)
	}
	sh.mu.Unlock()
}

// all appends every entry.
func (t *sessionTable) all(dst []*entry) []*entry {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, e := range sh.m {
			dst = append(dst, e)
		}
		sh.mu.Unlock()
	}
	return dst
}

// monoSince converts a wall-clock instant into the server's monotonic nanoseconds.
func monoSince(epoch time.Time, t time.Time) int64 { return int64(t.Sub(epoch)) }
