package msrp

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/herald-ims/herald/core/tlsconf"
	"github.com/herald-ims/herald/netio/cpu"
)

// Defaults applied by [New] to zero-valued [Options] fields.
const (
	DefaultListen          = "0.0.0.0:2855"
	DefaultMaxConns        = 10000
	DefaultMaxConnsPerIP   = 1000 // IMS terminals arrive through one IMS-ALG/TrGW address: keep it generous
	DefaultMaxSessions     = 100000
	DefaultBindTimeout     = 30 * time.Second // a connection that never sends its binding SEND (RFC 4975 §5.4) is closed
	DefaultTransferTimeout = 30 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
	DefaultChunkSize       = 2048 // RFC 4975 §7.1: larger chunks must be interruptible
	DefaultMaxHeaderBytes  = 8 << 10
	DefaultMaxChunkBytes   = 16 << 10
	DefaultMaxOutbound     = 256 << 10
	DefaultMaxDials        = 64 // outgoing connections (Connect) being dialled at once
	DefaultMaxForkBinds    = 4  // terminals binding one Forkable session: a callee's devices (fork.go)
	// DefaultLingerMax: a slow radio link (~12 KB/s) takes the few tens of KB a socket send buffer
	// holds ahead of an abort's '#' chunk in about 4 s; the rest is margin.
	DefaultLingerMax = 10 * time.Second
)

// DefaultLoops is half of GOMAXPROCS, at least 1: every loop is an OS thread blocked in epoll_wait, and
// on a box shared with SIP, RTP and the GC fewer, busier loops cost less CPU per delivery (one loop
// delivered 1.3× more pages per CPU-second than two on 2 vCPUs: bench/results/history/msrp-plane.md).
func DefaultLoops() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// Options configures a [Server]. The zero value of every field selects its default.
type Options struct {
	// Listen is the TCP address to bind, "host:port"; port 0 picks a free port.
	Listen string
	// AdvertiseHost is the host put in a=path URIs and returned by Addr; default: the bound IP.
	AdvertiseHost string
	// AdvertisePort is the port put in a=path URIs and returned by Addr; 0 means the bound port.
	AdvertisePort int

	// MaxConns caps open connections; MaxConnsPerIP caps them per source address (an IPv6 one's /64:
	// a terminal's prefix).
	MaxConns, MaxConnsPerIP int
	// MaxSessions caps push sessions registered with Open and not yet finished.
	MaxSessions int

	// BindTimeout closes a connection that has not bound a session by then.
	BindTimeout time.Duration
	// TransferTimeout ends a bound session whose final success REPORT has not arrived by then (TimedOut).
	TransferTimeout time.Duration
	// IdleTimeout closes a connection that has sent nothing for that long.
	IdleTimeout time.Duration
	// LingerMax caps the lingering close of a connection Herald is done with (page aborted with '#',
	// failed or timed out): Herald keeps reading and discarding the terminal's input and keeps the
	// connection open while the terminal still takes the bytes queued toward it, at most this long
	// from the end of the transfer (see linger in conn.go).
	LingerMax time.Duration

	// ChunkSize is the largest SEND chunk body Herald writes.
	ChunkSize int
	// MaxHeaderBytes and MaxChunkBytes bound what a terminal may send in one frame (413 above them).
	MaxHeaderBytes, MaxChunkBytes int
	// MaxOutbound is the high-water mark of a connection's outbound buffer, in bytes: no further chunk is
	// written while the connection holds at least that much unsent data.
	MaxOutbound int

	// MaxDials caps the outgoing connections (Herald active, Connect) being dialled at once.
	MaxDials int
	// MaxForkBinds caps the terminals that bind one Forkable session (push.Session.Forkable: an offer
	// a proxy forks to each of the callee's devices), the first included; each further one gets 506.
	// 1 binds the first only, as for a session that is not Forkable; at most 255. See fork.go.
	MaxForkBinds int

	// TLSListen, when set, is the "host:port" of an msrps (TLS) listener feeding the same session logic;
	// TLSConfig must then hold a certificate. Sessions with push.Session.Secure bind only over it, and
	// PathURI returns msrps://…;tcp for them with the TLS listener's port (TLSAdvertisePort if set).
	TLSListen        string
	TLSConfig        *tls.Config
	TLSAdvertisePort int
	// TLSClientConfig is used when Herald dials an msrps terminal (Connect for a Secure session: RFC 6135
	// active role over TLS). nil means the system roots with verification on (see ClientTLSConfig). Each
	// dial uses a clone whose ServerName, when empty, is the host of the first URI of the terminal's
	// a=path (the hop Herald connects to), so the terminal's certificate must name that host (DNS or IP
	// SAN), also under CEMA when Herald dials the c=/m= address instead. When the config has no client
	// certificate of its own, TLSConfig's certificates are presented to a terminal that asks for one.
	TLSClientConfig *tls.Config

	// Loops is the number of gnet event loops; 0 means DefaultLoops(), or len(CPUs) when pinned.
	Loops int
	// CPUs pins the event loops, one CPU each, in the order loops first open a connection
	// (netio/cpu.LoopPinner). Each must be in cpu.Available(). Empty: loops float.
	CPUs []int
	// Logger receives the plane's logs; nil discards them.
	Logger *slog.Logger
	// Trace, when set, receives each frame Herald reads (its start line and identifying headers)
	// and the head of each chunk it writes (dir "recv" or "send"; peer is the terminal's address).
	// It runs on the connection's event loop: it must be quick (log.trace rate-limits it).
	Trace func(dir, peer, frame string)
}

