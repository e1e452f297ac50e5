//go:build linux

package rtp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/media"
	"golang.org/x/sys/unix"
)

// recvBufSize is the kernel's SO_RCVBUF of s's RTP socket.
func recvBufSize(t *testing.T, s *Stream) int {
	t.Helper()
	n, err := unix.GetsockoptInt(s.rtpFD, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// RTCP latches on its own socket (the RTP+1 guess is replaced by where the caller's RTCP comes
// from), and a caller that keeps flooding after the latch costs nothing: nobody reads a latched
// socket, so its receive buffer is kept small and the stream plays on.
func TestLatchingRTCPAndFloodAfterLatch(t *testing.T) {
	p := startPlane(t, Options{RTCPInterval: 100 * time.Millisecond})
	sdpRTP, _ := listenPair(t) // SRs go to its RTCP port until the caller's RTCP arrives
	callerRTP, callerRTCP := listen(t), listen(t)
	s, _ := p.Allocate()
	if err := s.Play(addrOf(sdpRTP), media.Track{Packets: pcmuClip(4), PayloadType: 0}); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, ok := readRTP(t, sdpRTP, time.Second); !ok {
		t.Fatal("nothing at the SDP address")
	}
	local := netip.MustParseAddr("127.0.0.1")
	rr := []byte{0x80, 201, 0, 1, 0xca, 0xfe, 0xba, 0xbe} // an empty RTCP RR
	if _, err := callerRTCP.WriteToUDPAddrPort(rr, netip.AddrPortFrom(local, uint16(s.Port()+1))); err != nil {
		t.Fatal(err)
	}
	// Within the RTCP probe period (1 s) plus an SR interval, SRs arrive at the caller's RTCP source.
	buf := make([]byte, 1500)
	_ = callerRTCP.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := callerRTCP.Read(buf); err != nil || n < 28 || buf[1] != 200 {
		t.Fatalf("no SR at the caller's RTCP source: %d bytes, %v", n, err)
	}
	hello := []byte{0x80, 0x00, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}
	dst := netip.AddrPortFrom(local, uint16(s.Port()))
	for range 2000 { // far more than any receive buffer Herald keeps: the kernel drops the rest
		if _, err := callerRTP.WriteToUDPAddrPort(hello, dst); err != nil {
			t.Fatal(err)
		}
	}
	first, ok := readRTP(t, callerRTP, time.Second)
	if !ok {
		t.Fatal("no RTP at the caller's source after latching")
	}
	var last rtpPkt
	for range 10 { // the stream keeps its pace after the flood
		if last, ok = readRTP(t, callerRTP, time.Second); !ok {
			t.Fatal("stream stalled after the flood")
		}
	}
	if got := last.seq - first.seq; got != 10 {
		t.Errorf("sequence advanced by %d over 10 packets", got)
	}
	if st := p.Stats(); st.Latched != 2 {
		t.Errorf("latched = %d, want 2 (RTP and RTCP)", st.Latched)
	}
	if got := recvBufSize(t, s); got > 4*rcvBuf {
		t.Errorf("stream socket SO_RCVBUF = %d, want about %d", got, 2*rcvBuf)
	}
}

// A stream's RTP leaves from a connected socket, which learns of the caller's closed port through
// ICMP and reports it on the next send as ECONNREFUSED; that send is retried, so a caller that is
// not listening (yet) loses nothing at the sender and the stream keeps its pace.
func TestConnectedSenderSurvivesPortUnreachable(t *testing.T) {
	p := startPlane(t, Options{})
	closed := listen(t)
	dst := addrOf(closed)
	closed.Close() // ICMP port unreachable for every packet from now on
	s, _ := p.Allocate()
	if err := s.Play(dst, media.Track{Packets: pcmuClip(4), PayloadType: 0}); err != nil {
		t.Fatal(err)
	}
	if s.txRTP < 0 {
		t.Fatal("stream has no connected sender")
	}
	// Each datagram draws an ICMP port unreachable, so every send after the first meets a pending
	// ECONNREFUSED. Wait for 10 packets (200 ms of stream; generous deadline for a loaded box).
	for deadline := time.Now().Add(5 * time.Second); p.Stats().Packets < 10 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	st := p.Stats()
	if st.Packets < 10 || st.Dropped != 0 || st.Unconnected != 0 {
		t.Errorf("sent %d, dropped %d, unconnected %d; want ≥ 10 sent, none dropped", st.Packets, st.Dropped, st.Unconnected)
	}
}
