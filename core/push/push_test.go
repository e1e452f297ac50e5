package push

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"
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

// TestNewNotified: a session made for a notify hook has no channels (nothing reads them), and the
// plane's binding and result reach the hook with the session; NewSession's sessions keep theirs.
func TestNewNotified(t *testing.T) {
	var got []string
	s := NewNotified("c1", CallerCard, nil, time.Minute, func(ps *Session, bound bool, r Result) {
		got = append(got, fmt.Sprintf("%t %v %t", bound, r.Outcome, ps.CallID == "c1"))
	})
	if s.Done != nil || s.Bound != nil || s.ID == "" || s.TransferID == "" {
		t.Fatalf("notified session %+v", s)
	}
	s.NotifyBound()
	if !s.Report(Result{Outcome: Delivered}) {
		t.Fatal("Report to the hook said not taken")
	}
	if want := []string{"true  true", "false delivered true"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hook got %q, want %q", got, want)
	}
	if c := NewSession("c1", CallerCard, nil, time.Minute); c.Done == nil || c.Bound == nil || c.Notify != nil {
		t.Fatalf("channel session %+v", c)
	}
}
