package overload

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

const ms = time.Millisecond

// TestShedderSteps: the share moves up by an eighth per overloaded window, down by a thirty-second
// per clear one, holds between half the target and the target, and a window with too few events
// counts as clear.
func TestShedderSteps(t *testing.T) {
	type win struct {
		q    time.Duration
		n    uint64
		want uint32
	}
	for _, tc := range []struct {
		name string
		wins []win
	}{
		{"busy but not overloaded: nothing shed", []win{{2 * ms, 5000, 0}, {9 * ms, 5000, 0}, {10 * ms, 5000, 0}}},
		{"overloaded: up an eighth per window, capped at all", []win{
			{11 * ms, 5000, 128}, {30 * ms, 5000, 256}, {11 * ms, 5000, 384}, {11 * ms, 5000, 512},
			{11 * ms, 5000, 640}, {11 * ms, 5000, 768}, {11 * ms, 5000, 896}, {11 * ms, 5000, 1024}, {50 * ms, 5000, 1024}}},
		{"between half and the target: held", []win{{20 * ms, 5000, 128}, {5 * ms, 5000, 128}, {9 * ms, 5000, 128}}},
		{"clear: down a thirty-second per window, floored at none", []win{
			{20 * ms, 5000, 128}, {4 * ms, 5000, 96}, {1 * ms, 5000, 64}, {0, 5000, 32}, {4 * ms, 5000, 0}, {4 * ms, 5000, 0}}},
		{"too few events: clear, however slow", []win{{20 * ms, 5000, 128}, {time.Second, MinSamples - 1, 96}, {time.Second, MinSamples, 224}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Target: 10 * ms})
			for i, w := range tc.wins {
				s.Observe(w.q, w.n)
				if got := s.Ratio(); got != w.want {
					t.Fatalf("window %d (%v over %d events): ratio %d, want %d", i, w.q, w.n, got, w.want)
				}
				if s.Last() != w.q {
					t.Fatalf("window %d: Last %v, want %v", i, s.Last(), w.q)
				}
			}
			if s.Windows.Load() != uint64(len(tc.wins)) {
				t.Fatalf("Windows %d, want %d", s.Windows.Load(), len(tc.wins))
			}
		})
	}
}

// TestShedderOff: a zero Target sheds nothing however slow the scheduler, and still reports it.
func TestShedderOff(t *testing.T) {
	s := New(Options{})
	for range 20 {
		s.Observe(time.Second, 1e6)
	}
	if s.Ratio() != 0 || s.Shed("a@b") || s.Overloaded.Load() != 0 {
		t.Fatalf("off: ratio %d, overloaded %d", s.Ratio(), s.Overloaded.Load())
	}
	if s.Last() != time.Second {
		t.Fatalf("Last %v, want 1s", s.Last())
	}
	var nilShedder *Shedder
	if nilShedder.Shed("x") {
		t.Fatal("a nil Shedder shed a call")
	}
}

// TestShedShare: at each share the Call-IDs shed are about that share of all, the same Call-ID
// always gets the same answer at one share, and a call shed at a share stays shed at a larger one
// (the fast path and the general path agree on a call even when the share moved up between them).
func TestShedShare(t *testing.T) {
	s := New(Options{Target: 10 * ms})
	const calls = 20000
	ids := make([]string, calls)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-call@192.0.2.%d", i*2654435761, i%250)
	}
	prevShed := make([]bool, calls)
	for r := uint32(0); r <= Scale; r += stepUp {
		s.ratio.Store(r)
		n := 0
		for i, id := range ids {
			before := s.Calls.Load()
			shed := s.Shed(id)
			if shed != s.Shed(id) || shed != s.ShedBytes([]byte(id)) {
				t.Fatalf("ratio %d: %q answered both ways", r, id)
			}
			if counted := s.Calls.Load() - before; shed && counted != 3 || !shed && counted != 0 {
				t.Fatalf("ratio %d: %q shed %t counted %d times in 3 asks", r, id, shed, counted)
			}
			if prevShed[i] && !shed {
				t.Fatalf("%q shed at a smaller share than %d but not at it", id, r)
			}
			prevShed[i] = shed
			if shed {
				n++
			}
		}
		want := float64(r) / Scale * calls
		if math.Abs(float64(n)-want) > 0.02*calls {
			t.Fatalf("ratio %d/%d: shed %d of %d, want about %.0f", r, Scale, n, calls, want)
		}
	}
}

