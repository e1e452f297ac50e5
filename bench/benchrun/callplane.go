package benchrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/herald-ims/herald/bench/benchfmt"
	"github.com/herald-ims/herald/bench/sipp"
	"github.com/herald-ims/herald/netio/cpu"
)

// callLabels say what each call-plane target is.
var callLabels = map[string]string{
	"herald":         "Herald, whole push call: SIP + both pages over MSRP + ringback RTP (the mix)",
	"herald-plain":   "Herald, plain calls only (no cards, no ringback)",
	"herald-push":    "Herald, push calls only: both cards (pages fetched over MSRP) + 199, no ringback",
	"kamailio-plain": "Kamailio 5.6, stateful record-routing proxy, plain calls only",
}

// callPlane runs the generator: the mix against a Herald started from `loadgen herald-config`, then
// the plain mix against Herald, the push flow alone against Herald and the plain mix against
// Kamailio, one generator run per rate so that the server's CPU (Kamailio's workers included) is
// measured per step here.
func (r *runner) callPlane(ctx context.Context, pp PlanePlan) (*benchfmt.File, error) {
	f := benchfmt.New("call", r.o.Root, r.o.Argv)
	f.Git = r.git
	f.Notes = append(f.Notes, r.notes...)
	defer f.Finish()
	if r.noLoadgen != "" {
		f.Notes = append(f.Notes, "load generator not built: "+r.noLoadgen)
		for _, tr := range pp.Runs {
			f.Targets = append(f.Targets, benchfmt.Target{Name: tr.Targets[0], Role: roleOf(tr.Targets[0]), Error: "no load generator"})
		}
		return f, fmt.Errorf("benchrun: no load generator (bench/loadgen/cmd/loadgen)")
	}
	var errs []error
	var cmds []string
	for _, tr := range pp.Runs {
		if ctx.Err() != nil {
			break
		}
		name := tr.Targets[0]
		t := benchfmt.Target{Name: name, Role: roleOf(name), Label: callLabels[name], LoadUnit: "calls/s"}
		dir := filepath.Join(r.work, "call-"+name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return f, err
		}
		cmd, err := r.callTarget(ctx, tr, dir, &t, f)
		if cmd != "" {
			cmds = append(cmds, cmd)
		}
		if err != nil {
			t.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		f.Targets = append(f.Targets, t)
	}
	f.ToolCommand = strings.Join(cmds, " ; ")
	return f, errors.Join(errs...)
}

// server is Herald or Kamailio as started for one call-plane target.
type server struct {
	proc     *sipp.Proc
	sip      string // host:port
	varz     string // Herald's admin /metrics URL (goroutines), "" for Kamailio
	children bool   // count the workers' CPU (Kamailio)
}

func (r *runner) callTarget(ctx context.Context, tr ToolRun, dir string, t *benchfmt.Target, f *benchfmt.File) (string, error) {
	calleePort, err := sipp.FreePort()
	if err != nil {
		return "", err
	}
	callee := fmt.Sprintf("%s:%d", r.o.Host, calleePort)
	var srv server
	if t.Name == "kamailio-plain" {
		srv, err = r.startKamailio(ctx, dir, callee)
	} else {
		srv, err = r.startHerald(ctx, dir, callee, f)
	}
	if err != nil {
		return "", err
	}
	defer srv.proc.Stop(5 * time.Second)
	base := []string{filepath.Join(r.bin, "loadgen"), "run", "-herald", "udp:" + srv.sip, "-callee", callee,
		"-transport", "udp", "-pid", strconv.Itoa(srv.proc.Pid()), "-progress"}
	if srv.varz != "" {
		base = append(base, "-varz", srv.varz)
	}
	for _, a := range []string{base[3], base[5]} {
		if err := CheckLoopback(a); err != nil {
			return "", err
		}
	}
	// The mix: one generator run over every rate. The plain runs: one per rate.
	rates := [][]string{tr.Args}
	if t.Name != "herald" {
		rates = nil
		for _, rate := range planRates(tr) {
			rates = append(rates, withFlag(tr.Args, "-rates", rate))
		}
	}
	var cmdline string
	for i, args := range rates {
		out := filepath.Join(dir, fmt.Sprintf("loadgen-%d.json", i))
		argv := append(append(slices.Clone(base), args...), "-json", out)
		cmdline = benchfmt.Quote(relArgv(argv, r.work))
		cpu0, _ := sipp.CPUTime(srv.proc.Pid(), srv.children)
		limit := tr.Cap() / time.Duration(len(rates))
		err := r.exec(ctx, "loadgen "+t.Name, "call-"+t.Name+"-"+strconv.Itoa(i), argv, limit)
		cpu1, _ := sipp.CPUTime(srv.proc.Pid(), srv.children)
		lf, rerr := readLoadgen(out)
		if rerr != nil {
			return cmdline, errors.Join(err, rerr)
		}
		steps := loadgenSteps(lf)
		if v, ok := steps[0].M["server_cpu_ms_per_call"]; ok && len(steps) == 1 && t.Name != "kamailio-plain" {
			// The generator's own reading of Herald over the measured step alone (not its ramp, the
			// drain or the idle start): what herald-push against herald-plain is read from.
			steps[0].M["server_step_cpu_ms_per_call"] = v
		}
		if t.Name != "herald" && len(steps) == 1 && steps[0].M["completed"] > 0 {
			// The server's CPU over this one-step run, measured here with Kamailio's workers
			// (the generator reads only the process it is given).
			steps[0].M["server_cpu_ms_per_call"] = benchfmt.Round((cpu1-cpu0).Seconds()*1000/steps[0].M["completed"], 4)
		}
		t.Steps = append(t.Steps, steps...)
		t.Samples = append(t.Samples, lf.Samples...)
		if lf.Stopped != "" {
			f.Notes = append(f.Notes, fmt.Sprintf("%s: the generator stopped the sweep: %s", t.Name, lf.Stopped))
		}
		if lf.SoakS > 0 {
			f.Notes = append(f.Notes, fmt.Sprintf("%s: the last step is a soak of %.0f s at the first rate", t.Name, lf.SoakS))
		}
		if err != nil {
			return cmdline, err
		}
	}
	return cmdline, nil
}

// planRates are the rates of a tool run's steps.
func planRates(tr ToolRun) []string {
	var out []string
	for _, s := range tr.Steps {
		if !strings.HasSuffix(s.Target, " soak") {
			out = append(out, fmtF(s.Load))
		}
	}
	return out
}

// withFlag returns args with flag's value replaced.
func withFlag(args []string, flag, value string) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			out[i+1] = value
			return out
		}
	}
	return append(out, flag, value)
}

