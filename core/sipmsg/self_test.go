package sipmsg

import "testing"

// TestSelf covers Self outside a server: the URI form of the advertised host (an IPv6 address
// bracketed once, names and IPv4 left as they are) and the aliases NewSelf refuses. The rule itself,
// on both paths, is core/signal's TestIsSelfOneRule.
func TestSelf(t *testing.T) {
	for host, want := range map[string]string{"2001:db8::1": "[2001:db8::1]", "[::1]": "[::1]",
		"herald.example": "herald.example", "192.0.2.1": "192.0.2.1", "fe80::1%eth0": "fe80::1%eth0"} {
		s, err := NewSelf(host, nil)
		if err != nil || s.URI != want {
			t.Errorf("NewSelf(%q).URI = %q, %v; want %q", host, s.URI, err, want)
		}
	}
	for _, bad := range []string{"lb.example:0", "lb.example:x", ":5060", "[2001:db8::1]:65536"} {
		if _, err := NewSelf("h", []string{bad}); err == nil {
			t.Errorf("NewSelf(alias %q): no error", bad)
		}
	}
	serves := func(port int) bool { return port == 5070 }
	s, err := NewSelf("::1", []string{"as.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		port int
		want bool
	}{{"[::1]", 5070, true}, {"::1", 5070, true}, {"0:0:0:0:0:0:0:1", 5070, true}, {"[::1]", 5060, false},
		{"::2", 5070, false}, {"AS.EXAMPLE", 1, true}, {"as.example.", 5070, false}, {"[", 5070, false}, {"", 5070, false}} {
		if got := IsSelf(&s, tc.host, tc.port, serves); got != tc.want {
			t.Errorf("IsSelf(%q, %d) = %t, want %t", tc.host, tc.port, got, tc.want)
		}
		if got := IsSelf(&s, []byte(tc.host), tc.port, serves); got != tc.want {
			t.Errorf("IsSelf([]byte %q, %d) = %t, want %t", tc.host, tc.port, got, tc.want)
		}
	}
}
