package main

import (
	"strings"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// labels say what each target is, for the report.
var labels = map[string]string{
	"sipp-direct":       "SIPp caller straight to SIPp callee (no proxy: the generator's own ceiling)",
	"herald-plain":      "Herald, plain forwarding (no cards), UDP",
	"herald-push":       "Herald, full push flow (100rel, PRACK, UPDATE), UDP caller, TCP callee",
	"herald-base-plain": "a second Herald binary, plain forwarding",
	"kamailio-plain":    "Kamailio 5.6, stateful record-routing proxy, plain forwarding",
}

// jsonTarget converts one target's steps to the bench suite's format. Metrics per step: created,
// successful, failed, unfinished, retrans (SIPp counters), sustained_cps, server_cpu_ms_per_call
// (the callee's for sipp-direct), uac_cpu_ms_per_call, uas_cpu_ms_per_call, call_length_ms (SIPp's
// mean call length, pauses included), udp_rcvbuf_errors; summary: max_clean_cps and the CPU per call
// at that rate.
func jsonTarget(tg target, steps []result, err error) benchfmt.Target {
	t := benchfmt.Target{Name: tg.name, Role: benchfmt.RoleHerald, Label: labels[tg.name], LoadUnit: "calls/s"}
	if !strings.HasPrefix(tg.name, "herald") {
		t.Role = benchfmt.RoleBaseline
	}
	if err != nil {
		t.Error = err.Error()
	}
	per := func(d float64, n int) float64 {
		if n == 0 {
			return 0
		}
		return benchfmt.Round(d*1000/float64(n), 4)
	}
	var best *result
	for i := range steps {
		r := &steps[i]
		srv := r.serverCPU.Seconds()
		if tg.direct {
			srv = r.uasCPU.Seconds()
		}
		s := benchfmt.Step{Load: r.rate, Clean: r.clean, M: map[string]float64{
			"created":                float64(r.st.Created),
			"successful":             float64(r.st.Successful),
			"failed":                 float64(r.st.Failed),
			"unfinished":             float64(r.st.Created - r.st.Successful - r.st.Failed),
			"retrans":                float64(r.st.Retrans),
			"sustained_cps":          benchfmt.Round(r.st.Sustained, 1),
			"server_cpu_ms_per_call": per(srv, r.st.Successful),
			"uac_cpu_ms_per_call":    per(r.uacCPU.Seconds(), r.st.Successful),
			"uas_cpu_ms_per_call":    per(r.uasCPU.Seconds(), r.st.Successful),
			"call_length_ms":         float64(r.st.CallLength.Milliseconds()),
			"udp_rcvbuf_errors":      float64(r.rcvbufErr),
			"sipp_exit":              float64(r.exit),
		}}
		t.Steps = append(t.Steps, s)
		if r.clean && (best == nil || r.rate > best.rate) {
			best = r
		}
	}
	if best != nil {
		srv := best.serverCPU.Seconds()
		if tg.direct {
			srv = best.uasCPU.Seconds()
		}
		t.Summary = map[string]float64{"max_clean_cps": best.rate, "server_cpu_ms_per_call_at_max": per(srv, best.st.Successful)}
	}
	return t
}
