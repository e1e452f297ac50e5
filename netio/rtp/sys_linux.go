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
// latching reads are driven by one epoll instance per shard, so no stream needs a goroutine and no
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

// openUDP returns a bound non-blocking UDP socket.
func openUDP(ip netip.Addr, port, tos int) (int, error) {
	fam := unix.AF_INET
	if !ip.Is4() {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
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
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func isAddrInUse(err error) bool {
	return errors.Is(err, unix.EADDRINUSE) || errors.Is(err, unix.EACCES)
}

func closeFD(fd int) { _ = unix.Close(fd) }

// sendmmsg sends msgs on fd and returns how many went out; it retries on EINTR and on a partial
// send, and stops at the first other error.
func sendmmsg(fd int, msgs []mmsghdr) (int, error) {
	sent := 0
	for sent < len(msgs) {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[sent])),
			uintptr(len(msgs)-sent), 0, 0, 0)
		if e == unix.EINTR {
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

// poller is one shard's epoll instance, used for latching reads and as the shard's sleep.
type poller struct {
	fd  int
	evs []unix.EpollEvent
}

func newPoller() (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &poller{fd: fd, evs: make([]unix.EpollEvent, 64)}, nil
}

func (p *poller) add(fd int) error {
	return unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
}

func (p *poller) del(fd int) { _ = unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, fd, nil) }

// wait blocks up to ms milliseconds and returns the readable fds (valid until the next call).
func (p *poller) wait(ms int, fds []int32) []int32 {
	n, err := unix.EpollWait(p.fd, p.evs, ms)
	if err != nil || n <= 0 {
		return fds[:0]
	}
	fds = fds[:0]
	for _, ev := range p.evs[:n] {
		fds = append(fds, ev.Fd)
	}
	return fds
}

func (p *poller) close() { _ = unix.Close(p.fd) }

func isAgain(err error) bool { return errors.Is(err, unix.EAGAIN) }

// fillMsg points m at name and iovs.
func fillMsg(m *mmsghdr, name *sockaddr, iovs []iovec) {
	m.hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&name.raw)), Namelen: name.n, Iov: &iovs[0]}
	m.hdr.SetIovlen(len(iovs))
	m.n = 0
}

func setIov(v *iovec, b []byte) {
	v.Base = unsafe.SliceData(b)
	v.SetLen(len(b))
}
