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
