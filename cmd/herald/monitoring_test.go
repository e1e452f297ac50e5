package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"go.yaml.in/yaml/v3"
)

const (
	alertsFile    = "../../configs/monitoring/herald-alerts.yaml"
	dashboardFile = "../../configs/monitoring/herald-dashboard.json"
)

// liveMetrics starts an instance on loopback and returns the metric names its admin listener's
// /metrics exposes (a histogram's _bucket, _sum and _count series included) and, for every series
// name /metrics shows samples of, the label names of those samples (empty for one without labels).
func liveMetrics(t *testing.T) (map[string]bool, map[string]map[string]bool) {
	t.Helper()
	// The subscribers in a Redis (miniredis): /metrics then serves the store's metrics (the same
	// names as with the bbolt file) and the Redis store's own (herald_store_redis_*).
	in := startInstance(t, "monitoring.yaml", `
sip:
  listen: [{ transport: udp, addr: "127.0.0.1:0" }]
  next_hop: "sip:127.0.0.1:5070;transport=udp"
msrp: { listen: "127.0.0.1:0", advertise: 127.0.0.1 }
rtp: { listen: 127.0.0.1 }
http:
  listen: "127.0.0.1:0"
  admin_listen: "127.0.0.1:0"
store: { redis: { addrs: ["`+miniredis.RunT(t).Addr()+`"] } }
`)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + in.web.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	names := map[string]bool{}
	labels := map[string]map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f[2]+s] = true
				}
			}
			continue
		}
		if l == "" || l[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(l, "{")
		name = strings.Fields(name)[0]
		if labels[name] == nil {
			labels[name] = map[string]bool{}
		}
		for _, m := range sampleLabel.FindAllStringSubmatch(rest, -1) {
			labels[name][m[1]] = true
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !names["herald_panics_total"] || !names["herald_sip_invites_total"] {
		t.Fatalf("/metrics lacks herald_panics_total or herald_sip_invites_total: %d names", len(names))
	}
	return names, labels
}

// sampleLabel is one label name in a sample line's {…} (values are quoted: ` + "`" + `name="value"` + "`" + `).
var sampleLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)

// selectorLabels is a metric name with a {…} selector in PromQL and the label names it matches on.
var (
	selector      = regexp.MustCompile(`\b((?:herald|go|process)_[a-z0-9_]+)\{([^}]*)\}`)
	selectorLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// promRules is the part of a Prometheus rule file the checks read.
type promRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// grafanaDashboard is the part of a Grafana dashboard the checks read.
type grafanaDashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// heraldMetric matches the metric names an expression uses: Herald's own (herald_) and the Go and
// process collectors' (go_, process_).
var heraldMetric = regexp.MustCompile(`\b(?:herald|go|process)_[a-z0-9_]+\b`)

// monitoringExprs reads the alert rules and the dashboard, checks their structure, and returns every
// PromQL expression in them, keyed by where it is.
func monitoringExprs(t *testing.T) (rules, dash map[string]string) {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var r promRules
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true) // a misspelt key (exp:, annotation:) is an error, not a rule without it
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	rules = map[string]string{}
	if len(r.Groups) == 0 {
		t.Fatalf("%s: no groups", alertsFile)
	}
	for _, g := range r.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("%s: group %q: no name or no rules", alertsFile, g.Name)
		}
		for i, rule := range g.Rules {
			where := g.Name + "/" + rule.Alert
			switch {
			case rule.Alert == "":
				t.Errorf("%s: group %s rule %d: not an alert", alertsFile, g.Name, i)
			case rules[where] != "":
				t.Errorf("%s: alert %s twice", alertsFile, rule.Alert)
			case strings.TrimSpace(rule.Expr) == "":
				t.Errorf("%s: %s: no expr", alertsFile, where)
			case rule.Labels["severity"] == "":
				t.Errorf("%s: %s: no severity label", alertsFile, where)
			case rule.Annotations["summary"] == "":
				t.Errorf("%s: %s: no summary", alertsFile, where)
			}
			if rule.For != "" {
				if _, err := time.ParseDuration(rule.For); err != nil {
					t.Errorf("%s: %s: for %q: %v", alertsFile, where, rule.For, err)
				}
			}
			rules[where] = rule.Expr
		}
	}
	b, err = os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: title %q uid %q, %d panels", dashboardFile, d.Title, d.UID, len(d.Panels))
	}
	dash = map[string]string{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("%s: panel id %d twice", dashboardFile, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", dashboardFile, p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("%s: panel %q query %s is empty", dashboardFile, p.Title, q.RefID)
			}
			dash[p.Title+"/"+q.RefID] = q.Expr
		}
	}
	for i, v := range d.Templating.List {
		if v.Definition != "" {
			dash["variable "+strconv.Itoa(i)] = v.Definition
		}
	}
	return rules, dash
}

// TestMonitoringMetricsExist: every metric the alert rules and the Grafana dashboard
// (configs/monitoring) query is one a live instance's admin /metrics serves, and both cover the
// signals on-call needs (call failures, push failures, RTP lateness, MSRP refusals, panics, drain).
// With promtool installed (Debian's prometheus package; CI installs it) the rules also pass
// `promtool check rules`, which parses every expression.
func TestMonitoringMetricsExist(t *testing.T) {
	live, liveLabels := liveMetrics(t)
	rules, dash := monitoringExprs(t)
	used := map[string]map[string]bool{"rules": {}, "dashboard": {}}
	for name, exprs := range map[string]map[string]string{"rules": rules, "dashboard": dash} {
		for where, e := range exprs {
			for _, m := range heraldMetric.FindAllString(e, -1) {
				used[name][m] = true
				if !live[m] {
					t.Errorf("%s %s: metric %s is not served by /metrics", name, where, m)
				}
			}
			// A label matched on must be one the metric's samples carry (instance and job are
			// Prometheus's own). A labelled series with no sample yet is not checked.
			for _, sel := range selector.FindAllStringSubmatch(e, -1) {
				have, seen := liveLabels[sel[1]]
				if !seen {
					continue
				}
				for _, lm := range selectorLabel.FindAllStringSubmatch(sel[2], -1) {
					if l := lm[1]; l != "instance" && l != "job" && !have[l] {
						t.Errorf("%s %s: %s has no label %q on /metrics", name, where, sel[1], l)
					}
				}
			}
		}
	}
	for _, m := range []string{
		"herald_sip_rejected_total", "herald_sip_forward_errors_total", // call failures
		"herald_msrp_deliveries_total",                          // push failures
		"herald_rtp_packets_late_total",                         // RTP lateness
		"herald_msrp_connections_refused_total",                 // MSRP refusals
		"herald_panics_total",                                   // panics
		"herald_sip_draining", "herald_sip_drain_aborted_total", // drain
	} {
		for _, name := range []string{"rules", "dashboard"} {
			if !used[name][m] {
				t.Errorf("the %s do not use %s", name, m)
			}
		}
	}
	var all []string
	for m := range used["rules"] {
		all = append(all, m)
	}
	sort.Strings(all)
	t.Logf("%d alert rules, %d dashboard queries; rules use %s", len(rules), len(dash), strings.Join(all, " "))

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatal("promtool not installed (Debian package prometheus; HERALD_REQUIRE_PEERS=1)")
		}
		t.Log("promtool not installed: rules checked for structure only")
		return
	}
	out, err := exec.Command(promtool, "check", "rules", alertsFile).CombinedOutput() //nolint:gosec // the repository's own file
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
