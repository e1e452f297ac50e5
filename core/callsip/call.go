package callsip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sdp"
	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/core/sipmsg"
)

// Call is one call's controller: the SIP glue of the call's state machine (core/call). It turns
// what arrives (responses of the forwarded INVITE, the caller's CANCEL, PRACK and UPDATE on Herald's
// own early dialog, push results, timers) into call.Events, and performs the call.Actions the
// machine returns (callact.go); it decides nothing itself. Only the goroutine running run touches
// it; everything else reaches it through its inbox (events; push results on notes), read by one
// receive per event instead of a select over a channel per source.
type Call struct {
	env    *Env
	req    *sip.Request // the caller's INVITE as received
	tx     sip.ServerTransaction
	callID string
	tag    string // Herald's To tag toward the caller: its own responses and early dialog
	caps   call.Caps
	plan   call.Plan
	m      *call.Call // the call's state machine: &machine
	// machine is held here rather than apart (call.Call.Init): one allocation per call less.
	machine call.Call
	ctx     context.Context
	cancel  context.CancelFunc
	events  chan any                               // the inbox: responses, timers, the caller's CANCEL, requests on Herald's dialog...
	notes   chan pushNote                          // the push sessions' bindings and results (push.Session.Notify)
	notify  func(*push.Session, bool, push.Result) // the sessions' hook onto notes (notifier)
	// ownMu guards ownClosed: set once the controller has returned, after which PrackOn answers
	// 481 itself (drainOwn).
	ownMu     sync.Mutex
	ownClosed bool
	wg        sync.WaitGroup // helper goroutines (UPDATE, CANCEL, ACK and BYE)

	fwd       *sip.Request // the INVITE as forwarded (with Herald's Via)
	offer     *sdp.Session // the caller's SDP offer, once offerRead (callerOffer)
	offerRead bool
	sessions  []*push.Session
	sessBuf   [2]*push.Session // what sessions starts on: one session per card
	pushes    [3]*push.Session // by call.Card: the session whose binding and result the machine hears of
	early     ownDialog        // Herald's own early dialog toward the caller
	rec       callRecord       // histograms and the call's info line (record.go)

	// The forwarded INVITE's client transactions (a resend without the early-session part adds
	// one) and the current one, whose responses and end the machine hears of; nil once detached.
	txs   []sip.ClientTransaction
	txBuf [2]sip.ClientTransaction // what txs starts on: the INVITE and its resend
	clTx  sip.ClientTransaction
	heard bool // clTx passed a response up (retarget.go)

	// The machine's timers (call.Timer): each arm posts a timerFired with a new generation, and a
	// fire of an earlier generation (stopped or re-armed since) is ignored.
	timers   [timerSlots]*time.Timer
	timerGen [timerSlots]uint32

	// What the event being handled carries, for the actions that need its SIP form: the response
	// (relayed as it is, its early-session part stripped in place when stripped is set), the MSRP
	// answers in it, the request on Herald's dialog being answered,
	// the callee card's link, and the event an action reports back (handled after the batch).
	cur      *sip.Response
	stripped bool
	answers  []sdp.MSRPInfo
	// earlyAnswered are the To tags of the callee's early dialogs whose reliable provisional
	// answered the caller's offer (RFC 3262, RFC 3261 §13.2.1): their 2xx carries no SDP, rightly.
	earlyAnswered []string
	in            Answerer
	link          string
	next          []call.Event
	nextBuf       [2]call.Event // what next starts on (report): an action reports one event at most
	done          bool

	// The gate on early-dialog pushes (capability.go): the keys each party's terminal is learned
	// under, whether its capability is provisioned, and the caller card's Call-Info link.
	callerKey, calleeKey   string
	callerProv, calleeProv bool
	callerLink             string
}

