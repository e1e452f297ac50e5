package msrp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// connState is the per-connection state, stored in gnet.Conn.Context.
//
// Ownership: every field below "loop-owned" is read and written only on the connection's event loop
// (OnOpen/OnTraffic/OnClose and runnables passed to EventLoop().Execute). The atomics are written on the
// loop and read by the sweeper on gnet's ticker goroutine. c and fd are set before the state is published.
type connState struct {
	s  *Server
	c  gnet.Conn
	fd int
	ip netip.Addr

	deadline    atomic.Int64 // s.mono() instant the current phase (bind, transfer, linger) times out
	lastRead    atomic.Int64 // s.mono() of the last bytes from the terminal
	sweepQueued atomic.Bool  // a timeout runnable is queued on the loop
	inPaused    atomic.Bool  // listed in s.paused
	onTimeout   gnet.Runnable

	// loop-owned
	closed    bool // OnClose ran: the gnet.Conn is released and must not be touched
	lingering bool // Herald is done with the connection: discard input, half-close, wait for the peer
	shutWr    bool // SHUT_WR done
	parser    msrp.Parser
	msg       msrp.Message
	out       *[]byte // responses batched during one OnTraffic, from bufPool
	e         *entry  // bound session
	local     []byte  // Herald's URI as the terminal addressed it (its To-Path), copied
	peer      []byte  // the terminal's From-Path, copied
	x         transfer
}

// transfer is the page push of a bound connection. Loop-owned.
type transfer struct {
	active  bool // chunks to write or the final REPORT outstanding
	allSent bool
	ctype   string
	body    []byte // shared, immutable page variant: chunks are sub-slices of it
	msgID   string
	ch      msrp.Chunker
	sent    int64 // body bytes handed to the connection
}

// OnOpen admits or refuses a connection (MaxConns, MaxConnsPerIP) and arms the bind timeout.
func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	var ip netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip = ta.AddrPort().Addr().Unmap()
	}
	if !s.admit(ip) {
		s.st.refusedLimit.Add(1)
		return nil, gnet.Close
	}
	cs := &connState{s: s, c: c, fd: c.Fd(), ip: ip}
	cs.parser.Limits = msrp.Limits{MaxHeaderBytes: s.opts.MaxHeaderBytes, MaxBodyBytes: s.opts.MaxChunkBytes}
	cs.onTimeout = gnet.RunnableFunc(func(context.Context) error {
		cs.timeout()
		return nil
	})
	now := s.mono()
	cs.lastRead.Store(now)
	cs.deadline.Store(now + int64(s.opts.BindTimeout))
	c.SetContext(cs)
	s.conns.add(cs)
	s.st.accepted.Add(1)
	return nil, gnet.None
}

// OnClose reports Disconnected (or Aborted during Stop) for a session still in flight and frees the
// connection's entries.
func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return gnet.None // refused in OnOpen
	}
	s := h.s
	cs.closed = true
	c.SetContext(nil)
	s.conns.remove(cs)
	s.release(cs.ip)
	if cs.e != nil {
		res := push.Result{Outcome: push.Disconnected, Bytes: cs.x.sent, Err: errDisconnected}
		if s.stopping.Load() {
			res = push.Result{Outcome: push.Aborted, Bytes: cs.x.sent, Err: errShutdown}
		} else if err != nil {
			res.Err = errors.Join(errDisconnected, err)
		}
		s.finish(cs.e, res)
		cs.e = nil
	}
	cs.x = transfer{}
	return gnet.None
}

// OnTraffic parses every complete frame (Peek/Discard: no frame bytes outlive this call), batches the
// responses into one Write, then writes page chunks up to the outbound high-water mark.
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return gnet.Close
	}
	s := h.s
	if c.InboundBuffered() > 0 {
		cs.lastRead.Store(s.mono())
	}
	if cs.lingering {
		_, _ = c.Discard(-1)
		cs.tryShutdown()
		return gnet.None
	}
	for !cs.lingering {
		buf, _ := c.Peek(-1)
		if len(buf) == 0 {
			break
		}
		n, err := cs.parser.Parse(buf, &cs.msg)
		if err != nil {
			if errors.Is(err, msrp.ErrIncomplete) {
				break
			}
			cs.frameError(err, buf)
			_, _ = c.Discard(-1)
			break
		}
		if n <= 0 { // cannot happen with a well-behaved parser; never spin on the loop
			cs.end(push.Result{Outcome: push.Failed, Bytes: cs.x.sent, Err: errProtocol})
			break
		}
		cs.handle(&cs.msg)
		cs.msg.Reset() // it aliases buf, which dies with Discard
		_, _ = c.Discard(n)
	}
	if cs.out != nil {
		_, _ = c.Write(*cs.out) // gnet copies what the socket does not take at once
		putBuf(cs.out)
		cs.out = nil
		if cs.closed {
			return gnet.None
		}
	}
	if cs.lingering {
		_, _ = c.Discard(-1)
		cs.tryShutdown()
		return gnet.None
	}
	cs.pump()
	return gnet.None
}

