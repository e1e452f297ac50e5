package sip

// Herald's tests of the TCP transport's TCPFast hook (herald_tcpfast.go, HERALD.md): not upstream's.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tcpfMsg builds a message: a request when first is a method, else a response with first as its
// status line's code and reason ("200 OK"). cl is the Content-Length line ("" for none).
func tcpfMsg(first, callID, cl, body string) string {
	var b strings.Builder
	method := first
	if strings.IndexByte(first, ' ') >= 0 { // a response
		fmt.Fprintf(&b, "SIP/2.0 %s\r\n", first)
		method = "INVITE"
	} else {
		fmt.Fprintf(&b, "%s sip:bob@192.0.2.9:5060;transport=tcp SIP/2.0\r\n", first)
	}
	fmt.Fprintf(&b, "Via: SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bK-%s\r\n", callID)
	b.WriteString("From: <sip:alice@192.0.2.1>;tag=a1\r\nTo: <sip:bob@192.0.2.9>\r\n")
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n", callID, method)
	if body != "" {
		b.WriteString("Content-Type: text/plain\r\n")
	}
	if cl != "" {
		b.WriteString(cl + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// tcpfMsgs: requests and responses, one whose body holds "\r\n\r\n", one with the compact "l",
// one with blanks before the colon and a lower-case name.
var tcpfMsgs = func() []string {
	body := "line one\r\n\r\nline three after an empty line\r\n"
	body2 := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
	return []string{
		tcpfMsg("INVITE", "tcpf-1", fmt.Sprintf("Content-Length: %d", len(body)), body),
		tcpfMsg("100 Trying", "tcpf-2", "Content-Length: 0", ""),
		tcpfMsg("200 OK", "tcpf-3", fmt.Sprintf("l: %d", len(body2)), body2),
		tcpfMsg("ACK", "tcpf-4", "content-length :  0 ", ""),
		tcpfMsg("MESSAGE", "tcpf-5", fmt.Sprintf("CONTENT-LENGTH:%d", len(body)), body),
		tcpfMsg("BYE", "tcpf-6", "Content-Length: 0", ""),
		tcpfMsg("180 Ringing", "tcpf-7", "L:0", ""),
	}
}()

// tcpfExpect is the message sipgo's parser makes of s.
func tcpfExpect(t testing.TB, s string) Message {
	t.Helper()
	m, err := NewParser().ParseSIP([]byte(s))
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return m
}

// tcpfSame fails unless got is the message want is: method or status, Call-ID, body, and text.
func tcpfSame(t testing.TB, got Message, want string) {
	t.Helper()
	w := tcpfExpect(t, want)
	switch w := w.(type) {
	case *Request:
		g, ok := got.(*Request)
		if !ok || g.Method != w.Method {
			t.Fatalf("got %T, want the request %s", got, w.Method)
		}
	case *Response:
		g, ok := got.(*Response)
		if !ok || g.StatusCode != w.StatusCode {
			t.Fatalf("got %T, want the response %d", got, w.StatusCode)
		}
	}
	if got.CallID() == nil || got.CallID().Value() != w.CallID().Value() {
		t.Fatalf("Call-ID %v, want %s", got.CallID(), w.CallID().Value())
	}
	if !bytes.Equal(got.Body(), w.Body()) {
		t.Fatalf("body %q, want %q", got.Body(), w.Body())
	}
	if got.String() != w.String() {
		t.Fatalf("message\n%s\nwant\n%s", got, w)
	}
	if got.Transport() != "TCP" {
		t.Fatalf("transport %q, want TCP", got.Transport())
	}
}

// tcpfRecorder is a TransportLayer's hook and message handler: the hook takes every other message
// of a connection (the first, the third...: takeFirst, or the second...), and both record.
type tcpfRecorder struct {
	takeFirst bool
	mu        sync.Mutex
	n         map[netip.AddrPort]int
	from      []netip.AddrPort
	taken     []string
	handled   []Message
}

func (r *tcpfRecorder) hook(msg []byte, from netip.AddrPort) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[netip.AddrPort]int{}
	}
	i := r.n[from]
	r.n[from] = i + 1
	if (i%2 == 0) != r.takeFirst {
		return false
	}
	r.taken = append(r.taken, string(msg))
	r.from = append(r.from, from)
	return true
}

func (r *tcpfRecorder) handle(m Message) {
	r.mu.Lock()
	r.handled = append(r.handled, m)
	r.mu.Unlock()
}

func (r *tcpfRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.taken) + len(r.handled)
}

// wait waits until n messages went to the hook or the handler.
func (r *tcpfRecorder) wait(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages arrived, want %d", r.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *tcpfRecorder) reset() {
	r.mu.Lock()
	r.n, r.from, r.taken, r.handled = nil, nil, nil, nil
	r.mu.Unlock()
}