// New is the controller of the call the caller's INVITE req starts on the server transaction tx:
// callID is req's Call-ID, tag Herald's To tag toward the caller, which every response to req
// carries (RFC 3261 §8.2.6.2), its own early dialog's included, and start when req reached the
// server (the call-setup histograms count from it). The server admits the call (or not) before Run;
// one it does not admit is let go with Discard.
func New(env *Env, req *sip.Request, tx sip.ServerTransaction, callID, tag string, start time.Time) *Call {
	c := &Call{env: env, req: req, tx: tx, callID: callID, tag: tag, events: make(chan any, inboxSize),
		notes: make(chan pushNote, notesSize)}
	c.m = &c.machine
	c.sessions, c.txs = c.sessBuf[:0], c.txBuf[:0]
	c.machine.Init(call.Config{}) // the machine a fault before run reports to (runSafe)
	c.rec.start = start
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Discard lets go of a call the server did not admit (Run never runs).
func (c *Call) Discard() { c.cancel() }

// Run runs the call until the INVITE has its final response, every push session of the call has
// ended and every helper goroutine has exited; then ended runs (the server releases the call's
// admission there) and the call's info line is logged. It runs on the INVITE handler's goroutine.
func (c *Call) Run(ended func()) {
	growStack()
	// A matched CANCEL does not end the server transaction's Done(); sipgo reports it here (it has
	// already answered 200 to the CANCEL and 487 to the INVITE).
	// sipgo runs this on its own goroutine; once only, whatever sipgo does with a repeated CANCEL.
	// The callback holds the channels, not the controller: sipgo keeps the server transaction 64·T1
	// after the final response (RFC 6026 Timer L), and upstream kept this callback with it, so a
	// controller held that long kept the whole call (both INVITEs, the machine, push sessions, SDP)
	// live: half of Herald's live heap in the push flow at 600 calls/s. Herald's sipgo drops the
	// callback at the final response (netio/sipgo/HERALD.md).
	var cancelOnce sync.Once
	env, events, gone := c.env, c.events, c.ctx.Done()
	c.tx.OnCancel(func(*sip.Request) {
		defer func() { env.Host.Recovered(recover()) }()
		cancelOnce.Do(func() {
			select {
			case events <- cancelled{}:
			case <-gone:
			}
		})
		fire(&env.Faults.Helper, "oncancel")
	})
	defer func() {
		c.cancel()
		c.wg.Wait()
		c.drainOwn()
		c.handle(call.Event{Kind: call.EvEnd}) // the ringback and push sessions still held
		fire(&env.Faults.End, c)
		if env.Web != nil {
			env.Web.RevokeCall(c.callID)
		}
		ended()
		c.logEnd()
	}()
	c.runSafe()
}

// CallID is the call's Call-ID.
func (c *Call) CallID() string { return c.callID }

// Machine is the call's state machine (core/call): its trail, read once the call has ended.
func (c *Call) Machine() *call.Call { return c.m }

// Abort ends the call as a drain whose time is up does (the machine's EvDrain: 487 to the caller,
// CANCEL to the callee). It blocks until the controller takes it or the call has ended.
func (c *Call) Abort() {
	select {
	case c.events <- drainAbort{}:
	case <-c.ctx.Done():
	}
}

// drainAbort is posted to a call's controller by Abort.
type drainAbort struct{}

// What else reaches the controller's inbox (events): the caller's CANCEL (sipgo's OnCancel), a
// response a client transaction passed up and its end (sip.ClientTx.SetPassUp, OnTerminate: those
// of a transaction no longer listened to are dropped), and a timer's fire.
type (
	cancelled  struct{}
	txResponse struct {
		tx  sip.ClientTransaction
		res *sip.Response
	}
	txDone     struct{ tx sip.ClientTransaction }
	timerFired struct {
		t   call.Timer
		gen uint32
	}
)

// pushNote is a push session's binding (bound) or result, as the plane tells it (push.Session.Notify).
type pushNote struct {
	ps    *push.Session
	bound bool
	r     push.Result
}

const (
	// inboxSize bounds what waits for the controller. Requests on Herald's dialog take at most
	// prackQueue of it (PrackOn answers 500 above that); everything else blocks its sender until
	// taken, as the channel per source did.
	inboxSize  = 16
	prackQueue = 8
	// notesSize holds every note of a call's push sessions without blocking the plane (two per
	// session: the binding and the result; a call opens one session per card); a note that finds
	// it full all the same waits on a goroutine of its own (notifier).
	notesSize  = 4
	timerSlots = int(call.TimerCancelWait) + 1
)

// runSafe runs the controller behind the recovery net (core/signal's recover.go, through
// Host.Recovered): a fault in it answers the caller 500 with Retry-After instead of leaving the
// INVITE unanswered, and cancels the INVITE it forwarded (Run's deferred cleanup still releases
// everything else).
func (c *Call) runSafe() {
	defer func() {
		if r := recover(); c.env.Host.Recovered(r) {
			// What is owed (500 upstream, CANCEL downstream, pushes and ringback ended), each
			// action behind its own net: one failing does not keep the others from going.
			for _, a := range append([]call.Action(nil), c.m.Handle(call.Event{Kind: call.EvFault})...) {
				func() {
					defer func() {
						if r := recover(); a.Kind != call.ActRespond {
							c.env.Host.Recovered(r) // a failed 500 is not a second fault to count
						}
					}()
					c.act(a)
				}()
			}
		}
	}()
	fire(&c.env.Faults.Controller, c.req)
	c.run()
}

// respond sends Herald's own response to the caller's INVITE, with the call's To tag.
func (c *Call) respond(code int, reason string, hdrs ...sip.Header) {
	c.noteFinal(code)
	sipmsg.RespondTag(c.tx, c.req, c.tag, code, reason, hdrs...)
}

func (c *Call) run() {
	s, req := c.env, c.req
	caps, pai := scanInvite(req)
	c.caps = caps
	c.caps.MessageFeature = messageFeature(req)
	cr, ce := s.Host.Parties(identityOf(pai, req), uriText(&req.Recipient)) // one lookup per party
	var callerParty, calleeParty call.Party                                 // what Decide reads, on the stack
	caller, callerKey, callerProv := s.party(cr, &callerParty)
	callee, calleeKey, calleeProv := s.party(ce, &calleeParty)
	c.callerKey, c.callerProv, c.calleeKey, c.calleeProv = callerKey, callerProv, calleeKey, calleeProv
	c.plan = call.Decide(caller, callee, c.caps, s.Probe)
	if !c.plan.Plain() && s.Shed.Shed(c.callID) {
		// Overloaded (core/overload): the call goes through as it would without Herald, its
		// cards and ringback do not. The one place shedding is decided (after admission).
		s.trace("herald: overloaded: INVITE forwarded as a plain call, without its cards")
		c.plan = call.Plan{}
	}
	c.machine.Init(call.Config{Plan: c.plan, Caps: c.caps, Offer: len(req.Body()) > 0, InviteCSeq: req.CSeq().SeqNo,
		RSeq: 1 + uint32(time.Now().UnixNano()%(1<<30)), // RFC 3262 §3: 1..2**31-1, random start
		T1:   s.T1, TimerC: s.TimerC})
	if s.tracing() {
		s.trace("herald: INVITE %s from %s: plan caller-card=%t (%s) callee-card=%t (%s) claims %v", req.Recipient.String(),
			identityOf(pai, req), c.plan.CallerCard != nil, c.plan.CallerMode, c.plan.CalleeCard != nil, c.plan.CalleeMode, c.plan.Claims())
	}

	if c.plan.CallerCard != nil {
		// The HTTP link every terminal gets; the only form for one not known to take the
		// early-session part (capability.go).
		if c.callerLink = c.callInfo(c.plan.CallerCard); c.callerLink != "" && s.tracing() {
			s.trace("herald: caller card linked for HTTP fetch: Call-Info %s", c.callerLink)
		}
		switch c.plan.CallerMode {
		case call.CallerCardCallInfo:
			s.Stats.Capability.CallerCardCallInfo.Add(1)
			s.trace("herald: callee's terminal not known to take early-session pushes: caller card as Call-Info only")
		case call.CallerCardProbe:
			s.Stats.Capability.CallerCardProbes.Add(1)
		}
	}
	fwd := c.newForward()
	sent := false
	if c.plan.CallerMode.Pushes() {
		if err := c.addCallerCard(fwd); err != nil {
			s.Stats.BadBodies.Add(1)
			s.Log.Info("caller card not added; INVITE forwarded untouched", "call_id", c.callID, "error", err)
			s.trace("herald: caller card not added (%v); body forwarded untouched", err)
		} else {
			sent = true
		}
	}
	defer func() {
		// The transactions' OnTerminate post to the inbox, which no one reads from here on.
		c.cancel()
		for _, tx := range c.txs {
			tx.Terminate()
		}
		for _, t := range c.timers {
			if t != nil {
				t.Stop()
			}
		}
	}()
	clTx, err := s.Host.Invite(c.ctx, fwd, c.callID)
	if err != nil {
		// RFC 3261 §16.9: a transport error counts as a 503 from the next hop. With TLS this includes a
		// next hop whose certificate does not verify: nothing was sent to it.
		s.Stats.ForwardErrors.Add(1)
		s.Log.Warn("forward INVITE", "call_id", c.callID, "error", err)
		c.handle(call.Event{Kind: call.EvForwarded, Sent: sent, Failed: true})
		return
	}
	c.fwd = fwd
	c.listen(clTx)
	s.Stats.Forwarded.Add(1)
	if s.tracing() {
		s.trace("herald → next hop  SIP INVITE %s (%s)", fwd.Recipient.String(), contentType(fwd))
	}
	c.handle(call.Event{Kind: call.EvForwarded, Sent: sent})

	for !c.done {
		select {
		case ev := <-c.events:
			c.onEvent(ev)
		case n := <-c.notes:
			c.onNote(n)
		case <-c.tx.Done():
			c.handle(call.Event{Kind: call.EvCallerGone, Canceled: errors.Is(c.tx.Err(), sip.ErrTransactionCanceled)})
		}
	}
}

// listen makes tx the forwarded INVITE's current client transaction: its responses and its end
// reach the inbox.
func (c *Call) listen(tx sip.ClientTransaction) {
	c.txs = append(c.txs, tx)
	c.clTx = tx
	// The callbacks hold the channels, not a post closure of their own (one allocation less).
	events, gone := c.events, c.ctx.Done()
	if t, ok := tx.(tryPassUp); ok {
		t.SetTryPassUp(func(res *sip.Response) bool {
			select {
			case events <- &txResponse{tx, res}:
				return true
			default:
				return false
			}
		})
	}
	tx.SetPassUp(func(res *sip.Response) { postEvent(events, gone, &txResponse{tx, res}) })
	if !tx.OnTerminate(func(string, error) { postEvent(events, gone, &txDone{tx}) }) {
		postEvent(events, gone, &txDone{tx}) // over already
	}
	c.watchSilence(tx)
}

// postEvent hands ev to the inbox events, or drops it once the call is gone: what a callback on
// another goroutine posts.
func postEvent(events chan<- any, gone <-chan struct{}, ev any) {
	select {
	case events <- ev:
	case <-gone:
	}
}

// tryPassUp is a client transaction that hands a response to the controller without waiting when
// its inbox has room (EngineInvite's: the engine's goroutine must never block).
type tryPassUp interface {
	SetTryPassUp(func(*sip.Response) bool)
}

// inviteCanceler is a client transaction that sends the CANCEL for its INVITE itself (EngineInvite's:
// the engine holds the INVITE as sent).
type inviteCanceler interface {
	CancelInvite()
}

// newForward is the caller's INVITE as Herald forwards it, before any early-session part: routed by
// the server (Host.Forward: its own Route popped or the next hop set, its Record-Route), with the
// caller card's Call-Info link.
func (c *Call) newForward() *sip.Request {
	fwd := c.env.Host.Forward(c.req)
	if c.callerLink != "" {
		fwd.AppendHeader(sip.NewHeader("Call-Info", c.callerLink))
	}
	return fwd
}

// onResponse turns one response of the forwarded INVITE into an event: what the machine needs of
// its body is read here (whether a 2xx answers the caller's offer; the callee's early-session
// answer, stripped from what is relayed, RFC 3959).
func (c *Call) onResponse(res *sip.Response) {
	c.cur, c.stripped, c.answers = res, false, nil
	ev := call.Event{Kind: call.EvResponse, Code: res.StatusCode, Reason: res.Reason,
		CalleeEarlyMedia: res.StatusCode > 100 && res.StatusCode < 200 && earlyMediaAuthorised(res)}
	if offered := c.m.CardSent() && len(c.req.Body()) > 0; offered && res.IsSuccess() {
		ev.Session = call.SessionAnswered(contentType(res), res.Body()) || slices.Contains(c.earlyAnswered, toTag(res))
	} else if offered && res.StatusCode > 100 && res.GetHeader("RSeq") != nil && len(c.earlyAnswered) < maxForks &&
		call.SessionAnswered(contentType(res), res.Body()) {
		// A VoLTE callee (preconditions) answers the offer in its PRACKed 183; its 200 has no SDP.
		c.earlyAnswered = append(c.earlyAnswered, toTag(res))
	}
	if res.StatusCode > 100 && !c.m.Canceled() {
		if ct := contentType(res); ct != "" && len(res.Body()) > 0 {
			newCT, body, stripped, err := sdp.StripEarlySession(ct, res.Body())
			if err == nil && stripped {
				c.answers = call.EarlyAnswers(ct, res.Body())
				ev.EarlyAnswer = len(c.answers) > 0
				// In place: the response is this call's alone once passed up (the relay takes its Via
				// off too), and everything read of its body above is read before.
				setBody(res, newCT, body) // an early-session part alone leaves no body and no Content-Type
				c.stripped = true
			}
		}
	}
	c.handle(ev)
}

// callInfo publishes page for this call and returns the Call-Info value pointing at it, or "" when
// Herald has no HTTP plane or the page cannot be published.
func (c *Call) callInfo(page *content.Page) string {
	if c.env.Web == nil || page == nil {
		return ""
	}
	url, _, err := c.env.Web.Publish(page, c.callID)
	if err != nil {
		c.env.Log.Info("call-info fallback not published", "call_id", c.callID, "error", err)
		return ""
	}
	c.env.Stats.CallInfoLinks.Add(1)
	return "<" + url + ">;purpose=info"
}

// fingerprintConnector is a push.Connector that verifies an msrps terminal's certificate by the
// a=fingerprint of its answer (RFC 8122) instead of a CA chain (netio/msrp.Server).
type fingerprintConnector interface {
	ConnectFingerprint(id string, peerPath string, addr string, fps []sdp.Fingerprint) error
}

// applyAnswer hands the terminal's MSRP answer to the plane: its a=accept-types (a compressed variant
// of the page is sent only when listed) and, when it answered a=setup:passive (RFC 6135), the
// address Herald must connect to, with the answer's a=fingerprint (RFC 8122) when it has any.
func (c *Call) applyAnswer(ps *push.Session, info sdp.MSRPInfo) {
	if as, ok := c.env.MSRP.(push.AcceptSetter); ok && len(info.AcceptTypes) > 0 {
		as.SetAccept(ps.ID, info.AcceptTypes)
	}
	if !strings.EqualFold(info.Setup, "passive") || len(info.Path) == 0 {
		return
	}
	cn, ok := c.env.MSRP.(push.Connector)
	if !ok {
		return
	}
	addr := ""
	if info.CEMA && info.ConnAddr != "" && info.Port > 0 {
		// RFC 6714: connect to c=/m= (what an IMS-ALG may have rewritten), not the a=path host.
		addr = net.JoinHostPort(info.ConnAddr, strconv.Itoa(info.Port))
	} else if u, err := msrp.ParseURI([]byte(info.Path[0])); err == nil {
		port := u.Port
		if port == 0 {
			port = msrp.DefaultPort
		}
		addr = net.JoinHostPort(u.Host, strconv.Itoa(port))
	}
	if addr == "" {
		return
	}
	var err error
	if fc, ok := cn.(fingerprintConnector); ok && len(info.Fingerprints) > 0 {
		err = fc.ConnectFingerprint(ps.ID, strings.Join(info.Path, " "), addr, info.Fingerprints)
	} else {
		err = cn.Connect(ps.ID, strings.Join(info.Path, " "), addr)
	}
	if err != nil {
		c.env.Log.Info("msrp active connect", "call_id", c.callID, "error", err)
		return
	}
	if c.env.tracing() {
		c.env.trace("herald: terminal answered setup:passive: Herald connects to %s", addr)
	}
}

// cancelDownstream sends CANCEL for the forwarded INVITE; its response is awaited off the controller.
func (c *Call) cancelDownstream() {
	if c.fwd == nil {
		return
	}
	if n := len(c.txs); n > 0 {
		if ic, ok := c.txs[n-1].(inviteCanceler); ok {
			ic.CancelInvite() // the transaction of c.fwd: the last one listened to
			return
		}
	}
	cr := CancelRequest(c.fwd)
	if cr == nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { c.env.Host.Recovered(recover()) }()
		ctx, cancel := context.WithTimeout(context.Background(), 64*c.env.T1)
		defer cancel()
		cr.SetTransport(c.fwd.Transport())
		cr.Laddr = c.fwd.Laddr
		if err := c.env.Host.Cancel(ctx, cr); err != nil {
			c.env.Log.Debug("cancel downstream", "call_id", c.callID, "error", err)
		}
		fire(&c.env.Faults.Helper, "cancel")
	}()
}

