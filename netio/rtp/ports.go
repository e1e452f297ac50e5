package rtp

import (
	"fmt"
	"net/netip"
	"sync"
)

// ports hands out RTP/RTCP port pairs (even p, odd p+1) from the configured range, round-robin so a
// pair just freed is the last to be reused (late packets of an old call then miss the new one).
// Both sockets are bound here, so a pair is really free when it is handed out: a port another
// process holds is skipped. The RTP socket carries SO_REUSEPORT (the stream's connected sender
// shares its port, see openSender), which would let another process of the same user bind the same
// port beside it (a second Herald during a rolling restart, say) and take some of the caller's
// packets; so the port is first bound exclusively, which fails while anyone holds it, and only
// then bound for real. Every Herald does the same, so two of them never share a port; the window
// between the two binds is a few microseconds.
type ports struct {
	ip    netip.Addr
	tos   int
	first int
	mu    sync.Mutex
	used  []bool // index (port-first)/2
	next  int
	inUse int
}

func newPorts(ip netip.Addr, lo, hi, tos int) *ports {
	return &ports{ip: ip, tos: tos, first: lo, used: make([]bool, (hi-lo+1)/2)}
}

// get reserves a pair and returns the RTP port and the two bound sockets.
func (a *ports) get() (port, rtpFD, rtcpFD int, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var lastErr error
	for range len(a.used) {
		i := a.next
		a.next = (a.next + 1) % len(a.used)
		if a.used[i] {
			continue
		}
		p := a.first + 2*i
		if err := a.exclusive(p); err != nil {
			lastErr = err
			continue
		}
		r, err := openUDP(a.ip, p, a.tos, true)
		if err != nil {
			lastErr = err
			continue
		}
		c, err := openUDP(a.ip, p+1, a.tos, false)
		if err != nil {
			closeFD(r)
			lastErr = err
			continue
		}
		a.used[i] = true
		a.inUse++
		return p, r, c, nil
	}
	if lastErr != nil && !isAddrInUse(lastErr) {
		return 0, -1, -1, fmt.Errorf("%w: %w", ErrNoPorts, lastErr)
	}
	return 0, -1, -1, ErrNoPorts
}

// exclusive checks that nobody holds port p, with an exclusive bind it undoes at once.
func (a *ports) exclusive(p int) error {
	fd, err := openUDP(a.ip, p, -1, false)
	if err != nil {
		return err
	}
	closeFD(fd)
	return nil
}

// put frees the pair of RTP port p; its sockets must be closed already.
func (a *ports) put(p int) {
	a.mu.Lock()
	if i := (p - a.first) / 2; i >= 0 && i < len(a.used) && a.used[i] {
		a.used[i] = false
		a.inUse--
	}
	a.mu.Unlock()
}
