package msrp

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/safe"
)

// connState is the per-connection state of either transport: stored in gnet.Conn.Context for TCP, owned
// by the connection's goroutine for TLS (see wire).
//
// Ownership: every field below "loop-owned" is read and written only by the connection's owner: its event
// loop (OnOpen/OnTraffic/OnClose and runnables passed to EventLoop().Execute), or for TLS whoever holds
// the connection's mutex. The atomics are written by the owner and read by the timer goroutine. w, ip and
// secure are set before the state is published; fork and nextBound belong to the bound entry's mutex.
type connState struct {
	s      *Server
	w      wire
	ip     netip.Addr
	secure bool // msrps: a TLS connection

	deadline    atomic.Int64 // s.mono() instant the current phase (bind, transfer, linger) times out
	lastRead    atomic.Int64 // s.mono() of the last bytes from the terminal
	sweepQueued atomic.Bool  // a timeout runnable is queued on the loop
	inPaused    atomic.Bool  // listed in s.paused
	lingerOnly  atomic.Bool  // lingering: the node is due at the linger deadline, the idle limit is over
	fork        bool         // a Forkable session's further binding (fork.go): set by claim under e.mu
	nextBound   *connState   // next in e.conn, the bindings of a Forkable e in flight: guarded by e.mu
	tn          tnode        // timer node (wheel-owned links)
	gw          gnetWire     // w for a gnet connection (w = &gw: no allocation of its own)

	// loop-owned
	closed     bool  // OnClose ran: the gnet.Conn is released and must not be touched
	released   bool  // the admission (MaxConns, MaxConnsPerIP) is given back
	held       int   // gnet: bytes of an unfinished frame left in gnet's inbound buffer after OnTraffic
	lingering  bool  // Herald is done with the connection: discard input, half-close, wait for the peer
	hereClose  bool  // Herald closes the connection itself (else a lingering close is the peer's)
	lingerQ    int   // bytes queued toward the peer at the last linger check (lingerCheck)
	lingerCap  int64 // s.mono() instant a lingering connection is closed at the latest (LingerMax)
	delivered  bool  // the success REPORT for the whole page arrived
	closeReady bool  // delivered, all input consumed, nothing to send: the transport closes now
	shutWr     bool  // SHUT_WR done
	parser     msrp.Parser
	out        *[]byte // responses batched during one OnTraffic, from bufPool
	e          *entry  // bound session
	bindTID    []byte  // Herald active: transaction id of its binding SEND, until the 200
	local      []byte  // Herald's URI as the terminal addressed it (its To-Path), copied
	peer       []byte  // the terminal's From-Path, copied
	x          transfer
	openedAt   int64 // s.mono() at admission (latency.go)
	boundAt    int64 // s.mono() at the binding, 0 before (latency.go)
}

// transfer is the page push of a bound connection. Loop-owned.
type transfer struct {
	active  bool // chunks to write or the final REPORT outstanding
	allSent bool
	ctype   string
	body    []byte            // shared, immutable page variant: chunks are sub-slices of it
	msgID   [msrp.TIDLen]byte // Message-ID (held inline: no allocation per transfer)
	ch      msrp.Chunker
	sent    int64 // body bytes handed to the connection
	// reported is how far success REPORTs of parts of the page (one per chunk, RFC 4975 §7.1.2)
	// cover it from its first byte without a gap.
	reported int64
}