// addCallerCard opens the caller-card push session and adds its early-session offer to fwd
// (claims 1 and 3). The caller's SDP stays byte-for-byte as the session part.
func (c *Call) addCallerCard(fwd *sip.Request) error {
	ct := contentType(fwd)
	offered, err := call.CheckCallerBody(ct, fwd.Body())
	if err != nil {
		return err
	}
	c.offer, c.offerRead = offered, true // the same bytes as the caller's: parsed once
	ps, offer, err := c.openPush(push.CallerCard, c.plan.CallerCard)
	if err != nil {
		return err
	}
	var bnd [32]byte // "herald-" and 6 random bytes: one string
	boundary := string(push.AppendID(append(bnd[:0], "herald-"...), 6))
	newCT, body, err := call.WithCallerCard(ct, fwd.Body(), offer.Host, uint64(time.Now().UnixNano()), offer.Media(), boundary)
	if err != nil {
		c.closeSession(ps) // never offered: its only other end is the machine's ClosePush
		return err
	}
	fwd.SetBody(body)
	fwd.ReplaceHeader(ctHeader(newCT))
	if !supports(fwd, "early-session") {
		fwd.AppendHeader(sip.NewHeader("Supported", "early-session"))
	}
	c.env.Stats.CallerCards.Add(1)
	if c.env.tracing() {
		c.env.trace("herald: caller card %q (%d bytes) offered as early-session, path %s", c.plan.CallerCard.Name,
			len(c.plan.CallerCard.Body), offer.PathURI)
	}
	return nil
}

