package sipfast

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRetainedCalls runs finished calls through the engine with the index keys narrowed (mask) so
// that they collide, and checks that every call's retained transactions still answer for that call
// and no other (RFC 6026 accepted, RFC 3261 §17.2.2 completed): the INVITE retransmission absorbed,
// the 2xx retransmission relayed, the ACK for the 2xx forwarded, a CANCEL answered 200 only, the
// BYE retransmission answered with that call's own 200, the 200's retransmission absorbed; and that
// Timers L and J forget them all. A key in use keeps its transaction a Tx (mask 0: one record).
func TestRetainedCalls(t *testing.T) {
	const T1, calls = testT1, 12
	for _, mask := range []uint64{^uint64(0), 3, 0} {
		t.Run(fmt.Sprintf("mask %#x", mask), func(t *testing.T) {
			x := newHarness(t, nil)
			x.e.ret.mask = mask
			inv := func(i int) []byte {
				return invite(fmt.Sprintf("z9hG4bKi%d", i), fmt.Sprintf("r%d@x", i), "sip:dave@home1.net")
			}
			to := func(i int) string { return fmt.Sprintf("<sip:dave@home1.net>;tag=d%d", i) }
			bye := func(i int) []byte {
				return request("BYE", fmt.Sprintf("z9hG4bKb%d", i), fmt.Sprintf("r%d@x", i), to(i), 2)
			}
			ack := func(i int) []byte {
				return request("ACK", fmt.Sprintf("z9hG4bKa%d", i), fmt.Sprintf("r%d@x", i), to(i), 1)
			}
			want := func(i int, what string, r, wantR Reason, sent []string, wantSent ...string) {
				t.Helper()
				if r != wantR || strings.Join(sent, "|") != strings.Join(wantSent, "|") {
					t.Fatalf("call %d, %s: %v %q, want %v %q", i, what, r, sent, wantR, wantSent)
				}
			}
			okInv, okBye := make([][]byte, calls), make([][]byte, calls)
			for i := range calls {
				r, sent := x.in(x.caller, inv(i))
				want(i, "INVITE", r, ReasonForwarded, sent, "callee INVITE")
				okInv[i] = reply(x.last["callee INVITE"], "200 OK", fmt.Sprintf("d%d", i))
				r, sent = x.in(x.callee, okInv[i])
				want(i, "200", r, ReasonResponse, sent, "caller SIP/2.0 200 OK")
				r, sent = x.in(x.caller, bye(i))
				want(i, "BYE", r, ReasonForwarded, sent, "callee BYE")
				okBye[i] = reply(x.last["callee BYE"], "200 OK", "")
				r, sent = x.in(x.callee, okBye[i])
				want(i, "BYE's 200", r, ReasonResponse, sent, "caller SIP/2.0 200 OK")
			}
			if n := x.e.Transactions(); n != 2*calls {
				t.Fatalf("%d transactions, want %d", n, 2*calls)
			}
			switch n := x.e.ret.n; {
			case mask == 0 && n != 1, mask != 0 && n == 0:
				t.Fatalf("%d records compacted", n)
			}
			x.at(T1)
			for i := range calls {
				r, sent := x.in(x.caller, inv(i))
				want(i, "INVITE again", r, ReasonAbsorbed, sent)
				r, sent = x.in(x.callee, okInv[i])
				want(i, "200 again", r, ReasonResponse, sent, "caller SIP/2.0 200 OK")
				if got := x.last["caller SIP/2.0"]; !bytes.Contains(got, fmt.Appendf(nil, "Call-ID: r%d@x\r\n", i)) {
					t.Fatalf("call %d: the 2xx relayed is another call's:\n%s", i, got)
				}
				r, sent = x.in(x.caller, ack(i))
				want(i, "ACK", r, ReasonForwarded, sent, "callee ACK")
				r, sent = x.in(x.caller, request("ACK", "z9hG4bKz", fmt.Sprintf("r%d@x", i), to(i)+"x", 1))
				want(i, "ACK of another dialog", r, ReasonNoTransaction, sent)
				r, sent = x.in(x.caller, request("CANCEL", fmt.Sprintf("z9hG4bKi%d", i), fmt.Sprintf("r%d@x", i), "<sip:dave@home1.net>", 1))
				want(i, "CANCEL", r, ReasonAnswered, sent, "caller SIP/2.0 200 OK")
				r, sent = x.in(x.caller, bye(i))
				want(i, "BYE again", r, ReasonAbsorbed, sent, "caller SIP/2.0 200 OK")
				if got := x.last["caller SIP/2.0"]; !bytes.Equal(got, stripOurVia(t, okBye[i])) {
					t.Fatalf("call %d: BYE answered with\n%s", i, got)
				}
				r, sent = x.in(x.callee, okBye[i])
				want(i, "BYE's 200 again", r, ReasonResponse, sent)
				// Responses of this call's Call-ID and CSeq to a branch of Herald's that is no
				// transaction: stray, whatever is retained.
				r, sent = x.in(x.callee, otherID(t, okBye[i]))
				want(i, "BYE's 200 to another branch", r, ReasonStray, sent)
				r, sent = x.in(x.callee, otherID(t, reply(x.last["callee INVITE"], "486 Busy Here", fmt.Sprintf("d%d", i))))
				want(i, "486 to another branch", r, ReasonStray, sent)
			}
			// A BYE of the same Call-ID and CSeq on another branch (the callee's side, say) is a new
			// transaction: forwarded, not answered from the record.
			other := request("BYE", "z9hG4bKother", "r0@x", to(0), 2)
			if r, sent := x.in(x.caller, other); r != ReasonForwarded {
				t.Fatalf("BYE on another branch: %v %q", r, sent)
			}
			x.at(T1 + 64*T1) // Timers L and J of the calls; the last BYE's F fires at 64·T1 after it
			if n := x.e.Transactions(); n != 1 {
				t.Fatalf("%d transactions after Timers L and J, want 1 (the last BYE)", n)
			}
			if r, _ := x.in(x.caller, ack(3)); r != ReasonNoTransaction {
				t.Fatalf("ACK after Timer L: %v", r)
			}
		})
	}
}

