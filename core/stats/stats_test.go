package stats

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type inner struct {
	Calls uint64 `json:"calls" metric:"t_fast_calls_total,counter" help:"Fast calls."`
	Held  int    `json:"held" metric:"t_fast_held,gauge" help:"Held now."`
}

type snap struct {
	Node     string                       `json:"node"`
	Invites  uint64                       `json:"invites" metric:"t_invites_total,counter" help:"Invites."`
	Busy     uint64                       `json:"rejected_486" metric:"t_rejected_total{code=486},counter" help:"Refused."`
	Overload uint64                       `json:"rejected_503" metric:"t_rejected_total{code=503},counter"`
	Draining bool                         `json:"draining" metric:"t_draining,gauge" help:"1 while draining."`
	P99      time.Duration                `json:"p99_ns" metric:"t_lateness_seconds{quantile=0.99},gauge" help:"Lateness."`
	Ratio    float64                      `json:"ratio" metric:"t_ratio,gauge" help:"A ratio."`
	Pages    map[string]uint64            `json:"pages" metric:"t_pages_total{encoding},counter" help:"Pages."`
	Requests map[string]map[string]uint64 `json:"requests" metric:"t_requests_total{route,class},counter" help:"Requests."`
	Fast     inner                        `json:"fast_path"`
	Opt      *inner                       `json:"opt,omitempty"`
	Hidden   int                          `json:"-"`
}

func example() snap {
	return snap{
		Node: "edge-1", Invites: 3, Busy: 1, Overload: 2, Draining: true, P99: 1500 * time.Microsecond, Ratio: 0.25,
		Pages:    map[string]uint64{"gzip": 4, "identity": 5},
		Requests: map[string]map[string]uint64{"page": {"2xx": 6, "4xx": 7}},
		Fast:     inner{Calls: 8, Held: 9},
	}
}

// TestCollectorExports shows every tagged field of a snapshot on /metrics, with its fixed and
// map-keyed labels, durations in seconds, bools as 0/1, and a pedantic registry content.
func TestCollectorExports(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(example))
	want := `
# HELP t_draining 1 while draining.
# TYPE t_draining gauge
t_draining 1
# HELP t_fast_calls_total Fast calls.
# TYPE t_fast_calls_total counter
t_fast_calls_total 8
# HELP t_fast_held Held now.
# TYPE t_fast_held gauge
t_fast_held 9
# HELP t_invites_total Invites.
# TYPE t_invites_total counter
t_invites_total 3
# HELP t_lateness_seconds Lateness.
# TYPE t_lateness_seconds gauge
t_lateness_seconds{quantile="0.99"} 0.0015
# HELP t_pages_total Pages.
# TYPE t_pages_total counter
t_pages_total{encoding="gzip"} 4
t_pages_total{encoding="identity"} 5
# HELP t_ratio A ratio.
# TYPE t_ratio gauge
t_ratio 0.25
# HELP t_rejected_total Refused.
# TYPE t_rejected_total counter
t_rejected_total{code="486"} 1
t_rejected_total{code="503"} 2
# HELP t_requests_total Requests.
# TYPE t_requests_total counter
t_requests_total{class="2xx",route="page"} 6
t_requests_total{class="4xx",route="page"} 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if k, ok := Declared()["t_rejected_total"]; !ok || k != Counter {
		t.Errorf("Declared lacks t_rejected_total (%v %v)", k, ok)
	}
}

// TestWalkPaths gives each sample the /varz path of its value.
func TestWalkPaths(t *testing.T) {
	got := map[string]float64{}
	s := example()
	s.Opt = &inner{Calls: 10}
	if err := Walk(&s, func(x Sample) { got[strings.Join(x.Path, ".")] = x.Value }); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"invites": 3, "rejected_486": 1, "rejected_503": 2, "draining": 1, "p99_ns": 0.0015,
		"ratio": 0.25, "pages.gzip": 4, "pages.identity": 5, "requests.page.2xx": 6, "requests.page.4xx": 7,
		"fast_path.calls": 8, "fast_path.held": 9, "opt.calls": 10, "opt.held": 0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Walk paths\n got %v\nwant %v", got, want)
	}
}

type untagged struct {
	A uint64 `json:"a" metric:"u_a_total,counter" help:"A."`
	B uint64 `json:"b"`
}
type badKind struct {
	A uint64 `json:"a" metric:"k_x_total,counter" help:"A."`
	B uint64 `json:"b" metric:"k_x_total,gauge"`
}
type badLabels struct {
	A uint64 `json:"a" metric:"l_x_total{code=1},counter" help:"A."`
	B uint64 `json:"b" metric:"l_x_total,counter"`
}
type noHelp struct {
	A uint64 `json:"a" metric:"h_x_total,counter"`
}
type counterName struct {
	A uint64 `json:"a" metric:"c_x,counter" help:"A."`
}
type mapDepth struct {
	A map[string]uint64 `json:"a" metric:"m_x_total{a,b},counter" help:"A."`
}
type badTag struct {
	A uint64 `json:"a" metric:"b_x_total" help:"A."`
}

// TestRefusedSchemas: each way a snapshot type can be wrong is refused when its collector is built.
func TestRefusedSchemas(t *testing.T) {
	for _, c := range []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[untagged](), "without a metric tag"},
		{reflect.TypeFor[badKind](), "is a counter"},
		{reflect.TypeFor[badLabels](), "has labels"},
		{reflect.TypeFor[noHelp](), "no help"},
		{reflect.TypeFor[counterName](), "ends in _total"},
		{reflect.TypeFor[mapDepth](), "map[string] levels"},
		{reflect.TypeFor[badTag](), "want name,kind"},
	} {
		_, err := newCollector(c.typ, func() any { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.typ, err, c.want)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewCollector of a bad type did not panic")
			}
		}()
		NewCollector(func() untagged { return untagged{} })
	}()
}
