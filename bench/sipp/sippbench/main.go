// Command sippbench measures Herald's SIP plane with SIPp: the highest call rate with fewer than
// 0.1% failed calls and the server's CPU-seconds per 1,000 calls, for plain forwarding through
// Herald, the full push flow through Herald, and Kamailio as a stateful record-routing proxy for
// the same plain scenario, in one run. Server CPU is utime+stime from /proc/<pid>/stat (Kamailio:
// the main process and its workers).
//
// For each target the rate starts at -start calls/s and doubles while a step is clean, then bisects
// between the last clean and the first unclean rate. A step places rate × -step calls; it is clean
// when failed + unfinished calls are under 0.1% of those created and SIPp sustained at least 97% of
// the rate. Output: one line per step on stderr, a Markdown summary on stdout, and with -json FILE
// the steps in the bench suite's format (bench/benchfmt, plane "sip").
//
// Target sipp-direct is the floor the others are measured against: the same plain scenario from the
// SIPp caller straight to the SIPp callee, no proxy between them (its "server CPU" is the callee's).
//
//	go run ./bench/sipp/sippbench [-targets sipp-direct,herald-plain,herald-push,kamailio-plain] [-step 3s] [-json sip.json]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herald-ims/herald/bench/benchfmt"
	"github.com/herald-ims/herald/bench/sipp"
)

// plainHold keeps the caller's ACK and BYE apart: sent back to back, a proxy may deliver the BYE
// first (UDP, different transactions) and the callee then waits for the BYE's retransmission.
const plainHold = 20 * time.Millisecond

// pushRing is how long the push-flow callee rings before answering: the caller's PRACK and UPDATE
// exchange with Herald must fit in it (a real phone rings for seconds; 300 ms, as in the tests, turns
// queueing delay under load into "callee answered first" failures).
const pushRing = time.Second

type options struct {
	targets []string
	step    time.Duration
	start   float64
	max     float64
	bisect  int
	budget  time.Duration
	herald  string
	// heraldBase is a second Herald binary, benchmarked as herald-base-plain in the same run.
	heraldBase string
	children   int
	dir        string
	// heraldHTTP is Herald's HTTP listen address (for /debug/pprof during a run); "" = off.
	heraldHTTP string
	// recv is SIPp's receive timeout for the caller (-recv_timeout): how long an unanswered call
	// waits before it fails, and so how far an overloaded step may run past its length.
	recv time.Duration
	// json is the path of the benchfmt output; "" = none.
	json string
}

// result is one load step.
type result struct {
	rate      float64
	st        sipp.Stats
	exit      int
	serverCPU time.Duration
	uacCPU    time.Duration
	uasCPU    time.Duration
	rcvbufErr int64 // kernel UDP receive-buffer drops during the step (/proc/net/snmp RcvbufErrors)
	clean     bool
}

func (r result) lost() int { return r.st.Created - r.st.Successful }

func (r result) cpuPer1000() float64 {
	if r.st.Successful == 0 {
		return 0
	}
	return r.serverCPU.Seconds() / float64(r.st.Successful) * 1000
}

// target is one system under test: how to start it, which scenarios drive it.
type target struct {
	name     string
	uac, uas string
	uasTCP   bool
	// tcp: both legs over TCP (the caller's -t t1, the callee's, the server's next hop
	// ;transport=tcp): what an IMS core uses for requests over 1,300 bytes (RFC 3261 §18.1.1).
	tcp  bool
	ring time.Duration // the callee's <pause/> (-d of the uas)
	hold time.Duration // the caller's <pause/> between ACK and BYE (-d of the uac)
	// direct: no server; the caller calls the callee itself (start is nil).
	direct bool
	// start brings up the server with its next hop at the callee; it returns the caller's target
	// and the process whose CPU is measured (children: count its workers too).
	start func(ctx context.Context, dir string, uasPort int, tcp bool) (addr string, p *sipp.Proc, children bool, err error)
}

