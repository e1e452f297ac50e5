package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// Generator is a set of simulated terminals (callers and the callee side Herald forwards to) and
// the open-loop schedule that drives calls through Herald. Build it with New, run it once with
// Run, then Close it.
type Generator struct {
	o       Options
	log     *slog.Logger
	callers []*uesim.Caller
	callee  *uesim.Callee
	lean    *uesim.Lean // Options.Terminals "lean": both sides, instead of callers and callee
	rtp     *rtpReceiver
	board   calleeBoard

	ctx    context.Context
	cancel context.CancelFunc

	inFlight atomic.Int64
	launched atomic.Int64 // calls started (all phases), for the samples' cps
	calls    sync.WaitGroup
	rr       atomic.Uint64 // caller round robin

	stopOnce   sync.Once
	stopC      chan struct{} // closed by requestStop: no more calls are started
	stopReason atomic.Pointer[string]
}

// requestStop ends the sweep with reason (the first reason wins).
func (g *Generator) requestStop(reason string) {
	g.stopOnce.Do(func() {
		g.stopReason.Store(&reason)
		close(g.stopC)
	})
}

func (g *Generator) stopped(ctx context.Context) string {
	if r := g.stopReason.Load(); r != nil {
		return *r
	}
	if ctx.Err() != nil {
		return "interrupted"
	}
	return ""
}

// New starts the terminals: the callee side listening on o.Callee (UDP and TCP), o.Callers caller
// terminals and the RTP receiver, all on 127.0.0.1 (or the callee's host).
func New(o Options) (*Generator, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Generator{o: o, log: log, board: calleeBoard{slots: map[string]*calleeSlot{}},
		stopC: make(chan struct{})}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	host, _, err := net.SplitHostPort(o.Callee)
	if err != nil {
		return nil, fmt.Errorf("%w: callee %q: %w", ErrOptions, o.Callee, err)
	}
	quiet := slog.New(slog.DiscardHandler)
	ring := o.Hold
	if ring <= 0 {
		ring = -1 // uesim: answer at once
	}
	if o.Terminals == TerminalsLean {
		return g.newLean(host, ring)
	}
	co := uesim.CalleeOptions{Listen: o.Callee, Name: "callee", RingTime: ring, FetchTimeout: o.FetchTimeout,
		MaxCallTime: o.Hold + o.Talk + o.CallTimeout + time.Minute, WireLog: -1, NoRecord: true, DropPages: true, Forget: true,
		Transport: o.Transport, OnDone: g.board.put, Logger: quiet}
	if o.CalleeOptions != nil {
		o.CalleeOptions(&co)
	}
	if g.callee, err = uesim.NewCallee(co); err != nil {
		return nil, err
	}
	if g.o.Herald == "direct" {
		g.o.Herald = g.callee.Addr()
	}
	if g.rtp, err = newRTPReceiver(host, o.LateAfter); err != nil {
		g.Close()
		return nil, fmt.Errorf("loadgen: rtp: %w", err)
	}
	talk := o.Talk
	if talk <= 0 {
		talk = -1 // uesim: BYE right after the ACK
	}
	for i := 0; i < o.Callers; i++ {
		cro := uesim.CallerOptions{Listen: net.JoinHostPort(host, "0"), Name: "caller", HoldTime: talk,
			RTPPort: g.rtp.Port(), FetchTimeout: o.FetchTimeout, WireLog: -1, NoRecord: true, DropPages: true,
			Transport: o.Transport, Logger: quiet}
		if o.CallerOptions != nil {
			o.CallerOptions(&cro)
		}
		c, err := uesim.NewCaller(cro)
		if err != nil {
			g.Close()
			return nil, err
		}
		g.callers = append(g.callers, c)
	}
	return g, nil
}

// CalleeAddr is the address of the callee side: Herald's next hop.
func (g *Generator) CalleeAddr() string {
	if g.lean != nil {
		return g.lean.CalleeAddr()
	}
	return g.callee.Addr()
}

// SetHerald changes where calls go (host:port), for a Herald started after the generator (its
// config names the callee side, CalleeAddr). Call it before Run.
func (g *Generator) SetHerald(addr string) { g.o.Herald = addr }

// Close stops every terminal; calls in progress are abandoned.
func (g *Generator) Close() error {
	g.cancel()
	var errs []error
	for _, c := range g.callers {
		errs = append(errs, c.Close())
	}
	if g.callee != nil {
		errs = append(errs, g.callee.Close())
	}
	if g.lean != nil {
		errs = append(errs, g.lean.Close())
	}
	if g.rtp != nil {
		errs = append(errs, g.rtp.Close())
	}
	return errors.Join(errs...)
}

// snapshot of the processes and the kernel at one moment.
type snapshot struct {
	at        time.Time
	heraldCPU time.Duration
	genCPU    time.Duration
	kernel    kernelCounters
}

