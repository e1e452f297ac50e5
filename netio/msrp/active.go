package msrp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/safe"
	"github.com/herald-ims/herald/core/sdp"
)

// Herald active (RFC 6135, a=setup:passive in the terminal's answer): Connect dials the terminal on its
// own goroutine (at most MaxDials dialling at once, never on an event loop) and serves the connection on
// the stream transport (stream.go), which runs the same connState logic as gnet connections: it sends the
// bodiless binding SEND, and its 200 starts the page push exactly as a passive bind would; any other
// answer fails the session with that code.
//
// msrps (a Secure session, whose a=path Herald offered as msrps://): the terminal's path must be msrps
// too (RFC 4975 §6: the scheme is the transport), and the dialled socket becomes a TLS client
// connection (Options.TLSClientConfig, server name = the host of the hop dialled) before it is served
// by serveStream, the handler of accepted msrps connections. The TCP connect and the handshake share
// one deadline, min(BindTimeout, session expiry), and hold the dial slot: a terminal that never
// completes the handshake costs one slot until then. A failed or timed-out handshake, certificate
// verification included, is counted in DialsFailed and TLSHandshakeFailed and fails the session
// (Err wraps errDial, errHandshake and the cause). When the terminal's answer carried a=fingerprint
// (ConnectFingerprint), its certificate is verified by those instead of by a CA (fingerprint.go).
//
// Why not gnet: Engine.Register (dup the dialled socket into a loop) reads the engine's load balancer
// and loops without synchronisation with the engine's start (the race detector reports it) and parks a
// worker of gnet's global goroutine pool for 10 s per call. Active connections are the exception (most
// terminals are active), so a goroutine each is cheap.

// dialing is a Connect in progress.
type dialing struct {
	e          *entry
	peer       []byte            // the terminal's a=path: To-Path of Herald's requests
	local      []byte            // Herald's a=path for the session: From-Path
	serverName string            // msrps: the host of the first URI of peer, for certificate verification
	fps        []sdp.Fingerprint // msrps: the terminal's a=fingerprint; verified instead of the CA chain
}

// Connect makes Herald the active party for session id (push.Connector): it dials addr ("host:port"),
// sends the binding SEND with To-Path peerPath and From-Path PathURI(id) and pushes the page on its 200.
// It returns at once; the outcome, including a failed dial (Failed, Err wrapping the dial error), arrives
// on the session's Done channel.
func (s *Server) Connect(id string, peerPath string, addr string) error {
	return s.ConnectFingerprint(id, peerPath, addr, nil)
}

// ConnectFingerprint is Connect for a terminal whose answer carried a=fingerprint (RFC 8122): for an
// msrps session, Herald verifies the terminal's certificate by fps (fingerprint.go) instead of by
// TLSClientConfig's CA chain; a mismatch, or fingerprints with no supported hash function, fails the
// handshake. Without fps it is Connect. Plain msrp sessions ignore fps (there is no certificate).
func (s *Server) ConnectFingerprint(id string, peerPath string, addr string, fps []sdp.Fingerprint) error {
	if _, err := msrp.SessionIDOf(msrp.LastURI([]byte(peerPath))); err != nil {
		return fmt.Errorf("%w: path %q: %w", ErrBadPeer, peerPath, err)
	}
	hop, err := msrp.ParseURI(msrp.FirstURI([]byte(peerPath))) // the hop Herald connects to
	if err != nil {
		return fmt.Errorf("%w: path %q: %w", ErrBadPeer, peerPath, err)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%w: address %q: %w", ErrBadPeer, addr, err)
	}
	e := s.sessions.get([]byte(id))
	if e == nil {
		return ErrUnknownSession
	}
	if hop.Secure != e.sess.Secure { // RFC 4975 §6: msrps only over TLS, msrp only over TCP
		return fmt.Errorf("%w: path %q: scheme does not match the session's transport (msrps %t)",
			ErrBadPeer, peerPath, e.sess.Secure)
	}
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return ErrUnknownSession
	case e.binds > 0 || e.dialing:
		// Herald active binds one terminal, also for a Forkable session: a second Connect (another
		// forked early dialog's setup:passive answer) fails as for a session that is not Forkable.
		e.mu.Unlock()
		return ErrAlreadyBound
	}
	e.dialing = true
	e.mu.Unlock()
	undo := func() {
		e.mu.Lock()
		e.dialing = false
		e.mu.Unlock()
	}
	select {
	case s.dialSem <- struct{}{}:
	default:
		undo()
		s.st.dialBusy.Add(1)
		return ErrDialBusy
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		<-s.dialSem
		undo()
		return ErrStopped
	}
	s.dials.Add(1)
	s.mu.Unlock()
	d := &dialing{e: e, peer: []byte(peerPath), local: []byte(s.PathURI(id))}
	if hop.Secure {
		d.serverName = hop.Host
		for _, f := range fps { // the caller's slices may be reused once Connect returns
			d.fps = append(d.fps, sdp.Fingerprint{Hash: f.Hash, Value: bytes.Clone(f.Value)})
		}
	}
	go s.dialOut(d, addr)
	return nil
}

