package msrp

import (
	"errors"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := map[string]struct {
		in   string
		want URI
		str  string // String() if different from in
	}{
		"rfc4975-basic": {"msrp://atlanta.example.com:7654/jshA7weztas;tcp",
			URI{Host: "atlanta.example.com", Port: 7654, SessionID: "jshA7weztas", Transport: "tcp"}, ""},
		"secure-userinfo-no-session": {"msrps://alice@intra.example.com;tcp",
			URI{Secure: true, Host: "intra.example.com", Transport: "tcp", User: "alice"}, ""},
		"no-port": {"msrp://ps.home1.net/kX9r3Qz7;tcp",
			URI{Host: "ps.home1.net", SessionID: "kX9r3Qz7", Transport: "tcp"}, ""},
		"ipv4": {"msrp://10.1.2.3:9/aQ3xT8pR;tcp",
			URI{Host: "10.1.2.3", Port: 9, SessionID: "aQ3xT8pR", Transport: "tcp"}, ""},
		"ipv6": {"msrp://[2001:db8::1]:2855/s1;tcp",
			URI{Host: "2001:db8::1", Port: 2855, SessionID: "s1", Transport: "tcp"}, ""},
		"ipv6-no-port": {"msrp://[::1]/s1;tcp",
			URI{Host: "::1", SessionID: "s1", Transport: "tcp"}, ""},
		"session-id-chars": {"msrp://h:1/a+b=c/d-e.f_g~h;tcp",
			URI{Host: "h", Port: 1, SessionID: "a+b=c/d-e.f_g~h", Transport: "tcp"}, ""},
		"params": {"msrp://h:1/s;tcp;foo=bar;baz",
			URI{Host: "h", Port: 1, SessionID: "s", Transport: "tcp", Params: "foo=bar;baz"}, ""},
		"uppercase-scheme-transport": {"MSRP://H:1/s;TCP",
			URI{Host: "H", Port: 1, SessionID: "s", Transport: "tcp"}, "msrp://H:1/s;tcp"},
		"other-transport": {"msrp://h/s;ws",
			URI{Host: "h", SessionID: "s", Transport: "ws"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			u, err := ParseURI([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseURI: %v", err)
			}
			if u != tc.want {
				t.Fatalf("ParseURI = %+v, want %+v", u, tc.want)
			}
			str := tc.str
			if str == "" {
				str = tc.in
			}
			if u.String() != str {
				t.Errorf("String = %q, want %q", u.String(), str)
			}
			u2, err := ParseURI([]byte(u.String()))
			if err != nil || u2 != u {
				t.Errorf("reparse = %+v, %v", u2, err)
			}
			// Every a=path of every push offer is one: one allocation, the string itself.
			if n := testing.AllocsPerRun(20, func() { _ = u.String() }); n != 1 {
				t.Errorf("String allocates %v times, want 1", n)
			}
		})
	}
}

func TestParseURIErrors(t *testing.T) {
	tests := map[string]string{
		"empty":              "",
		"http-scheme":        "http://h/s;tcp",
		"no-transport":       "msrp://h:1/s",
		"empty-transport":    "msrp://h:1/s;",
		"bad-transport":      "msrp://h:1/s;t-c",
		"empty-host":         "msrp://:1/s;tcp",
		"empty-port":         "msrp://h:/s;tcp",
		"port-zero":          "msrp://h:0/s;tcp",
		"port-too-large":     "msrp://h:65536/s;tcp",
		"port-not-digits":    "msrp://h:8a/s;tcp",
		"empty-session-id":   "msrp://h:1/;tcp",
		"session-id-bad":     "msrp://h:1/a b;tcp",
		"host-bad-char":      "msrp://h<x>/s;tcp",
		"ipv6-unclosed":      "msrp://[::1/s;tcp",
		"ipv6-junk-after":    "msrp://[::1]x/s;tcp",
		"ipv6-bad-char":      "msrp://[::g]/s;tcp",
		"userinfo-bad":       "msrp://a b@h/s;tcp",
		"param-bad":          "msrp://h/s;tcp;a b",
		"missing-slashes":    "msrp:h/s;tcp",
		"two-uris-as-one":    "msrp://h/s;tcp msrp://h/t;tcp",
		"session-only-slash": "msrp://h/",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if u, err := ParseURI([]byte(in)); !errors.Is(err, ErrBadURI) {
				t.Errorf("ParseURI(%q) = %+v, %v; want ErrBadURI", in, u, err)
			}
		})
	}
}

