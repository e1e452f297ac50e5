package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/sipp"
	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/netio/freeport"
)

// forkRig is Herald behind a real Kamailio, the S-CSCF stand-in, that forks every INVITE in parallel
// to two uesim devices of the callee (RFC 3261 §16.6; an S-CSCF forks to every contact of a public
// user identity, 3GPP TS 24.229 §5.4.3.3).
type forkRig struct {
	in      *instance
	kam     *sipp.Proc
	devices []*uesim.Callee
	ctx     context.Context
	// fetched is closed once both devices hold (or failed to fetch) the caller card, at the latest
	// after 5 s: the devices' AnswerGate, so that the two early dialogs overlap.
	fetched chan struct{}
}

// startForkRig starts the devices with opts (Listen, Name and Logger are set here; an AnswerGate is
// replaced by rig.fetched), Kamailio and Herald, its demo configuration changed by tune; everything
// stops when the test ends.
func startForkRig(t *testing.T, opts [2]uesim.CalleeOptions, tune ...func(*config.Options)) *forkRig {
	t.Helper()
	needPeer(t, "kamailio", "kamailio")
	quiet := slog.New(slog.DiscardHandler)
	r := &forkRig{fetched: make(chan struct{})}
	for i, o := range opts {
		o.Listen, o.Name, o.Logger = "127.0.0.1:0", "device"+strconv.Itoa(i), quiet
		if o.AnswerGate != nil {
			o.AnswerGate = r.fetched
		}
		d, err := uesim.NewCallee(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		r.devices = append(r.devices, d)
	}
	kport := freeport.Must(t, "127.0.0.1")
	kam, err := sipp.StartKamailio(context.Background(), t.TempDir(), sipp.KamailioConfig{Port: kport, Children: 1,
		Target: "sip:" + r.devices[0].Addr(),
		Fork:   []string{"sip:callee@" + r.devices[0].Addr(), "sip:callee@" + r.devices[1].Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kam.Stop(2 * time.Second) })
	r.kam = kam

	o, err := demoConfig("127.0.0.1:" + strconv.Itoa(kport))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tune {
		f(o)
	}
	if r.in, err = newInstance(o, quiet, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	r.ctx = ctx
	if err := r.in.start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.in.stop(context.Background()) })
	go func() {
		defer close(r.fetched)
		for range 200 {
			if fetched(r.devices[0]) && fetched(r.devices[1]) {
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	return r
}

// call places alice's call to bob with caller options o.
func (r *forkRig) call(t *testing.T, o uesim.CallerOptions) *uesim.CallResult {
	t.Helper()
	o.Listen, o.Logger = "127.0.0.1:0", slog.New(slog.DiscardHandler)
	caller, err := uesim.NewCaller(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caller.Close() })
	res, err := caller.Call(r.ctx, r.in.sipAddr(), "sip:alice@home1.net", "tel:+1-212-555-2222")
	if err != nil && (res == nil || res.Final == 200 || !errors.Is(err, uesim.ErrCallFailed)) { // a refusal is the test's to judge
		t.Logf("kamailio log:\n%s", r.kam.Tail(4000))
		t.Fatal(err)
	}
	return res
}

// device is device i's side of call callID, once over.
func (r *forkRig) device(t *testing.T, i int, callID string) uesim.CalleeCall {
	t.Helper()
	wctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	cc, err := r.devices[i].WaitCall(wctx, callID)
	if err != nil {
		t.Fatalf("device %d: %v", i, err)
	}
	return cc
}

// checkCallerCard checks that device i answered the early-session offer and fetched the caller card.
func checkCallerCard(t *testing.T, i int, cc uesim.CalleeCall, card []byte) {
	t.Helper()
	if !cc.EarlyAnswered || cc.PageErr != nil || !bytes.Equal(cc.Page, card) {
		t.Errorf("device %d: early answer %t, caller card %d bytes, %v", i, cc.EarlyAnswered, len(cc.Page), cc.PageErr)
	}
}

// TestForkedCallee proves claims 1 and 4 when the callee is registered on two devices and a real
// Kamailio, the S-CSCF stand-in, forks the INVITE to both (RFC 3261 §16.6; parallel forking, as
// an S-CSCF does for every contact of a public user identity, 3GPP TS 24.229 §5.4.3.3): each
// device answers the early-session offer with its own early dialog, and each fetches the caller
// card over MSRP while it rings; one answers, Kamailio cancels the other, the caller gets the
// callee card and the answer. Herald must not fail a call that forking alone would complete.
func TestForkedCallee(t *testing.T) {
	alice, bob := seedProfile(t, "sip:alice@home1.net"), seedProfile(t, "tel:+1-212-555-2222")
	r := startForkRig(t, [2]uesim.CalleeOptions{
		{RingTime: 300 * time.Millisecond, AnswerGate: make(chan struct{})}, // answers once both fetched
		{RingTime: 10 * time.Second},                                        // rings on, to be cancelled
	})
	res := r.call(t, uesim.CallerOptions{HoldTime: 100 * time.Millisecond})
	if res.Final != 200 {
		t.Fatalf("caller's final %d", res.Final)
	}
	for i := range r.devices {
		cc := r.device(t, i, res.CallID)
		checkCallerCard(t, i, cc, alice.CallerCard.Body)
		switch i {
		case 0:
			if cc.Final != 200 || !cc.Acked || !cc.Bye {
				t.Errorf("device 0: final %d, ACK %t, BYE %t", cc.Final, cc.Acked, cc.Bye)
			}
		case 1:
			if cc.Final != 487 || !cc.Canceled {
				t.Errorf("device 1: final %d, cancelled %t: want Kamailio's CANCEL and 487", cc.Final, cc.Canceled)
			}
		}
	}
	if perr := res.PageErrors[uesim.CalleeCard]; perr != nil || !bytes.Equal(res.Pages[uesim.CalleeCard], bob.CalleeCard.Body) {
		t.Fatalf("callee card at the caller: %v", perr)
	}
	if st := r.in.msrp.Stats(); st.DeliveriesOK != 3 || st.ForkedDeliveriesOK != 1 {
		t.Errorf("msrp plane delivered %d pages (%d forked), want 3 (the caller card to each device, the callee card), 1 (%+v)",
			st.DeliveriesOK, st.ForkedDeliveriesOK, st)
	}
	waitQuiet(t, r.in) // the caller card's session, open for more devices until the call's end, is gone
}

// TestForkedCalleeEnds: a forked call that ends without an answer, both devices rejecting it or the
// caller cancelling it, once both devices fetched the caller card, leaves no push session behind: the
// call closes the caller card's session at its end (RFC 3261 §16.7, §9.2), which stays open for
// further devices until then.
func TestForkedCalleeEnds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		devices [2]uesim.CalleeOptions
		caller  uesim.CallerOptions
		final   int // the caller's
	}{
		{"both reject", [2]uesim.CalleeOptions{
			{RingTime: 300 * time.Millisecond, AnswerGate: make(chan struct{}), RejectCode: 486},
			{RingTime: 300 * time.Millisecond, AnswerGate: make(chan struct{}), RejectCode: 486},
		}, uesim.CallerOptions{}, 486},
		{"caller cancels", [2]uesim.CalleeOptions{
			{RingTime: 10 * time.Second}, {RingTime: 10 * time.Second},
		}, uesim.CallerOptions{CancelAfter: 1500 * time.Millisecond}, 487},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice := seedProfile(t, "sip:alice@home1.net")
			r := startForkRig(t, tc.devices)
			res := r.call(t, tc.caller)
			if res.Final != tc.final {
				t.Fatalf("caller's final %d, want %d", res.Final, tc.final)
			}
			for i := range r.devices {
				cc := r.device(t, i, res.CallID)
				checkCallerCard(t, i, cc, alice.CallerCard.Body)
				if want := tc.devices[i].RejectCode; want != 0 && cc.Final != want || want == 0 && (cc.Final != 487 || !cc.Canceled) {
					t.Errorf("device %d: final %d, cancelled %t", i, cc.Final, cc.Canceled)
				}
			}
			if st := r.in.msrp.Stats(); st.ForkedDeliveriesOK != 1 || st.ForkedBinds != 1 {
				t.Errorf("forked binds %d, deliveries %d, want 1 and 1 (%+v)", st.ForkedBinds, st.ForkedDeliveriesOK, st)
			}
			waitQuiet(t, r.in)
		})
	}
}

