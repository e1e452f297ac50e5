package overload

import (
	"fmt"
	"testing"
)

// TestShedOnce: every copy of an INVITE gets its first copy's decision, whichever way the share
// moved in between (the race of a retransmission handed to the general path while the first copy
// was forwarded plain, or the other way round: a 482); the decision is the same hash pick as
// Shed's, each call shed is counted once, and after RecallCalls more calls a Call-ID is decided
// afresh (its memory bounded).
func TestShedOnce(t *testing.T) {
	var none *Shedder
	if none.ShedOnce([]byte("x")) {
		t.Fatal("a nil Shedder shed a call")
	}
	s := New(Options{Target: 16})
	ids := make([][]byte, 4000)
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "%08x-once@192.0.2.%d", i*2654435761, i%250)
	}

	s.ratio.Store(0) // first copies at no shedding: all handed over
	for _, id := range ids {
		if s.ShedOnce(id) {
			t.Fatal("shed at a share of none")
		}
	}
	s.ratio.Store(Scale) // retransmissions at shedding everything: still handed over
	for _, id := range ids {
		if s.ShedOnce(id) {
			t.Fatalf("%q was handed over first and shed on its retransmission", id)
		}
	}
	fresh := []byte("fresh-call@192.0.2.1")
	if !s.ShedOnce(fresh) || s.Calls.Load() != 1 {
		t.Fatalf("a new call at a share of all: not shed, or counted %d times", s.Calls.Load())
	}
	s.ratio.Store(0)
	if !s.ShedOnce(fresh) || s.Calls.Load() != 1 {
		t.Fatal("a call shed first was handed over on its retransmission, or counted twice")
	}

	// Half the share: the same pick as Shed's.
	t2 := New(Options{Target: 16})
	t2.ratio.Store(Scale / 2)
	t2.seed = s.seed
	for i := range 1000 {
		id := fmt.Appendf(nil, "pick-%d", i)
		if got, want := t2.ShedOnce(id), s.pick(id, Scale/2); got != want {
			t.Fatalf("%q: ShedOnce %t, the share's hash pick %t", id, got, want)
		}
	}

	// Bounded: after RecallCalls other calls the first is forgotten and decided again.
	s.ratio.Store(Scale)
	for i := range RecallCalls {
		s.ShedOnce(fmt.Appendf(nil, "filler-%d", i))
	}
	if len(s.recall.m) != RecallCalls {
		t.Fatalf("%d calls remembered, want %d", len(s.recall.m), RecallCalls)
	}
	if !s.ShedOnce(ids[0]) {
		t.Fatal("a call forgotten after RecallCalls others kept its old decision")
	}
}

// pick is Shed's hash pick at ratio r, without counting.
func (s *Shedder) pick(callID []byte, r uint32) bool {
	save := s.ratio.Load()
	s.ratio.Store(r)
	defer s.ratio.Store(save)
	before := s.Calls.Load()
	shed := s.Shed(string(callID))
	s.Calls.Store(before)
	return shed
}
