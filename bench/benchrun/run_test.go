package benchrun

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/benchfmt"
	"github.com/herald-ims/herald/core/config"
)

// TestCheckLoopback: loopback hosts pass, with or without port or transport prefix; any other
// address, a wildcard and a name other than localhost are refused.
func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1", "127.0.0.1:5070", "127.3.4.5:1", "[::1]:5060", "::1", "localhost", "localhost:80", "udp:127.0.0.1:5070", "tcp:[::1]:5"} {
		if err := CheckLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "0.0.0.0", "0.0.0.0:5060", "192.0.2.1:5060", "10.0.0.1", "[2001:db8::1]:5060", "::", "example.com:5060", "udp:198.51.100.7:5060"} {
		if err := CheckLoopback(bad); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: err %v, want ErrNotLoopback", bad, err)
		}
	}
}

// TestRunRefusesNonLoopback: a run aimed off the host stops before it builds or starts anything
// (the results directory is not even created).
func TestRunRefusesNonLoopback(t *testing.T) {
	out := t.TempDir() + "/results"
	start := time.Now()
	err := Run(context.Background(), Options{Quick: true, Host: "192.0.2.10", Out: out, Root: ".", Stderr: os.Stderr})
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("err %v, want ErrNotLoopback", err)
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) || time.Since(start) > 2*time.Second {
		t.Fatalf("the run did work before refusing: stat %v, %s", serr, time.Since(start))
	}
}

