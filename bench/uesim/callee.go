package uesim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sdp"
)

// CalleeOptions configure a Callee. The zero value is a well-behaved IMS terminal: early-session
// and 100rel supported, MSRP chunk responses sent, answer 200 after DefaultRingTime.
type CalleeOptions struct {
	// Listen is the UDP address to listen on; default "127.0.0.1:0".
	Listen string
	// Name and Peer are the trace names of this side and the other side ("callee", "herald").
	Name, Peer string
	// NoEarlySession ignores early-session offers: the callee answers 180 then 200 with plain SDP.
	NoEarlySession bool
	// No100rel sends provisional responses unreliably (no Require: 100rel, no PRACK expected).
	No100rel bool
	// NoChunkResponses suppresses the MSRP 200 responses to the page's chunk SENDs.
	NoChunkResponses bool
	// RingTime is how long the callee rings before its final response, counted from its 18x;
	// 0 means DefaultRingTime, a negative value answers at once.
	RingTime time.Duration
	// AnswerWithoutPage answers when RingTime is over even if the page fetch is still running.
	// By default the final response also waits for the fetch (bounded by FetchTimeout).
	AnswerWithoutPage bool
	// AnswerGate, if set, also holds the final response until it is closed (ringing and the page
	// fetch still count): a test answers the call only once something else happened, e.g. the
	// caller's page arrived, whatever the network's delays.
	AnswerGate <-chan struct{}
	// EarlyMedia, when set, is the P-Early-Media value of the callee's provisional responses (RFC
	// 5009), as a network that plays its own early media to the caller says so ("sendonly").
	EarlyMedia string
	// RejectCode, when non-zero, is sent instead of 200 (e.g. 486 Busy Here, 603 Decline).
	RejectCode int
	// AnswerOnCancel makes a ringing call lose the CANCEL/200 race (RFC 3261 §9.2, §15): when a
	// CANCEL for it arrives, the 200 OK is sent before the CANCEL is processed, so the CANCEL
	// finds an answered INVITE (200 to the CANCEL, no 487) and the canceller has to ACK and BYE
	// the call. It applies once the reliable provisional, if any, was PRACKed.
	AnswerOnCancel bool
	// T1 is the round-trip estimate of the callee's own retransmissions, those of its core rather
	// than of a transaction: the reliable provisional until PRACK (RFC 3262 §3) and the 2xx until
	// ACK (RFC 3261 §13.3.1.4), T1 doubling up to T2, given up at 64·T1. 0 means sipgo's sip.T1
	// (500 ms); sipgo's transaction timers (a process-wide setting) are unaffected.
	T1 time.Duration
	// RTPPort is the first (fake) RTP port put in SDP answers; default 40000.
	RTPPort int
	// FetchTimeout bounds each MSRP page fetch; default 10 s.
	FetchTimeout time.Duration
	// MaxCallTime bounds how long a call may wait for ACK and BYE; default 2 min.
	MaxCallTime time.Duration
	// WireLog is how many received datagrams are kept for raw-byte lookups; default 256,
	// negative disables (recorded received messages then carry their re-serialisation).
	WireLog int
	// Link puts something between the terminal and the network (a relay, a stream split in
	// pieces); the zero value is direct.
	Link Link
	// Transport is "udp" (default) or "tcp": with tcp the Contact says ;transport=tcp, so the
	// caller's in-dialog requests (PRACK, ACK, BYE) come over TCP. Responses always take the
	// request's transport.
	Transport string
	// DropPages verifies each fetched page as always but keeps no copy of it (FetchOptions.DropPage:
	// its Page stays nil, its FetchResult.Verified is set): for load generation.
	DropPages bool
	// NoRecord keeps no per-call record of the SIP messages (CalleeCall.Messages stays empty).
	NoRecord bool
	// OnDone, if set, is called once per call when it is over (as WaitCall would return it), on
	// the call's goroutine: it must not block for long.
	OnDone func(CalleeCall)
	// Forget drops every call once it is over (after OnDone): Calls and WaitCall no longer see
	// it, and the Callee's memory stays bounded however many calls it serves.
	Forget bool
	// Trace receives the step trace; nil disables it.
	Trace Trace
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// DefaultRingTime is the callee's ring time when CalleeOptions.RingTime is 0.
const DefaultRingTime = 300 * time.Millisecond

// CalleeCall is a snapshot of one call the Callee received.
type CalleeCall struct {
	CallID string
	// Invite is the INVITE as parsed by sipgo; InviteRaw is the datagram as received (nil with
	// CalleeOptions.NoRecord).
	Invite    *sip.Request
	InviteRaw []byte
	// EarlyOffered says the INVITE carried an early-session part offering an MSRP push;
	// EarlyAnswered says the callee answered it (reliable 183 with an early-session answer).
	EarlyOffered, EarlyAnswered bool
	// Page is the caller card fetched over MSRP (verified against the file-selector); PageErr
	// is why the fetch failed, if it did. Fetch has the fetch's details and timings.
	Page    []byte
	PageErr error
	Fetch   FetchResult
	// Final is the final status code sent to the INVITE (487 when the caller cancelled).
	Final                         int
	Pracked, Acked, Canceled, Bye bool
	// Err is the first SIP-level failure (no PRACK, no ACK, ...), nil on a clean call.
	Err error
	// Messages are the SIP messages of the call, in the order sent and received.
	Messages []Message
}

// Callee simulates the next hop after Herald: the callee's S-CSCF and terminal in one UA.
type Callee struct {
	opts CalleeOptions
	ep   *endpoint

	mu      sync.Mutex
	calls   map[string]*calleeCall
	order   []*calleeCall
	arrived chan struct{} // closed and replaced whenever a call arrives
}

type calleeCall struct {
	id    string
	toTag string
	rseq  int
	cseq  uint32 // INVITE CSeq number
	rec   recorder

	prack, ack, bye chan struct{}
	prackOnce       sync.Once
	ackOnce         sync.Once
	byeOnce         sync.Once
	done            chan struct{}

	mu        sync.Mutex
	snap      CalleeCall
	ans       []byte // session answer (for UPDATE with an offer)
	answerNow func() // AnswerOnCancel: sends the 200 at once; nil outside the ringing phase
	wireAck   atomic.Bool
}

// NewCallee starts a Callee listening on opts.Listen.
func NewCallee(opts CalleeOptions) (*Callee, error) {
	if opts.Name == "" {
		opts.Name = "callee"
	}
	if opts.RingTime == 0 {
		opts.RingTime = DefaultRingTime
	}
	if opts.RTPPort == 0 {
		opts.RTPPort = 40000
	}
	if opts.T1 <= 0 {
		opts.T1 = sip.T1
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 10 * time.Second
	}
	if opts.MaxCallTime <= 0 {
		opts.MaxCallTime = 2 * time.Minute
	}
	if opts.WireLog == 0 {
		opts.WireLog = 256
	}
	c := &Callee{opts: opts, calls: map[string]*calleeCall{}, arrived: make(chan struct{})}
	probe := endpoint{}
	if err := probe.setTransport(opts.Transport); err != nil {
		return nil, err
	}
	ep, err := newEndpoint(opts.Name, opts.Peer, opts.Listen, opts.Link, opts.Trace, opts.Logger, opts.WireLog,
		func(srv *sipgo.Server) {
			srv.OnInvite(c.onInvite)
			srv.OnPrack(c.onPrack)
			srv.OnAck(c.onAck)
			srv.OnBye(c.onBye)
			srv.OnCancel(c.onCancel)
			srv.OnUpdate(c.onUpdate)
			srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
			})
		})
	if err != nil {
		return nil, err
	}
	c.ep = ep
	ep.transport, ep.noRecord = probe.transport, opts.NoRecord
	ep.readHook = c.onRawRead
	if err := ep.start(); err != nil {
		ep.close()
		return nil, err
	}
	return c, nil
}