func (g *Generator) snap() snapshot {
	s := snapshot{at: time.Now(), genCPU: selfCPU(), kernel: readKernel()}
	if g.o.PID > 0 {
		s.heraldCPU, _ = procCPU(g.o.PID)
	}
	return s
}

// sampler takes the 1/s samples and tracks Herald's RSS peak of the current step.
type sampler struct {
	g     *Generator
	start time.Time
	http  *http.Client

	mu      sync.Mutex
	samples []Sample
	rssPeak int64 // of the current window
	last    Sample
	step    *stepStats
	stepIdx int
}

func (s *sampler) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	prev := s.g.launched.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := s.g.launched.Load()
			smp := s.measure(ctx)
			smp.TS, smp.CPS = math.Round(now.Sub(s.start).Seconds()*10)/10, float64(n-prev)
			prev = n
			rss := int64(smp.RSSMB * (1 << 20))
			s.g.rtp.sweep(now, 30*time.Second)
			s.g.board.sweep(now, s.g.o.Hold+s.g.o.Talk+s.g.o.CallTimeout+time.Minute)
			s.mu.Lock()
			s.samples = append(s.samples, smp)
			s.rssPeak = max(s.rssPeak, rss)
			s.last = smp
			st, idx := s.step, s.stepIdx
			s.mu.Unlock()
			if p := s.g.o.Progress; p != nil {
				p(s.g.progressLine(smp, st, idx))
			}
		}
	}
}

// measure reads Herald's RSS, descriptors and goroutines (what is configured) and the calls in
// flight now.
func (s *sampler) measure(ctx context.Context) Sample {
	smp := Sample{InFlight: s.g.inFlight.Load()}
	if pid := s.g.o.PID; pid > 0 {
		rss, _ := procRSS(pid)
		smp.RSSMB = mb(rss)
		smp.FDs, _ = procFDs(pid)
	}
	if s.g.o.Varz != "" {
		vctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
		smp.Goroutines, _ = varzGoroutines(vctx, s.http, s.g.o.Varz)
		cancel()
	}
	return smp
}

func mb(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }

func (g *Generator) progressLine(smp Sample, st *stepStats, idx int) string {
	line := fmt.Sprintf("t=%5.0fs in-flight %5d started %4.0f/s", smp.TS, smp.InFlight, smp.CPS)
	if st != nil {
		r := st.result(0)
		var failed int64
		for _, n := range r.Failed {
			failed += n
		}
		line += fmt.Sprintf(" | step %d (%g cps): %d started, %d done, %d failed, setup p99 %.1f ms, page p99 %.1f ms",
			idx+1, st.target, r.Attempted, r.Completed, failed, r.SetupMS.P99, r.PageMS.P99)
	} else {
		line += " | ramp or drain (not measured)"
	}
	if smp.RSSMB > 0 {
		line += fmt.Sprintf(" | herald rss %.0f MB fds %d", smp.RSSMB, smp.FDs)
	}
	return line
}

