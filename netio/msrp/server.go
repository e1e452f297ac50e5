package msrp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/netio/cpu"
)

// Server is the MSRP plane: a gnet engine that accepts terminals' connections, binds them to push
// sessions by session-id and pushes pages. It implements [push.Plane].
type Server struct {
	opts  Options
	log   *slog.Logger
	epoch time.Time
	hist  *hists // latency histograms (latency.go)

	sessions *sessionTable
	wheel    *deadlines
	st       counters
	curH     atomic.Pointer[handler] // the engine run in progress (for tests and diagnostics)

	limMu     sync.Mutex // guards perIP and connCount changes (connCount is also read atomically)
	perIP     map[netip.Addr]int
	connCount atomic.Int64

	pausedMu sync.Mutex
	paused   []*connState // connections waiting for their outbound buffer to drain
	pausedN  atomic.Int64 // len(paused), read by the timer goroutine
	pokeCh   chan struct{}

	tick     time.Duration // period of wake-ups while a connection is paused
	scratchC []*connState  // timer goroutine only: paused list spare

	streams  map[net.Conn]struct{} // stream transport sockets (msrps, dialled), guarded by mu
	streamWG sync.WaitGroup        // their goroutines and the msrps acceptor; Add under mu while !stopped
	tlsLn    net.Listener          // msrps listener, set by Start
	tlsPort  int                   // advertised msrps port

	dialSem    chan struct{}  // one token per dial in progress (MaxDials)
	dials      sync.WaitGroup // dialOut goroutines; Add under mu while !stopped
	baseCtx    context.Context
	baseCancel context.CancelFunc

	stopping  atomic.Bool
	stopCh    chan struct{}
	runDone   chan struct{}
	timerDone chan struct{}

	mu        sync.Mutex // guards the lifecycle fields below
	started   bool
	stopped   bool
	boundHost string
	boundPort int
	advHost   string
	advPort   int
	eng       gnet.Engine // the running engine, set by OnBoot
	hasEng    bool
}

// lingerTimeout is how long a connection Herald has finished with stays open, waiting for the terminal to
// close its side, after the terminal last took some of the bytes queued toward it (lingerCheck); the
// whole lingering close is capped by Options.LingerMax.
const lingerTimeout = 2 * time.Second

// LingerMax is the cap of a lingering close (Options.LingerMax, defaulted): a caller that waits for the
// connections of aborted sessions to end (a drain) waits at least this long.
func (s *Server) LingerMax() time.Duration { return s.opts.LingerMax }

// New validates opts and returns a stopped Server.
func New(opts Options) (*Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(o.Listen)
	if o.AdvertiseHost == "" {
		ip, err := netip.ParseAddr(host)
		if host == "" || (err == nil && ip.IsUnspecified()) {
			return nil, fmt.Errorf("%w: advertise_host is required when listening on %q", ErrBadOptions, o.Listen)
		}
	}
	s := &Server{
		opts:      o,
		log:       o.Logger.With("component", "netio/msrp"),
		epoch:     time.Now(),
		sessions:  newSessionTable(),
		perIP:     make(map[netip.Addr]int),
		pokeCh:    make(chan struct{}, 1),
		stopCh:    make(chan struct{}),
		runDone:   make(chan struct{}),
		timerDone: make(chan struct{}),
		dialSem:   make(chan struct{}, o.MaxDials),
		streams:   make(map[net.Conn]struct{}),
		hist:      newHists(),
	}
	s.baseCtx, s.baseCancel = context.WithCancel(context.Background())
	minTO := min(o.BindTimeout, o.TransferTimeout, o.IdleTimeout, lingerTimeout)
	s.tick = min(max(minTO/8, time.Millisecond), 10*time.Millisecond)
	gran := min(max(minTO/8, s.tick), 250*time.Millisecond)
	s.wheel = newWheel(gran, s.mono())
	return s, nil
}

// mono is the server's monotonic clock in nanoseconds.
func (s *Server) mono() int64 { return int64(time.Since(s.epoch)) }

// timeUntil is the duration from now to deadline (both s.mono()), at least 1 ns.
func timeUntil(now, deadline int64) time.Duration { return time.Duration(max(deadline-now, 1)) }

