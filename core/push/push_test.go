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
	if a := testing.AllocsPerRun(100, func() { idSink = NewID(16) }); a != 1 && !raceEnabled {
		t.Errorf("NewID(16): %v allocations, want 1", a)
	}
}

// idSink keeps the ids the allocation checks make: one dropped at once (NewID inlined) is not
// made on the heap at all.
var idSink string

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

// TestNewNotifiedAllocs: a push session is two allocations, the Session and one string holding
// both its ids (each its own random bytes: a 22-character session-id, 128 bits, and a 12-character
// file-transfer-id); three before. AppendID puts an id in a buffer of the caller's.
func TestNewNotifiedAllocs(t *testing.T) {
	s := NewNotified("c1", CalleeCard, nil, time.Minute, nil)
	for _, id := range []struct {
		v string
		n int
	}{{s.ID, 16}, {s.TransferID, 9}} {
		if raw, err := base64.RawURLEncoding.DecodeString(id.v); err != nil || len(raw) != id.n {
			t.Fatalf("id %q: not %d bytes of base64url (%v)", id.v, id.n, err)
		}
	}
	if o := NewNotified("c1", CalleeCard, nil, time.Minute, nil); o.ID == s.ID || o.TransferID == s.TransferID {
		t.Fatalf("ids repeated: %q %q", o.ID, o.TransferID)
	}
	if b := AppendID([]byte("herald-"), 6); len(b) != len("herald-")+8 || string(b[:7]) != "herald-" {
		t.Fatalf("AppendID = %q", b)
	}
	if raceEnabled {
		return
	}
	if a := testing.AllocsPerRun(100, func() { sessionSink = NewNotified("c1", CallerCard, nil, time.Minute, nil) }); a != 2 {
		t.Errorf("NewNotified: %v allocations, want 2", a)
	}
}

var sessionSink *Session
