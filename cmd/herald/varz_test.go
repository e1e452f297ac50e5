package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/herald-ims/herald/core/stats"
)

// sampleKey names a sample the way /metrics does: name{l1="v1",l2="v2"}, labels sorted.
func sampleKey(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	ks := make([]string, 0, len(labels))
	for k := range labels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// moving says whether a sample counts the observer's own requests (the /metrics and /varz reads
// of this test), which differ between two reads by construction.
func moving(s stats.Sample) bool {
	return s.Name == "herald_web_requests_total" && (s.Labels["route"] == "metrics" || s.Labels["route"] == "varz")
}

// samples flattens a /varz snapshot into name{labels} → value.
func samples(t *testing.T, v any) map[string]stats.Sample {
	t.Helper()
	out := map[string]stats.Sample{}
	if err := stats.Walk(v, func(s stats.Sample) {
		k := sampleKey(s.Name, s.Labels)
		if _, dup := out[k]; dup {
			t.Errorf("two snapshot fields give %s", k)
		}
		out[k] = s
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVarzIsMetrics places one whole call (both cards over MSRP, ringback over RTP) and then shows
// that /varz and /metrics are one set of numbers: every numeric field of every plane's snapshot
// (SIP, MSRP, RTP, HTTP, store, provisioning API, recovery net) appears on /metrics under its
// declared name and labels with the same value, and /varz, decoded back into the typed snapshot,
// holds the same values too. The call itself must show: one finished call, every page delivered,
// ringback packets sent.
func TestVarzIsMetrics(t *testing.T) {
	dc := placeCall(t, demoOptions{From: "sip:alice@home1.net", To: "tel:+1-212-555-2222"})
	if dc.Caller.Final != 200 || len(dc.Caller.Pages) == 0 || dc.Callee.Page == nil {
		t.Fatalf("call: final %d, caller pages %d, callee page %d bytes", dc.Caller.Final, len(dc.Caller.Pages), len(dc.Callee.Page))
	}
	in := dc.Herald
	pages := int64(len(dc.Caller.Pages) + 1)
	admin := "http://" + in.web.AdminAddr()
	// One provisioning request without a token: the API counts its refusal.
	resp, err := http.Get(admin + "/v1/subscribers") //nolint:noctx // the test's own loopback listener
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/v1/subscribers without a token: %s", resp.Status)
	}

	// The planes settle (REPORTs read, the call's controller done, ringback stopped): wait until two
	// snapshots around a /metrics read agree, then compare that read with them.
	var snap varzSnapshot
	var metrics map[string]float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := samples(t, in.snapshot())
		metrics = scrape(t, in)
		snap = in.snapshot()
		after := samples(t, snap)
		settled := snap.SIP.CallsDone == 1 && snap.SIP.ActiveCalls == 0 && snap.MSRP.DeliveriesOK == pages &&
			snap.MSRP.SessionsOpen == 0 && snap.RTP.Playing == 0
		for k, s := range after {
			if !moving(s) && before[k].Value != s.Value {
				settled = false
			}
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("planes did not settle: sip %+v msrp %+v rtp %+v", snap.SIP, snap.MSRP, snap.RTP)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if snap.RTP.Packets == 0 || snap.SIP.Ringbacks != 1 || snap.HTTP == nil || snap.Provision == nil {
		t.Fatalf("the call left no ringback (%d packets, %d ringbacks) or a plane is missing (http %v, provision %v)",
			snap.RTP.Packets, snap.SIP.Ringbacks, snap.HTTP != nil, snap.Provision != nil)
	}
	want := samples(t, snap)
	if len(want) < 120 {
		t.Fatalf("only %d samples in the snapshot", len(want))
	}
	planes := map[string]int{}
	for k, s := range want {
		planes[s.Path[0]]++
		got, ok := metrics[k]
		switch {
		case !ok:
			t.Errorf("/varz %s (%s) is not on /metrics", strings.Join(s.Path, "."), k)
		case !moving(s) && got != s.Value:
			t.Errorf("%s = %v on /metrics, %v on /varz (%s)", k, got, s.Value, strings.Join(s.Path, "."))
		}
	}
	for _, p := range []string{"sip", "msrp", "rtp", "http", "store", "provision", "recovered"} {
		if planes[p] == 0 {
			t.Errorf("no samples from plane %s", p)
		}
	}

	// /varz over HTTP is the same typed snapshot: decoded into it, it gives the same samples.
	resp, err = http.Get(admin + "/varz") //nolint:noctx // the test's own loopback listener
	if err != nil {
		t.Fatal(err)
	}
	var served varzSnapshot
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	err = dec.Decode(&served)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("/varz does not decode into the snapshot type: %v", err)
	}
	if served.Node != in.opts.Node.Name || served.Version != version {
		t.Errorf("/varz node %q version %q", served.Node, served.Version)
	}
	got := samples(t, &served)
	for k, s := range want {
		if g, ok := got[k]; !ok || (!moving(s) && g.Value != s.Value) {
			t.Errorf("/varz %s = %v (present %t), snapshot %v", strings.Join(s.Path, "."), g.Value, ok, s.Value)
		}
	}
	if len(got) != len(want) {
		t.Errorf("/varz has %d samples, the snapshot %d", len(got), len(want))
	}

	// No herald_ counter or gauge on /metrics that no snapshot declares (histograms and
	// herald_build_info are the exceptions: they are not /varz numbers).
	fams, err := in.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	declared := stats.Declared()
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "herald_") || name == "herald_build_info" {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_UNTYPED:
			if _, ok := declared[name]; !ok {
				t.Errorf("%s (%s) is declared outside the snapshot structs", name, f.GetType())
			}
		}
	}
}

// strayMetric is a Prometheus counter or gauge made by hand instead of declared in a snapshot's tags.
var strayMetric = regexp.MustCompile(`prometheus\.(NewCounter\w*|NewGauge\w*|NewUntyped\w*|CounterOpts|GaugeOpts|CounterValue|GaugeValue|UntypedValue)\b`)

// TestCountersDeclaredOnce keeps it so: outside core/stats no Go file builds a Prometheus counter
// or gauge (herald_build_info aside, a constant 1 with labels), so each one is a field of a
// plane's snapshot struct and shows on /varz and /metrics alike.
func TestCountersDeclaredOnce(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	allowed := map[string]int{filepath.Join("cmd", "herald", "metrics.go"): 2} // herald_build_info: NewGauge, GaugeOpts
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == ".git" || rel == filepath.Join("netio", "sipgo") || rel == filepath.Join("core", "stats") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		hits := strayMetric.FindAllString(string(b), -1)
		if len(hits) > allowed[rel] {
			t.Errorf("%s builds Prometheus counters or gauges by hand (%v): declare them as tagged snapshot fields (core/stats)", rel, hits)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("scanned only %d Go files", n)
	}
}
