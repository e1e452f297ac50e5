package sipfast

import (
	"bytes"
	"net/netip"
	"time"
)

// own.go: requests on Herald's own early dialog, the one a call with cards opens toward the caller
// with its reliable 183 (RFC 3262). The caller PRACKs that 183; the PRACK ends at Herald, which is
// its UAS, so the engine keeps a server non-INVITE transaction for it (RFC 3261 §17.2.2) and hands
// the request to the host (Host.Own), whose call answers it later (AnswerOwn). Retransmissions are
// absorbed while the call has not answered (Trying) and answered from the final response after
// (Completed, until Timer J, retained like a BYE's). So the PRACK costs the call no sipgo parse,
// server transaction, runtime timer or goroutine. A PRACK of any other dialog (the callee's reliable
// 18x, relayed by the general path) goes the general way, as before.

// OwnRequest is a request on Herald's own early dialog as the host gets it: its method, its RAck
// value (RFC 3262 §7.2) as received, and the transaction the answer goes on.
type OwnRequest struct {
	Method string
	RAck   string
	Tx     *Tx
}

// onOwn handles a PRACK with a To tag: Herald's own early dialog's (Host.Own) or, when it is not,
// the general path's (ReasonMethod, as any method the engine does not proxy).
func (f *Engine) onOwn(m *fmsg, src netip.AddrPort, c Conn) Reason {
	rk := f.retKey(m, recNonInvite)
	f.lock(m)
	if f.absorbNonInvite(m, rk) {
		// A retransmission: answered from state, or absorbed while the call has not answered.
		return ReasonAbsorbed
	}
	if f.txCount() >= MaxTxFactor*f.host.MaxCalls() {
		f.unlock(m)
		return ReasonMethod // the general path's own limits apply to it
	}
	// What every answer copies from the request (RFC 3261 §8.2.6.2), made now from the scan: the
	// answer may be given on a goroutine with a small stack, where a second scan would grow it.
	hdrs := appendAnswerHeaders(make([]byte, 0, len(m.buf)/2), m, src, false, 200, "")
	tx := &Tx{id: f.nextID.Add(1), branch: string(m.txKey(nil)), up: src, conn: c, rkey: rk, own: true, tcp: m.viaTCP,
		lv: &txLive{fwd: hdrs}}
	tx.lv.t[tNoAnswer] = f.now() + 64*f.t1
	f.nonInv[tx.branch] = tx
	f.out[tx.id] = tx
	f.relink(tx)
	f.unlock(m)
	// The transaction is in the table before the host sees the request: a retransmission meanwhile
	// is absorbed, and the answer, which may come at once from the call's goroutine, finds it.
	req := OwnRequest{Method: methodNames[m.method], RAck: string(m.value(hRAck)), Tx: tx}
	if f.host.Own(m.value(hCallID), tagOf(m.value(hTo)), req) {
		return ReasonOwn
	}
	f.lock(m)
	f.forget(tx)
	f.unlock(m)
	return ReasonMethod
}

// AnswerOwn answers the request of tx, handed to the host by Host.Own, with code and reason and the
// extra header lines (each ending in CRLF); only the first answer counts (a later one, or one after
// Timer F answered 500, is dropped). A final answer completes the transaction: retransmissions of
// the request get it again until Timer J (64·T1).
func (f *Engine) AnswerOwn(tx *Tx, code int, reason, extra string) {
	f.mu.Lock()
	if tx.lv == nil || tx.state != fsCalling || code < 200 {
		f.mu.Unlock()
		return
	}
	res := ownAnswer(tx, code, reason, extra)
	f.completeNonInvite(tx, res)
	conn, up := tx.conn, tx.up
	f.mu.Unlock()
	if err := conn.Send(res, up); err != nil {
		f.st.SendErrors.Add(1)
	}
}

// ownAnswer is Herald's response to the request of own transaction tx (RFC 3261 §8.2.6.2): the
// header lines onOwn kept in tx.lv.fwd, then extra. Under f.mu, while tx.lv is set.
func ownAnswer(tx *Tx, code int, reason, extra string) []byte {
	b := make([]byte, 0, len(tx.lv.fwd)+len(reason)+len(extra)+48)
	b = appendStatus(b, code, reason)
	b = append(b, tx.lv.fwd...)
	b = append(b, extra...)
	return append(b, "Content-Length: 0\r\n\r\n"...)
}