func TestURIEqual(t *testing.T) {
	tests := map[string]struct {
		a, b string
		eq   bool
	}{
		"identical":             {"msrp://h:1/s;tcp", "msrp://h:1/s;tcp", true},
		"host-case":             {"msrp://H.example:1/s;tcp", "msrp://h.EXAMPLE:1/s;tcp", true},
		"transport-case":        {"msrp://h:1/s;TCP", "msrp://h:1/s;tcp", true},
		"userinfo-ignored":      {"msrp://bob@h:1/s;tcp", "msrp://h:1/s;tcp", true},
		"session-id-case":       {"msrp://h:1/S;tcp", "msrp://h:1/s;tcp", false},
		"explicit-vs-no-port":   {"msrp://h:2855/s;tcp", "msrp://h/s;tcp", false},
		"scheme":                {"msrps://h:1/s;tcp", "msrp://h:1/s;tcp", false},
		"params-ignored":        {"msrp://h:1/s;tcp;x=y", "msrp://h:1/s;tcp", true},
		"different-session-ids": {"msrp://h:1/a;tcp", "msrp://h:1/b;tcp", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err1 := ParseURI([]byte(tc.a))
			b, err2 := ParseURI([]byte(tc.b))
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if a.Equal(b) != tc.eq || b.Equal(a) != tc.eq {
				t.Errorf("Equal = %v, want %v", a.Equal(b), tc.eq)
			}
		})
	}
}

func TestSessionIDOf(t *testing.T) {
	tests := map[string]struct {
		path, want string
		err        error
	}{
		"single":          {"msrp://h:1/kjhd37s2s20w2a;tcp", "kjhd37s2s20w2a", nil},
		"several-hops":    {"msrp://relay:2855/first;tcp msrp://bob:8888/second;tcp", "first", nil},
		"leading-space":   {"  msrp://h/x;tcp", "x", nil},
		"secure":          {"msrps://u@[::1]:9/a/b=+;tcp;p=1", "a/b=+", nil},
		"no-session-id":   {"msrps://alice@intra.example.com;tcp", "", ErrBadURI},
		"no-transport":    {"msrp://h/s", "", ErrBadURI},
		"empty":           {"", "", ErrBadURI},
		"not-msrp":        {"sip:bob@h", "", ErrBadURI},
		"bad-char":        {"msrp://h/a?b;tcp", "", ErrBadURI},
		"empty-session":   {"msrp://h/;tcp", "", ErrBadURI},
		"empty-authority": {"msrp:///s;tcp", "", ErrBadURI},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := SessionIDOf([]byte(tc.path))
			if !errors.Is(err, tc.err) || string(got) != tc.want {
				t.Errorf("SessionIDOf = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
	path := []byte("msrp://relay:2855/first;tcp msrp://bob:8888/second;tcp")
	if allocs := testing.AllocsPerRun(100, func() { _, _ = SessionIDOf(path) }); allocs != 0 {
		t.Errorf("SessionIDOf: %v allocs, want 0", allocs)
	}
	if got := string(FirstURI(path)); got != "msrp://relay:2855/first;tcp" {
		t.Errorf("FirstURI = %q", got)
	}
	if got := string(LastURI(path)); got != "msrp://bob:8888/second;tcp" {
		t.Errorf("LastURI = %q", got)
	}
}
