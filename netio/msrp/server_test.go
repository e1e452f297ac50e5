package msrp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

func TestMain(m *testing.M) {
	// gnet's package-level worker pool starts goroutines at init; everything started later must be gone.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// TestDeliverCallerCard covers claim 1: the callee terminal fetches the caller card. An 18432-byte page
// goes out as 9 chunks of 2048 bytes with exact Byte-Ranges, one Message-ID, a TID per chunk, and the
// terminal's success REPORT yields Delivered.
func TestDeliverCallerCard(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 18432)
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second, "text/html")
	path := s.PathURI(sess.ID)

	c := dial(t, s)
	tid := c.bind(path)
	ok := c.mustNext(2 * time.Second)
	if ok.TID != tid || ok.Status != 200 || ok.ToPath != c.path || ok.FromPath != path {
		t.Fatalf("bind answer = %+v, want 200 with To-Path %s From-Path %s", ok, c.path, path)
	}

	r := c.receivePage(2*time.Second, true)
	if len(r.frames) != 9 {
		t.Fatalf("got %d chunks, want 9", len(r.frames))
	}
	tids := map[string]bool{}
	for i, f := range r.frames {
		want := msrp.ByteRange{Start: int64(i*2048 + 1), End: int64((i + 1) * 2048), Total: 18432}
		if f.BR != want {
			t.Errorf("chunk %d Byte-Range = %+v, want %+v", i, f.BR, want)
		}
		wantFlag := msrp.FlagMore
		if i == 8 {
			wantFlag = msrp.FlagEnd
		}
		if f.Flag != wantFlag {
			t.Errorf("chunk %d flag %q, want %q", i, f.Flag, wantFlag)
		}
		if f.ToPath != c.path || f.FromPath != path {
			t.Errorf("chunk %d paths To=%q From=%q", i, f.ToPath, f.FromPath)
		}
		if f.SuccessReport != "yes" || f.FailureReport != "yes" || f.Disposition != "render" || f.ContentType != content.ContentTypeHTML {
			t.Errorf("chunk %d headers: %+v", i, f)
		}
		if tids[f.TID] {
			t.Errorf("chunk %d reuses TID %s", i, f.TID)
		}
		tids[f.TID] = true
	}
	if !bytes.Equal(r.body, page.Body) {
		t.Fatal("reassembled body differs from the page")
	}
	c.report(path, r.msgID, msrp.ByteRange{Start: 1, End: 18432, Total: 18432}, 200)

	res := waitResult(t, sess, 2*time.Second)
	if res.Outcome != push.Delivered || res.Code != 200 || res.Bytes != 18432 || res.SessionID != sess.ID {
		t.Fatalf("result = %+v, want Delivered 200 18432", res)
	}
	c.expectClosed(2 * time.Second) // Herald half-closes once delivered
	waitFor(t, "connection entries released", func() bool { return s.Stats().ConnsOpen == 0 })
	st := s.Stats()
	if st.Binds != 1 || st.DeliveriesOK != 1 || st.BytesSent != 18432 || st.SessionsOpen != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestDeliverCalleeCardZstd covers claims 1/5: the caller terminal fetches the callee card, and listed
