package msrp

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// openForkable registers a Forkable session for page on s: the caller card's offer in an INVITE that
// a proxy forks to each of the callee's devices (RFC 3261 §16.6).
func openForkable(t testing.TB, s *Server, page *content.Page, ttl time.Duration) *push.Session {
	t.Helper()
	sess := push.NewSession("call-"+push.NewID(6), push.CallerCard, page, ttl)
	sess.Forkable = true
	if err := s.Open(sess); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return sess
}

// bindOK sends the acquisition request for path and checks its 200.
func (c *client) bindOK(path string) {
	c.t.Helper()
	tid := c.bind(path)
	if f := c.mustNext(2 * time.Second); f.TID != tid || f.Status != 200 {
		c.t.Fatalf("bind answer %+v, want 200", f)
	}
}

// bindRefused sends the acquisition request for path and checks that it is answered code.
func (c *client) bindRefused(path string, code int) {
	c.t.Helper()
	tid := c.bind(path)
	if f := c.mustNext(2 * time.Second); f.TID != tid || f.Status != code {
		c.t.Fatalf("bind answer %+v, want %d", f, code)
	}
}

// confirm sends the success REPORT for the whole page r.
func (c *client) confirm(path string, r received) {
	n := int64(len(r.body))
	c.report(path, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
}

// noResult checks that sess has no further result.
func noResult(t *testing.T, sess *push.Session) {
	t.Helper()
	select {
	case r := <-sess.Done:
		t.Fatalf("a further result %+v: the call hears one", r)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestForkedBindsEachGetThePage is the forked callee of the bug: the caller card's one offer reached
// several devices, each bound with its own acquisition request. Each gets its own transfer of the whole
// page, a device binding while another's transfer is in flight or after the first's result; the
// session reports the first binding's result only, and stays open for more until Close.
func TestForkedBindsEachGetThePage(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 9000)
	sess := openForkable(t, s, page, 10*time.Second)
	path := s.PathURI(sess.ID)

	c1, c2 := dial(t, s), dial(t, s)
	c1.bindOK(path)
	c2.bindOK(path) // while c1's transfer is in flight: before the fix, 506
	r1, r2 := c1.receivePage(2*time.Second, true), c2.receivePage(2*time.Second, true)
	if !bytes.Equal(r1.body, page.Body) || !bytes.Equal(r2.body, page.Body) {
		t.Fatal("a device did not get the whole page")
	}
	if r1.msgID == r2.msgID {
		t.Fatal("the two transfers share a Message-ID: each binding is its own message")
	}
	if len(sess.Bound) != 1 {
		t.Fatalf("Bound signalled %d times, want once (the first binding)", len(sess.Bound))
	}
	c2.confirm(path, r2) // the fork confirms first: still not the session's result
	waitFor(t, "forked delivery counted", func() bool { return s.Stats().ForkedDeliveriesOK == 1 })
	if len(sess.Done) != 0 {
		t.Fatal("a forked binding's delivery was reported to the call")
	}
	c1.confirm(path, r1)
	res := waitResult(t, sess, 2*time.Second)
	if res.Outcome != push.Delivered || res.Bytes != int64(len(page.Body)) || res.SessionID != sess.ID {
		t.Fatalf("result %+v, want the first binding's Delivered", res)
	}
	st := s.Stats()
	if st.Binds != 1 || st.ForkedBinds != 1 || st.DeliveriesOK != 2 || st.ForkedDeliveriesOK != 1 || st.SessionsOpen != 1 {
		t.Fatalf("stats after two devices: %+v", st)
	}

	// A device binding after the first's result (before the fix, 481: the entry left with the result).
	c3 := dial(t, s)
	c3.bindOK(path)
	r3 := c3.receivePage(2*time.Second, true)
	if !bytes.Equal(r3.body, page.Body) {
		t.Fatal("the late device did not get the whole page")
	}
	c3.confirm(path, r3)
	waitFor(t, "second forked delivery", func() bool { return s.Stats().ForkedDeliveriesOK == 2 })
	noResult(t, sess)

	// The call's end closes it: out of the table, no further binding, no further result.
	s.Close(sess.ID)
	if st := s.Stats(); st.SessionsOpen != 0 {
		t.Fatalf("SessionsOpen %d after Close", st.SessionsOpen)
	}
	late := dial(t, s)
	late.bindRefused(path, 481)
	_ = late.conn.Close()
	noResult(t, sess)
	waitFor(t, "connections released", func() bool { return s.Stats().ConnsOpen == 0 })
	if st := s.Stats(); st.ForkedBinds != 2 || st.DeliveriesOK != 3 || st.DeliveriesAborted != 0 || st.BindUnknown481 != 1 {
		t.Fatalf("final stats %+v", st)
	}
}

// TestForkBindCap: at most MaxForkBinds terminals bind one Forkable session, the first included; the
// next gets 506 (RFC 4975 §10) and is counted. A session that is not Forkable still binds one.
func TestForkBindCap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int // Options.MaxForkBinds
		forkable bool
		bound    int // terminals bound before the refusal
	}{
		{"cap 2: the third is refused", 2, true, 2},
		{"default 4: the fifth is refused", 0, true, 4},
		{"cap 1: forking off", 1, true, 1},
		{"not forkable: the second is refused", 0, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			o.MaxForkBinds = tc.max
			s := startServer(t, o)
			page := htmlPage(t, 3000)
			sess := push.NewSession("call-cap", push.CallerCard, page, 10*time.Second)
			sess.Forkable = tc.forkable
			if err := s.Open(sess); err != nil {
				t.Fatal(err)
			}
			path := s.PathURI(sess.ID)
			for range tc.bound {
				dial(t, s).bindOK(path)
			}
			dial(t, s).bindRefused(path, 506)
			st := s.Stats()
			capped, rejected := int64(1), int64(0)
			if !tc.forkable {
				capped, rejected = 0, 1
			}
			if st.Binds != 1 || st.ForkedBinds != int64(tc.bound-1) || st.ForkBindsRefused != capped || st.BindRejected != rejected {
				t.Fatalf("stats %+v: want 1 bound, %d forked, %d refused at the cap, %d rejected", st, tc.bound-1, capped, rejected)
			}
			if len(sess.Bound) != 1 {
				t.Fatalf("Bound signalled %d times", len(sess.Bound))
			}
			s.Close(sess.ID)
			if r := waitResult(t, sess, 2*time.Second); r.Outcome != push.Aborted {
				t.Fatalf("result %+v, want Aborted (closed mid-transfer)", r)
			}
			if st := s.Stats(); st.SessionsOpen != 0 {
				t.Fatalf("SessionsOpen %d after Close", st.SessionsOpen)
			}
		})
	}
}