// Run drives the steps (or the soak) and returns what they measured. It returns an error only
// when it could not run; failed calls are results. Cancelling ctx stops the sweep early (the
// result then holds the steps that finished).
func (g *Generator) Run(ctx context.Context) (*Result, error) {
	o := g.o
	if o.Herald == "" {
		return nil, fmt.Errorf("%w: no Herald address", ErrOptions)
	}
	res := &Result{Schema: Schema, Transport: o.Transport, Mix: map[string]int(o.Mix), HoldS: o.Hold.Seconds(),
		RampS: o.Ramp.Seconds(), StepS: o.Step.Seconds(), Steps: []Step{}, Samples: []Sample{}}
	if o.Soak > 0 {
		res.SoakS = o.Soak.Seconds()
	}
	smp := &sampler{g: g, start: time.Now(), http: &http.Client{Timeout: time.Second}}
	sctx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	go smp.run(sctx, samplerDone)

	pick := newPicker(o.Mix)
	ramps := newStepStats(0) // the ramps' calls: made, reported apart from the steps
	seq := 0
	prevRate := 0.0
	type pending struct {
		st         *stepStats
		begin, end snapshot
		rssPeak    int64
		last       Sample
	}
	var steps []*pending
	for i, rate := range o.Rates {
		if reason := g.stopped(ctx); reason != "" {
			res.Stopped = reason
			break
		}
		// Ramp: its calls are made and tallied apart (Result.Ramp), not in the step.
		if o.Ramp > 0 {
			if !g.schedule(ctx, prevRate, rate, o.Ramp, ramps, pick, &seq) {
				res.Stopped = g.stopped(ctx)
				break
			}
		}
		st := newStepStats(rate)
		smp.mu.Lock()
		smp.step, smp.stepIdx, smp.rssPeak = st, i, 0
		smp.mu.Unlock()
		p := &pending{st: st, begin: g.snap()}
		full := g.schedule(ctx, rate, rate, o.Step, st, pick, &seq)
		p.end = g.snap()
		p.last = smp.measure(ctx) // Herald at the window's end
		smp.mu.Lock()
		p.rssPeak, smp.step = max(smp.rssPeak, int64(p.last.RSSMB*(1<<20))), nil
		smp.mu.Unlock()
		st.close()
		prevRate = rate
		if !full {
			res.Stopped = g.stopped(ctx)
			break // a step cut short is not a step: drop it
		}
		steps = append(steps, p)
		if o.StopOnFail >= 0 {
			go func(idx int) {
				select {
				case <-st.drained:
				case <-g.ctx.Done():
					return
				}
				if pct := st.failedPct(); pct > o.StopOnFail {
					g.requestStop(fmt.Sprintf("step %d (%g cps) failed %.1f%% of its calls (limit %g%%)", idx+1, rate, pct, o.StopOnFail))
				}
			}(i)
		}
	}
	// Let every call end (each is bounded by its own deadline).
	g.calls.Wait()
	stopSampler()
	<-samplerDone
	if res.Stopped == "" && len(steps) < len(o.Rates) {
		res.Stopped = "interrupted"
	}
	for _, p := range steps {
		<-p.st.drained
		window := p.end.at.Sub(p.begin.at)
		s := p.st.result(window)
		calls := float64(max(s.Attempted, 1))
		genCPU := p.end.genCPU - p.begin.genCPU
		s.Gen = Gen{CPUMSPerCall: round3(ms(genCPU) / calls), CPUUtil: round3(genCPU.Seconds() / window.Seconds())}
		if o.PID > 0 {
			hc := p.end.heraldCPU - p.begin.heraldCPU
			h := &Herald{CPUMSPerCall: round3(ms(hc) / calls), CPUUtil: round3(hc.Seconds() / window.Seconds()),
				RSSPeakMB: mb(p.rssPeak), RSSEndMB: p.last.RSSMB, FDsEnd: p.last.FDs}
			if n := p.last.Goroutines; n > 0 { // 0: not configured or not readable
				h.GoroutinesEnd = &n
			}
			s.Herald = h
		}
		s.Kernel = p.end.kernel.sub(p.begin.kernel)
		s.Clean = s.Attempted > 0 && s.Completed == s.Attempted && s.Kernel == (Kernel{})
		res.Steps = append(res.Steps, s)
	}
	if r := ramps.result(0); r.Attempted > 0 {
		res.Ramp = &Tally{Attempted: r.Attempted, Completed: r.Completed, Failed: r.Attempted - r.Completed}
	}
	smp.mu.Lock()
	res.Samples = append(res.Samples, smp.samples...)
	smp.mu.Unlock()
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// schedule starts calls open-loop for d: the rate goes linearly from r0 to r1, call n is due when
// the integral of the rate reaches n, and is started then whatever the calls before it are
// doing (a late start is measured as lag, not absorbed). Calls started count in st.
// It returns false when ctx or a stop request ended it early.
func (g *Generator) schedule(ctx context.Context, r0, r1 float64, d time.Duration,
	st *stepStats, pick *picker, seq *int) bool {
	start := time.Now()
	secs := d.Seconds()
	// due(n) solves r0·t + (r1-r0)·t²/(2·secs) = n for t.
	due := func(n int) time.Duration {
		a := (r1 - r0) / (2 * secs)
		var t float64
		if math.Abs(a) < 1e-12 {
			t = float64(n) / r0
		} else {
			t = (-r0 + math.Sqrt(r0*r0+4*a*float64(n))) / (2 * a)
		}
		return time.Duration(t * float64(time.Second))
	}
	total := int(math.Floor((r0 + r1) / 2 * secs)) // calls in [0, d)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := 0; n < total; n++ {
		at := start.Add(due(n))
		if wait := time.Until(at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return false
			case <-g.stopC:
				return false
			}
		}
		kind := pick.next()
		idx := *seq % g.o.Subscribers
		*seq++
		g.launch(kind, idx, time.Since(at), st)
	}
	if rest := time.Until(start.Add(d)); rest > 0 {
		timer.Reset(rest)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return false
		case <-g.stopC:
			return false
		}
	}
	return true
}

// launch starts one call on its own goroutine (the schedule never waits for a call).
func (g *Generator) launch(kind string, idx int, lag time.Duration, st *stepStats) {
	g.launched.Add(1)
	if st != nil {
		st.start(kind, lag)
	}
	if g.inFlight.Load() >= int64(g.o.MaxInFlight) {
		if st != nil {
			st.finish(kind, &outcome{cause: CauseGenOverload})
		}
		return
	}
	g.inFlight.Add(1)
	g.calls.Add(1)
	go func() {
		defer g.calls.Done()
		defer g.inFlight.Add(-1)
		var o *outcome
		if g.lean != nil {
			o = g.leanCall(kind, idx)
		} else {
			o = g.call(kind, idx, g.callers[g.rr.Add(1)%uint64(len(g.callers))])
		}
		if st != nil {
			st.finish(kind, o)
		}
	}()
}
