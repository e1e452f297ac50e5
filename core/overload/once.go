package overload

import (
	"hash/maphash"
	"sync"
)

// RecallCalls is how many calls ShedOnce remembers its decision for: at 4,000 calls with cards a
// second, 16 s of them, longer than any caller retransmits an INVITE that has had a response
// (RFC 3261 §17.1.1.2: Timer A stops at the first provisional, which Herald's general path sends
// within 200 ms of taking the INVITE, §16.7 step 2). About 2.5 MB when full.
const RecallCalls = 1 << 16

// recall is ShedOnce's memory: each Call-ID's decision, by a 64-bit hash, for the last RecallCalls
// calls asked about. ring[i] is the key decided i-th (modulo); m maps a key to its decision and
// slot, so that a slot reused drops only its own key.
type recall struct {
	mu   sync.Mutex
	seed maphash.Seed
	ring []uint64
	next uint32
	m    map[uint64]recalled
}

type recalled struct {
	shed bool
	slot uint32
}

// ShedOnce is Shed for a new INVITE on the fast path, which sees every copy of it: the first copy's
// decision is every copy's. Herald's fast path either forwards an INVITE itself (shed: plain) or
// hands it to the general path (not shed: the controller decides again, after admission, where the
// INVITE's transaction absorbs its retransmissions). Without the memory, a copy retransmitted while
// the share grew could be forwarded by the fast path while the general path still held the first,
// which then found its Call-ID taken and answered 482 (seen at 4,000 calls/s on half a CPU,
// bench/results/sip-push.md, Session 16); or the other way round. nil sheds none and remembers
// nothing. Each call shed is counted once, in Calls.
func (s *Shedder) ShedOnce(callID []byte) bool {
	if s == nil {
		return false
	}
	r := &s.recall
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.seed = maphash.MakeSeed()
		r.ring = make([]uint64, RecallCalls)
		r.m = make(map[uint64]recalled, RecallCalls)
	}
	k := maphash.Bytes(r.seed, callID)
	if d, ok := r.m[k]; ok {
		return d.shed
	}
	shed := s.picked(maphash.Bytes(s.seed, callID))
	slot := r.next % RecallCalls
	if old, ok := r.m[r.ring[slot]]; ok && old.slot == slot && r.next >= RecallCalls {
		delete(r.m, r.ring[slot])
	}
	r.ring[slot] = k
	r.m[k] = recalled{shed: shed, slot: slot}
	r.next++
	if shed {
		s.Calls.Add(1)
	}
	return shed
}
