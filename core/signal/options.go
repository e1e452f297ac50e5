package signal

// options.go: what the SIP layer is built from (Options, Deps and the planes' interfaces) and its
// counters (Stats).

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/herald-ims/herald/core/callsip"
	"github.com/herald-ims/herald/core/overload"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sipstats"
	"github.com/herald-ims/herald/core/wheel"
)

// Options configure the SIP layer.
type Options struct {
	Host string // host Herald puts in Via, Record-Route and Contact
	// Aliases are other names of Herald's in a Route or Request-URI, host or host:port (sipmsg.Self):
	// the AS URI of an S-CSCF's initial filter criteria (3GPP TS 24.229 §5.4.3.3), a load balancer's.
	Aliases []string
	// Port is the port advertised for the first served socket (Record-Route, Contact) and for every
	// transport served on that socket's port; 0 = the first served socket's port.
	Port        int
	NextHop     string         // host:port of the callee domain's S-CSCF, used when no Route is left (port 0: SRV, RFC 3263)
	Resolver    *net.Resolver  // resolves Route, next-hop and Via names for both paths (core/sipfast dns.go); nil: Go's
	RecordRoute bool           // stay in the dialog path (needed for BYE/ACK to pass Herald)
	Trusted     []netip.Prefix // peers allowed to start calls; empty = everyone
	T1          time.Duration  // RFC 3261 T1 for Herald's own reliable provisionals; default 500ms
	T2          time.Duration  // RFC 3261 T2, the cap of retransmission intervals on the fast path; default 4s
	TimerC      time.Duration  // proxy INVITE timer (RFC 3261 §16.6 step 11); default 180s
	SessionTTL  time.Duration  // lifetime of a push session's a=path; default 120s
	MaxCalls    int            // calls in progress; above it new INVITEs get 503; default 10000
	// OfferTLS offers every push over msrps (TCP/TLS/MSRP) when the MSRP plane has a TLS listener.
	OfferTLS bool
	// NextHopTransport is the transport toward NextHop (udp, tcp or tls); default udp.
	NextHopTransport string
	// NextHopPinned: NextHop's URI named ;transport=udp (RFC 3263 §4.1), so requests go to it over
	// UDP whatever their size (IP fragmentation is the accepted cost). Otherwise, over UDP, RFC 3261
	// §18.1.1 applies: an INVITE larger than UDPMaxRequest goes over TCP, and over UDP again, whole,
	// when the next hop refuses TCP. A Route naming ;transport=udp is pinned the same way.
	NextHopPinned bool
	// UDPMaxRequest is the largest request sent over UDP; larger ones go over TCP (RFC 3261 §18.1.1:
	// 1300 bytes when the path MTU is unknown). Default 1300.
	UDPMaxRequest int
	// TLSPort is the port advertised for the SIP over TLS listener (the Record-Route facing a TLS
	// leg, the Via sent-by of requests sent over TLS); 0 = the port of the first socket served with
	// ServeTLS, or Port when that socket shares the first socket's port.
	TLSPort int
	// TLSClient is the client side of every TLS connection Herald opens toward a next hop (a sips: or
	// ;transport=tls Route or NextHop; RFC 3261 §26.3.1, RFC 5922 §4): the certificate is verified
	// against the host of that hop's URI, with RootCAs, or the system roots when nil. Certificates, if
	// any, are offered to peers that ask for one (mutual TLS). nil means the system roots and no client
	// certificate. MinVersion is raised to TLS 1.2 and ServerName is ignored (see tlsconf.SIPDial).
	TLSClient *tls.Config
	// DisableFastPath sends every call through sipgo's transaction layer, plain ones too (see
	// core/sipfast: plain UDP calls are otherwise proxied by Herald's own transaction table).
	DisableFastPath bool
	// CapCacheSize and CapTTL size the cache of learned terminal capabilities (profile.CapCache)
	// New builds when Deps.Capabilities is nil; size 0 learns nothing.
	CapCacheSize int
	CapTTL       time.Duration
	// Probe sends the caller card's early-session part to callees of unknown capability too, and
	// resends the INVITE once without it when the callee refuses it (see core/callsip's capability.go).
	Probe  bool
	Logger *slog.Logger
	// Trace, when set, receives one line per step Herald takes (the demo prints them).
	Trace func(line string)
	// WireTrace, when set, receives each SIP datagram the fast path takes or sends (dir "recv" or
	// "send"). The general path's messages go through sipgo's own tracer (sip.SIPDebugTracer), which
	// the binary points at the same place. It runs on the reading goroutine: it must be quick.
	WireTrace func(dir, transport, peer string, msg []byte)
	// Clock is the fast path's clock: its RFC 3261 timers and call durations read it, every tick
	// (T1/4, at most 10 ms) of wall time. nil is the monotonic clock. A *wheel.Manual is stepped by
	// its owner, who then runs the due timers itself (tests: a timer fires at the instant the test
	// chooses, no wall-clock wait).
	Clock wheel.Clock
}

// Deps are the other planes the SIP layer drives.
type Deps struct {
	Profiles profile.Store
	MSRP     push.Plane
	// Web, when set, publishes pages over HTTP(S) for the Call-Info fallback (RFC 3261 §20.9) offered to
	// terminals without MSRP early-session support.
	Web Publisher
	// Ringback, when set, plays the callee's ringback clip on Herald's early dialog (claims 2, 6).
	Ringback Ringback
	// Capabilities, when set, is the cache of learned terminal capabilities (tests inject one with
	// their own clock); nil builds one from Options.CapCacheSize and CapTTL.
	Capabilities *profile.CapCache
	// UDP reads the UDP sockets Herald serves (netio/sipudp through an adapter: core imports no
	// netio package). nil: sipgo reads them and the fast path takes no datagram.
	UDP  UDPReader
	Shed *overload.Shedder // the controller forwards new calls with cards plain under overload; nil: never
}

// UDPReader makes the reader of the UDP socket pc: it offers every datagram to fast (b is valid
// only during the call; true: taken) and hands the rest to General, which sipgo serves.
type UDPReader func(pc net.PacketConn, fast func(b []byte, from netip.AddrPort) bool) UDPSocket

// UDPSocket is one UDP socket as a UDPReader reads it.
type UDPSocket interface {
	// Serve reads until the socket is closed.
	Serve() error
	// General is the socket as sipgo sees it: the datagrams the fast path left, and sends.
	General() net.PacketConn
	// Counts: datagrams read, read calls that returned some, datagrams queued for sipgo, and
	// datagrams dropped because that queue was full.
	Counts() (datagrams, reads, general, dropped uint64)
}

// Ringback is the RTP plane as the SIP layer needs it (netio/rtp, through an adapter).
type Ringback = callsip.Ringback

// RingStream is one ringback stream; Stop releases it whether or not it played.
type RingStream = callsip.RingStream

// Publisher makes a page fetchable over HTTP(S) for one call (core/web implements it).
type Publisher = callsip.Publisher

// Stats are counters of the SIP layer (core/sipstats).
type Stats = sipstats.Stats

// CapabilityStats count the decisions and lessons of the gate on early-dialog pushes (core/callsip's
// capability.go; core/sipstats).
type CapabilityStats = sipstats.CapabilityStats
