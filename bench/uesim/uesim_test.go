package uesim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func pickMsgs(ms []Message, dir Direction, method string, status int) []Message {
	var out []Message
	for _, m := range ms {
		if m.Dir == dir && m.Method() == method && m.Status() == status {
			out = append(out, m)
		}
	}
	return out
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type traceBuf struct {
	mu    sync.Mutex
	lines []string
}

func (t *traceBuf) trace(dir, proto, summary string) {
	t.mu.Lock()
	t.lines = append(t.lines, dir+"  "+proto+" "+summary)
	t.mu.Unlock()
}

func (t *traceBuf) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

func methods(ms []Message) []string {
	var out []string
	for _, m := range ms {
		if m.Request != nil {
			out = append(out, m.Dir.String()[:1]+":"+m.Method())
		} else {
			out = append(out, m.Dir.String()[:1]+":"+itoa3(m.Status())+"/"+m.Method())
		}
	}
	return out
}

// sameFlow compares a recorded flow with the expected one. The 200 to a PRACK travels
// concurrently with the rest of the call (the INVITE may already be answered), so it only has
// to come after its PRACK.
func sameFlow(got []string, want string) bool {
	strip := func(fl []string) ([]string, int) {
		var out []string
		prack, ok := -1, -1
		for _, m := range fl {
			switch m {
			case "s:PRACK":
				prack = len(out)
			case "r:200/PRACK":
				if prack >= 0 {
					ok = prack
				}
				continue
			}
			out = append(out, m)
		}
		return out, ok
	}
	g, gp := strip(got)
	w, wp := strip(strings.Fields(want))
	return strings.Join(g, " ") == strings.Join(w, " ") && gp == wp
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func newPair(t *testing.T, co CallerOptions, ce CalleeOptions) (*Caller, *Callee, *traceBuf) {
	t.Helper()
	tb := &traceBuf{}
	co.Logger, ce.Logger = discard(), discard()
	co.Trace, ce.Trace = tb.trace, tb.trace
	co.Peer, ce.Peer = "callee", "caller"
	callee, err := NewCallee(ce)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { callee.Close() })
	caller, err := NewCaller(co)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caller.Close() })
	return caller, callee, tb
}

