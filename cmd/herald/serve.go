package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	ossignal "os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/overload"
	"github.com/herald-ims/herald/core/provision"
	"github.com/herald-ims/herald/core/safe"
	"github.com/herald-ims/herald/core/signal"
	"github.com/herald-ims/herald/core/store"
	"github.com/herald-ims/herald/core/tlsconf"
	"github.com/herald-ims/herald/core/web"
	msrpnet "github.com/herald-ims/herald/netio/msrp"
	"github.com/herald-ims/herald/netio/redisstore"
	"github.com/herald-ims/herald/netio/rtp"
	"github.com/herald-ims/herald/netio/sdnotify"
	"github.com/herald-ims/herald/netio/sipudp"
)

// instance is one running Herald: the MSRP plane, the SIP layer and their sockets.
type instance struct {
	opts     *config.Options
	log      *slog.Logger
	store    store.Store       // Bolt (one node) or Redis (a fleet); nil once closed
	redis    *redisstore.Store // the Redis store when store.redis.addrs is set, else nil
	profiles *store.Live       // the call path's index over store (profile.Store)
	cleanup  func()            // removes a temporary data dir (demo, tests)
	msrp     *msrpnet.Server
	sip      *signal.Server
	web      *web.Server       // nil when http.listen is ""
	api      *provision.API    // nil without an admin listener
	admin    *provision.Bearer // the tokens of http.admin_token_file; nil without one
	rtp      *rtp.Plane
	metrics  *prometheus.Registry
	closers  []io.Closer
	wg       sync.WaitGroup

	// Lifecycle (lifecycle.go): readiness, and what a SIGHUP reload swaps in place.
	up       atomic.Bool       // every listener is bound
	level    *slog.LevelVar    // the level of log (cmdServe's; a detached one otherwise)
	certs    []*certSlot       // the certificates of the TLS listeners (SIP tls, msrps)
	msrpCert *certSlot         // the msrps one among certs, nil without msrp.tls_listen
	wire     *wireTrace        // log.trace on: the wire tracer, which sipgo's tracer follows while it runs
	shed     *overload.Shedder // limits.shed_queue (overload.go); sheds nothing when off
}

func newLogger(o *config.Options, w io.Writer) *slog.Logger {
	log, _ := newLevelLogger(o, w)
	return log
}

// newLevelLogger is newLogger with the level held in a LevelVar, which a reload sets.
func newLevelLogger(o *config.Options, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(o.Log.Level))
	lv := new(slog.LevelVar)
	lv.Set(lvl)
	ho := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(w, ho)
	if o.Log.Format == "json" {
		h = slog.NewJSONHandler(w, ho)
	}
	// node on every line, so that the lines of several instances can be told apart once collected.
	// Each plane adds its own "component" (one key per attribute: callers never add it again).
	return slog.New(h).With("node", o.Node.Name), lv
}

// setupLogging is newLevelLogger for the process: sipgo's package logger (its server, client and
// unhandled-message lines) goes to the same handler, as component "sipgo". Process-wide: the
// binary runs one instance.
func setupLogging(o *config.Options, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	log, lv := newLevelLogger(o, w)
	sip.SetDefaultLogger(log.With("component", "sipgo"))
	return log, lv
}