// otherID is res with Herald's branch naming a transaction id the engine never used.
func otherID(t *testing.T, res []byte) []byte {
	i := bytes.Index(res, []byte(BranchPrefix))
	if i < 0 {
		t.Fatalf("no Herald branch:\n%s", res)
	}
	e := i + bytes.IndexAny(res[i:], ";,\r")
	return slices.Concat(res[:i], []byte(BranchPrefix+"fffffffffff"), res[e:])
}

// stripOurVia is the callee's response as the engine relays it (without Herald's Via).
func stripOurVia(t *testing.T, res []byte) []byte {
	var m fmsg
	if !m.scan(res) {
		t.Fatalf("unscannable:\n%s", res)
	}
	return stripVia(&m)
}

// TestRetainedMangledVia: a callee whose 200 to a BYE does not copy the request's Via as sent
// (here in compact form and upper case) still has the BYE's retransmission answered: the record
// keeps the branch and sent-by itself (viaKeyIs false).
func TestRetainedMangledVia(t *testing.T) {
	x := newHarness(t, nil)
	x.in(x.caller, invite("z9hG4bKm1", "m1@x", "sip:dave@home1.net"))
	x.in(x.callee, reply(x.last["callee INVITE"], "200 OK", "dm"))
	bye := request("BYE", "z9hG4bKmb", "m1@x", "<sip:dave@home1.net>;tag=dm", 2)
	x.in(x.caller, bye)
	ok := reply(x.last["callee BYE"], "200 OK", "")
	ok = bytes.Replace(ok, []byte("Via: SIP/2.0/UDP 127.0.0.1:5061"), []byte("v: SIP/2.0/UDP 127.0.0.1:5061"), 1)
	ok = bytes.Replace(ok, []byte(";branch=z9hG4bKmb"), []byte(";branch=z9hG4bKMB"), 1)
	if r, sent := x.in(x.callee, ok); r != ReasonResponse || len(sent) != 1 {
		t.Fatalf("BYE's 200: %v %q", r, sent)
	}
	if x.e.ret.n != 2 || len(x.e.out) != 0 {
		t.Fatalf("%d records, %d transactions in the tables: want 2 and 0", x.e.ret.n, len(x.e.out))
	}
	if r, sent := x.in(x.caller, bye); r != ReasonAbsorbed || len(sent) != 1 || sent[0] != "caller SIP/2.0 200 OK" {
		t.Fatalf("BYE again: %v %q", r, sent)
	}
	// The 200's Via names z9hG4bKMB: a BYE with that branch is not this transaction.
	if r, _ := x.in(x.caller, request("BYE", "z9hG4bKMB", "m1@x", "<sip:dave@home1.net>;tag=dm", 2)); r != ReasonForwarded {
		t.Fatalf("BYE on the branch the mangled Via names: %v", r)
	}
}

