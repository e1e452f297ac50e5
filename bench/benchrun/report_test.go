package benchrun

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// copyFixtures copies testdata/*.json into a fresh results directory.
func copyFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	paths, err := filepath.Glob("testdata/*.json")
	if err != nil || len(paths) != 4 {
		t.Fatalf("fixtures: %v %v", paths, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkSVG parses path as XML: the root element is <svg>, it draws paths and has text, and every
// want string (a series or axis name) is in it.
func checkSVG(t *testing.T, path string, want ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root string
	var paths, texts int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			switch se.Name.Local {
			case "path":
				paths++
			case "text":
				texts++
			}
		}
	}
	if root != "svg" || paths < 5 || texts < 5 {
		t.Fatalf("%s: root <%s>, %d paths, %d texts", path, root, paths, texts)
	}
	for _, w := range want {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("%s: no %q", path, w)
		}
	}
}

const readmeFixture = "# Herald\n\n## Measured\n\nIntro line kept.\n\n" + MeasuredBegin + "\nold table\n" + MeasuredEnd + "\n\nTail kept.\n"

// TestReportFromFixtures draws the report from fixture JSON of the four planes: every plot is
// well-formed SVG naming its series, REPORT.md carries the exact command, the whole-call figure, the
// ratio to each baseline and the noisy-machine warning (the first plane's load average is 3.1 on
// 2 CPUs), and the README table between the markers holds the same ratios while the rest of the
// README is untouched; a second run changes nothing.
func TestReportFromFixtures(t *testing.T) {
	dir := copyFixtures(t)
	readme := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(readme, []byte(readmeFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Report(dir, readme); err != nil {
		t.Fatal(err)
	}
	plots := map[string][]string{
		"call-latency.svg": {"herald post-dial p99", "herald page p99", "kamailio-plain post-dial p99", "offered calls/s"},
		"call-cpu.svg":     {"herald server", "herald generator", "CPU ms per call"},
		"sip-cpu.svg":      {"sipp-direct", "herald-plain", "herald-push", "kamailio-plain"},
		"sip-rate.svg":     {"kamailio-plain"},
		"msrp-latency.svg": {"herald p99", "baseline p99", "concurrent terminals"},
		"msrp-cpu.svg":     {"herald", "baseline"},
		"rtp-cpu.svg":      {"wheel", "ticker"},
		"rtp-lateness.svg": {"wheel p99", "ticker max"},
		"vs-baselines.svg": {"memory per held connection vs baseline", "max clean rate, plain forwarding vs kamailio-plain"},
	}
	for f, want := range plots {
		checkSVG(t, filepath.Join(dir, PlotDir, f), want...)
	}
	rep, err := os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Command: `bench/run --quick`",
		"**Whole push call** (SIP + both pages over MSRP + ringback RTP, mix both/caller/plain/ringback): **25 calls/s clean**, post-dial delay p50 1.17 ms / p99 3 ms, setup p50 1004 ms / p99 1009 ms (the callee rings 1000 ms of it)",
		// sip: herald-plain 2000 clean vs kamailio 1000; CPU at 1000 (both clean): 0.25 vs 0.5 ms.
		"| sip | max clean rate, plain forwarding | best of each | 2000 calls/s | kamailio-plain | 1000 calls/s | 2.00× (higher is better) | 2.00× |",
		"| sip | server CPU per call, plain forwarding | 1000 calls/s | 0.25 ms | kamailio-plain | 0.5 ms | 0.50× (lower is better) | 2.00× |",
		"| msrp | page deliveries per server CPU-second | 400 terminals | 21000 deliveries/CPU-s | baseline | 15000 deliveries/CPU-s | 1.40× (higher is better) | 1.40× |",
		"| rtp | ringback streams ≤ 0.1% late > 10 ms | best of each | ≥2000 streams | ticker | 1000 streams | ≥2.00× (higher is better) | ≥2.00× |",
		"| rtp | CPU per 1,000 ringback streams | 1000 streams | 18 % of a core | ticker | 40 % of a core | 0.45× (lower is better) | 2.22× |",
		"| call | post-dial delay p99 (INVITE → 180), plain calls | 50 calls/s | 0.833 ms | kamailio-plain | 0.667 ms | 1.25× (lower is better) | 0.80× |",
		"**Noisy machine.** The 1-minute load average was 3.10 on 2 CPUs before the run (sip plane)",
		"![Herald vs baselines](plots/vs-baselines.svg)",
		"| 50 | ✗ |", // the failed step of the mix is shown …
		"timeout 50", // … with its cause
	} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
	got, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	g := string(got)
	if !strings.HasPrefix(g, "# Herald\n\n## Measured\n\nIntro line kept.\n\n"+MeasuredBegin+"\n") || !strings.HasSuffix(g, MeasuredEnd+"\n\nTail kept.\n") || strings.Contains(g, "old table") {
		t.Fatalf("README outside the markers changed or the old table stayed:\n%s", g)
	}
	for _, want := range []string{
		"| whole call (SIP + both pages over MSRP + ringback RTP) | max clean rate of the mix (post-dial delay p99 3 ms, page p99 18 ms, 2.4 CPU-ms per call) | 25 calls/s |",
		"| sip | max clean rate, plain forwarding | 2000 calls/s | 1000 (kamailio-plain) | 2.00× (higher is better) |",
		"| msrp | memory per held connection at 400 terminals | 1055 B | 15282 (baseline) | 0.07× (lower is better) |",
		"Command: `bench/run --quick`",
		"commit 0123456789ab",
	} {
		if !strings.Contains(g, want) {
			t.Errorf("README table lacks %q in\n%s", want, g)
		}
	}
	if err := Report(dir, readme); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(readme)
	if !bytes.Equal(again, got) {
		t.Fatal("a second report changed the README")
	}
	// A quiet first plane: no warning, even though a later plane's load average is high.
	sip, err := benchfmt.ReadFile(filepath.Join(dir, "sip.json"))
	if err != nil {
		t.Fatal(err)
	}
	sip.LoadBefore[0] = 0.4
	if err := sip.WriteFile(filepath.Join(dir, "sip.json")); err != nil {
		t.Fatal(err)
	}
	if err := Report(dir, ""); err != nil {
		t.Fatal(err)
	}
	rep, _ = os.ReadFile(filepath.Join(dir, "REPORT.md"))
	if strings.Contains(string(rep), "Noisy machine") || !strings.Contains(string(rep), "The machine was quiet before the run: 1-minute load average 0.40 on 2 CPUs (sip plane)") {
		t.Fatal("quiet run flagged noisy")
	}
}

// TestReplaceMeasuredNeedsMarkers: a README without the markers is an error, not a silent append.
func TestReplaceMeasuredNeedsMarkers(t *testing.T) {
	for _, doc := range []string{"# no markers\n", MeasuredEnd + "\n" + MeasuredBegin + "\n"} {
		if _, err := ReplaceMeasured([]byte(doc), "x"); !errors.Is(err, errMarkers) {
			t.Errorf("%q: err %v", doc, err)
		}
	}
}

// TestReportNeedsResults: an empty results directory is ErrNoResults; a herald-bench/v1 file that
// does not decode is reported, not skipped.
func TestReportNeedsResults(t *testing.T) {
	dir := t.TempDir()
	if err := Report(dir, ""); !errors.Is(err, ErrNoResults) {
		t.Fatalf("empty: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sip.json"), []byte(`{"schema":"herald-bench/v1","plane":"sip","targets":[{"name":"x","role":"?"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Report(dir, ""); err == nil || !strings.Contains(err.Error(), "sip.json") {
		t.Fatalf("bad file: %v", err)
	}
}

// TestRatioBounds: a max-clean figure whose top step was clean is a bound (≥), and so is the ratio
// built on it; two bounds make no ratio; a figure at a load falls back to the lowest common load,
// marked not clean, when no load was clean for both.
func TestRatioBounds(t *testing.T) {
	step := func(load float64, clean bool, cpu float64) benchfmt.Step {
		return benchfmt.Step{Load: load, Clean: clean, M: map[string]float64{"server_cpu_ms_per_call": cpu, "cpu_pct_per_1000": cpu}}
	}
	sip := &benchfmt.File{Plane: "sip", Targets: []benchfmt.Target{
		{Name: "herald-plain", Role: benchfmt.RoleHerald, LoadUnit: "calls/s", Steps: []benchfmt.Step{step(500, true, 0.3), step(1000, true, 0.3)}},
		{Name: "kamailio-plain", Role: benchfmt.RoleBaseline, LoadUnit: "calls/s", Steps: []benchfmt.Step{step(500, true, 0.4), step(1000, false, 0.6)}},
		{Name: "sipp-direct", Role: benchfmt.RoleBaseline, LoadUnit: "calls/s", Steps: []benchfmt.Step{step(500, true, 0.1), step(1000, true, 0.1)}},
	}}
	rtp := &benchfmt.File{Plane: "rtp", Targets: []benchfmt.Target{
		{Name: "wheel", Role: benchfmt.RoleHerald, LoadUnit: "streams", Steps: []benchfmt.Step{step(500, false, 40), step(1000, false, 38)}},
		{Name: "ticker", Role: benchfmt.RoleBaseline, LoadUnit: "streams", Steps: []benchfmt.Step{step(500, false, 50)}},
	}}
	rs := Ratios(map[string]*benchfmt.File{"sip": sip, "rtp": rtp})
	got := map[string]Ratio{}
	for _, r := range rs {
		got[r.Plane+"/"+r.Figure+"/"+r.Baseline] = r
	}
	vsKam := got["sip/max clean rate, plain forwarding/kamailio-plain"]
	if !vsKam.HeraldAtLeast || vsKam.BaseAtLeast || factor(vsKam) != "≥2.00× (higher is better)" || advantage(vsKam) != "≥2.00×" {
		t.Errorf("vs Kamailio: %+v %s %s", vsKam, factor(vsKam), advantage(vsKam))
	}
	vsDirect := got["sip/max clean rate vs no proxy at all/sipp-direct"]
	if factor(vsDirect) != "— (both sides are bounds)" || advantage(vsDirect) != "—" {
		t.Errorf("vs direct: %s %s", factor(vsDirect), advantage(vsDirect))
	}
	cpu := got["sip/server CPU per call, plain forwarding/kamailio-plain"]
	if cpu.At != "500 calls/s" || cpu.HeraldV != 0.3 || cpu.BaseV != 0.4 {
		t.Errorf("CPU at the highest common clean load: %+v", cpu)
	}
	rc := got["rtp/CPU per 1,000 ringback streams/ticker"]
	if rc.At != "500 streams (not clean)" || rc.HeraldV != 40 || rc.BaseV != 50 {
		t.Errorf("rtp fallback: %+v", rc)
	}
	if _, ok := got["rtp/ringback streams ≤ 0.1% late > 10 ms/ticker"]; ok {
		t.Error("a max-clean ratio with nothing clean on either side")
	}
}

// The call plane's push flow is set against Herald's own plain call with the generator's reading of
// Herald over the measured step (server_step_cpu_ms_per_call), not the whole-run figure the plane
// keeps for the Kamailio comparison; at the highest rate clean for both.
func TestRatioPushOverPlain(t *testing.T) {
	step := func(load float64, clean bool, whole, stepCPU float64) benchfmt.Step {
		return benchfmt.Step{Load: load, Clean: clean, M: map[string]float64{"server_cpu_ms_per_call": whole, "server_step_cpu_ms_per_call": stepCPU}}
	}
	call := &benchfmt.File{Plane: "call", Targets: []benchfmt.Target{
		{Name: "herald-plain", Role: benchfmt.RoleHerald, LoadUnit: "calls/s", Steps: []benchfmt.Step{step(100, true, 0.9, 0.3), step(400, true, 0.5, 0.25)}},
		{Name: "herald-push", Role: benchfmt.RoleHerald, LoadUnit: "calls/s", Steps: []benchfmt.Step{step(100, true, 2.0, 1.1), step(400, true, 1.3, 1.0)}},
		{Name: "kamailio-plain", Role: benchfmt.RoleBaseline, LoadUnit: "calls/s", Steps: []benchfmt.Step{step(100, true, 1.4, 0), step(400, true, 0.8, 0)}},
	}}
	var found bool
	for _, r := range Ratios(map[string]*benchfmt.File{"call": call}) {
		if r.Herald != "herald-push" {
			continue
		}
		found = true
		if r.Baseline != "herald-plain" || r.At != "400 calls/s" || r.HeraldV != 1.0 || r.BaseV != 0.25 || factor(r) != "4.00× (lower is better)" {
			t.Errorf("push over plain: %+v %s", r, factor(r))
		}
	}
	if !found {
		t.Fatal("no push-over-plain ratio")
	}
}
