package msrp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// testOptions are fast, loopback-only defaults for tests.
func testOptions() Options {
	return Options{
		Listen:          "127.0.0.1:0",
		BindTimeout:     2 * time.Second,
		TransferTimeout: 5 * time.Second,
		IdleTimeout:     5 * time.Second,
		Loops:           2,
		Logger:          slog.New(slog.DiscardHandler),
	}
}

// startServer starts a server with opts and stops it when the test ends.
func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// htmlPage builds a valid HTML page of exactly n bytes with varied (not trivially compressible) text.
func htmlPage(t testing.TB, n int) *content.Page {
	t.Helper()
	p, err := content.NewPage("card.html", htmlBytes(n))
	if err != nil {
		t.Fatalf("NewPage: %v", err)
	}
	return p
}

func htmlBytes(n int) []byte {
	const head, tail = "<!DOCTYPE html><html><body><p>", "</p></body></html>"
	b := make([]byte, 0, n)
	b = append(b, head...)
	words := []string{"caller ", "card ", "herald ", "push ", "msrp ", "ringing ", "page ", "hello "}
	x := uint32(2463534242)
	for len(b) < n-len(tail) {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		w := words[x%uint32(len(words))]
		if len(b)+len(w) > n-len(tail) {
			w = strings.Repeat(".", n-len(tail)-len(b))
		}
		b = append(b, w...)
	}
	return append(b, tail...)
}

// bigPage is a page larger than content.MaxPageBytes (tests of flow control only): Prepare refuses
// it, content.Restore (a store's path, which checks safety but not the upload limit) takes it.
func bigPage(n int) *content.Page {
	p, err := content.Restore("big.html", htmlBytes(n), nil, nil)
	if err != nil {
		panic(err)
	}
	return p
}

// openSession registers a session for page on s.
func openSession(t testing.TB, s *Server, role push.Role, page *content.Page, ttl time.Duration, accept ...string) *push.Session {
	t.Helper()
	sess := push.NewSession("call-"+push.NewID(6), role, page, ttl)
	sess.Accept = accept
	if err := s.Open(sess); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return sess
}

// waitResult waits for the session's one result.
func waitResult(t testing.TB, sess *push.Session, d time.Duration) push.Result {
	t.Helper()
	select {
	case r := <-sess.Done:
		return r
	case <-time.After(d):
		t.Fatalf("no result for session %s within %s", sess.ID, d)
	}
	return push.Result{}
}

// frame is a copy of a parsed message that outlives the client's buffer.
type frame struct {
	TID, Method      string
	Status           int
	Comment          string
	ToPath, FromPath string
	MessageID        string
	ContentType      string
	SuccessReport    string
	FailureReport    string
	Disposition      string
	BR               msrp.ByteRange
	HasBR            bool
	Body             []byte
	Flag             byte
}

// client is a test MSRP terminal: net.Dial plus the core/msrp Parser.
type client struct {
	t    testing.TB
	conn net.Conn
	path string // its own URI (From-Path)
	p    msrp.Parser
	m    msrp.Message
	buf  []byte
	r    int // start of unparsed bytes in buf
	rd   []byte
	rec  *[]string // when set: the start line of every frame sent and received
}

// record notes a frame's start line ("> MSRP tid METHOD" when sent, "< MSRP tid CODE COMMENT" when
// received).
func (c *client) record(line string) {
	if c.rec != nil {
		if line[0] != '<' {
			line = "> " + line
		}
		*c.rec = append(*c.rec, line)
	}
}

type dialOpt func(*net.Dialer)

// withRcvBuf shrinks the client's receive buffer before connecting, so that a reader that stops reading
// pushes back on the server quickly.
func withRcvBuf(n int) dialOpt {
	return func(d *net.Dialer) {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n) })
			return errors.Join(err, serr)
		}
	}
}

