package signal

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/callsip"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/sipdns"
	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/core/sipmsg"
	"github.com/herald-ims/herald/core/sipstats"
	"github.com/herald-ims/herald/core/tlsconf"
)

// Server is Herald's SIP side.
type Server struct {
	opts  Options     // opts.Host as a URI names it: an IPv6 address in brackets (New)
	self  sipmsg.Self // opts.Host and Options.Aliases, as isSelfAt compares them
	deps  Deps
	log   *slog.Logger
	ua    *sipgo.UserAgent
	srv   *sipgo.Server
	cli   *sipgo.Client
	fast  *sipfast.Engine   // nil when Options.DisableFastPath (fastglue.go)
	names *sipfast.Names    // names and their answers (RFC 3263), for both paths and modes
	tcp   *sipmsg.TCPStream // the engine's TCP, nil with it

	adm     *admission // the calls in progress on both paths (admit.go)
	handoff handoff    // the lookups of INVITEs the fast path hands to the general path (parties.go)

	port     atomic.Int32
	first    atomic.Int32                // the first served socket's local port
	listen   [numTransports]atomic.Int32 // each transport's first served socket's local port
	udpLocal atomic.Pointer[sip.Addr]    // the first served UDP socket: requests over UDP leave from it
	udpUp    chan struct{}               // closed when udpLocal is set
	active   atomic.Int64
	live     atomic.Pointer[live] // the settings Reload changes (drain.go)
	draining atomic.Bool          // Drain was called: new INVITEs get 503
	Stats    Stats
	hist     *sipstats.Hists // call-setup latencies
	calls    *callsip.Env    // what the general path's calls share (callglue.go)
	wg       sync.WaitGroup
}

// New builds the SIP layer. Handlers are registered here, before any socket is served (sipgo's
// handler map is not synchronised).
func New(opts Options, deps Deps) (*Server, error) {
	if opts.Host == "" {
		return nil, errors.New("signal: no host to advertise")
	}
	self, err := sipmsg.NewSelf(opts.Host, opts.Aliases)
	if err != nil {
		return nil, fmt.Errorf("signal: %w", err)
	}
	opts.Host = self.URI
	if deps.Profiles == nil || deps.MSRP == nil {
		return nil, errors.New("signal: profiles and msrp plane are required")
	}
	if opts.T1 <= 0 {
		opts.T1 = 500 * time.Millisecond
	}
	if opts.TimerC <= 0 {
		opts.TimerC = 180 * time.Second
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 120 * time.Second
	}
	if opts.MaxCalls <= 0 {
		opts.MaxCalls = 10000
	}
	if opts.UDPMaxRequest <= 0 {
		opts.UDPMaxRequest = 1300
	}
	if opts.NextHopTransport == "" {
		opts.NextHopTransport = "udp"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Capabilities == nil {
		deps.Capabilities = profile.NewCapCache(opts.CapCacheSize, opts.CapTTL, nil)
	}
	s := &Server{opts: opts, self: self, deps: deps, log: opts.Logger.With("component", "core/signal"), adm: newAdmission(), udpUp: make(chan struct{}), hist: sipstats.NewHists()}
	s.calls = newCalls(s)
	s.port.Store(int32(opts.Port))
	s.live.Store(newLive(Reloadable{Trusted: opts.Trusted, MaxCalls: opts.MaxCalls, NextHop: opts.NextHop,
		NextHopTransport: opts.NextHopTransport, NextHopPinned: opts.NextHopPinned}))
	s.names = sipdns.Names(opts.Resolver, opts.Clock, &s.Stats.Fast, testLookup)
	tcpFast := []sip.TransportLayerOption{sip.WithTransportLayerResolver(s.names.Resolve)}
	if !opts.DisableFastPath {
		s.fast = newFastPath(s)
		s.tcp = &sipmsg.TCPStream{Trace: opts.WireTrace, Reconnects: &s.Stats.Fast.Reconnects, ReconnectFailed: &s.Stats.Fast.ReconnectFailed, Recovered: s.recovered}
		s.fast.AddConn(s.tcp, false)
		tcpFast = append(tcpFast, sip.WithTransportLayerTCPFast(s.tcpFast))
	}

	ua, err := sipgo.NewUA(append([]sipgo.UserAgentOption{
		sipgo.WithUserAgent("Herald"),
		sipgo.WithUserAgentParser(sip.NewParser(sip.WithHeadersParsers(sipmsg.HeaderParsers()))),
		sipgo.WithUserAgentHostname(opts.Host),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(s.log),
			sip.WithTransactionLayerUnhandledResponseHandler(s.onUnhandledResponse),
		),
		sipgo.WithUserAgentTransportLayerOptions(append(append([]sip.TransportLayerOption{sip.WithTransportLayerLogger(s.log)}, tcpFast...), testTransport...)...),
		sipgo.WithUserAgenTLSConfig(tlsconf.SIPDial(opts.TLSClient)),
	}, testUA...)...)
	if err != nil {
		if s.fast != nil {
			s.fast.Close()
		}
		return nil, fmt.Errorf("signal: %w", err)
	}
	s.ua = ua
	if s.tcp != nil {
		s.tcp.Layer = ua.TransportLayer()
	}
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(s.log)); err != nil {
		return nil, fmt.Errorf("signal: %w", err)
	}
	if s.cli, err = sipgo.NewClient(ua, sipgo.WithClientHostname(opts.Host), sipgo.WithClientLogger(s.log)); err != nil {
		return nil, fmt.Errorf("signal: %w", err)
	}
	s.srv.OnInvite(s.guard(s.onInvite))
	s.srv.OnAck(s.guard(s.onAck))
	s.srv.OnPrack(s.guard(s.onPrack))
	s.srv.OnUpdate(s.guard(s.onUpdate))
	s.srv.OnBye(s.guard(s.proxyInDialog))
	s.srv.OnInfo(s.guard(s.proxyInDialog))
	s.srv.OnOptions(s.guard(s.onOptions))
	s.srv.OnCancel(s.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL sipgo could not match to an INVITE transaction (RFC 3261 §9.2).
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}))
	s.srv.OnNoRoute(s.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		if req.To() != nil && req.To().Params.Has("tag") {
			s.proxyInDialog(req, tx)
			return
		}
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
		_ = tx.Respond(res)
	}))
	return s, nil
}

