// Package overload decides when Herald sheds its push work: when its own CPU has become the
// bottleneck of the calls through it, a share of the new calls that would get cards is forwarded as
// plain calls instead. Such a call goes through as it would without Herald (its cards do not); a
// call whose setup queues behind everyone's pushes may not go through at all: its caller
// retransmits, gives up, or is answered after the callee was (RFC 6357 §3: overload turns into
// retransmissions and collapse). Rejecting with 503 (RFC 3261 §21.5.4) is for a node that cannot
// forward at all; Herald's plain forwarding costs a seventh of a push call, so it still can.
//
// The signal is a standing queue, as CoDel (RFC 8289 §2) tells one from a burst: not how long the
// queue gets, but whether it ever empties. Every part of a call's work is a goroutine waiting for a
// CPU, so the queue is the Go scheduler's run queue (runtime/metrics
// /sched/goroutines/runnable:goroutines). The Monitor samples it every Options.Sample and, each
// Options.Window, takes a low quantile of the samples (Options.Quantile, default the 10th
// percentile): a node that keeps up empties its run queue many times a second, even when bursts or
// a CPU shared with other work make the queue long at moments; a node that does not keep up never
// does. Measured on 2 vCPUs (bench/results/sip-push.md, Session 16): the 10th percentile was 0-1
// at 2,334 push calls/s on two CPUs and at 2,600 on half a CPU, both carried whole, and mostly
// 100-1,400 at 4,000 on half a CPU, where two thirds of the calls failed. (The scheduler's latency
// cannot tell those apart: on the shared CPU its 99th percentile read as high as in a collapse.)
//
// While the quantile is above the target the Shedder raises the share it sheds by a large step per
// window, and lowers it by a small one once it is under half the target (additive increase and
// decrease: fast to shed, slow to take the pushes back, so that the node settles at the share it
// can carry instead of swinging between all and none). Which calls are shed is decided by a hash of
// the Call-ID, once per call: on the fast path for an INVITE it would hand to the general path
// (Shedder.ShedOnce, which gives every copy of the INVITE its first copy's decision), else by the
// general path's controller after admission (Shedder.Shed).
package overload

import (
	"hash/maphash"
	"sync/atomic"
	"time"
)

// Scale is the share Shedder.Ratio counts in: Scale is every call.
const Scale = 1024

// Steps of the shed share per window: up while overloaded (8 windows from none to all), down once
// clear (32 windows from all to none; 4 from the first step).
const (
	stepUp   = Scale / 8
	stepDown = Scale / 32
)

// MinSamples is the number of samples below which a window says nothing (the monitor itself was
// starved of CPU for most of it): it counts as neither overloaded nor clear.
const MinSamples = 10

// Defaults.
const (
	DefaultSample   = 10 * time.Millisecond
	DefaultWindow   = time.Second
	DefaultQuantile = 0.1
)

// Options configure a Shedder and its Monitor.
type Options struct {
	// Target is the run queue (runnable goroutines) above which a window's quantile counts as
	// overloaded; below half of it a window counts as clear. Zero disables shedding (the Monitor
	// still reads the queue: Last).
	Target int
	// Sample is how often the Monitor reads the run queue, Window how often it decides; defaults
	// DefaultSample and DefaultWindow.
	Sample, Window time.Duration
	// Quantile of a window's samples compared with Target; default DefaultQuantile.
	Quantile float64
}

func (o *Options) defaults() {
	if o.Sample <= 0 {
		o.Sample = DefaultSample
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Quantile <= 0 || o.Quantile >= 1 {
		o.Quantile = DefaultQuantile
	}
}

// Shedder holds the share of new push calls to forward plain. Observe is called by one goroutine
// (the Monitor, or a test); Shed and the counters are safe from any.
type Shedder struct {
	opts  Options
	seed  maphash.Seed
	ratio atomic.Uint32 // share shed, of Scale
	last  atomic.Int64  // the last window's quantile of the run queue

	// Windows counts the windows observed; Overloaded those above Target; Calls the calls shed
	// (Shed or ShedOnce answered true).
	Windows, Overloaded, Calls atomic.Uint64

	recall recall // ShedOnce's (once.go)
}

// New returns a Shedder for o.
func New(o Options) *Shedder {
	o.defaults()
	return &Shedder{opts: o, seed: maphash.MakeSeed()}
}

// Options returns the Shedder's options, defaults applied.
func (s *Shedder) Options() Options { return s.opts }

// Observe takes one window's quantile q of the run queue over n samples and moves the share.
func (s *Shedder) Observe(q, n int) {
	s.Windows.Add(1)
	s.last.Store(int64(q))
	if s.opts.Target <= 0 || n < MinSamples {
		return
	}
	r := s.ratio.Load()
	switch {
	case q > s.opts.Target:
		s.Overloaded.Add(1)
		r = min(r+stepUp, Scale)
	case q < s.opts.Target/2:
		r -= min(r, stepDown)
	}
	s.ratio.Store(r)
}

// Ratio is the share of new push calls shed now, of Scale.
func (s *Shedder) Ratio() uint32 { return s.ratio.Load() }

// Last is the latest window's quantile of the run queue, in goroutines.
func (s *Shedder) Last() int { return int(s.last.Load()) }

// Shed reports whether the call callID, which would get cards, is to be forwarded plain, and
// counts it if so: ask once per call, where its plan is made. Calls are picked by a hash of their
// Call-ID against the share shed now; nil sheds none.
func (s *Shedder) Shed(callID string) bool {
	if s == nil || !s.picked(maphash.String(s.seed, callID)) {
		return false
	}
	s.Calls.Add(1)
	return true
}

// picked reports whether the call whose Call-ID hashes (with seed) to h is within the share shed now.
func (s *Shedder) picked(h uint64) bool {
	r := s.ratio.Load()
	return r != 0 && uint32(h%Scale) < r
}
