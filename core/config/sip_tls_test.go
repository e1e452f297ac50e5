package config

import (
	"errors"
	"slices"
	"testing"
)

// TestSIPTLSClient: sip.tls_client_* (outbound SIP over TLS toward a sips: or transport=tls next hop,
// RFC 3261 §26.3.1): verification is on by default with the system roots, a CA file and a client
// certificate are kept as given, insecure is a warning at its key, insecure with a CA file is a
// conflict at tls_client_ca, and a client certificate needs its key and the other way round.
func TestSIPTLSClient(t *testing.T) {
	t.Run("defaults verify with the system roots", func(t *testing.T) {
		o, err := Parse("t.yaml", []byte(hop))
		if err != nil {
			t.Fatal(err)
		}
		if s := o.SIP; s.TLSClientCA != "" || s.TLSClientInsecure || s.TLSClientCert != "" || s.TLSClientKey != "" {
			t.Fatalf("sip %+v", s)
		}
	})
	t.Run("ca and client certificate kept", func(t *testing.T) {
		o, err := Parse("t.yaml", []byte(hop+"  tls_client_ca: /etc/herald/tls/carrier-ca.pem\n"+
			"  tls_client_cert: /etc/herald/tls/ps.crt\n  tls_client_key: /etc/herald/tls/ps.key\n"))
		if err != nil {
			t.Fatal(err)
		}
		s := o.SIP
		if s.TLSClientCA != "/etc/herald/tls/carrier-ca.pem" || s.TLSClientInsecure ||
			s.TLSClientCert != "/etc/herald/tls/ps.crt" || s.TLSClientKey != "/etc/herald/tls/ps.key" {
			t.Fatalf("sip %+v", s)
		}
		for _, w := range o.Warnings {
			if w.Line > 2 {
				t.Errorf("warning %s", w)
			}
		}
	})
	t.Run("insecure warns", func(t *testing.T) {
		o, err := Parse("t.yaml", []byte(hop+"  tls_client_insecure: true\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := "t.yaml:3:3: sip.tls_client_insecure: next hops' TLS certificates are not verified (labs only)"
		got := make([]string, len(o.Warnings))
		for i, w := range o.Warnings {
			got[i] = w.String()
		}
		if !o.SIP.TLSClientInsecure || !slices.Contains(got, want) {
			t.Fatalf("insecure %t warnings %q, want %q", o.SIP.TLSClientInsecure, got, want)
		}
	})
	for name, tc := range map[string]struct {
		src   string
		want  string
		class error
	}{
		"insecure with a ca file conflicts": {
			"  tls_client_ca: ca.pem\n  tls_client_insecure: true\n",
			"t.yaml:3:3: sip.tls_client_ca: unused when sip.tls_client_insecure is true", ErrConflict,
		},
		"cert without key": {
			"  tls_client_cert: ps.crt\n",
			"t.yaml:3:3: sip.tls_client_cert: needs sip.tls_client_key", ErrRequired,
		},
		"key without cert": {
			"  tls_client_key: ps.key\n",
			"t.yaml:3:3: sip.tls_client_key: needs sip.tls_client_cert", ErrRequired,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := problems(t, hop+tc.src)
			if want := []string{tc.want}; !slices.Equal(got, want) || !errors.Is(err, tc.class) {
				t.Fatalf("problems %q (%v), want %q", got, err, want)
			}
		})
	}
	t.Run("wrong type", func(t *testing.T) {
		got, err := problems(t, hop+"  tls_client_insecure: [yes]\n")
		if len(got) != 1 || !errors.Is(err, ErrType) {
			t.Fatalf("problems %q (%v)", got, err)
		}
	})
}