// TestQuantile: the quantile of a window is the upper bound of the bucket holding its rank.
func TestQuantile(t *testing.T) {
	b := []float64{0, 0.001, 0.002, 0.004, 0.008, math.Inf(1)}
	for _, tc := range []struct {
		counts []uint64
		q      float64
		want   time.Duration
		n      uint64
	}{
		{[]uint64{0, 0, 0, 0, 0}, 0.99, 0, 0},
		{[]uint64{100, 0, 0, 0, 0}, 0.99, 1 * ms, 100},
		{[]uint64{99, 1, 0, 0, 0}, 0.99, 1 * ms, 100}, // rank 99 is in the first bucket
		{[]uint64{98, 2, 0, 0, 0}, 0.99, 2 * ms, 100}, // rank 99 is in the second
		{[]uint64{50, 0, 0, 50, 0}, 0.5, 1 * ms, 100}, // rank 50
		{[]uint64{49, 0, 0, 51, 0}, 0.5, 8 * ms, 100}, // rank 50 in [4, 8) ms
		{[]uint64{0, 0, 0, 0, 7}, 0.99, 8 * ms, 7},    // unbounded bucket: its lower bound
		{[]uint64{1, 0, 0, 0, 0}, 0.0001, 1 * ms, 1},  // rank at least 1
		{[]uint64{1, 2, 3}, 0.99, 0, 6},               // malformed: counts and buckets disagree
	} {
		got, n := Quantile(b, tc.counts, tc.q)
		if got != tc.want || n != tc.n {
			t.Errorf("Quantile(%v, %v) = %v over %d, want %v over %d", tc.counts, tc.q, got, n, tc.want, tc.n)
		}
	}
}

// TestMonitorSeesSaturation runs the Monitor on this process's real scheduler: idle, it sheds
// nothing; with 32 goroutines per P, each working 100 µs and yielding (so each waits about 32 ×
// 100 µs = 3.2 ms for a CPU every time), the windows read overloaded and the share goes up; idle
// again, it comes back down.
func TestMonitorSeesSaturation(t *testing.T) {
	s := New(Options{Target: 2 * ms, Window: 50 * ms})
	m := NewMonitor(s)
	idle := func() {
		for range 3 {
			time.Sleep(50 * ms)
			m.Tick()
		}
	}
	idle()
	if s.Ratio() != 0 {
		t.Fatalf("idle: ratio %d (last window %v)", s.Ratio(), s.Last())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 32 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for ctx.Err() == nil {
				for start := time.Now(); time.Since(start) < 100*time.Microsecond; {
				}
				runtime.Gosched()
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Ratio() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * ms)
		m.Tick()
	}
	cancel()
	wg.Wait()
	if s.Ratio() == 0 {
		t.Fatalf("saturated: nothing shed (last window %v, %d of %d windows overloaded)", s.Last(), s.Overloaded.Load(), s.Windows.Load())
	}
	high := s.Ratio()
	idle()
	if s.Ratio() >= high {
		t.Fatalf("idle again: ratio %d, was %d", s.Ratio(), high)
	}
}

// TestMonitorRun: Run ticks until its context ends.
func TestMonitorRun(t *testing.T) {
	s := New(Options{Target: time.Second, Window: 5 * ms})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { NewMonitor(s).Run(ctx); close(done) }()
	for s.Windows.Load() < 3 {
		time.Sleep(5 * ms)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}
