package main

import (
	"time"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// writeJSON writes the sweep as a herald-bench/v1 file: target wheel (Herald's plane) and ticker (the
// baseline), one step per level. Metrics: cpu_cores (over the window), cpu_pct_per_1000 (percent of
// a core per 1,000 streams), late_pct (packets sent over 10 ms after their due time), late_p50_ms,
// late_p99_ms, late_max_ms, expected, sent, unsent, dropped, lost, received (at the sink or the
// discarding device) and goroutines; summary: max_streams, the largest passing level.
func writeJSON(f *benchfmt.File, path, netMode string, results []result, best map[string]int) {
	f.Notes = append(f.Notes, "rtpbench -net "+netMode)
	targets := map[string]*benchfmt.Target{}
	for _, impl := range []string{"wheel", "ticker"} {
		t := benchfmt.Target{Name: impl, Role: benchfmt.RoleHerald, LoadUnit: "streams",
			Label: "Herald's RTP plane (netio/rtp): sharded timing wheel"}
		if impl == "ticker" {
			t.Role, t.Label = benchfmt.RoleBaseline, "goroutine + time.Ticker + socket per call (diago-style)"
		}
		f.Targets = append(f.Targets, t)
	}
	for i := range f.Targets {
		targets[f.Targets[i].Name] = &f.Targets[i]
	}
	msf := func(d time.Duration) float64 { return benchfmt.Round(float64(d)/float64(time.Millisecond), 2) }
	for _, r := range results {
		t := targets[r.impl]
		if t == nil {
			continue
		}
		t.Steps = append(t.Steps, benchfmt.Step{Load: float64(r.streams), Clean: r.ok, M: map[string]float64{
			"cpu_cores":        benchfmt.Round(r.cpu, 3),
			"cpu_pct_per_1000": benchfmt.Round(100*r.cpu/(float64(r.streams)/1000), 2),
			"late_pct":         benchfmt.Round(100*float64(r.late)/float64(max(r.sent, 1)), 4),
			"late_p50_ms":      msf(r.p50),
			"late_p99_ms":      msf(r.p99),
			"late_max_ms":      msf(r.max),
			"expected":         float64(r.expected),
			"sent":             float64(r.sent),
			"unsent":           float64(r.unsent),
			"dropped":          float64(r.dropped),
			"lost":             float64(r.lost),
			"received":         float64(r.received),
			"goroutines":       float64(r.goroutines),
		}})
	}
	for name, t := range targets {
		t.Summary = map[string]float64{"max_streams": float64(best[name])}
	}
	f.Finish()
	if err := f.WriteFile(path); err != nil {
		fatal("json", err)
	}
}
