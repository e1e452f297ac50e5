package sdp

import "testing"

// Allocation counts of the SDP work on a push call's path (pushCall.run: the caller's offer, the
// caller card's early-session part, the callee's 183, Herald's answer and UPDATE, their answers).
// Each is checked as "at most", without the race detector only (make test runs them without it).

// checkAllocs fails t when f allocates more than max objects per run.
func checkAllocs(t *testing.T, name string, max float64, f func()) {
	t.Helper()
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	if n := testing.AllocsPerRun(100, f); n > max {
		t.Errorf("%s: %v allocations, want at most %v", name, n, max)
	}
}

// TestPushCallSDPAllocs: the whole push call's SDP work, 79 allocations before the cuts: 30 of them
// core/sdp's, 4 the callers' own (appends to Media, UpdateOffer's version).
func TestPushCallSDPAllocs(t *testing.T) {
	c := newPushCall()
	checkAllocs(t, "push call", 34, func() { c.run(t) })
}

// TestSplitBodyAllocs: SplitBody reads every part in place: a multipart body costs nothing (it was
// 10 allocations for the callee's 183: the scan's state, its delimiter, the parts and their
// header strings).
func TestSplitBodyAllocs(t *testing.T) {
	body := []byte(std93Body)
	checkAllocs(t, "multipart 183", 0, func() {
		if s, e, err := SplitBody(std93CT, body); err != nil || s == nil || e == nil {
			t.Fatal(s, e, err)
		}
	})
}

// TestStripEarlySessionAllocs: the 183's early-session part stripped leaves its SDP part as the
// body, aliased, with the constant Content-Type: nothing allocated (10 before); a part kept beside
// it costs the new body alone (14 before).
func TestStripEarlySessionAllocs(t *testing.T) {
	body := []byte(std93Body)
	checkAllocs(t, "two parts", 0, func() {
		if ct, b, ok, err := StripEarlySession(std93CT, body); err != nil || !ok || ct != TypeSDP || len(b) == 0 {
			t.Fatal(ct, ok, err)
		}
	})
	three := []byte(std93Body[:len(std93Body)-len("--ue-b2--\r\n")] +
		"--ue-b2\r\nContent-Type: application/isup\r\n\r\n\x01\x00\r\n--ue-b2--\r\n")
	checkAllocs(t, "three parts", 1, func() {
		if _, b, ok, err := StripEarlySession(std93CT, three); err != nil || !ok || len(b) == 0 {
			t.Fatal(ok, err)
		}
	})
}

// TestAddEarlySessionAllocs: a plain SDP body becomes the new body and its Content-Type (as
// before); adding to a multipart body costs the new body alone (10 before).
func TestAddEarlySessionAllocs(t *testing.T) {
	offer, early := []byte(crlf(pcmuOffer)), []byte(crlf(std92Early))
	checkAllocs(t, "plain", 2, func() {
		if _, _, err := AddEarlySession(TypeSDP, offer, early, "herald-a1b2c3"); err != nil {
			t.Fatal(err)
		}
	})
	multi := BuildMultipart("m1", []Part{{ContentType: TypeSDP, Body: offer}, {ContentType: "application/isup", Body: []byte{1}}})
	checkAllocs(t, "multipart", 1, func() {
		if _, _, err := AddEarlySession("multipart/mixed;boundary=m1", multi, early, ""); err != nil {
			t.Fatal(err)
		}
	})
}

// TestParseMultipartAllocs: the parts and their header strings only (10 before: the scan's state,
// its delimiter and a second slice of the parts' positions too).
func TestParseMultipartAllocs(t *testing.T) {
	body := []byte(std93Body)
	checkAllocs(t, "183", 6, func() {
		if _, err := ParseMultipart(std93CT, body); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMSRPAllocs: an m=message answer's a=path, accept-types and file selector take one allocation
// (5 before: each slice grown by append, the selector, its hash split).
func TestMSRPAllocs(t *testing.T) {
	m := mustParse(t, crlf(std93Early)).Media[0]
	checkAllocs(t, "std93 answer", 1, func() {
		if _, err := m.MSRP(); err != nil {
			t.Fatal(err)
		}
	})
	v, _ := m.Attr("file-selector")
	checkAllocs(t, "file selector", 0, func() {
		if _, err := ParseFileSelector(v); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPushOfferMediaAllocs: the push's m=message line in two allocations: the description with its
// format and attributes, and its c=, accept-types and file selector strings (5 before).
func TestPushOfferMediaAllocs(t *testing.T) {
	p := newPushCall().caller
	checkAllocs(t, "push offer", 2, func() { _ = p.Media() })
}

// TestNewSessionAllocs: the Session with its t= line, and one string for its c= and session id
// (4 before).
func TestNewSessionAllocs(t *testing.T) {
	checkAllocs(t, "new session", 2, func() { _ = NewSession("herald", "192.0.2.10", 2890844526) })
}

// TestAnswerInactiveAllocs: NewSession's two, the answered lines with their formats, their
// pointers, and each accepted line's attributes sized once (9 before for one audio line).
func TestAnswerInactiveAllocs(t *testing.T) {
	offer := mustParse(t, crlf(pushCallerOffer))
	checkAllocs(t, "audio offer", 5, func() { _ = AnswerInactive(offer, "192.0.2.10", 7, func(int, *Media) int { return 9 }) })
}
