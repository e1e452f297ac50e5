package msrpbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// Baseline defaults, the same values as netio/msrp's.
const (
	DefaultChunkSize       = 2048
	DefaultMaxHeaderBytes  = 8 << 10
	DefaultMaxChunkBytes   = 16 << 10
	DefaultBindTimeout     = 30 * time.Second
	DefaultTransferTimeout = 30 * time.Second
	DefaultLinger          = 2 * time.Second
	DefaultReadBufSize     = 4 << 10
	// chunksPerWritev bounds one writev (and the pooled scratch) to 32 chunks: 64 KiB of body.
	chunksPerWritev = 32
)

// BaselineOptions configures a [Baseline]. Zero fields take the defaults above.
type BaselineOptions struct {
	Listen                        string // default "127.0.0.1:0"
	ChunkSize                     int
	MaxHeaderBytes, MaxChunkBytes int
	BindTimeout, TransferTimeout  time.Duration
	Linger                        time.Duration // how long a finished connection waits for the peer's close
	ReadBufSize                   int           // initial per-connection read buffer; grows for big frames
	// LingerAfterDelivery restores the close of the first measurements (bench/results/history/msrp-plane.md
	// before Session 2): half-close and wait for the terminal's close even after a complete delivery.
	// By default the baseline closes as netio/msrp does: at once when the success REPORT arrived, all
	// input is consumed and nothing is left to send.
	LingerAfterDelivery bool
	// TCPKeepAlive restores Go's default TCP keep-alive on accepted connections (four setsockopt calls per
	// accept). netio/msrp enables no TCP keep-alive (its idle timeout closes silent connections), so by
	// default neither does the baseline.
	TCPKeepAlive bool
}

// BaselineStats are the baseline's counters.
type BaselineStats struct {
	Accepted, Open                  int64
	Delivered, Failed, Disconnected int64
}

// Baseline is a goroutine-per-connection MSRP push server on net.Listener, written for the comparison
// with netio/msrp: same protocol, same limits, same results on push.Session.Done. It implements
// [push.Plane] (Close ends a bound transfer by closing its connection; it does not send a '#' chunk).
type Baseline struct {
	opts BaselineOptions
	ln   net.Listener
	host string
	port int
	wg   sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*bsession
	conns    map[net.Conn]struct{}
	stopped  bool

	accepted, open, delivered, failed, disconnected atomic.Int64
}

// bsession is one registered push session; mu of the Baseline guards bound, conn and closed.
type bsession struct {
	sess   *push.Session
	bound  bool
	closed bool
	conn   net.Conn
	done   atomic.Bool
}

// NewBaseline listens on opts.Listen and starts accepting connections.
func NewBaseline(opts BaselineOptions) (*Baseline, error) {
	def := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	defd := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	def(&opts.ChunkSize, DefaultChunkSize)
	def(&opts.MaxHeaderBytes, DefaultMaxHeaderBytes)
	def(&opts.MaxChunkBytes, DefaultMaxChunkBytes)
	def(&opts.ReadBufSize, DefaultReadBufSize)
	defd(&opts.BindTimeout, DefaultBindTimeout)
	defd(&opts.TransferTimeout, DefaultTransferTimeout)
	defd(&opts.Linger, DefaultLinger)
	lc := net.ListenConfig{KeepAlive: -1}
	if opts.TCPKeepAlive {
		lc.KeepAlive = 0 // Go's default
	}
	ln, err := lc.Listen(context.Background(), "tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("msrpbench: baseline listen: %w", err)
	}
	ta := ln.Addr().(*net.TCPAddr)
	b := &Baseline{
		opts:     opts,
		ln:       ln,
		host:     ta.IP.String(),
		port:     ta.Port,
		sessions: make(map[string]*bsession),
		conns:    make(map[net.Conn]struct{}),
	}
	b.wg.Add(1)
	go b.acceptLoop()
	return b, nil
}

// Open registers s so that a terminal can bind to it until s.Expires.
func (b *Baseline) Open(s *push.Session) error {
	if s == nil || s.ID == "" || s.Page == nil || s.Done == nil {
		return fmt.Errorf("%w: incomplete session", ErrProtocol)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return ErrClosed
	}
	if _, dup := b.sessions[s.ID]; dup {
		return push.ErrDuplicate
	}
	b.sessions[s.ID] = &bsession{sess: s}
	return nil
}