// check: the hook took every other message of msgs byte for byte, sipgo's handler got the others,
// in order, and from is the client's address.
func (r *tcpfRecorder) check(t testing.TB, msgs []string, client net.Conn) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var wantTaken, wantHandled []string
	for i, m := range msgs {
		if (i%2 == 0) == r.takeFirst {
			wantTaken = append(wantTaken, m)
		} else {
			wantHandled = append(wantHandled, m)
		}
	}
	if len(r.taken) != len(wantTaken) || len(r.handled) != len(wantHandled) {
		t.Fatalf("hook took %d, handler got %d; want %d and %d", len(r.taken), len(r.handled), len(wantTaken), len(wantHandled))
	}
	for i := range wantTaken {
		if r.taken[i] != wantTaken[i] {
			t.Fatalf("hook's message %d:\n%q\nwant\n%q", i, r.taken[i], wantTaken[i])
		}
	}
	for i := range wantHandled {
		tcpfSame(t, r.handled[i], wantHandled[i])
		if src := r.handled[i].Source(); src != client.LocalAddr().String() {
			t.Fatalf("source %q, want %q", src, client.LocalAddr())
		}
	}
	want := netip.MustParseAddrPort(client.LocalAddr().String())
	for _, f := range r.from {
		if f != want || !f.Addr().Is4() {
			t.Fatalf("from %v, want %v (unmapped IPv4)", f, want)
		}
	}
}

// TestHeraldTCPFastSocket drives the hook over real TCP sockets on 127.0.0.1: a sequence of
// requests and responses written whole (one write per message), coalesced into one write, dribbled
// one byte per write, larger than a read, and with CRLFCRLF pings between messages (each answered
// by a CRLF pong). A hook taking every other message gets exactly those, byte for byte, and sipgo's
// handler exactly the others, in order and intact. The transport finds the connection by the
// hook's from (TCPConnection); the TLS transport has no hook.
func TestHeraldTCPFastSocket(t *testing.T) {
	for _, takeFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("takeFirst=%v", takeFirst), func(t *testing.T) {
			rec := &tcpfRecorder{takeFirst: takeFirst}
			tpl := NewTransportLayer(net.DefaultResolver, NewParser(), nil,
				WithTransportLayerLogger(slog.New(slog.DiscardHandler)), WithTransportLayerTCPFast(rec.hook))
			t.Cleanup(func() { tpl.Close() })
			if tpl.tcp.fast == nil || tpl.tls.fast != nil || tpl.tls.TransportTCP == tpl.tcp {
				t.Fatal("the hook belongs to the TCP transport only")
			}
			tpl.OnMessage(rec.handle)
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go tpl.ServeTCP(ln)
			dial := func(t *testing.T) *net.TCPConn {
				c, err := net.Dial("tcp4", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				tc := c.(*net.TCPConn)
				if err := tc.SetNoDelay(true); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return tc
			}
			write := func(t *testing.T, c net.Conn, b string) {
				if _, err := c.Write([]byte(b)); err != nil {
					t.Fatal(err)
				}
			}

			t.Run("whole", func(t *testing.T) {
				rec.reset()
				c := dial(t)
				for _, m := range tcpfMsgs {
					write(t, c, m)
				}
				rec.wait(t, len(tcpfMsgs))
				rec.check(t, tcpfMsgs, c)

				// The engine's sends find the connection by the hook's from.
				from := netip.MustParseAddrPort(c.LocalAddr().String())
				tc := tpl.TCPConnection(from)
				if tc == nil || tc.RemoteAddr().String() != c.LocalAddr().String() {
					t.Fatalf("TCPConnection(%v) = %v", from, tc)
				}
				if tc := tpl.TCPConnection(netip.AddrPortFrom(netip.AddrFrom16(from.Addr().As16()), from.Port())); tc == nil {
					t.Fatal("an IPv4-mapped address finds the IPv4 peer's connection")
				}
				if tc := tpl.TCPConnection(netip.AddrPortFrom(from.Addr(), from.Port()+1)); tc != nil {
					t.Fatalf("another port found the connection from %v", tc.RemoteAddr())
				}
				if tc := tpl.TCPConnection(netip.MustParseAddrPort(ln.Addr().String())); tc != nil {
					t.Fatalf("the listener's address (a local key in the pool) found the connection from %v", tc.RemoteAddr())
				}
				write(t, tc, "\r\n") // it writes (a keep-alive CRLF the client ignores)
			})
			t.Run("coalesced", func(t *testing.T) {
				rec.reset()
				c := dial(t)
				write(t, c, strings.Join(tcpfMsgs, ""))
				rec.wait(t, len(tcpfMsgs))
				rec.check(t, tcpfMsgs, c)
			})
			t.Run("dribbled", func(t *testing.T) {
				rec.reset()
				c := dial(t)
				all := strings.Join(tcpfMsgs, "")
				for i := range len(all) {
					write(t, c, all[i:i+1])
				}
				rec.wait(t, len(tcpfMsgs))
				rec.check(t, tcpfMsgs, c)
			})
			t.Run("large", func(t *testing.T) {
				// Messages larger than a read (TransportBufferReadSize): framed across reads.
				big := func(id string, n int) string {
					body := strings.Repeat("0123456789abcdef\r\n\r\n", n/20)
					return tcpfMsg("MESSAGE", id, fmt.Sprintf("Content-Length: %d", len(body)), body)
				}
				msgs := []string{tcpfMsgs[1], big("big-1", 40000), tcpfMsgs[2], big("big-2", 65000), big("big-3", 20000), tcpfMsgs[6]}
				for _, coalesce := range []bool{false, true} {
					rec.reset()
					c := dial(t)
					if coalesce {
						write(t, c, strings.Join(msgs, ""))
					} else {
						for _, m := range msgs {
							write(t, c, m)
						}
					}
					rec.wait(t, len(msgs))
					rec.check(t, msgs, c)
				}
			})
			t.Run("pings", func(t *testing.T) {
				rec.reset()
				c := dial(t)
				pong := make([]byte, 2)
				for i, m := range tcpfMsgs {
					write(t, c, m)
					rec.wait(t, i+1) // the ping comes alone, between messages (RFC 5626 §3.5.1)
					if i%2 == 0 {
						write(t, c, "\r\n\r\n")
						c.SetReadDeadline(time.Now().Add(5 * time.Second))
						if _, err := io.ReadFull(c, pong); err != nil || string(pong) != "\r\n" {
							t.Fatalf("pong %q, %v", pong, err)
						}
					} else {
						write(t, c, "\r\n") // a lone CRLF: skipped, no pong
					}
				}
				rec.check(t, tcpfMsgs, c)
				c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if n, err := c.Read(pong); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("after the last pong: %q, %v; want nothing", pong[:n], err)
				}
			})
		})
	}
}