// application/zstd in a=accept-types, so it gets the pre-compressed variant.
func TestDeliverCalleeCardZstd(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 30000)
	sess := openSession(t, s, push.CalleeCard, page, 10*time.Second, "text/html", content.TypeZstd)
	path := s.PathURI(sess.ID)

	c := dial(t, s)
	c.bind(path)
	if f := c.mustNext(2 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	r := c.receivePage(2*time.Second, true)
	if r.frames[0].ContentType != content.TypeZstd {
		t.Fatalf("Content-Type %q, want %s", r.frames[0].ContentType, content.TypeZstd)
	}
	if len(r.body) != len(page.Zstd) || r.frames[0].BR.Total != int64(len(page.Zstd)) {
		t.Fatalf("got %d bytes (total %d), want %d", len(r.body), r.frames[0].BR.Total, len(page.Zstd))
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	plain, err := dec.DecodeAll(r.body, nil)
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	if !bytes.Equal(plain, page.Body) {
		t.Fatal("decompressed body differs from the page")
	}
	n := int64(len(r.body))
	c.report(path, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered || res.Bytes != n {
		t.Fatalf("result = %+v", res)
	}
}

func TestBindUnknownSession481(t *testing.T) {
	s := startServer(t, testOptions())
	c := dial(t, s)
	tid := c.bind(s.PathURI(push.NewID(16)))
	f := c.mustNext(2 * time.Second)
	if f.TID != tid || f.Status != 481 || f.ToPath != c.path {
		t.Fatalf("answer = %+v, want 481 to %s", f, c.path)
	}
	if st := s.Stats(); st.BindUnknown481 != 1 || st.Binds != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestBindRejected(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 4096)
	a := openSession(t, s, push.CallerCard, page, 10*time.Second)
	b := openSession(t, s, push.CallerCard, page, 10*time.Second)

	c1 := dial(t, s)
	c1.bind(s.PathURI(a.ID))
	if f := c1.mustNext(2 * time.Second); f.Status != 200 {
		t.Fatalf("first bind: %+v", f)
	}
	if len(a.Bound) != 1 { // push.Session.Bound: signalled before the 200 left
		t.Fatal("the binding was not signalled on the session's Bound")
	}

	t.Run("second connection for a bound session", func(t *testing.T) {
		c2 := dial(t, s)
		tid := c2.bind(s.PathURI(a.ID))
		if f := c2.mustNext(2 * time.Second); f.TID != tid || f.Status != 506 {
			t.Fatalf("second bind: %+v, want 506 (RFC 4975 §10: session already bound)", f)
		}
	})
	// The first connection still gets its page.
	r := c1.receivePage(2*time.Second, true)
	if !bytes.Equal(r.body, page.Body) {
		t.Fatal("first transfer corrupted")
	}
	t.Run("another session on a bound connection", func(t *testing.T) {
		tid := c1.bind(s.PathURI(b.ID))
		if f := c1.mustNext(2 * time.Second); f.TID != tid || f.Status != 403 {
			t.Fatalf("bind of a second session: %+v, want 403", f)
		}
	})
	c1.report(s.PathURI(a.ID), r.msgID, msrp.ByteRange{Start: 1, End: 4096, Total: 4096}, 200)
	if res := waitResult(t, a, 2*time.Second); res.Outcome != push.Delivered {
		t.Fatalf("result = %+v", res)
	}
	if st := s.Stats(); st.BindRejected != 2 {
		t.Fatalf("BindRejected = %d, want 2", st.BindRejected)
	}
	if len(a.Bound) != 1 || len(b.Bound) != 0 {
		t.Fatalf("Bound signals %d and %d, want 1 (the accepted binding only) and 0", len(a.Bound), len(b.Bound))
	}
}

func TestBindTimeoutClosesConnection(t *testing.T) {
	o := testOptions()
	o.BindTimeout = 200 * time.Millisecond
	s := startServer(t, o)
	c := dial(t, s)
	start := time.Now()
	if fs := c.expectClosed(3 * time.Second); len(fs) != 0 {
		t.Fatalf("unexpected frames %+v", fs)
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 2*time.Second {
		t.Fatalf("closed after %s, want about 200ms", el)
	}
	waitFor(t, "bind timeout counted and conn released", func() bool {
		st := s.Stats()
		return st.BindTimeouts == 1 && st.ConnsOpen == 0
	})
}

func TestSessionExpiresUnbound(t *testing.T) {
	s := startServer(t, testOptions())
	sess := openSession(t, s, push.CallerCard, htmlPage(t, 1000), 100*time.Millisecond)
	res := waitResult(t, sess, 2*time.Second)
	if res.Outcome != push.TimedOut || !errors.Is(res.Err, errBindTimeout) {
		t.Fatalf("result = %+v, want TimedOut", res)
	}
	c := dial(t, s)
	c.bind(s.PathURI(sess.ID))
	if f := c.mustNext(2 * time.Second); f.Status != 481 {
		t.Fatalf("bind after expiry: %+v, want 481", f)
	}
}

func TestMalformedInput(t *testing.T) {
	tests := map[string]struct {
		input      string
		wantStatus int // 0: closed without an answer
		wantStat   func(Stats) int64
	}{
		"garbage start line": {
			input:    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			wantStat: func(s Stats) int64 { return s.FramesMalformed },
		},
		"bare LF": {
			input:      "MSRP abcd1234 SEND\nTo-Path: x\n",
			wantStatus: 0,
			wantStat:   func(s Stats) int64 { return s.FramesMalformed },
		},
		"missing From-Path with tid": {
			input:      "MSRP abcd1234 SEND\r\nTo-Path: msrp://h:1/x;tcp\r\n-------abcd1234$\r\n",
			wantStatus: 400,
			wantStat:   func(s Stats) int64 { return s.FramesMalformed },
		},
		"oversize header": {
			input: "MSRP abcd1234 SEND\r\nTo-Path: msrp://h:1/x;tcp\r\nFrom-Path: msrp://h:2/y;tcp\r\nX-Pad: " +
				strings.Repeat("a", 4000) + "\r\n-------abcd1234$\r\n",
			wantStatus: 413,
			wantStat:   func(s Stats) int64 { return s.FramesTooLarge },
		},
		"oversize chunk": {
			input: "MSRP abcd1234 SEND\r\nTo-Path: msrp://h:1/x;tcp\r\nFrom-Path: msrp://h:2/y;tcp\r\n" +
				"Message-ID: m1\r\nByte-Range: 1-3000/3000\r\nContent-Type: text/plain\r\n\r\n" +
				strings.Repeat("b", 3000) + "\r\n-------abcd1234$\r\n",
			wantStatus: 413,
			wantStat:   func(s Stats) int64 { return s.FramesTooLarge },
		},
	}
	// Both transports run the same frame handling: gnet (TCP) and the goroutine-per-connection msrps one.
	o, cli := tlsOptions(t)
	o.MaxHeaderBytes = 1024
	o.MaxChunkBytes = 2048
	s := startServer(t, o)
	for _, tr := range []string{"tcp", "tls"} {
		for name, tc := range tests {
			t.Run(tr+"/"+name, func(t *testing.T) {
				before := tc.wantStat(s.Stats())
				var c *client
				if tr == "tls" {
					c = dialTLS(t, s, cli)
				} else {
					c = dial(t, s)
				}
				c.write([]byte(tc.input))
				fs := c.expectClosed(2 * time.Second)
				switch {
				case tc.wantStatus == 0 && len(fs) != 0:
					t.Fatalf("got %+v, want a close without answer", fs)
				case tc.wantStatus != 0 && (len(fs) != 1 || fs[0].Status != tc.wantStatus || fs[0].TID != "abcd1234"):
					t.Fatalf("got %+v, want one %d for abcd1234", fs, tc.wantStatus)
				}
				if got := tc.wantStat(s.Stats()); got != before+1 {
					t.Fatalf("counter went %d -> %d, want +1", before, got)
				}
			})
		}
	}
	waitFor(t, "connections released", func() bool { return s.Stats().ConnsOpen == 0 })
}

// TestCloseMidTransfer: the call is answered while the caller card is still being pushed (claim 1):
// Close(id) ends the message with '#', reports Aborted and closes.
func TestCloseMidTransfer(t *testing.T) {
	o := testOptions()
	o.MaxOutbound = 16 << 10
	s := startServer(t, o)
	page := bigPage(8 << 20) // more than the kernel may buffer (tcp_wmem max 4 MiB): the transfer cannot finish before Close
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
	c := dial(t, s, withRcvBuf(8<<10))
	c.bind(s.PathURI(sess.ID))
	if f := c.mustNext(2 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	first := c.mustNext(2 * time.Second)
	if first.Flag != msrp.FlagMore {
		t.Fatalf("first chunk %+v", first.BR)
	}
	s.Close(sess.ID)
	res := waitResult(t, sess, 2*time.Second)
	if res.Outcome != push.Aborted || res.Bytes <= 0 || res.Bytes >= int64(len(page.Body)) {
		t.Fatalf("result = %+v, want Aborted mid-transfer", res)
	}
	got := int64(len(first.Body))
	var last *frame
	for _, f := range c.expectClosed(3 * time.Second) {
		if f.BR.Start != got+1 {
			t.Fatalf("gap: chunk starts at %d after %d bytes", f.BR.Start, got)
		}
		got += int64(len(f.Body))
		last = f
	}
	if last == nil || last.Flag != msrp.FlagAbort {
		t.Fatalf("last chunk %+v, want flag '#'", last)
	}
	if got >= int64(len(page.Body)) || got != res.Bytes {
		t.Fatalf("received %d bytes, reported %d, page %d", got, res.Bytes, len(page.Body))
	}
	s.Close(sess.ID) // twice is harmless
	if st := s.Stats(); st.DeliveriesAborted != 1 {
		t.Fatalf("DeliveriesAborted = %d", st.DeliveriesAborted)
	}
}

func TestCloseUnbound(t *testing.T) {
	s := startServer(t, testOptions())
	sess := openSession(t, s, push.CalleeCard, htmlPage(t, 1000), 10*time.Second)
	s.Close(sess.ID)
	s.Close(sess.ID)
	if res := waitResult(t, sess, time.Second); res.Outcome != push.Aborted {
		t.Fatalf("result = %+v", res)
	}
	select {
	case r := <-sess.Done:
		t.Fatalf("second result %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestSlowReader: a terminal that stops reading pauses the transfer at MaxOutbound; memory stays bounded
// and the transfer completes once the terminal reads again.
func TestSlowReader(t *testing.T) {
	o := testOptions()
	o.MaxOutbound = 64 << 10
	o.TransferTimeout = 20 * time.Second
	s := startServer(t, o)
	page := bigPage(4 << 20)
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
	c := dial(t, s, withRcvBuf(16<<10))
	c.bind(s.PathURI(sess.ID))
	if f := c.mustNext(2 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	// Not reading: the server fills the socket buffers, then its outbound buffer up to the mark, then pauses.
	waitFor(t, "transfer paused at the high-water mark", func() bool { return s.Stats().OutboundPauses > 0 })
	time.Sleep(100 * time.Millisecond)
	st := s.Stats()
	bound := int64(o.MaxOutbound + DefaultChunkSize + 512) // one chunk frame may cross the mark
	if st.MaxOutboundQueued > bound || st.BytesSent >= int64(len(page.Body)) {
		t.Fatalf("outbound backlog %d (bound %d), sent %d of %d", st.MaxOutboundQueued, bound, st.BytesSent, len(page.Body))
	}
	r := c.receivePage(5*time.Second, false)
	if !bytes.Equal(r.body, page.Body) {
		t.Fatal("page corrupted")
	}
	n := int64(len(page.Body))
	c.report(s.PathURI(sess.ID), r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered {
		t.Fatalf("result = %+v", res)
	}
	st = s.Stats()
	t.Logf("4 MiB page, MaxOutbound %d: max backlog %d bytes, %d pauses", o.MaxOutbound, st.MaxOutboundQueued, st.OutboundPauses)
	if st.MaxOutboundQueued > bound {
		t.Fatalf("outbound backlog reached %d, bound %d", st.MaxOutboundQueued, bound)
	}
}

func TestResetMidTransferDisconnected(t *testing.T) {
	o := testOptions()
	o.MaxOutbound = 16 << 10
	s := startServer(t, o)
	sess := openSession(t, s, push.CallerCard, bigPage(2<<20), 10*time.Second)
	c := dial(t, s, withRcvBuf(8<<10))
	c.bind(s.PathURI(sess.ID))
	c.mustNext(2 * time.Second)
	c.mustNext(2 * time.Second) // first chunk
	_ = c.conn.(*net.TCPConn).SetLinger(0)
	_ = c.conn.Close() // RST
	res := waitResult(t, sess, 2*time.Second)
	if res.Outcome != push.Disconnected {
		t.Fatalf("result = %+v, want Disconnected", res)
	}
	waitFor(t, "entries released", func() bool {
		st := s.Stats()
		return st.ConnsOpen == 0 && st.SessionsOpen == 0
	})
}

func TestReportOutcomes(t *testing.T) {
	tests := map[string]struct {
		act      func(c *client, path string, r received)
		want     push.Outcome
		wantCode int
	}{
		"failure report": {
			act: func(c *client, path string, r received) {
				c.report(path, r.msgID, msrp.ByteRange{Start: 1, End: 3000, Total: 3000}, 415)
			},
			want: push.Failed, wantCode: 415,
		},
		"error response to a chunk": {
			act:  func(c *client, _ string, r received) { c.respond(r.last, 413) },
			want: push.Failed, wantCode: 413,
		},
		"unknown message-id then success": {
			act: func(c *client, path string, r received) {
				c.report(path, "nosuchmessage", msrp.ByteRange{Start: 1, End: 3000, Total: 3000}, 200)
				c.report(path, r.msgID, msrp.ByteRange{Start: 1, End: 3000, Total: 3000}, 200)
			},
			want: push.Delivered, wantCode: 200,
		},
	}
	s := startServer(t, testOptions())
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sess := openSession(t, s, push.CallerCard, htmlPage(t, 3000), 10*time.Second)
			c := dial(t, s)
			c.bind(s.PathURI(sess.ID))
			c.mustNext(2 * time.Second)
			r := c.receivePage(2*time.Second, false)
			tc.act(c, s.PathURI(sess.ID), r)
			res := waitResult(t, sess, 2*time.Second)
			if res.Outcome != tc.want || res.Code != tc.wantCode {
				t.Fatalf("result = %+v, want %v %d", res, tc.want, tc.wantCode)
			}
			if fs := c.expectClosed(2 * time.Second); len(fs) != 0 {
				t.Fatalf("REPORTs must not be answered; got %+v", fs)
			}
		})
	}
	if st := s.Stats(); st.ReportsUnknown != 1 {
		t.Fatalf("ReportsUnknown = %d, want 1", st.ReportsUnknown)
	}
}

func TestTransferTimeout(t *testing.T) {
	o := testOptions()
	o.TransferTimeout = 300 * time.Millisecond
	s := startServer(t, o)
	sess := openSession(t, s, push.CallerCard, htmlPage(t, 5000), 10*time.Second)
	c := dial(t, s)
	c.bind(s.PathURI(sess.ID))
	c.mustNext(2 * time.Second)
	c.receivePage(2*time.Second, true) // but never REPORT
	res := waitResult(t, sess, 2*time.Second)
	if res.Outcome != push.TimedOut || !errors.Is(res.Err, errTransferTimeout) {
		t.Fatalf("result = %+v, want TimedOut", res)
	}
	c.expectClosed(2 * time.Second)
}

func TestIdleTimeout(t *testing.T) {
	o := testOptions()
	o.IdleTimeout = 250 * time.Millisecond
	s := startServer(t, o)
	sess := openSession(t, s, push.CallerCard, htmlPage(t, 5000), 10*time.Second)
	c := dial(t, s)
	c.bind(s.PathURI(sess.ID))
	c.mustNext(2 * time.Second)
	c.receivePage(2*time.Second, false) // reads, then falls silent
	res := waitResult(t, sess, 2*time.Second)
	if res.Outcome != push.TimedOut || !errors.Is(res.Err, errIdleTimeout) {
		t.Fatalf("result = %+v, want TimedOut (idle)", res)
	}
	c.expectClosed(2 * time.Second)
	if st := s.Stats(); st.IdleTimeouts != 1 {
		t.Fatalf("IdleTimeouts = %d", st.IdleTimeouts)
	}
}

func TestConnectionLimits(t *testing.T) {
	o := testOptions()
	o.MaxConnsPerIP = 2
	s := startServer(t, o)
	c1, c2 := dial(t, s), dial(t, s)
	waitFor(t, "two connections admitted", func() bool { return s.Stats().ConnsOpen == 2 })
	c3 := dial(t, s)
	if fs := c3.expectClosed(2 * time.Second); len(fs) != 0 {
		t.Fatalf("refused connection got %+v", fs)
	}
	if st := s.Stats(); st.ConnsRefusedLimit != 1 || st.ConnsOpen != 2 {
		t.Fatalf("stats = %+v", st)
	}
	// The admitted ones still work.
	for _, c := range []*client{c1, c2} {
		c.bind(s.PathURI("nosuchsession"))
		if f := c.mustNext(2 * time.Second); f.Status != 481 {
			t.Fatalf("answer %+v", f)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	o := testOptions()
	o.MaxSessions = 1
	s := startServer(t, o)
	page := htmlPage(t, 100)
	sess := openSession(t, s, push.CallerCard, page, time.Minute)
	tests := map[string]struct {
		sess *push.Session
		want error
	}{
		"duplicate": {sess: &push.Session{ID: sess.ID, Page: page, Done: make(chan push.Result, 1), Expires: time.Now().Add(time.Minute)}, want: push.ErrDuplicate},
		"full":      {sess: push.NewSession("c", push.CallerCard, page, time.Minute), want: push.ErrPlaneFull},
		"no page":   {sess: &push.Session{ID: "x", Done: make(chan push.Result, 1)}, want: ErrBadSession},
		"no done":   {sess: &push.Session{ID: "x", Page: page}, want: ErrBadSession},
		"no expiry": {sess: &push.Session{ID: "x", Page: page, Done: make(chan push.Result, 1)}, want: ErrBadSession},
		// A Page literal never passed core/content's sanitiser: refused, whatever its bytes.
		"page not sanitised": {sess: push.NewSession("c", push.CallerCard,
			&content.Page{Name: "x.html", Body: []byte("<!DOCTYPE html><script>alert(1)</script>")}, time.Minute), want: ErrBadSession},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := s.Open(tc.sess); !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	tests := map[string]Options{
		"bad listen":           {Listen: "nope"},
		"negative chunk":       {Listen: "127.0.0.1:0", ChunkSize: -1},
		"negative timeout":     {Listen: "127.0.0.1:0", BindTimeout: -time.Second},
		"wildcard, no adv":     {Listen: "0.0.0.0:0"},
		"tiny header limit":    {Listen: "127.0.0.1:0", MaxHeaderBytes: 10},
		"advertise port range": {Listen: "127.0.0.1:0", AdvertisePort: 70000},
		"negative fork binds":  {Listen: "127.0.0.1:0", MaxForkBinds: -1},
		"fork binds over 255":  {Listen: "127.0.0.1:0", MaxForkBinds: 256},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(o); !errors.Is(err, ErrBadOptions) {
				t.Fatalf("New = %v, want ErrBadOptions", err)
			}
		})
	}
}

func TestAddrAndPathURI(t *testing.T) {
	o := testOptions()
	o.AdvertiseHost = "ps.home1.net"
	o.AdvertisePort = 2855
	s := startServer(t, o)
	host, port := s.Addr()
	if host != "ps.home1.net" || port != 2855 {
		t.Fatalf("Addr = %s:%d", host, port)
	}
	id := push.NewID(16)
	uri := s.PathURI(id)
	if want := "msrp://ps.home1.net:2855/" + id + ";tcp"; uri != want {
		t.Fatalf("PathURI = %q, want %q", uri, want)
	}
	sid, err := msrp.SessionIDOf([]byte(uri))
	if err != nil || string(sid) != id {
		t.Fatalf("SessionIDOf = %q, %v", sid, err)
	}

	s2 := startServer(t, testOptions())
	h2, p2 := s2.Addr()
	if h2 != "127.0.0.1" || p2 == 0 {
		t.Fatalf("bound Addr = %s:%d", h2, p2)
	}
}

func TestStartStopLifecycle(t *testing.T) {
	s, err := New(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start = %v", err)
	}
	sess := openSession(t, s, push.CallerCard, htmlPage(t, 100), time.Minute)
	c := dial(t, s)
	c.bind(s.PathURI(sess.ID))
	c.mustNext(2 * time.Second)
	before := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(before); d > time.Second {
		t.Fatalf("Stop took %s", d)
	}
	if res := waitResult(t, sess, time.Second); res.Outcome != push.Aborted {
		t.Fatalf("result after Stop = %+v", res)
	}
	if err := s.Start(ctx); !errors.Is(err, ErrStopped) {
		t.Fatalf("Start after Stop = %v", err)
	}
	if err := s.Open(push.NewSession("c", push.CallerCard, htmlPage(t, 100), time.Minute)); !errors.Is(err, ErrStopped) {
		t.Fatalf("Open after Stop = %v", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second Stop = %v", err)
	}
}

func TestStartPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := testOptions()
	o.Listen = ln.Addr().String()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		_ = s.Stop(context.Background())
		t.Fatal("Start on a used port succeeded")
	}
}

// waitFor polls cond for up to 3 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAnswersUnreadEndConnection: a terminal that keeps sending requests and reads none of the
// answers (501 to an unknown method, before any bind) cannot grow Herald's outbound buffer past
// MaxOutbound: once that much of its answers waits, the connection ends (counted as
// answers_unread). Before, each 51-byte frame queued a 77-byte answer until the bind timeout: a
// peer writing at loopback speed grew the heap by twice what it sent.
func TestAnswersUnreadEndConnection(t *testing.T) {
	o := testOptions()
	o.MaxOutbound = 16 << 10
	s := startServer(t, o)
	c := dial(t, s, withRcvBuf(4<<10))
	frame := []byte("MSRP abcd XYZ\r\nTo-Path: msrp://a/b;tcp\r\nFrom-Path: msrp://c/d;tcp\r\n-------abcd$\r\n")
	var batch []byte
	for range 256 {
		batch = append(batch, frame...)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 200 && s.Stats().FramesUnread == 0; i++ {
		if _, err := c.conn.Write(batch); err != nil {
			break // Herald ended the connection
		}
	}
	waitFor(t, "the connection ended for its unread answers", func() bool { return s.Stats().FramesUnread == 1 })
	bound := int64(o.MaxOutbound + 4<<10) // the mark, plus the answers of one read's frames
	if st := s.Stats(); st.MaxOutboundQueued > bound {
		t.Fatalf("outbound backlog reached %d, bound %d", st.MaxOutboundQueued, bound)
	}
}

// TestChunkReportsDeliver: a terminal that sends a success REPORT for each chunk (RFC 4975 §7.1.2
// lets a receiver report parts of a message) has the page delivered once its reports cover it
// from the first byte: before, only a REPORT of the whole range counted, and such a phone's page
// timed out as unconfirmed. Chunks arrive in order on one connection and are reported so.
func TestChunkReportsDeliver(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 5000)
	sess := openSession(t, s, push.CalleeCard, page, 5*time.Second)
	c := dial(t, s)
	c.bind(s.PathURI(sess.ID))
	if f := c.mustNext(2 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	r := c.receivePage(2*time.Second, true)
	if len(r.frames) < 3 {
		t.Fatalf("%d chunks, want at least 3", len(r.frames))
	}
	for i, f := range r.frames {
		if i == len(r.frames)-1 {
			select {
			case res := <-sess.Done:
				t.Fatalf("a result before every chunk was reported: %+v", res)
			case <-time.After(50 * time.Millisecond):
			}
		}
		c.report(s.PathURI(sess.ID), r.msgID, f.BR, 200)
	}
	if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered {
		t.Fatalf("result %+v, want delivered", res)
	}
}

// TestFailureReportAnswers (RFC 4975 §7.1.1): a SEND with Failure-Report "no" gets no transaction
// response at all (neither the bind's 200 nor a 481 for an unknown session), one with "partial"
// no 200 but its errors; the page follows the bind all the same.
func TestFailureReportAnswers(t *testing.T) {
	s := startServer(t, testOptions())
	send := func(c *client, toPath, fr string) {
		c.bind(toPath, msrp.Header{Name: []byte("Failure-Report"), Value: []byte(fr)})
	}
	for _, fr := range []string{"no", "partial"} {
		t.Run(fr, func(t *testing.T) {
			unknown := dial(t, s)
			send(unknown, s.PathURI("no-such-session-id-000"), fr)
			f, err := unknown.next(300 * time.Millisecond)
			switch {
			case fr == "no" && err == nil:
				t.Fatalf("Failure-Report no: answered %+v", f)
			case fr == "partial" && (err != nil || f.Status != 481):
				t.Fatalf("Failure-Report partial: %+v %v, want the 481", f, err)
			}
			page := htmlPage(t, 1000)
			sess := openSession(t, s, push.CalleeCard, page, 5*time.Second)
			c := dial(t, s)
			send(c, s.PathURI(sess.ID), fr)
			first := c.mustNext(2 * time.Second)
			if first.Method != "SEND" {
				t.Fatalf("after the bind: %+v, want the page's first chunk (no 200)", first)
			}
		})
	}
}

// TestPerIPLimitIPv6Prefix: MaxConnsPerIP counts an IPv6 source by its /64, a 3GPP terminal's own
// prefix (any address of which it may use), and an IPv4 source by its address: a terminal cycling
// through addresses of its /64 gets no more connections than one address would.
func TestPerIPLimitIPv6Prefix(t *testing.T) {
	o := testOptions()
	o.MaxConnsPerIP = 2
	s := startServer(t, o)
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"2001:db8:1:2::1", true}, {"2001:db8:1:2::ffff", true}, {"2001:db8:1:2:aaaa::3", false}, // one /64
		{"2001:db8:1:3::1", true}, // the next /64
		{"192.0.2.1", true}, {"192.0.2.1", true}, {"192.0.2.1", false}, {"192.0.2.2", true},
	} {
		if got := s.admit(netip.MustParseAddr(c.ip)); got != c.want {
			t.Fatalf("admit %s: %v, want %v", c.ip, got, c.want)
		}
	}
	s.release(netip.MustParseAddr("2001:db8:1:2::ffff"))
	if !s.admit(netip.MustParseAddr("2001:db8:1:2::9")) {
		t.Fatal("a connection of the /64 released: another address of it refused")
	}
}
