package uesim

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-ims/herald/core/sdp"
)

// leanCall is one call of a Lean pair: the caller side's state and the callee side's, each
// changed only under mu (by the sockets' readers, the timers and the fetches).
type leanCall struct {
	l     *Lean
	id    string
	start time.Time

	mu sync.Mutex

	// The caller side.
	target      netip.AddrPort // Herald
	from, to    string         // From (with tag) and To values of the INVITE
	ruri        string
	branch      string
	invite      *leanRetx // Timer A (stopped by the first response)
	inviteTimeB *time.Timer
	cseq        uint32 // the last CSeq number used (the INVITE's is 1)
	dialogs     map[string]*leanDialog
	clientTx    map[uint32]*leanRetx // PRACK, BYE and CANCEL in progress, by CSeq number
	provisional bool
	final       bool
	canceled    bool
	ack         []byte // the ACK sent for the final response, resent on its retransmission
	ackTo       netip.AddrPort
	confirmed   *leanDialog
	callerOver  bool
	fetches     sync.WaitGroup
	res         CallResult
	err         error
	callerDone  chan struct{}
	answers     map[string][]byte // responses sent to requests (both sides), by answerKey
	byeSent     bool

	// The callee side (lean_callee.go).
	ce         CalleeCall
	ceFirst    *CalleeCall // the first exchange's report, when a second INVITE came (calleeReset)
	ceSeen     bool
	ceStart    time.Time // the INVITE's arrival: the ring time counts from it
	ceFrom     netip.AddrPort
	ceInv      leanMsg // the INVITE (over ceRaw)
	ceRaw      []byte
	ceTag      string
	ceRSeq     uint32
	ceLast     []byte // the last response to the INVITE
	ceRetx     *leanRetx
	ceAnswer   []byte // the session answer (200's body)
	cePlan     *pushPlan
	ceFetching bool
	ceRung     bool
	ceFinal    bool
	ceOver     bool
	calleeDone chan struct{}
}

// leanDialog is one early or confirmed dialog of the caller (one To-tag, RFC 3261 §12.1.2).
type leanDialog struct {
	tag      string
	to       string // the To value with the remote tag
	target   string // remote target (Contact)
	dest     netip.AddrPort
	routes   []string
	lastRSeq uint32
}

func (c *leanCall) sendInvite(from, to string) {
	l := c.l
	c.from, c.to, c.ruri = "<"+from+">;tag="+randHex(8), "<"+to+">", to
	c.branch = "z9hG4bK" + randHex(10)
	c.cseq = 1
	var w leanWriter
	w.line("INVITE ", to, " SIP/2.0")
	w.line("Via: SIP/2.0/UDP ", l.callerAP.String(), ";branch=", c.branch, ";rport")
	w.line("Max-Forwards: 70")
	w.line("From: ", c.from)
	w.line("To: ", c.to)
	w.line("Call-ID: ", c.id)
	w.line("CSeq: 1 INVITE")
	w.line("Contact: <", l.callerURI, ">")
	w.line("Supported: 100rel, timer, early-session, 199")
	w.line("Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, OPTIONS")
	w.line("P-Early-Media: supported")
	w.line("Accept: application/sdp, multipart/mixed")
	b := w.body("application/sdp", buildOffer("caller", l.host, uint64(randUint32()), l.o.RTPPort, offerOptions{}))
	c.invite = c.retransmit(l.caller, b, c.target, nil)
	// Timer B (RFC 3261 §17.1.1.2): no final response within 64·T1 ends the call.
	c.inviteTimeB = time.AfterFunc(64*l.o.T1, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.final && !c.canceled {
			c.callerEnd(fmt.Errorf("%w: no final response to the INVITE", ErrTimeout))
		}
	})
}

