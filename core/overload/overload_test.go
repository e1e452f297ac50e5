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

// TestShedderSteps: the share moves up by an eighth per overloaded window, down by a thirty-second
// per clear one, holds between half the target and the target, and a window with too few samples
// (the monitor starved) moves nothing.
func TestShedderSteps(t *testing.T) {
	type win struct{ q, n, want int }
	for _, tc := range []struct {
		name string
		wins []win
	}{
		{"a queue that empties: nothing shed", []win{{0, 100, 0}, {1, 100, 0}, {16, 100, 0}}},
		{"a standing queue: up an eighth per window, capped at all", []win{
			{17, 100, 128}, {400, 100, 256}, {17, 100, 384}, {17, 100, 512},
			{17, 100, 640}, {17, 100, 768}, {17, 100, 896}, {17, 100, 1024}, {5000, 100, 1024}}},
		{"between half the target and the target: held", []win{{40, 100, 128}, {8, 100, 128}, {16, 100, 128}}},
		{"clear: down a thirty-second per window, floored at none", []win{
			{40, 100, 128}, {7, 100, 96}, {1, 100, 64}, {0, 100, 32}, {7, 100, 0}, {0, 100, 0}}},
		{"too few samples: held either way", []win{
			{40, 100, 128}, {5000, MinSamples - 1, 128}, {0, MinSamples - 1, 128}, {0, MinSamples, 96}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Target: 16})
			for i, w := range tc.wins {
				s.Observe(w.q, w.n)
				if got := s.Ratio(); got != uint32(w.want) {
					t.Fatalf("window %d (queue %d over %d samples): ratio %d, want %d", i, w.q, w.n, got, w.want)
				}
				if s.Last() != w.q {
					t.Fatalf("window %d: Last %d, want %d", i, s.Last(), w.q)
				}
			}
			if s.Windows.Load() != uint64(len(tc.wins)) {
				t.Fatalf("Windows %d, want %d", s.Windows.Load(), len(tc.wins))
			}
		})
	}
}

// TestShedderOff: a zero Target sheds nothing however long the queue stands, and still reports it.
func TestShedderOff(t *testing.T) {
	s := New(Options{})
	for range 20 {
		s.Observe(5000, 100)
	}
	if s.Ratio() != 0 || s.Shed("a@b") || s.Overloaded.Load() != 0 || s.Calls.Load() != 0 {
		t.Fatalf("off: ratio %d, overloaded %d, calls %d", s.Ratio(), s.Overloaded.Load(), s.Calls.Load())
	}
	if s.Last() != 5000 {
		t.Fatalf("Last %d, want 5000", s.Last())
	}
	var nilShedder *Shedder
	if nilShedder.Shed("x") {
		t.Fatal("a nil Shedder shed a call")
	}
}

// TestShedShare: at each share the Call-IDs shed are about that share of all, the same Call-ID
// always gets the same answer at one share (each yes counted), and a call shed at a share stays
// shed at a larger one.
func TestShedShare(t *testing.T) {
	s := New(Options{Target: 16})
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
			if shed != s.Shed(id) {
				t.Fatalf("ratio %d: %q answered both ways", r, id)
			}
			if counted := s.Calls.Load() - before; shed && counted != 2 || !shed && counted != 0 {
				t.Fatalf("ratio %d: %q shed %t counted %d times in 2 asks", r, id, shed, counted)
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

// TestQuantile: the nearest-rank quantile of a window's samples.
func TestQuantile(t *testing.T) {
	for _, tc := range []struct {
		xs   []int
		q    float64
		want int
	}{
		{nil, 0.1, 0},
		{[]int{7}, 0.1, 7},
		{[]int{5, 0, 9, 3, 1, 8, 2, 7, 4, 6}, 0.1, 0}, // rank 1 of 10
		{[]int{5, 0, 9, 3, 1, 8, 2, 7, 4, 6}, 0.5, 4}, // rank 5
		{[]int{5, 0, 9, 3, 1, 8, 2, 7, 4, 6}, 0.99, 9},
		{append(make([]int, 0, 11), 100, 100, 100, 100, 100, 100, 100, 100, 100, 0, 0), 0.1, 0}, // rank 2 of 11: the queue emptied twice
		{[]int{300, 120, 900, 150, 1400, 110, 2000, 130, 250, 101}, 0.1, 101},
	} {
		if got := Quantile(append([]int(nil), tc.xs...), tc.q); got != tc.want {
			t.Errorf("Quantile(%v, %v) = %d, want %d", tc.xs, tc.q, got, tc.want)
		}
	}
}

// TestMonitorSeesStandingQueue runs the Monitor on this process's real scheduler: idle, the run
// queue empties and nothing is shed; with 64 goroutines per P that each work 100 µs and yield (the
// run queue never empties), the windows read overloaded and the share goes up; idle again, it
// comes back down.
func TestMonitorSeesStandingQueue(t *testing.T) {
	s := New(Options{Target: 16})
	m := NewMonitor(s)
	window := func() {
		for range 20 {
			time.Sleep(5 * time.Millisecond)
			m.Sample()
		}
		m.Tick()
	}
	for range 3 {
		window()
	}
	if s.Ratio() != 0 {
		t.Fatalf("idle: ratio %d (last window's queue %d)", s.Ratio(), s.Last())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 64 * runtime.GOMAXPROCS(0) {
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
		window()
	}
	cancel()
	wg.Wait()
	if s.Ratio() == 0 {
		t.Fatalf("a standing queue: nothing shed (last window's queue %d, %d of %d windows overloaded)", s.Last(), s.Overloaded.Load(), s.Windows.Load())
	}
	high := s.Ratio()
	for range 3 {
		window()
	}
	if s.Ratio() >= high || s.Last() > 1 {
		t.Fatalf("idle again: ratio %d (was %d), queue %d", s.Ratio(), high, s.Last())
	}
}

// TestMonitorRun: Run samples and ticks until its context ends.
func TestMonitorRun(t *testing.T) {
	s := New(Options{Target: 16, Sample: time.Millisecond, Window: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { NewMonitor(s).Run(ctx); close(done) }()
	for s.Windows.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}