func main() {
	var o options
	var targets string
	flag.StringVar(&targets, "targets", "herald-plain,herald-push,kamailio-plain", "comma-separated targets")
	flag.DurationVar(&o.step, "step", 3*time.Second, "length of one load step (calls = rate × step)")
	flag.Float64Var(&o.start, "start", 250, "first rate, calls/s")
	flag.Float64Var(&o.max, "max", 32000, "highest rate tried")
	flag.IntVar(&o.bisect, "bisect", 2, "bisection steps after the first unclean rate")
	flag.DurationVar(&o.budget, "budget", 55*time.Second, "time budget per target")
	flag.StringVar(&o.herald, "herald", "", "Herald binary (default: go build ./cmd/herald)")
	flag.StringVar(&o.heraldBase, "herald-base", "", "a second Herald binary (e.g. before a change), target herald-base-plain")
	flag.IntVar(&o.children, "kamailio-children", 2, "Kamailio UDP workers")
	flag.StringVar(&o.dir, "dir", "", "work directory kept after the run (default: a temporary one, removed)")
	flag.StringVar(&o.heraldHTTP, "herald-http", "", "serve Herald's HTTP side (and /debug/pprof) on this address, for profiling")
	flag.DurationVar(&o.recv, "recv", 8*time.Second, "SIPp caller's receive timeout (an unanswered call fails after it)")
	flag.StringVar(&o.json, "json", "", "also write the results as a herald-bench/v1 file (bench/benchfmt) here")
	flag.Parse()
	o.targets = strings.Split(targets, ",")
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	jf := benchfmt.New("sip", "", os.Args)
	err := run(ctx, o, os.Stdout, os.Stderr, jf)
	if o.json != "" {
		jf.Finish()
		if werr := jf.WriteFile(o.json); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sippbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout, stderr io.Writer, jf *benchfmt.File) error {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "sippbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if o.herald == "" {
		bin, err := sipp.BuildHerald(ctx, dir)
		if err != nil {
			return err
		}
		o.herald = bin
	}
	all := map[string]target{
		"sipp-direct":  {name: "sipp-direct", uac: "uac_direct.xml", uas: "uas_direct.xml", hold: plainHold, direct: true},
		"herald-plain": {name: "herald-plain", uac: "uac_plain.xml", uas: "uas_plain.xml", hold: plainHold, start: heraldStart(o.herald, o.heraldHTTP)},
		// A tel: Request-URI (uac_plain_tel.xml): plain forwarding of the form an IMS core often uses.
		"herald-plain-tel": {name: "herald-plain-tel", uac: "uac_plain_tel.xml", uas: "uas_plain.xml", hold: plainHold,
			start: heraldStart(o.herald, o.heraldHTTP)},
		"herald-base-plain-tel": {name: "herald-base-plain-tel", uac: "uac_plain_tel.xml", uas: "uas_plain.xml", hold: plainHold,
			start: heraldStart(o.heraldBase, o.heraldHTTP)},
		"herald-push": {name: "herald-push", uac: "uac_push.xml", uas: "uas_early.xml", uasTCP: true,
			ring: pushRing, start: heraldStart(o.herald, o.heraldHTTP)},
		"herald-base-plain": {name: "herald-base-plain", uac: "uac_plain.xml", uas: "uas_plain.xml", hold: plainHold,
			start: heraldStart(o.heraldBase, o.heraldHTTP)},
		"herald-plain-tcp": {name: "herald-plain-tcp", uac: "uac_plain.xml", uas: "uas_plain.xml", hold: plainHold, tcp: true,
			start: heraldStart(o.herald, o.heraldHTTP)},
		"kamailio-plain-tcp": {name: "kamailio-plain-tcp", uac: "uac_plain.xml", uas: "uas_plain.xml", hold: plainHold, tcp: true,
			start: kamailioStart(o.children)},
		"kamailio-plain": {name: "kamailio-plain", uac: "uac_plain.xml", uas: "uas_plain.xml", hold: plainHold, start: kamailioStart(o.children)},
	}
	fmt.Fprintf(stdout, "machine: %s, %d CPUs (GOMAXPROCS %d), %s; load average at start: %s\n\n", cpuModel(), runtime.NumCPU(),
		runtime.GOMAXPROCS(0), runtime.Version(), loadAvg())
	defer func() { fmt.Fprintf(stdout, "\nload average at end: %s\n", loadAvg()) }()
	fmt.Fprintln(stdout, "| target | max clean calls/s | calls at that rate | failed+unfinished | server CPU-s / 1000 calls | same at 1000 calls/s | SIPp uac CPU-s / 1000 | steps (calls/s: clean?) |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---|")
	for _, name := range o.targets {
		tg, ok := all[name]
		if !ok {
			return fmt.Errorf("unknown target %q", name)
		}
		if strings.HasPrefix(name, "herald-base-") && o.heraldBase == "" {
			return fmt.Errorf("target %q needs -herald-base", name)
		}
		tdir := filepath.Join(dir, name)
		if err := os.MkdirAll(tdir, 0o750); err != nil {
			return err
		}
		steps, err := bench(ctx, o, tg, tdir, stderr)
		jf.Targets = append(jf.Targets, jsonTarget(tg, steps, err))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var best *result
		var trail []string
		at1000 := "n/a"
		for i := range steps {
			s := &steps[i]
			if s.rate == 1000 && s.clean {
				at1000 = fmt.Sprintf("%.3f", s.cpuPer1000())
			}
			mark := "✗"
			if s.clean {
				mark = "✓"
				if best == nil || s.rate > best.rate {
					best = s
				}
			}
			trail = append(trail, fmt.Sprintf("%.0f%s", s.rate, mark))
		}
		if best == nil {
			fmt.Fprintf(stdout, "| %s | none clean | | | | | | %s |\n", name, strings.Join(trail, " "))
			continue
		}
		fmt.Fprintf(stdout, "| %s | %.0f | %d | %d | %.3f | %s | %.3f | %s |\n", name, best.rate, best.st.Created, best.lost(),
			best.cpuPer1000(), at1000, best.uacCPU.Seconds()/float64(max(best.st.Successful, 1))*1000, strings.Join(trail, " "))
	}
	return nil
}

