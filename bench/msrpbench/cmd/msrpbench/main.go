// Command msrpbench compares Herald's MSRP plane (netio/msrp) with a goroutine-per-connection net server
// of the same protocol: page deliveries per second, latency and deliveries per server CPU-second with
// 1,000 concurrent terminals, then resident memory per held bound connection at 10,000 connections.
// Each server runs in a child process of this binary, so its CPU and memory are measured alone.
//
//	go run ./bench/msrpbench/cmd/msrpbench            # defaults: 3 runs, about 1-2 minutes
//	go run ./bench/msrpbench/cmd/msrpbench -runs 1 -hold 1000
//	go run ./bench/msrpbench/cmd/msrpbench -terminals 200,1000 -json msrp.json
//
// -terminals takes a list: the throughput phase runs at each level in turn (a step per level in the
// -json file, bench/benchfmt plane "msrp"), the memory phase once, after the last level.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"

	"github.com/herald-ims/herald/bench/benchfmt"
	"github.com/herald-ims/herald/bench/msrpbench"
)

func main() {
	if kind := os.Getenv(msrpbench.ChildEnv); kind != "" {
		if err := msrpbench.Child(kind, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var cfg msrpbench.Config
	servers := flag.String("servers", "herald,baseline", "server kinds, comma-separated")
	flag.IntVar(&cfg.Runs, "runs", 3, "runs per server")
	flag.IntVar(&cfg.PageSize, "page", 16<<10, "page size in bytes")
	terminals := flag.String("terminals", "1000", "concurrent terminals in the throughput phase (a comma-separated list: one level after the other)")
	jsonOut := flag.String("json", "", "also write the results as a herald-bench/v1 file (bench/benchfmt) here")
	flag.IntVar(&cfg.Rounds, "rounds", 8, "fetches per terminal in the throughput phase")
	flag.IntVar(&cfg.HoldN, "hold", 10000, "bound connections held in the memory phase (0: skip)")
	flag.Parse()
	cfg.Servers = strings.Split(*servers, ",")
	cfg.Log = os.Stderr
	var levels []int
	for _, l := range strings.Split(*terminals, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "msrpbench: -terminals %q: want positive numbers\n", *terminals)
			os.Exit(2)
		}
		levels = append(levels, n)
		cfg.Terminals = max(cfg.Terminals, n)
	}

	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.Exe = exe
	nofile, err := msrpbench.RaiseNoFile()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if need := uint64(max(cfg.HoldN, cfg.Terminals)) + 100; nofile < need {
		fmt.Fprintf(os.Stderr, "RLIMIT_NOFILE %d < %d: lower -hold/-terminals or raise the hard limit\n", nofile, need)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "msrpbench: GOMAXPROCS %d, RLIMIT_NOFILE %d, %s\n", runtime.GOMAXPROCS(0), nofile, runtime.Version())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	jf := benchfmt.New("msrp", "", os.Args)
	holdN := cfg.HoldN
	for i, n := range levels {
		cfg.Terminals, cfg.HoldN = n, 0
		if i == len(levels)-1 {
			cfg.HoldN = holdN
		}
		var rep *msrpbench.Report
		rep, err = msrpbench.Run(ctx, cfg)
		if rep != nil {
			rep.WriteMarkdown(os.Stdout)
			rep.AddTo(jf)
		}
		if err != nil {
			break
		}
	}
	if *jsonOut != "" {
		jf.Finish()
		if werr := jf.WriteFile(*jsonOut); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "msrpbench:", err)
		os.Exit(1)
	}
}
