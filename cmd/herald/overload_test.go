package main

import (
	"strings"
	"testing"
	"time"
)

// overloadYAML is a node on loopback with the admin listener; extra is appended (limits).
func overloadYAML(extra string) string {
	return `
sip:
  listen: [{transport: udp, addr: "127.0.0.1:0"}, {transport: tcp, addr: "127.0.0.1:0"}]
  advertise: 127.0.0.1
  next_hop: "sip:127.0.0.1:5070"
msrp:
  listen: "127.0.0.1:0"
  advertise: 127.0.0.1
rtp:
  port_min: 42200
  port_max: 42298
http:
  listen: "127.0.0.1:0"
  admin_listen: "127.0.0.1:0"
` + extra
}

// TestServeOverloadMonitor: `herald serve` always runs the overload monitor, which reads the
// scheduler every second, and /metrics shows its gauges and counters. By default
// (limits.shed_latency 0s) its shedder sheds nothing, however slow the scheduler reads; with a
// threshold set it sheds once the latency is above it.
func TestServeOverloadMonitor(t *testing.T) {
	in := startInstance(t, "overload.yaml", overloadYAML(""))
	if in.shed == nil || in.shed.Options().Target != 0 || in.shed.Options().Window != shedWindow {
		t.Fatalf("default shedder %+v", in.shed)
	}
	deadline := time.Now().Add(5 * time.Second)
	for in.shed.Windows.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the overload monitor read no window in 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, _, metrics := adminGet(t, in.web.AdminAddr(), "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{"herald_overload_windows_total ", "herald_overload_sched_latency_ms ", "herald_overload_shed_share 0", "herald_sip_shed_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	for range 8 {
		in.shed.Observe(time.Second, 10000) // what a collapsing node reads
	}
	if in.shed.Ratio() != 0 || in.shed.Shed("any-call") {
		t.Fatalf("shedding off by default, yet the share is %d/1024", in.shed.Ratio())
	}

	on := startInstance(t, "overload-on.yaml", overloadYAML("limits:\n  shed_latency: 20ms\n"))
	if on.shed.Options().Target != 20*time.Millisecond {
		t.Fatalf("shed_latency 20ms: shedder %+v", on.shed.Options())
	}
	for range 8 { // the monitor's own windows (idle: clear) may come between: each takes back 1/32
		on.shed.Observe(time.Second, 10000)
	}
	if on.shed.Ratio() == 0 {
		t.Fatal("shed_latency 20ms: a collapsing node sheds nothing")
	}
}
