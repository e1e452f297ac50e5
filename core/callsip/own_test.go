package callsip

import (
	"strconv"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// recAnswer records the answers given to one request.
type recAnswer struct{ got *[]string }

func (a recAnswer) Answer(code int, reason string, hdrs ...sip.Header) {
	s := strconv.Itoa(code) + " " + reason
	for _, h := range hdrs {
		s += "; " + h.Name() + ": " + h.Value()
	}
	*a.got = append(*a.got, s)
}

// TestPrackOnAnswersEveryRequest: a PRACK the fast path hands to a call (PrackOn, claims 1 and 5:
// the PRACK of Herald's own early dialog) never blocks the fast path's reader and is always
// answered: queued for the controller; 500 with Retry-After when the controller's queue is full
// (a peer flooding the dialog); 481 when the call has ended, also for what the ended call left
// queued (drainOwn).
func TestPrackOnAnswersEveryRequest(t *testing.T) {
	c := &Call{events: make(chan any, 1)}
	var first, second, third []string
	c.PrackOn("1 1 INVITE", recAnswer{&first})
	c.PrackOn("1 1 INVITE", recAnswer{&second})
	if len(first) != 0 || len(c.events) != 1 {
		t.Fatalf("first PRACK: answered %v, queued %d; want queued unanswered", first, len(c.events))
	}
	if len(second) != 1 || second[0] != "500 Server Internal Error; Retry-After: 1" {
		t.Fatalf("PRACK on a full queue answered %v, want 500 with Retry-After", second)
	}
	c.drainOwn()
	if len(first) != 1 || first[0] != "481 Call/Transaction Does Not Exist" || len(c.events) != 0 {
		t.Fatalf("queued PRACK after the call ended: %v (queue %d), want 481", first, len(c.events))
	}
	c.PrackOn("1 1 INVITE", recAnswer{&third})
	if len(third) != 1 || third[0] != "481 Call/Transaction Does Not Exist" {
		t.Fatalf("PRACK after the call ended answered %v, want 481", third)
	}
}

// TestRseqOf reads a PRACK's RAck (RFC 3262 §7.2: response-num CSeq-num Method) and refuses any
// other shape.
func TestRseqOf(t *testing.T) {
	type want struct {
		rseq, cseq uint32
		method     string
		ok         bool
	}
	for in, w := range map[string]want{
		"776656 1 INVITE":     {776656, 1, "INVITE", true},
		" 1\t2  INVITE ":      {1, 2, "INVITE", true},
		"4294967295 7 INVITE": {4294967295, 7, "INVITE", true},
		"4294967296 7 INVITE": {},
		"1 2":                 {},
		"1 2 INVITE extra":    {},
		"x 2 INVITE":          {},
		"1 -2 INVITE":         {},
		"":                    {},
	} {
		r, c, m, ok := rseqOf(in)
		if got := (want{r, c, m, ok}); got != w {
			t.Errorf("rseqOf(%q) = %+v, want %+v", in, got, w)
		}
	}
}