// newInstance builds every plane from validated options; nothing listens until start.
func newInstance(o *config.Options, log *slog.Logger, trace func(string)) (*instance, error) {
	in := &instance{opts: o, log: log, cleanup: func() {}, level: new(slog.LevelVar)}
	var msrpTrace func(dir, peer, frame string)
	var sipTrace func(dir, transport, peer string, msg []byte)
	if o.Log.Trace { // SIP and MSRP frames at debug, rate-limited (wiretrace.go)
		in.wire = newWireTrace(log)
		msrpTrace, sipTrace = in.wire.msrp, in.wire.sip
		followSIPTrace(in.wire)
	}
	var err error
	m := o.MSRP
	if err := checkCPUs(o); err != nil {
		return nil, err
	}
	// Outbound SIP over TLS (sips: or transport=tls next hops): read before any plane is built.
	sipTLS, err := tlsconf.Client(o.SIP.TLSClientCA, o.SIP.TLSClientCert, o.SIP.TLSClientKey, o.SIP.TLSClientInsecure)
	if err != nil {
		return nil, fmt.Errorf("herald: sip: %w", err)
	}
	var msrpTLS *tls.Config
	msrpClientTLS, err := msrpnet.ClientTLSConfig(m.TLSClientCA, m.TLSClientInsecure) // Herald active over msrps
	if err != nil {
		return nil, fmt.Errorf("herald: msrp: %w", err)
	}
	if m.TLSListen != "" {
		if in.msrpCert, err = newCertSlot(m.TLSCert, m.TLSKey); err != nil {
			return nil, fmt.Errorf("herald: msrp tls: %w", err)
		}
		in.certs = append(in.certs, in.msrpCert)
		msrpTLS = in.msrpCert.serverConfig() // read per handshake: a reload replaces the certificate
		// Presented to a terminal that asks Herald, as the msrps client, for a certificate.
		msrpClientTLS.GetClientCertificate = in.msrpCert.clientCertificate
	}
	in.msrp, err = msrpnet.New(msrpnet.Options{
		TLSListen:       m.TLSListen,
		TLSConfig:       msrpTLS,
		TLSClientConfig: msrpClientTLS,
		CPUs:            msrpCPUs(o),
		Listen:          m.Listen,
		AdvertiseHost:   firstNonEmpty(m.AdvertiseAddr, m.Advertise),
		MaxConns:        m.MaxConns,
		MaxConnsPerIP:   m.MaxConnsPerIP,
		MaxSessions:     m.MaxSessions,
		BindTimeout:     time.Duration(m.BindTimeout),
		TransferTimeout: time.Duration(m.TransferTimeout),
		IdleTimeout:     time.Duration(m.IdleTimeout),
		LingerMax:       time.Duration(m.LingerMax),
		ChunkSize:       m.ChunkSize,
		MaxHeaderBytes:  m.MaxHeaderBytes,
		MaxChunkBytes:   m.MaxChunkBytes,
		MaxOutbound:     m.MaxOutbound,
		MaxForkBinds:    m.MaxForkBinds,
		Loops:           m.Loops,
		Trace:           msrpTrace,
		Logger:          log, // the plane adds component=netio/msrp itself
	})
	if err != nil {
		return nil, err
	}
	clips, err := loadClips(configs.Clips)
	if err != nil {
		return nil, err
	}
	r := o.RTP
	in.rtp, err = rtp.New(rtp.Options{
		ListenIP:    r.Listen,
		PortMin:     r.PortMin,
		PortMax:     r.PortMax,
		Shards:      r.Shards,
		MaxDuration: time.Duration(r.MaxDuration),
		CPUs:        rtpCPUs(o),
		Logger:      log, // the plane adds component=netio/rtp itself
	})
	if err != nil {
		return nil, err
	}
	// The store last of what can fail before signal.New: it holds the file lock and goroutines.
	if len(o.Store.Redis.Addrs) > 0 {
		in.redis, in.profiles, err = openRedisStore(o, log)
		in.store = in.redis
	} else {
		var b *store.Bolt
		b, in.profiles, in.cleanup, err = openStore(o, log)
		in.store = b
	}
	if err != nil {
		return nil, err
	}
	rb := &ringback{plane: in.rtp, addr: firstNonEmpty(r.AdvertiseAddr, r.Listen), clips: clips, stored: in.profiles}
	in.metrics = prometheus.NewRegistry()
	in.metrics.MustRegister(in.profiles.Collectors()...)
	if in.redis != nil {
		in.metrics.MustRegister(in.redis.Collectors()...)
	}
	in.metrics.MustRegister(in.msrp.Collectors()...)
	in.metrics.MustRegister(in.rtp.Collectors()...)
	in.metrics.MustRegister(safe.Collector())        // herald_panics_total{plane}: the recovery net (core/safe)
	in.metrics.MustRegister(processCollectors(o)...) // go_*, process_*, herald_build_info (metrics.go)
	var pub signal.Publisher
	if o.HTTP.Listen != "" {
		api, err := in.newAPI()
		if err != nil {
			in.closeStore()
			return nil, err
		}
		var adminTLS *tls.Config
		if o.HTTP.AdminTLSCert != "" {
			cert, err := tls.LoadX509KeyPair(o.HTTP.AdminTLSCert, o.HTTP.AdminTLSKey)
			if err != nil {
				in.closeStore()
				return nil, fmt.Errorf("herald: http admin tls: %w", err)
			}
			adminTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		var adminAuth func(*http.Request) (bool, bool)
		if o.HTTP.AdminListen != "" && o.HTTP.AdminTokenFile != "" {
			toks, err := adminTokens(o)
			if err == nil {
				in.admin, err = provision.NewBearer(toks)
			}
			if err != nil {
				in.closeStore()
				return nil, fmt.Errorf("herald: http.admin_token_file: %w", err)
			}
			adminAuth = in.admin.Check
		}
		in.web, err = web.New(web.Options{
			Listen:         o.HTTP.Listen,
			AdminListen:    o.HTTP.AdminListen,
			AdminTLSConfig: adminTLS,
			AdminAuth:      adminAuth,
			PagesOnly:      o.HTTP.AdminListen == "", // the page listener never serves admin endpoints
			API:            api,
			BaseURL:        o.HTTP.BaseURL,
			TokenTTL:       time.Duration(m.SessionTTL),
			Registry:       in.metrics,
			Varz:           in.varz,
			Ready:          in.ready,
			Logger:         log, // the plane adds component=core/web itself
		})
		if err != nil {
			in.closeStore()
			return nil, err
		}
		pub = in.web
	}
	host, port, err := splitAdvertise(o)
	if err != nil {
		in.closeStore()
		return nil, err
	}
	nextHop, nextTransport, err := hostPortOfURI(o.SIP.NextHop)
	// ;transport=udp pins UDP whatever a request's size (RFC 3263 §4.1); without a transport
	// parameter RFC 3261 §18.1.1 applies (TCP for a large INVITE, UDP again if TCP is refused).
	nextPinned := namesUDP(o.SIP.NextHop)
	if err != nil {
		in.closeStore()
		return nil, err
	}
	trusted, err := parseTrusted(o.SIP.Trusted)
	if err != nil {
		in.closeStore()
		return nil, err
	}
	in.shed = newShedder(o)
	in.sip, err = signal.New(signal.Options{
		Host:             host,
		Aliases:          o.SIP.Aliases,
		Port:             port,
		NextHop:          nextHop,
		NextHopTransport: nextTransport,
		NextHopPinned:    nextPinned,
		RecordRoute:      o.SIP.RecordRoute,
		Trusted:          trusted,
		T1:               time.Duration(o.SIP.T1),
		T2:               time.Duration(o.SIP.T2),
		DisableFastPath:  !o.SIP.FastPath,
		CapCacheSize:     o.SIP.Capability.CacheSize,
		CapTTL:           time.Duration(o.SIP.Capability.TTL),
		Probe:            o.SIP.Capability.Probe,
		TimerC:           time.Duration(o.SIP.TimerC),
		SessionTTL:       time.Duration(m.SessionTTL),
		MaxCalls:         o.Limits.MaxCalls,
		OfferTLS:         m.OfferTLS,
		TLSClient:        sipTLS,
		Resolver:         dnsResolver(o.SIP.DNSServer),
		Logger:           log,
		Trace:            trace,
		WireTrace:        sipTrace,
	}, signal.Deps{Profiles: in.profiles, MSRP: in.msrp, Web: pub, Ringback: rb, UDP: udpReader, Shed: in.shed})
	if err != nil {
		in.closeStore()
		return nil, err
	}
	in.metrics.MustRegister(in.sip.Collectors()...) // the registry is read at scrape time
	return in, nil
}

// varzSnapshot is what /varz serves: one typed snapshot per plane, every key snake_case. The same
// structs feed /metrics (core/stats: their metric tags are the only declaration of Herald's
// counters and gauges), so the two always agree; TestVarzIsMetrics checks it after a real call.
type varzSnapshot struct {
	Version   string               `json:"version"`
	GoVersion string               `json:"go_version"`
	Node      string               `json:"node"`
	SIP       signal.Snapshot      `json:"sip"`
	MSRP      msrpnet.Stats        `json:"msrp"`
	RTP       rtp.Stats            `json:"rtp"`
	HTTP      *web.Stats           `json:"http"`                // nil without http.listen
	Store     store.Snapshot       `json:"store"`               // the subscriber index and the durable store
	Redis     *redisstore.Snapshot `json:"redis,omitempty"`     // nil unless the store is Redis (store.redis.addrs)
	Provision *provision.Stats     `json:"provision,omitempty"` // nil without an admin listener
	Recovered safe.Stats           `json:"recovered"`           // panics recovered, by plane
}

// snapshot reads every plane's counters.
func (in *instance) snapshot() varzSnapshot {
	v := varzSnapshot{
		Version: version, GoVersion: runtime.Version(), Node: in.opts.Node.Name,
		SIP: in.sip.Snapshot(), MSRP: in.msrp.Stats(), RTP: in.rtp.Stats(), Store: in.profiles.Snapshot(),
		Recovered: safe.Snapshot(),
	}
	if in.web != nil {
		st := in.web.Stats()
		v.HTTP = &st
	}
	if in.api != nil {
		st := in.api.Stats()
		v.Provision = &st
	}
	if in.redis != nil {
		st := in.redis.Snapshot()
		v.Redis = &st
	}
	return v
}

// varz is web.Options.Varz.
func (in *instance) varz() any { return in.snapshot() }

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// splitAdvertise returns the SIP host and port Herald advertises (port 0: learn it from the socket).
func splitAdvertise(o *config.Options) (string, int, error) {
	adv := o.SIP.Advertise
	if adv == "" && len(o.SIP.Listen) > 0 {
		adv = o.SIP.Listen[0].Addr
	}
	host, p, err := net.SplitHostPort(adv)
	if err != nil {
		return adv, 0, nil //nolint:nilerr // a bare host: the port is learnt from the first socket
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("herald: sip advertise %q: %w", adv, err)
	}
	return host, port, nil
}

// namesUDP reports whether the sip: URI s names ;transport=udp.
func namesUDP(s string) bool {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return false
	}
	t, ok := u.UriParams.Get("transport")
	return ok && strings.EqualFold(t, "udp")
}

