package rtp

import (
	"fmt"
	"net/netip"
	"sync"
)

// ports hands out RTP/RTCP port pairs (even p, odd p+1) from the configured range, round-robin so a
// pair just freed is the last to be reused (late packets of an old call then miss the new one).
// Both sockets are bound here, so a pair is really free when it is handed out: a port another
// process holds is skipped.
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
		r, err := openUDP(a.ip, p, a.tos)
		if err != nil {
			lastErr = err
			continue
		}
		c, err := openUDP(a.ip, p+1, a.tos)
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

// put frees the pair of RTP port p; its sockets must be closed already.
func (a *ports) put(p int) {
	a.mu.Lock()
	if i := (p - a.first) / 2; i >= 0 && i < len(a.used) && a.used[i] {
		a.used[i] = false
		a.inUse--
	}
	a.mu.Unlock()
}