func init() {
	// sipgo refuses to write a UDP message larger than sip.UDPMTUSize-200 bytes (1300). Herald
	// applies RFC 3261 §18.1.1 itself (pickTransport, forwardInvite): a request it sends over UDP is
	// one that must go over UDP, whole (a next hop that speaks only UDP, or named ;transport=udp),
	// and a response goes back over the transport its request came on (§18.2.2), whatever its size.
	// The limit is lifted to the largest UDP payload.
	sip.UDPMTUSize = 65507 + 200
}

// badResponse reports (and counts) a response Herald must drop rather than act on: one without the
// headers every response carries (RFC 3261 §8.2.6.2: Via, From, To, Call-ID, CSeq) or with a
// header that does not parse (§18.1.2: a malformed response is discarded).
func (s *Server) badResponse(res *sip.Response) bool {
	if sipmsg.Unparsed(res) == "" && res.Via() != nil && res.From() != nil && res.To() != nil && res.CallID() != nil && res.CSeq() != nil {
		return false
	}
	s.Stats.BadResponses.Add(1)
	s.log.Debug("malformed response dropped", "status", res.StatusCode, "call_id", callIDOf(res))
	return true
}

// supportedTags are the option tags Herald understands as a UAS (Supported of its OPTIONS answer).
var supportedTags = []string{"100rel", "early-session", "199"}

const allowMethods = callsip.Allow