// onDeadline: the call's context ended before the caller side did. A call still ringing is
// cancelled (RFC 3261 §9.1); any other is abandoned. Called with mu held.
func (c *leanCall) onDeadline() {
	if c.callerOver {
		return
	}
	if !c.final && c.provisional {
		c.canceled, c.res.Canceled = true, true
		c.tx(0, c.retransmit(c.l.caller, c.inviteTxRequest("CANCEL", []byte(c.to)), c.target, nil))
	}
	c.callerEnd(fmt.Errorf("%w: call deadline", ErrTimeout))
}

func (c *leanCall) tx(cseq uint32, r *leanRetx) {
	if c.clientTx == nil {
		c.clientTx = map[uint32]*leanRetx{}
	}
	c.clientTx[cseq] = r
}

// callerEnd ends the caller side once; the first error stays. Called with mu held.
func (c *leanCall) callerEnd(err error) {
	if c.callerOver {
		return
	}
	c.callerOver, c.err = true, err
	c.invite.stop()
	if c.inviteTimeB != nil {
		c.inviteTimeB.Stop()
	}
	for k, r := range c.clientTx {
		if k != 0 { // a CANCEL keeps going: Herald must see it
			r.stop()
		}
	}
	close(c.callerDone)
}

// callerResponse handles a response on the caller's socket.
func (c *leanCall) callerResponse(m *leanMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.method {
	case "INVITE":
		if m.cseq == 1 {
			c.inviteResponse(m)
		}
	case "CANCEL":
		if r := c.clientTx[0]; r != nil && m.status >= 200 {
			r.stop()
		}
	case "PRACK", "BYE":
		r := c.clientTx[m.cseq]
		if r == nil || m.status < 200 {
			return
		}
		r.stop()
		delete(c.clientTx, m.cseq)
		if m.method == "BYE" {
			var err error
			if m.status >= 300 {
				err = fmt.Errorf("%w: BYE answered %d", ErrProtocol, m.status)
			}
			c.callerEnd(err)
		}
	}
}

func (c *leanCall) inviteResponse(m *leanMsg) {
	c.invite.stop() // any response ends Timer A (RFC 3261 §17.1.1.2)
	tag := string(leanParam(m.to, "tag"))
	switch {
	case m.status < 200:
		if m.status == 100 || tag == "" || c.final {
			return
		}
		if !c.provisional {
			c.provisional = true
			c.res.Timings.FirstProvisional = leanNow(c.start)
		}
		d := c.dialog(tag, m)
		if !leanOption(m.require, "100rel") || m.rseq == 0 || m.rseq <= d.lastRSeq {
			return // unreliable, or a retransmission the PRACK's own timer covers
		}
		d.lastRSeq = m.rseq
		c.cseq++
		var w leanWriter
		c.inDialog(&w, d, "PRACK", c.cseq)
		w.line("RAck: ", itoa(m.rseq), " 1 INVITE")
		c.tx(c.cseq, c.retransmit(c.l.caller, w.body("", nil), d.dest, nil))
	case c.final:
		if c.ack != nil && (m.status >= 300 || (c.confirmed != nil && c.confirmed.tag == tag)) {
			c.l.send(c.l.caller, c.ack, c.ackTo) // our ACK was lost (RFC 3261 §13.2.2.4, §17.1.1.3)
		}
	case m.status < 300:
		c.final = true
		c.res.Final = m.status
		c.res.Timings.Final = leanNow(c.start)
		d := c.dialog(tag, m)
		// The 2xx fixes the dialog's remote target and route set (RFC 3261 §13.2.2.4).
		c.setTarget(d, m)
		c.confirmed = d
		var w leanWriter
		c.inDialog(&w, d, "ACK", 1)
		c.ack, c.ackTo = w.body("", nil), d.dest
		c.l.send(c.l.caller, c.ack, c.ackTo)
		if c.callerOver { // answered after our CANCEL or deadline: hang up at once (RFC 3261 §15)
			c.sendBye()
			return
		}
		if hold := c.l.o.HoldTime; hold > 0 {
			time.AfterFunc(hold, func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				c.sendBye()
			})
		} else {
			c.sendBye()
		}
	default:
		c.final = true
		c.res.Final = m.status
		c.res.Timings.Final = leanNow(c.start)
		// The ACK of a non-2xx final belongs to the INVITE transaction (RFC 3261 §17.1.1.3).
		c.ack, c.ackTo = c.inviteTxRequest("ACK", m.to), c.target
		c.l.send(c.l.caller, c.ack, c.ackTo)
		var err error
		if !c.canceled || m.status != 487 {
			err = fmt.Errorf("%w: %d", ErrCallFailed, m.status)
		}
		c.callerEnd(err)
	}
}

