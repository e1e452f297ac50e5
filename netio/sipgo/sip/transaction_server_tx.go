package sip

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

type ServerTx struct {
	baseTx
	acks chan *Request
	// cancels chan *Request
	onCancel     func(r *Request)
	timer_g      *time.Timer
	timer_g_time time.Duration
	timer_h      *time.Timer
	timer_i      *time.Timer
	timer_i_time time.Duration
	timer_j      *time.Timer
	timer_j_time time.Duration
	timer_1xx    *time.Timer
	timer_l      *time.Timer
	reliable     bool
	toTag        string            // Herald patch: see SetToTag
	method       RequestMethod     // Herald patch: the request's method, kept when slim drops origin
	txl          *TransactionLayer // Herald patch: the layer that keeps it (herald_accepted.go)
}

// SetToTag (Herald patch) sets the To tag of the responses the transaction layer itself sends for
// this INVITE when it is cancelled: the 200 to the CANCEL and the 487 (RFC 3261 §8.2.6.2: one tag
// for all responses to a request). Without it each gets a new random tag, neither equal to the tag
// of the TU's own provisional responses.
func (tx *ServerTx) SetToTag(tag string) {
	tx.mu.Lock()
	tx.toTag = tag
	tx.mu.Unlock()
}

// withToTag (Herald patch) puts the tag set with SetToTag on res.
func (tx *ServerTx) withToTag(res *Response) *Response {
	tx.mu.Lock()
	tag := tx.toTag
	tx.mu.Unlock()
	if to := res.To(); tag != "" && to != nil {
		to.Params.Add("tag", tag)
	}
	return res
}

func NewServerTx(key string, origin *Request, conn Connection, logger *slog.Logger) *ServerTx {
	tx := new(ServerTx)
	tx.key = key
	tx.conn = conn

	// about ~10 retransmits
	tx.acks = make(chan *Request)
	// tx.cancels = make(chan *Request)
	tx.done = make(chan struct{})
	tx.log = logger
	tx.origin = origin // NOTE: user may do some changes on this request which creates RACE
	tx.method = origin.Method
	tx.reliable = IsReliable(origin.Transport())
	return tx
}

func (tx *ServerTx) Init() error {
	tx.initFSM()

	tx.mu.Lock()
	if !tx.reliable {
		tx.timer_g_time = Timer_G
		tx.timer_i_time = Timer_I
		tx.timer_j_time = Timer_J
	}
	tx.mu.Unlock()

	// RFC 3261 - 17.2.1
	if tx.Origin().IsInvite() {
		tx.mu.Lock()
		origin := tx.origin
		tx.timer_1xx = time.AfterFunc(Timer_1xx, func() {
			trying := NewResponseFromRequest(
				origin,
				100,
				"Trying",
				nil,
			)
			// tx.Log().Trace("timer_1xx fired")
			if err := tx.Respond(trying); err != nil {
				tx.log.Error("send '100 Trying' response failed", "error", err, "tx", tx.Key())
			}
		})
		tx.mu.Unlock()
	}
	tx.log.Debug("Server transaction initialized", "tx", tx.Key())
	return nil
}

func (tx *ServerTx) Connection() Connection {
	return tx.conn
}

// Receive is endpoint for handling received server requests.
// NOTE: it could block while passing request to client,
// therefore running in seperate goroutine is needed
func (tx *ServerTx) Receive(req *Request) error {
	tx.mu.Lock()
	if tx.timer_1xx != nil {
		tx.timer_1xx.Stop()
		tx.timer_1xx = nil
	}
	tx.mu.Unlock()

	var input fsmInput
	switch {
	case req.Method == tx.method:
		input = server_input_request
	case req.IsAck(): // ACK for non-2xx response
		input = server_input_ack
	case req.IsCancel():
		input = server_input_cancel
	default:
		return fmt.Errorf("unexpected message error")
	}

	tx.spinFsmWithRequest(input, req)
	return nil
}

