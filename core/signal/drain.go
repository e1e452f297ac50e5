package signal

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/callsip"
	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/core/sipmsg"
)

// live are the settings a reload may change while calls run (Server.Reload). Readers load the
// pointer once per decision; a reload swaps the whole value, so one call never sees half of two.
type live struct {
	trusted       []netip.Prefix
	maxCalls      int
	nextHop       string           // host:port
	nextHopRoute  *sip.RouteHeader // nextHop as the Route the general path sends toward (sipmsg.NextHopRoute)
	nextHopPinned bool
	fastNextHost  []byte // nextHop's host and port for the fast path, when it is over UDP or TCP
	fastNextPort  int
	fastNextHopOK bool
	fastNextTP    []byte // its URI's transport: "" (none), "udp" (pinned) or "tcp" (sipfast.Host.NextHop)
}

// Reloadable are the Options a running Server takes on Reload (SIGHUP): who may start calls, how
// many at once, and where calls go when no Route is left. Every other option needs a new Server.
type Reloadable struct {
	Trusted          []netip.Prefix
	MaxCalls         int
	NextHop          string
	NextHopTransport string
	NextHopPinned    bool
}

func newLive(r Reloadable) *live {
	if r.MaxCalls <= 0 {
		r.MaxCalls = 10000
	}
	if r.NextHopTransport == "" {
		r.NextHopTransport = "udp"
	}
	l := &live{trusted: r.Trusted, maxCalls: r.MaxCalls, nextHop: r.NextHop, nextHopPinned: r.NextHopPinned,
		nextHopRoute: sipmsg.NextHopRoute(r.NextHop, r.NextHopTransport, r.NextHopPinned)}
	if tcp := strings.EqualFold(r.NextHopTransport, "tcp"); tcp || strings.EqualFold(r.NextHopTransport, "udp") {
		if host, port, err := net.SplitHostPort(r.NextHop); err == nil {
			if p, err := strconv.Atoi(port); err == nil && p >= 0 && p < 65536 { // 0: a name without a port (SRV)
				l.fastNextHost, l.fastNextPort, l.fastNextHopOK, l.fastNextTP = []byte(host), p, true, sipmsg.NextHopParam(tcp, r.NextHopPinned)
			}
		}
	}
	return l
}

// Reload applies r to calls that start from now on; calls in progress keep their next hop.
func (s *Server) Reload(r Reloadable) {
	s.live.Store(newLive(r))
}

// Drain starts a graceful stop: every new INVITE, on the general and the fast path, is answered
// 503 with Retry-After (RFC 3261 §21.5.4) so that the previous hop tries another Herald, while the
// calls in progress go on (pushes, ringback, in-dialog requests). Idempotent.
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// drainRetryAfter is the Retry-After (seconds) of the 503 to an INVITE that arrives during a drain,
// on both paths.
const drainRetryAfter = sipfast.DrainRetryAfter

// AbortCalls ends every call still ringing, as a drain does when its time is up: 487 (Request
// Terminated) to the caller, CANCEL to the callee (RFC 3261 §16.10), pushes closed with '#' on a
// half-sent page (RFC 4975 §7.1.1) and ringback stopped. It returns at once; ActiveCalls falls to 0
// as the callees answer the CANCELs.
func (s *Server) AbortCalls() {
	var cs []*callsip.Call
	s.adm.each(func(e admitted) {
		if e.ctl != nil {
			cs = append(cs, e.ctl)
		}
	})
	for _, c := range cs {
		go func() {
			defer func() { s.recovered(recover()) }()
			c.Abort()
		}()
	}
	if s.fast != nil {
		s.fast.AbortAll()
	}
}
