package benchrun

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Planes in run order.
var Planes = []string{"sip", "msrp", "rtp", "call"}

// Plan is what a run will do and how long each part may take at most. The runner stops a plane
// at its Cap (SIGINT, then SIGKILL after Grace), so a run never lasts longer than Total.
type Plan struct {
	Quick bool
	// Build is the allowance for building Herald and the tools with a warm Go build cache (any
	// earlier build of the same sources, in any checkout: the runner builds with -trimpath); it is
	// what Total counts. BuildCap is the hard stop of a build from a cold cache, which is not
	// counted: compiling everything takes 1-2 minutes on 2 cores.
	Build    time.Duration
	BuildCap time.Duration
	Planes   []PlanePlan
	Report   time.Duration // allowance for writing the JSON, the report and the plots
}

// PlanePlan is one plane: the tool invocations and their steps.
type PlanePlan struct {
	Plane string
	Runs  []ToolRun
}

// ToolRun is one invocation of a plane tool (or of Herald + the generator) against some targets.
type ToolRun struct {
	Name    string   // short name for progress lines, e.g. "sippbench", "loadgen herald"
	Tool    string   // binary name in the bin directory: sippbench, msrpbench, rtpbench, loadgen
	Args    []string // its flags (the runner adds -json and addresses)
	Targets []string // targets it measures
	// Steps are the planned load steps with the longest each may take; Setup covers starting
	// servers and peers, Drain the tail after the last step.
	Steps        []PlannedStep
	Setup, Drain time.Duration
}

// PlannedStep is one load step.
type PlannedStep struct {
	Target string
	Load   float64
	Max    time.Duration
}

// Grace is how long a tool has to write its JSON after SIGINT at its cap.
const Grace = 5 * time.Second

// Cap is the longest the run may take.
func (r ToolRun) Cap() time.Duration {
	d := r.Setup + r.Drain
	for _, s := range r.Steps {
		d += s.Max
	}
	return d
}

// Cap is the longest the plane may take, graces included.
func (p PlanePlan) Cap() time.Duration {
	var d time.Duration
	for _, r := range p.Runs {
		d += r.Cap() + Grace
	}
	return d
}

// Total is the longest the whole run may take with a warm build cache (a cold one adds up to
// BuildCap - Build).
func (p Plan) Total() time.Duration {
	d := p.Build + p.Report
	for _, pp := range p.Planes {
		d += pp.Cap()
	}
	return d
}

// QuickLimit is what --quick must fit in on a 2-core machine (issue 14's acceptance).
const QuickLimit = 5 * time.Minute

// Settings are the knobs of a plan; QuickSettings and FullSettings are the two presets.
type Settings struct {
	Build time.Duration
	// SIP (sippbench): targets, step length, per-target budget, first rate, bisections.
	SIPTargets []string
	SIPStep    time.Duration
	SIPBudget  time.Duration
	SIPStart   float64
	SIPBisect  int
	SIPRecv    time.Duration
	// MSRP (msrpbench): terminal levels, runs, rounds, held connections.
	MSRPTerminals []int
	MSRPRuns      int
	MSRPRounds    int
	MSRPHold      int
	// RTP (rtpbench): stream levels, ramp, measurement window.
	RTPLevels  []int
	RTPRamp    time.Duration
	RTPMeasure time.Duration
	RTPAll     bool // run every level even after one fails (-stop-on-fail=false)
	// Call (loadgen): rates, step, ramp, hold, mix; the plain-mix runs against Herald and Kamailio.
	CallRates      []float64
	CallStep       time.Duration
	CallRamp       time.Duration
	CallHold       time.Duration
	CallTimeout    time.Duration // the generator's -call-timeout: an unanswered call ends hold + this after its INVITE
	CallMix        string
	CallPlainRates []float64
	Soak           time.Duration
}

// QuickSettings fit QuickLimit on 2 cores (TestQuickPlanFitsBudget).
func QuickSettings() Settings {
	return Settings{
		Build:      30 * time.Second,
		SIPTargets: []string{"sipp-direct", "herald-plain", "herald-push", "kamailio-plain"},
		SIPStep:    2 * time.Second, SIPBudget: 12 * time.Second, SIPStart: 500, SIPBisect: 0, SIPRecv: 4 * time.Second,
		MSRPTerminals: []int{100, 400}, MSRPRuns: 1, MSRPRounds: 4, MSRPHold: 1000,
		RTPLevels: []int{500, 1000, 2000}, RTPRamp: 500 * time.Millisecond, RTPMeasure: time.Second, RTPAll: true,
		CallRates: []float64{50, 200}, CallStep: 3 * time.Second, CallRamp: time.Second, CallHold: time.Second, CallTimeout: 2 * time.Second,
		CallMix:        "plain=25,caller=25,both=25,ringback=25",
		CallPlainRates: []float64{150},
	}
}

