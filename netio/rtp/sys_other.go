//go:build !linux

package rtp

import "net/netip"

// The plane needs sendmmsg(2) and epoll(7); on other platforms New fails with ErrUnsupported. These
// stubs only keep the package compiling there.

type iovec struct{}

type mmsghdr struct{}

type sockaddr struct{}

func (s *sockaddr) set(netip.AddrPort)                        {}
func (s *sockaddr) withPort(int) sockaddr                     { return *s }
func openUDP(netip.Addr, int, int, bool) (int, error)         { return -1, ErrUnsupported }
func openSender(netip.Addr, int, int, *sockaddr) (int, error) { return -1, ErrUnsupported }
func connectFD(int, *sockaddr) error                          { return ErrUnsupported }
func isAddrInUse(error) bool                                  { return false }
func closeFD(int)                                             {}
func isAgain(error) bool                                      { return false }
func fillMsg(*mmsghdr, *sockaddr, []iovec)                    {}
func setIov(*iovec, []byte)                                   {}

func sendmmsg(int, []mmsghdr) (int, error) { return 0, ErrUnsupported }

func recvFrom(int, []byte) (int, netip.AddrPort, error) { return 0, netip.AddrPort{}, ErrUnsupported }

type poller struct{}

func newPoller() (*poller, error) { return nil, ErrUnsupported }
func (p *poller) sleep(int)       {}
func (p *poller) close()          {}
