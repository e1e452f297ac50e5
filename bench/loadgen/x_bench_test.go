package loadgen

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkRTPPacket measures the receiver's accounting of one ringback packet (stream lookup by
// source, extended sequence number, duplicate bitmap, lateness), the per-packet work besides the
// recvmmsg itself. Streams restart every 3000 packets (the lateness samples' cap).
func BenchmarkRTPPacket(b *testing.B) {
	r := &rtpReceiver{lateAfter: 40 * time.Millisecond, streams: map[netip.AddrPort][]*rtpStream{}}
	src := netip.MustParseAddrPort("127.0.0.1:20000")
	at := time.Now()
	var i int
	b.ReportAllocs()
	for b.Loop() {
		if i%maxLateness == 0 {
			r.claim(src, time.Time{})
		}
		r.packet(src, rtpPacket(uint16(i), uint32(160*i), 7), at.Add(time.Duration(i)*20*time.Millisecond))
		i++
	}
}