// readToEnd reads frames until the server closes the connection, after got body bytes read already,
// and returns the body bytes and the last frame read; it answers nothing (the transfer is being
// aborted). For a goroutine: no t.Fatal.
func readToEnd(c *client, got int64, d time.Duration) (int64, *frame, error) {
	var last *frame
	for {
		f, err := c.next(d)
		switch {
		case err == nil:
			if f.Method == "SEND" {
				if f.BR.Start != got+1 {
					return got, f, errors.New("gap in the chunks")
				}
				got += int64(len(f.Body))
			}
			last = f
		case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
			_ = c.conn.Close()
			return got, last, nil
		default:
			return got, last, err
		}
	}
}

// TestCloseAbortsEveryForkedTransfer: Close while two devices' transfers are in flight ends each with a
// chunk flagged '#' (RFC 4975 §7.1) on its own connection, reports Aborted once and retires the
// session at once.
func TestCloseAbortsEveryForkedTransfer(t *testing.T) {
	o := testOptions()
	o.MaxOutbound = 16 << 10
	s := startServer(t, o)
	page := bigPage(8 << 20) // more than the kernel buffers: neither transfer can finish before Close
	sess := openForkable(t, s, page, 10*time.Second)
	path := s.PathURI(sess.ID)
	cs := []*client{dial(t, s, withRcvBuf(8<<10)), dial(t, s, withRcvBuf(8<<10))}
	firsts := make([]int64, len(cs))
	for i, c := range cs {
		c.bindOK(path)
		f := c.mustNext(2 * time.Second)
		if f.Method != "SEND" || f.Flag != msrp.FlagMore {
			t.Fatalf("device %d: first chunk %+v", i, f)
		}
		firsts[i] = int64(len(f.Body))
	}
	type end struct {
		got  int64
		last *frame
		err  error
	}
	ends := make(chan end, len(cs))
	for i, c := range cs {
		go func() {
			got, last, err := readToEnd(c, firsts[i], 5*time.Second)
			ends <- end{got, last, err}
		}()
	}
	s.Close(sess.ID)
	if st := s.Stats(); st.SessionsOpen != 0 {
		t.Fatalf("SessionsOpen %d right after Close, want 0", st.SessionsOpen)
	}
	res := waitResult(t, sess, 2*time.Second)
	if res.Outcome != push.Aborted || res.Bytes <= 0 || res.Bytes >= int64(len(page.Body)) {
		t.Fatalf("result %+v, want Aborted mid-transfer", res)
	}
	for range cs {
		e := <-ends
		if e.err != nil {
			t.Fatalf("reading to the end: %v", e.err)
		}
		if e.last == nil || e.last.Flag != msrp.FlagAbort || e.got >= int64(len(page.Body)) {
			t.Fatalf("a device's transfer ended with %+v after %d bytes, want '#' mid-page", e.last, e.got)
		}
	}
	noResult(t, sess)
	waitFor(t, "both aborts counted, connections released", func() bool {
		st := s.Stats()
		return st.DeliveriesAborted == 2 && st.ConnsOpen == 0
	})
	dial(t, s).bindRefused(path, 481)
}

