package benchrun

import (
	"fmt"
	"math"
	"sort"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// Ratio compares Herald with one baseline on one figure.
type Ratio struct {
	Plane, Figure    string
	Herald, Baseline string // target names
	HeraldV, BaseV   float64
	Unit             string
	LowerIsBetter    bool
	At               string // the load the figure was taken at, "" for a whole-run figure
	// HeraldAtLeast and BaseAtLeast mark a max-clean figure whose highest step tried was clean:
	// the real maximum is at least that (the sweep stopped, not the system).
	HeraldAtLeast, BaseAtLeast bool
}

// Factor is Herald's value over the baseline's.
func (r Ratio) Factor() float64 {
	if r.BaseV == 0 {
		return math.NaN()
	}
	return r.HeraldV / r.BaseV
}

// Advantage is how many times better Herald is (> 1 favours Herald, < 1 the baseline).
func (r Ratio) Advantage() float64 {
	f := r.Factor()
	if r.LowerIsBetter && f != 0 {
		return 1 / f
	}
	return f
}

// maxClean is the highest load of t's clean steps (0 if none).
func maxClean(t *benchfmt.Target) float64 {
	var best float64
	if t == nil {
		return 0
	}
	for _, s := range t.Steps {
		if s.Clean && s.Load > best {
			best = s.Load
		}
	}
	return best
}

// topClean reports whether t's highest step was clean (its max clean rate is a lower bound).
func topClean(t *benchfmt.Target) bool {
	var top *benchfmt.Step
	for i := range t.Steps {
		if top == nil || t.Steps[i].Load > top.Load {
			top = &t.Steps[i]
		}
	}
	return top != nil && top.Clean
}

// stepAt returns t's step at load (the last one, if the load was run twice).
func stepAt(t *benchfmt.Target, load float64) *benchfmt.Step {
	var out *benchfmt.Step
	for i := range t.Steps {
		if t.Steps[i].Load == load {
			out = &t.Steps[i]
		}
	}
	return out
}

// commonClean is the highest load at which both a and b ran clean and both have metric (0 if none).
func commonClean(a, b *benchfmt.Target, metric string) float64 {
	var best float64
	for _, s := range a.Steps {
		if !s.Clean || s.Load <= best {
			continue
		}
		o := stepAt(b, s.Load)
		if o == nil || !o.Clean {
			continue
		}
		if _, ok := s.M[metric]; !ok {
			continue
		}
		if _, ok := o.M[metric]; !ok {
			continue
		}
		best = s.Load
	}
	return best
}

// commonLowest is the lowest load both a and b ran with metric, clean or not (0 if none).
func commonLowest(a, b *benchfmt.Target, metric string) float64 {
	best := math.Inf(1)
	for _, s := range a.Steps {
		o := stepAt(b, s.Load)
		if o == nil || s.Load >= best {
			continue
		}
		_, ok1 := s.M[metric]
		_, ok2 := o.M[metric]
		if ok1 && ok2 {
			best = s.Load
		}
	}
	if math.IsInf(best, 1) {
		return 0
	}
	return best
}

// Ratios computes every Herald-vs-baseline figure the files allow.
func Ratios(files map[string]*benchfmt.File) []Ratio {
	var out []Ratio
	maxRatio := func(f *benchfmt.File, h, b, figure, unit string) {
		ht, bt := f.Target(h), f.Target(b)
		if ht == nil || bt == nil || len(ht.Steps) == 0 || len(bt.Steps) == 0 {
			return
		}
		out = append(out, Ratio{Plane: f.Plane, Figure: figure, Herald: h, Baseline: b, HeraldV: maxClean(ht), BaseV: maxClean(bt), Unit: unit,
			HeraldAtLeast: topClean(ht), BaseAtLeast: topClean(bt)})
	}
	atRatio := func(f *benchfmt.File, h, b, metric, figure, unit string, lower bool) {
		ht, bt := f.Target(h), f.Target(b)
		if ht == nil || bt == nil {
			return
		}
		load := commonClean(ht, bt, metric)
		at := fmt.Sprintf("%s %s", fmtF(load), ht.LoadUnit)
		if load == 0 {
			// Neither clean at a common load: compare at the lowest common load, said so.
			if load = commonLowest(ht, bt, metric); load == 0 {
				return
			}
			at = fmt.Sprintf("%s %s (not clean)", fmtF(load), ht.LoadUnit)
		}
		out = append(out, Ratio{Plane: f.Plane, Figure: figure, Herald: h, Baseline: b, HeraldV: stepAt(ht, load).M[metric],
			BaseV: stepAt(bt, load).M[metric], Unit: unit, LowerIsBetter: lower, At: at})
	}
	if f := files["sip"]; f != nil {
		maxRatio(f, "herald-plain", "kamailio-plain", "max clean rate, plain forwarding", "calls/s")
		atRatio(f, "herald-plain", "kamailio-plain", "server_cpu_ms_per_call", "server CPU per call, plain forwarding", "ms", true)
		maxRatio(f, "herald-plain", "sipp-direct", "max clean rate vs no proxy at all", "calls/s")
		maxRatio(f, "herald-push", "kamailio-plain", "max clean rate, push flow vs plain proxying", "calls/s")
		maxRatio(f, "herald-plain-tcp", "kamailio-plain-tcp", "max clean rate, plain forwarding over TCP", "calls/s")
		atRatio(f, "herald-plain-tcp", "kamailio-plain-tcp", "server_cpu_ms_per_call", "server CPU per call, plain forwarding over TCP", "ms", true)
	}
	if f := files["msrp"]; f != nil {
		atRatio(f, "herald", "baseline", "deliveries_per_cpu_s", "page deliveries per server CPU-second", "deliveries/CPU-s", false)
		atRatio(f, "herald", "baseline", "p99_ms", "page fetch p99 latency", "ms", true)
		atRatio(f, "herald", "baseline", "bytes_per_conn_held", "memory per held connection", "B", true)
	}
	if f := files["rtp"]; f != nil {
		maxRatio(f, "wheel", "ticker", "ringback streams ≤ 0.1% late > 10 ms", "streams")
		atRatio(f, "wheel", "ticker", "cpu_pct_per_1000", "CPU per 1,000 ringback streams", "% of a core", true)
	}
	if f := files["call"]; f != nil {
		maxRatio(f, "herald-plain", "kamailio-plain", "max clean rate, plain calls (generator)", "calls/s")
		atRatio(f, "herald-plain", "kamailio-plain", "pdd_p99_ms", "post-dial delay p99 (INVITE → 180), plain calls", "ms", true)
		atRatio(f, "herald-plain", "kamailio-plain", "server_cpu_ms_per_call", "server CPU per plain call", "ms", true)
		atRatio(f, "herald-push", "herald-plain", "server_step_cpu_ms_per_call", "Herald CPU per call over the measured step: push flow (both cards + 199, pages fetched) vs plain", "ms", true)
	}
	// A max-clean ratio with nothing clean on either side says nothing.
	kept := out[:0]
	for _, r := range out {
		if r.HeraldV != 0 || r.BaseV != 0 {
			kept = append(kept, r)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return planeIndex(kept[i].Plane) < planeIndex(kept[j].Plane) })
	return kept
}

func planeIndex(p string) int {
	for i, q := range Planes {
		if q == p {
			return i
		}
	}
	return len(Planes)
}