// withDefaults returns a copy of o with defaults applied, or an error naming every bad field.
func (o Options) withDefaults() (Options, error) {
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	setInt(&o.MaxConns, DefaultMaxConns)
	setInt(&o.MaxConnsPerIP, DefaultMaxConnsPerIP)
	setInt(&o.MaxSessions, DefaultMaxSessions)
	setDur(&o.BindTimeout, DefaultBindTimeout)
	setDur(&o.TransferTimeout, DefaultTransferTimeout)
	setDur(&o.IdleTimeout, DefaultIdleTimeout)
	setDur(&o.LingerMax, DefaultLingerMax)
	setInt(&o.ChunkSize, DefaultChunkSize)
	setInt(&o.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setInt(&o.MaxChunkBytes, DefaultMaxChunkBytes)
	setInt(&o.MaxOutbound, DefaultMaxOutbound)
	setInt(&o.MaxDials, DefaultMaxDials)
	setInt(&o.MaxForkBinds, DefaultMaxForkBinds)
	if o.Loops == 0 && len(o.CPUs) > 0 {
		o.Loops = len(o.CPUs)
	}
	if o.Loops == 0 {
		o.Loops = DefaultLoops()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TLSClientConfig == nil {
		o.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c := o.TLSClientConfig; o.TLSConfig != nil && len(o.TLSConfig.Certificates) > 0 &&
		len(c.Certificates) == 0 && c.GetClientCertificate == nil {
		c = c.Clone() // never modify the caller's config
		c.Certificates = o.TLSConfig.Certificates
		o.TLSClientConfig = c
	}

	var errs []error
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("%w: listen %q: %w", ErrBadOptions, o.Listen, err))
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"max_conns", o.MaxConns}, {"max_conns_per_ip", o.MaxConnsPerIP}, {"max_sessions", o.MaxSessions},
		{"chunk_size", o.ChunkSize}, {"max_header_bytes", o.MaxHeaderBytes}, {"max_chunk_bytes", o.MaxChunkBytes},
		{"max_outbound", o.MaxOutbound}, {"loops", o.Loops}, {"max_dials", o.MaxDials},
		{"tls_advertise_port", o.TLSAdvertisePort}, {"max_fork_binds", o.MaxForkBinds},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s %d < 0", ErrBadOptions, f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"bind_timeout", o.BindTimeout}, {"transfer_timeout", o.TransferTimeout}, {"idle_timeout", o.IdleTimeout}, {"linger_max", o.LingerMax}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s %s < 0", ErrBadOptions, f.name, f.v))
		}
	}
	if o.AdvertisePort < 0 || o.AdvertisePort > 65535 {
		errs = append(errs, fmt.Errorf("%w: advertise_port %d", ErrBadOptions, o.AdvertisePort))
	}
	if o.MaxForkBinds > 255 {
		errs = append(errs, fmt.Errorf("%w: max_fork_binds %d > 255", ErrBadOptions, o.MaxForkBinds))
	}
	if o.MaxHeaderBytes > 0 && o.MaxHeaderBytes < 256 {
		errs = append(errs, fmt.Errorf("%w: max_header_bytes %d < 256", ErrBadOptions, o.MaxHeaderBytes))
	}
	if o.TLSListen != "" {
		if _, _, err := net.SplitHostPort(o.TLSListen); err != nil {
			errs = append(errs, fmt.Errorf("%w: tls_listen %q: %w", ErrBadOptions, o.TLSListen, err))
		}
		if o.TLSConfig == nil || (len(o.TLSConfig.Certificates) == 0 && o.TLSConfig.GetCertificate == nil) {
			errs = append(errs, fmt.Errorf("%w: tls_listen needs a tls config with a certificate", ErrBadOptions))
		}
	}
	if o.TLSAdvertisePort > 65535 {
		errs = append(errs, fmt.Errorf("%w: tls_advertise_port %d", ErrBadOptions, o.TLSAdvertisePort))
	}
	if len(o.CPUs) > 0 {
		if err := cpu.Check(o.CPUs); err != nil {
			errs = append(errs, fmt.Errorf("%w: cpus: %w", ErrBadOptions, err))
		}
	}
	if len(errs) > 0 {
		return o, joinErrs(errs)
	}
	return o, nil
}

// ClientTLSConfig builds Options.TLSClientConfig from the msrp.tls_client_* settings: terminals'
// certificates are verified against the PEM certificates in caFile, or the system roots when caFile is
// empty. insecure turns verification off: for labs with throw-away terminal certificates only.
func ClientTLSConfig(caFile string, insecure bool) (*tls.Config, error) {
	c, err := tlsconf.Client(caFile, "", "", insecure)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	return c, nil
}