// ServeUDP serves SIP on pc until it is closed. The first served socket fixes the advertised port
// when Options.Port is 0. With the fast path on, Deps.UDP reads pc (netio/sipudp: batched
// reads, several goroutines) and sipgo gets the datagrams the fast path leaves.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	s.learnPort(pc.LocalAddr(), tpUDP)
	if s.fast == nil || s.deps.UDP == nil {
		return s.srv.ServeUDP(s.poolReady(sipmsg.PacketConn{PacketConn: pc, Bad: &s.Stats.BadRequests}, pc.LocalAddr()))
	}
	var c *fconn
	fast := func(b []byte, from netip.AddrPort) bool { return s.fast.Take(b, from, c) }
	if wt := s.opts.WireTrace; wt != nil {
		fast = func(b []byte, from netip.AddrPort) bool {
			took := s.fast.Take(b, from, c)
			if took { // the rest goes to sipgo, whose tracer sees it
				wt("recv", "UDP", from.String(), b)
			}
			return took
		}
	}
	sock := s.deps.UDP(pc, fast)
	c = s.addFastConn(pc, sock)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.ServeUDP(s.poolReady(sock.General(), pc.LocalAddr()))
	}()
	err := sock.Serve()
	<-done
	return err
}

// UDPStats sums the counters of the UDP sockets Herald reads itself (fast path on).
func (s *Server) UDPStats() (datagrams, reads, general, dropped uint64) {
	if s.fast == nil {
		return
	}
	for _, fc := range s.fast.Conns() {
		if c, ok := fc.(*fconn); ok && c.sock != nil {
			d, r, g, x := c.sock.Counts()
			datagrams += d
			reads += r
			general += g
			dropped += x
		}
	}
	return
}

// ServeTCP serves SIP over TCP on l until it is closed.
func (s *Server) ServeTCP(l net.Listener) error {
	s.learnPort(l.Addr(), tpTCP)
	return s.srv.ServeTCP(sipmsg.Listener{Listener: l, Bad: &s.Stats.BadRequests})
}

// ServeTLS serves SIP over TLS on l (a listener that already runs the TLS server handshake, such
// as tls.Listen's) until it is closed. Requests read from it are marked TLS, so Herald knows which
// transport a request came in on (double Record-Route, RFC 5658).
func (s *Server) ServeTLS(l net.Listener) error {
	s.learnPort(l.Addr(), tpTLS)
	return s.srv.ServeTLS(sipmsg.Listener{Listener: l, Bad: &s.Stats.BadRequests})
}

// Listening tells the SIP layer about a UDP or TCP socket it is about to serve, before the serving
// goroutine runs: the first one fixes the advertised port (when Options.Port is 0) and the first of
// each transport fixes that transport's port. The first served UDP socket becomes where UDP requests
// leave from once sipgo reads it (poolReady). Idempotent.
func (s *Server) Listening(a net.Addr) {
	if _, ok := a.(*net.UDPAddr); ok {
		s.learnPort(a, tpUDP)
		return
	}
	s.learnPort(a, tpTCP)
}

// udpReady makes a the local address UDP requests leave from (pick): the first served UDP socket.
func (s *Server) udpReady(a net.Addr) {
	if ua, ok := a.(*net.UDPAddr); ok && s.udpLocal.CompareAndSwap(nil, &sip.Addr{IP: ua.IP, Port: ua.Port, Hostname: ua.IP.String()}) {
		close(s.udpUp)
	}
}

// udpLocalAddr is where UDP requests leave from. Between ServeUDP's start and sipgo's first read of
// the socket (start-up only) it waits for the socket, up to udpUpWait: a request sent from another
// socket would name a Via port no response reaches.
func (s *Server) udpLocalAddr() *sip.Addr {
	if a := s.udpLocal.Load(); a != nil || s.listen[tpUDP].Load() == 0 {
		return a
	}
	t := time.NewTimer(udpUpWait)
	defer t.Stop()
	select {
	case <-s.udpUp:
	case <-t.C:
	}
	return s.udpLocal.Load()
}

const udpUpWait = time.Second

// poolReady makes the socket ServeUDP hands sipgo the UDP local address on sipgo's first read, when
// sipgo pools it: a request naming it before then made sipgo bind the port again (EADDRINUSE, a 503
// to a caller whose INVITE came over TCP at start-up and left over UDP).
func (s *Server) poolReady(pc net.PacketConn, local net.Addr) net.PacketConn {
	return &sipmsg.FirstRead{PacketConn: pc, Ready: func() { s.udpReady(local) }}
}

// ListeningTLS is Listening for a SIP over TLS listener Herald is about to serve with ServeTLS.
func (s *Server) ListeningTLS(a net.Addr) { s.learnPort(a, tpTLS) }

