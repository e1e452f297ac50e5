package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// runDirect runs one short step of plain calls straight from the callers to the callee side (no
// Herald) and returns its figures.
func runDirect(t *testing.T, o Options) Step {
	t.Helper()
	o.Herald = "direct"
	if o.Mix == nil {
		o.Mix = Mix{MixPlain: 1}
	}
	if o.Ramp == 0 {
		o.Ramp = -1
	}
	if o.Hold == 0 {
		o.Hold = 20 * time.Millisecond
	}
	o.StopOnFail = -1
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 1 {
		t.Fatalf("steps = %d, want 1 (stopped: %q)", len(res.Steps), res.Stopped)
	}
	return res.Steps[0]
}

// TestDirectPlainCalls: every call of a step is made at the open-loop rate and completes, with a
// setup time no shorter than the callee's ring time.
func TestDirectPlainCalls(t *testing.T) {
	s := runDirect(t, Options{Rates: []float64{50}, Step: time.Second, Hold: 30 * time.Millisecond})
	if s.Attempted != 50 || s.Completed != 50 || len(s.Failed) != 0 {
		t.Fatalf("attempted %d completed %d failed %v, want 50/50/none", s.Attempted, s.Completed, s.Failed)
	}
	if s.SetupMS.Count != 50 || s.SetupMS.P50 < 30 {
		t.Errorf("setup = %+v, want 50 samples at least the 30 ms ring", s.SetupMS)
	}
	if !s.Clean && (s.Kernel == Kernel{}) {
		t.Errorf("step not clean: %+v", s)
	}
}

// TestFailedCallsCountedByCause: a callee that answers 486 or 503 makes every call fail with the
// cause of that class, and none completes.
func TestFailedCallsCountedByCause(t *testing.T) {
	for code, cause := range map[int]string{486: CauseSIP4xx, 503: CauseSIP5xx, 603: CauseSIP6xx} {
		s := runDirect(t, Options{Rates: []float64{20}, Step: 500 * time.Millisecond,
			CalleeOptions: func(co *uesim.CalleeOptions) { co.RejectCode = code }})
		if s.Attempted != 10 || s.Completed != 0 || s.Failed[cause] != 10 || len(s.Failed) != 1 {
			t.Errorf("%d: attempted %d completed %d failed %v, want 10 failed as %s", code, s.Attempted, s.Completed,
				s.Failed, cause)
		}
		if e := s.FailedExample[cause]; !strings.Contains(e, strconv.Itoa(code)) {
			t.Errorf("%d: first %s %q, want the status named", code, cause, e)
		}
	}
}

