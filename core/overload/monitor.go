package overload

import (
	"context"
	"math"
	"runtime/metrics"
	"time"
)

// schedLatencies is the runtime's histogram of the time goroutines spent runnable before running.
const schedLatencies = "/sched/latencies:seconds"

// Monitor feeds a Shedder from the Go scheduler, one window at a time.
type Monitor struct {
	s      *Shedder
	sample []metrics.Sample
	prev   []uint64
}

// NewMonitor returns a Monitor for s, its first window starting now.
func NewMonitor(s *Shedder) *Monitor {
	m := &Monitor{s: s, sample: []metrics.Sample{{Name: schedLatencies}}}
	m.read()
	return m
}

// read returns the histogram now and the window since the last read (counts per bucket).
func (m *Monitor) read() (buckets []float64, window []uint64) {
	metrics.Read(m.sample)
	if m.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil, nil // not in this runtime: no signal, nothing shed
	}
	h := m.sample[0].Value.Float64Histogram()
	window = make([]uint64, len(h.Counts))
	for i, c := range h.Counts {
		if i < len(m.prev) {
			window[i] = c - m.prev[i]
		}
	}
	if m.prev == nil {
		window = nil // the first read has no window before it
	}
	m.prev = append(m.prev[:0], h.Counts...)
	return h.Buckets, window
}

// Tick ends a window: the quantile of the latencies since the last Tick goes to the Shedder.
func (m *Monitor) Tick() {
	b, w := m.read()
	q, n := Quantile(b, w, m.s.opts.Quantile)
	m.s.Observe(q, n)
}

// Run ticks every Options.Window until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.s.opts.Window)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Tick()
		}
	}
}

// Quantile is the q quantile of a window of a runtime/metrics histogram (counts[i] events in
// [buckets[i], buckets[i+1])), as the upper bound of the bucket it falls in, and the window's
// number of events. An empty window reads 0; a quantile in the last, unbounded bucket reads its
// lower bound.
func Quantile(buckets []float64, counts []uint64, q float64) (time.Duration, uint64) {
	var n uint64
	for _, c := range counts {
		n += c
	}
	if n == 0 || len(buckets) != len(counts)+1 {
		return 0, n
	}
	rank := uint64(math.Ceil(q * float64(n))) // the rank-th smallest event, 1-based
	rank = max(rank, 1)
	var acc uint64
	for i, c := range counts {
		acc += c
		if acc >= rank {
			return seconds(buckets[i+1], buckets[i]), n
		}
	}
	return seconds(buckets[len(buckets)-1], buckets[len(buckets)-2]), n
}

// seconds converts a bucket bound to a Duration: hi, or lo when hi is +Inf.
func seconds(hi, lo float64) time.Duration {
	if math.IsInf(hi, 1) {
		hi = lo
	}
	return time.Duration(hi * float64(time.Second))
}