// Close ends session id: a bound connection is closed, Aborted is reported unless a result was.
func (b *Baseline) Close(id string) {
	b.mu.Lock()
	bs := b.sessions[id]
	var c net.Conn
	if bs != nil {
		bs.closed = true
		c = bs.conn
	}
	b.mu.Unlock()
	if bs == nil {
		return
	}
	b.finish(bs, push.Result{Outcome: push.Aborted, Err: errAborted})
	if c != nil {
		_ = c.Close()
	}
}

// PathURI is the a=path URI for session id.
func (b *Baseline) PathURI(id string) string {
	return msrp.URI{Host: b.host, Port: b.port, SessionID: id, Transport: "tcp"}.String()
}

// Addr is the bound host and port.
func (b *Baseline) Addr() (host string, port int) { return b.host, b.port }

// Stats returns the counters.
func (b *Baseline) Stats() BaselineStats {
	return BaselineStats{
		Accepted: b.accepted.Load(), Open: b.open.Load(),
		Delivered: b.delivered.Load(), Failed: b.failed.Load(), Disconnected: b.disconnected.Load(),
	}
}

// Stop closes the listener and every connection, waits for their goroutines and reports Aborted for
// every session without a result.
func (b *Baseline) Stop() {
	b.mu.Lock()
	b.stopped = true
	conns := make([]net.Conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	_ = b.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	b.wg.Wait()
	b.mu.Lock()
	rest := make([]*bsession, 0, len(b.sessions))
	for _, bs := range b.sessions {
		rest = append(rest, bs)
	}
	b.mu.Unlock()
	for _, bs := range rest {
		b.finish(bs, push.Result{Outcome: push.Aborted, Err: ErrClosed})
	}
}

func (b *Baseline) acceptLoop() {
	defer b.wg.Done()
	var backoff time.Duration
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off and keep accepting, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		b.mu.Lock()
		if b.stopped {
			b.mu.Unlock()
			_ = c.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		b.accepted.Add(1)
		b.open.Add(1)
		go b.serve(c)
	}
}

// finish reports res for bs once and forgets the session.
func (b *Baseline) finish(bs *bsession, res push.Result) {
	if !bs.done.CompareAndSwap(false, true) {
		return
	}
	b.mu.Lock()
	bs.closed = true
	if b.sessions[bs.sess.ID] == bs {
		delete(b.sessions, bs.sess.ID)
	}
	b.mu.Unlock()
	switch res.Outcome {
	case push.Delivered:
		b.delivered.Add(1)
	case push.Disconnected:
		b.disconnected.Add(1)
	default:
		b.failed.Add(1)
	}
	res.SessionID = bs.sess.ID
	select {
	case bs.sess.Done <- res:
	default:
	}
}

// bconn is the state of one connection, owned by its goroutine.
type bconn struct {
	b     *Baseline
	nc    net.Conn
	p     msrp.Parser
	m     msrp.Message
	out   []byte // responses batched during one read
	bs    *bsession
	local []byte // our URI as the terminal addressed it
	peer  []byte // the terminal's From-Path
	// transfer
	ctype     string
	body      []byte
	msgID     string
	ch        msrp.Chunker
	sending   bool // chunks remain to be written
	active    bool // the final REPORT is outstanding
	sent      int64
	ended     bool // the connection is finished: linger and close
	delivered bool // the success REPORT for the whole page arrived
}

// writeScratch is pooled: chunk heads and the writev vector of one batch of chunks.
type writeScratch struct {
	heads []byte
	vec   net.Buffers
}

var scratchPool = sync.Pool{New: func() any {
	return &writeScratch{heads: make([]byte, 0, chunksPerWritev*320), vec: make(net.Buffers, 0, 1+3*chunksPerWritev)}
}}

// serve runs one connection: read, parse every complete frame, answer, push the page, linger, close.
func (b *Baseline) serve(nc net.Conn) {
	defer b.wg.Done()
	c := &bconn{b: b, nc: nc}
	c.p.Limits = msrp.Limits{MaxHeaderBytes: b.opts.MaxHeaderBytes, MaxBodyBytes: b.opts.MaxChunkBytes}
	defer c.close()
	_ = nc.SetDeadline(time.Now().Add(b.opts.BindTimeout))

	maxBuf := b.opts.MaxHeaderBytes + b.opts.MaxChunkBytes + 64
	buf := make([]byte, b.opts.ReadBufSize)
	r, w := 0, 0 // buf[r:w] is unparsed input
	for !c.ended {
		n, err := nc.Read(buf[w:])
		w += n
		for r < w && !c.ended {
			k, perr := c.p.Parse(buf[r:w], &c.m)
			if errors.Is(perr, msrp.ErrIncomplete) {
				break
			}
			if perr != nil {
				c.frameError(perr)
				break
			}
			c.handle(&c.m)
			c.m.Reset()
			r += k
		}
		// As netio/msrp: once the terminal confirmed the whole page, everything it sent is consumed and
		// nothing is left to send, close at once (no reset can destroy anything) instead of lingering.
		closeNow := c.delivered && r == w && len(c.out) == 0 && !c.b.opts.LingerAfterDelivery
		if werr := c.flush(); werr != nil {
			c.end(push.Result{Outcome: push.Disconnected, Bytes: c.sent, Err: errors.Join(errDisconnected, werr)})
			return
		}
		if closeNow {
			return // the deferred close
		}
		if c.ended {
			break
		}
		if err != nil {
			res := push.Result{Outcome: push.Disconnected, Bytes: c.sent, Err: errors.Join(errDisconnected, err)}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				res = push.Result{Outcome: push.TimedOut, Bytes: c.sent, Err: errTransferTO}
			}
			c.end(res)
			return
		}
		switch {
		case r == w: // everything parsed: start over, and give back a buffer grown for a big frame
			r, w = 0, 0
			if len(buf) > b.opts.ReadBufSize {
				buf = make([]byte, b.opts.ReadBufSize)
			}
		case w == len(buf) && r > 0: // a partial frame at the end: move it to the front
			w = copy(buf, buf[r:w])
			r = 0
		case w == len(buf): // one frame bigger than the buffer: grow (the parser enforces the limits)
			nb := make([]byte, min(2*len(buf), maxBuf))
			w = copy(nb, buf[r:w])
			buf, r = nb, 0
		}
	}
	c.linger(buf)
}

