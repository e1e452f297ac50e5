package msrpbench

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// median returns the median of xs (the mean of the middle two for an even count), 0 if empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Summary holds the medians of one server over the runs.
type Summary struct {
	Server                    string
	Rate, PerCPUSec           float64
	P50, P99                  time.Duration
	ServerCPU, ClientCPU      time.Duration
	MaxRSS                    int64
	PerConn, PerConnIdle      float64
	HeldRSS, IdleRSS, SessRSS int64
}

// Summaries returns per-server medians, in Config.Servers order.
func (r *Report) Summaries() []Summary {
	var out []Summary
	for _, kind := range r.Config.Servers {
		s := Summary{Server: kind}
		var rate, cpus, p50, p99, scpu, ccpu, rss []float64
		for _, t := range r.Throughput {
			if t.Server != kind {
				continue
			}
			rate = append(rate, t.Rate)
			cpus = append(cpus, t.PerServerCPUSec)
			p50 = append(p50, float64(t.P50))
			p99 = append(p99, float64(t.P99))
			scpu = append(scpu, float64(t.ServerCPU))
			ccpu = append(ccpu, float64(t.ClientCPU))
			rss = append(rss, float64(t.ServerMaxRSSBytes))
		}
		s.Rate, s.PerCPUSec = median(rate), median(cpus)
		s.P50, s.P99 = time.Duration(median(p50)), time.Duration(median(p99))
		s.ServerCPU, s.ClientCPU = time.Duration(median(scpu)), time.Duration(median(ccpu))
		s.MaxRSS = int64(median(rss))
		var pc, pci, held, idle, sess []float64
		for _, h := range r.Hold {
			if h.Server != kind {
				continue
			}
			pc = append(pc, h.PerConn())
			pci = append(pci, h.PerConnIdle())
			held = append(held, float64(h.Held))
			idle = append(idle, float64(h.Idle))
			sess = append(sess, float64(h.Sessions))
		}
		s.PerConn, s.PerConnIdle = median(pc), median(pci)
		s.HeldRSS, s.IdleRSS, s.SessRSS = int64(median(held)), int64(median(idle)), int64(median(sess))
		out = append(out, s)
	}
	return out
}

// WriteMarkdown writes the per-run tables, the medians and the Herald/baseline ratios.
func (r *Report) WriteMarkdown(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "Page %d bytes in 2048-byte chunks; throughput: %d concurrent terminals × %d fetches (after 1 warm-up round); hold: %d connections; %d runs; total %.1f s; load average %s at the start, %s at the end.\n\n",
		c.PageSize, c.Terminals, c.Rounds, c.HoldN, c.Runs, r.Elapsed.Seconds(), r.LoadBefore, r.LoadAfter)

	fmt.Fprintln(w, "### Throughput runs")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | server | deliveries | errors | wall s | deliveries/s | p50 ms | p99 ms | server CPU s | of which sys | deliveries/server CPU-s | client CPU s | server max RSS MiB | server idle CPU % |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, t := range r.Throughput {
		fmt.Fprintf(w, "| %d | %s | %d | %d | %.2f | %.0f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f | %.1f | %.1f |\n",
			t.Run, t.Server, t.Deliveries, t.Errors, t.Wall.Seconds(), t.Rate, ms(t.P50), ms(t.P99),
			t.ServerCPU.Seconds(), t.ServerSys.Seconds(), t.PerServerCPUSec, t.ClientCPU.Seconds(), mib(t.ServerMaxRSSBytes), 100*t.IdleCPUPerSec)
	}
	if len(r.Hold) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "### Memory runs (RSS after runtime.GC + debug.FreeOSMemory unless marked raw)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| run | server | held | idle MiB | + sessions MiB | + held conns MiB | held raw MiB | B/conn above sessions | B/conn above idle |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
		for _, h := range r.Hold {
			fmt.Fprintf(w, "| %d | %s | %d | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f |\n",
				h.Run, h.Server, h.N, mib(h.Idle), mib(h.Sessions), mib(h.Held), mib(h.HeldRaw), h.PerConn(), h.PerConnIdle())
		}
	}

	sums := r.Summaries()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Medians")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server | deliveries/s | p50 ms | p99 ms | deliveries/server CPU-s | server CPU s | client CPU s | B/conn held (above sessions) | B/conn held (above idle) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, s := range sums {
		mem := "– | –"
		if len(r.Hold) > 0 {
			mem = fmt.Sprintf("%.0f | %.0f", s.PerConn, s.PerConnIdle)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | %s |\n",
			s.Server, s.Rate, ms(s.P50), ms(s.P99), s.PerCPUSec, s.ServerCPU.Seconds(), s.ClientCPU.Seconds(), mem)
	}
	var h, b, b1 *Summary
	for i := range sums {
		switch sums[i].Server {
		case ServerHerald:
			h = &sums[i]
		case ServerBaseline:
			b = &sums[i]
		case ServerBaselineS1:
			b1 = &sums[i]
		}
	}
	if h != nil && b1 != nil {
		defer fmt.Fprintf(w, "- deliveries per server CPU-second vs %s (the baseline before Session 2): %.2f×\n",
			ServerBaselineS1, ratio(h.PerCPUSec, b1.PerCPUSec))
	}
	if h == nil || b == nil {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Ratios (Herald vs baseline, medians)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- deliveries per server CPU-second: %.2f× (target ≥ 2×)\n", ratio(h.PerCPUSec, b.PerCPUSec))
	fmt.Fprintf(w, "- deliveries per second (wall, shared 2 cores): %.2f×\n", ratio(h.Rate, b.Rate))
	fmt.Fprintf(w, "- p50 latency: %.2f×, p99 latency: %.2f× (lower is better)\n", ratio(float64(h.P50), float64(b.P50)), ratio(float64(h.P99), float64(b.P99)))
	if len(r.Hold) > 0 {
		fmt.Fprintf(w, "- memory per held connection: %.2f of the baseline's (target ≤ 0.25); Herald %.0f B/conn (target ≤ 4096), baseline %.0f B/conn\n",
			ratio(h.PerConn, b.PerConn), h.PerConn, b.PerConn)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
