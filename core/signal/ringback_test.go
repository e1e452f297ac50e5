package signal

import (
	"io/fs"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/profile"
)

// fakeRing is a Ringback whose streams only record what happens to them.
type fakeRing struct {
	clip *media.Clip
	fail error // Allocate's error, if set
	mu   sync.Mutex
	next int
	all  []*fakeStream
}

type fakeStream struct {
	ring     *fakeRing // its mu guards the fields below
	port     int
	dst      netip.AddrPort
	track    media.Track
	played   bool
	stopped  int
	stopTime time.Time
}

func (f *fakeRing) Clip(name string) *media.Clip {
	if name == f.clip.Name {
		return f.clip
	}
	return nil
}
func (f *fakeRing) Addr() string { return "127.0.0.1" } // the lab's: the callers offer loopback
func (f *fakeRing) Allocate() (RingStream, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next += 2
	st := &fakeStream{ring: f, port: 40000 + f.next}
	f.all = append(f.all, st)
	return st, nil
}
func (s *fakeStream) Port() int { return s.port }
func (s *fakeStream) Play(dst netip.AddrPort, t media.Track) error {
	s.ring.mu.Lock()
	defer s.ring.mu.Unlock()
	s.dst, s.track, s.played = dst, t, true
	return nil
}
func (s *fakeStream) Stop() {
	s.ring.mu.Lock()
	defer s.ring.mu.Unlock()
	if s.stopped == 0 {
		s.stopTime = time.Now()
	}
	s.stopped++
}

func sampleClip(t *testing.T) *media.Clip {
	t.Helper()
	c := &media.Clip{Name: "ringback"}
	for file, load := range map[string]func([]byte) error{
		"ringback-8k.wav": c.LoadWAV,
		"ringback.awb":    c.LoadAWB,
		"ringback.h264":   func(b []byte) error { return c.LoadH264(b, 15, 1200) },
	} {
		b, err := fs.ReadFile(configs.Clips, file)
		if err != nil {
			t.Fatal(err)
		}
		if err := load(b); err != nil {
			t.Fatal(file, err)
		}
	}
	return c
}

// rigRingback, when set by a test, is the ringback plane of the Herald startHerald builds.
var rigRingback Ringback

func (s *fakeStream) stoppedAt() time.Time { return s.stopTime }

// startRingbackRig starts Herald with a fake ringback plane (returned) and bob subscribed to the
// ringback, in front of a callee with opts.
func startRingbackRig(t *testing.T, opts uesim.CalleeOptions) (*fakeRing, *rig) {
	t.Helper()
	leakCheck(t)
	ring := &fakeRing{clip: sampleClip(t)}
	rigRingback = ring
	t.Cleanup(func() { rigRingback = nil })
	st := profile.NewMemStore()
	key, _ := profile.Canonical(bob)
	st.Put(&profile.Profile{Key: key, Ringback: "ringback"})
	return ring, startHerald(t, st, newCallee(t, opts).Addr(), nil)
}

// TestRingbackStopsWithTheCall proves claims 2/6 end cleanly: the ringback plays after PRACK and is
// stopped before the final response (200, 486) or the CANCEL's 487 reaches the caller, within one
// packet time (20 ms) of it; no stream survives its call.
func TestRingbackStopsWithTheCall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		callee uesim.CalleeOptions
		caller uesim.CallerOptions
		final  int
	}{
		{"answered", uesim.CalleeOptions{RingTime: 300 * time.Millisecond, AnswerWithoutPage: true}, uesim.CallerOptions{}, 200},
		{"busy", uesim.CalleeOptions{RingTime: 300 * time.Millisecond, RejectCode: 486, AnswerWithoutPage: true}, uesim.CallerOptions{}, 486},
		{"cancelled", uesim.CalleeOptions{RingTime: 5 * time.Second, AnswerWithoutPage: true}, uesim.CallerOptions{CancelAfter: 300 * time.Millisecond}, 487},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, h := startRingbackRig(t, tc.callee)
			caller := newCaller(t, tc.caller)
			res, _ := h.call(t, caller, dave, bob)
			if res.Final != tc.final {
				t.Fatalf("final %d, want %d", res.Final, tc.final)
			}
			var finalAt time.Time
			for _, m := range res.Messages {
				if m.Dir == uesim.Received && m.Response != nil && m.Status() == tc.final && m.Method() == "INVITE" {
					finalAt = m.At
				}
			}
			// The caller may read the final before Herald's controller has acted on it (sipgo sends
			// the CANCEL's 487 itself, then tells the controller): wait for the stop, then bound
			// how late it came.
			for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				ring.mu.Lock()
				stopped := len(ring.all) == 1 && ring.all[0].stopped > 0
				ring.mu.Unlock()
				if stopped {
					break
				}
			}
			ring.mu.Lock()
			defer ring.mu.Unlock()
			if len(ring.all) != 1 || !ring.all[0].played {
				t.Fatalf("%d streams, played %v: want one ringback played after PRACK", len(ring.all), len(ring.all) > 0 && ring.all[0].played)
			}
			s := ring.all[0]
			if s.stopped != 1 || finalAt.IsZero() {
				t.Fatalf("stream stopped %d times; final seen at %v", s.stopped, finalAt)
			}
			if lag := s.stoppedAt().Sub(finalAt); lag > 20*time.Millisecond {
				t.Fatalf("ringback stopped %v after the caller got %d, want within one packet time", lag, tc.final)
			}
			h.quiet(t)
		})
	}
}

// TestRingbackYieldsToCalleeEarlyMedia proves claim 2's ringback yields to the callee network's own
// early media over real sockets: when the callee's provisional responses carry P-Early-Media:
// sendonly (RFC 5009 §5: an announcement or the network's own alerting tone toward the caller),
// Herald's 183 answers without a ringback stream and says P-Early-Media: inactive, the yield is
// counted, and the call completes; with P-Early-Media: gated (not an authorisation) the ringback
// plays as usual.
func TestRingbackYieldsToCalleeEarlyMedia(t *testing.T) {
	for _, tc := range []struct {
		pem     string
		streams int
		yielded uint64
	}{{"sendonly", 0, 1}, {"gated", 1, 0}} {
		t.Run(tc.pem, func(t *testing.T) {
			ring, h := startRingbackRig(t, uesim.CalleeOptions{RingTime: 300 * time.Millisecond, AnswerWithoutPage: true, EarlyMedia: tc.pem})
			res, err := h.call(t, newCaller(t, uesim.CallerOptions{}), dave, bob)
			if err != nil || res.Final != 200 {
				t.Fatalf("final %d, %v", res.Final, err)
			}
			ring.mu.Lock()
			n := len(ring.all)
			ring.mu.Unlock()
			if n != tc.streams {
				t.Fatalf("%d ringback streams, want %d", n, tc.streams)
			}
			if got := h.sig.Stats.RingbackYielded.Load(); got != tc.yielded {
				t.Fatalf("RingbackYielded %d, want %d", got, tc.yielded)
			}
			want := "sendonly"
			if tc.streams == 0 {
				want = "inactive"
			}
			var seen bool
			for _, m := range res.Messages {
				if r := m.Response; m.Dir == uesim.Received && r != nil && r.StatusCode == 183 && r.GetHeader("RSeq") != nil {
					if p := r.GetHeader("P-Early-Media"); p != nil && p.Value() == want {
						seen = true
					}
				}
			}
			if !seen {
				t.Fatalf("no reliable 183 from Herald with P-Early-Media: %s", want)
			}
			h.quiet(t)
		})
	}
}