// close releases the connection and reports Disconnected for a transfer still in flight.
func (c *bconn) close() {
	b := c.b
	if c.bs != nil {
		b.finish(c.bs, push.Result{Outcome: push.Disconnected, Bytes: c.sent, Err: errDisconnected})
	}
	_ = c.nc.Close()
	b.mu.Lock()
	delete(b.conns, c.nc)
	b.mu.Unlock()
	b.open.Add(-1)
}

// linger half-closes and waits (bounded) for the terminal to close its side, as netio/msrp does, so
// that the last frames are not destroyed by a reset.
func (c *bconn) linger(buf []byte) {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.b.opts.Linger))
	for {
		if _, err := c.nc.Read(buf); err != nil {
			return
		}
	}
}

// end reports res for the bound session and marks the connection finished.
func (c *bconn) end(res push.Result) {
	if c.bs != nil {
		c.b.finish(c.bs, res)
		c.bs = nil
	}
	c.sending, c.active, c.ended = false, false, true
}

func (c *bconn) respond(m *msrp.Message, code int, comment string) {
	if comment == "" {
		comment = msrp.StatusText(code)
	}
	c.out = msrp.AppendResponse(c.out, string(m.TID), code, comment, msrp.FirstURI(m.FromPath), msrp.LastURI(m.ToPath))
}

func (c *bconn) handle(m *msrp.Message) {
	if !m.IsRequest() {
		if c.bs != nil && c.active && m.Status != 200 {
			c.end(push.Result{Outcome: push.Failed, Code: m.Status, Bytes: c.sent, Err: errFailureReport})
		}
		return
	}
	switch string(m.Method) {
	case "SEND":
		c.onSend(m)
	case "REPORT":
		c.onReport(m)
	default:
		c.respond(m, 501, "")
	}
}

