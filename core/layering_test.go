// Package core_test holds rules about the core packages as a whole.
package core_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreImportsNoNetio proves the layering rule: no production package under core depends, directly
// or through another package, on a package under netio (the sockets and their wiring live in netio,
// which may import core, never the reverse). Tests may import netio to wire real sockets. It reads the
// dependency graph with `go list -deps`, which leaves test files out.
func TestCoreImportsNoNetio(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the import graph: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/herald-ims/herald/core/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/herald-ims/herald/core/") {
			seen++
		}
		if strings.HasPrefix(p, "github.com/herald-ims/herald/netio/") {
			// Name the importer so the fix is obvious.
			who, _ := exec.Command(goBin, "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "github.com/herald-ims/herald/core/...").Output()
			var importers []string
			for _, l := range strings.Split(string(who), "\n") {
				if strings.Contains(l, p) {
					importers = append(importers, strings.SplitN(l, ":", 2)[0])
				}
			}
			t.Errorf("core depends on %s (imported by %v)", p, importers)
		}
	}
	if seen < 10 {
		t.Fatalf("go list named %d core packages: the rule checked nothing", seen)
	}
}