// FullSettings is the default sweep (bench/README.md gives its expected duration).
func FullSettings() Settings {
	return Settings{
		Build: 3 * time.Minute,
		// Both legs over TCP too: what an IMS core uses for requests over 1,300 bytes (RFC 3261 §18.1.1).
		SIPTargets: []string{"sipp-direct", "herald-plain", "herald-push", "kamailio-plain", "herald-plain-tcp", "kamailio-plain-tcp"},
		SIPStep:    3 * time.Second, SIPBudget: 55 * time.Second, SIPStart: 250, SIPBisect: 2, SIPRecv: 8 * time.Second,
		MSRPTerminals: []int{100, 1000, 3000}, MSRPRuns: 3, MSRPRounds: 8, MSRPHold: 10000,
		RTPLevels: []int{1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000}, RTPRamp: time.Second, RTPMeasure: 2 * time.Second,
		CallRates: []float64{50, 100, 200, 400, 700, 1000}, CallStep: 20 * time.Second, CallRamp: 3 * time.Second, CallHold: 2 * time.Second, CallTimeout: 15 * time.Second,
		CallMix:        "plain=25,caller=25,both=25,ringback=25",
		CallPlainRates: []float64{100, 400, 1000},
	}
}

// NewPlan builds the plan of the given planes (nil: all) from s.
func NewPlan(quick bool, only []string, s Settings) (Plan, error) {
	for _, p := range only {
		if !slices.Contains(Planes, p) {
			return Plan{}, fmt.Errorf("%w: %q (want %s)", ErrPlane, p, strings.Join(Planes, ","))
		}
	}
	p := Plan{Quick: quick, Build: s.Build, BuildCap: 5 * time.Minute, Report: 10 * time.Second}
	want := func(name string) bool { return len(only) == 0 || slices.Contains(only, name) }
	if want("sip") {
		p.Planes = append(p.Planes, sipPlan(s))
	}
	if want("msrp") {
		p.Planes = append(p.Planes, msrpPlan(s))
	}
	if want("rtp") {
		p.Planes = append(p.Planes, rtpPlan(s))
	}
	if want("call") {
		p.Planes = append(p.Planes, callPlan(s))
	}
	return p, nil
}

// sipPlan: sippbench climbs each target's rate ladder while the next step still ends within its
// budget; the last step may overrun that end by SIPp's receive timeout (unanswered calls end then),
// the 3 s drain after an unclean step and SIPp's start and exit (< 1 s). Setup: starting SIPp, the server and the readiness probes.
func sipPlan(s Settings) PlanePlan {
	pp := PlanePlan{Plane: "sip"}
	args := []string{"-targets", strings.Join(s.SIPTargets, ","), "-step", s.SIPStep.String(),
		"-budget", s.SIPBudget.String(), "-start", fmtF(s.SIPStart), "-bisect", strconv.Itoa(s.SIPBisect),
		"-recv", s.SIPRecv.String()}
	r := ToolRun{Name: "sippbench", Tool: "sippbench", Args: args, Targets: s.SIPTargets}
	for _, t := range s.SIPTargets {
		r.Steps = append(r.Steps, PlannedStep{Target: t, Load: s.SIPStart, Max: s.SIPBudget + s.SIPRecv + 4*time.Second})
		r.Setup += 5 * time.Second
	}
	pp.Runs = append(pp.Runs, r)
	return pp
}

// msrpPlan: msrpbench runs each server per level: a warm-up round, one idle second and the
// measured rounds; a round of n terminals fetching a 16 KiB page takes well under a second on
// loopback up to 3,000 terminals, allowed 2 s per round; the memory phase opens and holds the
// connections (≤ 10 s for 10,000).
func msrpPlan(s Settings) PlanePlan {
	pp := PlanePlan{Plane: "msrp"}
	levels := make([]string, len(s.MSRPTerminals))
	for i, n := range s.MSRPTerminals {
		levels[i] = strconv.Itoa(n)
	}
	r := ToolRun{Name: "msrpbench", Tool: "msrpbench", Targets: []string{"herald", "baseline"},
		Args: []string{"-terminals", strings.Join(levels, ","), "-runs", strconv.Itoa(s.MSRPRuns),
			"-rounds", strconv.Itoa(s.MSRPRounds), "-hold", strconv.Itoa(s.MSRPHold)},
		Setup: 3 * time.Second}
	for _, n := range s.MSRPTerminals {
		for _, t := range r.Targets {
			per := time.Duration(s.MSRPRuns) * (time.Second + 2*time.Duration(s.MSRPRounds+1)*time.Second/4 + time.Second)
			r.Steps = append(r.Steps, PlannedStep{Target: t, Load: float64(n), Max: per})
		}
	}
	hold := time.Duration(s.MSRPRuns) * 2 * (2*time.Second + time.Duration(s.MSRPHold)*time.Millisecond)
	r.Drain = hold
	pp.Runs = append(pp.Runs, r)
	return pp
}