func (c *bconn) onSend(m *msrp.Message) {
	b := c.b
	quiet := bytes.EqualFold(m.FailureReport, []byte("no"))
	sid, err := msrp.SessionIDOf(msrp.LastURI(m.ToPath))
	if err != nil {
		c.respond(m, 400, "bad To-Path")
		return
	}
	if c.bs != nil {
		if string(sid) == c.bs.sess.ID {
			if !quiet {
				c.respond(m, 200, "")
			}
		} else {
			c.respond(m, 403, "connection bound to another session")
		}
		return
	}
	b.mu.Lock()
	bs := b.sessions[string(sid)]
	code := 0
	switch {
	case bs == nil || bs.closed || time.Now().After(bs.sess.Expires):
		code = 481
	case bs.bound:
		code = 403
	default:
		bs.bound, bs.conn = true, c.nc
	}
	b.mu.Unlock()
	if code != 0 {
		c.respond(m, code, "")
		return
	}
	c.bs = bs
	c.peer = append(c.peer[:0], m.FromPath...)
	c.local = append(c.local[:0], m.ToPath...)
	if !quiet {
		c.respond(m, 200, "")
	}
	c.ctype, c.body = bs.sess.Page.Variant(bs.sess.Accept)
	c.msgID = msrp.NewMessageID()
	c.ch = msrp.NewChunker(int64(len(c.body)), b.opts.ChunkSize)
	c.sending, c.active = true, true
	_ = c.nc.SetDeadline(time.Now().Add(b.opts.TransferTimeout))
}

func (c *bconn) onReport(m *msrp.Message) {
	if c.bs == nil || !c.active || string(m.MessageID) != c.msgID {
		return
	}
	code, err := m.ReportStatus()
	if err != nil {
		return
	}
	total := int64(len(c.body))
	if code != 200 {
		c.end(push.Result{Outcome: push.Failed, Code: code, Bytes: c.sent, Err: errFailureReport})
		return
	}
	if br := m.ByteRange; m.HasByteRange && (br.Start != 1 || br.End != total) {
		return
	}
	c.end(push.Result{Outcome: push.Delivered, Code: 200, Bytes: total})
	c.delivered = true
}

// frameError answers a malformed or oversized request when its transaction id is known and ends the
// connection.
func (c *bconn) frameError(err error) {
	var fe *msrp.FrameError
	if errors.As(err, &fe) && fe.TID != nil && fe.Request {
		to := msrp.FirstURI(c.peer)
		if len(to) == 0 {
			to = []byte(c.b.PathURI("-"))
		}
		c.out = msrp.AppendResponse(c.out, string(fe.TID), fe.StatusCode(), msrp.StatusText(fe.StatusCode()),
			to, []byte(c.b.PathURI("-")))
	}
	c.end(push.Result{Outcome: push.Failed, Code: 400, Bytes: c.sent, Err: err})
}

// flush writes the batched responses and, while a transfer is sending, the page chunks: one writev per
// up to chunksPerWritev chunks, with the chunk bodies as slices of the shared page. A slow reader blocks
// this goroutine in writev, which is the goroutine model's flow control.
func (c *bconn) flush() error {
	if len(c.out) == 0 && !c.sending {
		return nil
	}
	ws := scratchPool.Get().(*writeScratch)
	defer scratchPool.Put(ws)
	out := c.out
	for {
		ws.heads, ws.vec = ws.heads[:0], ws.vec[:0]
		if len(out) > 0 {
			ws.vec = append(ws.vec, out)
			out = nil
		}
		// Heads and end-lines are appended to one scratch; record offsets first, slice afterwards, since
		// append may move the scratch.
		var offs [chunksPerWritev][3]int
		nch := 0
		for c.sending && nch < chunksPerWritev {
			br, last, ok := c.ch.Next()
			if !ok {
				c.sending = false
				break
			}
			tid := msrp.NewTID()
			flag := msrp.FlagMore
			if last {
				flag = msrp.FlagEnd
				c.sending = false
			}
			offs[nch][0] = len(ws.heads)
			ws.heads = msrp.AppendSendChunkHead(ws.heads, tid, c.peer, c.local, c.msgID, br, c.ctype, "render")
			offs[nch][1] = len(ws.heads)
			ws.heads = msrp.AppendEndLine(ws.heads, tid, flag, true)
			offs[nch][2] = int(br.End)
			nch++
		}
		for i := range nch {
			start, mid := offs[i][0], offs[i][1]
			end := len(ws.heads)
			if i+1 < nch {
				end = offs[i+1][0]
			}
			bodyEnd := int64(offs[i][2])
			bodyStart := c.sent
			ws.vec = append(ws.vec, ws.heads[start:mid], c.body[bodyStart:bodyEnd], ws.heads[mid:end])
			c.sent = bodyEnd
		}
		if len(ws.vec) == 0 {
			break
		}
		vec := ws.vec // WriteTo consumes its receiver
		if _, err := vec.WriteTo(c.nc); err != nil {
			c.out = c.out[:0]
			return err
		}
		if !c.sending {
			break
		}
	}
	c.out = c.out[:0]
	return nil
}

var _ push.Plane = (*Baseline)(nil)
