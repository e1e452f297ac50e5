package signal

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// BenchmarkOptionsKeepalive is the cost of a dispatcher's keepalive: one OPTIONS to Herald itself
// (Request-URI = the node, no To tag) over UDP and its 200 OK, one at a time over loopback (the
// wall time of the round trip, the test's own sending and reading included). A Kamailio in front
// sends one a second per node: this is what that costs the node.
func BenchmarkOptionsKeepalive(b *testing.B) {
	st, _ := testStore(b)
	callee, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer callee.Close()
	r := startHerald(b, st, callee.LocalAddr().String(), nil)
	c, err := net.Dial("udp", r.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		msg := fmt.Appendf(nil, "OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKbo%d\r\nMax-Forwards: 70\r\n"+
			"From: <sip:dispatcher@localhost>;tag=b%d\r\nTo: <sip:%s>\r\nCall-ID: bo-%d@localhost\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			r.addr, la, i, i, r.addr, i)
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil || !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200")) {
			b.Fatalf("keepalive %d: %v %q", i, err, buf[:min(n, 40)])
		}
	}
}
