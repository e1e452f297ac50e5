package loadgen

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Causes: why a call failed. The set is fixed (doc.go describes each); a failed call has exactly
// one cause, the first that applies in this order.
const (
	CauseGenOverload    = "gen_overload"    // not made: MaxInFlight calls were in progress
	CauseTimeout        = "timeout"         // no final response within Hold+CallTimeout (then CANCEL)
	CauseTransport      = "transport"       // the INVITE could not be sent (connection refused, send error)
	CauseSIP3xx         = "sip_3xx"         // final response 3xx
	CauseSIP4xx         = "sip_4xx"         // final response 4xx
	CauseSIP5xx         = "sip_5xx"         // final response 5xx
	CauseSIP6xx         = "sip_6xx"         // final response 6xx
	CausePageMismatch   = "page_mismatch"   // a page's bytes differ from its file-selector size or hash
	CausePageIncomplete = "page_incomplete" // a page transfer never completed (no REPORT): stalled, closed, aborted
	CauseMSRPError      = "msrp_error"      // the MSRP connection or the acquisition SEND was refused
	CauseNoPush         = "no_push"         // the call's kind expects a page offer and none came
	CauseNoRingback     = "no_ringback"     // a ringback call got no early-media dialog or no RTP
	CauseCallee         = "callee_error"    // the callee side failed (no PRACK/ACK/BYE, call never seen)
	CauseProtocol       = "protocol"        // anything else the terminals could not follow (BYE refused...)
)

// Causes lists every cause, in classification order.
var Causes = []string{CauseGenOverload, CauseTimeout, CauseTransport, CauseSIP3xx, CauseSIP4xx, CauseSIP5xx, CauseSIP6xx,
	CausePageMismatch, CausePageIncomplete, CauseMSRPError, CauseNoPush, CauseNoRingback, CauseCallee,
	CauseProtocol}

// hist is a latency histogram in microseconds, 1 µs to 10 min, 3 significant digits.
type hist struct{ h *hdrhistogram.Histogram }

func newHist() hist { return hist{hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)} }

func (h hist) add(d time.Duration) {
	us := max(d.Microseconds(), 1)
	_ = h.h.RecordValue(min(us, h.h.HighestTrackableValue()))
}

func (h hist) summary() Latency {
	if h.h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return Latency{Count: h.h.TotalCount(), P50: ms(h.h.ValueAtQuantile(50)), P95: ms(h.h.ValueAtQuantile(95)),
		P99: ms(h.h.ValueAtQuantile(99)), Max: ms(h.h.Max())}
}

// stepStats accumulates the calls of one step; every method is safe for concurrent use.
type stepStats struct {
	target float64

	mu        sync.Mutex
	attempted int64
	completed int64
	failed    map[string]int64
	example   map[string]string
	byMix     map[string]*Tally
	setup     hist
	page      hist
	pdd       hist
	lag       hist
	late      hist
	rtp       RTP
	inFlight  int64         // calls of this step not finished yet
	closed    bool          // the steady window is over: no more calls join
	drained   chan struct{} // closed when closed and inFlight reaches 0
}

func newStepStats(target float64) *stepStats {
	return &stepStats{target: target, failed: map[string]int64{}, example: map[string]string{}, byMix: map[string]*Tally{}, setup: newHist(),
		page: newHist(), pdd: newHist(), lag: newHist(), late: newHist(), drained: make(chan struct{})}
}

func (s *stepStats) tally(kind string) *Tally {
	t := s.byMix[kind]
	if t == nil {
		t = &Tally{}
		s.byMix[kind] = t
	}
	return t
}

// start counts a call started in the window, lag behind its schedule.
func (s *stepStats) start(kind string, lag time.Duration) {
	s.mu.Lock()
	s.attempted++
	s.inFlight++
	s.tally(kind).Attempted++
	s.lag.add(lag)
	s.mu.Unlock()
}

// finish counts the outcome of a call that start counted.
func (s *stepStats) finish(kind string, o *outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tally(kind)
	if o.cause == "" {
		s.completed++
		t.Completed++
	} else {
		s.failed[o.cause]++
		t.Failed++
		if _, ok := s.example[o.cause]; !ok && o.detail != "" {
			s.example[o.cause] = o.detail
		}
	}
	if o.setup > 0 {
		s.setup.add(o.setup)
	}
	if o.pdd > 0 {
		s.pdd.add(o.pdd)
	}
	for _, p := range o.pages {
		s.page.add(p)
	}
	if o.rtp != nil {
		r := o.rtp
		s.rtp.Calls++
		s.rtp.Expected += r.expected
		s.rtp.Received += r.received
		s.rtp.Lost += r.lost
		s.rtp.Late += r.late
		s.rtp.Duplicates += r.duplicates
		for _, us := range r.lateness {
			s.late.add(time.Duration(us) * time.Microsecond)
		}
	}
	s.inFlight--
	s.maybeDrained()
}

// close ends the window; drained closes once its calls are over.
func (s *stepStats) close() {
	s.mu.Lock()
	s.closed = true
	s.maybeDrained()
	s.mu.Unlock()
}

func (s *stepStats) maybeDrained() {
	if s.closed && s.inFlight == 0 {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
}

func (s *stepStats) failedPct() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attempted == 0 {
		return 0
	}
	var f int64
	for _, n := range s.failed {
		f += n
	}
	return 100 * float64(f) / float64(s.attempted)
}

// result fills the call figures of a Step (the caller adds process and kernel figures).
func (s *stepStats) result(window time.Duration) Step {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Step{TargetCPS: s.target, DurationS: window.Seconds(), Attempted: s.attempted, Completed: s.completed,
		Failed: map[string]int64{}, ByMix: map[string]*Tally{}, SetupMS: s.setup.summary(), PageMS: s.page.summary(),
		PDDMS: s.pdd.summary(), SchedLagMS: s.lag.summary(), RTP: s.rtp}
	if window > 0 {
		st.AchievedCPS = float64(s.attempted) / window.Seconds()
	}
	for k, v := range s.failed {
		st.Failed[k] = v
	}
	if len(s.example) > 0 {
		st.FailedExample = map[string]string{}
		for k, v := range s.example {
			st.FailedExample[k] = v
		}
	}
	for k, v := range s.byMix {
		c := *v
		st.ByMix[k] = &c
	}
	st.RTP.LateP99MS = s.late.summary().P99
	return st
}
