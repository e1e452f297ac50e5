package signal

import (
	"sync"
	"time"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/profile"
)

// parties.go: one profile lookup per party per INVITE. The caller is looked up by its asserted
// identity (P-Asserted-Identity, else From: TS 24.229 §5.7) and the callee by the Request-URI; the
// fast path's plain-call rule (call.Decide, Plan.Plain) and the general path's plan share those
// two lookups. An INVITE the fast path looked up and found not plain goes to the general path
// with its lookups (handoff), which the general path's controller takes instead of looking up
// again.

// lookedUp is one party of an INVITE as looked up: its canonical identity (profile.Canonical; ""
// when the URI has none, and then nothing was looked up) and its profile (nil: none).
type lookedUp struct {
	key string
	pr  *profile.Profile
}

// lookUp canonicalises uri and looks it up in the profile store: the INVITE's one lookup for that
// party.
func (s *Server) lookUp(uri string) lookedUp { return s.lookUpKey(canonical(uri)) }

// canonical is profile.Canonical, "" for a URI without a canonical identity.
func canonical(uri string) string {
	key, err := profile.Canonical(uri)
	if err != nil {
		return ""
	}
	return key
}

// lookUpKey looks a canonical identity up ("": nothing to look up).
func (s *Server) lookUpKey(key string) lookedUp {
	if key == "" {
		return lookedUp{}
	}
	pr, ok := s.deps.Profiles.Lookup(key)
	if !ok {
		pr = nil
	}
	return lookedUp{key: key, pr: pr}
}

// plainParty is the party as the plain-call rule needs it: its cards and ringback (what Herald
// knows of its terminal does not change whether a plan is plain). nil without a profile.
func (l lookedUp) plainParty() *call.Party {
	if l.pr == nil {
		return nil
	}
	return &call.Party{CallerCard: l.pr.CallerCard, CalleeCard: l.pr.CalleeCard, Ringback: l.pr.Ringback}
}

// plainCall is the plain-call rule on the fast path (call.Decide on the INVITE's parties and the
// caller's 100rel). A call with cards may be shed here under overload, forwarded plain by the engine
// (overload.Shedder.ShedOnce: every copy of the INVITE gets the first copy's answer); the rest go to
// the general path with their lookups (handoff), whose controller may still shed them after admission.
func (s *Server) plainCall(callID []byte, caller, callee string, reliable1xx bool) bool {
	cr, ce := s.lookUp(caller), s.lookUp(callee)
	if call.Decide(cr.plainParty(), ce.plainParty(), call.Caps{Reliable1xx: reliable1xx}, s.opts.Probe).Plain() || s.deps.Shed.ShedOnce(callID) {
		return true
	}
	s.handoff.put(cr, ce, time.Now())
	return false
}

// parties are the general path's caller and callee of an INVITE: the fast path's lookups when it
// handed the INVITE over, else looked up now.
func (s *Server) parties(caller, callee string) (cr, ce lookedUp) {
	ck, ek := canonical(caller), canonical(callee)
	if ck != "" && ek != "" {
		if h, ok := s.handoff.take(ck, ek, time.Now()); ok {
			return h.caller, h.callee
		}
	}
	return s.lookUpKey(ck), s.lookUpKey(ek)
}

// handoff holds the lookups of INVITEs the fast path handed to the general path, by canonical
// caller and callee, until the general path's controller takes them (once) or handoffTTL passes.
// The hand-over takes microseconds (the datagram is queued for sipgo); an entry nobody takes (the
// queue was full, sipgo absorbed a retransmission) is not used after the TTL, and is removed when
// the table is full. The table holds at most handoffMax entries: past that, with none expired,
// INVITEs are handed over without their lookups, and the general path looks up again. Two INVITEs between the same parties at once may take each other's entry:
// the same keys, looked up within the TTL.
type handoff struct {
	mu sync.Mutex
	m  map[[2]string]handed
}

type handed struct {
	caller, callee lookedUp
	at             time.Time
}

const (
	handoffTTL = 2 * time.Second
	handoffMax = 4096
)

func (h *handoff) put(cr, ce lookedUp, now time.Time) {
	if cr.key == "" || ce.key == "" {
		return // nothing looked up for the party without an identity: nothing to save
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[[2]string]handed)
	}
	if len(h.m) >= handoffMax {
		for k, e := range h.m {
			if now.Sub(e.at) >= handoffTTL {
				delete(h.m, k)
			}
		}
		if len(h.m) >= handoffMax {
			return
		}
	}
	h.m[[2]string{cr.key, ce.key}] = handed{caller: cr, callee: ce, at: now}
}

func (h *handoff) take(callerKey, calleeKey string, now time.Time) (handed, bool) {
	k := [2]string{callerKey, calleeKey}
	h.mu.Lock()
	e, ok := h.m[k]
	if ok {
		delete(h.m, k)
	}
	h.mu.Unlock()
	if !ok || now.Sub(e.at) >= handoffTTL {
		return handed{}, false
	}
	return e, true
}

// len is the number of entries held (tests).
func (h *handoff) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.m)
}
