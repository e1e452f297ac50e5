package msrp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// Server is the MSRP plane: a gnet engine that accepts terminals' connections, binds them to push
// sessions by session-id and pushes pages. It implements [push.Plane].
type Server struct {
	opts  Options
	log   *slog.Logger
	epoch time.Time

	sessions *sessionTable
	conns    *connTable
	st       counters

	limMu     sync.Mutex // guards perIP and connCount changes (connCount is also read atomically)
	perIP     map[netip.Addr]int
	connCount atomic.Int64

	pausedMu sync.Mutex
	paused   []*connState // connections waiting for their outbound buffer to drain

	tick         time.Duration // gnet ticker period: resumes paused writers
	sweepEvery   int64         // nanoseconds between timeout sweeps
	lastSweep    atomic.Int64
	scratchC     []*connState // ticker goroutine only: paused list spare
	scratchConns []*connState // ticker goroutine only
	scratchE     []*entry     // ticker goroutine only

	stopping atomic.Bool
	stopCh   chan struct{}
	runDone  chan struct{}

	mu        sync.Mutex // guards the lifecycle fields below
	started   bool
	stopped   bool
	boundHost string
	boundPort int
	advHost   string
	advPort   int
}

// lingerTimeout bounds how long a connection Herald has finished with may stay half-closed waiting for the
// terminal to close its side.
const lingerTimeout = 2 * time.Second

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
		opts:     o,
		log:      o.Logger.With("component", "netio/msrp"),
		epoch:    time.Now(),
		sessions: newSessionTable(),
		conns:    newConnTable(),
		perIP:    make(map[netip.Addr]int),
		stopCh:   make(chan struct{}),
		runDone:  make(chan struct{}),
	}
	minTO := min(o.BindTimeout, o.TransferTimeout, o.IdleTimeout, lingerTimeout)
	s.tick = min(max(minTO/8, time.Millisecond), 10*time.Millisecond)
	s.sweepEvery = int64(min(max(minTO/8, s.tick), 250*time.Millisecond))
	return s, nil
}

// mono is the server's monotonic clock in nanoseconds.
func (s *Server) mono() int64 { return int64(time.Since(s.epoch)) }

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

	booted := make(chan error, 1)
	go s.supervise(booted)
	select {
	case err := <-booted:
		if err != nil {
			<-s.runDone
			s.markStopped()
			return fmt.Errorf("netio/msrp: start %s: %w", s.opts.Listen, err)
		}
		return nil
	case <-ctx.Done():
		_ = s.Stop(context.Background())
		return ctx.Err()
	}
}

func (s *Server) markStopped() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	if !s.stopping.Swap(true) {
		close(s.stopCh)
	}
}

// supervise runs the engine and restarts it until Stop. booted receives the outcome of the first boot.
func (s *Server) supervise(booted chan<- error) {
	defer close(s.runDone)
	addr := s.opts.Listen
	backoff := 50 * time.Millisecond
	first := true
	for {
		h := &handler{s: s}
		if first {
			h.booted = booted
		}
		began := time.Now()
		err := gnet.Run(h, "tcp://"+addr, s.gnetOptions()...)
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

func (s *Server) gnetOptions() []gnet.Option {
	return []gnet.Option{
		gnet.WithNumEventLoop(s.opts.Loops),
		gnet.WithReuseAddr(true),
		gnet.WithTicker(true),
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
	if wasStarted {
		// The ticker (OnTick) sees stopping and returns gnet.Shutdown within one tick.
		select {
		case <-s.runDone:
		case <-ctx.Done():
			return ctx.Err()
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
	if sess == nil || sess.ID == "" || sess.Page == nil || sess.Done == nil || sess.Expires.IsZero() {
		return ErrBadSession
	}
	e := &entry{sess: sess, expires: monoSince(s.epoch, sess.Expires)}
	if err := s.sessions.add(e, s.opts.MaxSessions); err != nil {
		return err
	}
	if s.stopping.Load() { // Stop may have swept the table between the check above and add
		s.finish(e, push.Result{Outcome: push.Aborted, Err: errShutdown})
	}
	return nil
}

// Close ends session id: an in-flight transfer is aborted with '#' on the connection's loop, the
// connection is closed and Aborted is reported unless a result was reported already. Safe to call twice
// and from any goroutine.
func (s *Server) Close(id string) {
	e := s.sessions.get([]byte(id))
	if e == nil {
		return
	}
	e.mu.Lock()
	e.closed = true
	cs := e.conn
	e.mu.Unlock()
	if cs == nil {
		s.finish(e, push.Result{Outcome: push.Aborted, Err: errClosed})
		return
	}
	err := cs.c.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		cs.abort(e)
		return nil
	}))
	if err != nil { // the engine is gone, and the connection with it
		s.finish(e, push.Result{Outcome: push.Aborted, Err: errClosed})
	}
}

// PathURI is the a=path URI for session id: msrp://AdvertiseHost:port/id;tcp.
func (s *Server) PathURI(id string) string {
	host, port := s.Addr()
	return msrp.URI{Host: host, Port: port, SessionID: id, Transport: "tcp"}.String()
}

// Addr is the host and port to advertise in c= and m= (CEMA: what terminals connect to). The port is
// known once Start has returned.
func (s *Server) Addr() (host string, port int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.advHost, s.advPort
}

// finish reports res for e exactly once, removes e from the table and counts the outcome.
func (s *Server) finish(e *entry, res push.Result) bool {
	if !e.done.CompareAndSwap(false, true) {
		return false
	}
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	s.sessions.remove(e)
	res.SessionID = e.sess.ID
	s.st.outcome(res.Outcome)
	select {
	case e.sess.Done <- res:
	default:
		s.log.Warn("push session result dropped: Done channel full", "call_id", e.sess.CallID)
	}
	return true
}

// admit counts a new connection from ip against MaxConns and MaxConnsPerIP.
func (s *Server) admit(ip netip.Addr) bool {
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
	s.limMu.Lock()
	if n := s.perIP[ip] - 1; n > 0 {
		s.perIP[ip] = n
	} else {
		delete(s.perIP, ip)
	}
	s.connCount.Add(-1)
	s.limMu.Unlock()
}

// handler is the gnet.EventHandler of one engine run.
type handler struct {
	gnet.BuiltinEventEngine
	s       *Server
	booted  chan<- error // first run only: told when the listener is bound
	didBoot atomic.Bool
}

// OnBoot learns the bound port from a dup of the listening socket (gnet has bound it before OnBoot).
func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	s := h.s
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
	s.advHost, s.advPort = s.opts.AdvertiseHost, s.opts.AdvertisePort
	if s.advHost == "" {
		s.advHost = s.boundHost
	}
	if s.advPort == 0 {
		s.advPort = port
	}
	s.mu.Unlock()
	h.didBoot.Store(true)
	if h.booted != nil {
		h.booted <- nil
	}
	s.log.Info("msrp plane listening", "laddr", net.JoinHostPort(ip.String(), strconv.Itoa(port)),
		"loops", s.opts.Loops)
	return gnet.None
}

// OnTick runs on gnet's ticker goroutine (not on a loop): it resumes paused writers, sweeps timeouts and
// shuts the engine down once Stop was called. It touches connections only through Wake and Execute.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	s := h.s
	if s.stopping.Load() {
		return s.tick, gnet.Shutdown
	}
	if !h.didBoot.Load() {
		return s.tick, gnet.None
	}
	s.resumePaused()
	now := s.mono()
	if now-s.lastSweep.Load() >= s.sweepEvery {
		s.lastSweep.Store(now)
		s.sweep(now)
	}
	return s.tick, gnet.None
}