// hostPortOfURI turns "sip:host:port;transport=tcp" into "host:port" and its transport (udp when the
// URI names none, tls for sips:).
func hostPortOfURI(s string) (string, string, error) {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return "", "", fmt.Errorf("herald: next_hop %q: %w", s, err)
	}
	transport := "udp"
	if u.Scheme == "sips" {
		transport = "tls"
	}
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToLower(t)
	}
	// sipgo keeps an IPv6 reference's brackets in Host (RFC 3261 §25.1); JoinHostPort adds its own.
	host, port := strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]"), u.Port
	if _, err := netip.ParseAddr(host); err == nil && port == 0 {
		port = 5060
		if transport == "tls" {
			port = 5061
		}
	}
	// A name without a port keeps port 0: Herald's resolver then asks SRV for the port (RFC 3263 §4.2).
	return net.JoinHostPort(host, strconv.Itoa(port)), transport, nil
}

// dnsResolver is the resolver that asks only server (sip.dns_server, IP:port), over the network
// Go's resolver asks for (UDP, TCP for a truncated answer); nil for "" (the system's).
func dnsResolver(server string) *net.Resolver {
	if server == "" {
		return nil
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

// start opens every socket and serves. It returns once all listeners are bound.
func (in *instance) start(ctx context.Context) error {
	if err := in.msrp.Start(ctx); err != nil {
		return err
	}
	if err := in.rtp.Start(ctx); err != nil {
		return err
	}
	if in.web != nil {
		if err := in.web.Start(ctx); err != nil {
			return err
		}
	}
	socks, err := bindSIPWith(in.opts.SIP.Listen, in.opts.SIP.UDPReaders, in.sipCert)
	if err != nil {
		return err
	}
	for _, sk := range socks {
		switch {
		case sk.pc != nil:
			pc := sk.pc
			in.sip.Listening(pc.LocalAddr())
			in.closers = append(in.closers, pc)
			in.serve(func() error { return in.sip.ServeUDP(pc) })
		case sk.tls:
			// Served as TLS (not as TCP over a TLS listener): requests read from it are marked TLS,
			// and Herald record-routes the leg with this listener's port and ;transport=tls.
			ln := sk.ln
			in.sip.ListeningTLS(ln.Addr())
			in.closers = append(in.closers, ln)
			in.serve(func() error { return in.sip.ServeTLS(ln) })
		default:
			ln := sk.ln
			in.sip.Listening(ln.Addr())
			in.closers = append(in.closers, ln)
			in.serve(func() error { return in.sip.ServeTCP(ln) })
		}
	}
	in.watchOverload(ctx)
	in.up.Store(true)
	return nil
}

// sipCert is the server side of a SIP tls listener: its certificate in a slot a reload refills.
func (in *instance) sipCert(l config.Listener) (*tls.Config, error) {
	for _, c := range in.certs { // a bind retried (bindSIP) asks again
		if c != in.msrpCert && c.certFile == l.Cert && c.keyFile == l.Key {
			return c.serverConfig(), nil
		}
	}
	c, err := newCertSlot(l.Cert, l.Key)
	if err != nil {
		return nil, err
	}
	in.certs = append(in.certs, c)
	return c.serverConfig(), nil
}

type sipSocket struct {
	pc  net.PacketConn
	ln  net.Listener
	tls bool // ln runs the TLS server handshake (a "tls" listener)
}

// bindSIP opens every SIP listener. Port 0 on UDP and TCP of one host means one kernel-chosen port
// shared by both (SIP wants UDP and TCP on the same port: RFC 3261 §18.1.1 moves large requests to
// TCP); a port the kernel gave for UDP but that is taken for TCP is retried. A TLS listener on port 0
// gets a port of its own (it cannot share TCP's). Each UDP listener is udpReaders SO_REUSEPORT
// sockets on the same address (the kernel spreads peers over them by their address hash), each
// served by its own reader; the first of them comes first in the result, so it is the one UDP
// requests leave from (Server.Listening).
func bindSIP(ls []config.Listener, udpReaders int) ([]sipSocket, error) {
	return bindSIPWith(ls, udpReaders, nil)
}

// bindSIPWith is bindSIP with the server TLS config of each tls listener made by tlsConf (nil: its
// cert and key files, read once).
func bindSIPWith(ls []config.Listener, udpReaders int, tlsConf func(config.Listener) (*tls.Config, error)) ([]sipSocket, error) {
	readers := max(udpReaders, 1)
	var out []sipSocket
	closeAll := func() {
		for _, s := range out {
			if s.pc != nil {
				_ = s.pc.Close()
			} else {
				_ = s.ln.Close()
			}
		}
		out = nil
	}
	for attempt := 0; ; attempt++ {
		chosen := map[string]string{}
		var err error
		for _, l := range ls {
			addr := l.Addr
			host, port, _ := net.SplitHostPort(addr)
			tlsListener := strings.EqualFold(l.Transport, "tls") // TLS has a port of its own (5061)
			if p, ok := chosen[host]; ok && port == "0" && !tlsListener {
				addr = net.JoinHostPort(host, p)
			}
			var sk sipSocket
			var a net.Addr
			var more []sipSocket // the other readers of a UDP listener, after its first socket
			switch strings.ToLower(l.Transport) {
			case "udp":
				var pcs []net.PacketConn
				if pcs, err = listenUDP(addr, readers); err == nil {
					a = pcs[0].LocalAddr()
					sk.pc = pcs[0]
					for _, pc := range pcs[1:] {
						more = append(more, sipSocket{pc: pc})
					}
				}
			case "tcp":
				if sk.ln, err = net.Listen("tcp", addr); err == nil {
					a = sk.ln.Addr()
				}
			case "tls":
				var conf *tls.Config
				if tlsConf != nil {
					conf, err = tlsConf(l)
				} else {
					var cert tls.Certificate
					if cert, err = tls.LoadX509KeyPair(l.Cert, l.Key); err == nil {
						conf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
					}
				}
				if err == nil {
					if sk.ln, err = tls.Listen("tcp", addr, conf); err == nil {
						a, sk.tls = sk.ln.Addr(), true
					}
				}
			}
			if err != nil {
				err = fmt.Errorf("herald: sip %s %s: %w", l.Transport, addr, err)
				break
			}
			out = append(out, sk)
			out = append(out, more...)
			if port == "0" && !tlsListener {
				if _, p, e := net.SplitHostPort(a.String()); e == nil {
					chosen[host] = p
				}
			}
		}
		if err == nil {
			return out, nil
		}
		closeAll()
		if attempt >= 20 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
}

// udpRcvBuf is the receive buffer asked for each SIP UDP socket. The kernel caps it at
// net.core.rmem_max; the default (rmem_default, about 208 KB) overflowed under SIPp load.
const udpRcvBuf = 4 << 20

// listenUDP opens n UDP sockets bound to addr, served by one reader each. The first is bound
// without SO_REUSEPORT, so binding fails when another socket holds the port and port 0 gets a port
// nobody uses; SO_REUSEPORT is set on it afterwards and the others join it on its port (Linux lets
// a bound socket head a reuseport group), so the kernel spreads peers over the n sockets.
func listenUDP(addr string, n int) ([]net.PacketConn, error) {
	pcs := make([]net.PacketConn, 0, n)
	fail := func(err error) ([]net.PacketConn, error) {
		for _, c := range pcs {
			_ = c.Close()
		}
		return nil, err
	}
	first, err := (&net.ListenConfig{Control: udpSockopts(false)}).ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	pcs = append(pcs, first)
	if n == 1 {
		return pcs, nil
	}
	uc, ok := first.(*net.UDPConn)
	if !ok {
		return fail(fmt.Errorf("herald: udp socket is a %T", first))
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return fail(err)
	}
	if err := udpSockopts(true)("", "", rc); err != nil {
		return fail(err)
	}
	lc := net.ListenConfig{Control: udpSockopts(true)}
	for range n - 1 {
		pc, err := lc.ListenPacket(context.Background(), "udp", first.LocalAddr().String())
		if err != nil {
			return fail(err)
		}
		pcs = append(pcs, pc)
	}
	return pcs, nil
}

// udpSockopts sets the receive buffer (best effort: the kernel caps it at net.core.rmem_max) and,
// when reuse is set, SO_REUSEPORT.
func udpSockopts(reuse bool) func(string, string, syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpRcvBuf)
			if reuse {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

func (in *instance) serve(f func() error) {
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
			in.log.Warn("sip listener stopped", "error", err)
		}
	}()
}

// sipAddr is the UDP address Herald's SIP listens on (for the demo and tests).
func (in *instance) sipAddr() string {
	host, _, _ := net.SplitHostPort(in.opts.SIP.Listen[0].Addr) // validated at load
	return net.JoinHostPort(host, strconv.Itoa(in.sip.Port()))
}

// stop closes the sockets, the SIP layer and the MSRP plane.
func (in *instance) stop(ctx context.Context) {
	for _, c := range in.closers {
		_ = c.Close()
	}
	_ = in.sip.Close()
	in.wg.Wait()
	if in.web != nil {
		_ = in.web.Stop(ctx)
	}
	_ = in.rtp.Stop(ctx)
	_ = in.msrp.Stop(ctx)
	in.closeStore()
	if in.wire != nil {
		unfollowSIPTrace(in.wire)
	}
}

// closeStore closes the store (its writes are durable already) and removes a temporary data dir.
func (in *instance) closeStore() {
	if in.store != nil {
		if err := in.store.Close(); err != nil {
			in.log.Warn("store close", "error", err)
		}
		in.store = nil
	}
	in.cleanup()
	in.cleanup = func() {}
}

// cmdServe runs the gateway until SIGTERM or SIGINT (a drain, see lifecycle.go); SIGHUP reloads
// the config file.
func cmdServe(path string, stderr io.Writer) int {
	// Registered before anything else: from here on a signal never kills the process unhandled.
	sigs := make(chan os.Signal, 4)
	ossignal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer ossignal.Stop(sigs)
	var (
		o   *config.Options
		err error
	)
	if path == "" {
		o, err = config.Default()
	} else {
		o, err = config.Load(path)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log, level := setupLogging(o, stderr)
	for _, w := range o.Warnings {
		log.Warn("config", "problem", w.String())
	}
	applySIPTimers(o)
	// The collector settings of the configuration (default gc_percent 100, memory_limit_mb 4096; see
	// config.LimitOptions for the arithmetic) replace GOGC and GOMEMLIMIT; an explicit 0 leaves
	// Go's own (and the environment's) in place.
	if o.Limits.GCPercent != 0 {
		debug.SetGCPercent(o.Limits.GCPercent)
	}
	if o.Limits.MemoryLimitMB > 0 {
		debug.SetMemoryLimit(int64(o.Limits.MemoryLimitMB) << 20)
	}
	gc := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(gc)
	log.Info("go collector", "gc_percent", gc[0].Value.Uint64(), "memory_limit_mb", gc[1].Value.Uint64()>>20)
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		log.Error("data dir", "error", err)
		return 1
	}
	in, err := newInstance(o, log, nil)
	if err != nil {
		log.Error("start", "error", err)
		return 1
	}
	in.level = level
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := in.start(ctx); err != nil {
		log.Error("start", "error", err)
		in.stop(context.Background())
		return 1
	}
	host, port := in.msrp.Addr()
	log.Info("herald serving", "version", version, "sip", in.sipAddr(), "msrp", net.JoinHostPort(host, strconv.Itoa(port)),
		"http", in.httpAddr(), "admin", in.adminAddr(), "next_hop", o.SIP.NextHop, "subscribers", in.profiles.Len())
	// systemd (Type=notify): ready once every listener is bound and the store is open.
	notify(log, "READY=1\nSTATUS=serving")
	if d := sdnotify.WatchdogInterval(); d > 0 {
		go watchdog(ctx, log, d)
	}
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			notify(log, sdnotify.Reloading())
			o = in.reload(o, path)
			notify(log, "READY=1\nSTATUS=serving")
			continue
		}
		log.Info("herald stopping", "signal", sig.String())
		break
	}
	notify(log, "STOPPING=1\nSTATUS=draining")
	in.drain(o, sigs) // false: a second signal, stop at once
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	in.stop(sctx)
	log.Info("herald stopped")
	return 0
}