// TestForkableRetiredAtBindDeadline: without Close, a Forkable session leaves the table at its bind
// deadline: at once when nothing of it is in flight, else with its last transfer. It takes no binding
// after the deadline.
func TestForkableRetiredAtBindDeadline(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 4000)
	const ttl = 500 * time.Millisecond
	idle, busy := openForkable(t, s, page, ttl), openForkable(t, s, page, ttl)
	for _, sess := range []*push.Session{idle, busy} {
		c := dial(t, s)
		c.bindOK(s.PathURI(sess.ID))
		c.confirm(s.PathURI(sess.ID), c.receivePage(2*time.Second, true))
		if r := waitResult(t, sess, 2*time.Second); r.Outcome != push.Delivered {
			t.Fatalf("result %+v", r)
		}
	}
	fork := dial(t, s) // busy's further device: its transfer is in flight at the deadline
	fork.bindOK(s.PathURI(busy.ID))
	r := fork.receivePage(2*time.Second, true)
	if st := s.Stats(); st.SessionsOpen != 2 {
		t.Fatalf("SessionsOpen %d before the deadline, want 2 (delivered, still forkable)", st.SessionsOpen)
	}
	time.Sleep(time.Until(busy.Expires))
	waitFor(t, "the idle session retired at its deadline", func() bool { return s.Stats().SessionsOpen == 1 })
	dial(t, s).bindRefused(s.PathURI(busy.ID), 481) // past the deadline
	time.Sleep(300 * time.Millisecond)              // a wheel granularity: the busy one stays while its transfer is in flight
	if st := s.Stats(); st.SessionsOpen != 1 {
		t.Fatalf("SessionsOpen %d with a forked transfer in flight, want 1", st.SessionsOpen)
	}
	fork.confirm(s.PathURI(busy.ID), r)
	waitFor(t, "the busy session retired with its last transfer", func() bool { return s.Stats().SessionsOpen == 0 })
	noResult(t, idle)
	noResult(t, busy)
	if st := s.Stats(); st.ForkedDeliveriesOK != 1 || st.DeliveriesOK != 3 {
		t.Fatalf("stats %+v", st)
	}
	s.Close(idle.ID) // the call's end after the deadline: nothing left to do
	s.Close(busy.ID)
	noResult(t, busy)
}

// TestUnforkableBindsOnce: a session that is not Forkable behaves as before forking: a second
// binding gets 506 while the first is bound and 481 once the first's result left it.
func TestUnforkableBindsOnce(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 3000)
	sess := openSession(t, s, push.CalleeCard, page, 10*time.Second)
	path := s.PathURI(sess.ID)
	c1 := dial(t, s)
	c1.bindOK(path)
	dial(t, s).bindRefused(path, 506)
	c1.confirm(path, c1.receivePage(2*time.Second, true))
	if r := waitResult(t, sess, 2*time.Second); r.Outcome != push.Delivered {
		t.Fatalf("result %+v", r)
	}
	if st := s.Stats(); st.SessionsOpen != 0 {
		t.Fatalf("SessionsOpen %d after the result, want 0", st.SessionsOpen)
	}
	dial(t, s).bindRefused(path, 481)
	if st := s.Stats(); st.Binds != 1 || st.ForkedBinds != 0 || st.BindRejected != 1 || st.BindUnknown481 != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestForkableActiveBindsOnce: Herald active stays single-binding for a Forkable session: Connect
