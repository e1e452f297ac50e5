// Command herald is the IMS push gateway: it pushes caller and callee cards (HTML over MSRP) and
// colour ringback (RTP) during call setup.
//
//	herald serve [-c FILE]   run the gateway (no -c: the embedded default config, data in ./herald-data);
//	                         SIGTERM drains and exits 0, SIGHUP reloads the file (see lifecycle.go)
//	herald check -c FILE [--host-independent]
//	                         validate a config file as serve would use it (files it names, seed, CPUs),
//	                         print every problem as file:line:col; exit 0 ok, 1 problems, 2 usage.
//	                         --host-independent skips the files and CPU lists (see check.go)
//	herald demo [-o DIR]     one whole call on loopback with simulated terminals
//	herald version           print the version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/emiago/sipgo/sip"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// sipgo logs a few transport events through its package default logger; route them to slog's
	// default (stderr, info level) rather than sipgo's own.
	sip.SetDefaultLogger(slog.Default())
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: herald <serve|check|demo|import|version> [flags]")
	fmt.Fprintln(w, "  serve [-c FILE]   run the gateway (default: embedded config)")
	fmt.Fprintln(w, "  check -c FILE [--host-independent]")
	fmt.Fprintln(w, "                    validate a config file (exit 0 ok, 1 problems)")
	fmt.Fprintln(w, "  demo [-o DIR]     place one call on loopback with simulated terminals")
	fmt.Fprintln(w, "  version           print the version")
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfg := fs.String("c", "", "config file (default: embedded)")
		fs.StringVar(cfg, "config", "", "same as -c")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		return cmdServe(*cfg, stderr) // its own signal handling: drain on SIGTERM, reload on SIGHUP
	case "check":
		fs := flag.NewFlagSet("check", flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfg := fs.String("c", "", "config file")
		fs.StringVar(cfg, "config", "", "same as -c")
		hostIndep := fs.Bool("host-independent", false, "skip what depends on this machine: the files the config names and its CPU lists")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		return cmdCheck(*cfg, *hostIndep, stdout, stderr)
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(stderr)
		out := fs.String("o", "herald-demo-out", "folder for the delivered pages")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return cmdDemo(ctx, *out, stdout, stderr)
	case "import":
		return cmdImport(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "herald", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "herald: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}
