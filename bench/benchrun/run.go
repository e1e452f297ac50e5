package benchrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/herald-ims/herald/bench/benchfmt"
)

// Options of one run.
type Options struct {
	Quick bool
	Only  []string // planes; nil = all
	Out   string   // results directory (bench/results)
	// Work keeps the logs, configs and binaries of the run there; "" = a temporary directory,
	// removed at the end.
	Work string
	// Host is the address every server listens on and every load goes to; loopback only.
	Host string
	Pin  bool          // pin Herald's MSRP loops and RTP shards (cpu: keys) where the host allows
	Soak time.Duration // call plane: a soak step at the first rate after the sweep (0 = none)
	Root string        // module root
	// Readme is the file whose "Measured" table is regenerated ("" = none).
	Readme string
	Argv   []string // the exact command, recorded in every file
	Stderr io.Writer
	// Settings overrides the preset (tests).
	Settings *Settings
}

// PlanOf returns the plan o would run.
func PlanOf(o Options) (Plan, error) {
	s := FullSettings()
	if o.Quick {
		s = QuickSettings()
	}
	if o.Settings != nil {
		s = *o.Settings
	}
	s.Soak = o.Soak
	return NewPlan(o.Quick, o.Only, s)
}

// Run executes the plan: build, each plane under its cap, then the report. A plane that fails is
// recorded (its JSON says why) and the others still run; the error lists every failure.
func Run(ctx context.Context, o Options) error {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if err := CheckLoopback(o.Host); err != nil {
		return err
	}
	plan, err := PlanOf(o)
	if err != nil {
		return err
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	work := o.Work
	if work == "" {
		if work, err = os.MkdirTemp("", "herald-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if work, err = filepath.Abs(work); err != nil {
		return err
	}
	fmt.Fprintf(o.Stderr, "bench/run: %s\nbench/run: work directory %s\n", plan, work)
	pr := newProgress(o.Stderr, plan.Total())
	go pr.run()
	defer pr.close()

	// The commit and dirty flag as the run starts: the run itself rewrites tracked result files.
	r := &runner{o: o, plan: plan, work: work, bin: filepath.Join(work, "bin"), pr: pr, git: benchfmt.GitState(o.Root)}
	pr.set("build")
	if err := r.build(ctx); err != nil {
		return err
	}
	var errs []error
	for _, pp := range plan.Planes {
		pr.set(pp.Plane)
		f, err := r.plane(ctx, pp)
		if f != nil {
			if werr := f.WriteFile(filepath.Join(o.Out, pp.Plane+".json")); werr != nil {
				errs = append(errs, werr)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pp.Plane, err))
			fmt.Fprintf(o.Stderr, "bench/run: %s: %v\n", pp.Plane, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	pr.set("report")
	if err := Report(o.Out, o.Readme); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type runner struct {
	o         Options
	plan      Plan
	work      string
	bin       string
	pr        *progress
	noLoadgen string // why the generator could not be built ("" = built)
	git       benchfmt.Git
	notes     []string // for every plane's file
}

// build compiles Herald and the plane tools into the work directory (one go build), and the load
// generator on its own so that a missing generator costs only the call plane.
func (r *runner) build(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.plan.BuildCap)
	defer cancel()
	start := time.Now()
	defer func() {
		if d := time.Since(start); d > r.plan.Build {
			r.notes = append(r.notes, fmt.Sprintf("the build took %.0f s, over the %.0f s allowance of a warm Go build cache: a cold cache; the run's bound did not count it",
				d.Seconds(), r.plan.Build.Seconds()))
		}
	}()
	if err := os.MkdirAll(r.bin, 0o755); err != nil {
		return err
	}
	pkgs := []string{"./cmd/herald", "./bench/sipp/sippbench", "./bench/msrpbench/cmd/msrpbench", "./bench/rtpbench"}
	if err := r.goBuild(ctx, pkgs...); err != nil {
		return err
	}
	if r.wants("call") {
		if err := r.goBuild(ctx, "./bench/loadgen/cmd/loadgen"); err != nil {
			r.noLoadgen = err.Error()
		}
	}
	return nil
}

func (r *runner) wants(plane string) bool {
	return slices.ContainsFunc(r.plan.Planes, func(p PlanePlan) bool { return p.Plane == plane })
}

func (r *runner) goBuild(ctx context.Context, pkgs ...string) error {
	// -trimpath: the build cache then serves any checkout of the same sources (a fresh clone
	// compiles nothing already built elsewhere); the tools find the module by HERALD_MODULE_ROOT.
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-trimpath", "-o", r.bin + "/"}, pkgs...)...)
	cmd.Dir = r.o.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("benchrun: go build %s: %w: %s", strings.Join(pkgs, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// plane runs one plane's tool runs and returns its File.
func (r *runner) plane(ctx context.Context, pp PlanePlan) (*benchfmt.File, error) {
	if pp.Plane == "call" {
		return r.callPlane(ctx, pp)
	}
	tr := pp.Runs[0]
	out := filepath.Join(r.work, pp.Plane+".json")
	args := append(slices.Clone(tr.Args), "-json", out)
	if pp.Plane == "sip" {
		args = append(args, "-herald", filepath.Join(r.bin, "herald"))
	}
	argv := append([]string{filepath.Join(r.bin, tr.Tool)}, args...)
	err := r.exec(ctx, tr.Name, pp.Plane, argv, pp.Cap()-Grace)
	f, rerr := benchfmt.ReadFile(out)
	if rerr != nil {
		f = benchfmt.New(pp.Plane, r.o.Root, nil)
		f.Finish()
		f.Notes = append(f.Notes, fmt.Sprintf("%s wrote no results: %v", tr.Tool, errors.Join(err, rerr)))
		for _, t := range tr.Targets {
			f.Targets = append(f.Targets, benchfmt.Target{Name: t, Role: roleOf(t), Error: "no results"})
		}
	}
	f.Command = benchfmt.Quote(r.o.Argv)
	f.ToolCommand = benchfmt.Quote(relArgv(argv, r.work))
	f.Git = r.git
	f.Notes = append(f.Notes, r.notes...)
	return f, err
}

// roleOf guesses a target's role from its name (for placeholders of a tool that wrote nothing).
func roleOf(name string) string {
	if strings.HasPrefix(name, "herald") || name == "wheel" {
		return benchfmt.RoleHerald
	}
	return benchfmt.RoleBaseline
}

// relArgv shows the work directory as $WORK in a recorded command line.
func relArgv(argv []string, work string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, work, "$WORK")
	}
	return out
}

// exec runs argv with stdout and stderr to log files in the work directory (their last line feeds
// the progress display); at limit it is sent SIGINT (the tools then write what they have),
// and killed Grace later.
func (r *runner) exec(ctx context.Context, name, logName string, argv []string, limit time.Duration) error {
	r.pr.set(name)
	stdout, err := os.Create(filepath.Join(r.work, logName+".stdout.log"))
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(r.work, logName+".stderr.log"))
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = r.o.Root
	cmd.Env = append(os.Environ(), "HERALD_MODULE_ROOT="+r.o.Root)
	cmd.Stdout = io.MultiWriter(stdout, r.pr.lines())
	cmd.Stderr = io.MultiWriter(stderr, r.pr.lines())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("benchrun: %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var capped bool
	select {
	case err = <-done:
	case <-ctx.Done():
		err = r.interrupt(cmd, done)
	case <-timer.C:
		capped = true
		err = r.interrupt(cmd, done)
	}
	if capped {
		return fmt.Errorf("%w (%s after %s)", ErrBudget, name, limit)
	}
	if err != nil {
		return fmt.Errorf("benchrun: %s: %w (log %s)", name, err, stderr.Name())
	}
	return nil
}

// interrupt sends SIGINT to the tool's process group, then SIGKILL after Grace.
func (r *runner) interrupt(cmd *exec.Cmd, done chan error) error {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGINT)
	select {
	case err := <-done:
		return err
	case <-time.After(Grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return <-done
	}
}