// onRawRead sees every datagram (or TCP read) before sipgo parses it. An ACK is noted on its call:
// over TCP, sipgo ends the INVITE server transaction as soon as the ACK for a non-2xx arrives
// (Timer I is 0) and may drop it from Acks(). A CANCEL for a ringing call is preceded by that
// call's 200 OK (CalleeOptions.AnswerOnCancel).
func (c *Callee) onRawRead(data []byte) {
	isAck := bytes.HasPrefix(data, []byte("ACK "))
	isCancel := c.opts.AnswerOnCancel && bytes.HasPrefix(data, []byte("CANCEL "))
	if !isAck && !isCancel {
		return
	}
	id, ok := rawCallID(data)
	if !ok {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		id = callID(msg)
	}
	cc := c.lookup(id)
	if cc == nil {
		return
	}
	if isAck {
		cc.wireAck.Store(true)
		return
	}
	cc.mu.Lock()
	answer := cc.answerNow
	cc.mu.Unlock()
	if answer != nil {
		answer()
	}
}

// Addr is the UDP address ("127.0.0.1:port") the Callee listens on.
func (c *Callee) Addr() string { return c.ep.Addr() }

// Close stops the Callee; calls in progress are abandoned.
func (c *Callee) Close() error { return c.ep.close() }