// inviteTxRequest is a request of the INVITE's own transaction, the CANCEL (RFC 3261 §9.1) or the
// ACK of a non-2xx final (§17.1.1.3): the INVITE's Request-URI, Via branch, From, Call-ID and CSeq
// number, with to as To.
func (c *leanCall) inviteTxRequest(method string, to []byte) []byte {
	var w leanWriter
	w.line(method, " ", c.ruri, " SIP/2.0")
	w.line("Via: SIP/2.0/UDP ", c.l.callerAP.String(), ";branch=", c.branch, ";rport")
	w.line("Max-Forwards: 70")
	w.line("From: ", c.from)
	w.header("To", to)
	w.line("Call-ID: ", c.id)
	w.line("CSeq: 1 ", method)
	return w.body("", nil)
}

// dialog returns the dialog of To-tag tag, made from the response that opened it (RFC 3261
// §12.1.2: remote target from Contact, route set from Record-Route reversed).
func (c *leanCall) dialog(tag string, m *leanMsg) *leanDialog {
	if d := c.dialogs[tag]; d != nil {
		return d
	}
	d := &leanDialog{tag: tag, to: string(m.to)}
	c.setTarget(d, m)
	c.dialogs[tag] = d
	return d
}

func (c *leanCall) setTarget(d *leanDialog, m *leanMsg) {
	d.target = c.ruri
	if m.contact != nil {
		d.target = string(m.contact)
	}
	d.routes = d.routes[:0]
	for i := len(m.recRoutes) - 1; i >= 0; i-- {
		d.routes = append(d.routes, string(m.recRoutes[i]))
	}
	next := []byte(d.target)
	if len(d.routes) > 0 {
		next = leanURI([]byte(d.routes[0]))
	}
	d.dest = leanDest(next, c.target)
}

// inDialog writes the head of a request in dialog d (RFC 3261 §12.2.1.1), up to its own headers.
func (c *leanCall) inDialog(w *leanWriter, d *leanDialog, method string, cseq uint32) {
	w.line(method, " ", d.target, " SIP/2.0")
	w.line("Via: SIP/2.0/UDP ", c.l.callerAP.String(), ";branch=z9hG4bK", randHex(10), ";rport")
	w.line("Max-Forwards: 70")
	for _, r := range d.routes {
		w.line("Route: ", r)
	}
	w.line("From: ", c.from)
	w.line("To: ", d.to)
	w.line("Call-ID: ", c.id)
	w.line("CSeq: ", itoa(cseq), " ", method)
}

// sendBye hangs up the confirmed dialog. Called with mu held.
func (c *leanCall) sendBye() {
	d := c.confirmed
	if d == nil || c.byeSent {
		return
	}
	c.byeSent = true
	c.cseq++
	var w leanWriter
	c.inDialog(&w, d, "BYE", c.cseq)
	cseq := c.cseq
	r := c.retransmit(c.l.caller, w.body("", nil), d.dest, func() {
		delete(c.clientTx, cseq)
		c.callerEnd(fmt.Errorf("%w: no response to the BYE", ErrTimeout))
	})
	c.tx(cseq, r)
}