// supports reports whether m's Supported headers list the option tok (RFC 3261 §20.37), read in
// place (sipmsg.HeaderValues collects them in a new slice first). With the length checked first,
// EqualFold folds ASCII case only, as sipgo's GetHeaders does.
func supports(m *sip.Request, tok string) bool {
	for _, h := range m.Headers() {
		if name := h.Name(); len(name) == len("Supported") && strings.EqualFold(name, "Supported") &&
			call.HasToken([]string{h.Value()}, tok) {
			return true
		}
	}
	return false
}

// openPush creates and opens a push session and the SDP offer that advertises it.
func (c *Call) openPush(role push.Role, page *content.Page) (*push.Session, sdp.PushOffer, error) {
	// Notified before Open: the plane may bind it at once.
	ps := push.NewNotified(c.callID, role, page, c.env.SessionTTL, c.notifier())
	// The caller card's offer goes in the forwarded INVITE, which the S-CSCF forks to each of the
	// callee's devices (RFC 3261 §16.6; 3GPP TS 24.229 §5.4.3.3): each answers it in its own early
	// dialog and fetches the card. The callee card goes in Herald's own UPDATE, which no proxy forks.
	ps.Forkable = role == push.CallerCard
	host, port := c.env.MSRP.Addr()
	if ta, ok := c.env.MSRP.(interface{ TLSAddr() (string, int) }); ok && c.env.OfferTLS {
		// msrps: the session binds only over TLS and a=path says msrps:// (RFC 4975 §6).
		if h, p := ta.TLSAddr(); p != 0 {
			ps.Secure, host, port = true, h, p
		}
	}
	if err := c.env.MSRP.Open(ps); err != nil {
		return nil, sdp.PushOffer{}, fmt.Errorf("signal: open push session: %w", err)
	}
	c.sessions = append(c.sessions, ps)
	c.pushes[cardOf(ps)] = ps
	pg := ps.Page
	offer := sdp.PushOffer{
		Secure:      ps.Secure,
		Host:        host,
		Port:        port,
		PathURI:     c.env.MSRP.PathURI(ps.ID),
		AcceptTypes: htmlOnly,
		FileSelector: sdp.FileSelector{
			Name: pg.Name, Type: "text/html", Size: int64(len(pg.Body)), Hash: pg.HashSelector(),
		},
		TransferID:  ps.TransferID,
		Disposition: "render",
	}
	return ps, offer, nil
}

