package uesim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sdp"
)

// Role names which card a page is (push.Role's String values).
type Role string

// Roles.
const (
	CallerCard Role = "caller-card" // set by the caller, fetched by the callee terminal
	CalleeCard Role = "callee-card" // set by the callee, fetched by the caller terminal
)

// udpSizeLimit is the RFC 3261 §18.1.1 size above which a request is sent over TCP (sipgo's
// default UDPMTUSize-200); udpViaAllowance covers the Via header added at send time.
const (
	udpSizeLimit    = 1300
	udpViaAllowance = 80
)

// DefaultSupported is the Supported header of the caller's INVITE (TS 24.229 MMTel flavour).
var DefaultSupported = []string{"100rel", "timer", "early-session", "199"}

// CallerOptions configure a Caller. The zero value is a well-behaved IMS terminal.
type CallerOptions struct {
	// Listen is the UDP address to listen on; default "127.0.0.1:0".
	Listen string
	// Name and Peer are the trace names of this side and the other side ("caller", "herald").
	Name, Peer string
	// Supported lists the option tags of the INVITE; nil means DefaultSupported.
	Supported []string
	// AMRWB adds AMR-WB to the audio offer; Video adds an H.264 video line.
	AMRWB, Video bool
	// RTPPort is the first (fake) RTP port of the offer; default 30000.
	RTPPort int
	// RejectPush answers m=message push offers with port 0 (a terminal without MSRP).
	RejectPush bool
	// RefuseUpdate, when set, answers every UPDATE with this final status code instead of an
	// SDP answer (linphone 5.1 answers 504 to an UPDATE offering m=message; others 488 or 415).
	RefuseUpdate int
	// NoChunkResponses suppresses the MSRP 200 responses to the page's chunk SENDs.
	NoChunkResponses bool
	// HoldTime is how long the call stays up between ACK and BYE; 0 means 100 ms, a negative
	// value hangs up at once.
	HoldTime time.Duration
	// CancelAfter, when positive, sends CANCEL this long after the first provisional response.
	CancelAfter time.Duration
	// FetchTimeout bounds each MSRP page fetch (and the wait for it at the end of the call);
	// default 10 s.
	FetchTimeout time.Duration
	// WireLog is how many received datagrams are kept for raw-byte lookups; default 256,
	// negative disables.
	WireLog int
	// DropReliable, if set, is asked about every reliable provisional response not yet PRACKed
	// (first transmissions and retransmissions alike); returning true ignores it as if it was
	// lost on the wire: no PRACK, nothing recorded in its dialog (RFC 3262 loss tests). It is
	// called with the call's lock held and must not call back into the Caller.
	DropReliable func(res *sip.Response) bool
	// GlareUpdate makes the caller answer the first UPDATE of an early dialog only after sending
	// an UPDATE of its own in that dialog and getting its final response (RFC 3311 §5.2 glare:
	// the peer should answer it 491). The statuses are in EarlyDialog.SentUpdates.
	GlareUpdate bool
	// FetchDelay delays each MSRP page fetch (a slow terminal: the push is still pending when the
	// call ends).
	FetchDelay time.Duration
	// Rewrite, if set, may change each INVITE just before it is sent (unusual or malformed
	// requests). It runs before the UDP/TCP size choice.
	Rewrite func(req *sip.Request)
	// Link puts something between the terminal and the network (a relay, a stream split in
	// pieces); the zero value is direct.
	Link Link
	// Transport is the transport of every request the caller sends: "udp" (default; an INVITE
	// above 1300 bytes still goes over TCP, RFC 3261 §18.1.1) or "tcp" (its Contact then says
	// ;transport=tcp, so requests to it come over TCP too).
	Transport string
	// DropPages verifies each fetched page as always but keeps no copy of it (FetchOptions.DropPage:
	// its Page stays nil, its FetchResult.Verified is set): for load generation.
	DropPages bool
	// NoRecord keeps no per-call record of the SIP messages (CallResult.Messages stays empty):
	// for load generation, where copying every message costs more than the call itself.
	NoRecord bool
	// Trace receives the step trace; nil disables it.
	Trace Trace
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Caller simulates a calling IMS terminal.
type Caller struct {
	opts CallerOptions
	ep   *endpoint

	mu    sync.Mutex
	calls map[string]*callerCall

	// inviteHook, if set (tests only), may rewrite each INVITE before it is sent.
	inviteHook func(*sip.Request)
}

// EarlyDialog is what the caller saw of one early dialog (one To-tag) of a call.
type EarlyDialog struct {
	ToTag string
	// Provisionals are the status codes of the provisional responses received, in order
	// (retransmissions of reliable ones excluded).
	Provisionals []int
	// Reliable counts the reliable provisionals; Pracked counts those whose PRACK got 200.
	Reliable, Pracked int
	// Updates counts the UPDATE requests received in this dialog.
	Updates int
	// PEarlyMedia is the last P-Early-Media value received in this dialog.
	PEarlyMedia string
	// SentUpdates are the final status codes of the UPDATEs the caller sent in this dialog
	// (CallerOptions.GlareUpdate); 0 stands for no response.
	SentUpdates []int
	// Confirmed says the 200 OK to the INVITE came in this dialog.
	Confirmed bool
	// SDP is the last application/sdp body received on a provisional response of this dialog
	// (e.g. the early-media answer of a ringback dialog: where its RTP comes from).
	SDP []byte
}

// Timings are measured from the moment the INVITE was sent.
type Timings struct {
	Start            time.Time
	FirstProvisional time.Duration
	Final            time.Duration
	PageDone         time.Duration // the callee card is verified
	End              time.Duration // BYE answered (or final failure)
}

// CallResult is what one Call produced.
type CallResult struct {
	CallID string
	// Final is the final status code of the INVITE (487 after a CANCEL); Reason its phrase.
	Final    int
	Reason   string
	Canceled bool
	// Dialogs are the early/confirmed dialogs, in the order their first response arrived.
	Dialogs []EarlyDialog
	// Answer is the session SDP of the 200 OK.
	Answer []byte
	// Pages holds the pages fetched over MSRP, verified against their file-selector (size and
	// SHA-1); PageErrors holds why a fetch failed. Fetches has per-fetch details.
	Pages      map[Role][]byte
	PageErrors map[Role]error
	Fetches    map[Role]FetchResult
	// CallInfo holds every Call-Info header value received (the HTTPS fallback, RFC 3261 §20.9).
	CallInfo []string
	// Dropped counts the reliable provisionals ignored because of CallerOptions.DropReliable.
	Dropped int
	// Messages are every SIP message of the call, in the order sent and received.
	Messages []Message
	Timings  Timings
}

type dialog struct {
	EarlyDialog
	target   sip.Uri
	routes   []sip.Uri
	cseq     uint32 // last local CSeq used in this dialog
	lastRSeq int
}

// ackState is the ACK of a call's 2xx and the lock serialising its sends: the first from
// confirmed, the resends from the INVITE transaction's retransmission callback (a send builds
// the request in place).
type ackState struct {
	mu  sync.Mutex
	req *sip.Request // nil until the 2xx is ACKed
}

type callerCall struct {
	id        string
	target    string // where the INVITE went (host:port)
	transport string // of in-dialog requests: "UDP" or "TCP"
	invite    *sip.Request
	rec       *recorder
	start     time.Time
	fetches   sync.WaitGroup
	pracks    sync.WaitGroup
	bye       chan struct{}
	byeOnce   sync.Once
	// ack is the 2xx's ACK, resent by the INVITE transaction's retransmission callback. It is
	// allocated apart: the transaction keeps the callback for 64·T1 after the call, and with it
	// only the ACK and the record, not the call's result (its pages).
	ack *ackState

	mu       sync.Mutex
	dialogs  map[string]*dialog
	order    []string
	ended    bool // Call stopped waiting for new page fetches
	res      CallResult
	pageDone time.Duration
}

// NewCaller starts a Caller listening on opts.Listen.
func NewCaller(opts CallerOptions) (*Caller, error) {
	if opts.Name == "" {
		opts.Name = "caller"
	}
	if opts.Supported == nil {
		opts.Supported = DefaultSupported
	}
	if opts.RTPPort == 0 {
		opts.RTPPort = 30000
	}
	if opts.HoldTime == 0 {
		opts.HoldTime = 100 * time.Millisecond
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 10 * time.Second
	}
	if opts.WireLog == 0 {
		opts.WireLog = 256
	}
	c := &Caller{opts: opts, calls: map[string]*callerCall{}}
	probe := endpoint{}
	if err := probe.setTransport(opts.Transport); err != nil {
		return nil, err
	}
	ep, err := newEndpoint(opts.Name, opts.Peer, opts.Listen, opts.Link, opts.Trace, opts.Logger, opts.WireLog,
		func(srv *sipgo.Server) {
			srv.OnUpdate(c.onUpdate)
			srv.OnBye(c.onBye)
			srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
			srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			})
			srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
			})
		})
	if err != nil {
		return nil, err
	}
	c.ep = ep
	ep.transport, ep.noRecord = probe.transport, opts.NoRecord
	if err := ep.start(); err != nil {
		ep.close()
		return nil, err
	}
	return c, nil
}