// TestForkedCalleeCap: msrp.max_fork_binds 1 lets only the first device fetch the caller card; the
// second device's acquisition request gets 506 (RFC 4975 §10), counted, and the call goes on.
func TestForkedCalleeCap(t *testing.T) {
	alice := seedProfile(t, "sip:alice@home1.net")
	r := startForkRig(t, [2]uesim.CalleeOptions{
		{RingTime: 300 * time.Millisecond, AnswerGate: make(chan struct{})},
		{RingTime: 10 * time.Second},
	}, func(o *config.Options) { o.MSRP.MaxForkBinds = 1 })
	res := r.call(t, uesim.CallerOptions{HoldTime: 100 * time.Millisecond})
	if res.Final != 200 {
		t.Fatalf("caller's final %d", res.Final)
	}
	var got, refused int
	for i := range r.devices {
		switch cc := r.device(t, i, res.CallID); {
		case cc.PageErr == nil && bytes.Equal(cc.Page, alice.CallerCard.Body):
			got++
		case cc.PageErr != nil && strings.Contains(cc.PageErr.Error(), "506"):
			refused++
		default:
			t.Errorf("device %d: caller card %d bytes, %v", i, len(cc.Page), cc.PageErr)
		}
	}
	st := r.in.msrp.Stats()
	if got != 1 || refused != 1 || st.ForkBindsRefused != 1 || st.ForkedBinds != 0 {
		t.Errorf("%d devices fetched, %d refused; stats %+v: want one each, counted at the cap", got, refused, st)
	}
	waitQuiet(t, r.in)
}

// fetched reports whether device d fetched (or failed to fetch) a caller card on some call.
func fetched(d *uesim.Callee) bool {
	for _, c := range d.Calls() {
		if c.Page != nil || c.PageErr != nil {
			return true
		}
	}
	return false
}