// rtpPlan: rtpbench runs each implementation per level: the ramp, 200 ms to settle, the window,
// starting and stopping the sink process and the streams (≤ 1 s).
func rtpPlan(s Settings) PlanePlan {
	pp := PlanePlan{Plane: "rtp"}
	levels := make([]string, len(s.RTPLevels))
	for i, n := range s.RTPLevels {
		levels[i] = strconv.Itoa(n)
	}
	r := ToolRun{Name: "rtpbench", Tool: "rtpbench", Targets: []string{"wheel", "ticker"},
		Args: []string{"-net", "loopback", "-levels", strings.Join(levels, ","), "-ramp", s.RTPRamp.String(),
			"-measure", s.RTPMeasure.String()},
		Setup: time.Second}
	if s.RTPAll {
		r.Args = append(r.Args, "-stop-on-fail=false")
	}
	for _, n := range s.RTPLevels {
		for _, t := range r.Targets {
			r.Steps = append(r.Steps, PlannedStep{Target: t, Load: float64(n),
				Max: s.RTPRamp + 200*time.Millisecond + s.RTPMeasure + time.Second + time.Duration(n)*time.Microsecond*200})
		}
	}
	pp.Runs = append(pp.Runs, r)
	return pp
}

// callPlan: the generator runs its steps back to back (each a ramp from the previous rate, not
// measured, then the measured step) against a Herald started for it (the mix), then the plain mix
// against Herald, the push flow alone against Herald and the plain mix against Kamailio, one
// generator run per rate. After the last step it waits for
// every call to end: at most hold + the call timeout (+ 2 s for the BYE and the last fetches).
// Setup is writing the config, starting Herald or Kamailio and the generator's callee (≤ 6 s).
func callPlan(s Settings) PlanePlan {
	pp := PlanePlan{Plane: "call"}
	drain := s.CallHold + s.CallTimeout + 2*time.Second
	mk := func(name, target, mix string, rates []float64, soak time.Duration) ToolRun {
		rs := make([]string, len(rates))
		for i, r := range rates {
			rs[i] = fmtF(r)
		}
		r := ToolRun{Name: name, Tool: "loadgen", Targets: []string{target},
			Args: []string{"-mix", mix, "-rates", strings.Join(rs, ","), "-step", s.CallStep.String(),
				"-ramp", s.CallRamp.String(), "-hold", s.CallHold.String(), "-call-timeout", s.CallTimeout.String()},
			Setup: 6 * time.Second, Drain: drain}
		for _, rate := range rates {
			r.Steps = append(r.Steps, PlannedStep{Target: target, Load: rate, Max: s.CallRamp + s.CallStep})
		}
		if soak > 0 {
			r.Args = append(r.Args, "-soak", soak.String())
			r.Steps = append(r.Steps, PlannedStep{Target: target + " soak", Load: rates[0], Max: s.CallRamp + soak})
		}
		return r
	}
	pp.Runs = append(pp.Runs, mk("loadgen herald", "herald", s.CallMix, s.CallRates, s.Soak))
	if len(s.CallPlainRates) > 0 {
		// One generator run per rate: each pays its own setup and drain. herald-push is the push flow
		// alone (both cards + 199, pages fetched) at the plain runs' rates: its server CPU per call
		// against herald-plain's is the push call's cost in plain calls. These three use the lean
		// terminals (no sipgo: the generator takes less of the box from the server it measures);
		// the mixed run above needs ringback, which only the sipgo terminals account.
		for _, name := range []string{"herald-plain", "herald-push", "kamailio-plain"} {
			mix := "plain=100"
			if name == "herald-push" {
				mix = "both=100"
			}
			r := mk("loadgen "+name, name, mix, s.CallPlainRates, 0)
			r.Args = append(r.Args, "-terminals", "lean")
			n := time.Duration(len(s.CallPlainRates))
			r.Setup += (n - 1) * 2 * time.Second
			r.Drain *= n
			pp.Runs = append(pp.Runs, r)
		}
	}
	return pp
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// String renders the plan for --plan and the progress header.
func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan (quick=%t): build ≤ %s (warm Go build cache; cold: ≤ %s more)", p.Quick, p.Build, p.BuildCap-p.Build)
	for _, pp := range p.Planes {
		fmt.Fprintf(&b, "; %s ≤ %s", pp.Plane, pp.Cap())
	}
	fmt.Fprintf(&b, "; report ≤ %s; total ≤ %s", p.Report, p.Total())
	return b.String()
}
