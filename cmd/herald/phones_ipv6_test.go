package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRealPhonesOverIPv6 is TestRealPhones' lab on ::1: real phones (baresip, linphonec) and Herald
// talking SIP, SDP, RTP and MSRP over IPv6 only, as VoLTE terminals on an IMS PDN connection usually
// do (3GPP TS 23.221 §5.1). Each case is checked as its IPv4 twin is, on a tshark capture of lo:
//
//   - baresip calls baresip, both cards: the caller card reaches the callee as the INVITE's Call-Info
//     URL (http://[::1]:port/…), the callee card the caller as a provisional's; both fetched and
//     compared with the page; media both ways; the callee hangs up through Herald's Record-Route;
//   - linphone (100rel) calls baresip, both cards: Herald's reliable 183 and its ringback RTP reach
//     the caller over IPv6 before the answer; baresip calls linphone, both cards;
//   - linphone calls linphone without profiles: the call takes the fast path, its responses without
//     Content-Length relayed (runPlainFastPath);
//   - baresip with a push-capable simulated terminal on ::1, each way: each card takes its
//     recipient's route, MSRP to the terminal on [::1], the Call-Info URL to the phone.
//
// Every SIP message and RTP packet the capture holds crossed IPv6, and tshark finds no malformed
// SIP, SDP or MSRP frame in it (checkWire).
func TestRealPhonesOverIPv6(t *testing.T) {
	ctx, lab := newPhoneTest(t, 2*time.Minute, "::1", "baresip", "linphone")
	var results []phoneResult
	start := time.Now()
	for _, c := range []phoneCase{
		{caller: lab.callers["baresip"], callee: lab.callees["baresip"], callerCard: true, calleeCard: true, calleeHangsUp: true},
		{caller: lab.callers["linphone"], callee: lab.callees["baresip"], callerCard: true, calleeCard: true},
		{caller: lab.callers["baresip"], callee: lab.callees["linphone"], callerCard: true, calleeCard: true},
	} {
		t.Run(c.name(), func(t *testing.T) {
			results = append(results, runPhoneCase(ctx, t, lab, c))
		})
	}
	t.Run("linphone_calls_linphone/plain/fast_path", func(t *testing.T) {
		results = append(results, runPlainFastPath(ctx, t, lab))
	})
	t.Run("pushterminal_calls_baresip/caller_card/callee_card", func(t *testing.T) {
		results = append(results, runPushCalleePhone(ctx, t, lab, lab.callees["baresip"], lab.uePorts[0]))
	})
	t.Run("baresip_calls_pushterminal/caller_card/callee_card", func(t *testing.T) {
		results = append(results, runPhoneCallsPush(ctx, t, lab, lab.callers["baresip"], lab.uePorts[1]))
	})
	lab.checkWire(ctx, t)
	checkAllIPv6(t, lab)
	logPhoneResults(t, results, time.Since(start))
}

// checkAllIPv6 fails unless every SIP message to or from the lab's SIP ports and every RTP packet
// between the lab's RTP ranges crossed IPv6, and every SDP connection line in those SIP bodies (the
// phones' offers and answers, Herald's 183 and UPDATE) is IN IP6 (RFC 8866 §5.7). Packets with one
// end elsewhere are not the lab's: the capture filter's port ranges are not leased, and other
// tests running alongside may use them.
func checkAllIPv6(t *testing.T, lab *phoneLab) {
	t.Helper()
	inRTP := func(port int) bool {
		return phonesRTPBase <= port && port <= phonesRTPEnd || heraldRTPMin <= port && port <= heraldRTPMax
	}
	var nsip, nrtp, nsdp int
	for _, p := range lab.capture.since(0) {
		switch {
		case p.sip() && (slices.Contains(lab.sipPorts, p.src) || slices.Contains(lab.sipPorts, p.dst)):
			nsip++
			if !p.ip6 {
				t.Errorf("SIP over IPv4: %s", p)
			}
			for _, c := range p.conn {
				nsdp++
				if !strings.HasPrefix(c, "IP6 ") {
					t.Errorf("SDP c=IN %s in %s", c, p)
				}
			}
		case !p.sip() && !p.tcp && inRTP(p.src) && inRTP(p.dst):
			nrtp++
			if !p.ip6 {
				t.Errorf("RTP over IPv4: %s", p)
			}
		}
	}
	if nsip == 0 || nrtp == 0 || nsdp == 0 {
		t.Errorf("the capture holds %d SIP messages, %d SDP connection lines, %d RTP packets", nsip, nsdp, nrtp)
	}
	t.Logf("%d SIP messages (%d SDP c= lines), %d RTP packets checked", nsip, nsdp, nrtp)
}
