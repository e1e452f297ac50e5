package callsip

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sdp"
)

// Stripped remembers, for 64·T1, the calls whose 2xx Herald relayed without the callee's answer to
// the caller card's early-session offer (RFC 3959; Call.onResponse keeps that answer for itself).
// The callee's UA retransmits its 2xx until the caller's ACK reaches it (RFC 3261 §13.3.1.4), and
// once the call's controller has ended Herald relays those statelessly (RFC 3261 §16.7 step 5,
// RFC 6026): the general path from sipgo's unmatched responses, the fast path's engine from its
// own. Both ask Stripped, so that every copy of the 2xx the caller gets is the one it got first.
// Only such calls are noted (a callee that answers early-session in its 2xx, and only then), each as
// a 64-bit hash of its Call-ID and an expiry: about 60 bytes a call for 64·T1, in proportion to the
// call rate like every RFC 6026 Accepted state. A 2xx of any other call, a plain call whose caller
// offered early-session itself included, is relayed untouched. A nil *Stripped notes and strips
// nothing.
type Stripped struct {
	ttl  time.Duration
	seed maphash.Seed
	now  func() time.Time

	mu    sync.Mutex
	until map[uint64]time.Time
	queue []strippedRec
	head  int
}

type strippedRec struct {
	key   uint64
	until time.Time
}

// NewStripped returns a Stripped that remembers a call for ttl (64·T1).
func NewStripped(ttl time.Duration) *Stripped {
	return &Stripped{ttl: ttl, seed: maphash.MakeSeed(), now: time.Now, until: make(map[uint64]time.Time)}
}

// note remembers callID.
func (s *Stripped) note(callID string) {
	if s == nil {
		return
	}
	k := maphash.String(s.seed, callID)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expireLocked(now)
	u := now.Add(s.ttl)
	s.until[k] = u
	s.queue = append(s.queue, strippedRec{k, u})
}

// expireLocked forgets every call whose time is up. The caller holds mu.
func (s *Stripped) expireLocked(now time.Time) {
	for s.head < len(s.queue) && !now.Before(s.queue[s.head].until) {
		r := s.queue[s.head]
		if u, ok := s.until[r.key]; ok && !u.After(r.until) {
			delete(s.until, r.key)
		}
		s.head++
	}
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	} else if s.head > 1024 && s.head > len(s.queue)/2 {
		n := copy(s.queue, s.queue[s.head:])
		s.queue, s.head = s.queue[:n], 0
	}
}

// has reports whether callID is remembered.
func (s *Stripped) has(callID []byte) bool {
	if s == nil {
		return false
	}
	k := maphash.Bytes(s.seed, callID)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.until[k]
	return ok && s.now().Before(u)
}

// Response strips the early-session part from res, a 2xx relayed statelessly, when its call is
// remembered, and reports whether it did.
func (s *Stripped) Response(res *sip.Response) bool {
	if s == nil || !res.IsSuccess() {
		return false
	}
	id := res.CallID()
	return id != nil && s.has([]byte(id.Value())) && strip(res)
}

// strip takes the early-session part out of res and reports whether there was one.
func strip(res *sip.Response) bool {
	newCT, body, stripped, err := sdp.StripEarlySession(contentType(res), res.Body())
	if err != nil || !stripped {
		return false
	}
	setBody(res, newCT, body)
	return true
}

// Bytes is Response for msg, a 2xx the fast path's engine relays statelessly as bytes (its top Via
// already Herald's caller's): msg itself when nothing is to be stripped, else the message again
// without the part.
func (s *Stripped) Bytes(callID, msg []byte) []byte {
	if !s.has(callID) {
		return msg
	}
	m, err := sip.ParseMessage(msg)
	res, ok := m.(*sip.Response)
	if err != nil || !ok || !res.IsSuccess() || !strip(res) {
		return msg
	}
	return []byte(res.String())
}
