package main

import (
	"errors"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/benchfmt"
	"github.com/herald-ims/herald/bench/sipp"
)

// TestJSONTarget: sippbench's steps become bench steps with the right role, CPU per successful call
// (the SIPp callee's for sipp-direct, which has no server), the max clean rate in the summary, and
// the error of a target that stopped.
func TestJSONTarget(t *testing.T) {
	steps := []result{
		{rate: 500, st: sipp.Stats{Created: 1000, Successful: 1000}, serverCPU: 400 * time.Millisecond, uasCPU: 100 * time.Millisecond, clean: true},
		{rate: 1000, st: sipp.Stats{Created: 2000, Successful: 1500, Failed: 400}, serverCPU: time.Second, uasCPU: 300 * time.Millisecond},
	}
	h := jsonTarget(target{name: "herald-plain"}, steps, nil)
	if h.Role != benchfmt.RoleHerald || h.LoadUnit != "calls/s" || len(h.Steps) != 2 || h.Error != "" {
		t.Fatalf("herald-plain: %+v", h)
	}
	if got := h.Steps[0].M["server_cpu_ms_per_call"]; got != 0.4 {
		t.Errorf("server CPU per call %v ms, want 0.4", got)
	}
	if got := h.Steps[1].M["unfinished"]; got != 100 || h.Steps[1].Clean {
		t.Errorf("unfinished %v clean %t", got, h.Steps[1].Clean)
	}
	if h.Summary["max_clean_cps"] != 500 {
		t.Errorf("summary %v", h.Summary)
	}
	d := jsonTarget(target{name: "sipp-direct", direct: true}, steps, errors.New("stopped"))
	if d.Role != benchfmt.RoleBaseline || d.Steps[0].M["server_cpu_ms_per_call"] != 0.1 || d.Error != "stopped" {
		t.Fatalf("sipp-direct: role %s cpu %v err %q", d.Role, d.Steps[0].M["server_cpu_ms_per_call"], d.Error)
	}
	if k := jsonTarget(target{name: "kamailio-plain"}, nil, nil); k.Role != benchfmt.RoleBaseline || k.Summary != nil {
		t.Fatalf("kamailio-plain without steps: %+v", k)
	}
}
