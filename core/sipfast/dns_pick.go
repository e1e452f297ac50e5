package sipfast

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// dns_pick.go: which of a name's targets a request goes to (RFC 2782, RFC 3263 §4.3), and the bound on
// the lookups one resolution makes.

// srvMeta is what a target's SRV record says of it: priority, weight, and which record it is (the
// addresses of one target name are contiguous in dnsEntry.targets).
type srvMeta struct {
	prio, weight uint16
	rec          uint8
}

// pick is the target of e a request goes to now (its port 0 read as port), c.mu held:
//   - an SRV answer's (e.meta): among the records of the lowest priority that has a target not
//     down, one chosen at random by weight for each request (RFC 2782; uniformly when every weight
//     is 0), then that record's first address not down. A pool of S-CSCFs of equal priority shares
//     the calls, instead of one of them getting every call until the answer is refreshed;
//   - another answer's: its first target not down;
//   - with every target down, its first.
func (c *hostCache) pick(e *dnsEntry, port int, now time.Time) netip.AddrPort {
	if len(e.targets) == 0 {
		return netip.AddrPort{}
	}
	with := func(t netip.AddrPort) netip.AddrPort {
		if t.Port() == 0 {
			return netip.AddrPortFrom(t.Addr(), uint16(port))
		}
		return t
	}
	up := func(t netip.AddrPort) bool {
		until, down := c.down[t]
		return !down || !now.Before(until)
	}
	first := -1
	for i, t := range e.targets {
		if up(with(t)) {
			first = i
			break
		}
	}
	if first < 0 {
		return with(e.targets[0])
	}
	if len(e.meta) != len(e.targets) {
		return with(e.targets[first])
	}
	// The records of the first target's priority with an address up: their weights, summed once
	// per record (a record's addresses are contiguous).
	prio := e.meta[first].prio
	var total, records uint32
	for i := first; i < len(e.targets); i++ {
		m := e.meta[i]
		if m.prio != prio || i > first && e.meta[i-1].rec == m.rec || !c.recordUp(e, i, with, up) {
			continue
		}
		total += uint32(m.weight)
		records++
	}
	if records <= 1 {
		return with(e.targets[first])
	}
	var n uint32 // the chosen record: the n-th (total 0) or the one n falls in (by weight)
	if total == 0 {
		n = rand.N(records)
	} else {
		n = rand.N(total)
	}
	for i := first; i < len(e.targets); i++ {
		m := e.meta[i]
		if m.prio != prio || i > first && e.meta[i-1].rec == m.rec || !c.recordUp(e, i, with, up) {
			continue
		}
		w := uint32(m.weight)
		if total == 0 {
			w = 1
		}
		if n < w {
			return c.recordFirstUp(e, i, with, up)
		}
		n -= w
	}
	return with(e.targets[first])
}

// recordUp reports whether the record whose first address is e.targets[i] has an address up.
func (c *hostCache) recordUp(e *dnsEntry, i int, with func(netip.AddrPort) netip.AddrPort, up func(netip.AddrPort) bool) bool {
	return c.recordFirstUp(e, i, with, up).IsValid()
}

// recordFirstUp is the first address up of the record whose first address is e.targets[i]; not
// valid when none is.
func (c *hostCache) recordFirstUp(e *dnsEntry, i int, with func(netip.AddrPort) netip.AddrPort, up func(netip.AddrPort) bool) netip.AddrPort {
	for j := i; j < len(e.targets) && e.meta[j].rec == e.meta[i].rec; j++ {
		if t := with(e.targets[j]); up(t) {
			return t
		}
	}
	return netip.AddrPort{}
}

// budgetKey holds, in a resolution's context, how many lookups it made (spend).
type budgetKey struct{}

// errBudget is a resolution that reached dnsMaxLookups.
var errBudget = errors.New("RFC 3263: lookup bound reached")

// spend counts one lookup of the resolution ctx belongs to; an error past dnsMaxLookups.
func spend(ctx context.Context) error {
	n, _ := ctx.Value(budgetKey{}).(*int)
	if n == nil {
		return nil
	}
	if *n >= dnsMaxLookups {
		return fmt.Errorf("%w (%d)", errBudget, dnsMaxLookups)
	}
	*n++
	return nil
}
