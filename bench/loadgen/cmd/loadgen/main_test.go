package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-ims/herald/bench/loadgen"
)

// TestCLI runs the contract's two commands: herald-config prints the config path and writes the
// seed; run (against the callee side directly, no Herald) exits 0 and writes the result JSON.
// Bad flags exit 2.
func TestCLI(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"herald-config", "-dir", dir, "-callee", "127.0.0.1:5999", "-subscribers", "3"}, &out, &errb); code != 0 {
		t.Fatalf("herald-config: exit %d: %s", code, errb.String())
	}
	path := strings.TrimSpace(out.String())
	if path != filepath.Join(dir, "herald.yaml") {
		t.Errorf("printed %q, want the config path", path)
	}
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, "seed", "profiles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `next_hop: "sip:127.0.0.1:5999;transport=udp"`) ||
		strings.Count(string(seed), "- identities:") != 3*2*len(loadgen.MixKinds) {
		t.Errorf("config:\n%s\nseed:\n%s", cfg, seed)
	}

	js := filepath.Join(dir, "out.json")
	out.Reset()
	errb.Reset()
	code := run([]string{"run", "-herald", "direct", "-callee", "127.0.0.1:0", "-mix", "plain=1", "-rates", "10",
		"-step", "500ms", "-ramp", "0", "-hold", "0", "-json", js}, &out, &errb)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var res loadgen.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Schema != loadgen.Schema || len(res.Steps) != 1 || res.Steps[0].Attempted != 5 || res.Steps[0].Completed != 5 {
		t.Errorf("result: %s", b)
	}
	if !strings.Contains(errb.String(), "step 10 cps (udp): 5 attempted, 5 completed") {
		t.Errorf("summary: %q", errb.String())
	}

	for _, args := range [][]string{{"run", "-mix", "bogus=1"}, {"run", "-rates", "0"}, {"herald-config"}, {"nope"}} {
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestGenGCLine: the generator reports its collector's share of its CPU and its heap goal, and
// warns when either says the generator, not Herald, may bound the run.
func TestGenGCLine(t *testing.T) {
	const warn = "WARNING: the generator's collector"
	for _, tc := range []struct {
		g       genGC
		limitMB int64
		want    string
		warns   bool
	}{
		{genGC{gcCPU: 1, allCPU: 10, heapGoal: 300 << 20}, 4096, "collector 10% of its CPU, heap goal 300 MB (memory limit 4096 MB)", false},
		{genGC{gcCPU: 3, allCPU: 10, heapGoal: 300 << 20}, 4096, "collector 30% of its CPU", true},
		{genGC{gcCPU: 1, allCPU: 10, heapGoal: 1000 << 20}, 1024, "heap goal 1000 MB (memory limit 1024 MB)", true},
		{genGC{gcCPU: 1, allCPU: 10, heapGoal: 5000 << 20}, 0, "heap goal 5000 MB", false},
		{genGC{}, 0, "collector 0% of its CPU, heap goal 0 MB", false},
	} {
		got := genGCLine(tc.g, tc.limitMB)
		if !strings.Contains(got, tc.want) || strings.Contains(got, warn) != tc.warns {
			t.Errorf("genGCLine(%+v, %d) = %q, want %q (warning %t)", tc.g, tc.limitMB, got, tc.want, tc.warns)
		}
	}
	if g := readGenGC(); g.allCPU <= 0 || g.gcCPU < 0 || g.gcCPU > g.allCPU || g.heapGoal == 0 {
		t.Fatalf("readGenGC on this process: %+v", g)
	}
}
