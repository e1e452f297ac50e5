package sipfast

import (
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestFastVerdicts proves the engine's explicit verdict per datagram without sockets or wall
// clock: each row offers one datagram (the rows build on each other: a call, its retransmission, a
// loop, its responses) and checks the reason, hence the verdict, and that Take hands the general
// path exactly the datagrams of general verdicts. At the end every reason's counter equals its rows,
// and the snapshot has one field per reason.
func TestFastVerdicts(t *testing.T) {
	x := newHarness(t, nil)
	x.h.cards["sip:cardee@home1.net"] = true
	s, c := x.e, x.c
	caller, callee := x.caller, x.callee
	var last []byte
	sentTo := func(to netip.AddrPort) []byte { // the last datagram sent to to
		for _, d := range c.take() {
			if d.To == to {
				last = d.B
			}
		}
		return last
	}
	inv := func(branch, callID, ruri, to, extra, body string) string {
		return fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=%s\r\n%s"+
			"From: <sip:erin@home1.net>;tag=f\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"+
			"Contact: <sip:erin@127.0.0.1:5061>\r\nContent-Length: %d\r\n\r\n%s",
			ruri, branch, extra, to, callID, len(body), body)
	}
	mf := "Max-Forwards: 70\r\n"
	plain := inv("z9hG4bKv1", "v1@x", "sip:dave@home1.net", "<sip:dave@home1.net>", mf, "")
	req := func(method, branch, callID, to string) string {
		return fmt.Sprintf("%s sip:dave@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=%s\r\n%s"+
			"From: <sip:erin@home1.net>;tag=f\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n",
			method, branch, mf, to, callID, method)
	}
	res := func(status, branch, callID, cseq string) string {
		return fmt.Sprintf("SIP/2.0 %s\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKv1\r\n"+
			"From: <sip:erin@home1.net>;tag=f\r\nTo: <sip:dave@home1.net>;tag=d\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
			status, branch, callID, cseq)
	}
	fwdBranch := func() string { // the branch Herald gave the forwarded plain INVITE
		fwd := sentTo(callee)
		m := regexp.MustCompile(`branch=(z9hG4bKhrld[0-9a-f]+)`).FindSubmatch(fwd)
		if m == nil {
			t.Fatalf("no forwarded INVITE:\n%s", fwd)
		}
		return string(m[1])
	}
	rows := []struct {
		name string
		msg  func() string
		from netip.AddrPort
		want Reason
	}{
		{"plain INVITE", func() string { return plain }, caller, ReasonForwarded},
		{"its retransmission", func() string { return plain }, caller, ReasonAbsorbed},
		{"a loop: same Call-ID, new branch", func() string {
			return strings.Replace(plain, "z9hG4bKv1", "z9hG4bKv2", 1)
		}, caller, ReasonAnswered},
		{"the callee's 180", func() string { return res("180 Ringing", fwdBranch(), "v1@x", "1 INVITE") }, callee, ReasonResponse},
		{"CANCEL of the call", func() string { return req("CANCEL", "z9hG4bKv1", "v1@x", "<sip:dave@home1.net>") }, caller, ReasonAnswered},
		{"re-INVITE", func() string {
			return inv("z9hG4bKr1", "r1@x", "sip:dave@home1.net", "<sip:dave@home1.net>;tag=d", mf, "")
		}, caller, ReasonMethod},
		{"OPTIONS (outside the scanner's methods)", func() string { return req("OPTIONS", "z9hG4bKo1", "o1@x", "<sip:dave@home1.net>") }, caller, ReasonUnscanned},
		{"BYE without To tag", func() string { return req("BYE", "z9hG4bKb1", "b1@x", "<sip:dave@home1.net>") }, caller, ReasonOutOfDialog},
		{"Max-Forwards 1", func() string {
			return inv("z9hG4bKm1", "m1@x", "sip:dave@home1.net", "<sip:dave@home1.net>", "Max-Forwards: 1\r\n", "")
		}, caller, ReasonMaxForwards},
		{"Proxy-Require", func() string {
			return inv("z9hG4bKp1", "p1@x", "sip:dave@home1.net", "<sip:dave@home1.net>", mf+"Proxy-Require: foo\r\n", "")
		}, caller, ReasonProxyRequire},
		{"Route to a name without a port", func() string {
			return inv("z9hG4bKn1", "n1@x", "sip:dave@home1.net", "<sip:dave@home1.net>", mf+"Route: <sip:scscf.example;lr>\r\n", "")
		}, caller, ReasonRoute},
		{"callee with a card", func() string {
			return inv("z9hG4bKc1", "c1@x", "sip:cardee@home1.net", "<sip:cardee@home1.net>", mf, "")
		}, caller, ReasonNotPlain},
		{"too big for UDP", func() string {
			return inv("z9hG4bKs1", "s1@x", "sip:dave@home1.net", "<sip:dave@home1.net>", mf, strings.Repeat("a", 1400))
		}, caller, ReasonSize},
		{"response to sipgo", func() string { return res("200 OK", "z9hG4bK.sipgo1", "g1@x", "1 INVITE") }, callee, ReasonSipgoBranch},
		{"stray 486", func() string { return res("486 Busy Here", string(x.e.branchOf(1)), "x1@x", "1 INVITE") }, callee, ReasonStray},
		{"stray 2xx", func() string { return res("200 OK", string(x.e.branchOf(2)), "x2@x", "1 INVITE") }, callee, ReasonStray2xx},
		{"2xx on a branch the engine never minted", func() string { return res("200 OK", "z9hG4bKhrld3", "x3@x", "1 INVITE") }, callee, ReasonStray},
		{"ACK of no fast transaction", func() string { return req("ACK", "z9hG4bKa1", "a1@x", "<sip:dave@home1.net>;tag=d") }, caller, ReasonNoTransaction},
		{"CANCEL of no fast transaction", func() string { return req("CANCEL", "z9hG4bKq1", "q1@x", "<sip:dave@home1.net>") }, caller, ReasonNoTransaction},
		{"not SIP", func() string { return "hello\r\n\r\n" }, caller, ReasonUnscanned},
	}
	var want [numReasons]uint64
	for _, r := range rows {
		took := s.Take([]byte(r.msg()), r.from, c)
		var got []Reason
		for i := range numReasons {
			if n := x.st.Verdicts[i].Load(); n != want[i] {
				got = append(got, i)
			}
		}
		want[r.want]++
		if len(got) != 1 || got[0] != r.want {
			t.Fatalf("%s: reasons counted %v, want %v (%s)", r.name, got, r.want, r.want.Verdict())
		}
		if took != (r.want.Verdict() != VerdictGeneral) {
			t.Fatalf("%s: taken %t with verdict %s", r.name, took, r.want.Verdict())
		}
	}
	for i := range numReasons {
		if n := x.st.Verdicts[i].Load(); n != want[i] {
			t.Errorf("%s: counted %d, want %d", i, n, want[i])
		}
	}
	// The snapshot (/varz, /metrics) has one field per reason, in the enum's order, named by it.
	snap := reflect.ValueOf(x.st.Snapshot(s.Transactions()).Verdicts)
	if snap.NumField() != int(numReasons) {
		t.Fatalf("VerdictSnapshot has %d fields for %d reasons", snap.NumField(), numReasons)
	}
	for i := range numReasons {
		f := snap.Type().Field(int(i))
		tag := f.Tag.Get("metric")
		if f.Tag.Get("json") != i.String() || !strings.Contains(tag, "verdict="+i.Verdict().String()+",reason="+i.String()+"}") {
			t.Errorf("field %s (json %q, metric %q) is not reason %s (%s)", f.Name, f.Tag.Get("json"), tag, i, i.Verdict())
		}
		if got := snap.Field(int(i)).Uint(); got != want[i] {
			t.Errorf("snapshot %s = %d, want %d", f.Name, got, want[i])
		}
	}
}