func (s *Server) learnPort(a net.Addr, tp int) {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		p := int32(ap.Port())
		s.port.CompareAndSwap(0, p)
		s.first.CompareAndSwap(0, p)
		s.listen[tp].CompareAndSwap(0, p)
	}
}

// Close stops the SIP user agent (transports and transactions).
func (s *Server) Close() error {
	err := s.ua.Close()
	if s.fast != nil {
		s.fast.Close()
	}
	s.names.Close()
	s.wg.Wait()
	return err
}

// ActiveCalls is the number of calls whose INVITE has no final response yet.
func (s *Server) ActiveCalls() int { return int(s.active.Load()) }

// Port is the SIP port Herald advertises.
func (s *Server) Port() int { return int(s.port.Load()) }

// PortFor is the port Herald advertises for transport ("udp", "tcp" or "tls") in Record-Route and
// Via, 0 when it serves no socket of that transport.
func (s *Server) PortFor(transport string) int { return s.portFor(transportIndex(transport)) }

func (s *Server) trace(format string, args ...any) {
	if s.opts.Trace != nil {
		s.opts.Trace(fmt.Sprintf(format, args...))
	}
}

func (s *Server) contact(transport string) *sip.ContactHeader {
	port := s.Port()
	if p := s.portFor(transportIndex(transport)); p > 0 {
		port = p
	}
	u := sip.Uri{Scheme: "sip", User: "herald", Host: s.opts.Host, Port: port}
	if transport != "" && !strings.EqualFold(transport, "udp") {
		u.UriParams = sip.HeaderParams{{K: "transport", V: strings.ToLower(transport)}}
	}
	return &sip.ContactHeader{Address: u}
}

// isSelf reports whether u addresses this Herald instance: its host, and the port of one of its
// transports (the default port of the URI's transport when u has none).
func (s *Server) isSelf(u sip.Uri) bool {
	return isSelfAt(s, u.Host, u.Port, sip.DefaultPort(sipmsg.URITransport(&u)))
}

// isSelfAt is sipmsg.IsSelf for this server (its Self, the ports it serves), with defPort, the
// transport's default (RFC 3261 §19.1.2), for a URI without a port. The general path calls it with
// sipgo's parsed URI (Server.isSelf), the fast path with the scanner's bytes (fastHost.Self).
func isSelfAt[H ~string | ~[]byte](s *Server, host H, port, defPort int) bool {
	if port == 0 {
		port = defPort
	}
	return sipmsg.IsSelf(&s.self, host, port, s.serves)
}

// serves reports whether port is one Herald serves SIP at (Options.Port, or a transport's socket).
func (s *Server) serves(port int) bool {
	if port == s.Port() {
		return true
	}
	for tp := range numTransports {
		if q := s.portFor(tp); q > 0 && port == q {
			return true
		}
	}
	return false
}

func (s *Server) trusted(req *sip.Request) bool {
	ap, err := netip.ParseAddrPort(req.Source())
	return len(s.live.Load().trusted) == 0 || err == nil && s.trustedAddr(ap.Addr())
}

// trustedAddr reports whether ip is one of the configured peers (everyone when none are).
func (s *Server) trustedAddr(ip netip.Addr) bool {
	trusted := s.live.Load().trusted
	if len(trusted) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if req.To() != nil && req.To().Params.Has("tag") {
		s.proxyInDialog(req, tx)
		return
	}
	// RFC 3261 §8.2.2.3: a UAS rejects option tags it does not understand in Require.
	var unknown []string
	for _, v := range sipmsg.HeaderValues(req, "Require") {
		for _, tag := range strings.Split(v, ",") {
			if tag = strings.TrimSpace(tag); tag != "" && !call.HasToken(supportedTags, tag) {
				unknown = append(unknown, tag)
			}
		}
	}
	if len(unknown) > 0 {
		sipmsg.Respond(tx, req, 420, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(unknown, ", ")))
		return
	}
	// A draining node answers keepalive OPTIONS as it answers new INVITEs: 503 with Retry-After
	// (RFC 3261 §21.5.4, §11.2: the response to OPTIONS is the one an INVITE would get), so a
	// dispatcher probing it (Kamailio's ds_ping_reply_codes) takes it out of the set before it stops.
	if s.draining.Load() {
		sipmsg.Respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", drainRetryAfter))
		return
	}
	sipmsg.Respond(tx, req, 200, "OK", sip.NewHeader("Allow", allowMethods),
		sip.NewHeader("Supported", strings.Join(supportedTags, ", ")))
}