// newConnState makes the state of an admitted connection and arms its bind timeout. A nil w is a gnet
// connection c: its wire lives inside the state (one allocation for both).
func (s *Server) newConnState(w wire, c gnet.Conn, ip netip.Addr, secure bool) *connState {
	cs := &connState{s: s, w: w, ip: ip, secure: secure}
	if w == nil {
		cs.gw = gnetWire{c}
		cs.w = &cs.gw
	}
	cs.parser.Limits = msrp.Limits{MaxHeaderBytes: s.opts.MaxHeaderBytes, MaxBodyBytes: s.opts.MaxChunkBytes}
	cs.tn.cs = cs
	now := s.mono()
	cs.openedAt = now
	cs.lastRead.Store(now)
	cs.setDeadline(now + int64(s.opts.BindTimeout))
	s.st.accepted.Add(1)
	return cs
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// OnOpen admits or refuses a connection (MaxConns, MaxConnsPerIP) and arms the bind timeout.
func (h *handler) OnOpen(c gnet.Conn) (out []byte, action gnet.Action) {
	admitted := false
	defer func() {
		if r := recover(); r != nil {
			safe.Recovered(safe.MSRP, h.s.log, r)
			if cs, _ := c.Context().(*connState); cs != nil {
				cs.abandon() // OnClose releases the admission
			} else if admitted {
				h.s.release(remoteIP(c.RemoteAddr()))
			}
			out, action = nil, gnet.Close
		}
	}()
	if h.pin != nil {
		if err := h.pin.Pin(); err != nil { // first connection on this loop's thread pins it
			h.s.log.Warn("msrp loop runs unpinned", "error", err)
		}
	}
	s := h.s
	ip := remoteIP(c.RemoteAddr())
	if !s.admit(ip) {
		s.st.refusedLimit.Add(1)
		return nil, gnet.Close
	}
	admitted = true
	sockLowat(c.Fd())
	c.SetContext(s.newConnState(nil, c, ip, false))
	hookPanic(s, atOnOpen)
	return nil, gnet.None
}

// OnClose reports Disconnected (or Aborted during Stop) for a session still in flight and frees the
// connection's entries.
func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return gnet.None // refused in OnOpen
	}
	c.SetContext(nil)
	defer func() {
		if r := recover(); r != nil {
			safe.Recovered(safe.MSRP, h.s.log, r)
			cs.closeAfterPanic()
		}
	}()
	hookPanic(cs.s, atOnClose)
	cs.onClosed(err)
	return gnet.None
}

// onClosed runs once the transport is gone, on the connection's owner.
func (cs *connState) onClosed(err error) {
	s := cs.s
	cs.closed = true
	s.wheel.kill(&cs.tn)
	cs.releaseAdmission()
	if cs.lingering && !cs.hereClose && !s.stopping.Load() {
		s.st.lingerPeer.Add(1) // the terminal closed (or reset) during the lingering close
	}
	if cs.e != nil {
		res := push.Result{Outcome: push.Disconnected, Bytes: cs.x.sent, Err: errDisconnected}
		if s.stopping.Load() {
			res = push.Result{Outcome: push.Aborted, Bytes: cs.x.sent, Err: errShutdown}
		} else if err != nil {
			res.Err = errors.Join(errDisconnected, err)
		}
		cs.settle(res)
	}
	if cs.out != nil {
		putBuf(cs.out)
		cs.out = nil
	}
	cs.x = transfer{}
}

// OnTraffic hands gnet's inbound bytes to the shared frame handling (Peek/Discard: no frame bytes outlive
// this call). It discards exactly what input consumed and leaves the rest, a frame's unfinished prefix, in
// gnet's inbound buffer: the next OnTraffic's Peek(-1) starts with the same bytes, followed by the new ones,
// as the Parser's resumption requires. Discard is never called with 0: gnet v2.9.7's Conn.Discard treats
// n <= 0 as "discard everything" (connection_unix.go), which would drop the prefix of a frame split across
// reads, so that the next read was parsed from the middle of the frame (issue 11: a bodiless SEND split in
// two segments got a 400 with a transaction id from the wrong bytes, or a silent close, instead of its 481).
func (h *handler) OnTraffic(c gnet.Conn) (action gnet.Action) {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return gnet.Close
	}
	defer func() {
		if r := recover(); r != nil {
			action = cs.recovered(r)
		}
	}()
	hookPanic(cs.s, atOnTraffic)
	buf, _ := c.Peek(-1)
	if fresh := len(buf) - cs.held; fresh > 0 { // 0 for a wake-up (Wake) with nothing new read
		cs.lastRead.Store(cs.s.mono())
		cs.s.st.bytesReceived.Add(int64(fresh))
	}
	n := cs.input(buf)
	if !cs.closed {
		if n > 0 {
			_, _ = c.Discard(n)
		}
		cs.held = c.InboundBuffered() // what gnet keeps for the next OnTraffic
		if cs.closeReady {
			return gnet.Close
		}
	}
	return gnet.None
}

