package loadgen

import (
	"context"
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
	}
}
