package push

import (
	"encoding/base64"
	"testing"
)

// TestNewID: n random bytes as unpadded base64url (RFC 4975 session-id and transaction-id
// characters), fresh each time, for every length Herald uses and longer; one allocation for a
// session-id.
func TestNewID(t *testing.T) {
	for _, n := range []int{0, 1, 9, 16, 32, 33, 100} {
		seen := map[string]bool{}
		for range 200 {
			id := NewID(n)
			if len(id) != base64.RawURLEncoding.EncodedLen(n) {
				t.Fatalf("NewID(%d) = %q: length %d", n, id, len(id))
			}
			raw, err := base64.RawURLEncoding.DecodeString(id)
			if err != nil || len(raw) != n {
				t.Fatalf("NewID(%d) = %q: not %d bytes of base64url (%v)", n, id, n, err)
			}
			if n >= 9 && seen[id] {
				t.Fatalf("NewID(%d) repeated %q", n, id)
			}
			seen[id] = true
		}
	}
	if a := testing.AllocsPerRun(100, func() { _ = NewID(16) }); a != 1 && !raceEnabled {
		t.Errorf("NewID(16): %v allocations, want 1", a)
	}
}
