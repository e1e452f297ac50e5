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

// TestServeOverloadMonitor: by default (limits.shed_latency 10ms) `herald serve` runs the overload
// monitor, which reads the scheduler every second, and /metrics shows its gauges and counters;
// shed_latency 0s turns it off (no shedder, the gauges stay at zero).
func TestServeOverloadMonitor(t *testing.T) {
	in := startInstance(t, "overload.yaml", overloadYAML(""))
	if in.shed == nil || in.shed.Options().Target != 10*time.Millisecond || in.shed.Options().Window != shedWindow {
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
	if in.shed.Ratio() != 0 {
		t.Errorf("an idle node sheds %d/1024 of its calls", in.shed.Ratio())
	}

	off := startInstance(t, "overload-off.yaml", overloadYAML("limits:\n  shed_latency: 0s\n"))
	if off.shed != nil {
		t.Fatalf("shed_latency 0s: shedder %+v", off.shed)
	}
	if _, _, m := adminGet(t, off.web.AdminAddr(), "/metrics", ""); !strings.Contains(m, "herald_overload_windows_total 0") {
		t.Error("shed_latency 0s: the monitor's windows are not 0")
	}
}