// onUnhandledResponse receives responses no client transaction matched: retransmitted 2xx of an
// INVITE whose transaction has ended (RFC 6026). A proxy forwards them statelessly upstream.
func (s *Server) onUnhandledResponse(res *sip.Response) {
	defer func() { s.recovered(recover()) }()
	fire(&hookUnhandled, res)
	if s.badResponse(res) {
		return
	}
	via := res.Via()
	if via == nil || !sipmsg.IsSelf(&s.self, via.Host, 0, func(int) bool { return true }) { // by its host alone
		return
	}
	if len(res.GetHeaders("Via")) < 2 || !res.IsSuccess() {
		return
	}
	// Nothing else holds res (no transaction matched it): forward it as is, without a copy, over the
	// transport the next Via names (RFC 3261 §16.11, §18.2.2), not the one it came in on: with a caller
	// card the INVITE leaves over TCP while the caller's leg is UDP, and a lost 200 OK could then never
	// reach the caller.
	sipmsg.ForUpstream(res)
	s.calls.Stripped.Response(res) // a card call's: as its controller relayed the first (callsip.Stripped)
	if next := res.Via(); next != nil && next.Transport != "" {
		res.SetTransport(next.Transport)
	}
	res.SetDestination("")
	_ = s.srv.WriteResponse(res)
}

// prebuilt is a ClientRequestOption that does nothing; passing it stops sipgo from "building" a request
// we already built (a proxy's requests must not get new From/To/CSeq).
func prebuilt(*sipgo.Client, *sip.Request) error { return nil }

// sendOpts are the ClientRequestOptions for a request Herald forwards or originates: a new top Via,
// then the transport choice.
func (s *Server) sendOpts(extra ...sipgo.ClientRequestOption) []sipgo.ClientRequestOption {
	o := append([]sipgo.ClientRequestOption{sipgo.ClientRequestAddVia}, extra...)
	return append(o, s.pickTransport)
}

// pickTransport runs after the Via is added: a UDP request larger than UDPMaxRequest goes over TCP
// instead (RFC 3261 §18.1.1; sipgo refuses it otherwise), and UDP requests leave from Herald's
// listening socket so responses and the Via agree. A request over TCP or TLS leaves from an
// ephemeral port; its Via sent-by names Herald's listening port for that transport instead, where
// the next hop opens a connection to send a response when the one the request came on has closed
// (RFC 3261 §18.2.2). sipgo fills in the connection's local port only when the Via has none.
func (s *Server) pickTransport(_ *sipgo.Client, r *sip.Request) error { return s.pick(r, false) }

// pickPinned is pickTransport for a request that goes over UDP whatever its size (forwardInvite).
func (s *Server) pickPinned(_ *sipgo.Client, r *sip.Request) error { return s.pick(r, true) }

func (s *Server) pick(r *sip.Request, pinned bool) error {
	if strings.EqualFold(r.Transport(), "udp") {
		if pinned || sipmsg.RequestSize(r) <= s.opts.UDPMaxRequest {
			if a := s.udpLocalAddr(); a != nil {
				r.Laddr = *a
			}
			return nil
		}
		s.Stats.UDPToTCP.Add(1)
		r.SetTransport("TCP")
		if v := r.Via(); v != nil {
			v.Transport = "TCP"
		}
	}
	if v := r.Via(); v != nil && v.Port == 0 {
		v.Port = s.portFor(transportIndex(r.Transport()))
	}
	return nil
}

// FastTransactions is the number of transactions the fast path holds (calls in progress, and
// finished ones kept 64·T1 to absorb retransmissions).
func (s *Server) FastTransactions() int {
	if s.fast == nil {
		return 0
	}
	return s.fast.Transactions()
}
