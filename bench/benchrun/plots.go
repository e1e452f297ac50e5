package benchrun

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// series is one line of a plot: a target's metric over its steps.
type series struct {
	name string
	xy   plotter.XYs
}

// lineSeries takes metric from every step of the named targets of f (all targets if names is nil).
func lineSeries(f *benchfmt.File, names []string, metric, suffix string) []series {
	var out []series
	for _, t := range f.Targets {
		if names != nil && !contains(names, t.Name) {
			continue
		}
		var xy plotter.XYs
		for _, s := range t.Steps {
			v, ok := s.M[metric]
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			xy = append(xy, plotter.XY{X: s.Load, Y: v})
		}
		if len(xy) == 0 {
			continue
		}
		sort.Slice(xy, func(i, j int) bool { return xy[i].X < xy[j].X })
		out = append(out, series{name: t.Name + suffix, xy: xy})
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Plot is one SVG file of the report.
type Plot struct {
	File, Title, Caption string
}

// linePlot draws ss into dir/file as SVG; it draws nothing (ok false) without data.
func linePlot(dir, file, title, x, y string, ss []series) (bool, error) {
	if len(ss) == 0 {
		return false, nil
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	var args []any
	for _, s := range ss {
		args = append(args, s.name, s.xy)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return false, err
	}
	p.Legend.Top = true
	p.Legend.Left = true
	// Headroom above the data for the legend (about 6% of the height per entry).
	var maxY float64
	for _, s := range ss {
		for _, v := range s.xy {
			maxY = max(maxY, v.Y)
		}
	}
	if maxY > 0 {
		p.Y.Max = maxY / max(0.35, 1-0.065*float64(len(ss)+1))
	}
	if err := p.Save(7*vg.Inch, 4.2*vg.Inch, filepath.Join(dir, file)); err != nil {
		return false, fmt.Errorf("benchrun: plot %s: %w", file, err)
	}
	return true, nil
}

// ratioPlot draws the Herald-vs-baseline advantages as bars, with the parity line at 1.
func ratioPlot(dir, file string, rs []Ratio) (bool, error) {
	var vals plotter.Values
	var names []string
	for _, r := range rs {
		a := r.Advantage()
		if _, none := bound(r); none || math.IsNaN(a) || math.IsInf(a, 0) {
			continue
		}
		vals = append(vals, a)
		sign, _ := bound(r)
		names = append(names, fmt.Sprintf("%s: %s%s", r.Plane, shortFigure(r), map[string]string{"≥": " (≥)", "≤": " (≤)"}[sign]))
	}
	if len(vals) == 0 {
		return false, nil
	}
	// Bar 0 is drawn at the bottom: reverse so that the plot reads top-down in table order.
	slices.Reverse(names)
	slices.Reverse(vals)
	p := plot.New()
	p.Title.Text = "Herald vs each baseline (× better; dashed line = parity)"
	p.X.Label.Text = "Herald's advantage (> 1 favours Herald, < 1 the baseline)"
	p.X.Min = 0
	bars, err := plotter.NewBarChart(vals, vg.Points(12))
	if err != nil {
		return false, err
	}
	bars.Color = color.RGBA{R: 40, G: 110, B: 180, A: 255}
	bars.Horizontal = true
	p.Add(plotter.NewGrid(), bars)
	parity, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(len(vals)) - 0.5}})
	if err != nil {
		return false, err
	}
	parity.Color = color.RGBA{R: 200, A: 255}
	parity.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(parity)
	p.NominalY(names...)
	h := vg.Length(1.2+0.32*float64(len(vals))) * vg.Inch
	if err := p.Save(9*vg.Inch, h, filepath.Join(dir, file)); err != nil {
		return false, fmt.Errorf("benchrun: plot %s: %w", file, err)
	}
	return true, nil
}

// shortFigure is a bar label: the figure and the baseline.
func shortFigure(r Ratio) string {
	return fmt.Sprintf("%s vs %s", r.Figure, r.Baseline)
}

