package benchfmt

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sample() *File {
	return &File{Schema: Schema, Plane: "call",
		Machine:   Machine{CPUModel: "Test CPU", Cores: 2, GOMAXPROCS: 2, MemoryMB: 2048, Kernel: "6.1", Arch: "amd64"},
		GoVersion: "go1.26.8", Git: Git{Commit: "abc", Dirty: true},
		Start: time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC), DurationS: 12.5,
		LoadBefore: [3]float64{0.5, 0.25, 0.125}, LoadAfter: [3]float64{1.5, 1, 0.75},
		Command: "bench/run --quick", ToolCommand: "$WORK/bin/loadgen run -rates 10",
		Targets: []Target{{Name: "herald", Role: RoleHerald, Label: "Herald", LoadUnit: "calls/s",
			Steps: []Step{{Load: 10, Clean: true, M: map[string]float64{"setup_p99_ms": 8.25, "completed": 40}},
				{Load: 25, Clean: false, M: map[string]float64{"setup_p99_ms": 900}, Failed: map[string]int64{"timeout": 3}}},
			Summary: map[string]float64{"max_clean_cps": 10},
			Samples: []map[string]float64{{"t_s": 1, "rss_mb": 30}}},
			{Name: "kamailio-plain", Role: RoleBaseline, LoadUnit: "calls/s", Error: "did not start"}},
		Notes: []string{"noisy"}}
}

// TestSchemaRoundTrip: a File with every field set encodes and decodes to an equal File, so nothing
// the runner records is lost on the way to the report.
func TestSchemaRoundTrip(t *testing.T) {
	f := sample()
	var b bytes.Buffer
	if err := f.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"schema": "herald-bench/v1"`) {
		t.Fatalf("no schema line in\n%s", b.String())
	}
	g, err := Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("round trip changed the file:\n got %+v\nwant %+v", g, f)
	}
}

// TestDecodeRefuses: another schema, a missing plane, an unknown role and an unknown field are
// refused with ErrSchema.
func TestDecodeRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"schema":  `{"schema":"herald-bench/loadgen/v1","plane":"call","targets":[]}`,
		"plane":   `{"schema":"herald-bench/v1","targets":[]}`,
		"role":    `{"schema":"herald-bench/v1","plane":"sip","targets":[{"name":"x","role":"judge"}]}`,
		"unknown": `{"schema":"herald-bench/v1","plane":"sip","surprise":1,"targets":[]}`,
		"syntax":  `{"schema":"herald-bench/v1",`,
	} {
		if _, err := Decode(strings.NewReader(doc)); !errors.Is(err, ErrSchema) {
			t.Errorf("%s: err %v, want ErrSchema", name, err)
		}
	}
}

// TestQuote: a recorded command can be pasted into a shell.
func TestQuote(t *testing.T) {
	got := Quote([]string{"bench/run", "--only", "sip,call", "--out", "my dir", "it's"})
	want := `bench/run --only sip,call --out 'my dir' 'it'\''s'`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
