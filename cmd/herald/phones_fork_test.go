package main

import (
	"context"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/sipp"
)

// startForkProxy starts the lab's Kamailio on its proxy port: the S-CSCF stand-in that forks every
// initial INVITE in parallel to the callee phones (RFC 3261 §16.6; an S-CSCF forks to every contact of
// a public user identity, 3GPP TS 24.229 §5.4.3.3), each branch's Request-URI the phone's own AOR at
// its port (baresip takes a call only for its account's user part). It stops when the test ends.
func startForkProxy(t *testing.T, lab *phoneLab, devices ...*phone) {
	t.Helper()
	needPeer(t, "kamailio", "kamailio")
	var fork []string
	for _, d := range devices {
		fork = append(fork, sipURI(d.user, lab.host, d.port))
	}
	kam, err := sipp.StartKamailio(context.Background(), t.TempDir(), sipp.KamailioConfig{Port: lab.proxyPort, Children: 1,
		Target: fork[0], Fork: fork})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kamailio log:\n%s", kam.Tail(4000))
		}
		kam.Stop(2 * time.Second)
	})
}

// cancelled checks that Kamailio cancelled device d's branch: a CANCEL reached it and it ended its
// INVITE with 487 (RFC 3261 §9.2), which Kamailio absorbs (§16.7: the best response of the other branch
// goes upstream).
func cancelled(ctx context.Context, capt *phoneCapture, from int, mine func(capPkt) bool, d *phone, fail func(string, ...any)) {
	if _, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool {
		return mine(p) && p.dst == d.port && p.method == "CANCEL"
	}, nil); err != nil {
		fail("no CANCEL at %s: %v", d, err)
		return
	}
	if _, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool {
		return mine(p) && p.src == d.port && p.cseq == "INVITE" && p.status == 487
	}, nil); err != nil {
		fail("%s did not end its INVITE with 487: %v", d, err)
	}
}

// callerCancels hangs up c's caller while the callee's devices ring: the CANCEL crosses Herald,
// Kamailio cancels every branch (each device answers 487), and the caller gets 487 (RFC 3261 §9.1,
// §16.10), never a 200.
func callerCancels(ctx context.Context, t *testing.T, capt *phoneCapture, from int, c phoneCase, mine func(capPkt) bool,
	fail func(string, ...any)) {
	t.Helper()
	c.caller.hangup(t)
	for _, d := range c.devices() {
		cancelled(ctx, capt, from, mine, d, fail)
	}
	if _, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool {
		return mine(p) && p.dst == c.caller.port && p.cseq == "INVITE" && p.status == 487
	}, func(p capPkt) bool {
		return mine(p) && p.dst == c.caller.port && p.cseq == "INVITE" && p.status >= 200 && p.status != 487
	}); err != nil {
		fail("%s did not get 487 for its cancelled INVITE: %v", c.caller, err)
	}
}

// TestRealPhonesForked proves with real phones that Herald never fails a call that forking alone
// would complete (RFC 3261 §16.6): Herald's next hop is a real Kamailio, the S-CSCF stand-in, that
// forks every INVITE in parallel to two real callee phones, baresip (bob) and linphonec (erin); the
// caller is a real phone too. Both parties subscribe to cards (the callee to a ringback as well).
// Neither phone takes early-session or MSRP, so the caller card reaches each device as the Call-Info
// URL of the INVITE Kamailio forwards (fetched from each and compared with the page), never as a
// multipart part. Per case, on a tshark capture of the phones' and Kamailio's SIP and the RTP:
//
//   - both devices get the INVITE through Kamailio and send a provisional response;
//   - one device answers; Kamailio CANCELs the other, which sends 487; the caller gets 200 with SDP,
//     the answering device the ACK, media flows both ways phone to phone; the caller hangs up and
//     its BYE is answered 200 once;
//   - baresip calls and baresip answers; linphone (100rel, Herald's ringback on its reliable 183)
//     calls and linphone answers;
//   - the caller cancels while both devices ring: each gets CANCEL and sends 487, the caller gets 487;
//
// and after each case Herald holds no call, push session or MSRP connection. tshark finds no
// malformed SIP or SDP in the capture (checkWire).
func TestRealPhonesForked(t *testing.T) {
	ctx, lab := newPhoneTest(t, time.Minute, "127.0.0.1", "baresip", "linphone", "kamailio")
	bob, erin := lab.callees["baresip"], lab.callees["linphone"]
	startForkProxy(t, lab, bob, erin)
	var results []phoneResult
	start := time.Now()
	for _, c := range []phoneCase{
		{caller: lab.callers["baresip"], callee: bob, forked: erin},
		{caller: lab.callers["linphone"], callee: erin, forked: bob},
		{caller: lab.callers["baresip"], callee: bob, forked: erin, callerCancels: true},
		{caller: lab.callers["linphone"], callee: erin, forked: bob, callerCancels: true},
	} {
		c.callerCard, c.calleeCard = true, true
		t.Run(c.name(), func(t *testing.T) {
			results = append(results, runPhoneCase(ctx, t, lab, c))
		})
	}
	lab.checkWire(ctx, t)
	logPhoneResults(t, results, time.Since(start))
}
