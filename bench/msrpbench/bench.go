package msrpbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is one benchmark invocation.
type Config struct {
	Exe       string   // this binary, re-executed as server child
	Servers   []string // kinds, in the order of the first run (later runs rotate it)
	Runs      int      // runs per server and phase
	PageSize  int      // bytes
	Terminals int      // concurrent terminals in the throughput phase
	Rounds    int      // fetches per terminal in the throughput phase (after one warm-up round)
	HoldN     int      // connections held in the memory phase (0 skips the phase)
	Log       io.Writer
}

// ThroughputSample is one throughput phase of one server.
type ThroughputSample struct {
	Server            string
	Run               int
	Deliveries        int
	Errors            int
	FirstErr          error
	Wall              time.Duration
	Rate              float64 // deliveries per second
	P50, P99          time.Duration
	ServerCPU         time.Duration
	ServerSys         time.Duration // the kernel part of ServerCPU
	PerServerCPUSec   float64       // deliveries per server CPU-second
	ClientCPU         time.Duration
	ServerMaxRSSBytes int64 // VmHWM of the server child at the end of the phase
	ServerDelivered   int64 // Delivered results the server reported for the measured rounds
	// IdleCPUPerSec is the server's CPU use per second while idle with its sessions registered (timers,
	// sweeps, runtime), measured over IdleWindow before the load.
	IdleCPUPerSec float64
}

// IdleWindow is how long the throughput phase watches the idle server before the load.
const IdleWindow = time.Second

// HoldSample is one memory phase of one server.
type HoldSample struct {
	Server string
	Run    int
	N      int
	// RSS in bytes after a forced GC: idle process, with N sessions registered, with N held connections;
	// HeldRaw is the last one before the GC.
	Idle, Sessions, Held, HeldRaw int64
	Released                      int
}

// PerConn is resident bytes per held connection above the process with its sessions registered.
func (h HoldSample) PerConn() float64 { return float64(h.Held-h.Sessions) / float64(h.N) }

// PerConnIdle is resident bytes per held connection above the idle process (sessions included).
func (h HoldSample) PerConnIdle() float64 { return float64(h.Held-h.Idle) / float64(h.N) }

// Report is the outcome of Run.
type Report struct {
	Config     Config
	Throughput []ThroughputSample
	Hold       []HoldSample
	Elapsed    time.Duration
	// LoadBefore and LoadAfter are /proc/loadavg at the start and the end (the machine is shared).
	LoadBefore, LoadAfter string
}