// Calls returns snapshots of every call received so far, in arrival order.
func (c *Callee) Calls() []CalleeCall {
	c.mu.Lock()
	calls := append([]*calleeCall(nil), c.order...)
	c.mu.Unlock()
	out := make([]CalleeCall, len(calls))
	for i, cc := range calls {
		out[i] = cc.snapshot()
	}
	return out
}

// WaitCall waits until the call with this Call-ID (or, if callID is "", the first call received)
// is over (BYE received, cancelled, rejected, or failed) and its page fetch finished, and returns
// its snapshot.
func (c *Callee) WaitCall(ctx context.Context, callID string) (CalleeCall, error) {
	for {
		c.mu.Lock()
		var cc *calleeCall
		if callID == "" {
			if len(c.order) > 0 {
				cc = c.order[0]
			}
		} else {
			cc = c.calls[callID]
		}
		arrived := c.arrived
		c.mu.Unlock()
		if cc != nil {
			select {
			case <-cc.done:
				return cc.snapshot(), nil
			case <-ctx.Done():
				return cc.snapshot(), fmt.Errorf("%w: waiting for call %s: %w", ErrTimeout, cc.id, ctx.Err())
			}
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return CalleeCall{}, fmt.Errorf("%w: no call %q arrived: %w", ErrTimeout, callID, ctx.Err())
		}
	}
}

func (cc *calleeCall) snapshot() CalleeCall {
	cc.mu.Lock()
	s := cc.snap
	cc.mu.Unlock()
	s.Messages = cc.rec.snapshot()
	return s
}

func (cc *calleeCall) update(f func(s *CalleeCall)) {
	cc.mu.Lock()
	f(&cc.snap)
	cc.mu.Unlock()
}

func (cc *calleeCall) fail(err error) {
	cc.update(func(s *CalleeCall) {
		if s.Err == nil {
			s.Err = err
		}
	})
}

func (c *Callee) lookup(id string) *calleeCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