// Start binds the listener, starts the event loops and returns once the server accepts connections (the
// bound port is then known to Addr and PathURI). The engine runs until Stop; if it stops on its own (gnet
// shuts an engine down when accept fails, e.g. EMFILE) it is restarted on the same port with backoff.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.stopped:
		s.mu.Unlock()
		return ErrStopped
	case s.started:
		s.mu.Unlock()
		return ErrStarted
	}
	s.started = true
	s.mu.Unlock()

	go s.timerLoop()
	booted := make(chan error, 1)
	go s.supervise(booted)
	select {
	case err := <-booted:
		if err != nil {
			<-s.runDone
			s.markStopped()
			return fmt.Errorf("netio/msrp: start %s: %w", s.opts.Listen, err)
		}
		if err := s.startTLS(); err != nil {
			_ = s.Stop(context.Background())
			return fmt.Errorf("netio/msrp: start msrps %s: %w", s.opts.TLSListen, err)
		}
		return nil
	case <-ctx.Done():
		_ = s.Stop(context.Background())
		return ctx.Err()
	}
}

// startTLS opens the msrps listener when TLSListen is set.
func (s *Server) startTLS() error {
	if s.opts.TLSListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.TLSListen)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		_ = ln.Close()
		return ErrStopped
	}
	s.tlsLn = ln
	s.tlsPort = s.opts.TLSAdvertisePort
	if s.tlsPort == 0 {
		s.tlsPort = ln.Addr().(*net.TCPAddr).Port
	}
	s.streamWG.Add(1)
	go s.serveTLS(ln)
	return nil
}

func (s *Server) markStopped() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.baseCancel()
	if !s.stopping.Swap(true) {
		close(s.stopCh)
	}
}

