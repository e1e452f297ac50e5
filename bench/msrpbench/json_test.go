package msrpbench

import (
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// TestAddTo: each report adds one step per server at its terminal count (medians over the runs),
// Herald as the herald role and the goroutine-per-connection server as the baseline; errors make a
// step unclean; the memory phase's bytes per connection appear only when it ran.
func TestAddTo(t *testing.T) {
	f := &benchfmt.File{Schema: benchfmt.Schema, Plane: "msrp"}
	r1 := &Report{Config: Config{Servers: []string{ServerHerald, ServerBaseline}, Terminals: 100},
		Throughput: []ThroughputSample{
			{Server: ServerHerald, Deliveries: 800, Rate: 4000, PerServerCPUSec: 20000, P50: time.Millisecond, P99: 3 * time.Millisecond},
			{Server: ServerHerald, Deliveries: 800, Rate: 6000, PerServerCPUSec: 30000, P50: 3 * time.Millisecond, P99: 5 * time.Millisecond},
			{Server: ServerBaseline, Deliveries: 790, Errors: 10, Rate: 3000, PerServerCPUSec: 10000},
		}}
	r1.AddTo(f)
	r2 := &Report{Config: Config{Servers: []string{ServerHerald, ServerBaseline}, Terminals: 400, HoldN: 1000},
		Throughput: []ThroughputSample{{Server: ServerHerald, Deliveries: 3200, Rate: 8000, PerServerCPUSec: 25000},
			{Server: ServerBaseline, Deliveries: 3200, Rate: 7000, PerServerCPUSec: 12500}},
		Hold: []HoldSample{{Server: ServerHerald, N: 1000, Sessions: 10 << 20, Held: 10<<20 + 1000*1024},
			{Server: ServerBaseline, N: 1000, Sessions: 10 << 20, Held: 10<<20 + 1000*16384}}}
	r2.AddTo(f)
	h, b := f.Target(ServerHerald), f.Target(ServerBaseline)
	if h == nil || b == nil || len(f.Targets) != 2 || h.Role != benchfmt.RoleHerald || b.Role != benchfmt.RoleBaseline {
		t.Fatalf("targets %+v", f.Targets)
	}
	if len(h.Steps) != 2 || h.Steps[0].Load != 100 || h.Steps[1].Load != 400 {
		t.Fatalf("herald steps %+v", h.Steps)
	}
	s := h.Steps[0]
	if s.M["deliveries_per_s"] != 5000 || s.M["p50_ms"] != 2 || s.M["deliveries_per_cpu_s"] != 25000 || s.M["server_cpu_ms_per_delivery"] != 0.04 || !s.Clean {
		t.Errorf("herald at 100: %+v", s)
	}
	if _, ok := s.M["bytes_per_conn_held"]; ok {
		t.Error("bytes per connection without a memory phase")
	}
	if b.Steps[0].Clean || b.Steps[0].M["errors"] != 10 {
		t.Errorf("baseline with errors: %+v", b.Steps[0])
	}
	if got := b.Steps[1].M["bytes_per_conn_held"]; got != 16384 {
		t.Errorf("baseline bytes per held connection %v", got)
	}
}
