//go:build linux

package rtp

import (
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket layer works on raw non-blocking file descriptors owned by one shard, not on net.UDPConn:
// sends go out with sendmmsg(2) built by hand over persistent iovecs (header, shared payload), and
// latching reads are non-blocking probes from the shard's loop, so no stream needs a goroutine and no
// send takes the net package's fd lock. golang.org/x/net/ipv4's PacketConn.WriteBatch makes the same
// sendmmsg call, but needs a net.PacketConn (netpoller registration, fd mutex) per socket.

// iovec is struct iovec.
type iovec = unix.Iovec

// mmsghdr is struct mmsghdr from <sys/socket.h>: a msghdr and the byte count the kernel sent.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [mmsgPad]byte
}

const mmsgPad = (unsafe.Alignof(unix.Msghdr{}) - (unsafe.Sizeof(unix.Msghdr{})+4)%unsafe.Alignof(unix.Msghdr{})) %
	unsafe.Alignof(unix.Msghdr{})

// sockaddr is a raw socket address ready for msghdr.msg_name.
type sockaddr struct {
	raw unix.RawSockaddrInet6 // large enough for either family
	n   uint32
}

func (s *sockaddr) set(ap netip.AddrPort) {
	s.raw = unix.RawSockaddrInet6{}
	port := ap.Port()
	if a := ap.Addr().Unmap(); a.Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&s.raw))
		sa.Family = unix.AF_INET
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		sa.Addr = a.As4()
		s.n = unix.SizeofSockaddrInet4
		return
	}
	s.raw.Family = unix.AF_INET6
	p := (*[2]byte)(unsafe.Pointer(&s.raw.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	s.raw.Addr = ap.Addr().As16()
	s.n = unix.SizeofSockaddrInet6
}

func (s *sockaddr) withPort(port int) sockaddr {
	c := *s
	p := (*[2]byte)(unsafe.Pointer(&c.raw.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return c
}

func addrPortOf(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), true
	}
	return netip.AddrPort{}, false
}

// rcvBuf is SO_RCVBUF for stream sockets, see openUDP.
const rcvBuf = 4096

// openUDP returns a bound non-blocking UDP socket. With reuse it sets SO_REUSEPORT first, so that the
// stream's connected sender (openSender) can share the port; ports.get checks with an exclusive
// bind first that no one else holds the port.
func openUDP(ip netip.Addr, port, tos int, reuse bool) (int, error) {
	fd, sa, err := newUDP(ip, port, tos)
	if err != nil {
		return -1, err
	}
	if reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("SO_REUSEPORT: %w", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// openSender returns a socket bound to the stream's port (SO_REUSEPORT, beside the stream's
// receiving socket) and connected to dst. A connected UDP socket keeps its route: the kernel skips
// the route lookup, the xfrm lookup and the shared IP-ID generator on every send (about a sixth of
// the plane's CPU at 5,000 streams, bench/results/history/rtp-ringback.md). It also receives only from dst,
// which is what keeps latching correct: datagrams from any other source still reach the stream's
// unconnected socket, where the probes look for them.
func openSender(ip netip.Addr, port, tos int, dst *sockaddr) (int, error) {
	fd, err := openUDP(ip, port, tos, true)
	if err != nil {
		return -1, err
	}
	if err := connectFD(fd, dst); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// connectFD (re)connects UDP socket fd to dst.
func connectFD(fd int, dst *sockaddr) error {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&dst.raw)), uintptr(dst.n))
	if e != 0 {
		return fmt.Errorf("connect: %w", e)
	}
	return nil
}

func newUDP(ip netip.Addr, port, tos int) (int, unix.Sockaddr, error) {
	fam := unix.AF_INET
	if !ip.Is4() {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("socket: %w", err)
	}
	var sa unix.Sockaddr
	if fam == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: port, Addr: ip.As4()}
		if tos >= 0 {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos)
		}
	} else {
		sa = &unix.SockaddrInet6{Port: port, Addr: ip.As16()}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		if tos >= 0 {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tos)
		}
	}
	// Herald reads these sockets only to latch (the first packet from the caller); after that
	// nothing reads them, so whatever the caller keeps sending must not pile up: a small receive
	// buffer (the kernel doubles it; a few datagrams) bounds it. The default, net.core.rmem_default
	// (~208 KiB), would let 5,000 sending callers pin about a gigabyte of kernel memory.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	return fd, sa, nil
}

func isAddrInUse(err error) bool {
	return errors.Is(err, unix.EADDRINUSE) || errors.Is(err, unix.EACCES)
}

func closeFD(fd int) { _ = unix.Close(fd) }

// sendmmsg sends msgs on fd and returns how many went out; it retries on EINTR and on a partial
// send, and stops at the first other error. ECONNREFUSED on a connected socket reports an ICMP
// port unreachable that arrived for an earlier datagram, not this one (the kernel clears the error
// as it reports it): the datagram is sent again, once per call.
func sendmmsg(fd int, msgs []mmsghdr) (int, error) {
	sent, refused := 0, false
	for sent < len(msgs) {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[sent])),
			uintptr(len(msgs)-sent), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e == unix.ECONNREFUSED && !refused {
			refused = true
			continue
		}
		if e != 0 {
			return sent, e
		}
		if r == 0 {
			return sent, unix.EAGAIN
		}
		sent += int(r)
	}
	return sent, nil
}

// recvFrom reads one datagram without blocking.
func recvFrom(fd int, buf []byte) (int, netip.AddrPort, error) {
	n, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	ap, _ := addrPortOf(from)
	return n, ap, nil
}

// poller is one shard's sleep: an epoll instance with no descriptors, so epoll_wait is a
// millisecond sleep that any future wake-up source (an eventfd) could cut short.
type poller struct {
	fd  int
	evs []unix.EpollEvent
}

func newPoller() (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &poller{fd: fd, evs: make([]unix.EpollEvent, 1)}, nil
}

// sleep blocks for ms milliseconds (EINTR cuts it short; the loop then re-checks the clock).
func (p *poller) sleep(ms int) { _, _ = unix.EpollWait(p.fd, p.evs, ms) }

func (p *poller) close() { _ = unix.Close(p.fd) }

func isAgain(err error) bool { return errors.Is(err, unix.EAGAIN) }

// fillMsg points m at name (nil on a connected socket) and iovs.
func fillMsg(m *mmsghdr, name *sockaddr, iovs []iovec) {
	m.hdr = unix.Msghdr{Iov: &iovs[0]}
	if name != nil {
		m.hdr.Name, m.hdr.Namelen = (*byte)(unsafe.Pointer(&name.raw)), name.n
	}
	m.hdr.SetIovlen(len(iovs))
	m.n = 0
}

func setIov(v *iovec, b []byte) {
	v.Base = unsafe.SliceData(b)
	v.SetLen(len(b))
}