// silentSUT is a UDP socket that reads every datagram and answers none: a SUT that takes calls
// and never answers.
func silentSUT(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		b := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFrom(b); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

// TestOpenLoopAgainstSilentSUT: against a SUT that never answers, the schedule still starts
// every call of the step on time (40 calls in 1 s although each hangs 1.5 s: a closed loop would
// need a minute), all 40 are in flight together, and each fails as timeout. With MaxInFlight 10
// the calls beyond the cap are not made and count as gen_overload, the schedule unchanged.
func TestOpenLoopAgainstSilentSUT(t *testing.T) {
	for _, tc := range []struct {
		maxInFlight        int
		timeouts, overload int64
	}{{0, 40, 0}, {10, 10, 30}} {
		t.Run(fmt.Sprintf("max-inflight=%d", tc.maxInFlight), func(t *testing.T) {
			g, err := New(Options{Herald: silentSUT(t), Mix: Mix{MixPlain: 1}, Rates: []float64{40}, Step: time.Second,
				Ramp: -1, Hold: -1, CallTimeout: 1500 * time.Millisecond, MaxInFlight: tc.maxInFlight, StopOnFail: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := g.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Steps) != 1 {
				t.Fatalf("steps %d", len(res.Steps))
			}
			s := res.Steps[0]
			if s.Attempted != 40 || s.Completed != 0 || s.Failed[CauseTimeout] != tc.timeouts ||
				s.Failed[CauseGenOverload] != tc.overload {
				t.Errorf("attempted %d completed %d failed %v, want 40 attempted, %d timeout, %d gen_overload",
					s.Attempted, s.Completed, s.Failed, tc.timeouts, tc.overload)
			}
			if s.DurationS > 1.9 { // a closed loop would take a minute
				t.Errorf("the 1 s step took %.2f s: the schedule waited for calls", s.DurationS)
			}
			var peak int64
			for _, smp := range res.Samples {
				peak = max(peak, smp.InFlight)
			}
			if want := min(int64(30), tc.timeouts); peak < want {
				t.Errorf("at most %d calls in flight, want >= %d (open loop)", peak, want)
			}
			if s.SetupMS.Count != 0 || s.Clean {
				t.Errorf("setup %+v clean %v for calls never answered", s.SetupMS, s.Clean)
			}
		})
	}
}

// TestStopOnFailAndSoak: a sweep whose first step fails beyond -stop-on-fail ends there, saying
// why; a soak is one step at the first rate, as long as asked, with a sample every second.
func TestStopOnFailAndSoak(t *testing.T) {
	g, err := New(Options{Herald: "direct", Mix: Mix{MixPlain: 1}, Rates: []float64{10, 20, 40}, Step: 300 * time.Millisecond,
		Ramp: 300 * time.Millisecond, Hold: 10 * time.Millisecond, StopOnFail: 5,
		CalleeOptions: func(co *uesim.CalleeOptions) { co.RejectCode = 480 }})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	res, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 1 || !strings.Contains(res.Stopped, "failed 100.0%") || res.Steps[0].Failed[CauseSIP4xx] != 3 {
		t.Errorf("steps %d stopped %q failed %v, want the sweep stopped after step 1 (3 calls, all sip_4xx)",
			len(res.Steps), res.Stopped, res.Steps)
	}
	if r := res.Ramp; r == nil || r.Attempted < 1 || r.Failed != r.Attempted {
		t.Errorf("ramp tally %+v, want the ramps' calls counted, all failed", r)
	}

	s := runDirect(t, Options{Rates: []float64{20, 50}, Soak: 1200 * time.Millisecond, Step: time.Hour})
	if s.TargetCPS != 20 || s.Attempted != 24 || s.Completed != 24 || s.DurationS < 1.2 || s.DurationS > 2 {
		t.Errorf("soak step %+v, want 24 calls at 20 cps over 1.2 s", s)
	}
}

// TestDirectPlainCallsLean: the lean terminals (no sipgo) make every call of a step at the
// open-loop rate and complete it, as the sipgo terminals do.
func TestDirectPlainCallsLean(t *testing.T) {
	s := runDirect(t, Options{Terminals: TerminalsLean, Rates: []float64{50}, Step: time.Second, Hold: 30 * time.Millisecond})
	if s.Attempted != 50 || s.Completed != 50 || len(s.Failed) != 0 {
		t.Fatalf("attempted %d completed %d failed %v, want 50/50/none", s.Attempted, s.Completed, s.Failed)
	}
	if s.SetupMS.Count != 50 || s.SetupMS.P50 < 30 || s.PDDMS.Count != 50 {
		t.Errorf("setup = %+v pdd = %+v, want 50 samples, setup at least the 30 ms ring", s.SetupMS, s.PDDMS)
	}
}

// TestLeanTerminalsRefuseWhatTheyCannotDo: the lean terminals speak UDP only and keep no
// ringback accounting; asking for either is an options error, not a run that measures nothing.
func TestLeanTerminalsRefuseWhatTheyCannotDo(t *testing.T) {
	for name, o := range map[string]Options{
		"tcp":      {Terminals: TerminalsLean, Transport: "tcp", Mix: Mix{MixBoth: 1}},
		"ringback": {Terminals: TerminalsLean, Mix: Mix{MixBoth: 1, MixRingback: 1}},
		"unknown":  {Terminals: "pjsip"},
	} {
		if _, err := New(o); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: err %v, want ErrOptions", name, err)
		}
	}
}
