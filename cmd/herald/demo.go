package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/config"
)

// demoConfig is the embedded default config moved to free loopback ports, with the next hop pointing
// at the simulated callee.
func demoConfig(nextHop string) (*config.Options, error) {
	o, err := config.Default()
	if err != nil {
		return nil, err
	}
	cp := *o
	cp.SIP.Listen = []config.Listener{{Transport: "udp", Addr: "127.0.0.1:0"}, {Transport: "tcp", Addr: "127.0.0.1:0"}}
	cp.SIP.Advertise = "127.0.0.1"
	cp.SIP.NextHop = "sip:" + nextHop + ";transport=udp"
	cp.MSRP.Listen = "127.0.0.1:0"
	cp.MSRP.Advertise = "127.0.0.1"
	cp.MSRP.AdvertiseAddr = "127.0.0.1"
	cp.Log.Level = "error"
	cp.DataDir = "" // a temporary store, imported from the seed and removed at stop
	// Ringback ports away from the simulated terminals' media ports.
	cp.RTP.PortMin, cp.RTP.PortMax = 41000, 41998
	port, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	cp.HTTP.Listen = "127.0.0.1:" + port
	cp.HTTP.BaseURL = "http://127.0.0.1:" + port + "/"
	cp.HTTP.AdminListen = "127.0.0.1:0"
	return &cp, nil
}

// freeTCPPort asks the kernel for a free loopback port (the HTTP base URL must name its port before
// the listener exists).
func freeTCPPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, p, err := net.SplitHostPort(l.Addr().String())
	return p, err
}

// demoCall is one call placed through a Herald instance with simulated terminals: the result of the
// caller's side and the callee's side.
type demoCall struct {
	Caller *uesim.CallResult
	Callee uesim.CalleeCall
	Herald *instance
}

// demoOptions tune runDemoCall for tests.
type demoOptions struct {
	From, To     string
	Callee       uesim.CalleeOptions
	Caller       uesim.CallerOptions
	Trace        func(line string)
	Configure    func(*config.Options)
	KeepInstance bool // leave Herald running (the caller of runDemoCall stops it)
}

// runDemoCall starts a callee (the next hop and terminal), Herald and a caller on loopback, places one
// call, and returns what both terminals saw.
func runDemoCall(ctx context.Context, do demoOptions) (*demoCall, error) {
	trace := do.Trace
	if trace == nil {
		trace = func(string) {}
	}
	uet := func(dir, proto, summary string) { trace(fmt.Sprintf("%-17s %-4s %s", dir, proto, summary)) }
	quiet := slog.New(slog.DiscardHandler)

	co := do.Callee
	co.Listen, co.Trace, co.Logger = "127.0.0.1:0", uet, quiet
	if co.RingTime == 0 {
		co.RingTime = 400 * time.Millisecond
	}
	callee, err := uesim.NewCallee(co)
	if err != nil {
		return nil, fmt.Errorf("demo: callee: %w", err)
	}
	defer callee.Close()

	o, err := demoConfig(callee.Addr())
	if err != nil {
		return nil, err
	}
	if do.Configure != nil {
		do.Configure(o)
	}
	hlog := quiet
	if lvl := os.Getenv("HERALD_DEMO_LOG"); lvl != "" { // debugging aid: Herald's own log on stderr
		o.Log.Level = lvl
		hlog = newLogger(o, os.Stderr)
	}
	in, err := newInstance(o, hlog, trace)
	if err != nil {
		return nil, err
	}
	if err := in.start(ctx); err != nil {
		in.stop(context.Background())
		return nil, err
	}
	if !do.KeepInstance {
		defer in.stop(context.Background())
	}

	cro := do.Caller
	cro.Listen, cro.Trace, cro.Logger = "127.0.0.1:0", uet, quiet
	if cro.HoldTime == 0 {
		cro.HoldTime = 100 * time.Millisecond
	}
	caller, err := uesim.NewCaller(cro)
	if err != nil {
		return nil, fmt.Errorf("demo: caller: %w", err)
	}
	defer caller.Close()

	res, err := caller.Call(ctx, in.sipAddr(), do.From, do.To)
	if err != nil {
		return &demoCall{Caller: res, Herald: in}, fmt.Errorf("demo: call: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cc, err := callee.WaitCall(wctx, res.CallID)
	if err != nil {
		return &demoCall{Caller: res, Herald: in}, fmt.Errorf("demo: callee side: %w", err)
	}
	return &demoCall{Caller: res, Callee: cc, Herald: in}, nil
}

func cmdDemo(ctx context.Context, outDir string, stdout, stderr io.Writer) int {
	start := time.Now()
	// sipgo's package logger reports benign connection ref-count noise at WARN; the demo's output is
	// the trace, so keep it off the terminal.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	var mu sync.Mutex
	trace := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "%7.3fs  %s\n", time.Since(start).Seconds(), line)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fmt.Fprintln(stdout, "Herald demo: alice (sip:alice@home1.net) calls bob (tel:+1-212-555-2222) on loopback")
	dc, err := runDemoCall(ctx, demoOptions{
		From:  "sip:alice@home1.net",
		To:    "tel:+1-212-555-2222",
		Trace: trace,
	})
	if err != nil {
		fmt.Fprintln(stderr, "herald demo:", err)
		return 1
	}
	if err := os.MkdirAll(outDir, 0o750); err != nil {
		fmt.Fprintln(stderr, "herald demo:", err)
		return 1
	}
	var failed []error
	check := func(label, file string, page []byte, perr error) {
		if perr != nil || page == nil {
			failed = append(failed, fmt.Errorf("%s not delivered: %v", label, perr))
			return
		}
		path := filepath.Join(outDir, file)
		if err := os.WriteFile(path, page, 0o640); err != nil {
			failed = append(failed, err)
			return
		}
		fmt.Fprintf(stdout, "  %-40s %6d bytes  %s  (matches its a=file-selector hash)\n", label, len(page),
			path)
	}
	check("caller card (alice's) at bob's terminal", "caller-card.html", dc.Callee.Page, dc.Callee.PageErr)
	check("callee card (bob's) at alice's terminal", "callee-card.html", dc.Caller.Pages[uesim.CalleeCard],
		dc.Caller.PageErrors[uesim.CalleeCard])
	if dc.Caller.Final != 200 {
		failed = append(failed, fmt.Errorf("call ended with %d, want 200", dc.Caller.Final))
	}
	if len(failed) > 0 {
		fmt.Fprintln(stderr, "herald demo:", errors.Join(failed...))
		return 1
	}
	fmt.Fprintf(stdout, "call answered, both pages delivered and verified, everything torn down in %.2fs\n",
		time.Since(start).Seconds())
	return 0
}