// callerRequest handles a request on the caller's socket: Herald's UPDATE (the callee card's
// offer), a BYE, anything else answered as a UA without it would.
func (l *Lean) callerRequest(c *leanCall, m *leanMsg, from netip.AddrPort) {
	if m.method == "ACK" {
		return
	}
	if c == nil {
		l.Unmatched.Add(1)
		l.reply(l.caller, m, from, 481, "Call/Transaction Does Not Exist", "")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resend(l.caller, m, from) {
		return
	}
	var b []byte
	switch m.method {
	case "UPDATE":
		b = c.onUpdate(m)
		l.send(l.caller, b, from)
	case "BYE":
		b = l.reply(l.caller, m, from, 200, "OK", "")
		c.callerEnd(nil)
	case "OPTIONS":
		b = l.reply(l.caller, m, from, 200, "OK", "")
	default:
		b = l.reply(l.caller, m, from, 501, "Not Implemented", "")
	}
	c.remember(m, b)
}

// answerKey names a request's server transaction (RFC 3261 §17.2.3: the top Via's branch and the
// method), for the response already sent to it.
func answerKey(m *leanMsg) string { return string(leanParam(m.vias[0], "branch")) + " " + m.method }

// resend sends the response already sent to m again when m is a retransmission (RFC 3261 §17.2.2)
// and says so. Called with mu held.
func (c *leanCall) resend(sock *net.UDPConn, m *leanMsg, to netip.AddrPort) bool {
	b, ok := c.answers[answerKey(m)]
	if ok {
		c.l.send(sock, b, to)
	}
	return ok
}

// remember keeps b, the response sent to m, for m's retransmissions. Called with mu held.
func (c *leanCall) remember(m *leanMsg, b []byte) {
	if c.answers == nil {
		c.answers = map[string][]byte{}
	}
	c.answers[answerKey(m)] = b
}

// onUpdate answers Herald's UPDATE in an early dialog (RFC 3311): an SDP answer to every m-line,
// the m=message push accepted, whose page is then fetched. Called with mu held; returns the
// response for the caller to send.
func (c *leanCall) onUpdate(m *leanMsg) []byte {
	var w leanWriter
	d := c.dialogs[string(leanParam(m.from, "tag"))]
	if d == nil {
		w.response(m, 481, "Call/Transaction Does Not Exist", "")
		return w.body("", nil)
	}
	if m.contact != nil {
		d.target = string(m.contact) // UPDATE is a target refresh request
	}
	if len(m.body) == 0 {
		w.response(m, 200, "OK", "")
		w.line("Contact: <", c.l.callerURI, ">")
		return w.body("", nil)
	}
	offer, err := sdp.Parse(m.body)
	if err != nil {
		w.response(m, 488, "Not Acceptable Here", "")
		return w.body("", nil)
	}
	ans, plans := answerOffer(offer, c.l.host, uint64(randUint32()), c.l.o.RTPPort, true)
	w.response(m, 200, "OK", "")
	w.line("Contact: <", c.l.callerURI, ">")
	b := w.body("application/sdp", ans.Marshal())
	if c.callerOver {
		return b
	}
	for _, p := range plans {
		c.fetches.Add(1)
		go c.fetchCalleeCard(p)
	}
	return b
}

func (c *leanCall) fetchCalleeCard(p pushPlan) {
	defer c.fetches.Done()
	res, err := c.l.fetch(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Fetches[CalleeCard] = res
	if err != nil {
		c.res.PageErrors[CalleeCard] = err
		return
	}
	c.res.Timings.PageDone = leanNow(c.start)
}

// fetch acquires one pushed page (verified, not kept).
func (l *Lean) fetch(p pushPlan) (FetchResult, error) {
	fo, err := p.fetchOptions()
	if err != nil {
		return FetchResult{}, err
	}
	fo.DropPage, fo.Timeout = true, l.o.FetchTimeout
	return Fetch(l.ctx, fo)
}

// leanRAck normalises an RAck value's spacing ("1  2 INVITE" → "1 2 INVITE").
func leanRAck(v []byte) string { return strings.Join(strings.Fields(string(bytes.ToUpper(v))), " ") }

func leanRAckOf(rseq, cseq uint32) string {
	return strconv.FormatUint(uint64(rseq), 10) + " " + strconv.FormatUint(uint64(cseq), 10) + " INVITE"
}
