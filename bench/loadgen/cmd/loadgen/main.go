// Command loadgen drives whole push calls through Herald and measures them (package
// bench/loadgen): SIP over UDP or TCP, both pages over MSRP checked against their file-selector
// hashes, ringback RTP loss and lateness, open-loop arrivals.
//
//	loadgen herald-config -dir D -callee HOST:PORT [-transport udp|tcp] [-subscribers N] ...
//	loadgen run -herald udp:127.0.0.1:5070 -callee 127.0.0.1:PORT [flags] -json OUT.json
//
// "loadgen <command> -h" lists every flag.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/loadgen"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage:
  loadgen herald-config -dir D -callee HOST:PORT [-transport udp|tcp] [-subscribers N] [-herald-sip ADDR] [-admin ADDR] [-http ADDR] [-msrp ADDR] [-rtp-ports MIN-MAX]
  loadgen run -herald udp:127.0.0.1:5070 -callee 127.0.0.1:PORT [-transport udp|tcp] [-terminals sipgo|lean] [-mix ...] [-rates ...] [-step D] [-ramp D] [-hold D] [-soak D] [-pid N] [-varz URL] [-progress] [-stop-on-fail PCT] -json OUT.json`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "herald-config":
		return cmdConfig(args[1:], stdout, stderr)
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	usage(stderr)
	return 2
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadgen.ConfigOptions
	fs.StringVar(&o.Dir, "dir", "", "directory for herald.yaml, seed/ and data/ (required)")
	fs.StringVar(&o.Callee, "callee", "", "the generator's callee side, Herald's next hop, HOST:PORT (required; the same as run's -callee)")
	fs.StringVar(&o.Transport, "transport", "udp", "next hop transport: udp or tcp (the same as run's -transport)")
	fs.IntVar(&o.Subscribers, "subscribers", loadgen.DefaultSubscribers, "subscribers per mix kind (run's -subscribers must not exceed it)")
	fs.StringVar(&o.SIP, "herald-sip", "127.0.0.1:5070", "Herald's SIP address, UDP and TCP")
	fs.StringVar(&o.Admin, "admin", "", "Herald's admin listener (/varz, /metrics); default: a free loopback port")
	fs.StringVar(&o.HTTP, "http", "", "Herald's page listener; default: a free loopback port")
	fs.StringVar(&o.MSRP, "msrp", "127.0.0.1:0", "Herald's MSRP listener (port 0: the kernel picks it)")
	fs.StringVar(&o.RTPPorts, "rtp-ports", "20000-29998", "Herald's ringback RTP port range")
	fs.StringVar(&o.LogLevel, "log", "warn", "Herald's log level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Dir == "" || o.Callee == "" {
		fmt.Fprintln(stderr, "loadgen herald-config: -dir and -callee are required")
		return 2
	}
	path, err := loadgen.WriteHeraldConfig(o)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen herald-config:", err)
		return 1
	}
	fmt.Fprintln(stdout, path)
	return 0
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadgen.Options
	herald := fs.String("herald", "udp:127.0.0.1:5070", "Herald's SIP address ([udp:|tcp:]HOST:PORT; -transport decides the transport)")
	fs.StringVar(&o.Callee, "callee", "127.0.0.1:5080", "address the callee side listens on: Herald's next hop")
	fs.StringVar(&o.Transport, "transport", "udp", "SIP transport of the terminals: udp or tcp")
	fs.StringVar(&o.Terminals, "terminals", "sipgo", "simulated terminals: sipgo (every mix kind, udp or tcp) or lean (raw UDP without sipgo, far less CPU per call; mixes plain, caller, both)")
	mix := fs.String("mix", "plain=25,caller=25,both=25,ringback=25", "call mix weights: plain, caller (caller card), both (both cards), ringback (both cards + ringback)")
	rates := fs.String("rates", "100,200,400", "open-loop arrival rate of each step, calls/s")
	fs.DurationVar(&o.Step, "step", 20*time.Second, "measured length of each step")
	fs.DurationVar(&o.Ramp, "ramp", 3*time.Second, "ramp into each step (not measured); 0: none")
	fs.DurationVar(&o.Hold, "hold", 2*time.Second, "ringing time before the callee answers (pages fetched and ringback played meanwhile)")
	fs.DurationVar(&o.Talk, "talk", 0, "answered time before the caller's BYE")
	fs.DurationVar(&o.Soak, "soak", 0, "if > 0: one step at the first rate this long (samples every second)")
	fs.IntVar(&o.Subscribers, "subscribers", loadgen.DefaultSubscribers, "subscribers per mix kind the calls cycle through (<= herald-config's)")
	fs.DurationVar(&o.CallTimeout, "call-timeout", 15*time.Second, "a call not answered within hold+this is cancelled (cause timeout)")
	fs.DurationVar(&o.FetchTimeout, "fetch-timeout", 10*time.Second, "bound of each MSRP page fetch")
	fs.DurationVar(&o.LateAfter, "rtp-late", 40*time.Millisecond, "an RTP packet this much behind its timestamp is late")
	fs.IntVar(&o.MaxInFlight, "max-inflight", 20000, "calls in progress at most (beyond: cause gen_overload)")
	fs.IntVar(&o.Callers, "callers", 4, "caller terminals (sockets) sharing the calls")
	fs.IntVar(&o.PID, "pid", 0, "Herald's pid: sample /proc/PID for CPU, RSS and descriptors")
	fs.StringVar(&o.Varz, "varz", "", "Herald's admin /varz or /metrics URL, for its goroutine count")
	progress := fs.Bool("progress", false, "one human line per second on stderr")
	fs.Float64Var(&o.StopOnFail, "stop-on-fail", 5, "stop the sweep after a step whose failed % exceeds this (negative: never)")
	procs := fs.Int("procs", 0, "the generator's GOMAXPROCS (0: the runtime's, one per core). 1 spends about 20% less CPU per call (idle-P wake-ups, thread hand-offs) but its queueing shows in the latency tails and kernel drops once gen cpu_util passes about 0.6")
	gcPercent := fs.Int("gc-percent", 400, "the generator's GOGC: fewer collections for its per-call garbage (its CPU per call)")
	memLimit := fs.Int64("mem-limit-mb", 4096, "the generator's soft memory limit (GOMEMLIMIT); 0: none. Its heap grows with the calls of the last 32 s (sipgo's finished transactions, the lean terminals' records); at the limit its collector runs nearly all the time (1024 did that at 2,334 push calls/s after about 27 s, doubling the generator's CPU and failing calls Herald had carried)")
	cpuprofile := fs.String("cpuprofile", "", "write the generator's own CPU profile here (to see where its CPU per call goes)")
	memprofile := fs.String("memprofile", "", "write the generator's allocation profile here at the end (-sample_index=alloc_space: its bytes per call)")
	out := fs.String("json", "", "write the result JSON here (\"-\" or empty: stdout)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if o.Mix, err = loadgen.ParseMix(*mix); err != nil {
		fmt.Fprintln(stderr, "loadgen run:", err)
		return 2
	}
	if o.Rates, err = loadgen.ParseRates(*rates); err != nil {
		fmt.Fprintln(stderr, "loadgen run:", err)
		return 2
	}
	o.Herald = *herald
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	debug.SetGCPercent(*gcPercent)
	if *memLimit > 0 {
		debug.SetMemoryLimit(*memLimit << 20)
	}
	if o.Ramp == 0 {
		o.Ramp = -1 // the flag's 0 means none
	}
	if o.Hold == 0 {
		o.Hold = -1
	}
	if *progress {
		o.Progress = func(line string) { fmt.Fprintln(stderr, line) }
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler)) // sipgo's connection ref-count noise
	g, err := loadgen.New(o)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen run:", err)
		if errors.Is(err, loadgen.ErrOptions) {
			return 2
		}
		return 1
	}
	defer g.Close()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen run:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "loadgen run:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := g.Run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen run:", err)
		return 1
	}
	if *memprofile != "" {
		if err := writeAllocs(*memprofile); err != nil {
			fmt.Fprintln(stderr, "loadgen run:", err)
			return 1
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, "loadgen run:", err)
		return 1
	}
	b = append(b, '\n')
	if *out == "" || *out == "-" {
		_, _ = stdout.Write(b)
	} else if err := os.WriteFile(*out, b, 0o644); err != nil { //nolint:gosec // a results file, world-readable
		fmt.Fprintln(stderr, "loadgen run:", err)
		return 1
	}
	summarize(stderr, res)
	fmt.Fprintln(stderr, genGCLine(readGenGC(), *memLimit))
	return 0
}

// genGC is what the generator's own collector cost it over the run (runtime/metrics, since the
// process started): a generator whose collector takes a large share is itself the bound of the run.
type genGC struct {
	gcCPU, allCPU float64 // seconds
	heapGoal      uint64  // bytes, at the end
}

func readGenGC() genGC {
	runtime.GC() // the runtime brings its CPU classes up to date at the end of a cycle
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	var g genGC
	if s[0].Value.Kind() == metrics.KindFloat64 && s[1].Value.Kind() == metrics.KindFloat64 {
		g.gcCPU, g.allCPU = s[0].Value.Float64(), s[1].Value.Float64()
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		g.heapGoal = s[2].Value.Uint64()
	}
	return g
}

// genGCLine reports g, with a warning when the collector took over a quarter of the generator's
// CPU or the heap goal reached the memory limit (limitMB, 0: none).
func genGCLine(g genGC, limitMB int64) string {
	share := 0.0
	if g.allCPU > 0 {
		share = g.gcCPU / g.allCPU
	}
	line := fmt.Sprintf("generator: collector %.0f%% of its CPU, heap goal %d MB", 100*share, g.heapGoal>>20)
	if limitMB > 0 {
		line += fmt.Sprintf(" (memory limit %d MB)", limitMB)
	}
	if share > 0.25 || limitMB > 0 && g.heapGoal >= uint64(limitMB)<<20*95/100 {
		line += "; WARNING: the generator's collector may be what bounds this run: raise -mem-limit-mb or -gc-percent"
	}
	return line
}

// writeAllocs writes the allocation profile (every allocation since the start, sampled).
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err //nolint:wrapcheck // os errors name the path
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("memprofile: %w", err)
	}
	return f.Close() //nolint:wrapcheck // os errors name the path
}

// summarize prints one line per step on w.
func summarize(w io.Writer, r *loadgen.Result) {
	for _, s := range r.Steps {
		var causes []string
		for k, v := range s.Failed {
			causes = append(causes, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(causes)
		line := fmt.Sprintf("step %g cps (%s): %d attempted, %d completed, failed {%s}; setup p50/p99 %.1f/%.1f ms, page p50/p99 %.1f/%.1f ms, rtp %d calls lost %d late %d; gen %.3f ms CPU/call",
			s.TargetCPS, r.Transport, s.Attempted, s.Completed, strings.Join(causes, " "), s.SetupMS.P50, s.SetupMS.P99,
			s.PageMS.P50, s.PageMS.P99, s.RTP.Calls, s.RTP.Lost, s.RTP.Late, s.Gen.CPUMSPerCall)
		if s.Herald != nil {
			line += fmt.Sprintf("; herald %.3f ms CPU/call, rss peak %.0f MB", s.Herald.CPUMSPerCall, s.Herald.RSSPeakMB)
		}
		fmt.Fprintln(w, line)
		for _, c := range loadgen.Causes {
			if e, ok := s.FailedExample[c]; ok {
				fmt.Fprintf(w, "  first %s: %s\n", c, e)
			}
		}
	}
	if r.Stopped != "" {
		fmt.Fprintln(w, "stopped:", r.Stopped)
	}
}