func (tx *ServerTx) Respond(res *Response) error {
	if res.IsCancel() {
		return tx.conn.WriteMsg(res)
	}

	tx.mu.Lock()
	if tx.timer_1xx != nil {
		tx.timer_1xx.Stop()
		tx.timer_1xx = nil
	}
	tx.mu.Unlock()

	var input fsmInput
	switch {
	case res.IsProvisional():
		input = server_input_user_1xx
	case res.IsSuccess():
		input = server_input_user_2xx
	default:
		input = server_input_user_300_plus
	}
	// Return the transition's result; Timer J may terminate the transaction
	// as soon as the FSM lock is released.
	return tx.spinFsmWithResponse(input, res)
}

// Acks makes channel for sending acks. Channel is created on demand
func (tx *ServerTx) Acks() <-chan *Request {
	return tx.acks
}

func (tx *ServerTx) ackSend(r *Request) {
	select {
	case <-tx.done:
		callID := ""
		if h := r.CallID(); h != nil {
			callID = h.Value()
		}
		tx.log.Debug("ACK missed", "callid", callID, "tx", tx.Key())
	case tx.acks <- r:
	}
}

func (tx *ServerTx) ackSendAsync(r *Request) {
	select {
	case tx.acks <- r:
		return
	default:
	}

	// Go routines should be cheap and it will prevent blocking
	go tx.ackSend(r)
}

func (tx *ServerTx) Terminate() {
	tx.log.Debug("Server transaction terminating", "tx", tx.Key())
	if tx.delete(ErrTransactionTerminated) {
		// TODO: remove this double locking
		tx.fsmMu.Lock()
		tx.fsmErr = ErrTransactionTerminated
		tx.fsmMu.Unlock()
	}
}

// TerminateGracefully leaves finalized unreliable transactions alive for their
// retransmission timers while allowing the caller to return.
func (tx *ServerTx) TerminateGracefully() {
	if tx.reliable {
		// reliable transports have no retransmission, so it is better just to terminate
		tx.Terminate()
		return
	}

	// Check did we receive final response
	tx.fsmMu.Lock()
	finalized := tx.fsmResp != nil && !tx.fsmResp.IsProvisional()
	tx.fsmMu.Unlock()
	if !finalized {
		tx.Terminate()
		return
	}
	tx.log.Debug("Server transaction retained for timer termination")
}

// OnCancel is experimental
// It is racy thing if not registered after transaction creation
func (tx *ServerTx) OnCancel(f FnTxCancel) bool {
	tx.mu.Lock()
	if tx.closed {
		tx.mu.Unlock()
		return false
	}
	tx.registerOnCancel(f)
	tx.mu.Unlock()

	// Check is transaction already canceled
	// Problem is that transaction is marked canceled but not terminated yet
	// TODO move this check under single lock after removing this double locks
	if tx.Err() == ErrTransactionCanceled {
		return false
	}

	return true
}

func (tx *ServerTx) registerOnCancel(f FnTxCancel) {
	if tx.onCancel != nil {
		prev := tx.onCancel
		tx.onCancel = func(r *Request) {
			prev(r)
			f(r)
		}
		return
	}
	tx.onCancel = f
}

// Choose the right FSM init function depending on request method.
func (tx *ServerTx) initFSM() {
	if tx.Origin().IsInvite() {
		tx.baseTx.initFSM(tx.inviteStateProcceeding)
	} else {
		tx.baseTx.initFSM(tx.stateTrying)
	}
}

