// Package freeport hands out loopback ports for tests and benchmarks that must name a port before the
// program that binds it exists: a SIPp, a Kamailio, a Redis or a Herald child process.
//
// Asking the kernel for port 0, closing the socket and passing the number on races with every other
// socket on the host: the kernel hands the same ephemeral port to the next connect or bind(0), often
// another test's, and the child then fails with "address already in use". freeport avoids both sides
// of that race:
//
//   - its ports come from below the kernel's ephemeral range (net.ipv4.ip_local_port_range), which the
//     kernel never picks on its own, so no client socket or port-0 listener can take one;
//   - each port is leased to one process by an exclusive flock(2) on a file under
//     $TMPDIR/herald-freeport, held until the process exits, so parallel test binaries (go test runs
//     packages at once) never get the same port;
//   - a port is only handed out after a TCP and a UDP socket were bound to it on the asked address.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrNoPort is returned when no port (or no block of ports) in the range is free.
var ErrNoPort = errors.New("freeport: no free port")

// lowest is the first port handed out: below it live the well-known services a host may run.
const lowest = 10000

var (
	mu     sync.Mutex
	leased = map[int]*os.File{} // held open for the process' life: closing would drop the flock
)

// Range returns the half-open range [lo, hi) ports are taken from: from 10000 up to the start of the
// kernel's ephemeral range (32768 when it cannot be read). HERALD_FREEPORT_RANGE="lo-hi" overrides it
// (for a host whose ephemeral range starts low).
func Range() (lo, hi int) {
	if v := os.Getenv("HERALD_FREEPORT_RANGE"); v != "" {
		a, b, _ := strings.Cut(v, "-")
		l, err1 := strconv.Atoi(a)
		h, err2 := strconv.Atoi(b)
		if err1 == nil && err2 == nil && 1024 <= l && l < h && h <= 65536 {
			return l, h
		}
	}
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > lowest+1000 {
				hi = n
			}
		}
	}
	return lowest, hi
}

// Port returns a port of ip (say "127.0.0.1") that is free for both TCP and UDP, below the ephemeral
// range and leased to this process.
func Port(ip string) (int, error) { return Block(ip, 1) }

// Block returns the first of n consecutive ports of ip, each free for TCP and UDP and leased to this
// process (a phone listening on SIP port p and SIP over TLS on p+1, say).
func Block(ip string, n int) (int, error) {
	if n < 1 || n > 100 {
		return 0, fmt.Errorf("freeport: block of %d ports", n)
	}
	if net.ParseIP(ip) == nil {
		return 0, fmt.Errorf("freeport: %q is not an IP address", ip)
	}
	lo, hi := Range()
	span := hi - lo - n + 1
	if span < 1 {
		return 0, fmt.Errorf("%w: range [%d, %d) smaller than %d", ErrNoPort, lo, hi, n)
	}
	start := rand.IntN(span)
	mu.Lock()
	defer mu.Unlock()
	for i := range span {
		p := lo + (start+i)%span
		if ok := take(ip, p, n); ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: %d consecutive on %s in [%d, %d)", ErrNoPort, n, ip, lo, hi)
}

// take leases ports p..p+n-1 if none is leased by anyone and each binds on ip; it leases none otherwise.
func take(ip string, p, n int) bool {
	var got []int
	for q := p; q < p+n; q++ {
		if _, mine := leased[q]; mine || !lease(q) {
			break
		}
		got = append(got, q)
	}
	if len(got) == n {
		for q := p; q < p+n; q++ {
			if !bindable(ip, q) {
				release(got)
				return false
			}
		}
		return true
	}
	release(got)
	return false
}

// lease takes the flock of port p's file; it reports false if another process holds it.
func lease(p int) bool {
	dir := filepath.Join(os.TempDir(), "herald-freeport")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	leased[p] = f
	return true
}

// release gives back the leases of ports (ports that failed the bind check).
func release(ports []int) {
	for _, p := range ports {
		if f, ok := leased[p]; ok {
			f.Close() // drops the flock
			delete(leased, p)
		}
	}
}

// bindable reports whether both a TCP listener and a UDP socket bind to ip:p right now.
func bindable(ip string, p int) bool {
	a := net.JoinHostPort(ip, strconv.Itoa(p))
	l, err := net.Listen("tcp", a)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", a)
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// TB is the part of testing.TB that Must and MustBlock use (the package does not import testing, so
// the load generator can use it).
type TB interface {
	Helper()
	Fatal(args ...any)
}

// Must is Port for tests: it fails t when no port is free.
func Must(t TB, ip string) int {
	t.Helper()
	p, err := Port(ip)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// MustBlock is Block for tests: it fails t when no block is free.
func MustBlock(t TB, ip string, n int) int {
	t.Helper()
	p, err := Block(ip, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