// input is the transport-independent frame handling: it parses and handles every complete frame of buf,
// batches the responses, writes page chunks up to the outbound high-water mark (the responses lead the
// first writev, so the bind's 200 shares a segment with the first chunks) and returns how many bytes of
// buf are consumed. Frames alias buf; nothing of them outlives the call.
//
// The contract with the transports (and, through it, with core/msrp's Parser.Parse): input returns the
// number of leading bytes of buf it consumed, from 0 to len(buf). 0 means "nothing complete yet, need
// more". The caller must drop exactly those bytes and keep the rest, unchanged and in order, and the next
// call's buf must start with them followed by whatever arrived since: the connection's Parser remembers
// how far it scanned the unfinished frame at the start of buf. Any segmentation of the stream therefore
// gives the same frames (TestSplitEveryByte and friends, split_test.go). A lingering or closing
// connection consumes everything.
func (cs *connState) input(buf []byte) int {
	// The parsed Message is scratch of this call (the Parser accepts another Message when it resumes a
	// frame), so connections do not each hold one: 336 bytes plus the header slice fewer per connection.
	m := msgPool.Get().(*msrp.Message)
	defer func() {
		m.Reset()
		msgPool.Put(m)
	}()
	used := 0
	for !cs.lingering && !cs.closed && used < len(buf) {
		n, err := cs.parser.Parse(buf[used:], m)
		if err != nil {
			if errors.Is(err, msrp.ErrIncomplete) {
				break
			}
			cs.frameError(err, buf[used:])
			used = len(buf)
			break
		}
		if n <= 0 { // cannot happen with a well-behaved parser; never spin on the loop
			cs.end(push.Result{Outcome: push.Failed, Bytes: cs.x.sent, Err: errProtocol})
			break
		}
		cs.handle(m)
		m.Reset() // it aliases buf
		used += n
	}
	if cs.delivered && used == len(buf) && cs.out == nil && cs.w.outbound() == 0 {
		// The terminal confirmed the whole page, Herald has read all it sent and has nothing left to
		// send: close at once. Nothing can be lost (no unread input, so no reset), and it saves the
		// half-close, a wake-up and a read of the lingering close.
		cs.closeReady = true
		cs.hereClose = true // not a lingering close
		return used
	}
	cs.afterInput()
	if cs.lingering {
		used = len(buf) // a lingering connection discards its input
	}
	return used
}

// afterInput writes what the handled frames produced and moves the transfer or the close forward.
func (cs *connState) afterInput() {
	if cs.closed {
		return
	}
	if cs.out != nil && !cs.canPump() {
		cs.flushOut()
		if cs.closed {
			return
		}
	}
	if cs.lingering {
		cs.tryShutdown()
		return
	}
	cs.pump()
	if cs.out != nil {
		cs.flushOut()
	}
}

// canPump says whether pump has chunks to write.
func (cs *connState) canPump() bool {
	return cs.x.active && !cs.x.allSent && !cs.closed && !cs.lingering
}

// flushOut writes the batched responses.
func (cs *connState) flushOut() {
	out := cs.out
	cs.out = nil
	cs.w.write(*out)
	putBuf(out)
	cs.s.st.noteOutbound(int64(cs.w.outbound()))
}

// respond appends a response to the frame m (never to a REPORT: RFC 4975 §7.1.2).
// A peer that keeps sending requests and reads none of the answers would grow the connection's
// outbound buffer without bound (gnet's has none, and only page chunks wait for the mark): once the
// answers waiting reach MaxOutbound, the connection ends instead (counted), as for a malformed frame.
//
// RFC 4975 §7.1.1: a request with Failure-Report "no" gets no transaction response at all, one with
// "partial" no 200 (its errors still).
func (cs *connState) respond(m *msrp.Message, code int, comment string) {
	if fr := m.FailureReport; bytes.EqualFold(fr, []byte("no")) || code == 200 && bytes.EqualFold(fr, []byte("partial")) {
		return
	}
	if ob := cs.w.outbound(); cs.out != nil && ob+len(*cs.out) >= cs.s.opts.MaxOutbound || ob >= cs.s.opts.MaxOutbound {
		cs.s.st.answersUnread.Add(1)
		cs.end(push.Result{Outcome: push.Failed, Bytes: cs.x.sent, Err: errors.Join(errProtocol, errAnswersUnread)})
		return
	}
	if comment == "" {
		comment = msrp.StatusText(code)
	}
	cs.appendOut(func(b []byte) []byte {
		return msrp.AppendResponse(b, bstr(m.TID), code, comment, msrp.FirstURI(m.FromPath), msrp.LastURI(m.ToPath))
	})
}

