package msrp

import "testing"

func TestIdentifiers(t *testing.T) {
	gens := map[string]struct {
		f      func() string
		minLen int
	}{
		"tid":        {NewTID, 12},
		"message-id": {NewMessageID, 12},
		"session-id": {NewSessionID, 17}, // >= 80 bits at 5.95 bits/char: 14 chars; we use 20
	}
	for name, g := range gens {
		t.Run(name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 1000 {
				s := g.f()
				if len(s) < g.minLen {
					t.Fatalf("%q shorter than %d", s, g.minLen)
				}
				for i := 0; i < len(s); i++ {
					if !isAlnum(s[i]) {
						t.Fatalf("%q has non-alphanumeric %q", s, s[i])
					}
				}
				if seen[s] {
					t.Fatalf("duplicate %q", s)
				}
				seen[s] = true
			}
		})
	}
	if tid := NewTID(); !validTID([]byte(tid)) || len(tid) > maxTIDLen {
		t.Errorf("NewTID %q is not an RFC 4975 transact-id", tid)
	}
	if _, err := SessionIDOf([]byte("msrp://h/" + NewSessionID() + ";tcp")); err != nil {
		t.Errorf("NewSessionID not a valid session-id: %v", err)
	}
}

func TestStatusText(t *testing.T) {
	tests := map[int]string{
		200: "OK", 400: "Bad Request", 403: "Action not allowed", 408: "Transaction timeout",
		413: "Stop sending message", 415: "MIME not understood", 423: "Parameter out of bounds",
		481: "Session does not exist", 501: "Method not understood", 506: "Session already in use",
		999: "",
	}
	for code, want := range tests {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestIDSource(t *testing.T) {
	var s IDSource
	seen := make(map[string]bool)
	for range 1000 { // several refills of the 256-byte pool
		id := string(s.AppendTID(nil))
		if len(id) != TIDLen || !validTID([]byte(id)) {
			t.Fatalf("IDSource id %q is not a %d-character RFC 4975 transact-id", id, TIDLen)
		}
		if seen[id] {
			t.Fatalf("IDSource repeated %q", id)
		}
		seen[id] = true
	}
	if got := testing.AllocsPerRun(100, func() {
		var b [TIDLen]byte
		_ = s.AppendTID(b[:0])
	}); got != 0 {
		t.Errorf("IDSource.AppendTID allocates %v times, want 0", got)
	}
}
