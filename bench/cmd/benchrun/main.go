// Command benchrun is bench/run: Herald's whole bench suite in one command, and the report drawn
// from its JSON (package bench/benchrun).
//
//	bench/run [--quick] [--only sip,msrp,rtp,call] [--out bench/results] [--soak 10m] [--work DIR]
//	bench/run --plan [--quick]        # print the plan and its time bound, run nothing
//	bench/run report [--out DIR]      # redraw REPORT.md, the plots and README.md's table from the JSON
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/herald-ims/herald/bench/benchrun"
)

func main() {
	argv := os.Args
	if a0 := os.Getenv("HERALD_BENCH_ARGV0"); a0 != "" {
		argv = append([]string{a0}, os.Args[1:]...)
	}
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	if len(os.Args) > 1 && os.Args[1] == "report" {
		fs := flag.NewFlagSet("report", flag.ExitOnError)
		out := fs.String("out", "bench/results", "results directory holding the JSON")
		readme := fs.String("readme", "README.md", "file whose Measured table is regenerated (\"\" = none)")
		_ = fs.Parse(os.Args[2:])
		if err := benchrun.Report(*out, *readme); err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "bench/run report: wrote %s and %s\n", filepath.Join(*out, "REPORT.md"), filepath.Join(*out, benchrun.PlotDir))
		return
	}
	var o benchrun.Options
	var only, pin string
	flag.BoolVar(&o.Quick, "quick", false, "the quick sweep: under 5 minutes on 2 cores, every plane and baseline, fewer and shorter steps")
	flag.StringVar(&only, "only", "", "comma-separated planes to run: "+strings.Join(benchrun.Planes, ","))
	flag.StringVar(&o.Out, "out", "bench/results", "results directory: <plane>.json, REPORT.md, plots/")
	flag.StringVar(&o.Work, "work", "", "keep binaries, configs and logs here (default: a temporary directory, removed)")
	flag.StringVar(&o.Host, "host", "127.0.0.1", "address servers listen on and load goes to (loopback only)")
	flag.StringVar(&pin, "pin", "auto", "auto: pin Herald's MSRP loops and RTP shards to the upper half of the CPUs (cpu: keys) when there are 2 or more; off")
	flag.DurationVar(&o.Soak, "soak", 0, "call plane: also hold the first rate this long (e.g. 10m; add it to the duration)")
	flag.StringVar(&o.Readme, "readme", "README.md", "file whose Measured table is regenerated (\"\" = none)")
	planOnly := flag.Bool("plan", false, "print the plan and its time bound, run nothing")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments %q (subcommand: report)", flag.Args()))
	}
	if only != "" {
		o.Only = strings.Split(only, ",")
	}
	switch pin {
	case "auto":
		o.Pin = true
	case "off":
	default:
		fail(fmt.Errorf("--pin %q: want auto or off", pin))
	}
	o.Root, o.Argv, o.Stderr = root, argv, os.Stderr
	plan, err := benchrun.PlanOf(o)
	if err != nil {
		fail(err)
	}
	if *planOnly {
		fmt.Println(plan)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	err = benchrun.Run(ctx, o)
	fmt.Fprintf(os.Stderr, "bench/run: done in %s (bound %s); results in %s\n", time.Since(start).Round(time.Second), plan.Total(), o.Out)
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/run:", err)
	os.Exit(1)
}