// Originate sends req, a request Herald originates on its own early dialog (the UPDATE with the
// callee card: its request line, headers without a Via, and body), to dst over UDP from the
// engine's first socket that reaches it (Reacher), on a client non-INVITE transaction of the
// engine's (RFC 3261 §17.1.2): the engine puts its Via (branch BranchPrefix and the transaction's
// id) on top, retransmits on
// Timer E (T1 doubling to T2, T2 once a provisional came) and gives up at Timer F (64·T1). done
// gets the final response's status and body, or 408 at Timer F (§8.1.3.1), once; it is called
// with the engine's lock held and must not call the engine. Originate reports false, having sent
// nothing, when the engine cannot carry the request (no socket that reaches dst, larger than Config.MaxRequest, the
// transaction limit): the caller sends it another way.
func (f *Engine) Originate(req []byte, dst netip.AddrPort, done func(code int, body []byte)) bool {
	if done == nil {
		return false
	}
	tx := f.startClient(req, dst, f.cfg.MaxRequest, &Tx{lv: &txLive{done: done}})
	if tx == nil {
		return false
	}
	f.st.Originated.Add(1)
	return true
}

// startClient starts tx, a client transaction of the engine's, with req (a request without Herald's
// Via): Herald's Via on top (branch BranchPrefix and tx's id; the socket it leaves from is the
// sent-by, so no rport is needed), sent to dst from the engine's first socket that reaches it, Timer
// A or E from T1 and Timer B or F at 64·T1 (RFC 3261 §17.1.1.2, §17.1.2.2). Nil, having sent
// nothing and kept nothing, when no socket reaches dst, the request is larger than max (or than a
// UDP datagram holds), the transaction limit is reached or the send fails.
func (f *Engine) startClient(req []byte, dst netip.AddrPort, max int, tx *Tx) *Tx {
	c := f.connToward(dst.Addr())
	eol := bytes.Index(req, crlf)
	if c == nil || eol <= 0 {
		return nil
	}
	tx.id, tx.conn = f.nextID.Add(1), c
	b := make([]byte, 0, len(req)+96)
	b = append(b, req[:eol+2]...)
	b = f.appendVia(b, f.branchOf(tx.id), false)
	b = append(b, req[eol+2:]...)
	if len(b) > maxDatagram || max > 0 && len(b) > max {
		return nil
	}
	tx.lv.down, tx.lv.fwd = dst, b
	f.mu.Lock()
	if f.txCount() >= MaxTxFactor*f.host.MaxCalls() {
		f.mu.Unlock()
		return nil
	}
	now := f.now()
	tx.lv.born = now
	tx.lv.ivRetrans = f.t1
	tx.lv.t[tRetransmit] = now + f.t1
	tx.lv.t[tNoAnswer] = now + 64*f.t1
	f.out[tx.id] = tx
	f.relink(tx)
	f.mu.Unlock()
	if err := c.Send(b, dst); err != nil {
		f.st.SendErrors.Add(1)
		f.mu.Lock()
		f.forget(tx)
		f.mu.Unlock()
		return nil
	}
	return tx
}

// maxDatagram is the largest UDP payload over IPv4 (65,535 less the IP and UDP headers).
const maxDatagram = 65507

// ownResponse ends the client transaction of a request Herald originated (Originate) on its
// response m: a provisional moves Timer E to T2 (RFC 3261 §17.1.2.2); a final goes to done and the
// transaction absorbs its retransmissions until Timer K (T4, 5 s). Under f.mu.
func (f *Engine) ownResponse(tx *Tx, m *fmsg) {
	if m.status < 200 {
		if tx.state == fsCalling {
			tx.state = fsProceeding
			tx.lv.ivRetrans = f.t2
		}
		return
	}
	done := tx.lv.done
	tx.state = fsCompleted
	tx.end = f.now() + timerK
	tx.retain()
	f.relink(tx)
	done(m.status, bytes.Clone(m.buf[m.body:]))
}

// timerK is RFC 3261's Timer K over UDP (T4): how long a client non-INVITE transaction absorbs
// retransmissions of its final response.
const timerK = 5 * int64(time.Second)
