package sipfast

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// FuzzEngineCalls drives the engine with sequences of call events, retransmissions, mangled and
// raw datagrams and clock jumps, four calls sharing index keys narrowed so they collide, and checks
// what must hold for any input from the wire: no panic, one verdict per datagram (harness.in), and
// once every timer has run (Timer C, then 64·T1 of retention and more) nothing is left: no
// transaction and no retained record. The compact records (retained.go) are reached by every
// answered INVITE and BYE here.
func FuzzEngineCalls(f *testing.F) {
	// op byte: low nibble the event, bits 4–5 the call.
	answered := []byte{0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x0a, 0x05, 0x02, 0x08, 0x30}
	f.Add(answered)
	f.Add([]byte{0x00, 0x10, 0x20, 0x30, 0x02, 0x12, 0x22, 0x32, 0x05, 0x15, 0x06, 0x16, 0x0a, 0x08, 0x40, 0x05, 0x15})
	f.Add([]byte{0x00, 0x01, 0x07, 0x03, 0x04, 0x0a, 0x08, 0x10})
	f.Add([]byte{0x00, 0x02, 0x09, 0x07, 0x05, 0x09, 0x33, 0x06, 0x0b, 0x41, 0x42})
	// Herald's own early dialog: PRACK, its retransmission, the answer, the UPDATE and its 200.
	f.Add([]byte{0x00, 0x01, 0x0c, 0x0a, 0x0d, 0x00, 0x0e, 0x0f, 0x0a, 0x1c, 0x08, 0x80, 0x0d, 0x01, 0x0e, 0x08, 0xff})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			return
		}
		// Calls 0 and 1 are over UDP, 2 and 3 over TCP (the callee's connection drops and comes back
		// with the clock's op).
		x, stream := newTCPHarness(t)
		x.h.nextTransport = "" // UDP calls; the TCP ones name the callee by a Route ;transport=tcp
		x.e.ret.mask = 3
		for c := range 4 {
			x.h.own[fmt.Sprintf("c%d@fuzz", c)] = fmt.Sprintf("h%d", c) // Herald's own early dialog (own.go)
		}
		var prackBr [4]int
		var (
			now                time.Duration
			invFwd, byeFwd     [4][]byte
			lastIn             []byte
			lastFrom           = x.caller
			mangleNext         = -1
			inviteBr, byeBr    [4]int
			tag                = func(c int) string { return fmt.Sprintf("d%d", c) }
			callID             = func(c int) string { return fmt.Sprintf("c%d@fuzz", c) }
			toTagged           = func(c int) string { return "<sip:dave@home1.net>;tag=" + tag(c) }
			send               func(from [2]bool, msg []byte, c int)
			callerSide, callee = [2]bool{true, false}, [2]bool{false, true}
		)
		send = func(side [2]bool, msg []byte, c int) {
			from := x.caller
			if side[1] {
				from = x.callee
			}
			x.conn = x.c
			if c >= 2 {
				x.conn = stream
				if side[0] {
					msg = tcp(msg)
				}
			}
			if mangleNext >= 0 && len(msg) > 0 {
				msg = bytes.Clone(msg)
				msg[mangleNext%len(msg)] ^= 0x20
				mangleNext = -1
			}
			lastIn, lastFrom = msg, from
			x.in(from, msg)
			if c >= 0 {
				if b := x.last["callee INVITE"]; b != nil && bytes.Contains(b, []byte("Call-ID: "+callID(c)+"\r\n")) {
					invFwd[c] = b
				}
				if b := x.last["callee BYE"]; b != nil && bytes.Contains(b, []byte("Call-ID: "+callID(c)+"\r\n")) {
					byeFwd[c] = b
				}
			}
		}
		for i := 0; i < len(ops); i++ {
			op, c := ops[i]&0x0f, int(ops[i]>>4)&3
			arg := func() int {
				if i+1 < len(ops) {
					i++
					return int(ops[i])
				}
				return 0
			}
			switch op {
			case 0:
				inviteBr[c]++
				ruri := "sip:dave@home1.net"
				if c%2 == 1 {
					ruri = "tel:+1-212-555-4444" // RFC 3966: calls 1 and 3 reach the callee at a tel: URI
				}
				var extra []string
				if c >= 2 {
					extra = append(extra, "Route: <sip:127.0.0.1:5070;transport=tcp;lr>\r\n")
				}
				send(callerSide, invite(fmt.Sprintf("z9hG4bKi%d.%d", c, inviteBr[c]), callID(c), ruri, extra...), c)
			case 1, 2, 3:
				if invFwd[c] != nil {
					status := map[byte]string{1: "180 Ringing", 2: "200 OK", 3: "486 Busy Here"}[op]
					send(callee, reply(invFwd[c], status, tag(c)), c)
				}
			case 4:
				send(callerSide, request("ACK", fmt.Sprintf("z9hG4bKa%d", c), callID(c), toTagged(c), 1), c)
			case 5:
				byeBr[c]++
				send(callerSide, request("BYE", fmt.Sprintf("z9hG4bKb%d.%d", c, byeBr[c]), callID(c), toTagged(c), 2), c)
			case 6:
				if byeFwd[c] != nil {
					send(callee, reply(byeFwd[c], "200 OK", ""), c)
				}
			case 7:
				send(callerSide, request("CANCEL", fmt.Sprintf("z9hG4bKi%d.%d", c, inviteBr[c]), callID(c), "<sip:dave@home1.net>", 1), c)
			case 8:
				a := arg()
				if a&0x80 != 0 {
					stream.mu.Lock()
					stream.open[x.callee] = !stream.open[x.callee]
					stream.mu.Unlock()
				}
				now += time.Duration(a&0x7f) * testT1 / 4
				x.at(now)
			case 9:
				mangleNext = arg()
			case 10:
				if lastIn != nil {
					x.in(lastFrom, lastIn)
				}
			case 12:
				prackBr[c]++
				send(callerSide, prack(fmt.Sprintf("z9hG4bKp%d.%d", c, prackBr[c]), callID(c), fmt.Sprintf("h%d", c), 3), c)
			case 13:
				if n := len(x.h.ownReqs); n > 0 {
					code := []int{200, 481, 500, 100}[arg()%4]
					x.e.AnswerOwn(x.h.ownReqs[n-1].Tx, code, "Answer", "")
					x.lines(x.c.take())
				}
			case 14:
				x.e.Originate(ownUpdate("v=0\r\n"), x.caller, func(int, []byte) {})
				x.lines(x.c.take())
			case 15:
				if u := x.last["caller UPDATE"]; u != nil {
					send(callerSide, reply(u, []string{"200 OK", "183 Progress", "488 Not Here"}[arg()%3], ""), -1)
				}
			case 11:
				n := arg() % 64
				end := min(len(ops), i+1+n)
				x.in(x.caller, ops[i+1:end])
				i = end - 1
			}
		}
		// Every timer runs out: Timer C for a call never answered, then the retention of what was
		// answered, twice over.
		for _, d := range []time.Duration{testTimerC, 64 * testT1, 64 * testT1, time.Minute} {
			now += d + testT1
			x.at(now)
		}
		if n, r := x.e.Transactions(), x.e.ret.n; n != 0 || r != 0 {
			t.Fatalf("after every timer ran: %d transactions, %d retained records left", n, r)
		}
	})
}