// tcpfStub is a net.Conn for the in-memory runs: the peer's address, and the pongs written.
type tcpfStub struct {
	net.Conn
	raddr  net.Addr
	writes bytes.Buffer
}

func (s *tcpfStub) RemoteAddr() net.Addr { return s.raddr }
func (s *tcpfStub) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 9), Port: 5060}
}
func (s *tcpfStub) Write(b []byte) (int, error) { return s.writes.Write(b) }
func (s *tcpfStub) Close() error                { return nil }

// tcpfRun is one connection driven read by read through onRead, as readConnection drives it: a
// read of NULs only is dropped, and the read buffer is overwritten after each read.
type tcpfRun struct {
	tr      *TransportTCP
	par     *ParserStream
	st      *tcpFastState
	conn    *TCPConnection
	stub    *tcpfStub
	buf     []byte
	got     []string // the handler's messages (String)
	offered []string // what the hook was offered
	offerAt []int    // len(got) at each offer
	events  []string // offers ("O:" and the message) and the handler's messages ("H:" and String)
	ended   bool
}

// newTCPFRun: take nil is a connection without a hook; else the hook takes what take says.
func newTCPFRun(p *Parser, take func(i int, msg []byte) bool) *tcpfRun {
	r := &tcpfRun{stub: &tcpfStub{raddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5070}}}
	r.conn = &TCPConnection{Conn: r.stub}
	r.tr = &TransportTCP{log: slog.New(slog.DiscardHandler)}
	r.tr.init(p)
	if take != nil {
		r.tr.fast = func(msg []byte, from netip.AddrPort) bool {
			if from != netip.MustParseAddrPort("192.0.2.1:5070") {
				panic(from)
			}
			r.offered = append(r.offered, string(msg))
			r.offerAt = append(r.offerAt, len(r.got))
			r.events = append(r.events, "O:"+string(msg))
			return take(len(r.offered)-1, msg)
		}
	}
	r.par = r.tr.parser.NewSIPStream()
	r.st = r.tr.newTCPFast(r.conn, r.par, r.handle)
	if (take != nil) != (r.st != nil) {
		panic("framer")
	}
	return r
}

func (r *tcpfRun) handle(m Message) {
	if m.Transport() != "TCP" || m.Source() != "192.0.2.1:5070" {
		panic(m.Transport() + " " + m.Source())
	}
	r.got = append(r.got, m.String())
	r.events = append(r.events, "H:"+m.String())
}

func (r *tcpfRun) read(chunk []byte) {
	if r.ended || len(bytes.Trim(chunk, "\x00")) == 0 {
		return
	}
	r.buf = append(r.buf[:0], chunk...)
	if err := r.tr.onRead(r.st, r.par, r.conn, r.buf, "192.0.2.1:5070", r.handle); err != nil {
		r.ended = true
	}
	for i := range r.buf {
		r.buf[i] = 'X' // the next read overwrites the buffer
	}
}

