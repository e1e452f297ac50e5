package call

import (
	"errors"
	"slices"
	"testing"

	"github.com/herald-ims/herald/core/content"
)

func page(t *testing.T, name string) *content.Page {
	t.Helper()
	p, err := content.NewPage(name, []byte("<!DOCTYPE html><html><body>"+name+"</body></html>"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseCaps(t *testing.T) {
	tests := map[string]struct {
		sup, req, allow, pem []string
		want                 Caps
	}{
		"ims mmtel": {
			sup:   []string{"precondition, 100rel, 199, early-session, gruu"},
			allow: []string{"INVITE, ACK, CANCEL, BYE, PRACK, UPDATE"},
			pem:   []string{"supported"},
			want:  Caps{Reliable1xx: true, Update: true, EarlySession: true, EarlyDialogTerminated: true, EarlyMedia: true},
		},
		"require 100rel, no allow header": {
			req:  []string{"100rel"},
			want: Caps{Reliable1xx: true, RequireReliable: true, Update: true},
		},
		"allow without update": {
			sup:   []string{"100rel"},
			allow: []string{"INVITE, ACK, BYE, CANCEL"},
			want:  Caps{Reliable1xx: true},
		},
		"nothing": {allow: []string{"INVITE"}, want: Caps{}},
		"case, spacing, empty tokens, several header lines": {
			sup:   []string{" ,Timer", "100REL ,, 199,", "\tEarly-Session "},
			allow: []string{"INVITE,ACK", "Update"},
			pem:   []string{"SUPPORTED"},
			want:  Caps{Reliable1xx: true, Update: true, EarlySession: true, EarlyDialogTerminated: true, EarlyMedia: true},
		},
		"a token's prefix or suffix is not the token": {
			sup:   []string{"100rel2, x100rel, 1990, early-sessions"},
			allow: []string{"UPDATES"},
			want:  Caps{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ParseCaps(tc.sup, tc.req, tc.allow, tc.pem); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	// It runs for every INVITE: no allocation.
	sup, allow := []string{"precondition, 100rel, 199, early-session, gruu"}, []string{"INVITE, ACK, CANCEL, BYE, PRACK, UPDATE"}
	if n := testing.AllocsPerRun(100, func() { ParseCaps(sup, nil, allow, nil) }); n != 0 {
		t.Errorf("ParseCaps allocates %v times per call, want 0", n)
	}
}

// TestDecide proves the plan of each claim for terminals that take the pushes (claims 1/3 caller
// card, 4/5/7 callee card via the media request message, 2/6 ringback), and the gate that keeps the
// pushes from terminals not known to take them (never break a call): Call-Info instead.
func TestDecide(t *testing.T) {
	cc, ce := page(t, "caller.html"), page(t, "callee.html")
	full := Caps{Reliable1xx: true, Update: true}
	yes, no := TerminalCapable, TerminalIncapable
	tests := map[string]struct {
		caller, callee *Party
		caps           Caps
		probe          bool
		want           Plan
		claims         []int
	}{
		"claim 1: both cards": {
			caller: &Party{CallerCard: cc, Terminal: yes}, callee: &Party{CalleeCard: ce, Terminal: yes}, caps: full,
			want: Plan{CallerCard: cc, CallerMode: CallerCardEarlySession, CalleeCard: ce, CalleeMode: CalleeCardUpdate}, claims: []int{1, 3, 4},
		},
		"claim 2: both cards and ringback": {
			caller: &Party{CallerCard: cc, Terminal: yes}, callee: &Party{CalleeCard: ce, Ringback: "tone", Terminal: yes}, caps: full,
			want: Plan{CallerCard: cc, CallerMode: CallerCardEarlySession, CalleeCard: ce, CalleeMode: CalleeCardUpdate, Ringback: "tone"}, claims: []int{1, 3, 4, 2},
		},
		"claim 5: callee card only": {
			caller: &Party{Terminal: yes}, callee: &Party{CalleeCard: ce}, caps: full,
			want: Plan{CalleeCard: ce, CalleeMode: CalleeCardUpdate}, claims: []int{5, 7},
		},
		"claim 6: callee card and ringback": {
			caller: &Party{Terminal: yes}, callee: &Party{CalleeCard: ce, Ringback: "tone"}, caps: full,
			want: Plan{CalleeCard: ce, CalleeMode: CalleeCardUpdate, Ringback: "tone"}, claims: []int{5, 7, 6},
		},
		"claim 5: unknown caller whose INVITE says early-session": {
			callee: &Party{CalleeCard: ce}, caps: Caps{Reliable1xx: true, Update: true, EarlySession: true},
			want: Plan{CalleeCard: ce, CalleeMode: CalleeCardUpdate}, claims: []int{5, 7},
		},
		"claim 5: unknown caller whose Contact has sip.message": {
			callee: &Party{CalleeCard: ce}, caps: Caps{Reliable1xx: true, Update: true, MessageFeature: true},
			want: Plan{CalleeCard: ce, CalleeMode: CalleeCardUpdate}, claims: []int{5, 7},
		},
		"no cards: plain forwarding": {
			caller: &Party{}, callee: &Party{}, caps: full, want: Plan{},
		},
		"caller without 100rel gets call-info fallback and no ringback": {
			caller: &Party{Terminal: yes}, callee: &Party{CalleeCard: ce, Ringback: "tone"}, caps: Caps{Update: true},
			want: Plan{CalleeCard: ce, CalleeMode: CalleeCardCallInfo},
		},
		"unknown caller with 100rel and UPDATE: call-info, ringback still plays": {
			callee: &Party{CalleeCard: ce, Ringback: "tone"}, caps: full,
			want: Plan{CalleeCard: ce, CalleeMode: CalleeCardCallInfo, Ringback: "tone"},
		},
		"caller learned incapable, although its INVITE says early-session": {
			caller: &Party{Terminal: no}, callee: &Party{CalleeCard: ce}, caps: Caps{Reliable1xx: true, Update: true, EarlySession: true},
			want: Plan{CalleeCard: ce, CalleeMode: CalleeCardCallInfo},
		},
		"unknown callee: caller card as call-info only": {
			caller: &Party{CallerCard: cc}, callee: nil, caps: full,
			want: Plan{CallerCard: cc, CallerMode: CallerCardCallInfo},
		},
		"unknown callee with a profile: call-info only": {
			caller: &Party{CallerCard: cc}, callee: &Party{}, caps: full,
			want: Plan{CallerCard: cc, CallerMode: CallerCardCallInfo},
		},
		"unknown callee, probing: the part, to be retried without": {
			caller: &Party{CallerCard: cc}, callee: nil, caps: full, probe: true,
			want: Plan{CallerCard: cc, CallerMode: CallerCardProbe}, claims: []int{3},
		},
		"callee learned incapable is not probed": {
			caller: &Party{CallerCard: cc}, callee: &Party{Terminal: no}, caps: full, probe: true,
			want: Plan{CallerCard: cc, CallerMode: CallerCardCallInfo},
		},
		"claim 3: known callee": {
			caller: &Party{CallerCard: cc}, callee: &Party{Terminal: yes}, caps: Caps{},
			want: Plan{CallerCard: cc, CallerMode: CallerCardEarlySession}, claims: []int{3},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Decide(tc.caller, tc.callee, tc.caps, tc.probe)
			if got != tc.want {
				t.Fatalf("plan %+v, want %+v", got, tc.want)
			}
			if c := got.Claims(); !slices.Equal(c, tc.claims) {
				t.Fatalf("claims %v, want %v", c, tc.claims)
			}
		})
	}
}

func TestMachine(t *testing.T) {
	var m Machine
	for _, s := range []State{ProvSent, ProvSent, Early, UpdateSent, Pushing, Pushed, Terminated} {
		if err := m.To(s); err != nil {
			t.Fatal(err)
		}
	}
	if m.State() != Terminated || len(m.Trail()) != 7 {
		t.Fatalf("state %s trail %v", m.State(), m.Trail())
	}
	var n Machine
	if err := n.To(UpdateSent); !errors.Is(err, ErrTransition) {
		t.Fatalf("idle -> update-sent: err %v, want ErrTransition", err)
	}
	if n.State() != Idle {
		t.Fatalf("failed transition moved the state to %s", n.State())
	}
}