// bench runs the rate ladder for one target on a fresh server and callee.
func bench(ctx context.Context, o options, tg target, dir string, log io.Writer) ([]result, error) {
	deadline := time.Now().Add(o.budget)
	uasPort, err := sipp.FreePort()
	if err != nil {
		return nil, err
	}
	uasRun := sipp.Run{Name: "uas", Scenario: tg.uas, Port: uasPort, TCP: tg.uasTCP || tg.tcp, Pause: tg.ring,
		Recv: 10 * time.Second, Tolerant: true}
	uas, err := sipp.StartSIPp(ctx, dir, uasRun)
	if err != nil {
		return nil, err
	}
	defer uas.Stop(3 * time.Second)
	var (
		addr     string
		srv      *sipp.Proc
		children bool
	)
	if tg.direct {
		addr = fmt.Sprintf("127.0.0.1:%d", uasPort)
	} else {
		addr, srv, children, err = tg.start(ctx, dir, uasPort, tg.tcp)
		if err != nil {
			return nil, err
		}
		defer srv.Stop(5 * time.Second)
	}

	var out []result
	lo, hi := 0.0, 0.0 // last clean, first unclean
	rate := o.start
	for i := 0; ; i++ {
		if time.Now().Add(o.step).After(deadline) || ctx.Err() != nil {
			break
		}
		r, err := step(ctx, o, tg, dir, i, addr, rate, srv, children, uas)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		fmt.Fprintf(log, "%-15s %7.0f calls/s: created %6d ok %6d failed %4d unfinished %4d sustained %7.1f/s retrans %5d exit %d  server %.2fs cpu (%.3f s/1000)  uac %.2fs uas %.2fs  udp drops %d  clean=%t\n",
			tg.name, rate, r.st.Created, r.st.Successful, r.st.Failed, r.st.Created-r.st.Successful-r.st.Failed,
			r.st.Sustained, r.st.Retrans, r.exit, r.serverCPU.Seconds(), r.cpuPer1000(), r.uacCPU.Seconds(), r.uasCPU.Seconds(), r.rcvbufErr, r.clean)
		if r.clean {
			lo = rate
		} else {
			hi = rate
			// Let an overloaded server drain before the next step.
			time.Sleep(3 * time.Second)
		}
		switch {
		case hi == 0:
			rate *= 2
			if rate > o.max {
				return out, nil
			}
		case o.bisect > 0 && lo > 0:
			o.bisect--
			rate = roundRate((lo + hi) / 2)
			if rate <= lo || rate >= hi {
				return out, nil
			}
		default:
			return out, nil
		}
		time.Sleep(time.Second)
	}
	return out, nil
}

func roundRate(r float64) float64 {
	if r >= 1000 {
		return float64(int(r/100) * 100)
	}
	return float64(int(r/10) * 10)
}