// Addr is the UDP address ("127.0.0.1:port") the Caller listens on (its Contact).
func (c *Caller) Addr() string { return c.ep.Addr() }

// Close stops the Caller.
func (c *Caller) Close() error { return c.ep.close() }

// Call places one call: the INVITE goes to target (host:port, Herald or a callee directly) with
// Request-URI and To set to to, From set to from (SIP or tel URIs). It returns when the call is
// over: BYE answered, or a final failure. Cancelling ctx while the call rings sends CANCEL.
//
// The error wraps ErrCallFailed for a non-2xx final response (not for 487 after our own
// CANCEL), ErrTimeout, or the errors of failed page fetches; the result is returned in any case.
func (c *Caller) Call(ctx context.Context, target, from, to string) (*CallResult, error) {
	var fromURI, toURI sip.Uri
	if err := sip.ParseUri(from, &fromURI); err != nil {
		return nil, fmt.Errorf("uesim: from %q: %w", from, err)
	}
	if err := sip.ParseUri(to, &toURI); err != nil {
		return nil, fmt.Errorf("uesim: to %q: %w", to, err)
	}
	o := c.opts
	cc := &callerCall{id: randHex(12) + "@uesim", dialogs: map[string]*dialog{}, bye: make(chan struct{}),
		transport: c.ep.transport, rec: &recorder{}, ack: &ackState{}}
	cc.res = CallResult{Pages: map[Role][]byte{}, PageErrors: map[Role]error{}, Fetches: map[Role]FetchResult{}}
	cc.res.CallID = cc.id

	req := sip.NewRequest(sip.INVITE, toURI)
	req.AppendHeader(&sip.FromHeader{Address: fromURI, Params: sip.HeaderParams{{K: "tag", V: randHex(8)}}})
	req.AppendHeader(&sip.ToHeader{Address: toURI})
	cid := sip.CallIDHeader(cc.id)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(c.ep.contact())
	if len(o.Supported) > 0 {
		req.AppendHeader(sip.NewHeader("Supported", strings.Join(o.Supported, ", ")))
	}
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, OPTIONS"))
	req.AppendHeader(sip.NewHeader("P-Early-Media", "supported"))
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp, multipart/mixed"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(buildOffer(o.Name, c.ep.addr.IP.String(), uint64(randUint32()), o.RTPPort,
		offerOptions{amrwb: o.AMRWB, video: o.Video}))
	req.SetTransport(c.ep.transport)
	req.SetDestination(target)
	if c.inviteHook != nil {
		c.inviteHook(req)
	}
	if o.Rewrite != nil {
		o.Rewrite(req)
	}
	if req.Transport() == "UDP" && len(req.String())+udpViaAllowance > udpSizeLimit {
		// RFC 3261 §18.1.1: a request above 1300 bytes goes over a congestion-controlled
		// transport (sipgo refuses to send it over UDP).
		req.SetTransport("TCP")
	}
	cc.invite = req
	cc.target = target

	c.mu.Lock()
	c.calls[cc.id] = cc
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.calls, cc.id)
		c.mu.Unlock()
	}()

	cc.start = time.Now()
	cc.res.Timings.Start = cc.start
	err := c.run(ctx, cc, target)
	// Let in-flight PRACKs and page fetches finish so that the result is complete.
	cc.pracks.Wait()
	// No fetch starts after this point (an UPDATE handler may still be running): the WaitGroup
	// below must not see an Add racing with its Wait.
	cc.mu.Lock()
	cc.ended = true
	cc.mu.Unlock()
	fetched := make(chan struct{})
	go func() { cc.fetches.Wait(); close(fetched) }()
	select {
	case <-fetched:
	case <-time.After(o.FetchTimeout):
		err = errors.Join(err, fmt.Errorf("%w: page fetch still running", ErrTimeout))
	}
	cc.mu.Lock()
	res := cc.res
	res.Timings.End = time.Since(cc.start)
	res.Timings.PageDone = cc.pageDone
	for _, tag := range cc.order {
		d := cc.dialogs[tag].EarlyDialog
		d.Provisionals = slices.Clone(d.Provisionals)
		d.SentUpdates = slices.Clone(d.SentUpdates)
		res.Dialogs = append(res.Dialogs, d)
	}
	for _, perr := range res.PageErrors {
		err = errors.Join(err, perr)
	}
	cc.mu.Unlock()
	res.Messages = cc.rec.snapshot()
	return &res, err
}