func (c *Callee) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	id := callID(req)
	if toTag(req) != "" {
		// A re-INVITE: not part of the simulated flows.
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	cc := &calleeCall{
		id: id, toTag: randHex(8), rseq: 1 + int(randUint32()%(1<<30)),
		prack: make(chan struct{}), ack: make(chan struct{}), bye: make(chan struct{}), done: make(chan struct{}),
	}
	if cs := req.CSeq(); cs != nil {
		cc.cseq = cs.SeqNo
	}
	cc.snap = CalleeCall{CallID: id, Invite: req}
	if !c.opts.NoRecord { // a load generator has no use for the bytes (a large INVITE serialised per call)
		cc.snap.InviteRaw = []byte(req.String())
		if d, ok := c.ep.wire.find(req.StartLine(), topBranch(req)); ok {
			cc.snap.InviteRaw = d.raw
		}
	}
	c.mu.Lock()
	if _, dup := c.calls[id]; dup {
		c.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 482, "Loop Detected", nil))
		return
	}
	c.calls[id] = cc
	if !c.opts.Forget {
		c.order = append(c.order, cc)
		close(c.arrived)
		c.arrived = make(chan struct{})
	}
	c.mu.Unlock()

	var fetches sync.WaitGroup
	defer func() {
		fetches.Wait()
		close(cc.done)
		if c.opts.OnDone != nil {
			c.opts.OnDone(cc.snapshot())
		}
		if c.opts.Forget {
			c.mu.Lock()
			if c.calls[id] == cc {
				delete(c.calls, id)
			}
			c.mu.Unlock()
		}
	}()
	c.ep.record(&cc.rec, Received, req)
	if err := c.serveInvite(req, tx, cc, &fetches); err != nil {
		cc.fail(err)
		c.ep.log.Debug("call failed", "call_id", id, "error", err)
	}
}