// after a terminal bound fails as for any session.
func TestForkableActiveBindsOnce(t *testing.T) {
	s := startServer(t, testOptions())
	sess := openForkable(t, s, htmlPage(t, 3000), 10*time.Second)
	dial(t, s).bindOK(s.PathURI(sess.ID))
	err := s.Connect(sess.ID, "msrp://127.0.0.1:9/abc;tcp", "127.0.0.1:9")
	if !errors.Is(err, ErrAlreadyBound) {
		t.Fatalf("Connect on a bound Forkable session: %v, want ErrAlreadyBound", err)
	}
	s.Close(sess.ID)
}

// TestForkedOverTLS: two msrps devices (the stream transport) each fetch a Secure Forkable session's
// page; the call hears the first.
func TestForkedOverTLS(t *testing.T) {
	o, cli := tlsOptions(t)
	s := startServer(t, o)
	page := htmlPage(t, 6000)
	sess := push.NewSession("call-tls-fork", push.CallerCard, page, 10*time.Second)
	sess.Secure, sess.Forkable = true, true
	if err := s.Open(sess); err != nil {
		t.Fatal(err)
	}
	path := s.PathURI(sess.ID)
	c1, c2 := dialTLS(t, s, cli), dialTLS(t, s, cli)
	c1.bindOK(path)
	c2.bindOK(path)
	r1, r2 := c1.receivePage(2*time.Second, true), c2.receivePage(2*time.Second, true)
	if !bytes.Equal(r1.body, page.Body) || !bytes.Equal(r2.body, page.Body) {
		t.Fatal("a device did not get the whole page")
	}
	c1.confirm(path, r1)
	c2.confirm(path, r2)
	if r := waitResult(t, sess, 2*time.Second); r.Outcome != push.Delivered {
		t.Fatalf("result %+v", r)
	}
	waitFor(t, "forked delivery over TLS", func() bool { return s.Stats().ForkedDeliveriesOK == 1 })
	s.Close(sess.ID)
	noResult(t, sess)
	waitFor(t, "released", func() bool { st := s.Stats(); return st.SessionsOpen == 0 && st.ConnsOpen == 0 })
}

// TestForkedAcceptTypes: each forked device answers with its own a=accept-types and the plane cannot
// tell which answer a binding comes from, so every device gets a variant all the answers list: a
// device that listed gzip only never gets zstd because another answered with zstd, and an answer
// listing no compressed type keeps every device on the page itself. A session that is not Forkable
// keeps its one terminal's last answer, as before.
func TestForkedAcceptTypes(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 30000)
	for _, tc := range []struct {
		name     string
		forkable bool
		answers  [][]string
		wantCT   string
	}{
		{"one answer", true, [][]string{{"text/html", content.TypeZstd}}, content.TypeZstd},
		{"zstd then gzip only", true, [][]string{{content.TypeZstd, content.TypeGzip}, {content.TypeGzip}}, content.TypeGzip},
		{"gzip only then zstd", true, [][]string{{content.TypeGzip}, {"TEXT/HTML", content.TypeZstd}}, content.ContentTypeHTML},
		{"both list both", true, [][]string{{content.TypeGzip, content.TypeZstd}, {content.TypeZstd, content.TypeGzip}}, content.TypeZstd},
		{"not forkable: last answer", false, [][]string{{content.TypeGzip}, {content.TypeZstd}}, content.TypeZstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := push.NewSession("call-"+push.NewID(6), push.CallerCard, page, 10*time.Second)
			sess.Forkable = tc.forkable
			if err := s.Open(sess); err != nil {
				t.Fatal(err)
			}
			for _, a := range tc.answers {
				s.SetAccept(sess.ID, a)
			}
			path := s.PathURI(sess.ID)
			devices := 1
			if tc.forkable {
				devices = 2
			}
			for range devices {
				c := dial(t, s)
				c.bindOK(path)
				r := c.receivePage(2*time.Second, true)
				if got := r.frames[0].ContentType; got != tc.wantCT {
					t.Fatalf("Content-Type %q, want %q", got, tc.wantCT)
				}
				if !bytes.Equal(decode(t, tc.wantCT, r.body), page.Body) {
					t.Fatal("decoded body differs from the page")
				}
				c.confirm(path, r)
			}
			s.Close(sess.ID)
		})
	}
	waitFor(t, "sessions released", func() bool { return s.Stats().SessionsOpen == 0 })
}