// run drives the INVITE transaction and, on success, the confirmed dialog.
func (c *Caller) run(ctx context.Context, cc *callerCall, target string) error {
	tx, err := c.ep.transaction(ctx, cc.rec, cc.invite)
	if err != nil {
		return err
	}
	defer tx.Terminate()
	ack, rec, ep := cc.ack, cc.rec, c.ep // not cc: the transaction outlives the call
	tx.OnRetransmission(func(res *sip.Response) {
		// A retransmitted 2xx means our ACK was lost: ACK again (RFC 3261 §13.2.2.4).
		ack.mu.Lock()
		if ack.req != nil && res.IsSuccess() {
			_ = ep.write(rec, ack.req)
		}
		ack.mu.Unlock()
	})

	var final *sip.Response
	var cancelC <-chan time.Time
	provisional, canceled := false, false
	ctxDone := ctx.Done()
	var giveUp <-chan time.Time
	sendCancel := func() {
		canceled = true
		cancelC, ctxDone = nil, nil
		giveUp = time.After(64 * sip.T1)
		cancel := newCancel(cc.invite)
		cc.pracks.Add(1)
		go func() {
			defer cc.pracks.Done()
			cctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 64*sip.T1)
			defer stop()
			if _, err := c.ep.do(cctx, cc.rec, cancel); err != nil {
				c.ep.log.Debug("cancel failed", "call_id", cc.id, "error", err)
			}
		}()
	}
	for final == nil {
		select {
		case res := <-tx.Responses():
			c.ep.record(cc.rec, Received, res)
			if res.IsProvisional() {
				if res.StatusCode > 100 && !provisional {
					provisional = true
					cc.mu.Lock()
					cc.res.Timings.FirstProvisional = time.Since(cc.start)
					cc.mu.Unlock()
					if c.opts.CancelAfter > 0 && !canceled {
						cancelC = time.After(c.opts.CancelAfter)
					}
				}
				c.onProvisional(ctx, cc, res, target)
				continue
			}
			final = res
		case <-cancelC:
			sendCancel()
		case <-ctxDone:
			if !provisional {
				return fmt.Errorf("%w: invite: %w", ErrTimeout, ctx.Err())
			}
			sendCancel()
		case <-giveUp:
			return fmt.Errorf("%w: no final response after CANCEL", ErrTimeout)
		case <-tx.Done():
			if err := tx.Err(); errors.Is(err, sip.ErrTransactionTimeout) {
				return fmt.Errorf("%w: invite: %w", ErrTimeout, err)
			}
			return fmt.Errorf("%w: invite transaction ended without final response: %w", ErrProtocol, tx.Err())
		}
	}

	cc.mu.Lock()
	cc.res.Final, cc.res.Reason, cc.res.Canceled = final.StatusCode, final.Reason, canceled
	cc.res.Timings.Final = time.Since(cc.start)
	cc.mu.Unlock()
	if !final.IsSuccess() {
		// sipgo's INVITE client transaction ACKs non-2xx finals itself (RFC 3261 §17.1.1.3).
		if canceled && final.StatusCode == sip.StatusRequestTerminated {
			return nil
		}
		return fmt.Errorf("%w: %d %s", ErrCallFailed, final.StatusCode, final.Reason)
	}
	return c.confirmed(ctx, cc, final, target)
}