// htmlOnly is every push offer's a=accept-types: the page (sdp.PushOffer only reads it).
var htmlOnly = []string{"text/html"}

// notifier is the hook (push.Session.Notify) through which the plane tells the binding and the
// result of each of the call's push sessions, in that order, to the controller's notes, without
// blocking its loop; the controller hears of them once the session is its card's (c.pushes). The
// hook holds the channels, not the controller. One per call, made at its first push session.
func (c *Call) notifier() func(*push.Session, bool, push.Result) {
	if c.notify == nil {
		notes, gone := c.notes, c.ctx.Done()
		c.notify = func(ps *push.Session, bound bool, r push.Result) {
			n := pushNote{ps: ps, bound: bound, r: r}
			select {
			case notes <- n:
			default: // more notes than a call's sessions give: wait off the plane's loop
				go func() {
					select {
					case notes <- n:
					case <-gone:
					}
				}()
			}
		}
	}
	return c.notify
}

// stale reports what reached the inbox or the notes after it stopped mattering: a response or the
// end of a client transaction the call no longer listens to (ActDetach, a resend), a timer's fire
// from before it was armed again or stopped, a push note of a session that is not its card's (one
// that did not open, or whose result the call has had).
func (c *Call) stale(ev any) bool {
	switch e := ev.(type) {
	case *txResponse:
		return e.tx != c.clTx
	case *txDone:
		return e.tx != c.clTx
	case *silence:
		return e.tx != c.clTx || c.heard
	case timerFired:
		return int(e.t) >= timerSlots || e.gen != c.timerGen[e.t]
	case pushNote:
		return c.pushes[cardOf(e.ps)] != e.ps
	}
	return false
}