// loadAvg is the first three fields of /proc/loadavg, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Run executes every phase for every server Runs times, alternating the server order between runs.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	rep := &Report{Config: cfg, LoadBefore: loadAvg()}
	defer func() { rep.LoadAfter = loadAvg() }()
	start := time.Now()
	for run := range cfg.Runs {
		order := slices.Clone(cfg.Servers)
		if run%2 == 1 {
			slices.Reverse(order)
		}
		for _, kind := range order {
			ts, err := throughput(ctx, cfg, kind, run)
			if err != nil {
				return rep, err
			}
			cfg.logf("run %d %-8s throughput: %d deliveries (%d errors) in %.2fs = %.0f/s, p50 %v p99 %v, server cpu %.2fs (sys %.2fs) = %.0f deliveries/cpu-s, client cpu %.2fs, server idle cpu %.1f%%",
				run, kind, ts.Deliveries, ts.Errors, ts.Wall.Seconds(), ts.Rate, ts.P50.Round(time.Microsecond), ts.P99.Round(time.Microsecond),
				ts.ServerCPU.Seconds(), ts.ServerSys.Seconds(), ts.PerServerCPUSec, ts.ClientCPU.Seconds(), 100*ts.IdleCPUPerSec)
			rep.Throughput = append(rep.Throughput, ts)
		}
		if cfg.HoldN > 0 {
			for _, kind := range order {
				hs, err := hold(ctx, cfg, kind, run)
				if err != nil {
					return rep, err
				}
				cfg.logf("run %d %-8s hold %d: idle %.1f MiB, +sessions %.1f MiB, +held %.1f MiB (raw %.1f): %.0f B/conn (%.0f B/conn above idle)",
					run, kind, hs.N, mib(hs.Idle), mib(hs.Sessions), mib(hs.Held), mib(hs.HeldRaw), hs.PerConn(), hs.PerConnIdle())
				rep.Hold = append(rep.Hold, hs)
			}
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func throughput(ctx context.Context, cfg Config, kind string, run int) (ts ThroughputSample, err error) {
	ts = ThroughputSample{Server: kind, Run: run}
	p, err := StartChild(cfg.Exe, kind)
	if err != nil {
		return ts, err
	}
	defer func() { err = errors.Join(err, p.Quit()) }()
	measured := cfg.Terminals * cfg.Rounds
	for _, c := range []string{"page " + strconv.Itoa(cfg.PageSize), "open w " + strconv.Itoa(cfg.Terminals), "open r " + strconv.Itoa(measured)} {
		if _, err := p.Call(c); err != nil {
			return ts, err
		}
	}
	page := PageBytes(cfg.PageSize)
	load := func(prefix string, rounds int) (LoadResult, error) {
		return RunLoad(ctx, LoadConfig{
			Addr: p.Addr(), Page: page, Terminals: cfg.Terminals, Rounds: rounds,
			PathURI:      func(i int) string { return p.PathURI(prefix + strconv.Itoa(i)) },
			FetchTimeout: 20 * time.Second, Timeout: 90 * time.Second,
		})
	}
	if w, err := load("w", 1); err != nil || w.Errors > 0 {
		return ts, fmt.Errorf("msrpbench: %s warm-up: %d errors, first %w, %w", kind, w.Errors, w.FirstErr, err)
	}
	if _, _, err := p.Results(); err != nil { // drain the warm-up results
		return ts, err
	}
	iu0, err := p.Usage()
	if err != nil {
		return ts, err
	}
	time.Sleep(IdleWindow)
	su0, err := p.Usage()
	if err != nil {
		return ts, err
	}
	cu0, err := SelfUsage()
	if err != nil {
		return ts, err
	}
	res, err := load("r", cfg.Rounds)
	if err != nil {
		return ts, err
	}
	su1, err := p.Usage()
	if err != nil {
		return ts, err
	}
	cu1, err := SelfUsage()
	if err != nil {
		return ts, err
	}
	// Results arrive right after the REPORT; give the last ones a moment.
	var delivered int64
	for range 50 {
		d, _, err := p.Results()
		if err != nil {
			return ts, err
		}
		if delivered = d - int64(cfg.Terminals); delivered >= int64(res.Deliveries) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Deliveries, ts.Errors, ts.FirstErr, ts.Wall = res.Deliveries, res.Errors, res.FirstErr, res.Wall
	ts.Rate, ts.P50, ts.P99 = res.Rate(), res.Percentile(0.50), res.Percentile(0.99)
	ts.ServerCPU = su1.CPU() - su0.CPU()
	ts.ServerSys = su1.Sys - su0.Sys
	if ts.ServerCPU > 0 {
		ts.PerServerCPUSec = float64(res.Deliveries) / ts.ServerCPU.Seconds()
	}
	ts.ClientCPU = cu1.CPU() - cu0.CPU()
	ts.IdleCPUPerSec = (su0.CPU() - iu0.CPU()).Seconds() / IdleWindow.Seconds()
	if ts.ServerMaxRSSBytes, err = p.HWM(); err != nil {
		return ts, err
	}
	ts.ServerDelivered = delivered
	if ts.ServerDelivered != int64(ts.Deliveries) {
		return ts, fmt.Errorf("msrpbench: %s reported %d deliveries, terminals verified %d", kind, ts.ServerDelivered, ts.Deliveries)
	}
	return ts, nil
}

func hold(ctx context.Context, cfg Config, kind string, run int) (hs HoldSample, err error) {
	hs = HoldSample{Server: kind, Run: run, N: cfg.HoldN}
	p, err := StartChild(cfg.Exe, kind)
	if err != nil {
		return hs, err
	}
	defer func() { err = errors.Join(err, p.Quit()) }()
	rss := func() (int64, error) {
		if _, err := p.Call("gc"); err != nil {
			return 0, err
		}
		return p.RSS()
	}
	if _, err := p.Call("page " + strconv.Itoa(cfg.PageSize)); err != nil {
		return hs, err
	}
	if hs.Idle, err = rss(); err != nil {
		return hs, err
	}
	if _, err := p.Call("open h " + strconv.Itoa(cfg.HoldN)); err != nil {
		return hs, err
	}
	if hs.Sessions, err = rss(); err != nil {
		return hs, err
	}
	h, err := Hold(ctx, HoldConfig{
		Addr: p.Addr(), Page: PageBytes(cfg.PageSize), N: cfg.HoldN, Timeout: 90 * time.Second,
		PathURI: func(i int) string { return p.PathURI("h" + strconv.Itoa(i)) },
	})
	if err != nil {
		return hs, err
	}
	time.Sleep(300 * time.Millisecond) // let the last writes and timers settle
	if hs.HeldRaw, err = p.RSS(); err != nil {
		return hs, errors.Join(err, waitErr(h))
	}
	if hs.Held, err = rss(); err != nil {
		return hs, errors.Join(err, waitErr(h))
	}
	ok, err := h.Wait()
	hs.Released = ok
	if err != nil {
		return hs, err
	}
	for range 100 {
		d, _, err := p.Results()
		if err != nil {
			return hs, err
		}
		if d >= int64(cfg.HoldN) {
			return hs, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return hs, fmt.Errorf("msrpbench: %s: not every held session reported Delivered after release", kind)
}

func waitErr(h *Held) error { _, err := h.Wait(); return err }