// respond appends a response to the frame m (never to a REPORT: RFC 4975 §7.1.2).
func (cs *connState) respond(m *msrp.Message, code int, comment string) {
	if comment == "" {
		comment = msrp.StatusText(code)
	}
	cs.appendOut(func(b []byte) []byte {
		return msrp.AppendResponse(b, bstr(m.TID), code, comment, msrp.FirstURI(m.FromPath), msrp.LastURI(m.ToPath))
	})
}

// handle acts on one complete frame. m aliases the inbound buffer.
func (cs *connState) handle(m *msrp.Message) {
	if !m.IsRequest() {
		cs.onResponse(m)
		return
	}
	switch string(m.Method) {
	case "SEND":
		cs.onSend(m)
	case "REPORT":
		cs.onReport(m)
	default:
		cs.respond(m, 501, "")
	}
}

// onSend binds the connection (acquisition request) or accepts a SEND on the bound session.
func (cs *connState) onSend(m *msrp.Message) {
	s := cs.s
	// RFC 4975 §7.1.1: Failure-Report "no" suppresses transaction responses.
	quiet := bytes.EqualFold(m.FailureReport, []byte("no"))
	sid, err := msrp.SessionIDOf(msrp.LastURI(m.ToPath))
	if err != nil {
		s.st.malformed.Add(1)
		cs.respond(m, 400, "bad To-Path")
		return
	}
	if cs.e != nil {
		switch {
		case bytes.Equal(sid, []byte(cs.e.sess.ID)):
			if !quiet {
				cs.respond(m, 200, "")
			}
		default:
			s.st.bindRejected.Add(1)
			cs.respond(m, 403, "connection bound to another session")
		}
		return
	}
	e := s.sessions.get(sid)
	if e == nil || s.mono() >= e.expires {
		s.st.bindUnknown.Add(1)
		cs.respond(m, 481, "")
		return
	}
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		s.st.bindUnknown.Add(1)
		cs.respond(m, 481, "")
		return
	case e.conn != nil:
		e.mu.Unlock()
		s.st.bindRejected.Add(1)
		cs.respond(m, 403, "session already bound")
		return
	}
	e.conn = cs
	e.mu.Unlock()

	cs.e = e
	cs.peer = append(cs.peer[:0], m.FromPath...)
	cs.local = append(cs.local[:0], m.ToPath...)
	s.st.binds.Add(1)
	if !quiet {
		cs.respond(m, 200, "")
	}
	ctype, body := e.sess.Page.Variant(e.sess.Accept)
	cs.x = transfer{
		active: true,
		ctype:  ctype,
		body:   body,
		msgID:  msrp.NewMessageID(),
		ch:     msrp.NewChunker(int64(len(body)), s.opts.ChunkSize),
	}
	cs.deadline.Store(s.mono() + int64(s.opts.TransferTimeout))
}

// onReport ends the transfer on the terminal's REPORT for our Message-ID. REPORTs are never answered.
func (cs *connState) onReport(m *msrp.Message) {
	s := cs.s
	x := &cs.x
	if cs.e == nil || !x.active || string(m.MessageID) != x.msgID {
		s.st.reportsUnknown.Add(1)
		return
	}
	code, err := m.ReportStatus()
	if err != nil {
		s.st.malformed.Add(1)
		return
	}
	total := int64(len(x.body))
	if code != 200 {
		cs.end(push.Result{Outcome: push.Failed, Code: code, Bytes: x.sent, Err: errFailureReport})
		return
	}
	br := m.ByteRange
	if m.HasByteRange && (br.Start != 1 || br.End != total) {
		return // a partial success report: progress, not the end
	}
	cs.end(push.Result{Outcome: push.Delivered, Code: 200, Bytes: total})
}

// onResponse takes the terminal's transaction responses to our chunks: 200 is progress, anything else
// fails the transfer.
func (cs *connState) onResponse(m *msrp.Message) {
	if cs.e == nil || !cs.x.active || m.Status == 200 {
		return
	}
	cs.end(push.Result{Outcome: push.Failed, Code: m.Status, Bytes: cs.x.sent, Err: errFailureResponse})
}