// drawPlots writes every plot the files allow into dir and returns them in report order.
func drawPlots(dir string, files map[string]*benchfmt.File, rs []Ratio) ([]Plot, error) {
	var out []Plot
	add := func(ok bool, err error, p Plot) error {
		if err != nil {
			return err
		}
		if ok {
			out = append(out, p)
		}
		return nil
	}
	type spec struct {
		plane, file, title, x, y, caption string
		ss                                func(f *benchfmt.File) []series
	}
	specs := []spec{
		{"call", "call-latency.svg", "Whole call: latency vs load", "offered calls/s", "ms",
			"Post-dial delay (INVITE sent → first ringing response) and page time (acquisition SEND → REPORT), p50 and p99, per step of the sweep; call setup (INVITE → 200) is in the tables: it also holds the callee's ringing time (the generator's -hold).",
			func(f *benchfmt.File) []series {
				var ss []series
				for _, m := range []struct{ metric, suffix string }{{"pdd_p50_ms", " post-dial p50"}, {"pdd_p99_ms", " post-dial p99"},
					{"page_p50_ms", " page p50"}, {"page_p99_ms", " page p99"}} {
					ss = append(ss, lineSeries(f, nil, m.metric, m.suffix)...)
				}
				return ss
			}},
		{"call", "call-cpu.svg", "Whole call: CPU per call vs load", "offered calls/s", "CPU ms per call",
			"Server CPU (user+system) per completed call, and the generator's own, per step.",
			func(f *benchfmt.File) []series {
				return append(lineSeries(f, nil, "server_cpu_ms_per_call", " server"), lineSeries(f, nil, "gen_cpu_ms_per_call", " generator")...)
			}},
		{"sip", "sip-cpu.svg", "SIP plane (SIPp): server CPU per call vs load", "offered calls/s", "CPU ms per call",
			"Server CPU per successful call at each step of each target's rate ladder (sipp-direct: the SIPp callee's CPU, no proxy).",
			func(f *benchfmt.File) []series { return lineSeries(f, nil, "server_cpu_ms_per_call", "") }},
		{"sip", "sip-rate.svg", "SIP plane (SIPp): sustained vs offered rate", "offered calls/s", "calls/s SIPp sustained",
			"The rate SIPp sustained at each step; a point below the offered rate is a step that did not keep up.",
			func(f *benchfmt.File) []series { return lineSeries(f, nil, "sustained_cps", "") }},
		{"msrp", "msrp-latency.svg", "MSRP plane: page fetch latency vs load", "concurrent terminals", "ms",
			"Latency of one page fetch (SEND → the last chunk and REPORT), p50 and p99, Herald's gnet plane vs the goroutine-per-connection server.",
			func(f *benchfmt.File) []series {
				return append(lineSeries(f, nil, "p50_ms", " p50"), lineSeries(f, nil, "p99_ms", " p99")...)
			}},
		{"msrp", "msrp-cpu.svg", "MSRP plane: server CPU per page delivery vs load", "concurrent terminals", "CPU ms per delivery",
			"Server CPU per delivered page.",
			func(f *benchfmt.File) []series { return lineSeries(f, nil, "server_cpu_ms_per_delivery", "") }},
		{"rtp", "rtp-cpu.svg", "RTP ringback: CPU per 1,000 streams vs streams", "concurrent G.711 streams", "% of a core per 1,000 streams",
			"Sender CPU per 1,000 streams, timing wheel vs ticker-per-call.",
			func(f *benchfmt.File) []series { return lineSeries(f, nil, "cpu_pct_per_1000", "") }},
		{"rtp", "rtp-lateness.svg", "RTP ringback: lateness vs streams", "concurrent G.711 streams", "ms after the due time",
			"How late packets left, p99 and max.",
			func(f *benchfmt.File) []series {
				return append(lineSeries(f, nil, "late_p99_ms", " p99"), lineSeries(f, nil, "late_max_ms", " max")...)
			}},
	}
	for _, s := range specs {
		f := files[s.plane]
		if f == nil {
			continue
		}
		ok, err := linePlot(dir, s.file, s.title, s.x, s.y, s.ss(f))
		if err := add(ok, err, Plot{File: s.file, Title: s.title, Caption: s.caption}); err != nil {
			return out, err
		}
	}
	if f := files["call"]; f != nil {
		if t := f.Target("herald"); t != nil {
			var ss []series
			for _, k := range []struct{ key, name string }{{"rss_mb", "RSS MB"}, {"fds", "descriptors"}, {"goroutines", "goroutines"}, {"in_flight", "calls in flight"}} {
				var xy plotter.XYs
				for _, smp := range t.Samples {
					if v, ok := smp[k.key]; ok {
						xy = append(xy, plotter.XY{X: smp["t_s"], Y: v})
					}
				}
				if len(xy) > 1 {
					ss = append(ss, series{name: k.name, xy: xy})
				}
			}
			ok, err := linePlot(dir, "call-samples.svg", "Whole call: Herald over the sweep (1/s)", "seconds into the generator's run", "count / MB", ss)
			if err := add(ok, err, Plot{File: "call-samples.svg", Title: "Whole call: Herald over the sweep",
				Caption: "Herald's resident memory, descriptors and goroutines and the calls in flight, sampled every second across the steps (and the soak, with --soak): after each step they should come back down, and over a soak stay flat."}); err != nil {
				return out, err
			}
		}
	}
	ok, err := ratioPlot(dir, "vs-baselines.svg", rs)
	if err := add(ok, err, Plot{File: "vs-baselines.svg", Title: "Herald vs baselines",
		Caption: "Each bar is one figure of the ratio table: how many times better Herald did than that baseline (the inverse for lower-is-better figures). Below the dashed line the baseline did better."}); err != nil {
		return out, err
	}
	return out, nil
}