// outcome is what the peer sees of a run: the messages sipgo handled, the pongs, the end.
func (r *tcpfRun) outcome() string {
	return fmt.Sprintf("ended=%v pongs=%q messages=%q", r.ended, r.stub.writes.String(), r.got)
}

func tcpfChunks(s string, cuts ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		out = append(out, []byte(s[prev:c]))
		prev = c
	}
	return append(out, []byte(s[prev:]))
}

// TestHeraldTCPFastSplits cuts a two-message stream (and one with CRLFs and a ping between) at
// every offset, in memory through onRead: the hook taking the first message gets it byte for byte
// and sipgo the second, and the other way round; declining both, sipgo gets both as without a hook.
func TestHeraldTCPFastSplits(t *testing.T) {
	streams := [][]string{
		{tcpfMsgs[0], tcpfMsgs[2]},
		{tcpfMsgs[4], "\r\n\r\n\r\n" + tcpfMsgs[3]},
		{tcpfMsgs[1], "\r\n\r\n" + tcpfMsgs[6]},
	}
	for si, msgs := range streams {
		all := strings.Join(msgs, "")
		for k := 0; k <= len(all); k++ {
			for takeFirst := range 3 { // 0: the first, 1: the second, 2: neither
				r := newTCPFRun(NewParser(), func(i int, _ []byte) bool { return i == takeFirst })
				for _, c := range tcpfChunks(all, k) {
					r.read(c)
				}
				trim := func(s string) string { return strings.TrimLeft(s, "\r\n") }
				if len(r.offered) != 2 || r.offered[0] != trim(msgs[0]) || r.offered[1] != trim(msgs[1]) || r.ended {
					t.Fatalf("stream %d cut at %d: offered %q, ended %v", si, k, r.offered, r.ended)
				}
				var want []string
				for i, m := range msgs {
					if i != takeFirst {
						want = append(want, tcpfExpect(t, trim(m)).String())
					}
				}
				if fmt.Sprint(r.got) != fmt.Sprint(want) {
					t.Fatalf("stream %d cut at %d, hook took #%d: sipgo got %q, want %q", si, k, takeFirst, r.got, want)
				}
				if takeFirst == 2 {
					n := newTCPFRun(NewParser(), nil)
					for _, c := range tcpfChunks(all, k) {
						n.read(c)
					}
					if n.outcome() != r.outcome() {
						t.Fatalf("stream %d cut at %d: %s\nwithout a hook %s", si, k, r.outcome(), n.outcome())
					}
				}
			}
		}
	}
}

// tcpfUnsure are inputs the framer is not sure of: it leaves them, and everything after them on
// the connection, to sipgo.
var tcpfUnsure = map[string]string{
	"no Content-Length":  tcpfMsg("OPTIONS", "u-1", "", ""),
	"two Content-Length": tcpfMsg("OPTIONS", "u-2", "Content-Length: 0\r\nl: 0", ""),
	"two different":      tcpfMsg("MESSAGE", "u-3", "Content-Length: 5\r\nContent-Length: 0", "hello"),
	"folded line":        tcpfMsg("OPTIONS", "u-4", "Subject: one\r\n two\r\nContent-Length: 0", ""),
	"folded length":      tcpfMsg("OPTIONS", "u-5", "Content-Length:\r\n\t0", ""),
	"bare CR":            tcpfMsg("OPTIONS", "u-6", "Subject: a\rb\r\nContent-Length: 0", ""),
	"no colon":           tcpfMsg("OPTIONS", "u-7", "Subject\r\nContent-Length: 0", ""),
	"length not digits":  tcpfMsg("OPTIONS", "u-8", "Content-Length: +0", ""),
	"length odd blank":   tcpfMsg("OPTIONS", "u-9", "Content-Length:\v0", ""),
	"length huge":        tcpfMsg("OPTIONS", "u-10", "Content-Length: 99999999999", ""),
	"body over max":      tcpfMsg("OPTIONS", "u-11", "Content-Length: 65536", "") + strings.Repeat("b", 65536),
	"header over max, no end": "OPTIONS sip:bob@192.0.2.9 SIP/2.0\r\n" +
		strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 700),
}

// tcpfSentinel ends each unsure input: it reaches sipgo unless the connection ended.
var tcpfSentinel = tcpfMsg("OPTIONS", "sentinel", "Content-Length: 0", "")