// frameError answers a malformed (400) or oversized (413) request when its transaction id is known, then
// ends the connection. buf is the unparsed input, used to find the paths the answer must carry.
func (cs *connState) frameError(err error, buf []byte) {
	s := cs.s
	code := 400
	if errors.Is(err, msrp.ErrHeaderTooLarge) || errors.Is(err, msrp.ErrBodyTooLarge) {
		code = 413
		s.st.tooLarge.Add(1)
	} else {
		s.st.malformed.Add(1)
	}
	var fe *msrp.FrameError
	if errors.As(err, &fe) && fe.TID != nil && fe.Request {
		to, from := rawPaths(buf[:min(len(buf), s.opts.MaxHeaderBytes)])
		switch {
		case len(from) > 0:
			to, from = msrp.FirstURI(from), msrp.LastURI(to)
		case len(cs.peer) > 0:
			to, from = msrp.FirstURI(cs.peer), msrp.LastURI(cs.local)
		default:
			to, from = nil, msrp.LastURI(to)
		}
		if len(to) == 0 {
			to = []byte(s.PathURI("-"))
		}
		if len(from) == 0 {
			from = []byte(s.PathURI("-"))
		}
		cs.appendOut(func(b []byte) []byte {
			return msrp.AppendResponse(b, bstr(fe.TID), code, msrp.StatusText(code), to, from)
		})
	}
	cs.end(push.Result{Outcome: push.Failed, Code: code, Bytes: cs.x.sent, Err: errors.Join(errProtocol, err)})
}

// rawPaths finds the To-Path and From-Path values in the head of a frame the parser rejected, so that
// the 400/413 answer can be addressed (RFC 4975 §7.2: responses carry both). It copies nothing: the
// result aliases head and is used before Discard.
func rawPaths(head []byte) (to, from []byte) {
	for len(head) > 0 {
		nl := bytes.IndexByte(head, '\n')
		line := head
		if nl >= 0 {
			line, head = head[:nl], head[nl+1:]
		} else {
			head = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("To-Path")) && to == nil:
			to = value
		case bytes.EqualFold(name, []byte("From-Path")) && from == nil:
			from = value
		}
	}
	return to, from
}

// end reports res for the bound session (if any) and starts the lingering close.
func (cs *connState) end(res push.Result) {
	if cs.e != nil {
		cs.s.finish(cs.e, res)
		cs.e = nil
	}
	cs.x.active = false
	cs.linger()
}

// linger stops processing input and half-closes the connection once its outbound buffer is empty, so
// that the last frames are not destroyed by a reset; the peer's close (or lingerTimeout) finishes it.
func (cs *connState) linger() {
	if cs.lingering || cs.closed {
		return
	}
	cs.lingering = true
	cs.deadline.Store(cs.s.mono() + int64(lingerTimeout))
}

// tryShutdown half-closes once gnet has flushed everything, or waits for the ticker to look again.
func (cs *connState) tryShutdown() {
	if cs.shutWr || cs.closed {
		return
	}
	if cs.c.OutboundBuffered() > 0 {
		cs.s.addPaused(cs)
		return
	}
	cs.shutWr = true
	_ = unix.Shutdown(cs.fd, unix.SHUT_WR)
}

// maxBatch is the most chunks written with one writev.
const maxBatch = 16

// batch is the scratch of one writev: the chunk heads and end-lines share b, vec points into b and into
// the page body. Pooled, so that idle connections hold no write buffers.
type batch struct {
	b    []byte
	vec  [][]byte
	offs [maxBatch][3]int // head start, head end (= end-line start), end-line end in b
	brs  [maxBatch]msrp.ByteRange
	n    int
}

var batchPool = sync.Pool{New: func() any { return &batch{b: make([]byte, 0, 4096), vec: make([][]byte, 0, 3*maxBatch)} }}

// add appends the head and end-line of one chunk.
func (bt *batch) add(cs *connState, br msrp.ByteRange, flag byte) {
	x := &cs.x
	tid := msrp.NewTID()
	hs := len(bt.b)
	bt.b = msrp.AppendSendChunkHead(bt.b, tid, cs.peer, cs.local, x.msgID, br, x.ctype, "render")
	he := len(bt.b)
	bt.b = msrp.AppendEndLine(bt.b, tid, flag, true)
	bt.offs[bt.n] = [3]int{hs, he, len(bt.b)}
	bt.brs[bt.n] = br
	bt.n++
}

