//go:build linux

package signal

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/netio/dnstest"
)

// unansweredSYN is a loopback TCP address whose SYNs go unanswered, as a host gone behind a
// firewall that drops them: a listener with a backlog of 0 whose one queued connection is never
// accepted, so the kernel drops every further SYN and connect waits.
func unansweredSYN(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*syscall.SockaddrInet4).Port)) //nolint:gosec // a port
	filler, err := net.DialTimeout("tcp", ap.String(), time.Second)                                      // fills the queue
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	if c, err := net.DialTimeout("tcp", ap.String(), 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("this kernel answers SYNs beyond a full accept queue")
	}
	return ap
}

// TestSRVFailoverSilentConnect proves RFC 3263 §4.3 for a next hop whose TCP connect never
// completes (its SYN unanswered): the caller card's INVITE, over TCP by its size, waits 7·T1 for the
// connection, not 64·T1, and then goes to the name's next _sip._tcp target, where the call completes
// with both cards; the first target is marked down, so the next call goes to the second at once.
func TestSRVFailoverSilentConnect(t *testing.T) {
	leakCheck(t)
	const t1 = 50 * time.Millisecond // 7·T1 350 ms against Timer B's 3.2 s: the difference is plain
	st, pages := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 50 * time.Millisecond})
	dead := unansweredSYN(t)
	d := dnstest.New(t)
	poolDNS(d, dead, netip.MustParseAddrPort(callee.Addr()))
	h := startHerald(t, st, "scscf.herald.test:0", func(o *Options) { o.Resolver, o.T1 = d.Resolver(), t1 })
	caller := newCaller(t, uesim.CallerOptions{})

	// The first call waited for the connect 7·T1, not Timer B's 64·T1 (the whole call is well under
	// it); the second not at all.
	if took := bothCardsOverTCP(t, h, caller, callee, pages); took < 7*t1 || took >= 64*t1 {
		t.Fatalf("the first call took %v: want 7·T1 (%v) and more, under 64·T1 (%v)", took, 7*t1, 64*t1)
	}
	h.quiet(t)
	if f := &h.sig.Stats.Fast; f.DNSDown.Load() != 1 || f.DNSFailovers.Load() != 1 {
		t.Fatalf("marked down %d, sent on %d; want 1, 1", f.DNSDown.Load(), f.DNSFailovers.Load())
	}
}