// serveInvite runs the UAS side of one call; it returns when the call is over.
func (c *Callee) serveInvite(req *sip.Request, tx sip.ServerTransaction, cc *calleeCall, fetches *sync.WaitGroup) error {
	o := c.opts
	host := c.ep.addr.IP.String()
	sessID := uint64(randUint32())
	// sipgo answers a matching CANCEL itself (200, then 487 to the INVITE) but keeps the
	// transaction alive for the ACK: Done() does not fire, the OnCancel callback does.
	canceled := make(chan struct{})
	if !tx.OnCancel(func(*sip.Request) { close(canceled) }) {
		close(canceled)
	}

	sessBody, earlyBody, err := splitInviteBody(req)
	if err != nil {
		_ = c.ep.respond(&cc.rec, tx, c.response(req, cc, 400, "Bad Request", nil, ""))
		return err
	}
	var sessAnswer []byte
	if len(sessBody) > 0 {
		offer, err := sdp.Parse(sessBody)
		if err != nil {
			_ = c.ep.respond(&cc.rec, tx, c.response(req, cc, 488, "Not Acceptable Here", nil, ""))
			return fmt.Errorf("%w: session sdp: %w", ErrProtocol, err)
		}
		ans, _ := answerOffer(offer, host, sessID, o.RTPPort, false)
		sessAnswer = ans.Marshal()
	} else {
		// Offerless INVITE: the 200 carries the offer.
		sessAnswer = buildOffer("-", host, sessID, o.RTPPort, offerOptions{})
	}
	cc.mu.Lock()
	cc.ans = sessAnswer
	cc.mu.Unlock()

	var plans []pushPlan
	var earlyAnswer []byte
	if len(earlyBody) > 0 {
		if eo, err := sdp.Parse(earlyBody); err == nil && hasPush(eo) {
			cc.update(func(s *CalleeCall) { s.EarlyOffered = true })
			if !o.NoEarlySession {
				ans, p := answerOffer(eo, host, sessID+1, 0, true)
				earlyAnswer, plans = ans.Marshal(), p
			}
		}
	}
	reliable := !o.No100rel && (hasOption(req, "100rel", "Supported", "k") || hasOption(req, "100rel", "Require"))

	// Provisional: a 183 with the early-session answer, or a bare 180.
	var prov *sip.Response
	if len(plans) > 0 {
		boundary := "b" + randHex(4)
		body := sdp.BuildMultipart(boundary, []sdp.Part{
			{ContentType: "application/sdp", Disposition: "session", Body: sessAnswer},
			{ContentType: "application/sdp", Disposition: "early-session", Body: earlyAnswer},
		})
		prov = c.response(req, cc, 183, "Session Progress", body, "multipart/mixed;boundary="+boundary)
		cc.update(func(s *CalleeCall) { s.EarlyAnswered = true })
	} else {
		prov = c.response(req, cc, 180, "Ringing", nil, "")
	}
	if reliable {
		prov.AppendHeader(sip.NewHeader("Require", "100rel"))
		prov.AppendHeader(sip.NewHeader("RSeq", strconv.Itoa(cc.rseq)))
	}
	if err := c.ep.respond(&cc.rec, tx, prov); err != nil {
		return err
	}
	ringStart := time.Now()
	if reliable {
		if err := c.awaitPrack(req, tx, cc, prov, canceled); err != nil {
			return err
		}
	}

	// Acquire the caller card (in parallel with ringing).
	fetchDone := make(chan struct{})
	if len(plans) > 0 {
		fetches.Add(1)
		go func() {
			defer fetches.Done()
			defer close(fetchDone)
			c.fetch(cc, plans[0])
		}()
	} else {
		close(fetchDone)
	}

	ok := c.response(req, cc, 200, "OK", sessAnswer, "application/sdp")
	var okErr error
	sendOK := sync.OnceFunc(func() {
		okErr = c.ep.respond(&cc.rec, tx, ok)
		cc.update(func(s *CalleeCall) { s.Final = 200 })
	})
	answered := make(chan struct{})
	if o.AnswerOnCancel && o.RejectCode < 300 {
		cc.mu.Lock()
		cc.answerNow = sync.OnceFunc(func() {
			sendOK()
			close(answered)
		})
		cc.mu.Unlock()
		defer func() {
			cc.mu.Lock()
			cc.answerNow = nil
			cc.mu.Unlock()
		}()
	}

	ring := time.NewTimer(max(o.RingTime-time.Since(ringStart), 0))
	defer ring.Stop()
	gate := o.AnswerGate
	for waitRing, waitFetch := true, !o.AnswerWithoutPage; waitRing || waitFetch || gate != nil; {
		select {
		case <-ring.C:
			waitRing = false
		case <-fetchDone:
			waitFetch = false
			fetchDone = nil
		case <-gate:
			gate = nil
		case <-answered:
			waitRing, waitFetch, gate = false, false, nil
		case <-canceled:
			return c.canceled(cc)
		case <-tx.Done():
			return c.txEnded(tx, cc)
		case <-c.ep.ctx.Done():
			return ErrClosed
		}
	}

	if o.RejectCode >= 300 {
		res := c.response(req, cc, o.RejectCode, reasonFor(o.RejectCode), nil, "")
		if err := c.ep.respond(&cc.rec, tx, res); err != nil {
			return err
		}
		cc.update(func(s *CalleeCall) { s.Final = o.RejectCode })
		select { // the transaction absorbs the hop-by-hop ACK and passes it up
		case ack := <-tx.Acks():
			c.ep.record(&cc.rec, Received, ack)
			cc.update(func(s *CalleeCall) { s.Acked = true })
		case <-tx.Done():
			if cc.wireAck.Load() { // a reliable transport ends the transaction at the ACK
				cc.update(func(s *CalleeCall) { s.Acked = true })
			}
		case <-time.After(64 * sip.T1):
			return fmt.Errorf("%w: no ACK for %d", ErrTimeout, o.RejectCode)
		case <-c.ep.ctx.Done():
			return ErrClosed
		}
		return nil
	}

	sendOK() // once: the CANCEL race may have sent it already
	if okErr != nil {
		return okErr
	}
	// RFC 6026: the UAS core retransmits the 2xx until the ACK arrives.
	deadline := time.NewTimer(64 * o.T1)
	defer deadline.Stop()
	var wait time.Duration
acked:
	for {
		wait = backoffFrom(wait, o.T1)
		retx := time.NewTimer(wait)
		select {
		case <-cc.ack:
			retx.Stop()
			break acked
		case ack := <-tx.Acks():
			retx.Stop()
			c.ep.record(&cc.rec, Received, ack)
			cc.markAck()
			break acked
		case <-retx.C:
			if err := tx.Respond(ok); err != nil {
				return fmt.Errorf("uesim: retransmit 200: %w", err)
			}
		case <-deadline.C:
			retx.Stop()
			return fmt.Errorf("%w: no ACK for 200", ErrTimeout)
		case <-c.ep.ctx.Done():
			retx.Stop()
			return ErrClosed
		}
	}
	select {
	case <-cc.bye:
		return nil
	case <-time.After(o.MaxCallTime):
		return fmt.Errorf("%w: no BYE within %s", ErrTimeout, o.MaxCallTime)
	case <-c.ep.ctx.Done():
		return ErrClosed
	}
}

