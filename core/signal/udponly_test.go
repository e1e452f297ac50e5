package signal

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
)

// TestUDPOnlyNextHop proves issue 11 item 3 against a next hop that speaks only UDP (a raw UDP
// socket: a TCP connection to its port is refused). The caller card's INVITE (≈ 1.7 KB) reaches it
// over UDP whole, early-session part included, whichever way Herald chose UDP:
//   - no transport in the next hop's URI: TCP first for the size (RFC 3261 §18.1.1), refused, then
//     the same request over UDP (counted in TCPRefusedUDP);
//   - next_hop ;transport=udp (NextHopPinned), or a Route naming ;transport=udp: UDP at once (RFC 3263
//     §4.1), no TCP attempt;
//   - a plain INVITE that crosses 1300 bytes only with Herald's Via and Record-Route: TCP refused,
//     then UDP (before, the retry was only for card calls and went over TCP again: 503).
func TestUDPOnlyNextHop(t *testing.T) {
	for _, tc := range []struct {
		name          string
		pinned, route bool
		from, to      string
		pad           int // bytes of padding header in the caller's INVITE
		part          bool
		tcpFirst      bool
	}{
		{name: "caller card, no transport", from: alice, to: bob, part: true, tcpFirst: true},
		{name: "caller card, next hop transport=udp", pinned: true, from: alice, to: bob, part: true},
		{name: "caller card, Route transport=udp", route: true, from: alice, to: bob, part: true},
		{name: "plain, over 1300 with Herald's headers", from: dave, to: erin, pad: 900, tcpFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			callee := newFPPeer(t) // UDP only
			nextHop := callee.addr()
			if tc.route {
				nextHop = "127.0.0.1:9" // unused: the Route wins
			}
			h := startHerald(t, st, nextHop, func(o *Options) { o.NextHopPinned = tc.pinned })
			opts := uesim.CallerOptions{Rewrite: func(r *sip.Request) {
				if tc.route {
					r.AppendHeader(sip.NewHeader("Route", "<sip:127.0.0.1:"+portOf(h.addr)+";lr>, <sip:"+callee.addr()+";transport=udp;lr>"))
				}
				if tc.pad > 0 {
					r.AppendHeader(sip.NewHeader("X-Padding", strings.Repeat("p", tc.pad)))
				}
			}}
			caller := newCaller(t, opts)
			done := make(chan *uesim.CallResult, 1)
			go func() {
				res, _ := h.call(t, caller, tc.from, tc.to)
				done <- res
			}()
			d := callee.next(t, "forwarded INVITE")
			inv := parseFP(t, "INVITE", d.data)
			if !strings.HasPrefix(inv.start, "INVITE ") {
				t.Fatalf("next hop got %q first", inv.start)
			}
			if tc.pad > 0 && len(d.data) <= 1300 {
				t.Fatalf("the forwarded INVITE is %d bytes: the test needs one over 1300", len(d.data))
			}
			if !strings.HasPrefix(inv.all("Via")[0], "SIP/2.0/UDP ") {
				t.Fatalf("top Via %q, want Herald's over UDP", inv.all("Via")[0])
			}
			if got := bytes.Contains(inv.body, []byte("Content-Disposition: early-session")) && bytes.Contains(inv.body, []byte("m=message ")); got != tc.part {
				t.Fatalf("early-session part in the INVITE (%d bytes): %t, want %t\n%s", len(d.data), got, tc.part, d.data)
			}
			callee.send(t, h.addr, fpReply(t, inv, 486, "Busy Here", "busy1", false, "", ""))
			var res *uesim.CallResult
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the call did not end")
			}
			if res.Final != 486 {
				t.Fatalf("caller final %d, want the next hop's 486", res.Final)
			}
			wantRefused := map[bool]uint64{true: 1, false: 0}[tc.tcpFirst]
			if got := h.sig.Stats.TCPRefusedUDP.Load(); got != wantRefused {
				t.Fatalf("TCPRefusedUDP %d, want %d", got, wantRefused)
			}
			if got := h.sig.Stats.UDPToTCP.Load(); got != wantRefused {
				t.Fatalf("UDPToTCP %d, want %d (a TCP attempt only without ;transport=udp)", got, wantRefused)
			}
			if n := h.sig.Stats.ForwardErrors.Load(); n != 0 {
				t.Fatalf("ForwardErrors %d", n)
			}
			if tc.part && h.sig.Stats.CallerCards.Load() != 1 {
				t.Fatalf("CallerCards %d", h.sig.Stats.CallerCards.Load())
			}
			h.quiet(t)
		})
	}
}