// TestConfigLoopback: the bench config Herald is started with is checked key by key: a listener on
// every interface or a next hop off the host is refused and named.
func TestConfigLoopback(t *testing.T) {
	good := `sip:
  listen:
    - {transport: udp, addr: "127.0.0.1:5070"}
  advertise: "127.0.0.1:5070"
  next_hop: "sip:127.0.0.1:5080;transport=udp"
http: {listen: "127.0.0.1:0", admin_listen: ""}
msrp: {listen: "127.0.0.1:0", advertise: 127.0.0.1}
`
	if err := CheckConfigLoopback([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for key, bad := range map[string]string{
		"sip.listen.0.addr": strings.Replace(good, `addr: "127.0.0.1:5070"`, `addr: "0.0.0.0:5070"`, 1),
		"sip.next_hop":      strings.Replace(good, "sip:127.0.0.1:5080", "sip:scscf@203.0.113.9:5060", 1),
		"http.listen":       strings.Replace(good, `listen: "127.0.0.1:0", admin`, `listen: ":8080", admin`, 1),
	} {
		err := CheckConfigLoopback([]byte(bad))
		if !errors.Is(err, ErrNotLoopback) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: err %v", key, err)
		}
	}
}

// TestQuickPlanFitsBudget: --quick's plan, computed from its steps (each step's longest duration,
// setups, drains, the grace after a cap, the build and the report), fits in 5 minutes with 15 s to
// spare for `go run` compiling the runner; it covers every plane and every baseline; and the full
// sweep's bound is what bench/README.md documents.
func TestQuickPlanFitsBudget(t *testing.T) {
	p, err := PlanOf(Options{Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if total := p.Total(); total+15*time.Second > QuickLimit {
		t.Fatalf("quick plan bound %s + 15 s > %s: %s", total, QuickLimit, p)
	}
	targets := map[string]bool{}
	var sum time.Duration
	for _, pp := range p.Planes {
		var runs time.Duration
		for _, r := range pp.Runs {
			for _, t := range r.Targets {
				targets[pp.Plane+"/"+t] = true
			}
			var steps time.Duration
			for _, s := range r.Steps {
				steps += s.Max
			}
			if r.Cap() < steps || len(r.Steps) == 0 {
				t.Errorf("%s %s: cap %s below its %d steps' %s", pp.Plane, r.Name, r.Cap(), len(r.Steps), steps)
			}
			runs += r.Cap() + Grace
		}
		if pp.Cap() != runs {
			t.Errorf("%s: cap %s != its runs' %s", pp.Plane, pp.Cap(), runs)
		}
		sum += pp.Cap()
	}
	if sum+p.Build+p.Report != p.Total() {
		t.Errorf("total %s is not the sum of its parts %s", p.Total(), sum+p.Build+p.Report)
	}
	for _, want := range []string{"sip/sipp-direct", "sip/herald-plain", "sip/herald-push", "sip/kamailio-plain", "msrp/herald", "msrp/baseline",
		"rtp/wheel", "rtp/ticker", "call/herald", "call/herald-plain", "call/kamailio-plain"} {
		if !targets[want] {
			t.Errorf("quick plan lacks %s", want)
		}
	}
	full, err := PlanOf(Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("bound %d min", int(math.Round(full.Total().Minutes()))); !strings.Contains(string(doc), want) {
		t.Errorf("bench/README.md does not give the full sweep's %s", want)
	}
	if _, err := PlanOf(Options{Only: []string{"sip", "dns"}}); !errors.Is(err, ErrPlane) {
		t.Errorf("unknown plane: %v", err)
	}
}

// TestExecStopsAtCap: a tool that outlives its cap is interrupted and reported with ErrBudget, so a
// run's duration is bounded by its plan whatever a tool does.
func TestExecStopsAtCap(t *testing.T) {
	work := t.TempDir()
	pr := newProgress(os.Stderr, time.Second)
	r := &runner{o: Options{Root: "."}, work: work, pr: pr}
	start := time.Now()
	err := r.exec(context.Background(), "sleeper", "sleeper", []string{"sleep", "30"}, 300*time.Millisecond)
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("err %v, want ErrBudget", err)
	}
	if d := time.Since(start); d > Grace+2*time.Second {
		t.Fatalf("stopped after %s", d)
	}
}

// TestPinConfig: pinning goes through Herald's own keys and the result is a config Herald accepts
// (core/config validates that msrp.loops and rtp.shards match the pinned lists).
func TestPinConfig(t *testing.T) {
	base, err := os.ReadFile("../../configs/herald.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, note, err := PinConfig(base, []int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	o, err := config.Parse("pinned.yaml", out)
	if err != nil {
		t.Fatalf("pinned config refused: %v\n%s", err, out)
	}
	if got := o.CPU.MSRPLoops; len(got) != 2 || got[0] != 2 || got[1] != 3 || len(o.CPU.RTPShards) != 2 || !strings.Contains(note, "2-3") {
		t.Fatalf("msrp_loops %v rtp_shards %v note %q", got, o.CPU.RTPShards, note)
	}
	same, note, err := PinConfig(base, []int{0})
	if err != nil || string(same) != string(base) || !strings.Contains(note, "no CPU pinning") {
		t.Fatalf("one CPU: changed=%t note %q err %v", string(same) != string(base), note, err)
	}
}

// TestLoadgenConversion: the generator's output (the contract's example) becomes bench steps with
// the latencies, RTP, Herald's and the generator's CPU, kernel drops and failure causes.
func TestLoadgenConversion(t *testing.T) {
	lf, err := readLoadgen("testdata/loadgen/contract-example.json")
	if err != nil {
		t.Fatal(err)
	}
	steps := loadgenSteps(lf)
	if len(steps) != 1 {
		t.Fatalf("%d steps", len(steps))
	}
	s := steps[0]
	want := map[string]float64{"achieved_cps": 199.7, "attempted": 4000, "completed": 3998, "failed": 2, "setup_p99_ms": 9.9,
		"page_p99_ms": 11, "rtp_lost": 10, "rtp_late_p99_ms": 4.5, "server_cpu_ms_per_call": 2.2, "server_rss_peak_mb": 55, "gen_cpu_ms_per_call": 1.1,
		"kernel_udp_rcvbuf_errors": 0, "mix_ringback_completed": 998}
	for k, v := range want {
		if got, ok := s.M[k]; !ok || got != v {
			t.Errorf("%s = %v (present %t), want %v", k, got, ok, v)
		}
	}
	if s.Load != 200 || s.Clean || s.Failed["timeout"] != 1 || s.Failed["sip_5xx"] != 1 {
		t.Errorf("step %+v", s)
	}
	if _, err := readLoadgen("testdata/sip.json"); err == nil {
		t.Error("a herald-bench/v1 file read as generator output")
	}
	_ = benchfmt.Schema
}

// TestCallPlanTerminals: the call plane's single-kind runs (herald-plain, herald-push,
// kamailio-plain) drive the lean terminals, so the generator takes less of the box from the server
// it measures; the mixed run keeps the sipgo terminals, the only ones that account ringback.
func TestCallPlanTerminals(t *testing.T) {
	for _, quick := range []bool{true, false} {
		p, err := PlanOf(Options{Quick: quick})
		if err != nil {
			t.Fatal(err)
		}
		for _, pp := range p.Planes {
			if pp.Plane != "call" {
				continue
			}
			for _, r := range pp.Runs {
				lean := slices.Contains(r.Args, "lean")
				if want := r.Targets[0] != "herald"; lean != want {
					t.Errorf("quick=%t %s: -terminals lean %t, want %t (args %q)", quick, r.Name, lean, want, r.Args)
				}
			}
		}
	}
}
