package signal

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/sipfast"
)

// countingStore is a profile.Store that records every key looked up.
type countingStore struct {
	profile.Store
	mu   sync.Mutex
	keys []string
}

func (c *countingStore) Lookup(key string) (*profile.Profile, bool) {
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.mu.Unlock()
	return c.Store.Lookup(key)
}

// take returns the keys looked up since the last take.
func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.keys
	c.keys = nil
	return k
}

// TestOneLookupPerParty proves one profile lookup per party per INVITE (it was four: the fast
// path's plain-call rule looked both parties up, then the general path's plan again): the caller
// (by its asserted identity) and the callee (by the Request-URI), once each, whichever path
// carries the call. A plain call stays on the fast path; calls with a caller card, or both cards
// and a ringback, are looked up by the fast path and handed to the general path with their
// lookups; a plain call the fast path hands over (too big for UDP, RFC 3261 §18.1.1) is looked up
// by the general path only; and with the fast path off, by the general path.
func TestOneLookupPerParty(t *testing.T) {
	ringer := "sip:ringer@home1.net"
	for _, tc := range []struct {
		name     string
		from, to string
		tune     func(*Options)
		ring     bool
		fast     uint64 // calls the fast path forwarded
		notPlain uint64 // INVITEs it handed over as not plain
		plan     string // the general path's plan, "" when it had none
	}{
		{"plain call", dave, erin, nil, false, 1, 0, ""},
		{"caller card only", alice, erin, nil, false, 0, 1, "caller-card=true (call-info) callee-card=false"},
		{"both cards and ringback", alice, ringer, nil, true, 0, 1, "caller-card=true (early-session) callee-card=true (update) claims [1 3 4 2]"},
		{"plain call the fast path hands over", dave, erin, func(o *Options) { o.UDPMaxRequest = 600 }, false, 0, 0, "caller-card=false (none) callee-card=false"},
		{"fast path off", alice, ringer, func(o *Options) { o.DisableFastPath = true }, true, 0, 0, "caller-card=true (early-session) callee-card=true (update) claims [1 3 4 2]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			st, pages := testStore(t)
			st.Put(&profile.Profile{Key: canon(t, ringer), CalleeCard: pages["carol-callee.html"], Ringback: "ringback", PushCapable: true})
			if tc.ring {
				rigRingback = &fakeRing{clip: sampleClip(t)}
				defer func() { rigRingback = nil }()
			}
			cs := &countingStore{Store: st}
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond, AnswerWithoutPage: true})
			r := startHerald(t, cs, callee.Addr(), tc.tune)
			caller := newCaller(t, uesim.CallerOptions{})
			res := r.mustCall(t, caller, tc.from, tc.to)
			if res.Final != 200 {
				t.Fatalf("final %d", res.Final)
			}
			got := cs.take()
			slices.Sort(got)
			want := []string{canon(t, tc.from), canon(t, tc.to)}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("profile lookups %q, want %q once each", got, want)
			}
			fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, tc.fast)
			fpStat(t, "verdict not_plain", &r.sig.Stats.Fast.Verdicts[sipfast.ReasonNotPlain], tc.notPlain)
			if tc.plan != "" {
				if _, ok := r.trace.find(tc.plan); !ok {
					t.Fatalf("no general-path plan %q in the trace", tc.plan)
				}
			}
			if n := r.sig.handoff.len(); n != 0 {
				t.Fatalf("%d handed-over lookups left behind", n)
			}
			r.quiet(t)
		})
	}
}

// TestHandoff proves the table the fast path hands an INVITE's lookups over in: each entry taken
// once, by the same canonical parties; not after handoffTTL; at most handoffMax entries, the
// expired ones removed to make room.
func TestHandoff(t *testing.T) {
	var h handoff
	t0 := time.Unix(1000, 0)
	a, b := lookedUp{key: "alice@home1.net"}, lookedUp{key: "+12125552222", pr: &profile.Profile{Key: "+12125552222"}}
	h.put(a, b, t0)
	if _, ok := h.take(b.key, a.key, t0); ok {
		t.Fatal("taken by the parties the other way round")
	}
	e, ok := h.take(a.key, b.key, t0.Add(time.Millisecond))
	if !ok || e.caller != a || e.callee != b {
		t.Fatalf("take = %+v %t", e, ok)
	}
	if _, ok := h.take(a.key, b.key, t0); ok {
		t.Fatal("taken twice")
	}
	h.put(a, b, t0)
	if _, ok := h.take(a.key, b.key, t0.Add(handoffTTL)); ok {
		t.Fatal("taken after the TTL")
	}
	h.put(lookedUp{}, b, t0) // no identity: nothing looked up for it, nothing saved
	if h.len() != 0 {
		t.Fatalf("%d entries, want 0", h.len())
	}
	for i := range handoffMax {
		h.put(lookedUp{key: "k" + strconv.Itoa(i)}, b, t0)
	}
	h.put(a, b, t0.Add(time.Second)) // full, none expired: not saved
	if _, ok := h.take(a.key, b.key, t0.Add(time.Second)); ok || h.len() != handoffMax {
		t.Fatalf("saved past handoffMax (%d entries)", h.len())
	}
	h.put(a, b, t0.Add(handoffTTL)) // full, all expired: they make room
	if _, ok := h.take(a.key, b.key, t0.Add(handoffTTL)); !ok || h.len() != 0 {
		t.Fatalf("expired entries not removed for room (%d left)", h.len())
	}
}
