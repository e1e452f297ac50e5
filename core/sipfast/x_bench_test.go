package sipfast

import (
	"fmt"
	"runtime"

	"net/netip"
	"testing"

	"github.com/herald-ims/herald/core/wheel"
)

// discardConn is a socket that keeps the last datagram sent to each address and sends nothing.
type discardConn struct{ last map[netip.AddrPort][]byte }

func (d *discardConn) Send(b []byte, to netip.AddrPort) error {
	d.last[to] = b
	return nil
}

// fastCall is one plain call's six datagrams as SIPp sends them (uac_plain.xml, uas_plain.xml), the
// callee's responses built for the branches Herald will use (its transaction ids are sequential).
type fastCall struct{ invite, ring, ok, ack, bye, byeOK []byte }

func benchFastCall(i int, invID, byeID uint64) fastCall {
	id := fmt.Sprintf("%d-bench@127.0.0.1", i)
	sdp := "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	from := fmt.Sprintf("From: sipp <sip:sipp@127.0.0.1:5061>;tag=%d\r\n", i)
	to := "To: service <sip:service@127.0.0.1:5060>"
	inv := fmt.Sprintf("INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-%d-1-0\r\n"+
		"%s%s\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\nContact: sip:sipp@127.0.0.1:5061\r\nMax-Forwards: 70\r\n"+
		"Subject: Performance Test\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", i, from, to, id, len(sdp), sdp)
	inDialog := func(method string, cseq int) []byte {
		return []byte(fmt.Sprintf("%s sip:service@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-%d-%d-0\r\n"+
			"Route: <sip:127.0.0.1:5060;lr>\r\n%s%s;tag=uas%d\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"+
			"Contact: sip:sipp@127.0.0.1:5061\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", method, i, cseq+4, from, to, i, id, cseq, method))
	}
	answer := func(status string, txID uint64, cseq string, rr bool) []byte {
		b := fmt.Sprintf("SIP/2.0 %s\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=%s%x\r\n", status, BranchPrefix, txID)
		b += fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-%d-%s-0\r\n", i, cseq[:1])
		if rr {
			b += "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
		}
		return []byte(fmt.Sprintf("%s%s%s;tag=uas%d\r\nCall-ID: %s\r\nCSeq: %s\r\nContact: <sip:service@127.0.0.1:5070>\r\n"+
			"Content-Length: 0\r\n\r\n", b, from, to, i, id, cseq))
	}
	return fastCall{
		invite: []byte(inv), ring: answer("180 Ringing", invID, "1 INVITE", true), ok: answer("200 OK", invID, "1 INVITE", true),
		ack: inDialog("ACK", 1), bye: inDialog("BYE", 2), byeOK: answer("200 OK", byeID, "6 BYE", false),
	}
}

// takeCall offers the engine the six datagrams of call i, each from its side.
func takeCall(b *testing.B, s *Engine, c Conn, call *fastCall, i int, caller, callee netip.AddrPort) {
	for k, m := range [...]struct {
		b    []byte
		from netip.AddrPort
	}{{call.invite, caller}, {call.ring, callee}, {call.ok, callee}, {call.ack, caller}, {call.bye, caller}, {call.byeOK, callee}} {
		if !s.Take(m.b, m.from, c) {
			b.Fatalf("message %d of call %d not taken:\n%s", k, i, m.b)
		}
	}
}

// BenchmarkFastPathCall is the engine's own cost of one plain call, as in the SIPp benchmark
// (INVITE, 180, 200, ACK, BYE, 200 through Take), without the sockets and with a host that
// answers from memory (core/signal's reads its profile store): the system calls are what
// bench/sipp measures on top.
func BenchmarkFastPathCall(b *testing.B) {
	h := newFakeHost()
	h.maxCalls = 1 << 30
	st := new(Stats)
	s := New(Config{ViaHost: "127.0.0.1", ViaPort: func() int { return 5060 }, RecordRoute: true, Stats: st,
		Clock: new(wheel.Manual)}, h)
	defer s.Close()
	dc := &discardConn{last: map[netip.AddrPort][]byte{}}
	c := Conn(dc)
	s.AddConn(c, false)
	caller := netip.MustParseAddrPort("127.0.0.1:5061")
	callee := netip.MustParseAddrPort("127.0.0.1:5070")
	const batch = 256
	calls := make([]fastCall, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%batch == 0 {
			b.StopTimer()
			next := s.nextID.Load()
			for j := range calls {
				calls[j] = benchFastCall(i+j, next+uint64(2*j+1), next+uint64(2*j+2))
			}
			b.StartTimer()
		}
		takeCall(b, s, c, &calls[i%batch], i, caller, callee)
	}
	b.StopTimer()
	if n := st.Calls.Load(); n != uint64(b.N) {
		b.Fatalf("%d fast calls for %d iterations", n, b.N)
	}
	if got := string(dc.last[caller][:14]); got != "SIP/2.0 200 OK" {
		b.Fatalf("last datagram to the caller: %q", got)
	}
}

// BenchmarkRetainedPerCall is the heap a finished plain call leaves in the engine while its
// transactions are kept for retransmissions (64·T1: RFC 3261 Timer J for the BYE, RFC 6026 Timer L
// for the INVITE): at a sustained rate R, the engine holds R × 32 s of them, so this figure times
// that count is the fast path's share of resident memory (before the collector's headroom,
// limits.gc_percent). The clock does not move, so every call is still retained when the heap is read.
func BenchmarkRetainedPerCall(b *testing.B) {
	const calls = 20000
	for range b.N {
		h := newFakeHost()
		h.maxCalls = 1 << 30
		s := New(Config{ViaHost: "127.0.0.1", ViaPort: func() int { return 5060 }, RecordRoute: true,
			Clock: new(wheel.Manual)}, h)
		dc := &discardConn{last: map[netip.AddrPort][]byte{}}
		c := Conn(dc)
		s.AddConn(c, false)
		caller := netip.MustParseAddrPort("127.0.0.1:5061")
		callee := netip.MustParseAddrPort("127.0.0.1:5070")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range calls {
			next := s.nextID.Load()
			call := benchFastCall(i, next+1, next+2)
			takeCall(b, s, c, &call, i, caller, callee)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := s.Transactions(); n != 2*calls {
			b.Fatalf("engine holds %d transactions after %d calls, want %d (the test measures nothing)", n, calls, 2*calls)
		}
		if n := h.Calls(); n != 0 {
			b.Fatalf("%d calls still admitted after their BYE", n)
		}
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/calls, "retained-B/call")
		runtime.KeepAlive(s)
		s.Close()
	}
}