// write sends the batch with one Writev: head, a sub-slice of the shared page body and the end-line per
// chunk. Herald never copies the page; gnet copies only what the socket does not take at once.
func (bt *batch) write(cs *connState) {
	x := &cs.x
	bt.vec = bt.vec[:0]
	var body int64
	for i := range bt.n {
		o, br := bt.offs[i], bt.brs[i]
		bt.vec = append(bt.vec, bt.b[o[0]:o[1]], x.body[br.Start-1:br.End], bt.b[o[1]:o[2]])
		body += br.Len()
	}
	last := bt.brs[bt.n-1]
	_, _ = cs.c.Writev(bt.vec)
	clear(bt.vec)
	bt.vec, bt.b, bt.n = bt.vec[:0], bt.b[:0], 0
	if cap(bt.b) <= 64<<10 {
		batchPool.Put(bt)
	}
	if cs.closed {
		return
	}
	x.sent = last.End
	cs.s.st.bytesSent.Add(body)
	cs.s.st.noteOutbound(int64(cs.c.OutboundBuffered()))
}

// pump writes SEND chunks while the connection's outbound backlog is below MaxOutbound: each writev
// carries at most the room left under the mark (and at least one chunk), so the backlog never exceeds
// MaxOutbound plus one chunk frame. A paused transfer resumes on the next tick (resumePaused).
func (cs *connState) pump() {
	x := &cs.x
	s := cs.s
	mark := s.opts.MaxOutbound
	for x.active && !x.allSent && !cs.closed && !cs.lingering {
		ob := cs.c.OutboundBuffered()
		if ob >= mark {
			if s.addPaused(cs) {
				s.st.pauses.Add(1)
			}
			return
		}
		budget := mark - ob
		bt := batchPool.Get().(*batch)
		for size := 0; bt.n < maxBatch && size < budget; {
			br, last, ok := x.ch.Next()
			if !ok {
				x.allSent = true
				break
			}
			flag := msrp.FlagMore
			if last {
				flag = msrp.FlagEnd
				x.allSent = true
			}
			bt.add(cs, br, flag)
			size += int(br.Len()) + 256 // 256: about one head and end-line
			if last {
				break
			}
		}
		if bt.n == 0 {
			batchPool.Put(bt)
			return
		}
		bt.write(cs)
	}
}

// abort runs on the loop for Close(id): the chunk in progress ends with '#', Aborted is reported.
func (cs *connState) abort(e *entry) {
	if cs.closed || cs.e != e {
		return
	}
	x := &cs.x
	if x.active && !x.allSent {
		// RFC 4975 §7.1: the sender interrupts the message by ending a chunk with '#'. Herald writes whole
		// chunks, so the interrupted chunk is the next one, cut short: its range ends where the body stops.
		total := int64(len(x.body))
		n := max(1, min(total-x.sent, int64(cs.s.opts.ChunkSize)/2))
		bt := batchPool.Get().(*batch)
		bt.add(cs, msrp.ByteRange{Start: x.sent + 1, End: x.sent + n, Total: total}, msrp.FlagAbort)
		bt.write(cs)
		if cs.closed {
			return
		}
	}
	cs.end(push.Result{Outcome: push.Aborted, Bytes: x.sent, Err: errClosed})
	cs.tryShutdown()
}

// timeout runs on the loop when the sweeper saw a deadline pass.
func (cs *connState) timeout() {
	cs.sweepQueued.Store(false)
	if cs.closed {
		return
	}
	s := cs.s
	now := s.mono()
	idle := now-cs.lastRead.Load() >= int64(s.opts.IdleTimeout)
	due := now >= cs.deadline.Load()
	switch {
	case cs.lingering:
		if due {
			_ = cs.c.EventLoop().Close(cs.c)
		}
	case cs.e == nil && (due || idle):
		// Nothing was promised on this connection: close it outright.
		if due {
			s.st.bindTimeouts.Add(1)
		} else {
			s.st.idleTimeouts.Add(1)
		}
		_ = cs.c.EventLoop().Close(cs.c)
	case cs.e != nil && due:
		cs.end(push.Result{Outcome: push.TimedOut, Bytes: cs.x.sent, Err: errTransferTimeout})
		cs.tryShutdown()
	case idle:
		s.st.idleTimeouts.Add(1)
		cs.end(push.Result{Outcome: push.TimedOut, Bytes: cs.x.sent, Err: errIdleTimeout})
		cs.tryShutdown()
	}
}

// bufPool holds scratch buffers for response batches and chunk heads, so idle connections hold none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// appendOut appends to the response batch of this OnTraffic.
func (cs *connState) appendOut(f func([]byte) []byte) {
	if cs.out == nil {
		cs.out = getBuf()
	}
	*cs.out = f(*cs.out)
}

// bstr views b as a string for the serializers, which only append it.
func bstr(b []byte) string { return string(b) }