// onProvisional tracks the early dialog of a 1xx (by To-tag) and PRACKs reliable ones.
func (c *Caller) onProvisional(ctx context.Context, cc *callerCall, res *sip.Response, target string) {
	tag := toTag(res)
	if tag == "" || res.StatusCode == 100 {
		return
	}
	cc.mu.Lock()
	reliable := hasOption(res, "100rel", "Require")
	rseq, rerr := strconv.Atoi(headerValue(res, "RSeq"))
	if reliable && (rerr != nil || rseq <= 0) {
		reliable = false // Require: 100rel without a valid RSeq: treat as unreliable
	}
	if old, ok := cc.dialogs[tag]; ok && reliable && old.lastRSeq != 0 && rseq <= old.lastRSeq {
		cc.mu.Unlock()
		return // retransmission (or stale): already PRACKed
	}
	if reliable && c.opts.DropReliable != nil && c.opts.DropReliable(res) {
		cc.res.Dropped++
		cc.mu.Unlock()
		return // "lost": the sender must retransmit it
	}
	d := cc.dialogFor(tag, res, cc.invite)
	d.Provisionals = append(d.Provisionals, res.StatusCode)
	if v := headerValue(res, "P-Early-Media"); v != "" {
		d.PEarlyMedia = v
	}
	if ct := headerValue(res, "Content-Type"); len(res.Body()) > 0 && strings.HasPrefix(strings.ToLower(ct), "application/sdp") {
		d.SDP = res.Body()
	}
	cc.collectCallInfo(res)
	if !reliable {
		cc.mu.Unlock()
		return
	}
	d.lastRSeq = rseq
	d.Reliable++
	prack := cc.inDialog(d, sip.PRACK, target)
	prack.AppendHeader(sip.NewHeader("RAck", strconv.Itoa(rseq)+" "+
		strconv.FormatUint(uint64(cc.invite.CSeq().SeqNo), 10)+" INVITE"))
	cc.mu.Unlock()

	cc.pracks.Add(1)
	go func() {
		defer cc.pracks.Done()
		pctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 64*sip.T1)
		defer stop()
		pres, err := c.ep.do(pctx, cc.rec, prack)
		if err != nil {
			c.ep.log.Debug("prack failed", "call_id", cc.id, "error", err)
			return
		}
		if pres.IsSuccess() {
			cc.mu.Lock()
			d.Pracked++
			cc.mu.Unlock()
		}
	}()
}

