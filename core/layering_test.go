// Package core_test holds rules about the core packages as a whole.
package core_test

import (
	"os/exec"
	"slices"
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

// TestSipfastIOFree proves that the fast path's engine and the scanner under it do no I/O of their
// own: core/sipfast depends, directly or not, on no socket package (net, net/http, ...; net/netip,
// addresses as values, is allowed), on no package of sipgo's and on nothing under netio. Its host
// (core/signal) gives it sockets and parsing through interfaces.
func TestSipfastIOFree(t *testing.T) {
	deps := goList(t, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/herald-ims/herald/core/sipfast")
	if !slices.Contains(deps, "github.com/herald-ims/herald/core/wheel") {
		t.Fatalf("go list named no core/wheel among sipfast's %d dependencies: the rule checked nothing", len(deps))
	}
	for _, p := range deps {
		if ioPackage(p) {
			t.Errorf("core/sipfast depends on %s", p)
		}
	}
	// The rule itself can fail: core/signal, the glue, depends on both.
	glue := goList(t, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/herald-ims/herald/core/signal")
	if !slices.ContainsFunc(glue, ioPackage) {
		t.Fatal("ioPackage finds nothing in core/signal's dependencies")
	}
}

// ioPackage reports whether p is a socket package, sipgo, or netio.
func ioPackage(p string) bool {
	return p == "net" || strings.HasPrefix(p, "net/") && p != "net/netip" && !strings.HasPrefix(p, "net/netip/") ||
		strings.HasPrefix(p, "github.com/emiago/sipgo") || strings.HasPrefix(p, "github.com/herald-ims/herald/netio/")
}

// goList runs the go command with args and returns the words of its output.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the import graph: %v", err)
	}
	out, err := exec.Command(goBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	return strings.Fields(string(out))
}