func step(ctx context.Context, o options, tg target, dir string, i int, addr string, rate float64, srv *sipp.Proc,
	children bool, uas *sipp.Proc) (result, error) {
	port, err := sipp.FreePort()
	if err != nil {
		return result{}, err
	}
	calls := int(rate * o.step.Seconds())
	run := sipp.Run{Name: fmt.Sprintf("uac-%02d", i), Scenario: tg.uac, Port: port, Remote: addr, TCP: tg.tcp, Calls: calls, Rate: rate, Pause: tg.hold,
		Timeout: o.step + 20*time.Second, Recv: o.recv, Stats: true, Tolerant: true}
	cpu0, err := serverCPU(srv, children)
	if err != nil {
		return result{}, err
	}
	uas0, _ := sipp.CPUTime(uas.Pid(), false)
	drops0 := rcvbufErrors()
	p, err := sipp.StartSIPp(ctx, dir, run)
	if err != nil {
		return result{}, err
	}
	code, err := p.Wait(ctx)
	if err != nil {
		return result{}, err
	}
	cpu1, err := serverCPU(srv, children)
	if err != nil {
		return result{}, err
	}
	uas1, _ := sipp.CPUTime(uas.Pid(), false)
	st, err := sipp.ReadStats(filepath.Join(dir, run.Name+"_stat.csv"))
	if err != nil {
		return result{}, err
	}
	r := result{rate: rate, st: st, exit: code, serverCPU: cpu1 - cpu0, uasCPU: uas1 - uas0, rcvbufErr: rcvbufErrors() - drops0}
	if ps := p.Cmd.ProcessState; ps != nil {
		r.uacCPU = ps.UserTime() + ps.SystemTime()
	}
	lost := st.Created - st.Successful
	r.clean = st.Created >= calls && float64(lost) < 0.001*float64(st.Created) && st.Sustained >= 0.97*rate
	return r, nil
}

// serverCPU is the server's CPU time so far; 0 without a server (sipp-direct).
func serverCPU(srv *sipp.Proc, children bool) (time.Duration, error) {
	if srv == nil {
		return 0, nil
	}
	return sipp.CPUTime(srv.Pid(), children)
}

func heraldStart(bin, httpListen string) func(ctx context.Context, dir string, uasPort int, tcp bool) (string, *sipp.Proc, bool, error) {
	return func(ctx context.Context, dir string, uasPort int, tcp bool) (string, *sipp.Proc, bool, error) {
		port, err := sipp.FreePort()
		if err != nil {
			return "", nil, false, err
		}
		hc := sipp.HeraldConfig{Port: port, NextHop: fmt.Sprintf("127.0.0.1:%d", uasPort),
			MaxCalls: 100000, LogLevel: "error", HTTPListen: httpListen}
		if tcp {
			hc.NextHopTransport = "tcp"
		}
		p, err := sipp.StartHerald(ctx, dir, bin, hc)
		if err != nil {
			return "", nil, false, err
		}
		return fmt.Sprintf("127.0.0.1:%d", port), p, false, nil
	}
}

func kamailioStart(children int) func(ctx context.Context, dir string, uasPort int, tcp bool) (string, *sipp.Proc, bool, error) {
	return func(ctx context.Context, dir string, uasPort int, tcp bool) (string, *sipp.Proc, bool, error) {
		port, err := sipp.FreePort()
		if err != nil {
			return "", nil, false, err
		}
		tp := "udp"
		if tcp {
			tp = "tcp"
		}
		p, err := sipp.StartKamailio(ctx, dir, sipp.KamailioConfig{Port: port, Children: children, ShmMB: 2048, PkgMB: 32,
			Target: fmt.Sprintf("sip:127.0.0.1:%d;transport=%s", uasPort, tp)})
		if err != nil {
			return "", nil, false, err
		}
		return fmt.Sprintf("127.0.0.1:%d", port), p, true, nil
	}
}

// rcvbufErrors is the host's count of UDP datagrams dropped for a full receive buffer.
func rcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var head []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "Udp: ") {
			continue
		}
		f := strings.Fields(l)
		if head == nil {
			head = f
			continue
		}
		for i, h := range head {
			if h == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				return n
			}
		}
	}
	return 0
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute figures: other work on the host shows here.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if i := strings.IndexByte(l, ':'); i >= 0 {
				return strings.TrimSpace(l[i+1:])
			}
		}
	}
	return runtime.GOARCH
}
