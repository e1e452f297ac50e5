package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/provision"
)

// cmdCheck validates a config file: every problem on its own line with file:line:col, exit 1 on any.
func cmdCheck(path string, stdout, stderr io.Writer) int {
	if path == "" {
		fmt.Fprintln(stderr, "herald check: -c FILE is required")
		return 2
	}
	opts, err := config.Load(path)
	if err != nil {
		var probs config.Errors
		if errors.As(err, &probs) {
			for _, p := range probs {
				fmt.Fprintln(stderr, p.String())
			}
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", path, len(probs))
			return 1
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := checkCPUs(opts); err != nil {
		fmt.Fprintln(stderr, err) // CPU lists are checked against this machine's allowed set
		return 1
	}
	if f := opts.HTTP.API.TokensFile; f != "" {
		if _, _, err := provision.ReadTokensFile(f); err != nil {
			fmt.Fprintln(stderr, err) // every bad line with its number, never a token
			return 1
		}
	}
	for _, w := range opts.Warnings {
		fmt.Fprintln(stderr, "warning:", w.String())
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}
