package overload

import (
	"context"
	"math"
	"runtime/metrics"
	"slices"
	"time"
)

// runnable is the runtime's count of goroutines ready to run and waiting for a P.
const runnable = "/sched/goroutines/runnable:goroutines"

// Monitor feeds a Shedder from the Go scheduler's run queue, one window at a time.
type Monitor struct {
	s       *Shedder
	sample  []metrics.Sample
	samples []int
}

// NewMonitor returns a Monitor for s.
func NewMonitor(s *Shedder) *Monitor {
	return &Monitor{s: s, sample: []metrics.Sample{{Name: runnable}}}
}

// Sample reads the run queue once (about 70 ns, no stop-the-world).
func (m *Monitor) Sample() {
	metrics.Read(m.sample)
	if m.sample[0].Value.Kind() == metrics.KindUint64 { // else not in this runtime: no signal
		m.samples = append(m.samples, int(min(m.sample[0].Value.Uint64(), math.MaxInt32)))
	}
}

// Tick ends a window: the quantile of the samples since the last Tick goes to the Shedder.
func (m *Monitor) Tick() {
	q := Quantile(m.samples, m.s.opts.Quantile)
	m.s.Observe(q, len(m.samples))
	m.samples = m.samples[:0]
}

// Run samples every Options.Sample and ticks every Options.Window until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	sample, window := time.NewTicker(m.s.opts.Sample), time.NewTicker(m.s.opts.Window)
	defer sample.Stop()
	defer window.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sample.C:
			m.Sample()
		case <-window.C:
			m.Tick()
		}
	}
}

// Quantile is the q quantile of xs (the nearest rank: the ceil(q·n)-th smallest, at least the
// first), 0 for none. It sorts xs.
func Quantile(xs []int, q float64) int {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	rank := max(int(math.Ceil(q*float64(len(xs)))), 1)
	return xs[min(rank, len(xs))-1]
}
