package main

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestServeOverloadMonitor: `herald serve` runs the overload monitor, which samples the Go run
// queue, and /metrics shows its gauges and counters. By default (limits.shed_queue 16) the target is
// 16 runnable goroutines per CPU and an idle node sheds nothing; a standing queue sheds; with
// shed_queue 0 nothing is shed however long the queue stands.
func TestServeOverloadMonitor(t *testing.T) {
	in := startInstance(t, "overload.yaml", loopbackYAML(""))
	if want := 16 * runtime.GOMAXPROCS(0); in.shed.Options().Target != want {
		t.Fatalf("default shedder target %d, want %d", in.shed.Options().Target, want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for in.shed.Windows.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the overload monitor decided no window in 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, _, metrics := adminGet(t, in.web.AdminAddr(), "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{"herald_overload_windows_total ", "herald_overload_run_queue ", "herald_overload_shed_share 0", "herald_sip_shed_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	if in.shed.Ratio() != 0 || in.shed.Overloaded.Load() != 0 {
		t.Errorf("an idle node: share %d/1024, %d windows overloaded", in.shed.Ratio(), in.shed.Overloaded.Load())
	}
	for range 8 { // the monitor's own windows (idle: clear) may come between: each takes back 1/32
		in.shed.Observe(100000, 100)
	}
	if in.shed.Ratio() == 0 {
		t.Fatal("a standing queue of 100,000 goroutines: nothing shed")
	}

	off := startInstance(t, "overload-off.yaml", loopbackYAML("limits:\n  shed_queue: 0\n"))
	for range 8 {
		off.shed.Observe(100000, 100)
	}
	if off.shed.Options().Target != 0 || off.shed.Ratio() != 0 || off.shed.Shed("any-call") {
		t.Fatalf("shed_queue 0: target %d, share %d/1024", off.shed.Options().Target, off.shed.Ratio())
	}
}
