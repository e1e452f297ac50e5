package signal

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/herald-ims/herald/core/profile"
)

// discardConn is a UDP socket that keeps the last datagram written to each address and sends
// nothing.
type discardConn struct {
	net.PacketConn // nil: only WriteTo and LocalAddr are used
	last           map[netip.AddrPort][]byte
}

func (d *discardConn) WriteTo(b []byte, a net.Addr) (int, error) {
	d.last[a.(*net.UDPAddr).AddrPort()] = b
	return len(b), nil
}

func (d *discardConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
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
		b := fmt.Sprintf("SIP/2.0 %s\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=%s%x\r\n", status, fastPrefix, txID)
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

// BenchmarkFastPathCall is the fast path's own cost of one plain call, as in the SIPp benchmark
// (INVITE, 180, 200, ACK, BYE, 200 through take), without the sockets: the system calls are what
// bench/sipp measures on top.
func BenchmarkFastPathCall(b *testing.B) {
	s, err := New(Options{Host: "127.0.0.1", Port: 5060, NextHop: "127.0.0.1:5070", RecordRoute: true, MaxCalls: 1 << 30},
		Deps{Profiles: profile.NewMemStore(), MSRP: fakePlane{}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.learnPort(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}, tpUDP)
	dc := &discardConn{last: map[netip.AddrPort][]byte{}}
	c := s.fast.addConn(dc, nil)
	caller := netip.MustParseAddrPort("127.0.0.1:5061")
	callee := netip.MustParseAddrPort("127.0.0.1:5070")
	const batch = 256
	calls := make([]fastCall, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%batch == 0 {
			b.StopTimer()
			next := s.fast.nextID.Load()
			for j := range calls {
				calls[j] = benchFastCall(i+j, next+uint64(2*j+1), next+uint64(2*j+2))
			}
			b.StartTimer()
		}
		call := &calls[i%batch]
		for k, m := range [...]struct {
			b    []byte
			from netip.AddrPort
		}{{call.invite, caller}, {call.ring, callee}, {call.ok, callee}, {call.ack, caller}, {call.bye, caller}, {call.byeOK, callee}} {
			if !s.fast.takeSafe(m.b, m.from, c) {
				b.Fatalf("message %d of call %d not taken:\n%s", k, i, m.b)
			}
		}
	}
	b.StopTimer()
	if n := s.Stats.Fast.Calls.Load(); n != uint64(b.N) {
		b.Fatalf("%d fast calls for %d iterations", n, b.N)
	}
	if got := string(dc.last[caller][:14]); got != "SIP/2.0 200 OK" {
		b.Fatalf("last datagram to the caller: %q", got)
	}
}