// awaitPrack retransmits the reliable provisional (RFC 3262 §3: T1 doubling, capped at T2) until
// its PRACK arrives; after 64*T1 it rejects the INVITE with 504 as §3 suggests.
func (c *Callee) awaitPrack(req *sip.Request, tx sip.ServerTransaction, cc *calleeCall, prov *sip.Response,
	canceled <-chan struct{}) error {
	deadline := time.NewTimer(64 * c.opts.T1)
	defer deadline.Stop()
	var wait time.Duration
	for {
		wait = backoffFrom(wait, c.opts.T1)
		retx := time.NewTimer(wait)
		select {
		case <-cc.prack:
			retx.Stop()
			return nil
		case <-retx.C:
			if err := tx.Respond(prov); err != nil {
				return fmt.Errorf("uesim: retransmit %d: %w", prov.StatusCode, err)
			}
		case <-deadline.C:
			retx.Stop()
			res := c.response(req, cc, 504, "Server Time-out", nil, "")
			_ = c.ep.respond(&cc.rec, tx, res)
			cc.update(func(s *CalleeCall) { s.Final = 504 })
			return fmt.Errorf("%w: no PRACK for reliable %d", ErrTimeout, prov.StatusCode)
		case <-canceled:
			retx.Stop()
			return c.canceled(cc)
		case <-tx.Done():
			retx.Stop()
			return c.txEnded(tx, cc)
		case <-c.ep.ctx.Done():
			retx.Stop()
			return ErrClosed
		}
	}
}

// canceled records a CANCEL that matched the INVITE: sipgo has already answered it 200 and
// the INVITE 487.
func (c *Callee) canceled(cc *calleeCall) error {
	cc.update(func(s *CalleeCall) { s.Canceled, s.Final = true, 487 })
	if c.ep.trace != nil {
		c.ep.trace(c.ep.peer+" → "+c.ep.name, "SIP", "CANCEL (200 and 487 sent by the transaction layer)")
	}
	return nil
}

// txEnded handles an INVITE transaction that ended before the final response.
func (c *Callee) txEnded(tx sip.ServerTransaction, cc *calleeCall) error {
	if errors.Is(tx.Err(), sip.ErrTransactionCanceled) {
		return c.canceled(cc)
	}
	return fmt.Errorf("uesim: invite transaction ended: %w", tx.Err())
}

func (c *Callee) fetch(cc *calleeCall, p pushPlan) {
	fo, err := p.fetchOptions()
	if err == nil {
		fo.NoChunkResponses = c.opts.NoChunkResponses
		fo.DropPage = c.opts.DropPages
		fo.WrapConn = c.opts.Link.MSRPConn
		fo.Control = c.opts.Link.MSRPControl
		fo.Timeout = c.opts.FetchTimeout
		fo.Trace, fo.Me, fo.Peer = c.ep.trace, c.ep.name, c.ep.peer
		var res FetchResult
		res, err = Fetch(c.ep.ctx, fo)
		cc.update(func(s *CalleeCall) {
			s.Fetch = res
			if err == nil {
				s.Page = res.Page
			}
		})
	}
	if err != nil {
		cc.update(func(s *CalleeCall) { s.PageErr = err })
	}
}