// TestNotPlainInviteBuildsNothing: an INVITE the engine hands to the general path because its call
// is not plain (a card to push) costs the engine its scan and the plain-call rule, not a
// transaction and a forwarded copy of the INVITE it would throw away (about 2 KB per push call
// before the rule was asked first).
func TestNotPlainInviteBuildsNothing(t *testing.T) {
	x := newHarness(t, nil)
	x.h.cards["sip:cardee@home1.net"] = true
	i := 0
	msg := func() []byte {
		i++
		return fmt.Appendf(nil, "INVITE sip:cardee@home1.net SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKnp%d\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:erin@home1.net>;tag=f\r\nTo: <sip:cardee@home1.net>\r\nCall-ID: np%d@x\r\n"+
			"CSeq: 1 INVITE\r\nContact: <sip:erin@127.0.0.1:5061>\r\nContent-Length: 0\r\n\r\n", i, i)
	}
	var bytes uint64
	allocs := testing.AllocsPerRun(50, func() {
		b := msg()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if x.e.Take(b, x.caller, x.c) {
			t.Fatal("the engine took an INVITE whose call is not plain")
		}
		runtime.ReadMemStats(&after)
		bytes = after.TotalAlloc - before.TotalAlloc
	})
	t.Logf("%.0f allocations per INVITE handed over (message built included), %d bytes in the last Take", allocs, bytes)
	if bytes > 512 {
		t.Errorf("Take allocated %d bytes for an INVITE it hands over: a transaction or a forwarded copy was built", bytes)
	}
}

// TestForwardGrowthBounds: forwardGrowth bounds what forwardRequest adds, in the worst case: a long
// IPv6 Via host with Record-Route, a caller's Via with a bare rport from a zoned IPv6 source (received
// and rport filled in), a Max-Forwards written without its space, and the largest branch id. The
// engine measures an INVITE before the plain-call rule only when it may not fit (onInvite).
func TestForwardGrowthBounds(t *testing.T) {
	const host = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
	x := newHarness(t, func(c *Config) { c.ViaHost = host; c.ViaPort = func() int { return 65535 } })
	src := netip.MustParseAddrPort("[fe80::ffff:ffff:ffff:ffff%eth0-long-name]:65535")
	for _, mf := range []string{"Max-Forwards:70\r\n", "Max-Forwards: 70\r\n", "Max-Forwards:\t9\r\n"} {
		msg := []byte("INVITE sip:dave@home1.net SIP/2.0\r\nVia: SIP/2.0/UDP h;rport;branch=z9hG4bKg1\r\n" + mf +
			"From: <sip:erin@home1.net>;tag=f\r\nTo: <sip:dave@home1.net>\r\nCall-ID: g1@x\r\nCSeq: 1 INVITE\r\n" +
			"Contact: <sip:erin@h>\r\nContent-Length: 0\r\n\r\n")
		var m fmsg
		if !m.scan(msg) {
			t.Fatalf("scan %q", msg)
		}
		r, ok := x.e.routeOf(&m, true)
		if !ok {
			t.Fatal("no route")
		}
		fwd := x.e.forwardRequest(&m, src, r, x.e.branchOf(^uint64(0)), true)
		if grew := len(fwd) - len(msg); grew > x.e.forwardGrowth() || grew < 100 {
			t.Errorf("%q: forwarded INVITE grew by %d bytes, bound %d:\n%s", mf, grew, x.e.forwardGrowth(), fwd)
		}
	}
}