// handle acts on one complete frame. m aliases the inbound buffer.
func (cs *connState) handle(m *msrp.Message) {
	cs.traceIn(m)
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
	sid, err := msrp.SessionIDOf(msrp.LastURI(m.ToPath))
	if err != nil {
		s.st.malformed.Add(1)
		cs.respond(m, 400, "bad To-Path")
		return
	}
	if cs.e != nil {
		switch {
		case bytes.Equal(sid, []byte(cs.e.sess.ID)):
			cs.respond(m, 200, "")
		default:
			s.st.bindRejected.Add(1)
			cs.respond(m, 403, "connection bound to another session")
		}
		return
	}
	e := s.sessions.get(sid)
	if e == nil || s.mono() >= e.expires || e.sess.Secure != cs.secure {
		// A session offered over msrps is unknown to plain TCP and vice versa (the a=path scheme).
		s.st.bindUnknown.Add(1)
		cs.respond(m, 481, "")
		return
	}
	v := s.claim(e, cs)
	switch v {
	case claimClosed:
		s.st.bindUnknown.Add(1)
		cs.respond(m, 481, "")
		return
	case claimBusy, claimCapped:
		if v == claimBusy {
			s.st.bindRejected.Add(1)
		} else {
			s.st.forkCapped.Add(1)
		}
		cs.respond(m, 506, "session already bound") // RFC 4975 §10
		return
	}
	cs.e = e
	// RFC 4976: the chunks' To-Path is the request's whole From-Path (the reversed route through relays,
	// nearest hop first); their From-Path is Herald's own URI, the last of the To-Path.
	local := msrp.LastURI(m.ToPath)
	both := make([]byte, len(m.FromPath)+len(local)) // one allocation for both copies
	n := copy(both, m.FromPath)
	copy(both[n:], local)
	cs.peer, cs.local = both[:n:n], both[n:]
	if cs.fork {
		s.st.forkedBinds.Add(1)
	} else {
		s.st.binds.Add(1)
	}
	cs.noteBound()
	cs.respond(m, 200, "")
	if !cs.fork {
		e.sess.NotifyBound() // the call's machine hears of the binding (push.Session.Bound)
	}
	cs.startTransfer()
}

// startTransfer prepares the page push of the bound session; afterInput writes the chunks.
func (cs *connState) startTransfer() {
	s, e := cs.s, cs.e
	ctype, body := e.sess.Page.Variant(*e.accept.Load())
	cs.x = transfer{
		active: true,
		ctype:  ctype,
		body:   body,
		ch:     msrp.NewChunker(int64(len(body)), s.opts.ChunkSize),
	}
	bt := batchPool.Get().(*batch) // for its id source
	bt.ids.AppendTID(cs.x.msgID[:0])
	batchPool.Put(bt)
	cs.setDeadline(s.mono() + int64(s.opts.TransferTimeout))
}

// onReport ends the transfer on the terminal's REPORT for our Message-ID. REPORTs are never answered.
func (cs *connState) onReport(m *msrp.Message) {
	s := cs.s
	x := &cs.x
	if cs.e == nil || !x.active || !bytes.Equal(m.MessageID, x.msgID[:]) {
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
		// A success report of part of the page: a receiver may report each chunk (RFC 4975
		// §7.1.2). The page is delivered once the parts reported cover it from its first byte.
		if br.End <= total && br.Start <= x.reported+1 && br.End > x.reported {
			x.reported = br.End
		}
		if x.reported < total {
			return
		}
	}
	cs.noteDelivered()
	cs.delivered = true // before end: its lingering close needs no look at the socket's queue
	cs.end(push.Result{Outcome: push.Delivered, Code: 200, Bytes: total})
}

// onResponse takes the terminal's transaction responses to our chunks: 200 is progress, anything else
// fails the transfer.
func (cs *connState) onResponse(m *msrp.Message) {
	if cs.bindTID != nil { // Herald active: only the answer to its binding SEND matters yet
		if !bytes.Equal(m.TID, cs.bindTID) {
			return
		}
		cs.bindTID = nil
		if m.Status != 200 {
			cs.s.st.bindRejected.Add(1)
			cs.end(push.Result{Outcome: push.Failed, Code: m.Status, Err: errFailureResponse})
			return
		}
		cs.s.st.binds.Add(1)
		cs.noteBound()
		cs.e.sess.NotifyBound()
		cs.startTransfer()
		return
	}
	if cs.e == nil || !cs.x.active || m.Status == 200 {
		return
	}
	cs.end(push.Result{Outcome: push.Failed, Code: m.Status, Bytes: cs.x.sent, Err: errFailureResponse})
}