func dial(t testing.TB, s *Server, opts ...dialOpt) *client {
	t.Helper()
	host, port := s.Addr()
	d := &net.Dialer{Timeout: 2 * time.Second}
	for _, o := range opts {
		o(d)
	}
	conn, err := d.Dial("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &client{t: t, conn: conn, path: "msrp://127.0.0.1:9/" + push.NewID(6) + ";tcp", rd: make([]byte, 64<<10)}
	c.p.Limits = msrp.Limits{MaxHeaderBytes: 16 << 10, MaxBodyBytes: 1 << 20}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

func (c *client) write(b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("client write: %v", err)
	}
}

// bind sends the acquisition request (bodiless SEND) for toPath and returns its transaction id.
func (c *client) bind(toPath string, extra ...msrp.Header) string {
	tid := msrp.NewTID()
	h := append([]msrp.Header{
		{Name: []byte("To-Path"), Value: []byte(toPath)},
		{Name: []byte("From-Path"), Value: []byte(c.path)},
		{Name: []byte("Message-ID"), Value: []byte(msrp.NewMessageID())},
		{Name: []byte("Byte-Range"), Value: []byte("1-0/0")},
	}, extra...)
	b := msrp.AppendRequestHead(nil, tid, "SEND", h, false)
	c.write(msrp.AppendEndLine(b, tid, msrp.FlagEnd, false))
	c.record("MSRP " + tid + " SEND")
	return tid
}

// respond answers a request frame f.
func (c *client) respond(f *frame, code int) {
	c.write(msrp.AppendResponse(nil, f.TID, code, msrp.StatusText(code), []byte(f.FromPath), []byte(c.path)))
	c.record(fmt.Sprintf("MSRP %s %d %s", f.TID, code, msrp.StatusText(code)))
}

// report sends a REPORT for msgID with status code covering br.
func (c *client) report(to, msgID string, br msrp.ByteRange, code int) {
	tid := msrp.NewTID()
	c.write(msrp.AppendReport(nil, tid, []byte(to), []byte(c.path), msgID, br, code, msrp.StatusText(code)))
	c.record("MSRP " + tid + " REPORT")
}

// next reads the next frame; it returns io.EOF when the server closed the connection.
func (c *client) next(d time.Duration) (*frame, error) {
	deadline := time.Now().Add(d)
	for {
		if c.r < len(c.buf) {
			n, err := c.p.Parse(c.buf[c.r:], &c.m)
			if err == nil {
				f := copyFrame(&c.m)
				if f.Method != "" {
					c.record("< MSRP " + f.TID + " " + f.Method)
				} else {
					c.record(fmt.Sprintf("< MSRP %s %d %s", f.TID, f.Status, f.Comment))
				}
				c.r += n
				if c.r == len(c.buf) {
					c.buf, c.r = c.buf[:0], 0
				}
				return f, nil
			}
			if !errors.Is(err, msrp.ErrIncomplete) {
				return nil, err
			}
		}
		if c.r > 0 { // compact before reading more; the parser resumes from the same frame start
			c.buf = append(c.buf[:0], c.buf[c.r:]...)
			c.r = 0
		}
		_ = c.conn.SetReadDeadline(deadline)
		n, err := c.conn.Read(c.rd)
		c.buf = append(c.buf, c.rd[:n]...)
		if err != nil {
			return nil, err
		}
	}
}

// mustNext is next or a fatal error.
func (c *client) mustNext(d time.Duration) *frame {
	c.t.Helper()
	f, err := c.next(d)
	if err != nil {
		c.t.Fatalf("client read: %v", err)
	}
	return f
}

// expectClosed reads until EOF (anything but frames is an error) and returns the frames read.
func (c *client) expectClosed(d time.Duration) []*frame {
	c.t.Helper()
	var fs []*frame
	for {
		f, err := c.next(d)
		switch {
		case err == nil:
			fs = append(fs, f)
		case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
			_ = c.conn.Close() // as a terminal does once the server closed its side
			return fs
		default:
			c.t.Fatalf("expected the server to close the connection, got %v", err)
		}
	}
}

func copyFrame(m *msrp.Message) *frame {
	return &frame{
		TID: string(m.TID), Method: string(m.Method), Status: m.Status, Comment: string(m.Comment),
		ToPath: string(m.ToPath), FromPath: string(m.FromPath), MessageID: string(m.MessageID),
		ContentType: string(m.ContentType), SuccessReport: string(m.SuccessReport),
		FailureReport: string(m.FailureReport), Disposition: string(m.Header("Content-Disposition")),
		BR: m.ByteRange, HasBR: m.HasByteRange, Body: bytes.Clone(m.Body), Flag: m.Flag,
	}
}

// received is what receivePage collected.
type received struct {
	frames []*frame
	body   []byte
	msgID  string
	last   *frame
}

// receivePage reads SEND chunks until one ends with '$' or '#', checking that the chunks are contiguous,
// and answers each with 200 when answer is set.
func (c *client) receivePage(d time.Duration, answer bool) received {
	c.t.Helper()
	var r received
	for {
		f := c.mustNext(d)
		if f.Method != "SEND" {
			c.t.Fatalf("expected a SEND chunk, got %+v", f)
		}
		if r.msgID == "" {
			r.msgID = f.MessageID
		} else if f.MessageID != r.msgID {
			c.t.Fatalf("Message-ID changed mid-message: %q then %q", r.msgID, f.MessageID)
		}
		if !f.HasBR || f.BR.Start != int64(len(r.body))+1 || f.BR.End != f.BR.Start+int64(len(f.Body))-1 {
			c.t.Fatalf("chunk %d: Byte-Range %+v does not follow %d received bytes (body %d)",
				len(r.frames), f.BR, len(r.body), len(f.Body))
		}
		r.frames = append(r.frames, f)
		r.body = append(r.body, f.Body...)
		if answer {
			c.respond(f, 200)
		}
		if f.Flag != msrp.FlagMore {
			r.last = f
			return r
		}
	}
}

// streamCount is the number of stream connections (msrps, dialled) open.
func (s *Server) streamCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}
