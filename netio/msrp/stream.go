package msrp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/safe"
)

// streamConn is the goroutine-per-connection transport for what gnet cannot carry: msrps (crypto/tls,
// which gnet lacks) and connections Herald dials itself (Connect). It feeds the same connState logic as
// gnet connections: one reader goroutine per connection reads into a buffer and calls connState.input
// while holding mu, which makes it the owner; timers and Close run their checks on short goroutines
// that take mu (execute). Writes are synchronous under mu with a deadline, so outbound() is always 0 and
// a slow reader blocks its own connection's writer instead of growing a buffer.
type streamConn struct {
	s    *Server
	nc   net.Conn // *tls.Conn or *net.TCPConn
	mu   sync.Mutex
	cs   *connState // set before the reader starts; guarded by mu afterwards
	gone atomic.Bool
	vbuf []byte // TLS: writev flattened into one record write
}

// streamWriteTimeout bounds one blocking write of a stream connection.
func (s *Server) streamWriteTimeout() time.Duration {
	return min(s.opts.TransferTimeout, 10*time.Second)
}

func (sc *streamConn) write(b []byte) {
	_ = sc.nc.SetWriteDeadline(time.Now().Add(sc.s.streamWriteTimeout()))
	if _, err := sc.nc.Write(b); err != nil {
		sc.fail(err)
	}
}

func (sc *streamConn) writev(v [][]byte, _ []unix.Iovec) {
	_ = sc.nc.SetWriteDeadline(time.Now().Add(sc.s.streamWriteTimeout()))
	var err error
	if _, isTLS := sc.nc.(*tls.Conn); isTLS {
		// net.Buffers would make one TLS record per slice: flatten into one write instead.
		sc.vbuf = sc.vbuf[:0]
		for _, b := range v {
			sc.vbuf = append(sc.vbuf, b...)
		}
		_, err = sc.nc.Write(sc.vbuf)
		if cap(sc.vbuf) > 64<<10 {
			sc.vbuf = nil
		}
	} else {
		nb := net.Buffers(v)
		_, err = nb.WriteTo(sc.nc) // writev
	}
	if err != nil {
		sc.fail(err)
	}
}

func (sc *streamConn) outbound() int { return 0 }

// unacked is the kernel send queue of the TCP socket under the stream (under TLS: its records).
func (sc *streamConn) unacked() int {
	n := -1
	withFd(sc.nc, func(fd int) { n = sockUnacked(fd) })
	return n
}

// withFd runs f with the descriptor of the TCP socket under nc (a *net.TCPConn, or a *tls.Conn over
// one); nothing otherwise.
func withFd(nc net.Conn, f func(fd int)) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	if rc, err := tc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { f(int(fd)) })
	}
}

// discardInput: the reader goroutine reads and discards continuously while the connection lingers.
func (sc *streamConn) discardInput() {}

func (sc *streamConn) shutdownWrite() {
	switch c := sc.nc.(type) {
	case *tls.Conn:
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.CloseWrite() // close_notify, then SHUT_WR
	case *net.TCPConn:
		_ = c.CloseWrite()
	}
}

// closeNow closes the socket and runs onClosed; owner only.
func (sc *streamConn) closeNow() { sc.fail(nil) }

// fail closes after a transport error (nil: Herald closes); owner only.
func (sc *streamConn) fail(err error) {
	if sc.gone.Swap(true) {
		return
	}
	_ = sc.nc.Close()
	if !sc.cs.closed {
		sc.cs.onClosed(err)
	}
}

func (sc *streamConn) wake() {
	_ = sc.execute(gnet.RunnableFunc(func(context.Context) error {
		sc.cs.guard(sc.cs.afterInput)
		return nil
	}))
}

// execute runs r as the owner on a short goroutine; it fails once the connection or the server is gone.
func (sc *streamConn) execute(r gnet.Runnable) error {
	if sc.gone.Load() {
		return net.ErrClosed
	}
	s := sc.s
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return ErrStopped
	}
	s.streamWG.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.streamWG.Done()
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if !sc.cs.closed {
			_ = r.Run(context.Background())
		}
	}()
	return nil
}

// input is cs.input for the reader goroutine (holding mu), with the recovery net: a panic in the frame
// handling is reported, fails the session and closes this connection only.
func (sc *streamConn) input(buf []byte) (used int) {
	cs := sc.cs
	defer func() {
		if r := recover(); r != nil {
			safe.Recovered(safe.MSRP, sc.s.log, r)
			cs.abandon()
			sc.fail(nil)
			used = len(buf)
		}
	}()
	hookPanic(sc.s, atStreamRead)
	return cs.input(buf)
}