// end reports res for the bound session (if any) and starts the lingering close.
func (cs *connState) end(res push.Result) {
	cs.settle(res)
	cs.x.active = false
	cs.linger()
}

// linger starts the lingering close, the way a TCP server ends a connection without losing its last
// bytes: Herald stops processing frames but keeps reading and discarding the terminal's input (so that
// no unread input turns Herald's close into a reset, RFC 9293 §3.6.1), half-closes (SHUT_WR) once its
// outbound buffer is flushed, and waits for the terminal to close. The terminal may still be reading
// what is queued toward it (an abort's '#' chunk sits behind up to a socket send buffer of earlier
// chunks, seconds on a slow radio link), and its 200s to those chunks would be answered with a reset,
// destroying the rest, if Herald had closed. So Herald closes it only when lingerCheck finds that the
// terminal has taken nothing for lingerTimeout, or at LingerMax after the end of the transfer.
func (cs *connState) linger() {
	if cs.lingering || cs.closed {
		return
	}
	cs.lingering = true
	cs.lingerOnly.Store(true)
	now := cs.s.mono()
	// After the whole page's success REPORT (RFC 4975 §7.1.2), whose segment acknowledged every byte,
	// with nothing else to send, the queue is empty: no SIOCOUTQ system call (lingerCheck measures).
	cs.lingerQ = 0
	if !cs.delivered || cs.out != nil || cs.w.outbound() > 0 {
		cs.lingerQ = cs.queued()
	}
	cs.lingerCap = now + int64(cs.s.opts.LingerMax)
	cs.setDeadline(min(now+int64(lingerTimeout), cs.lingerCap))
}

// queued is the number of bytes toward the peer not yet acknowledged by it: Herald's outbound buffer
// plus the socket's send queue (unsent or unacknowledged, SIOCOUTQ; counted as empty where unknown).
func (cs *connState) queued() int {
	return cs.w.outbound() + max(cs.w.unacked(), 0)
}

// lingerCheck runs when a lingering connection's deadline passes (the terminal has not closed): while the
// terminal took some of the bytes queued toward it since the last check, the connection gets another
// lingerTimeout, up to lingerCap. Otherwise Herald closes it, counted by why: everything was taken
// and acknowledged (flushed), nothing moved for lingerTimeout (stalled: the rest is lost), or the cap
// passed with bytes still queued (cap: the rest is lost).
func (cs *connState) lingerCheck(now int64) {
	st := &cs.s.st
	q := cs.queued()
	switch {
	case now >= cs.lingerCap && q > 0:
		st.lingerCapped.Add(1)
	case q < cs.lingerQ: // progress: look again in lingerTimeout
		cs.lingerQ = q
		cs.setDeadline(min(now+int64(lingerTimeout), cs.lingerCap))
		return
	case q == 0:
		st.lingerFlushed.Add(1)
	default:
		st.lingerStalled.Add(1)
	}
	cs.hereClose = true
	cs.w.discardInput() // what arrived since the last read: unread input would make the close a reset
	if !cs.closed {
		cs.w.closeNow()
	}
}

// tryShutdown half-closes once gnet has flushed everything, or waits for the ticker to look again.
func (cs *connState) tryShutdown() {
	if cs.shutWr || cs.closed {
		return
	}
	if cs.w.outbound() > 0 {
		cs.s.addPaused(cs)
		return
	}
	cs.shutWr = true
	cs.w.shutdownWrite()
}

// maxBatch is the most chunks written with one writev.
const maxBatch = 16

// batch is the scratch of one writev: the chunk heads and end-lines share b, vec points into b and into
// the page body. Pooled, so that idle connections hold no write buffers.
type batch struct {
	b    []byte
	vec  [][]byte         // 2 per chunk + 1, plus the responses of the OnTraffic that wrote it
	offs [maxBatch][3]int // head start, head end (= end-line start), end-line end in b
	brs  [maxBatch]msrp.ByteRange
	n    int
	iov  [2*maxBatch + 2]unix.Iovec // the writev system call's vector (gnetWire.writev)
	ids  msrp.IDSource              // transaction ids: one getrandom per ~15 chunks, not one per chunk
}

var batchPool = sync.Pool{New: func() any { return &batch{b: make([]byte, 0, 4096), vec: make([][]byte, 0, 2*maxBatch+2)} }}