// confirmed ACKs the 200 OK, holds, and hangs up (or takes the remote BYE).
func (c *Caller) confirmed(ctx context.Context, cc *callerCall, ok *sip.Response, target string) error {
	cc.mu.Lock()
	d := cc.dialogFor(toTag(ok), ok, cc.invite)
	// The 2xx fixes the route set and remote target of the dialog (RFC 3261 §13.2.2.4).
	d.routes = routeSet(ok)
	if ct := ok.Contact(); ct != nil {
		d.target = ct.Address
	}
	d.Confirmed = true
	cc.res.Answer = ok.Body()
	cc.collectCallInfo(ok)
	ack := cc.inDialog(d, sip.ACK, target)
	cc.mu.Unlock()
	cc.ack.mu.Lock()
	cc.ack.req = ack
	err := c.ep.write(cc.rec, ack)
	cc.ack.mu.Unlock()
	if err != nil {
		return err
	}

	hold := time.NewTimer(max(c.opts.HoldTime, 0))
	defer hold.Stop()
	select {
	case <-hold.C:
	case <-cc.bye:
		return nil // the other side hung up
	case <-ctx.Done():
	}
	cc.mu.Lock()
	bye := cc.inDialog(d, sip.BYE, target)
	cc.mu.Unlock()
	bctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 64*sip.T1)
	defer stop()
	res, err := c.ep.do(bctx, cc.rec, bye)
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return fmt.Errorf("%w: BYE answered %d %s", ErrProtocol, res.StatusCode, res.Reason)
	}
	return nil
}