// startHerald writes the bench config with `loadgen herald-config`, adds the CPU pinning, checks
// that every address in it is on loopback, starts Herald and waits for it to answer OPTIONS.
func (r *runner) startHerald(ctx context.Context, dir, callee string, f *benchfmt.File) (server, error) {
	sipPort, err := sipp.FreePort()
	if err != nil {
		return server{}, err
	}
	adminPort, err := sipp.FreePort()
	if err != nil {
		return server{}, err
	}
	sipAddr := fmt.Sprintf("%s:%d", r.o.Host, sipPort)
	admin := fmt.Sprintf("%s:%d", r.o.Host, adminPort)
	gen := exec.CommandContext(ctx, filepath.Join(r.bin, "loadgen"), "herald-config", "-dir", dir, "-callee", callee,
		"-transport", "udp", "-herald-sip", sipAddr, "-admin", admin)
	gen.Dir = r.o.Root
	out, err := gen.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return server{}, fmt.Errorf("benchrun: loadgen herald-config: %w", err)
	}
	cfgPath := strings.TrimSpace(string(out))
	if cfgPath == "" {
		cfgPath = filepath.Join(dir, "herald.yaml")
	}
	yml, err := os.ReadFile(cfgPath)
	if err != nil {
		return server{}, err
	}
	if r.o.Pin {
		var note string
		yml, note, err = PinConfig(yml, cpu.Available())
		if err != nil {
			return server{}, err
		}
		if note != "" && !slices.Contains(f.Notes, note) {
			f.Notes = append(f.Notes, note)
		}
	}
	if err := CheckConfigLoopback(yml); err != nil {
		return server{}, err
	}
	if err := os.WriteFile(cfgPath, yml, 0o600); err != nil {
		return server{}, err
	}
	p, err := sipp.Start(dir, "herald", filepath.Join(r.bin, "herald"), "serve", "-c", cfgPath)
	if err != nil {
		return server{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sipp.Ping(pctx, sipAddr); err != nil {
		p.Stop(time.Second)
		return server{}, fmt.Errorf("benchrun: herald did not answer OPTIONS: %w\n%s", err, p.Tail(1500))
	}
	// /metrics, not /varz: go_goroutines is there (the generator reads either form).
	return server{proc: p, sip: sipAddr, varz: "http://" + admin + "/metrics"}, nil
}

// startKamailio starts Kamailio 5.6 as a stateful record-routing proxy toward the generator's callee.
func (r *runner) startKamailio(ctx context.Context, dir, callee string) (server, error) {
	port, err := sipp.FreePort()
	if err != nil {
		return server{}, err
	}
	p, err := sipp.StartKamailio(ctx, dir, sipp.KamailioConfig{Port: port, Children: 2, ShmMB: 1024, PkgMB: 32,
		Target: "sip:" + callee + ";transport=udp"})
	if err != nil {
		return server{}, err
	}
	return server{proc: p, sip: fmt.Sprintf("127.0.0.1:%d", port), children: true}, nil
}

// PinConfig adds CPU pinning to a Herald YAML config through its own keys (cpu.msrp_loops,
// cpu.rtp_shards, with msrp.loops and rtp.shards set to match): the MSRP loops and the RTP shards
// go to the upper half of the CPUs this process may use, leaving the lower half to the load
// generator and the kernel. With fewer than 2 CPUs it changes nothing. It returns the new YAML and
// a note saying what it did.
func PinConfig(yml []byte, avail []int) ([]byte, string, error) {
	if len(avail) < 2 {
		return yml, fmt.Sprintf("no CPU pinning: %d CPU(s) available", len(avail)), nil
	}
	var root map[string]any
	if err := yaml.Unmarshal(yml, &root); err != nil {
		return nil, "", fmt.Errorf("benchrun: bench config: %w", err)
	}
	if root == nil {
		root = map[string]any{}
	}
	half := slices.Clone(avail[len(avail)/2:])
	sub := func(k string) map[string]any {
		m, ok := root[k].(map[string]any)
		if !ok {
			m = map[string]any{}
			root[k] = m
		}
		return m
	}
	c := sub("cpu")
	c["msrp_loops"], c["rtp_shards"] = half, half
	sub("msrp")["loops"] = len(half)
	sub("rtp")["shards"] = len(half)
	out, err := yaml.Marshal(root)
	if err != nil {
		return nil, "", err
	}
	return out, fmt.Sprintf("Herald pinned: cpu.msrp_loops and cpu.rtp_shards = %s of %s available", cpu.Format(half), cpu.Format(avail)), nil
}