func TestDirectCall(t *testing.T) {
	tests := map[string]struct {
		co        CallerOptions
		ce        CalleeOptions
		wantFinal int
		wantErr   error
		wantSeq   []string // caller's view of the SIP flow
		wantBye   bool
		// wantDropped is CallResult.Dropped; lostRace says the caller's CANCEL met a 200.
		wantDropped int
		lostRace    bool
	}{
		"cancel loses the race to the 200 (AnswerOnCancel)": {
			co:        CallerOptions{CancelAfter: 30 * time.Millisecond},
			ce:        CalleeOptions{RingTime: 5 * time.Second, AnswerOnCancel: true},
			wantFinal: 200,
			wantBye:   true,
			lostRace:  true,
		},
		"first reliable 180 lost (DropReliable)": {
			co: CallerOptions{DropReliable: func() func(*sip.Response) bool {
				var n atomic.Int32
				return func(*sip.Response) bool { return n.Add(1) == 1 }
			}()},
			ce:          CalleeOptions{RingTime: 50 * time.Millisecond},
			wantFinal:   200,
			wantSeq:     []string{"s:INVITE", "r:180/INVITE", "r:180/INVITE", "s:PRACK", "r:200/PRACK", "r:200/INVITE", "s:ACK", "s:BYE", "r:200/BYE"},
			wantBye:     true,
			wantDropped: 1,
		},
		"plain call, reliable 180": {
			ce:        CalleeOptions{RingTime: 50 * time.Millisecond},
			wantFinal: 200,
			wantSeq: []string{"s:INVITE", "r:180/INVITE", "s:PRACK", "r:200/PRACK", "r:200/INVITE", "s:ACK",
				"s:BYE", "r:200/BYE"},
			wantBye: true,
		},
		"plain call, no 100rel": {
			ce:        CalleeOptions{RingTime: 50 * time.Millisecond, No100rel: true},
			wantFinal: 200,
			wantSeq:   []string{"s:INVITE", "r:180/INVITE", "r:200/INVITE", "s:ACK", "s:BYE", "r:200/BYE"},
			wantBye:   true,
		},
		"caller without 100rel": {
			co:        CallerOptions{Supported: []string{"timer"}, Video: true, AMRWB: true},
			ce:        CalleeOptions{RingTime: 50 * time.Millisecond},
			wantFinal: 200,
			wantSeq:   []string{"s:INVITE", "r:180/INVITE", "r:200/INVITE", "s:ACK", "s:BYE", "r:200/BYE"},
			wantBye:   true,
		},
		"busy": {
			ce:        CalleeOptions{RingTime: 20 * time.Millisecond, RejectCode: 486, No100rel: true},
			wantFinal: 486,
			wantErr:   ErrCallFailed,
			wantSeq:   []string{"s:INVITE", "r:180/INVITE", "r:486/INVITE"},
		},
		"cancel while ringing": {
			co:        CallerOptions{CancelAfter: 30 * time.Millisecond},
			ce:        CalleeOptions{RingTime: 5 * time.Second},
			wantFinal: 487,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			caller, callee, tb := newPair(t, tc.co, tc.ce)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := caller.Call(ctx, callee.Addr(), "sip:alice@home1.net", "tel:+1-212-555-2222")
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Call error = %v, want %v\ntrace:\n%s", err, tc.wantErr, tb)
			}
			if res.Final != tc.wantFinal {
				t.Fatalf("final = %d, want %d\ntrace:\n%s", res.Final, tc.wantFinal, tb)
			}
			if tc.wantSeq != nil {
				if got := methods(res.Messages); !sameFlow(got, strings.Join(tc.wantSeq, " ")) {
					t.Errorf("caller flow\n got %v\nwant %v", got, tc.wantSeq)
				}
			}
			cc, err := callee.WaitCall(ctx, res.CallID)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Final != tc.wantFinal {
				t.Errorf("callee final = %d, want %d", cc.Final, tc.wantFinal)
			}
			if cc.Bye != tc.wantBye {
				t.Errorf("callee bye = %v, want %v", cc.Bye, tc.wantBye)
			}
			if cc.Err != nil {
				t.Errorf("callee error: %v", cc.Err)
			}
			if cc.Invite == nil || !strings.HasPrefix(string(cc.InviteRaw), "INVITE tel:+1-212-555-2222 SIP/2.0\r\n") {
				t.Errorf("callee raw INVITE not recorded: %q", cc.InviteRaw)
			}
			if tc.wantFinal == 487 {
				if !res.Canceled || !cc.Canceled {
					t.Errorf("canceled: caller %v callee %v", res.Canceled, cc.Canceled)
				}
			}
			if res.Dropped != tc.wantDropped {
				t.Errorf("dropped %d reliable provisionals, want %d", res.Dropped, tc.wantDropped)
			}
			if tc.lostRace {
				// The caller sent CANCEL, got 200 for it and for the INVITE; the callee's INVITE
				// transaction never saw the CANCEL as pending (no 487).
				if !res.Canceled || cc.Canceled || !cc.Acked || len(pickMsgs(res.Messages, Received, "CANCEL", 200)) != 1 {
					t.Errorf("race: caller canceled %v, callee canceled %v acked %v", res.Canceled, cc.Canceled, cc.Acked)
				}
			}
			if tc.wantFinal == 200 {
				if len(res.Dialogs) != 1 || !res.Dialogs[0].Confirmed {
					t.Errorf("dialogs = %+v", res.Dialogs)
				}
				if !strings.Contains(string(res.Answer), "m=audio 40000 RTP/AVP ") {
					t.Errorf("answer = %q", res.Answer)
				}
			}
			// Every message the caller received carries wire bytes starting with its start line.
			for _, m := range res.Messages {
				if m.Dir == Received && m.Response != nil &&
					!strings.HasPrefix(string(m.Raw), m.Response.StartLine()) {
					t.Errorf("raw of %s = %q", m, m.Raw)
				}
			}
		})
	}
}
