package benchrun

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// LoadgenSchema is the generator's own output schema (the CLI contract of bench/loadgen).
const LoadgenSchema = "herald-bench/loadgen/v1"

// loadgenFile is the generator's -json output, as far as the report reads it.
type loadgenFile struct {
	Schema    string               `json:"schema"`
	Transport string               `json:"transport"`
	Mix       map[string]float64   `json:"mix"`
	HoldS     float64              `json:"hold_s"`
	RampS     float64              `json:"ramp_s"`
	StepS     float64              `json:"step_s"`
	SoakS     float64              `json:"soak_s"`
	Stopped   string               `json:"stopped"`
	Steps     []loadgenStep        `json:"steps"`
	Samples   []map[string]float64 `json:"samples"`
}

type loadgenStep struct {
	TargetCPS   float64          `json:"target_cps"`
	AchievedCPS float64          `json:"achieved_cps"`
	DurationS   float64          `json:"duration_s"`
	Attempted   int64            `json:"attempted"`
	Completed   int64            `json:"completed"`
	Failed      map[string]int64 `json:"failed"`
	ByMix       map[string]struct {
		Attempted int64 `json:"attempted"`
		Completed int64 `json:"completed"`
	} `json:"by_mix"`
	Setup  quantiles          `json:"setup_ms"`
	Page   quantiles          `json:"page_ms"`
	PDD    quantiles          `json:"pdd_ms"`
	Lag    quantiles          `json:"sched_lag_ms"`
	RTP    map[string]float64 `json:"rtp"`
	Herald map[string]float64 `json:"herald"`
	Gen    map[string]float64 `json:"gen"`
	Kernel map[string]float64 `json:"kernel"`
	Clean  bool               `json:"clean"`
}

type quantiles struct {
	Count float64 `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// readLoadgen decodes the generator's output file.
func readLoadgen(path string) (*loadgenFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f loadgenFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("benchrun: %s: %w", path, err)
	}
	if f.Schema != LoadgenSchema {
		return nil, fmt.Errorf("benchrun: %s: schema %q, want %q", path, f.Schema, LoadgenSchema)
	}
	return &f, nil
}

// loadgenSteps converts the generator's steps to bench steps. Metrics: achieved_cps, duration_s,
// attempted, completed, failed; setup_{count,p50,p95,p99,max}_ms (INVITE sent to 200 received);
// page_{count,p50,p95,p99,max}_ms (acquisition SEND to REPORT); pdd_* (post-dial delay: INVITE to
// the first ringing response) and sched_lag_* (how late the generator placed calls: its own
// health) in the same form; rtp_<key> (calls, expected,
// received, lost, late, late_p99_ms); server_<key> (the generator's "herald" readings of the
// process given by -pid: cpu_ms_per_call, cpu_util, rss_peak_mb, rss_end_mb, fds_end, goroutines_end;
// the call plane keeps Herald's cpu_ms_per_call as server_step_cpu_ms_per_call where it replaces
// server_cpu_ms_per_call by its whole-run figure); gen_cpu_ms_per_call; kernel_<key> (udp_rcvbuf_errors, ...);
// mix_<kind>_attempted and mix_<kind>_completed.
func loadgenSteps(f *loadgenFile) []benchfmt.Step {
	var out []benchfmt.Step
	for _, s := range f.Steps {
		var failed int64
		for _, n := range s.Failed {
			failed += n
		}
		m := map[string]float64{
			"achieved_cps": s.AchievedCPS, "duration_s": s.DurationS,
			"attempted": float64(s.Attempted), "completed": float64(s.Completed), "failed": float64(failed),
		}
		q := func(prefix string, h quantiles) {
			m[prefix+"_count"] = h.Count
			m[prefix+"_p50_ms"], m[prefix+"_p95_ms"], m[prefix+"_p99_ms"], m[prefix+"_max_ms"] = h.P50, h.P95, h.P99, h.Max
		}
		q("setup", s.Setup)
		if s.Page.Count > 0 {
			q("page", s.Page)
		}
		for prefix, mm := range map[string]map[string]float64{"rtp_": s.RTP, "server_": s.Herald, "gen_": s.Gen, "kernel_": s.Kernel} {
			for k, v := range mm {
				m[prefix+k] = v
			}
		}
		kinds := make([]string, 0, len(s.ByMix))
		for k := range s.ByMix {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			m["mix_"+k+"_attempted"] = float64(s.ByMix[k].Attempted)
			m["mix_"+k+"_completed"] = float64(s.ByMix[k].Completed)
		}
		if s.PDD.Count > 0 {
			q("pdd", s.PDD)
		}
		if s.Lag.Count > 0 {
			q("sched_lag", s.Lag)
		}
		var causes map[string]int64
		if len(s.Failed) > 0 {
			causes = s.Failed
		}
		out = append(out, benchfmt.Step{Load: s.TargetCPS, Clean: s.Clean, M: m, Failed: causes})
	}
	return out
}
