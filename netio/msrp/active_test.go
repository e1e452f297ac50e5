package msrp

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// passiveTerminal is a terminal that answered a=setup:passive: it listens and Herald dials it.
type passiveTerminal struct {
	ln   net.Listener
	path string // its a=path
}

func newPassiveTerminal(t *testing.T) *passiveTerminal {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	return &passiveTerminal{ln: ln, path: "msrp://127.0.0.1:" + strconv.Itoa(port) + "/" + push.NewID(8) + ";tcp"}
}

// accept waits for Herald's connection and wraps it as a test client speaking from the terminal's path.
func (p *passiveTerminal) accept(t *testing.T) *client {
	t.Helper()
	_ = p.ln.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
	conn, err := p.ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &client{t: t, conn: conn, path: p.path, rd: make([]byte, 64<<10)}
	c.p.Limits = msrp.Limits{MaxHeaderBytes: 16 << 10, MaxBodyBytes: 1 << 20}
	return c
}

// TestConnectActiveDelivers: the terminal answered a=setup:passive; Herald dials it, sends the bodiless
// binding SEND (To-Path the terminal's path, From-Path Herald's), and on 200 pushes the page.
func TestConnectActiveDelivers(t *testing.T) {
	s := startServer(t, testOptions())
	var _ push.Connector = s
	page := htmlPage(t, 10000)
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
	term := newPassiveTerminal(t)
	if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); !errors.Is(err, ErrAlreadyBound) {
		t.Fatalf("second Connect: %v, want ErrAlreadyBound", err)
	}
	c := term.accept(t)
	f := c.mustNext(2 * time.Second)
	if f.Method != "SEND" || f.ToPath != term.path || f.FromPath != s.PathURI(sess.ID) || len(f.Body) != 0 {
		t.Fatalf("binding SEND %+v", f)
	}
	if len(sess.Bound) != 0 {
		t.Fatal("Bound signalled before the terminal's 200 to the binding SEND")
	}
	c.respond(f, 200)
	r := c.receivePage(2*time.Second, true)
	if len(sess.Bound) != 1 { // signalled before the first chunk went
		t.Fatal("Bound not signalled by the terminal's 200 to the binding SEND")
	}
	if string(r.body) != string(page.Body) {
		t.Fatal("page differs")
	}
	if r.last.ToPath != term.path || r.last.FromPath != s.PathURI(sess.ID) {
		t.Fatalf("chunk paths To %q From %q", r.last.ToPath, r.last.FromPath)
	}
	n := int64(len(r.body))
	c.report(r.last.FromPath, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered || res.Bytes != n {
		t.Fatalf("result %+v", res)
	}
	c.expectClosed(3 * time.Second)
	waitFor(t, "connection released", func() bool { st := s.Stats(); return st.ConnsOpen == 0 && st.Binds == 1 })
	if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("Connect after the result: %v, want ErrUnknownSession", err)
	}
}

// TestConnectFailures: bind refused, dial refused, Close while waiting for the 200, bad arguments, and
// the MaxDials bound; each asserts the result or error, the counter and that nothing is left open.
func TestConnectFailures(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 4000)

	t.Run("bind answered 403", func(t *testing.T) {
		before := s.Stats().BindRejected
		sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
		term := newPassiveTerminal(t)
		if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		c := term.accept(t)
		c.respond(c.mustNext(2*time.Second), 403)
		if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Failed || res.Code != 403 {
			t.Fatalf("result %+v", res)
		}
		c.expectClosed(3 * time.Second)
		if got := s.Stats().BindRejected - before; got != 1 {
			t.Fatalf("BindRejected +%d, want 1", got)
		}
	})
	t.Run("dial refused", func(t *testing.T) {
		before := s.Stats().DialsFailed
		sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
		term := newPassiveTerminal(t)
		addr := term.ln.Addr().String()
		_ = term.ln.Close() // nobody listens there any more
		if err := s.Connect(sess.ID, term.path, addr); err != nil {
			t.Fatal(err)
		}
		res := waitResult(t, sess, 3*time.Second)
		if res.Outcome != push.Failed || !errors.Is(res.Err, errDial) {
			t.Fatalf("result %+v", res)
		}
		if got := s.Stats().DialsFailed - before; got != 1 {
			t.Fatalf("DialsFailed +%d, want 1", got)
		}
	})
	t.Run("close before the 200", func(t *testing.T) {
		sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
		term := newPassiveTerminal(t)
		if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		c := term.accept(t)
		c.mustNext(2 * time.Second) // the binding SEND, never answered
		s.Close(sess.ID)
		if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Aborted {
			t.Fatalf("result %+v", res)
		}
		if fs := c.expectClosed(3 * time.Second); len(fs) != 0 {
			t.Fatalf("frames after Close before any chunk: %+v", fs[0])
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
		for _, tc := range []struct {
			name, id, path, addr string
			want                 error
		}{
			{"unknown session", "nope", "msrp://127.0.0.1:9/x;tcp", "127.0.0.1:9", ErrUnknownSession},
			{"path without session-id", sess.ID, "msrp://127.0.0.1:9;tcp", "127.0.0.1:9", ErrBadPeer},
			{"not an msrp path", sess.ID, "sip:alice@example.com", "127.0.0.1:9", ErrBadPeer},
			{"address without port", sess.ID, "msrp://127.0.0.1:9/x;tcp", "127.0.0.1", ErrBadPeer},
		} {
			if err := s.Connect(tc.id, tc.path, tc.addr); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		s.Close(sess.ID)
		waitResult(t, sess, time.Second)
	})
	t.Run("max dials", func(t *testing.T) {
		before := s.Stats().DialsBusy
		sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
		for range cap(s.dialSem) { // occupy every dial slot
			s.dialSem <- struct{}{}
		}
		err := s.Connect(sess.ID, "msrp://127.0.0.1:9/x;tcp", "127.0.0.1:9")
		for range cap(s.dialSem) {
			<-s.dialSem
		}
		if !errors.Is(err, ErrDialBusy) {
			t.Fatalf("Connect: %v, want ErrDialBusy", err)
		}
		if got := s.Stats().DialsBusy - before; got != 1 {
			t.Fatalf("DialsBusy +%d, want 1", got)
		}
		// The refused Connect left the session bindable.
		c := dial(t, s)
		if _, res := fetch(t, c, sess, s.PathURI(sess.ID)); res.Outcome != push.Delivered {
			t.Fatalf("result %+v", res)
		}
	})
	waitFor(t, "everything released", func() bool {
		st := s.Stats()
		return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.wheel.len() == 0
	})
}