// TestViaKeyIs: a response names exactly one server transaction key by its first Via value.
func TestViaKeyIs(t *testing.T) {
	res := []byte("SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=1\r\nVia: SIP/2.0/UDP 10.0.0.1:5061;rport=5061;branch=z9hG4bKab;received=10.0.0.1, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKcd\r\nCall-ID: c\r\n\r\n")
	for key, want := range map[string]bool{
		"z9hG4bKab 10.0.0.1:5061":  true,
		"z9hG4bKa 10.0.0.1:5061":   false,
		"z9hG4bKabc 10.0.0.1:5061": false,
		"z9hG4bKab 10.0.0.1":       false,
		"z9hG4bKab 10.0.0.1:506":   false,
		"z9hG4bKcd 10.0.0.2":       false, // the second value
		"z9hG4bKab":                false,
	} {
		if got := viaKeyIs(res, []byte(key)); got != want {
			t.Errorf("viaKeyIs(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestRetainedIndex checks the arena and its open-addressing index against a map, over many
// records of random sizes (slab boundaries crossed), keys narrowed so that they share probe
// chains, expiry in order, the index growing and shrinking: every live key finds its record, every
// expired or absent one nothing, and the records read back as written.
func TestRetainedIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRetained(maphash.MakeSeed())
	type live struct {
		id  uint64
		end int64
		up  netip.AddrPort
		res []byte
	}
	model := map[uint64]live{} // key → what was written
	var order []uint64         // keys in arena order
	now, id := int64(0), uint64(0)
	check := func() {
		t.Helper()
		if r.n != len(model) {
			t.Fatalf("%d records, model %d", r.n, len(model))
		}
		for k, want := range model {
			x, ok := r.find(k)
			if !ok || x.key != k || x.id != want.id || x.end != want.end || x.up != want.up || !bytes.Equal(x.res, want.res) {
				t.Fatalf("key %#x: %v %+v, want %+v", k, ok, x, want)
			}
		}
		for range 50 {
			k := rng.Uint64() & 0xfff
			if _, ok := model[k]; !ok {
				if _, found := r.find(k); found {
					t.Fatalf("key %#x found, not held", k)
				}
			}
		}
	}
	for round := range 40 {
		for range rng.IntN(3000) {
			now++
			id++
			k := rng.Uint64() & 0xfff // 4,096 keys: most probe chains are shared
			up := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(id), byte(id >> 8)}), uint16(id))
			if id%3 == 0 {
				up = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, 15: byte(id)}), 5060)
			}
			size := rng.IntN(600)
			if id%50 == 0 {
				size = rng.IntN(retMax - 200)
			}
			res := bytes.Repeat([]byte{byte(id)}, size)
			tx := &Tx{id: id, branch: "z9hG4bKx 10.0.0.1", up: up, end: now + 1000, last: res}
			_, used := model[k]
			if ok := r.put(tx, recNonInvite, k, 0); ok == used {
				t.Fatalf("round %d: put %#x: %v with the key used %v", round, k, ok, used)
			}
			if !used {
				model[k] = live{id, now + 1000, up, res}
				order = append(order, k)
			}
		}
		check()
		now += int64(rng.IntN(1200))
		r.expire(now)
		for len(order) > 0 && model[order[0]].end <= now {
			delete(model, order[0])
			order = order[1:]
		}
		check()
	}
	r.expire(now + 2000)
	if r.n != 0 || len(r.slabs) > 1 || len(r.idx) != retMin {
		t.Fatalf("empty: %d records, %d slabs, index %d", r.n, len(r.slabs), len(r.idx))
	}
}

// TestRetainedExpiresExactly: a compacted INVITE and BYE are forgotten at their Timer L and J to
// the nanosecond, like the Tx they replaced.
func TestRetainedExpiresExactly(t *testing.T) {
	x := newHarness(t, nil)
	x.at(time.Millisecond)
	x.in(x.caller, invite("z9hG4bKe1", "e1@x", "sip:dave@home1.net"))
	x.in(x.callee, reply(x.last["callee INVITE"], "200 OK", "de"))
	if x.e.ret.n != 1 {
		t.Fatalf("%d records", x.e.ret.n)
	}
	x.at(time.Millisecond + 64*testT1 - 1)
	if x.e.Transactions() != 1 {
		t.Fatal("forgotten before Timer L")
	}
	x.at(time.Millisecond + 64*testT1)
	if x.e.Transactions() != 0 {
		t.Fatal("kept after Timer L")
	}
}

// TestRetainedConnAndIPv6: a record answers from the socket the request came in on (here the
// engine's second) and to the upstream address as it was (here IPv6).
func TestRetainedConnAndIPv6(t *testing.T) {
	x := newHarness(t, nil)
	c2 := &recConn{}
	x.e.AddConn(c2, false)
	up := netip.MustParseAddrPort("[2001:db8::1]:5061")
	// last is the one datagram c2 sent since the previous call.
	last := func(what string) Datagram {
		t.Helper()
		sent := c2.take()
		if len(sent) != 1 || len(x.c.take()) != 0 {
			t.Fatalf("%s: %d datagrams on the second socket", what, len(sent))
		}
		return sent[0]
	}
	x.e.Take(invite("z9hG4bKv1", "v1@x", "sip:dave@home1.net"), up, c2)
	x.e.Take(reply(last("INVITE").B, "200 OK", "dv"), x.callee, x.c)
	last("200")
	bye := request("BYE", "z9hG4bKvb", "v1@x", "<sip:dave@home1.net>;tag=dv", 2)
	x.e.Take(bye, up, c2)
	x.e.Take(reply(last("BYE").B, "200 OK", ""), x.callee, x.c)
	ok := last("BYE's 200")
	if x.e.ret.n != 2 {
		t.Fatalf("%d records", x.e.ret.n)
	}
	x.e.Take(bye, up, c2)
	if again := last("BYE again"); again.To != up || !bytes.Equal(again.B, ok.B) {
		t.Fatalf("BYE again: answered to %v with\n%s", again.To, again.B)
	}
}
