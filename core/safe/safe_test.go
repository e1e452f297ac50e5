package safe

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRecoveredCountsLogsAndGoesOn(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	before := Count(MSRP)
	answered := false
	func() {
		defer func() {
			if r := recover(); Recovered(MSRP, log, r) {
				answered = true
			}
		}()
		var m map[string]int
		m["boom"] = 1 // nil map write: a runtime panic
	}()
	if !answered {
		t.Fatal("the boundary did not see the panic")
	}
	if got := Count(MSRP) - before; got != 1 {
		t.Fatalf("Count(MSRP) grew by %d, want 1", got)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("%d log lines, want exactly 1: %s", n, out.String())
	}
	for _, want := range []string{`"plane":"msrp"`, "assignment to entry in nil map", "safe_test.go"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log line lacks %q: %s", want, out.String())
		}
	}
}

func TestRecoveredNilIsNoPanic(t *testing.T) {
	before := Count(SIP)
	if Recovered(SIP, nil, nil) {
		t.Fatal("nil reported as a panic")
	}
	if Count(SIP) != before {
		t.Fatal("nil counted")
	}
}

func TestCollectorExportsEveryPlane(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector())
	Recovered(RTP, slog.New(slog.DiscardHandler), "injected")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || len(mfs[0].GetMetric()) != int(numPlanes) {
		t.Fatalf("gathered %v, want herald_panics_total with %d series", mfs, numPlanes)
	}
	for _, m := range mfs[0].GetMetric() {
		plane := m.GetLabel()[0].GetValue()
		if plane == "rtp" && uint64(m.GetCounter().GetValue()) != Count(RTP) {
			t.Fatalf("rtp series %v, Count(RTP) %d", m.GetCounter().GetValue(), Count(RTP))
		}
	}
	if Count(RTP) == 0 {
		t.Fatal("the injected rtp panic was not counted")
	}
}
