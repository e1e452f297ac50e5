package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/herald-ims/herald/configs"
)

// FuzzParse checks that Parse never panics, that every failure is a non-empty Errors whose problems
// carry the file name and a class, and that every success round-trips through yaml.Marshal.
func FuzzParse(f *testing.F) {
	f.Add(configs.Default)
	if b, err := os.ReadFile(filepath.Join("..", "..", "configs", "examples", "herald-prod.yaml")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		hop,
		hop + "  listen: [{transport: tls, addr: \"[::1]:5061\", cert: c, key: k}]\n",
		hop + "msrp:\n  listen: \"0.0.0.0:2855\"\n  advertise: 192.0.2.1\n",
		hop + "t1: &a 1s\nt2: *a\n",
		"sip: {next_hop: \"sips:scscf.example;transport=tls;lr\", trusted: [\"::/0\"]}\n",
		"- 1\n",
		"a: [\n",
		"sip:\n  <<: {t1: 1s}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Parse("f.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty Errors: %v", err)
			}
			for _, p := range errs {
				if p.File != "f.yaml" || p.Err == nil || p.Line < 0 || p.Col < 0 {
					t.Fatalf("bad problem %#v", p)
				}
			}
			return
		}
		out, err := yaml.Marshal(o)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		o2, err := Parse("f.yaml", out)
		if err != nil {
			t.Fatalf("re-parse of marshalled options: %v\n%s", err, out)
		}
		// Warnings point into the original text; compare their count, then the options without them.
		if len(o.Warnings) != len(o2.Warnings) {
			t.Fatalf("warnings differ: %v vs %v", o.Warnings, o2.Warnings)
		}
		a, b := *o, *o2
		a.Warnings, b.Warnings = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip differs:\n%+v\n%+v", o, o2)
		}
	})
}
