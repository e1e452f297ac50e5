package main

// gnet versus plain sockets for the RTP plane (issue 5 item 5). Run:
//
//	go test -run XXX -bench . -benchtime 200000x ./bench/rtpbench
//
// Send: the plane needs one socket per stream (the port in the SDP answer, symmetric RTP behind NAT).
// In gnet that is one Enrolled UDP conn per stream; gnet's UDP AsyncWrite is a synchronous sendto of
// one buffer (AsyncWritev is unsupported for UDP), so the 12-byte header must be copied together with
// the payload, and there is no sendmmsg. Plain: sendmsg with two iovecs (header, shared payload).
// Receive: gnet builds a throw-away conn per UDP datagram; a plain socket read allocates nothing.

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

type quiet struct{}

func (quiet) Debugf(string, ...any) {}
func (quiet) Infof(string, ...any)  {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(string, ...any) {}

var (
	hdr     = [12]byte{0x80, 0, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef}
	payload = make([]byte, 160)
)

// drainUDP returns a sink socket drained by a goroutine, and a function to close it.
func drainUDP(tb testing.TB) (*net.UDPConn, *atomic.Uint64) {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	_ = c.SetReadBuffer(8 << 20)
	var n atomic.Uint64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	tb.Cleanup(func() { c.Close() })
	return c, &n
}

// BenchmarkSendPlain is what netio/rtp does per stream socket: sendmsg(2) with the header and the
// shared payload as two iovecs, no copy, no allocation.
func BenchmarkSendPlain(b *testing.B) {
	sink, _ := drainUDP(b)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	port := sink.LocalAddr().(*net.UDPAddr).Port
	(*[2]byte)(unsafe.Pointer(&sa.Port))[0], (*[2]byte)(unsafe.Pointer(&sa.Port))[1] = byte(port>>8), byte(port)
	iov := []unix.Iovec{{Base: &hdr[0]}, {Base: &payload[0]}}
	iov[0].SetLen(12)
	iov[1].SetLen(len(payload))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&sa)), Namelen: unix.SizeofSockaddrInet4, Iov: &iov[0]}
	msg.SetIovlen(2)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0); e != 0 {
			b.Fatal(e)
		}
	}
}

type nopHandler struct{ gnet.BuiltinEventEngine }

// BenchmarkSendGnet sends through a UDP conn enrolled in a gnet client engine, as the plane would if
// gnet owned the RTP sockets: copy header+payload into one buffer, then AsyncWrite (sendto).
func BenchmarkSendGnet(b *testing.B) {
	sink, _ := drainUDP(b)
	cli, err := gnet.NewClient(&nopHandler{}, gnet.WithLogger(quiet{}))
	if err != nil {
		b.Fatal(err)
	}
	if err := cli.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cli.Stop() }()
	uc, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer uc.Close()
	c, err := cli.Enroll(uc)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for b.Loop() {
		buf = append(append(buf[:0], hdr[:]...), payload...)
		if err := c.AsyncWrite(buf, nil); err != nil {
			b.Fatal(err)
		}
	}
}

type countHandler struct {
	gnet.BuiltinEventEngine
	n   *atomic.Uint64
	eng chan gnet.Engine
}

func (h *countHandler) OnBoot(e gnet.Engine) gnet.Action { h.eng <- e; return gnet.None }
func (h *countHandler) OnTraffic(c gnet.Conn) gnet.Action {
	_, _ = c.Next(-1)
	h.n.Add(1)
	return gnet.None
}

// recvBench sends b.N datagrams from a raw socket (0 allocs) to addr and waits until n counts them;
// the allocations reported are the receiver's.
func recvBench(b *testing.B, port int, n *atomic.Uint64) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	pkt := append(hdr[:], payload...)
	b.ReportAllocs()
	var sent uint64
	for b.Loop() {
		_, _ = unix.Write(fd, pkt)
		sent++
		for sent-n.Load() > 256 { // stay below the socket buffer: no loss, receiver-paced
			time.Sleep(10 * time.Microsecond)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for n.Load() < sent && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(n.Load())/float64(sent), "delivered/sent")
}

// BenchmarkRecvGnet: a gnet UDP listener counting datagrams in OnTraffic.
func BenchmarkRecvGnet(b *testing.B) {
	var n atomic.Uint64
	h := &countHandler{n: &n, eng: make(chan gnet.Engine, 1)}
	const addr = "udp://127.0.0.1:46871"
	go func() { _ = gnet.Run(h, addr, gnet.WithLogger(quiet{}), gnet.WithNumEventLoop(1)) }()
	var eng gnet.Engine
	select {
	case eng = <-h.eng:
	case <-time.After(5 * time.Second):
		b.Fatal("gnet did not boot")
	}
	defer func() { _ = eng.Stop(context.Background()) }()
	recvBench(b, 46871, &n)
}

// BenchmarkRecvPlain: a goroutine reading a net.UDPConn with ReadFromUDPAddrPort.
func BenchmarkRecvPlain(b *testing.B) {
	sink, n := drainUDP(b)
	recvBench(b, sink.LocalAddr().(*net.UDPAddr).Port, n)
}

// BenchmarkSendPlainConnected is BenchmarkSendPlain on a connected socket (the kernel keeps the
// route): what a stream could use once its destination is fixed.
func BenchmarkSendPlainConnected(b *testing.B) {
	sink, _ := drainUDP(b)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: sink.LocalAddr().(*net.UDPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	iov := []unix.Iovec{{Base: &hdr[0]}, {Base: &payload[0]}}
	iov[0].SetLen(12)
	iov[1].SetLen(len(payload))
	msg := unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(2)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0); e != 0 {
			b.Fatal(e)
		}
	}
}