// TestHeraldTCPFastUnsure: on each unsure input (after a good message, or first) the connection's
// outcome (the messages sipgo's handler gets, the pongs, whether the connection ends) is the one
// without a hook, read whole, byte by byte, and cut in two at several places; a hook that takes
// everything it is offered is offered only the good message before the unsure one. Then the same
// over real sockets (input and the sentinel in one write).
func TestHeraldTCPFastUnsure(t *testing.T) {
	good := tcpfMsgs[0]
	for name, u := range tcpfUnsure {
		for _, prefix := range []string{"", good} {
			in := prefix + u + tcpfSentinel
			cuts := [][]int{nil, {len(prefix)}, {len(prefix) + 1}, {len(prefix) + len(u)/2}, {len(prefix) + len(u) - 1},
				{len(prefix) + len(u)}, {len(prefix) + 40, len(prefix) + 41}}
			for _, cut := range cuts {
				n := newTCPFRun(NewParser(), nil)
				r := newTCPFRun(NewParser(), func(int, []byte) bool { return true })
				for _, c := range tcpfChunks(in, cut...) {
					n.read(c)
					r.read(c)
				}
				wantOffered := 0
				if prefix != "" {
					wantOffered = 1
				}
				if len(r.offered) != wantOffered || (wantOffered == 1 && r.offered[0] != good) {
					t.Fatalf("%s (prefix %v, cut %v): offered %q", name, prefix != "", cut, r.offered)
				}
				if len(n.got) < wantOffered {
					t.Fatalf("%s: without a hook %s", name, n.outcome())
				}
				n.got = n.got[wantOffered:] // what the hook took
				if n.outcome() != r.outcome() {
					t.Fatalf("%s (prefix %v, cut %v):\nwith the hook    %s\nwithout a hook %s", name, prefix != "", cut, r.outcome(), n.outcome())
				}
			}
			// Byte by byte.
			n := newTCPFRun(NewParser(), nil)
			r := newTCPFRun(NewParser(), func(int, []byte) bool { return false })
			for i := range len(in) {
				n.read([]byte(in[i : i+1]))
				r.read([]byte(in[i : i+1]))
			}
			if n.outcome() != r.outcome() {
				t.Fatalf("%s byte by byte:\nwith the hook  %s\nwithout a hook %s", name, r.outcome(), n.outcome())
			}
		}

		// Over sockets.
		t.Run(name, func(t *testing.T) {
			in := u + tcpfSentinel
			want, wantClosed := tcpfSocketOutcome(t, nil, in)
			var offered []string
			got, closed := tcpfSocketOutcome(t, func(msg []byte, _ netip.AddrPort) bool {
				offered = append(offered, string(msg))
				return true
			}, in)
			if len(offered) != 0 || closed != wantClosed || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("with the hook: offered %q, closed %v, messages %q\nwithout: closed %v, messages %q",
					offered, closed, got, wantClosed, want)
			}
		})
	}
}

// tcpfSocketOutcome writes in on a new connection to a TransportLayer (hook f, nil for none) and
// returns the messages its handler got and whether the transport closed the connection: it waits
// for the sentinel or the close.
func tcpfSocketOutcome(t *testing.T, f TCPFast, in string) ([]string, bool) {
	opts := []TransportLayerOption{WithTransportLayerLogger(slog.New(slog.DiscardHandler))}
	if f != nil {
		opts = append(opts, WithTransportLayerTCPFast(f))
	}
	tpl := NewTransportLayer(net.DefaultResolver, NewParser(), nil, opts...)
	defer tpl.Close()
	var mu sync.Mutex
	var got []string
	sentinel := make(chan struct{})
	tpl.OnMessage(func(m Message) {
		mu.Lock()
		got = append(got, m.String())
		mu.Unlock()
		if m.CallID() != nil && m.CallID().Value() == "sentinel" {
			close(sentinel)
		}
	})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tpl.ServeTCP(ln)
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closedc := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c) // ends when the transport closes the connection
		close(closedc)
	}()
	c.Write([]byte(in))
	closed := false
	select {
	case <-sentinel:
	case <-closedc:
		closed = true
	case <-time.After(10 * time.Second):
		t.Fatal("neither the sentinel nor a close")
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), got...), closed
}

// tcpfSeeds for FuzzHeraldTCPFrame: valid streams, pings, and the unsure inputs.
func tcpfSeeds() []string {
	s := []string{
		strings.Join(tcpfMsgs, ""),
		tcpfMsgs[0] + "\r\n\r\n" + tcpfMsgs[1] + "\r\n" + tcpfMsgs[2],
		"\r\n\r\n",
		"\r\n",
		"\r\n\r\n\r\n" + tcpfMsgs[3],
		"\r" + tcpfMsgs[5],
		"\n" + tcpfMsgs[5],
		tcpfMsgs[6] + "\r",
		tcpfMsgs[1] + "\x00\x00\x00\x00" + tcpfMsgs[1],
		"garbage\r\n\r\n",
		"SIP/2.0 200 OK\r\nl: 3\r\n\r\nabc",
	}
	for _, u := range tcpfUnsure {
		if len(u) < 5000 {
			s = append(s, u+tcpfSentinel, tcpfMsgs[1]+u)
		}
	}
	return s
}