// supervise runs the engine and restarts it until Stop. booted receives the outcome of the first boot.
func (s *Server) supervise(booted chan<- error) {
	defer close(s.runDone)
	addr, reserved, err := reservePort(s.opts.Listen, s.opts.Loops)
	if err != nil {
		booted <- err
		return
	}
	backoff := 50 * time.Millisecond
	first := true
	for {
		h := &handler{s: s, reserved: reserved}
		s.curH.Store(h)
		if len(s.opts.CPUs) > 0 {
			// A new pinner per engine run, so a thread id the kernel reuses after a restart is never
			// taken for a pinned loop thread.
			if p, err := cpu.NewLoopPinner(s.opts.CPUs); err != nil {
				s.log.Warn("msrp loops run unpinned", "error", err)
			} else {
				h.pin = p
			}
		}
		if first {
			h.booted = booted
		}
		began := time.Now()
		err := gnet.Run(h, "tcp://"+addr, s.gnetOptions()...)
		h.closeReserved() // if the engine never booted
		reserved = -1
		isBooted := h.didBoot.Load()
		if first {
			if !isBooted {
				if err == nil {
					err = ErrStopped
				}
				booted <- err
				return
			}
			first = false
		}
		if s.stopping.Load() {
			return
		}
		// After the first boot, rebind the port that was advertised.
		s.mu.Lock()
		addr = net.JoinHostPort(s.boundHost, strconv.Itoa(s.boundPort))
		s.mu.Unlock()
		if time.Since(began) > time.Minute {
			backoff = 50 * time.Millisecond
		}
		s.st.engineRestarts.Add(1)
		s.log.Error("msrp engine stopped unexpectedly, restarting", "error", err, "laddr", addr,
			"backoff_seconds", backoff.Seconds())
		select {
		case <-time.After(backoff):
		case <-s.stopCh:
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// gnetOptions: SO_REUSEPORT gives every event loop its own listening socket, so a loop accepts its own
// connections. Without it gnet runs one more reactor that accepts and hands every connection to a loop
// through the loop's eventfd: one more thread and two more wake-ups per connection, which costs more
// CPU per delivery than everything Herald does in user space (bench/results/history/msrp-plane.md).
func (s *Server) gnetOptions() []gnet.Option {
	return []gnet.Option{
		gnet.WithNumEventLoop(s.opts.Loops),
		gnet.WithLockOSThread(len(s.opts.CPUs) > 0),
		gnet.WithReuseAddr(true),
		gnet.WithReusePort(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log}),
	}
}

// Stop shuts the engine down: connections are closed and every session not yet reported ends Aborted.
// It returns when the event loops have exited or ctx is done.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	wasStarted := s.started
	s.stopped = true
	s.mu.Unlock()
	if !s.stopping.Swap(true) {
		close(s.stopCh)
	}
	s.baseCancel()
	s.mu.Lock()
	ln := s.tlsLn
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	s.closeStreams()
	if wasStarted {
		s.mu.Lock()
		eng, hasEng := s.eng, s.hasEng
		s.mu.Unlock()
		if hasEng {
			// Engine.Stop polls every 500 ms for the end; runDone says it sooner.
			done, cancel := context.WithCancel(context.Background())
			cancel()
			_ = eng.Stop(done)
		} // else: OnBoot sees stopping and shuts the engine down; supervise does not restart it
		dialsDone := make(chan struct{})
		go func() { s.dials.Wait(); s.streamWG.Wait(); close(dialsDone) }()
		for _, ch := range []chan struct{}{s.runDone, s.timerDone, dialsDone} {
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	for _, e := range s.sessions.all(nil) {
		s.finish(e, push.Result{Outcome: push.Aborted, Err: errShutdown})
	}
	return nil
}

// Open registers sess so that a terminal can bind to it until sess.Expires.
func (s *Server) Open(sess *push.Session) error {
	if s.stopping.Load() {
		return ErrStopped
	}
	if sess == nil || sess.ID == "" || sess.Page == nil || (sess.Done == nil && sess.Notify == nil) || sess.Expires.IsZero() {
		return ErrBadSession
	}
	if !sess.Page.Sanitized() { // only pages core/content sanitised reach a terminal
		return fmt.Errorf("%w: page %s not built by core/content", ErrBadSession, sess.Page.Name)
	}
	if sess.Secure && s.opts.TLSListen == "" {
		return ErrNoTLS
	}
	e := &entry{sess: sess, expires: monoSince(s.epoch, sess.Expires)}
	e.tn.e = e
	e.accept.Store(&sess.Accept)
	if err := s.sessions.add(e, s.opts.MaxSessions); err != nil {
		return err
	}
	s.wheel.schedule(&e.tn, e.expires)
	if s.stopping.Load() { // Stop may have swept the table between the check above and add
		s.finish(e, push.Result{Outcome: push.Aborted, Err: errShutdown})
	}
	return nil
}

// Close ends session id: an in-flight transfer is aborted with '#' on the connection's loop, the
// connection is closed and Aborted is reported unless a result was reported already. For a Forkable
// session every transfer in flight, the forked bindings' too, is aborted so, and the session leaves
// the table at once (fork.go). Safe to call twice and from any goroutine.
func (s *Server) Close(id string) {
	e := s.sessions.get([]byte(id))
	if e == nil {
		return
	}
	e.mu.Lock()
	e.closed = true
	var spare [4]*connState
	conns, first := spare[:0], false
	for cs := e.conn; cs != nil; cs = cs.nextBound { // one, unless Forkable (fork.go)
		conns = append(conns, cs)
		first = first || !cs.fork // fork is set before the connection is listed, and never changes
	}
	e.mu.Unlock()
	for _, cs := range conns {
		// An error: the engine is gone, and the connection with it; a forked binding's end was
		// counted by its onClosed, the first's is reported here.
		if err := s.abortOn(cs, e); err != nil && !cs.fork {
			first = false
		}
	}
	switch {
	case !first:
		s.finish(e, push.Result{Outcome: push.Aborted, Err: errClosed})
	case e.sess.Forkable:
		s.retire(e) // the abort, queued on the loop, reports Aborted
	}
}

// abortOn queues cs.abort(e) on the connection's owner.
func (s *Server) abortOn(cs *connState, e *entry) error {
	return cs.w.execute(gnet.RunnableFunc(func(context.Context) error {
		cs.guard(func() { cs.abort(e) })
		return nil
	}))
}

// SetAccept records the terminal's a=accept-types for session id (push.AcceptSetter): it decides the
// page variant if it arrives before the bind and is ignored afterwards. Safe from any goroutine; accept is
// copied. A Forkable session may be answered by several terminals (a forked INVITE, each answer in its
// own early dialog) and the plane cannot tell which answer a binding comes from: it keeps the types
// every answer so far lists, so that no device gets a variant it did not list (RFC 4975 §8.6). The
// call sets them from one goroutine.
func (s *Server) SetAccept(id string, accept []string) {
	e := s.sessions.get([]byte(id))
	if e == nil {
		return
	}
	cp := append([]string(nil), accept...)
	if prev := e.accept.Load(); e.sess.Forkable && prev != &e.sess.Accept { // an answer set it before
		cp = slices.DeleteFunc(cp, func(a string) bool {
			return !slices.ContainsFunc(*prev, func(p string) bool { return strings.EqualFold(p, a) })
		})
	}
	e.accept.Store(&cp)
}

// PathURI is the a=path URI for session id: msrp://AdvertiseHost:port/id;tcp, or
// msrps://AdvertiseHost:tlsport/id;tcp when the session was opened with Secure (the scheme matches the
// socket the terminal must use).
func (s *Server) PathURI(id string) string {
	host, port := s.Addr()
	secure := false
	if e := s.sessions.get([]byte(id)); e != nil && e.sess.Secure {
		secure = true
		s.mu.Lock()
		port = s.tlsPort
		s.mu.Unlock()
	}
	return msrp.URI{Secure: secure, Host: host, Port: port, SessionID: id, Transport: "tcp"}.String()
}

// TLSAddr is the host and port of the msrps listener as advertised (0 when there is none); known once
// Start has returned.
func (s *Server) TLSAddr() (host string, port int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.advHost, s.tlsPort
}

// Addr is the host and port to advertise in c= and m= (CEMA: what terminals connect to). The port is
// known once Start has returned.
func (s *Server) Addr() (host string, port int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.advHost, s.advPort
}

// finish ends e: it retires e (no more bindings, out of the table, its timer killed) and reports res
// unless a result was reported already. It is a session's end: its one transfer's result (not
// Forkable), Stop, an unbound deadline, a failed dial, Close with nothing bound. A Forkable session's
// first transfer only reports (fork.go).
func (s *Server) finish(e *entry, res push.Result) bool {
	s.retire(e)
	return s.report(e, res)
}

// report hands res to the session exactly once and counts the outcome.
func (s *Server) report(e *entry, res push.Result) bool {
	if !e.done.CompareAndSwap(false, true) {
		return false
	}
	res.SessionID = e.sess.ID
	s.st.outcome(res.Outcome)
	if !e.sess.Report(res) {
		s.log.Warn("push session result dropped: Done channel full", "call_id", e.sess.CallID)
	}
	return true
}

// retire refuses e's further bindings, removes it from the table and kills its timer, once.
func (s *Server) retire(e *entry) {
	e.mu.Lock()
	was := e.retired
	e.retired, e.closed = true, true
	e.mu.Unlock()
	if was {
		return
	}
	s.sessions.remove(e)
	s.wheel.kill(&e.tn)
}

// admit counts a new connection from ip against MaxConns and MaxConnsPerIP.
func (s *Server) admit(ip netip.Addr) bool {
	ip = perIPKey(ip)
	s.limMu.Lock()
	defer s.limMu.Unlock()
	if s.connCount.Load() >= int64(s.opts.MaxConns) || s.perIP[ip] >= s.opts.MaxConnsPerIP {
		return false
	}
	s.perIP[ip]++
	s.connCount.Add(1)
	return true
}

func (s *Server) release(ip netip.Addr) {
	ip = perIPKey(ip)
	s.limMu.Lock()
	if n := s.perIP[ip] - 1; n > 0 {
		s.perIP[ip] = n
	} else {
		delete(s.perIP, ip)
	}
	s.connCount.Add(-1)
	s.limMu.Unlock()
}

// perIPKey is what MaxConnsPerIP counts by: an IPv4 address, or an IPv6 address's /64. A 3GPP
// terminal gets a /64 of its own per PDN connection (TS 23.401 §5.3.1.2.2) and may use any address
// in it, so counting whole IPv6 addresses would let one terminal open MaxConnsPerIP connections per
// address it picks.
func perIPKey(ip netip.Addr) netip.Addr {
	if !ip.Is6() || ip.Is4In6() {
		return ip
	}
	p, _ := ip.Prefix(64)
	return p.Addr()
}

// handler is the gnet.EventHandler of one engine run.
type handler struct {
	gnet.BuiltinEventEngine
	s        *Server
	booted   chan<- error // first run only: told when the listener is bound
	didBoot  atomic.Bool
	reserved int // fd holding the port until every loop has bound it (reservePort), or -1
	resMu    sync.Mutex
	pin      *cpu.LoopPinner // nil: loops float
}

// closeReserved releases the port reservation once, from OnBoot or after the run.
func (h *handler) closeReserved() {
	h.resMu.Lock()
	defer h.resMu.Unlock()
	if h.reserved >= 0 {
		_ = unix.Close(h.reserved)
		h.reserved = -1
	}
}

// OnBoot learns the bound port from a dup of the listening socket (gnet has bound it before OnBoot).
func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	s := h.s
	h.closeReserved() // loop 0's listener holds the port now; gnet binds the other loops' after OnBoot (SO_REUSEPORT)
	fd, err := eng.Dup()
	if err != nil {
		s.log.Error("msrp engine: dup listener", "error", err)
		return gnet.Shutdown
	}
	sa, err := unix.Getsockname(fd)
	_ = unix.Close(fd)
	if err != nil {
		s.log.Error("msrp engine: getsockname", "error", err)
		return gnet.Shutdown
	}
	var ip netip.Addr
	var port int
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ip, port = netip.AddrFrom4(a.Addr), a.Port
	case *unix.SockaddrInet6:
		ip, port = netip.AddrFrom16(a.Addr).Unmap(), a.Port
	default:
		s.log.Error("msrp engine: unexpected listener address", "laddr", fmt.Sprint(sa))
		return gnet.Shutdown
	}
	s.mu.Lock()
	s.boundHost, s.boundPort = ip.String(), port
	s.eng, s.hasEng = eng, true
	s.advHost, s.advPort = s.opts.AdvertiseHost, s.opts.AdvertisePort
	if s.advHost == "" {
		s.advHost = s.boundHost
	}
	if s.advPort == 0 {
		s.advPort = port
	}
	s.mu.Unlock()
	if s.stopping.Load() { // Stop ran before this engine was known to it
		return gnet.Shutdown
	}
	h.didBoot.Store(true)
	if h.booted != nil {
		h.booted <- nil
	}
	s.log.Info("msrp plane listening", "laddr", net.JoinHostPort(ip.String(), strconv.Itoa(port)),
		"loops", s.opts.Loops)
	return gnet.None
}

// reservePort resolves port 0 before gnet binds one listening socket per loop with SO_REUSEPORT (each
// would otherwise get its own random port): it binds a socket with SO_REUSEPORT, never listening on it,
// so it receives no connection, and returns its port and fd; the caller closes fd once the loops have
// bound. With a fixed port or one loop it returns listen unchanged and fd -1.
func reservePort(listen string, loops int) (addr string, fd int, err error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port != "0" || loops <= 1 {
		return listen, -1, err
	}
	ta, err := net.ResolveTCPAddr("tcp", listen)
	if err != nil {
		return "", -1, err
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		a := &unix.SockaddrInet4{}
		if ip4 != nil {
			copy(a.Addr[:], ip4)
		}
		sa = a
	} else {
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{}
		copy(a.Addr[:], ta.IP.To16())
		sa = a
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", -1, err
	}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	var got unix.Sockaddr
	if err == nil {
		got, err = unix.Getsockname(fd)
	}
	if err != nil {
		_ = unix.Close(fd)
		return "", -1, err
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		port = strconv.Itoa(a.Port)
	case *unix.SockaddrInet6:
		port = strconv.Itoa(a.Port)
	}
	return net.JoinHostPort(host, port), fd, nil
}

// currentHandler is the event handler of the engine run in progress, nil before the first.
func (s *Server) currentHandler() *handler { return s.curH.Load() }