// onNote: the plane bound a terminal to a session, or reported its result.
func (c *Call) onNote(n pushNote) {
	if c.stale(n) {
		return
	}
	card := cardOf(n.ps)
	if n.bound {
		if c.env.tracing() {
			c.env.trace("herald: %s push %s: terminal bound", n.ps.Role, n.ps.ID[:8])
		}
		c.handle(call.Event{Kind: call.EvPushBound, Card: card})
		return
	}
	c.pushes[card] = nil
	r := n.r
	if c.env.tracing() {
		c.env.trace("herald: %s push %s: %s (%d bytes)", n.ps.Role, n.ps.ID[:8], r.Outcome, r.Bytes)
	}
	o := r.Outcome
	c.handle(call.Event{Kind: call.EvPushDone, Card: card, Delivered: o == push.Delivered,
		Failed: o == push.Failed || o == push.TimedOut || o == push.Disconnected})
}

// cardOf is the machine's name of a session's card.
func cardOf(ps *push.Session) call.Card {
	if ps.Role == push.CalleeCard {
		return call.CalleeCardPush
	}
	return call.CallerCardPush
}

// onEvent turns what another goroutine posted into the machine's event.
func (c *Call) onEvent(ev any) {
	if c.stale(ev) {
		return
	}
	switch e := ev.(type) {
	case *txResponse:
		c.heard = true
		fire(&c.env.Faults.Response, e.res)
		if c.env.Host.BadResponse(e.res) {
			return
		}
		c.onResponse(e.res)
	case *txDone:
		c.handle(call.Event{Kind: call.EvClientDone})
	case *silence:
		c.retarget()
	case cancelled:
		c.handle(call.Event{Kind: call.EvCancel})
	case timerFired:
		c.handle(call.Event{Kind: call.EvTimer, Timer: e.t})
	case *prackEvent:
		c.onPrack(e)
	case *updateDone:
		c.onUpdateDone(e)
	case *inboundUpdate:
		defer close(e.done)
		c.in = sipgoAnswer{e.req, e.tx}
		c.handle(call.Event{Kind: call.EvInboundUpdate})
	case drainAbort:
		c.handle(call.Event{Kind: call.EvDrain})
	case brokenAnswerEnded:
		c.cur, c.stripped = e.res, false
		c.handle(call.Event{Kind: call.EvBrokenEnded, Code: e.res.StatusCode, Reason: e.res.Reason})
	}
}

