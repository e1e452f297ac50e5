package profile

import (
	"errors"
	"strings"
	"testing"
)

// FuzzCanonical checks that Canonical never panics, fails only with ErrBadIdentity, and is idempotent:
// a canonical key canonicalises to itself (so keys typed by an operator meet keys from the wire).
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		// RFC 3966 and RFC 3261 examples, and IMS-style names (TS 23.003 §13).
		"tel:+1-201-555-0123",
		"tel:7042;phone-context=example.com",
		"tel:863-1234;phone-context=+1-914-555",
		"sip:+1-212-555-1212:1234@gateway.com;user=phone",
		"sips:1212@gateway.com",
		"sip:alice@atlanta.com;maddr=239.255.255.1;ttl=15",
		"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
		"sip:alice;day=tuesday@atlanta.com",
		`"Bob" <sips:bob@biloxi.com> ;tag=a48s`,
		"<sip:alice@home1.net>;tag=171828",
		"<tel:+1-212-555-2222>",
		"sip:bob@[2001:db8::1]:5060",
		"+1 (212) 555-3333",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		key, err := Canonical(in)
		if err != nil {
			if !errors.Is(err, ErrBadIdentity) {
				t.Fatalf("Canonical(%q): error %v is not ErrBadIdentity", in, err)
			}
			return
		}
		if key == "" {
			t.Fatalf("Canonical(%q) returned an empty key", in)
		}
		if strings.Contains(key, "%") {
			return // a decoded '%' would be decoded again: not a key form operators type
		}
		again, err := Canonical(key)
		if err != nil || again != key {
			t.Fatalf("Canonical(%q) = %q, but Canonical(%q) = %q, %v", in, key, key, again, err)
		}
	})
}