// tcpfSplit cuts data into reads as seed says: seed 0 is one read; else pseudo-random lengths,
// small or large by the seed's low bits.
func tcpfSplit(data []byte, seed uint64) [][]byte {
	if seed == 0 {
		return [][]byte{data}
	}
	x := seed
	var out [][]byte
	for len(data) > 0 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var n int
		switch x % 4 {
		case 0:
			n = 1 + int(x>>8)%4
		case 1:
			n = 1 + int(x>>8)%64
		default:
			n = 1 + int(x>>8)%1024
		}
		n = min(n, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

// FuzzHeraldTCPFrame: any input read in any pieces gives the same outcome (sipgo's messages by
// their text, the pongs, whether the connection ends) with a hook that declines everything as
// without a hook; each message the hook was offered is the one sipgo then handled (unless the
// connection ended there). The seed's top bit picks a small MaxMessageLength (100 to 1123 bytes)
// so that short inputs reach the size limits.
func FuzzHeraldTCPFrame(f *testing.F) {
	for i, s := range tcpfSeeds() {
		for _, seed := range []uint64{0, uint64(i)*7919 + 1, 1<<63 | uint64(i)*104729 + 3} {
			f.Add([]byte(s), seed)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		mk := func() *Parser {
			p := NewParser()
			if seed>>63 == 1 {
				p.MaxMessageLength = 100 + int(seed>>40)%1024
			}
			return p
		}
		n := newTCPFRun(mk(), nil)
		r := newTCPFRun(mk(), func(int, []byte) bool { return false })
		for _, c := range tcpfSplit(data, seed) {
			n.read(c)
			r.read(c)
		}
		if n.outcome() != r.outcome() {
			t.Fatalf("with a declining hook:\n%s\nwithout a hook:\n%s", r.outcome(), n.outcome())
		}
		if r.st.disagreed {
			t.Fatalf("the parser and the framer disagreed on a message's end: %s", r.outcome())
		}
		for i, m := range r.offered {
			at := r.offerAt[i]
			if at >= len(r.got) || (i+1 < len(r.offerAt) && r.offerAt[i+1] == at) {
				continue // sipgo refused it (the connection ended) or handed on nothing
			}
			msgs, err := mk().NewSIPStream().parseSIPStreamFull([]byte(m))
			if err != nil || len(msgs) != 1 || msgs[0].String() != r.got[at] {
				t.Fatalf("offered %q, sipgo then handled %q (%d, %v)", m, r.got[at], len(msgs), err)
			}
		}

		// A hook taking everything: each message it took stands in the sequence for the one sipgo
		// would have handled, up to one sipgo would have refused (where the connection ended).
		a := newTCPFRun(mk(), func(int, []byte) bool { return true })
		for _, c := range tcpfSplit(data, seed) {
			a.read(c)
		}
		if a.st.disagreed {
			t.Fatalf("the parser and the framer disagreed on a message's end: %s", a.outcome())
		}
		var merged []string
		refused := false
		for _, e := range a.events {
			if e[0] == 'H' {
				merged = append(merged, e[2:])
				continue
			}
			msgs, err := mk().NewSIPStream().parseSIPStreamFull([]byte(e[2:]))
			if err != nil && !errors.Is(err, ErrParseSipPartial) {
				refused = true
				break
			}
			if err != nil || len(msgs) != 1 {
				t.Fatalf("the hook took %q, which sipgo reads as %d messages (%v)", e[2:], len(msgs), err)
			}
			merged = append(merged, msgs[0].String())
		}
		if refused {
			if !n.ended || fmt.Sprint(n.got) != fmt.Sprint(merged) {
				t.Fatalf("sipgo refuses a message the hook took; before it %q, without a hook %s", merged, n.outcome())
			}
		} else if want := fmt.Sprintf("ended=%v pongs=%q messages=%q", a.ended, a.stub.writes.String(), merged); want != n.outcome() {
			t.Fatalf("with a hook taking all:\n%s\nwithout a hook:\n%s", want, n.outcome())
		}
	})
}

// TestHeraldTCPFastNoAlloc: a whole message in one read, taken by the hook, is framed without an
// allocation.
func TestHeraldTCPFastNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, m := range []string{tcpfMsgs[0], tcpfMsgs[2], "\r\n" + tcpfMsgs[1], tcpfMsgs[3] + tcpfMsgs[5]} {
		r := newTCPFRun(NewParser(), func(int, []byte) bool { return true })
		r.st.fast = func([]byte, netip.AddrPort) bool { return true } // a hook that does not record
		data := []byte(m)
		var err error
		a := testing.AllocsPerRun(200, func() {
			err = r.tr.onRead(r.st, r.par, r.conn, data, "192.0.2.1:5070", r.handle)
		})
		if err != nil || a != 0 || len(r.got) != 0 {
			t.Fatalf("%.1f allocations per read (%v, %d to sipgo), want 0", a, err, len(r.got))
		}
	}
}

// TestHeraldTCPConnectionKey: TCPConnection's key is the pool's (net.TCPAddr.String) and the
// lookup does not allocate; it returns nil for a key whose connection's peer is another address.
func TestHeraldTCPConnectionKey(t *testing.T) {
	tpl := NewTransportLayer(net.DefaultResolver, NewParser(), nil, WithTransportLayerLogger(slog.New(slog.DiscardHandler)))
	defer tpl.Close()
	for _, s := range []string{"192.0.2.1:5060", "[2001:db8::1]:5061", "[::1]:1", "[fe80::1%eth0]:5060", "[::ffff:192.0.2.7]:5070", "[64:ff9b::102:304]:9"} {
		ap := netip.MustParseAddrPort(s)
		ta := net.TCPAddrFromAddrPort(ap)
		c := &TCPConnection{Conn: &tcpfStub{raddr: ta}}
		tpl.tcp.pool.Add(ta.String(), c)
		if got := tpl.TCPConnection(ap); got != c {
			t.Fatalf("%s (key %s): %v", s, ta.String(), got)
		}
	}
	if c := tpl.TCPConnection(netip.MustParseAddrPort("192.0.2.2:5060")); c != nil {
		t.Fatal("an address without a connection found one")
	}
	// A local address's key leads to a connection whose peer is another.
	c := &TCPConnection{Conn: &tcpfStub{raddr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.3:40000"))}}
	tpl.tcp.pool.Add("192.0.2.9:5060", c)
	if got := tpl.TCPConnection(netip.MustParseAddrPort("192.0.2.9:5060")); got != nil {
		t.Fatal("a local address's key returned a connection")
	}
	if !raceEnabled {
		ap := netip.MustParseAddrPort("[2001:db8::1]:5061")
		if a := testing.AllocsPerRun(100, func() { _ = tpl.TCPConnection(ap) }); a != 0 {
			t.Fatalf("%.0f allocations per lookup, want 0", a)
		}
	}
}

// TestHeraldTCPFastOff: the framer is off (the connection reads as without a hook) when the
// transport has no hook, when the peer's address is not a TCP address, and when the parser reads
// Content-Length with a parser other than sipgo's or reads another header with it; a parser whose
// other headers have parsers of their own (Herald's) keeps it. from is unmapped.
func TestHeraldTCPFastOff(t *testing.T) {
	hook := func([]byte, netip.AddrPort) bool { return true }
	mapped := &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 5070}
	mk := func(m map[string]HeaderParser, raddr net.Addr, f TCPFast) *tcpFastState {
		p := NewParser()
		if m != nil {
			p = NewParser(WithHeadersParsers(m))
		}
		tr := &TransportTCP{log: slog.New(slog.DiscardHandler)}
		tr.init(p)
		tr.fast = f
		return tr.newTCPFast(&TCPConnection{Conn: &tcpfStub{raddr: raddr}}, tr.parser.NewSIPStream(), func(Message) {})
	}
	clone := func(edit func(m map[string]HeaderParser)) map[string]HeaderParser {
		m := map[string]HeaderParser{}
		for k, v := range DefaultHeadersParser() {
			m[k] = v
		}
		edit(m)
		return m
	}
	if st := mk(nil, mapped, hook); st == nil || st.from != netip.MustParseAddrPort("192.0.2.1:5070") {
		t.Fatalf("framer %+v, want one with from 192.0.2.1:5070", st)
	}
	if mk(nil, mapped, nil) != nil {
		t.Fatal("a framer without a hook")
	}
	if mk(nil, &net.UnixAddr{Name: "/x", Net: "unix"}, hook) != nil {
		t.Fatal("a framer for a peer that is not a TCP address")
	}
	herald := clone(func(m map[string]HeaderParser) {
		for k, f := range m {
			if k != "content-length" && k != "l" {
				m[k] = func(name []byte, text string) (Header, error) { return f(name, text) }
			}
		}
	})
	if mk(herald, mapped, hook) == nil {
		t.Fatal("no framer with other headers' parsers of their own")
	}
	for name, m := range map[string]map[string]HeaderParser{
		"own Content-Length parser": clone(func(m map[string]HeaderParser) {
			m["content-length"] = func(name []byte, text string) (Header, error) { return headerParserContentLength(name, text) }
		}),
		"no l":                   clone(func(m map[string]HeaderParser) { delete(m, "l") }),
		"another header read so": clone(func(m map[string]HeaderParser) { m["x-length"] = headerParserContentLength }),
	} {
		if mk(m, mapped, hook) != nil {
			t.Fatalf("%s: a framer", name)
		}
	}
}

// TestHeraldTCPFastFrameHeader: the framer's reading of a header section.
func TestHeraldTCPFastFrameHeader(t *testing.T) {
	const start = "OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK1\r\n"
	for h, want := range map[string]int{
		"Content-Length: 12":                           12,
		"content-length:0":                             0,
		"CONTENT-LENGTH \t: \t 7 \t":                   7,
		"l:3":                                          3,
		"L : 65535":                                    65535,
		"Content-Length: 0000000009":                   9,
		"Content-Length: 65536":                        -1, // over max
		"Content-Length: 00000000009":                  -1, // 11 digits
		"Content-Length: 9999999999":                   -1,
		"Content-Length: 1 2":                          -1,
		"Content-Length: 0x1":                          -1,
		"Content-Length: -1":                           -1,
		"Content-Length: ":                             -1,
		"Content-Length:\v1":                           -1,
		"Content-Length\v: 1":                          -1,
		"\vContent-Length: 1":                          -1,
		"Content-Length: 1\xc2\xa0":                    -1, // NBSP: the parser trims it, the framer stands aside
		"Content-Length: 1\r\nl: 1":                    -1,
		"Content-Length: 1\r\n X":                      -1,
		"Content-Length: 1\r\nX":                       -1,
		"Content-Length: 1\r\nX: a\rb":                 -1,
		"Content-Length: 1\r\nX: a\nContent-Length: 2": 1, // one line to the parser: X
		"Content-Lengths: 1\r\nContent-Length: 2":      2,
		"X: 1": -1,
	} {
		got, ok := frameHeader([]byte(start+h+"\r\n\r\n"), 65535)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("%q: %d, want %d", h, got, want)
		}
	}
}

// TestHeraldDialTCP: DialTCP opens a connection through the TCP transport that joins its pool
// (TCPConnection finds it, and a second DialTCP reuses it) and is read like any other: a message
// the peer sends on it goes through the TCPFast hook to the layer's handler.
func TestHeraldDialTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	offered := make(chan string, 1)
	handled := make(chan Message, 1)
	tpl := NewTransportLayer(net.DefaultResolver, NewParser(), nil, WithTransportLayerLogger(slog.New(slog.DiscardHandler)),
		WithTransportLayerTCPFast(func(msg []byte, _ netip.AddrPort) bool { offered <- string(msg); return false }))
	defer tpl.Close()
	tpl.OnMessage(func(m Message) { handled <- m })
	dst := ln.Addr().(*net.TCPAddr).AddrPort()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := tpl.DialTCP(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.TCPConnection(dst); got != c {
		t.Fatalf("TCPConnection(%v) = %p, want the dialled %p", dst, got, c)
	}
	c2, err := tpl.DialTCP(ctx, dst)
	if err != nil || c2 != c {
		t.Fatalf("second DialTCP: %p %v, want the same connection", c2, err)
	}
	_, _ = c2.TryClose()
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(2 * time.Second))
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	msg := "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKd\r\nFrom: <sip:a@h>;tag=1\r\n" +
		"To: <sip:h>\r\nCall-ID: d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := peer.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-offered:
		if got != msg {
			t.Fatalf("offered %q", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the hook was offered nothing read on the dialled connection")
	}
	select {
	case m := <-handled:
		if r, ok := m.(*Request); !ok || r.Method != OPTIONS {
			t.Fatalf("handled %v", m)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the handler got nothing")
	}
	_, _ = c.TryClose()
}

// TestHeraldTCPTryCloseAfterClose: a reference released after the connection's hard close (the
// peer hung up while a server transaction still held it: the reader's CloseAndDelete closes it
// first) logs nothing and does not go negative; a reference released too often on an open
// connection still warns, as upstream.
func TestHeraldTCPTryCloseAfterClose(t *testing.T) {
	var warns atomic.Int32
	old := DefaultLogger()
	SetDefaultLogger(slog.New(warnCounter{&warns}))
	defer SetDefaultLogger(old)
	a, b := net.Pipe()
	defer b.Close()
	c := &TCPConnection{Conn: a, refcount: 2}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if ref, err := c.TryClose(); ref != 0 || err != nil || warns.Load() != 0 {
		t.Fatalf("TryClose after Close: %d %v, %d warnings", ref, err, warns.Load())
	}
	x, y := net.Pipe()
	defer y.Close()
	d := &TCPConnection{Conn: x, refcount: 0}
	defer d.Close()
	if _, _ = d.TryClose(); warns.Load() != 1 {
		t.Fatalf("a negative reference on an open connection: %d warnings, want 1", warns.Load())
	}
}

// warnCounter is a slog.Handler counting warnings.
type warnCounter struct{ n *atomic.Int32 }

func (w warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w warnCounter) Handle(context.Context, slog.Record) error    { w.n.Add(1); return nil }
func (w warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w warnCounter) WithGroup(string) slog.Handler                { return w }