func contentType(m interface{ ContentType() *sip.ContentTypeHeader }) string {
	if h := m.ContentType(); h != nil {
		return h.Value()
	}
	return ""
}

func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// setBody gives m the body and its Content-Type. An empty body gets no Content-Type at all (and
// Content-Length 0): an empty "Content-Type:" is no media-type (RFC 3261 §20.15, §7.4.1), and
// belle-sip (linphone) refuses the whole message for it.
func setBody(m interface {
	SetBody([]byte)
	RemoveHeader(string) bool
	ReplaceHeader(sip.Header)
}, ct string, body []byte) {
	m.SetBody(body)
	if len(body) == 0 || ct == "" {
		m.RemoveHeader("Content-Type")
		return
	}
	m.ReplaceHeader(ctHeader(ct))
}

// ctHeader is a typed Content-Type header: sipgo caches the typed header for ContentType(), so a
// generic one would leave that cache stale.
func ctHeader(v string) *sip.ContentTypeHeader {
	h := sip.ContentTypeHeader(v)
	return &h
}

// CancelRequest builds the CANCEL for a forwarded INVITE (RFC 3261 §9.1) with sipfast.AppendHop,
// the builder the fast path uses too, reading sipgo's INVITE (same Request-URI, top Via, Route set,
// From, To, Call-ID and CSeq number), and parses it for sipgo's client transaction.
// It returns nil when inv lacks one of them (sipmsg.CheckRequest keeps such an INVITE from being
// forwarded; this is the second line).
func CancelRequest(inv *sip.Request) *sip.Request {
	via, cseq := inv.Via(), inv.CSeq()
	if via == nil || inv.From() == nil || inv.To() == nil || inv.CallID() == nil || cseq == nil {
		return nil
	}
	hdrs := func(yield func(name, value string) bool) {
		for _, h := range inv.Headers() {
			if !yield(h.Name(), h.Value()) {
				return
			}
		}
	}
	b := sipfast.AppendHop(make([]byte, 0, 512), "CANCEL", []byte(inv.Recipient.String()), []byte(via.Value()), hdrs, cseq.SeqNo, nil)
	msg, err := sip.NewParser(sip.WithHeadersParsers(sipmsg.HeaderParsers())).ParseSIP(b)
	c, ok := msg.(*sip.Request)
	if err != nil || !ok {
		return nil
	}
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	return c
}

// maxForks bounds the early dialogs a call remembers (earlyAnswered): a callee's devices, forked.
const maxForks = 16

// toTag is res's To tag ("" without one).
func toTag(res *sip.Response) string {
	if to := res.To(); to != nil {
		t, _ := to.Params.Get("tag")
		return t
	}
	return ""
}