func (tx *ServerTx) delete(err error) bool {
	tx.mu.Lock()
	if tx.closed {
		tx.mu.Unlock()
		return false
	}
	tx.closed = true
	close(tx.done)

	if tx.timer_i != nil {
		tx.timer_i.Stop()
		tx.timer_i = nil
	}
	if tx.timer_g != nil {
		tx.timer_g.Stop()
		tx.timer_g = nil
	}
	// tx.Log().Debug("transaction done")
	if tx.timer_h != nil {
		tx.timer_h.Stop()
		tx.timer_h = nil
	}
	if tx.timer_j != nil {
		tx.timer_j.Stop()
		tx.timer_j = nil
	}
	if tx.timer_1xx != nil {
		tx.timer_1xx.Stop()
		tx.timer_1xx = nil
	}

	key := tx.key
	onterm := tx.onTerminate
	tx.mu.Unlock()

	tx.log.Debug("Server transaction destroyed", "tx", key)
	if onterm != nil {
		onterm(key, err)
	}

	// Release the connection reference taken at creation, same as ClientTx.delete.
	// nil-checked because some tests construct a tx with a nil conn.
	if tx.conn != nil {
		if _, err := tx.conn.TryClose(); err != nil {
			tx.log.Info("Closing connection returned error", "error", err, "tx", key)
		}
	}
	return true
}

// slim (Herald patch) drops what the transaction no longer needs once its final response is sent
// and it is only kept to absorb retransmissions: the request (with its body) and, for an INVITE
// answered 2xx, the 2xx itself. RFC 6026 §7.1: in "Accepted" a retransmitted INVITE is absorbed
// and the server transaction never retransmits the 2xx on its own (the TU passes any further 2xx,
// which sets fsmResp again); RFC 3261 §17.2.2: in "Completed" a non-INVITE transaction answers a
// retransmission with its last response, so that one stays. Upstream kept the parsed request and
// response 64·T1 per transaction, which at a sustained call rate R is R × 32 s of whole messages.
// Called inside the FSM (fsmMu held), after the final response is on the wire. The TU's OnCancel
// callback is let go wherever a final response goes out (actRespondAccept, actRespondComplete,
// actFinal; slim itself does not run for an INVITE answered non-2xx): only the Proceeding state acts
// on a CANCEL (actCancel), and the callback, with whatever it holds of the TU's call, was otherwise
// kept until Timer L or H.
func (tx *ServerTx) slim(dropResp bool) {
	tx.mu.Lock()
	tx.origin = slimRequest(tx.origin)
	tx.mu.Unlock()
	tx.fsmCancel = nil
	if dropResp && tx.fsmResp != nil {
		// A status-only stand-in: TerminateGracefully reads it to see the transaction is final.
		tx.fsmResp = slimResponse(tx.fsmResp)
	}
}

// The stand-ins slim leaves are shared by every transaction with the same method and transport
// (or status) and never written: one per kind instead of one per call. Only standard methods and
// transports are shared (both come from the wire), so the table stays bounded.
type slimKey struct {
	method RequestMethod
	tp     string
	code   int
}

var slimMsgs sync.Map // slimKey -> *Request | *Response

func slimRequest(o *Request) *Request {
	k := slimKey{method: o.Method, tp: o.tp}
	if v, ok := slimMsgs.Load(k); ok {
		return v.(*Request)
	}
	r := &Request{Method: o.Method, MessageData: MessageData{SipVersion: "SIP/2.0", tp: o.tp}}
	if !slimShared(o.Method, o.tp) {
		return r
	}
	v, _ := slimMsgs.LoadOrStore(k, r)
	return v.(*Request)
}

func slimShared(m RequestMethod, tp string) bool {
	switch m {
	case INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, REFER, INFO, MESSAGE, PRACK, UPDATE, PUBLISH:
	default:
		return false
	}
	switch tp {
	case "UDP", "TCP", "TLS", "WS", "WSS", "udp", "tcp", "tls", "ws", "wss":
		return true
	}
	return false
}

func slimResponse(r *Response) *Response {
	if r.StatusCode < 100 || r.StatusCode > 699 {
		return &Response{StatusCode: r.StatusCode}
	}
	k := slimKey{code: r.StatusCode}
	if v, ok := slimMsgs.Load(k); ok {
		return v.(*Response)
	}
	v, _ := slimMsgs.LoadOrStore(k, &Response{StatusCode: r.StatusCode})
	return v.(*Response)
}