// readLoop is the connection's reader: it owns the connection while it handles what it read.
func (sc *streamConn) readLoop() {
	cs := sc.cs
	maxBuf := sc.s.opts.MaxHeaderBytes + sc.s.opts.MaxChunkBytes + 1024 // the parser rejects larger frames
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxBuf { // cannot happen: the parser rejects larger frames first; never spin
				sc.mu.Lock()
				if !cs.closed {
					cs.end(push.Result{Outcome: push.Failed, Bytes: cs.x.sent, Err: errProtocol})
					sc.fail(nil)
				}
				sc.mu.Unlock()
				return
			}
			nb := make([]byte, len(buf), min(2*cap(buf), maxBuf))
			copy(nb, buf)
			buf = nb
		}
		n, err := sc.nc.Read(buf[len(buf):cap(buf)])
		sc.mu.Lock()
		if cs.closed {
			sc.mu.Unlock()
			return
		}
		if n > 0 {
			buf = buf[:len(buf)+n]
			cs.lastRead.Store(sc.s.mono())
			sc.s.st.bytesReceived.Add(int64(n))
			used := sc.input(buf)
			if cs.closeReady && !cs.closed {
				sc.fail(nil)
			}
			if !cs.closed {
				buf = buf[:copy(buf, buf[used:])]
				if cap(buf) > 4096 && len(buf) <= 4096 { // do not keep a large buffer once drained
					buf = append(make([]byte, 0, 4096), buf...)
				}
			}
		}
		if err != nil && !cs.closed {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			sc.fail(err)
		}
		sc.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// trackStream registers a stream connection's socket so that Stop closes it, and counts the goroutine
// that will serve it; false once stopped.
func (s *Server) trackStream(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.streamWG.Add(1)
	s.streams[nc] = struct{}{}
	return true
}

// closeStreams closes every stream connection's socket (Stop): their goroutines then report and exit.
func (s *Server) closeStreams() {
	s.mu.Lock()
	list := make([]net.Conn, 0, len(s.streams))
	for nc := range s.streams {
		list = append(list, nc)
	}
	s.mu.Unlock()
	for _, nc := range list {
		_ = nc.Close()
	}
}

// serveStream is the goroutine trackStream counted for an admitted connection: the TLS handshake if any,
// then setup under the owner lock (the active bind) and the read loop.
func (s *Server) serveStream(nc net.Conn, ip netip.Addr, secure bool, setup func(cs *connState) bool) {
	admitted := true // the admission is this goroutine's until a connState owns it
	defer func() {
		// The recovery net (recover.go) for the handshake phase; after it, guard and sc.input recover.
		if r := recover(); safe.Recovered(safe.MSRP, s.log, r) {
			_ = nc.Close()
			if admitted {
				s.release(ip)
			}
		}
		s.mu.Lock()
		delete(s.streams, nc)
		s.mu.Unlock()
		s.streamWG.Done()
	}()
	hookPanic(s, atStreamStart)
	withFd(nc, sockLowat)
	if tc, ok := nc.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(s.baseCtx, s.opts.BindTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			s.st.tlsHandshakeFailed.Add(1)
			s.log.Debug("msrps handshake failed", "error", err, "raddr", nc.RemoteAddr().String())
			_ = nc.Close()
			admitted = false
			s.release(ip)
			return
		}
	}
	sc := &streamConn{s: s, nc: nc}
	sc.mu.Lock()
	admitted = false
	cs := s.newConnState(sc, nil, ip, secure)
	sc.cs = cs
	cs.guard(func() {
		if setup != nil && !setup(cs) {
			sc.fail(nil)
		}
		if !cs.closed && cs.out != nil {
			cs.flushOut()
		}
	})
	closed := cs.closed
	sc.mu.Unlock()
	if !closed {
		sc.readLoop()
	}
}

// serveTLS accepts msrps connections until the listener is closed (Stop). Accept errors such as EMFILE
// back off and continue: they never stop the listener.
func (s *Server) serveTLS(ln net.Listener) {
	defer s.streamWG.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.st.acceptErrors.Add(1)
			s.log.Warn("msrps accept", "error", err, "backoff_seconds", backoff.Seconds())
			select {
			case <-time.After(backoff):
			case <-s.stopCh:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		ip := remoteIP(nc.RemoteAddr())
		if !s.admit(ip) {
			s.st.refusedLimit.Add(1)
			_ = nc.Close()
			continue
		}
		tc := tls.Server(nc, s.opts.TLSConfig)
		if !s.trackStream(tc) {
			_ = nc.Close()
			s.release(ip)
			return
		}
		go s.serveStream(tc, ip, true, nil)
	}
}
