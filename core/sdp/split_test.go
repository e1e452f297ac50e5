package sdp

import (
	"bytes"
	"errors"
	"testing"
)

// TestTruncatedAtEveryByte feeds every prefix of the RFC example bodies and Herald's own to the parsers:
// none panics, a multipart body cut anywhere before its close delimiter is an error (never a shorter
// success), and an SDP prefix that parses re-marshals to something that parses to the same session.
func TestTruncatedAtEveryByte(t *testing.T) {
	sdps := map[string]string{
		"rfc4566": rfc4566Example, "rfc8866": rfc8866Example, "ims offer": imsOffer,
		"std 9.2 early": std92Early, "std 9.3 early": std93Early, "std 9.4 update": std94Update,
	}
	for name, body := range sdps {
		b := []byte(crlf(body))
		for i := 0; i <= len(b); i++ {
			s, err := Parse(b[:i])
			if err != nil {
				if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("%s[:%d]: error %v is not ErrSyntax", name, i, err)
				}
				continue
			}
			again, err := Parse(s.Marshal())
			if err != nil || !bytes.Equal(again.Marshal(), s.Marshal()) {
				t.Fatalf("%s[:%d]: parsed, but its marshal does not round-trip: %v", name, i, err)
			}
		}
	}
	multis := map[string]struct {
		ct   string
		body []byte
	}{
		"std 9.2": {std92CT, []byte(std92Body)},
		"std 9.3": {std93CT, []byte(std93Body)},
	}
	for name, m := range multis {
		end := bytes.LastIndex(m.body, []byte("--"+mustBoundary(t, m.ct)+"--"))
		if end < 0 {
			t.Fatalf("%s: no close delimiter", name)
		}
		for i := 0; i < end; i++ {
			if parts, err := ParseMultipart(m.ct, m.body[:i]); err == nil {
				t.Fatalf("%s[:%d]: truncated multipart parsed into %d parts", name, i, len(parts))
			}
			if _, _, err := SplitBody(m.ct, m.body[:i]); err == nil {
				t.Fatalf("%s[:%d]: truncated body split without error", name, i)
			}
		}
	}
}

func mustBoundary(t *testing.T, ct string) string {
	t.Helper()
	b, ok := Boundary(ct)
	if !ok {
		t.Fatalf("no boundary in %q", ct)
	}
	return b
}
