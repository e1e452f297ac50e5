package profile

import (
	"errors"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"tel global with separators":    {"tel:+1-212-555-2222", "+12125552222"},
		"tel with parens and dots":      {"tel:+1.(212).555.2222", "+12125552222"},
		"tel upper-case scheme":         {"TEL:+12125552222", "+12125552222"},
		"tel local with context":        {"tel:7042;phone-context=example.com", "7042"},
		"tel local with separators":     {"tel:555-2222;phone-context=+1212", "5552222"},
		"sip user=phone":                {"sip:+12125552222@ims.example;user=phone", "+12125552222"},
		"sip user=phone separators":     {"sip:+1-212-555-2222@ims.example;user=phone", "+12125552222"},
		"sip user=phone with params":    {"sip:+1-212-555-2222;npdi@ims.example;user=phone", "+12125552222"},
		"sip user=phone local":          {"sip:5552222;phone-context=+1212@ims.example;user=phone", "5552222"},
		"sip plus number no user=phone": {"sip:+12125552222@ims.example", "+12125552222"},
		"sip plain":                     {"sip:alice@home1.net", "alice@home1.net"},
		"sip host lowercased":           {"sip:Alice@HOME1.Net", "Alice@home1.net"},
		"sips same key as sip":          {"sips:alice@home1.net", "alice@home1.net"},
		"sip port and params dropped":   {"sip:alice@home1.net:5060;transport=tcp?Subject=hi", "alice@home1.net"},
		"sip password dropped":          {"sip:alice:secret@home1.net", "alice@home1.net"},
		"sip escaped user":              {"sip:alice%2Ework@home1.net", "alice.work@home1.net"},
		"sip ipv6 host":                 {"sip:bob@[2001:DB8::1]:5060", "bob@[2001:db8::1]"},
		"sip digits user is not phone":  {"sip:12125552222@home1.net", "12125552222@home1.net"},
		"name-addr":                     {"<sip:alice@home1.net>;tag=171828", "alice@home1.net"},
		"name-addr quoted display":      {`"Alice <boss>" <sip:alice@home1.net>;tag=x`, "alice@home1.net"},
		"name-addr escaped quote":       {`"Al \"A\" Lefèvre" <sip:alice@home1.net>`, "alice@home1.net"},
		"name-addr token display":       {"Alice Lefèvre <sip:alice@home1.net>", "alice@home1.net"},
		"name-addr tel":                 {"<tel:+1-212-555-2222>;tag=bob-77", "+12125552222"},
		"surrounding space":             {"  sip:alice@home1.net \t", "alice@home1.net"},
		"bare e164":                     {"+12125553333", "+12125553333"},
		"bare e164 with spaces":         {"+1 (212) 555-3333", "+12125553333"},
		"bare local digits":             {"2125553333", "2125553333"},
		"bare user@host":                {"dave@Home1.net", "dave@home1.net"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Canonical(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("Canonical(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestCanonicalErrors(t *testing.T) {
	tests := map[string]string{
		"empty":                 "",
		"blank":                 "   ",
		"no user":               "sip:home1.net",
		"empty user":            "sip:@home1.net",
		"no host":               "sip:alice@",
		"bad host":              "sip:alice@home_1.net",
		"other scheme":          "mailto:alice@home1.net",
		"http":                  "https://home1.net/alice",
		"tel letters":           "tel:+1-212-CALL-BOB",
		"tel no digits":         "tel:+",
		"tel too long":          "tel:+1234567890123456",
		"tel space":             "tel:+1 212 555 2222",
		"user=phone not number": "sip:alice@home1.net;user=phone",
		"bare word":             "alice",
		"unterminated brackets": "<sip:alice@home1.net",
		"unterminated display":  `"Alice <sip:alice@home1.net>`,
		"display without uri":   `"Alice"`,
		"bad ipv6":              "sip:bob@[2001:db8::zz]",
		"unterminated ipv6":     "sip:bob@[2001:db8::1",
		"bad escape":            "sip:al%zzice@home1.net",
		"control char in user":  "sip:al\x01ice@home1.net",
		// FuzzCanonical found it (testdata/fuzz/FuzzCanonical/a2cd999a0a5b07c6): the key ":@0" would
		// read back as a URI with an unsupported scheme, so the key did not canonicalise to itself.
		"escaped colon in user": "%3A@0",
		"escaped colon sip":     "sip:al%3Aice@home1.net",
		"plus in middle":        "12+34",
		"local number too long": "123456789012345678901234567890123",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Canonical(in)
			if !errors.Is(err, ErrBadIdentity) {
				t.Errorf("Canonical(%q) = %q, %v; want ErrBadIdentity", in, got, err)
			}
		})
	}
}

// TestCanonicalSameSubscriber checks that the spellings of one subscriber meet on one key.
func TestCanonicalSameSubscriber(t *testing.T) {
	spellings := []string{
		"tel:+1-212-555-2222",
		"<tel:+12125552222>;tag=a",
		"sip:+12125552222@ims.example;user=phone",
		`"Bob" <sip:+1-212-555-2222@ims.example;user=phone>`,
		"+1 212 555 2222",
	}
	for _, s := range spellings {
		if got, err := Canonical(s); err != nil || got != "+12125552222" {
			t.Errorf("Canonical(%q) = %q, %v", s, got, err)
		}
	}
}

// TestCanonicalNoCopy: a key written as it canonicalises (a sip: URI's user@host, a number without
// separators) is the input's own text, not a copy (one allocation each before); any other form is
// still built.
func TestCanonicalNoCopy(t *testing.T) {
	for in, want := range map[string]string{
		"sip:alice@home1.net":              "alice@home1.net",
		"<sip:alice@home1.net>;tag=1":      "alice@home1.net",
		"sip:alice@home1.net:5060":         "alice@home1.net",
		"tel:+12125552222":                 "+12125552222",
		"sip:alice:pw@home1.net":           "alice@home1.net",
		"sip:Alice@HOME1.net":              "Alice@home1.net",
		"sip:al%69ce@home1.net":            "alice@home1.net",
		"tel:+1-212-555-2222":              "+12125552222",
		"sip:+1-212-555-2222@h;user=phone": "+12125552222",
	} {
		if got, err := Canonical(in); err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if raceEnabled {
		return
	}
	for _, in := range []string{"sip:alice@home1.net", "tel:+12125552222", "sip:+12125552222@ims.example;user=phone"} {
		if a := testing.AllocsPerRun(100, func() { _, _ = Canonical(in) }); a != 0 {
			t.Errorf("Canonical(%q): %v allocations, want 0", in, a)
		}
	}
}