// dialOut runs on its own goroutine (one of at most MaxDials while dialling and, for msrps, during the
// TLS handshake), then serves the connection on the stream transport.
func (s *Server) dialOut(d *dialing, addr string) {
	defer s.dials.Done()
	released := false
	releaseSlot := func() {
		if !released {
			released = true
			<-s.dialSem
		}
	}
	defer releaseSlot()
	defer func() { // the recovery net (recover.go): this session fails, the plane goes on
		if r := recover(); safe.Recovered(safe.MSRP, s.log, r) {
			s.finish(d.e, push.Result{Outcome: push.Failed, Err: errInternal})
		}
	}()
	hookPanic(s, atDial)
	// fail reports a connection that could not be established; during Stop (which cancels the dial
	// and the handshake) the session ends Aborted like every other, uncounted.
	fail := func(err error, handshake bool) {
		if s.stopping.Load() {
			s.finish(d.e, push.Result{Outcome: push.Aborted, Err: errors.Join(errShutdown, err)})
			return
		}
		s.st.dialFailed.Add(1)
		if handshake {
			s.st.tlsHandshakeFailed.Add(1)
			err = errors.Join(errHandshake, err)
		}
		s.finish(d.e, push.Result{Outcome: push.Failed, Err: errors.Join(errDial, err)})
	}
	deadline := min(s.mono()+int64(s.opts.BindTimeout), d.e.expires)
	ctx, cancel := context.WithTimeout(s.baseCtx, timeUntil(s.mono(), deadline))
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		fail(err, false)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	secure := d.e.sess.Secure
	if secure {
		tc := tls.Client(conn, s.clientTLS(d.serverName, d.fps))
		// Stop cancels ctx (baseCtx): HandshakeContext then closes the socket and returns.
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			s.log.Debug("msrps handshake failed", "error", err, "raddr", addr)
			fail(err, true)
			return
		}
		conn = tc
	}
	cancel()
	releaseSlot()
	ip := remoteIP(conn.RemoteAddr())
	if !s.admit(ip) {
		s.st.refusedLimit.Add(1)
		_ = conn.Close()
		fail(errors.New("connection limit"), false)
		return
	}
	if !s.trackStream(conn) {
		_ = conn.Close()
		s.release(ip)
		s.finish(d.e, push.Result{Outcome: push.Aborted, Err: errShutdown})
		return
	}
	// An msrps connection's handshake is complete: serveStream's own HandshakeContext returns at once.
	s.serveStream(conn, ip, secure, func(cs *connState) bool { return cs.bindActive(d) })
}

// bindActive binds the connection Herald dialled to its session and queues the binding SEND (OnOpen).
// It reports false when the session ended while dialling (its result was reported then).
func (cs *connState) bindActive(d *dialing) bool {
	e := d.e
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false
	}
	e.conn, e.dialing = cs, false
	e.binds++
	e.mu.Unlock()
	cs.e, cs.peer, cs.local = e, d.peer, d.local
	tid := msrp.NewTID()
	cs.bindTID = []byte(tid)
	h := [...]msrp.Header{
		{Name: []byte("To-Path"), Value: cs.peer},
		{Name: []byte("From-Path"), Value: cs.local},
		{Name: []byte("Message-ID"), Value: []byte(msrp.NewMessageID())},
		{Name: []byte("Byte-Range"), Value: []byte("1-0/0")},
	}
	cs.appendOut(func(b []byte) []byte {
		b = msrp.AppendRequestHead(b, tid, "SEND", h[:], false)
		return msrp.AppendEndLine(b, tid, msrp.FlagEnd, false)
	})
	return true
}