// response builds a response to the INVITE with the dialog's To-tag (sipgo trap: without it every
// NewResponseFromRequest draws a new random tag) and the callee's Contact.
func (c *Callee) response(req *sip.Request, cc *calleeCall, code int, reason string, body []byte, ct string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil && code > 100 {
		to.Params.Add("tag", cc.toTag)
	}
	if code > 100 && code < 300 {
		res.AppendHeader(c.ep.contact())
	}
	if code > 100 && code < 200 && c.opts.EarlyMedia != "" {
		res.AppendHeader(sip.NewHeader("P-Early-Media", c.opts.EarlyMedia))
	}
	if code >= 200 && code < 300 {
		// Kept off the 18x: a 183 with two SDP parts must stay under sipgo's UDP size limit.
		res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, OPTIONS"))
	}
	if ct != "" {
		res.AppendHeader(sip.NewHeader("Content-Type", ct))
	}
	res.SetBody(body)
	return res
}

func (cc *calleeCall) markAck() {
	cc.update(func(s *CalleeCall) { s.Acked = true })
	cc.ackOnce.Do(func() { close(cc.ack) })
}

func (c *Callee) onPrack(req *sip.Request, tx sip.ServerTransaction) {
	cc := c.lookup(callID(req))
	if cc == nil || toTag(req) != cc.toTag {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.ep.record(&cc.rec, Received, req)
	want := strconv.Itoa(cc.rseq) + " " + strconv.FormatUint(uint64(cc.cseq), 10) + " INVITE"
	if got := strings.Join(strings.Fields(headerValue(req, "RAck")), " "); !strings.EqualFold(got, want) {
		_ = c.ep.respond(&cc.rec, tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		cc.fail(fmt.Errorf("%w: PRACK RAck %q, want %q", ErrProtocol, got, want))
		return
	}
	_ = c.ep.respond(&cc.rec, tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
	cc.update(func(s *CalleeCall) { s.Pracked = true })
	cc.prackOnce.Do(func() { close(cc.prack) })
}

func (c *Callee) onAck(req *sip.Request, _ sip.ServerTransaction) {
	cc := c.lookup(callID(req))
	if cc == nil {
		return
	}
	c.ep.record(&cc.rec, Received, req)
	cc.markAck()
}

func (c *Callee) onBye(req *sip.Request, tx sip.ServerTransaction) {
	cc := c.lookup(callID(req))
	if cc == nil || toTag(req) != cc.toTag {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.ep.record(&cc.rec, Received, req)
	_ = c.ep.respond(&cc.rec, tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
	cc.update(func(s *CalleeCall) { s.Bye = true }) // before the signal: the snapshot follows it
	cc.byeOnce.Do(func() { close(cc.bye) })
}

func (c *Callee) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	// Only CANCELs that match no INVITE transaction get here (RFC 3261 §9.2).
	_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
}

func (c *Callee) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	cc := c.lookup(callID(req))
	if cc == nil || toTag(req) != cc.toTag {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.ep.record(&cc.rec, Received, req)
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(c.ep.contact())
	if len(req.Body()) > 0 {
		offer, err := sdp.Parse(req.Body())
		if err != nil {
			_ = c.ep.respond(&cc.rec, tx, sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		ans, _ := answerOffer(offer, c.ep.addr.IP.String(), uint64(randUint32()), c.opts.RTPPort, false)
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(ans.Marshal())
	}
	_ = c.ep.respond(&cc.rec, tx, res)
}

// splitInviteBody returns the session and early-session SDP of an INVITE body (RFC 3959):
// application/sdp is all session; a multipart body is split by Content-Disposition.
func splitInviteBody(req *sip.Request) (session, early []byte, err error) {
	if len(req.Body()) == 0 {
		return nil, nil, nil
	}
	s, e, err := sdp.SplitBody(headerValue(req, "Content-Type"), req.Body())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: invite body: %w", ErrProtocol, err)
	}
	return s, e, nil
}

func reasonFor(code int) string {
	switch code {
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	}
	return "Rejected"
}
