package signal

import (
	"bytes"
	"fmt"
	"net"
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
			callee := udpOnlyPeer(t)
			nextHop := callee.addr()
			if tc.route {
				nextHop = "127.0.0.1:9" // unused: the Route wins
			}
			h := startHerald(t, st, nextHop, func(o *Options) {
				o.NextHopPinned = tc.pinned
				o.T1 = 100 * time.Millisecond // Timer B 6.4 s: margin for the test's answer on a loaded machine
			})
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

// TestUDPOnlyCallerGetsUpdate: Herald's UPDATE offering the callee card (claims 1, 5) toward a
// caller terminal that speaks only UDP (a raw UDP socket), when RFC 3261 §18.1.1 sends it to TCP for
// its size (UDPMaxRequest lowered here so that it does): the TCP attempt is refused and the same
// UPDATE arrives over UDP, whole, with its m=message offer (originate).
func TestUDPOnlyCallerGetsUpdate(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 5 * time.Second, AnswerWithoutPage: true})
	h := startHerald(t, st, callee.Addr(), func(o *Options) {
		o.UDPMaxRequest = 600
		o.T1 = 100 * time.Millisecond // 64·T1 margins for the test's PRACK and answers on a loaded machine
	})
	p := udpOnlyPeer(t)
	c := newFPCall(p, alice, bob)
	inv := strings.Replace(string(c.invite()), "Supported: timer\r\n",
		"Supported: 100rel, early-session, timer\r\nAllow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE\r\n", 1)
	p.send(t, h.addr, []byte(inv))
	var own fpMsg
	for own.raw == nil {
		d := p.next(t, "Herald's reliable 183")
		m := parseFP(t, "response", d.data)
		if strings.HasPrefix(m.start, "SIP/2.0 183 ") && len(m.all("RSeq")) == 1 && strings.Contains(strings.Join(m.all("Contact"), ""), "sip:herald@") {
			own = m
		}
	}
	to := own.one(t, "183", "To")
	prack := fmt.Sprintf("PRACK sip:herald@%s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\n"+
		"Call-ID: %s\r\nCSeq: 2 PRACK\r\nRAck: %s 1 INVITE\r\nContent-Length: 0\r\n\r\n",
		h.addr, c.via(fpBranch()), c.fromHdr(), to, c.callID, own.one(t, "183", "RSeq"))
	p.send(t, h.addr, []byte(prack))
	var upd fpMsg
	for upd.raw == nil {
		d := p.next(t, "Herald's UPDATE")
		if bytes.HasPrefix(d.data, []byte("UPDATE ")) {
			upd = parseFP(t, "UPDATE", d.data)
		}
	}
	if len(upd.raw) <= 600 || !bytes.Contains(upd.body, []byte("m=message ")) {
		t.Fatalf("UPDATE of %d bytes (want over UDPMaxRequest 600, with m=message):\n%s", len(upd.raw), upd.raw)
	}
	if v := upd.all("Via"); len(v) != 1 || !strings.HasPrefix(v[0], "SIP/2.0/UDP ") {
		t.Fatalf("UPDATE Via %q, want Herald's over UDP", v)
	}
	if got := h.sig.Stats.TCPRefusedUDP.Load(); got != 1 {
		t.Fatalf("TCPRefusedUDP %d, want 1 (the UPDATE)", got)
	}
	// Decline the push line and end the call: CANCEL, then ACK the 487.
	p.send(t, h.addr, fpReply(t, upd, 488, "Not Acceptable Here", "", false, "", ""))
	p.send(t, h.addr, c.request("CANCEL", c.ruri, c.branch, 1, "<"+c.to+">", nil))
	var tag487 string
	for tag487 == "" {
		d := p.next(t, "487")
		if m := parseFP(t, "response", d.data); strings.HasPrefix(m.start, "SIP/2.0 487 ") {
			tag487 = m.one(t, "487", "To")
		}
	}
	p.send(t, h.addr, c.request("ACK", c.ruri, c.branch, 1, tag487, nil))
	h.quiet(t)
}

// udpOnlyPeer is a raw UDP socket on 127.0.0.1 whose port has no TCP listener (checked: a TCP
// connection there is refused), so that Herald's TCP attempt fails as toward a UDP-only terminal.
func udpOnlyPeer(t *testing.T) *fpPeer {
	t.Helper()
	for range 20 {
		p := newFPPeer(t)
		c, err := net.DialTimeout("tcp", p.addr(), time.Second)
		if err != nil {
			return p
		}
		_ = c.Close() // something else listens on TCP at that port: take another one
	}
	t.Fatal("no UDP port on 127.0.0.1 without a TCP listener")
	return nil
}