// dialogFor returns the dialog of To-tag tag, creating it from the response that opened it
// (remote target from Contact, route set from Record-Route reversed, RFC 3261 §12.1.2).
// Called with cc.mu held.
func (cc *callerCall) dialogFor(tag string, res *sip.Response, invite *sip.Request) *dialog {
	if d, ok := cc.dialogs[tag]; ok {
		return d
	}
	d := &dialog{EarlyDialog: EarlyDialog{ToTag: tag}, routes: routeSet(res), cseq: invite.CSeq().SeqNo}
	d.target = invite.Recipient
	if ct := res.Contact(); ct != nil {
		d.target = ct.Address
	}
	cc.dialogs[tag] = d
	cc.order = append(cc.order, tag)
	return d
}

// routeSet is the UAC route set: the Record-Route URIs of a response, in reverse order.
func routeSet(res *sip.Response) []sip.Uri {
	var out []sip.Uri
	for _, h := range res.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			out = append(out, rr.Address)
			continue
		}
		// A generic header: parse each comma-separated value.
		for _, v := range strings.Split(h.Value(), ",") {
			var u sip.Uri
			var p sip.HeaderParams
			if _, err := sip.ParseAddressValue(strings.TrimSpace(v), &u, &p); err == nil {
				out = append(out, u)
			}
		}
	}
	slices.Reverse(out)
	return out
}

