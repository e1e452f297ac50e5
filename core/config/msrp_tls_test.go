package config

import (
	"errors"
	"slices"
	"testing"
)

// TestMSRPTLSClient: msrp.tls_client_ca and msrp.tls_client_insecure (Herald active over msrps, RFC
// 6135): verification is on by default with the system roots, a CA file is kept as given, insecure is
// a warning at its key, and both together are a conflict at tls_client_ca.
func TestMSRPTLSClient(t *testing.T) {
	t.Run("defaults verify with the system roots", func(t *testing.T) {
		o, err := Parse("t.yaml", []byte(hop))
		if err != nil {
			t.Fatal(err)
		}
		if o.MSRP.TLSClientCA != "" || o.MSRP.TLSClientInsecure {
			t.Fatalf("msrp %+v", o.MSRP)
		}
	})
	t.Run("ca file kept", func(t *testing.T) {
		o, err := Parse("t.yaml", []byte(hop+"msrp:\n  tls_client_ca: /etc/herald/tls/terminals-ca.pem\n"))
		if err != nil {
			t.Fatal(err)
		}
		if o.MSRP.TLSClientCA != "/etc/herald/tls/terminals-ca.pem" || o.MSRP.TLSClientInsecure {
			t.Fatalf("msrp %+v", o.MSRP)
		}
		for _, w := range o.Warnings {
			if w.Line > 2 {
				t.Errorf("warning %s", w)
			}
		}
	})
	t.Run("insecure warns", func(t *testing.T) {
		o, err := Parse("t.yaml", []byte(hop+"msrp:\n  tls_client_insecure: true\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := "t.yaml:4:3: msrp.tls_client_insecure: terminals' msrps certificates are not verified (labs only)"
		got := make([]string, len(o.Warnings))
		for i, w := range o.Warnings {
			got[i] = w.String()
		}
		if !o.MSRP.TLSClientInsecure || !slices.Contains(got, want) {
			t.Fatalf("insecure %t warnings %q, want %q", o.MSRP.TLSClientInsecure, got, want)
		}
	})
	t.Run("insecure with a ca file conflicts", func(t *testing.T) {
		got, err := problems(t, hop+"msrp:\n  tls_client_ca: ca.pem\n  tls_client_insecure: true\n")
		want := []string{"t.yaml:4:3: msrp.tls_client_ca: unused when msrp.tls_client_insecure is true"}
		if !slices.Equal(got, want) || !errors.Is(err, ErrConflict) {
			t.Fatalf("problems %q (%v), want %q", got, err, want)
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		got, err := problems(t, hop+"msrp:\n  tls_client_insecure: [yes]\n")
		if len(got) != 1 || !errors.Is(err, ErrType) {
			t.Fatalf("problems %q (%v)", got, err)
		}
	})
}
