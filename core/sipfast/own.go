package sipfast

import (
	"net/netip"
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
	var kb [160]byte
	rk := f.retKey(m, recNonInvite)
	f.lock(m)
	if tx := f.nonInv[string(m.txKey(kb[:0]))]; tx != nil {
		// A retransmission: answered from state, or absorbed while the call has not answered.
		var q []Datagram
		if tx.last != nil {
			q = append(q, Datagram{tx.conn, tx.last, tx.up})
		}
		f.unlock(m)
		f.st.Absorbed.Add(1)
		f.flush(q)
		return ReasonAbsorbed
	}
	if x, ok := f.retRequest(m, recNonInvite, rk); ok {
		c := f.connOf(&x)
		f.unlock(m)
		f.st.Absorbed.Add(1)
		f.flush([]Datagram{{c, x.res, x.up}})
		return ReasonAbsorbed
	}
	if f.txCount() >= MaxTxFactor*f.host.MaxCalls() {
		f.unlock(m)
		return ReasonMethod // the general path's own limits apply to it
	}
	tx := &Tx{id: f.nextID.Add(1), branch: string(m.txKey(nil)), up: src, conn: c, rkey: rk, own: true,
		lv: &txLive{fwd: append([]byte(nil), m.buf...)}}
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

// ownAnswer is Herald's response to the request of own transaction tx (RFC 3261 §8.2.6.2). Under
// f.mu, while tx.lv is set.
func ownAnswer(tx *Tx, code int, reason, extra string) []byte {
	var m fmsg
	m.scan(tx.lv.fwd) // scanned once already: it reads the same
	return appendAnswer(make([]byte, 0, len(tx.lv.fwd)/2+128), &m, tx.up, false, code, reason, extra, "")
}