// inDialog builds a request within dialog d (Request-URI = remote target, Route = route set,
// next local CSeq). Called with cc.mu held.
func (cc *callerCall) inDialog(d *dialog, method sip.RequestMethod, target string) *sip.Request {
	inv := cc.invite
	req := sip.NewRequest(method, d.target)
	for _, r := range d.routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	from := sip.HeaderClone(inv.From()).(*sip.FromHeader)
	req.AppendHeader(from)
	to := sip.HeaderClone(inv.To()).(*sip.ToHeader)
	to.Params.Add("tag", d.ToTag)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(cc.id)
	req.AppendHeader(&cid)
	seq := inv.CSeq().SeqNo // ACK for 2xx carries the INVITE's number (RFC 3261 §13.2.2.4)
	if method != sip.ACK {
		d.cseq++
		seq = d.cseq
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetTransport(cc.transport)
	if len(d.routes) == 0 && d.target.Host == inv.Recipient.Host && d.target.Port == inv.Recipient.Port {
		// No Contact and no route set: the only known way back is the first hop.
		req.SetDestination(target)
	}
	return req
}

// collectCallInfo keeps Call-Info values (the HTTPS fallback). Called with cc.mu held.
func (cc *callerCall) collectCallInfo(m sip.Message) {
	for _, h := range m.GetHeaders("Call-Info") {
		cc.res.CallInfo = append(cc.res.CallInfo, h.Value())
	}
}

func (c *Caller) lookup(id string) *callerCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// onUpdate answers an UPDATE in an early dialog (RFC 3311): Herald's media request message
// carrying the callee card's m=message push offer. The answer covers every offered m-line in
// order; an accepted push starts the MSRP fetch.
func (c *Caller) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	cc := c.lookup(callID(req))
	if cc == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.ep.record(cc.rec, Received, req)
	tag := fromTag(req)
	cc.mu.Lock()
	d, ok := cc.dialogs[tag]
	if ok {
		d.Updates++
		if ct := req.Contact(); ct != nil {
			d.target = ct.Address // UPDATE is a target refresh request
		}
		if v := headerValue(req, "P-Early-Media"); v != "" {
			d.PEarlyMedia = v
		}
	}
	cc.collectCallInfo(req)
	cc.mu.Unlock()
	if !ok {
		_ = c.ep.respond(cc.rec, tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if c.opts.GlareUpdate {
		cc.mu.Lock()
		first := d.Updates == 1
		cc.mu.Unlock()
		if first {
			c.glare(cc, d)
		}
	}
	if c.opts.RefuseUpdate != 0 {
		_ = c.ep.respond(cc.rec, tx, sip.NewResponseFromRequest(req, c.opts.RefuseUpdate, "Refused", nil))
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(c.ep.contact())
	var plans []pushPlan
	if len(req.Body()) > 0 {
		offer, err := sdp.Parse(req.Body())
		if err != nil {
			_ = c.ep.respond(cc.rec, tx, sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		var ans *sdp.Session
		ans, plans = answerOffer(offer, c.ep.addr.IP.String(), uint64(randUint32()), c.opts.RTPPort, !c.opts.RejectPush)
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(ans.Marshal())
	}
	if err := c.ep.respond(cc.rec, tx, res); err != nil {
		c.ep.log.Debug("update answer failed", "call_id", cc.id, "error", err)
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.ended {
		return // the call is over: too late to fetch
	}
	for _, p := range plans {
		cc.fetches.Add(1)
		go c.fetch(cc, p)
	}
}

// glare sends an UPDATE of the caller's own in dialog d (its session offer again) while the
// peer's UPDATE is unanswered, and records the final status in d.SentUpdates.
func (c *Caller) glare(cc *callerCall, d *dialog) {
	cc.mu.Lock()
	upd := cc.inDialog(d, sip.UPDATE, cc.target)
	cc.mu.Unlock()
	upd.AppendHeader(c.ep.contact())
	upd.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	upd.SetBody(cc.invite.Body())
	ctx, stop := context.WithTimeout(c.ep.ctx, 64*sip.T1)
	defer stop()
	status := 0
	if res, err := c.ep.do(ctx, cc.rec, upd); err == nil {
		status = res.StatusCode
	} else {
		c.ep.log.Debug("glare update failed", "call_id", cc.id, "error", err)
	}
	cc.mu.Lock()
	d.SentUpdates = append(d.SentUpdates, status)
	cc.mu.Unlock()
}

func (c *Caller) fetch(cc *callerCall, p pushPlan) {
	defer cc.fetches.Done()
	if c.opts.FetchDelay > 0 {
		t := time.NewTimer(c.opts.FetchDelay)
		select {
		case <-t.C:
		case <-c.ep.ctx.Done():
			t.Stop()
		}
	}
	fo, err := p.fetchOptions()
	var res FetchResult
	if err == nil {
		fo.NoChunkResponses = c.opts.NoChunkResponses
		fo.DropPage = c.opts.DropPages
		fo.WrapConn = c.opts.Link.MSRPConn
		fo.Control = c.opts.Link.MSRPControl
		fo.Timeout = c.opts.FetchTimeout
		fo.Trace, fo.Me, fo.Peer = c.ep.trace, c.ep.name, c.ep.peer
		res, err = Fetch(c.ep.ctx, fo)
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.res.Fetches[CalleeCard] = res
	if err != nil {
		cc.res.PageErrors[CalleeCard] = err
		return
	}
	cc.res.Pages[CalleeCard] = res.Page
	cc.pageDone = time.Since(cc.start)
}

func (c *Caller) onBye(req *sip.Request, tx sip.ServerTransaction) {
	cc := c.lookup(callID(req))
	if cc == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.ep.record(cc.rec, Received, req)
	_ = c.ep.respond(cc.rec, tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
	cc.byeOnce.Do(func() { close(cc.bye) })
}

// newCancel builds the CANCEL for an INVITE (RFC 3261 §9.1): same Request-URI, top Via, Call-ID,
// From, To, CSeq number and Route; sipgo's builder for it is unexported.
func newCancel(inv *sip.Request) *sip.Request {
	req := sip.NewRequest(sip.CANCEL, inv.Recipient)
	req.AppendHeader(inv.Via().Clone())
	for _, h := range inv.GetHeaders("Route") {
		req.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.HeaderClone(inv.From()).(*sip.FromHeader))
	req.AppendHeader(sip.HeaderClone(inv.To()).(*sip.ToHeader))
	cid := sip.CallIDHeader(inv.CallID().Value())
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	req.SetTransport(inv.Transport())
	req.SetDestination(inv.Destination())
	return req
}