// adminAddr is the admin listener's bound address, "" without one.
func (in *instance) adminAddr() string {
	if in.web == nil {
		return ""
	}
	return in.web.AdminAddr()
}

// httpAddr is the page listener's bound address, "" without one.
func (in *instance) httpAddr() string {
	if in.web == nil {
		return ""
	}
	return in.web.Addr()
}

// udpReader is signal.Deps.UDP: netio/sipudp reads Herald's SIP UDP sockets (batched reads) and
// offers each datagram to the fast path before sipgo.
func udpReader(pc net.PacketConn, fast func(b []byte, from netip.AddrPort) bool) signal.UDPSocket {
	return sipudp.New(pc, sipudp.Options{Fast: fast})
}

// applySIPTimers gives sip.t1 and sip.t2 to sipgo's transaction layer, the general path's
// transactions (Timers A, B, E, F, G, H, J, L, M derive from them; RFC 3261 §17, RFC 6026 §8.4);
// the fast path takes them from signal.Options. sipgo's timers are process-wide (sip.SetTimers):
// the binary runs one Server, so they are set once, before any transaction exists; T4 keeps RFC
// 3261's 5 s and Timer D its 32 s floor. Tests that run several servers in one process leave them
// alone.
func applySIPTimers(o *config.Options) {
	sip.SetTimers(o.SIP.T1.D(), o.SIP.T2.D(), sip.T4)
}