// add appends the head and end-line of one chunk.
func (bt *batch) add(cs *connState, br msrp.ByteRange, flag byte) {
	x := &cs.x
	var tb [msrp.TIDLen]byte
	tid := string(bt.ids.AppendTID(tb[:0])) // stays on the stack: the serializers only append it
	hs := len(bt.b)
	bt.b = msrp.AppendSendChunkHead(bt.b, tid, cs.peer, cs.local, string(x.msgID[:]), br, x.ctype, "render")
	he := len(bt.b)
	bt.b = msrp.AppendEndLine(bt.b, tid, flag, true)
	if cs.s.opts.Trace != nil {
		cs.traceOut(bt.b[hs:len(bt.b)]) // the chunk's head and end-line, without its body
	}
	bt.offs[bt.n] = [3]int{hs, he, len(bt.b)}
	bt.brs[bt.n] = br
	bt.n++
}

// write sends the batch with one Writev: head, a sub-slice of the shared page body and the end-line per
// chunk. Herald never copies the page; gnet copies only what the socket does not take at once.
func (bt *batch) write(cs *connState) {
	x := &cs.x
	bt.vec = bt.vec[:0]
	out := cs.out
	if out != nil { // batched responses go first, in the same writev
		bt.vec = append(bt.vec, *out)
		cs.out = nil
	}
	var body int64
	// Chunk i's end-line and chunk i+1's head are adjacent in bt.b: one iovec for both, so a batch of n
	// chunks is 2n+1 iovecs (fewer for the kernel to walk and for x/sys/unix to allocate).
	start := bt.offs[0][0]
	for i := range bt.n {
		o, br := bt.offs[i], bt.brs[i]
		bt.vec = append(bt.vec, bt.b[start:o[1]], x.body[br.Start-1:br.End])
		start = o[1]
		body += br.Len()
	}
	bt.vec = append(bt.vec, bt.b[start:bt.offs[bt.n-1][2]])
	last := bt.brs[bt.n-1]
	cs.w.writev(bt.vec, bt.iov[:0])
	if out != nil {
		putBuf(out)
	}
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
	cs.s.st.noteOutbound(int64(cs.w.outbound()))
}

// pump writes SEND chunks while the connection's outbound backlog is below MaxOutbound: each writev
// carries at most the room left under the mark (and at least one chunk), so the backlog never exceeds
// MaxOutbound plus one chunk frame. A paused transfer resumes on the next tick (resumePaused).
func (cs *connState) pump() {
	x := &cs.x
	s := cs.s
	mark := s.opts.MaxOutbound
	for x.active && !x.allSent && !cs.closed && !cs.lingering {
		ob := cs.w.outbound()
		if cs.out != nil { // responses that will lead this writev count against the mark too
			ob += len(*cs.out)
		}
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
			framed := len(bt.b)
			bt.add(cs, br, flag)
			size += int(br.Len()) + len(bt.b) - framed // the body and this chunk's head and end-line
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

// abort runs on the loop for Close(id), on each connection bound to the session: the chunk in progress
// ends with '#', Aborted is reported (a forked binding's is only counted: fork.go).
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

// timeout runs on the loop when the timer saw the connection's node due; it re-checks and rearms.
func (cs *connState) timeout() {
	cs.sweepQueued.Store(false)
	if cs.closed {
		return
	}
	defer cs.rearm()
	s := cs.s
	now := s.mono()
	idle := now-cs.lastRead.Load() >= int64(s.opts.IdleTimeout)
	due := now >= cs.deadline.Load()
	switch {
	case cs.lingering:
		if due {
			cs.lingerCheck(now)
		}
	case cs.e == nil && (due || idle):
		// Nothing was promised on this connection: close it outright.
		if due {
			s.st.bindTimeouts.Add(1)
		} else {
			s.st.idleTimeouts.Add(1)
		}
		cs.w.closeNow()
	case cs.e != nil && due:
		cs.end(push.Result{Outcome: push.TimedOut, Bytes: cs.x.sent, Err: errTransferTimeout})
		cs.tryShutdown()
	case idle:
		s.st.idleTimeouts.Add(1)
		cs.end(push.Result{Outcome: push.TimedOut, Bytes: cs.x.sent, Err: errIdleTimeout})
		cs.tryShutdown()
	}
}

// msgPool holds the parsed-frame scratch of input.
var msgPool = sync.Pool{New: func() any { return &msrp.Message{Headers: make([]msrp.Header, 0, 16)} }}

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
