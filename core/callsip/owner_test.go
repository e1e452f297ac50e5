package callsip

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPushSessionsClosedInOnePlace proves the SIP glue's half of the push sessions' one owner (the
// machine's half is core/call's TestPushSessionsOneOwner): in the production code of core/callsip
// and of core/signal, the server it runs under, the MSRP plane's Close is called from closeSession
// only, and closeSession only where the call's machine says so (Call.act: call.ActClosePush,
// call.ActRefuseBind) or where addCallerCard undoes a session it opened but could not offer. (It was
// called from six places: the controller's cleanup, finish, the refused and the declined UPDATE,
// the resend without the part, addCallerCard.)
func TestPushSessionsClosedInOnePlace(t *testing.T) {
	var files []string
	for _, dir := range []string{".", "../signal"} {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(names) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		files = append(files, names...)
	}
	fset := token.NewFileSet()
	var closers, callers []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if recv, ok := sel.X.(*ast.SelectorExpr); ok && recv.Sel.Name == "MSRP" && sel.Sel.Name == "Close" {
					closers = append(closers, fn.Name.Name)
				}
				if sel.Sel.Name == "closeSession" {
					callers = append(callers, fn.Name.Name)
				}
				return true
			})
		}
	}
	if !slices.Equal(closers, []string{"closeSession"}) {
		t.Errorf("MSRP.Close called from %v, want closeSession only", closers)
	}
	slices.Sort(callers)
	callers = slices.Compact(callers)
	if !slices.Equal(callers, []string{"act", "addCallerCard"}) {
		t.Errorf("closeSession called from %v, want act (the machine's ClosePush and RefuseBind) and addCallerCard", callers)
	}
}
