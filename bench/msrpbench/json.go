package msrpbench

import (
	"strings"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// serverLabels say what each server kind is, for the bench report.
var serverLabels = map[string]string{
	ServerHerald:      "Herald's MSRP plane (netio/msrp, gnet event loops)",
	ServerHerald1Loop: "Herald's MSRP plane with one event loop",
	ServerBaseline:    "goroutine-per-connection MSRP server (net package), same protocol",
	ServerBaselineS1:  "the goroutine-per-connection server as measured before Session 2",
}

// AddTo appends this report's figures to f as one step per server at Config.Terminals concurrent
// terminals (medians over the runs), creating a target per server on first use. Metrics:
// deliveries_per_s, p50_ms, p99_ms, deliveries_per_cpu_s, server_cpu_ms_per_delivery, server_cpu_s,
// client_cpu_s, server_max_rss_mb, errors, deliveries; with a memory phase also held_conns,
// bytes_per_conn_held (above the sessions) and bytes_per_conn_held_idle (above the idle process).
// A step is clean when no delivery failed.
func (r *Report) AddTo(f *benchfmt.File) {
	for _, s := range r.Summaries() {
		t := f.Target(s.Server)
		if t == nil {
			role := benchfmt.RoleBaseline
			if strings.HasPrefix(s.Server, ServerHerald) {
				role = benchfmt.RoleHerald
			}
			f.Targets = append(f.Targets, benchfmt.Target{Name: s.Server, Role: role, Label: serverLabels[s.Server], LoadUnit: "terminals"})
			t = &f.Targets[len(f.Targets)-1]
		}
		var errs, deliveries int
		for _, ts := range r.Throughput {
			if ts.Server == s.Server {
				errs += ts.Errors
				deliveries += ts.Deliveries
			}
		}
		m := map[string]float64{
			"deliveries_per_s":     benchfmt.Round(s.Rate, 1),
			"p50_ms":               benchfmt.Round(ms(s.P50), 3),
			"p99_ms":               benchfmt.Round(ms(s.P99), 3),
			"deliveries_per_cpu_s": benchfmt.Round(s.PerCPUSec, 1),
			"server_cpu_s":         benchfmt.Round(s.ServerCPU.Seconds(), 3),
			"client_cpu_s":         benchfmt.Round(s.ClientCPU.Seconds(), 3),
			"server_max_rss_mb":    benchfmt.Round(mib(s.MaxRSS), 1),
			"errors":               float64(errs),
			"deliveries":           float64(deliveries),
		}
		if s.PerCPUSec > 0 {
			m["server_cpu_ms_per_delivery"] = benchfmt.Round(1000/s.PerCPUSec, 4)
		}
		if len(r.Hold) > 0 {
			m["held_conns"] = float64(r.Config.HoldN)
			m["bytes_per_conn_held"] = benchfmt.Round(s.PerConn, 0)
			m["bytes_per_conn_held_idle"] = benchfmt.Round(s.PerConnIdle, 0)
		}
		t.Steps = append(t.Steps, benchfmt.Step{Load: float64(r.Config.Terminals), Clean: errs == 0, M: m})
	}
}
