package sipfast

// request.go: the engine's requests: INVITE, ACK, CANCEL and the in-dialog BYE and INFO,
// and Herald's own answers.

import (
	"bytes"
	"context"
	"encoding/hex"
	"hash/maphash"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"
)

func (f *Engine) onInvite(m *fmsg, src netip.AddrPort, c Conn) Reason {
	var kb [160]byte
	var q [2]Datagram
	n := 0
	f.lock(m)
	fire(&f.Faults.Locked, m.buf)
	if tx := f.inv[string(m.txKey(kb[:0]))]; tx != nil {
		// A retransmission: the last response again, if any (RFC 3261 §17.2.1).
		if tx.last != nil && tx.state != fsAccepted {
			q[0] = Datagram{tx.conn, tx.last, tx.up}
			n = 1
		}
		f.unlock(m)
		f.st.Absorbed.Add(1)
		f.flush(q[:n])
		return ReasonAbsorbed
	}
	rk := f.retKey(m, recInvite)
	if _, ok := f.retRequest(m, recInvite, rk); ok {
		f.unlock(m) // answered 2xx (RFC 6026 accepted): absorbed
		f.st.Absorbed.Add(1)
		return ReasonAbsorbed
	}
	f.unlock(m)

	h := f.host
	switch {
	case m.mf <= 1:
		return f.fallback(ReasonMaxForwards)
	case m.proxyRq:
		return f.fallback(ReasonProxyRequire)
	case !h.Trusted(src.Addr()):
		return f.fallback(ReasonUntrusted)
	}
	r, ok := f.routeOf(m, true)
	if !ok {
		return f.fallback(r.fallback())
	}
	callID := string(m.value(hCallID))
	maxCalls := h.MaxCalls()
	if h.General(callID) || h.Calls() >= maxCalls {
		return f.fallback(ReasonAdmission) // the general path answers 482 or 503 (and counts it)
	}

	// The size (RFC 3261 §18.1.1: the general path sends an INVITE too big for UDP over TCP), then
	// the plain-call rule, last of the reasons to hand over: what the engine hands over after asking
	// it is a call that is not plain, whose profile lookups the host hands over with it (one lookup
	// per party per INVITE). The transaction and the forwarded INVITE are built after the rule: a
	// call with cards (the general path's) would build them for nothing, about 2 KB per call. Only
	// an INVITE that may not fit once forwarded (forwardGrowth) is built first, to be measured.
	id := f.nextID.Add(1)
	var fwd []byte
	if !m.viaTCP && len(m.buf)+f.forwardGrowth() > f.cfg.MaxRequest {
		if fwd = f.forwardRequest(m, src, r, f.branchOf(id), f.cfg.RecordRoute); len(fwd) > f.cfg.MaxRequest {
			return f.fallback(ReasonSize)
		}
	}
	if !f.plain(m) {
		return f.fallback(ReasonNotPlain)
	}
	if fwd == nil {
		fwd = f.forwardRequest(m, src, r, f.branchOf(id), f.cfg.RecordRoute)
	}
	tx := &Tx{id: id, invite: true, branch: string(m.txKey(nil)), callID: callID, cseq: m.cseq, up: src, conn: c,
		rkey: rk, tcp: m.viaTCP, lv: &txLive{down: r.dst, name: r.name, born: f.now(), fwd: fwd}}
	if h.Draining() {
		// A drain (Server.Drain): the previous hop tries another instance.
		add(f.ctr.Invites)
		add(f.ctr.Rejected503)
		f.flush([]Datagram{{c, appendAnswer(nil, m, src, false, 503, "Service Unavailable", "Retry-After: "+DrainRetryAfter+"\r\n", ""), src}})
		return ReasonAnswered
	}

	f.lock(m)
	if _, ok := f.retRequest(m, recInvite, rk); ok || f.inv[tx.branch] != nil {
		f.unlock(m) // the same INVITE, read twice at once from two sockets
		f.st.Absorbed.Add(1)
		return ReasonAbsorbed
	}
	if f.txCount() >= MaxTxFactor*maxCalls {
		f.unlock(m)
		add(f.ctr.Invites)
		f.st.Overload.Add(1)
		add(f.ctr.Rejected503)
		f.flush([]Datagram{{c, appendAnswer(nil, m, src, false, 503, "Service Unavailable", "Retry-After: 5\r\n", ""), src}})
		return ReasonAnswered
	}
	switch h.Admit(callID, tx) {
	case AdmitFull:
		f.unlock(m)
		return f.fallback(ReasonAdmission) // the general path answers 503 (and counts it)
	case AdmitLoop:
		if h.General(callID) {
			f.unlock(m)
			return f.fallback(ReasonAdmission) // the general path's call: it answers 482
		}
		// A second INVITE with the Call-ID of a fast call and a new branch: a loop or a spiral
		// back to us.
		f.own482[0][tx.branch] = struct{}{}
		f.unlock(m)
		add(f.ctr.Invites)
		f.flush([]Datagram{{c, answer(m, src, 482, "Loop Detected", ""), src}})
		return ReasonAnswered
	}
	f.inv[tx.branch] = tx
	f.out[tx.id] = tx
	now := f.now()
	tx.lv.ivRetrans = f.t1
	if !tx.tcp {
		tx.lv.t[tRetransmit] = now + f.t1 // Timer A: UDP only (RFC 3261 §17.1.1.2)
	} else {
		// Nothing is sent again over TCP, but a next hop that has not sent even a 100 Trying by
		// 7·T1 is taken for dead then, as over UDP (timers.go).
		tx.lv.ivRetrans, tx.lv.t[tRetransmit] = 4*f.t1, now+7*f.t1
	}
	tx.lv.t[tNoAnswer] = now + 64*f.t1
	tx.lv.t[tTrying] = now + int64(timer100)
	tx.lv.t[tTimerC] = now + int64(f.cfg.TimerC) // RFC 3261 §16.6 step 11: from the forwarding on
	f.relink(tx)
	f.active.Add(1)
	if f.ctr.Active != nil {
		f.ctr.Active.Add(1)
	}
	f.unlock(m)

	add(f.ctr.Invites)
	add(f.ctr.Forwarded)
	f.st.Calls.Add(1)
	if f.tracing() {
		f.trace("herald: INVITE %s: no card, no ringback: forwarded on the fast path", m.ruri.of(m.buf))
	}
	if err := c.Send(fwd, r.dst); err != nil {
		// RFC 3261 §16.9: a transport error is a 503 from the next hop.
		add(f.ctr.ForwardErrors)
		f.log.Warn("forward INVITE", "call_id", callID, "error", err)
		f.lock(m)
		q := f.answerUp(tx, 503, "Service Unavailable", "Retry-After: 5\r\n", nil)
		f.unlock(m)
		f.flush(q)
	}
	return ReasonForwarded
}

func (f *Engine) fallback(r Reason) Reason {
	f.st.Fallbacks.Add(1)
	return r
}

// appendAnswer appends Herald's own response to the request m (RFC 3261 §8.2.6.2): the status
// line; m's Via lines (the first as forwarded, with received and rport; or, when m is a request
// Herald forwarded, without Herald's Via on top), From, Call-ID and CSeq; its To with a tag when m had
// none and the response is final; extra header lines; an empty body.
func appendAnswer(b []byte, m *fmsg, src netip.AddrPort, forwarded bool, code int, reason, extra, tag string) []byte {
	b = appendStatus(b, code, reason)
	b = appendAnswerHeaders(b, m, src, forwarded, code, tag)
	b = append(b, extra...)
	return append(b, "Content-Length: 0\r\n\r\n"...)
}

// appendStatus appends a Status-Line.
func appendStatus(b []byte, code int, reason string) []byte {
	b = append(b, "SIP/2.0 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	return append(b, '\r', '\n')
}

// appendAnswerHeaders appends the header lines appendAnswer copies from m (Via, From, Call-ID,
// CSeq, To with its tag).
func appendAnswerHeaders(b []byte, m *fmsg, src netip.AddrPort, forwarded bool, code int, tag string) []byte {
	top := true
	var to *hline
	for i := 0; i < m.n; i++ {
		h := m.h(i)
		switch h.id {
		case hVia:
			if top {
				top = false
				if forwarded {
					continue // Herald's own
				}
				b = appendViaLine(b, m, h, src)
				continue
			}
			fallthrough
		case hFrom, hCallID, hCSeq:
			b = append(b, m.buf[h.line.a:h.line.b]...)
		case hTo:
			to = h
		}
	}
	b = append(b, m.buf[to.line.a:to.line.b-2]...)
	if code > 100 && !m.toTag {
		if tag == "" {
			tag = newTag()
		}
		b = append(b, ";tag="...)
		b = append(b, tag...)
	}
	return append(b, '\r', '\n')
}

// answer is Herald's own response to the request m.
func answer(m *fmsg, src netip.AddrPort, code int, reason, tag string) []byte {
	return appendAnswer(make([]byte, 0, len(m.buf)/2+128), m, src, false, code, reason, "", tag)
}

// answerFwd is Herald's own response to the request it forwarded as fwd, nil if fwd is gone.
func answerFwd(fwd []byte, code int, reason, extra, tag string) []byte {
	var m fmsg
	if fwd == nil || !m.scan(fwd) {
		return nil
	}
	return appendAnswer(make([]byte, 0, len(fwd)/2+128), &m, netip.AddrPort{}, true, code, reason, extra, tag)
}

// newTag is a random To tag (RFC 3261 §19.3).
func newTag() string {
	var t [8]byte
	r := rand.Uint64()
	for i := range t {
		t[i] = byte(r >> (8 * i))
	}
	return hex.EncodeToString(t[:])
}

// answerUp sends Herald's own final (or 100) response to the INVITE of tx upstream. Under f.mu.
func (f *Engine) answerUp(tx *Tx, code int, reason, extra string, q []Datagram) []Datagram {
	if tx.lv == nil {
		return q // answered 2xx and retained: nothing more goes upstream from Herald
	}
	res := answerFwd(tx.lv.fwd, code, reason, extra, tx.tag)
	if res == nil {
		return q
	}
	tx.lv.sentUp = true
	if code >= 200 {
		f.finalUp(tx, code, res)
	}
	return append(q, Datagram{tx.conn, res, tx.up})
}

// finalUp records the final response of an INVITE transaction sent upstream: the call is over for
// Herald. Under f.mu.
func (f *Engine) finalUp(tx *Tx, code int, res []byte) {
	tx.final = code
	now := f.now()
	if f.cfg.FinalLatency != nil {
		f.cfg.FinalLatency(time.Duration(now - tx.lv.born))
	}
	tx.lv.t[tTrying], tx.lv.t[tTimerC], tx.lv.t[tNoAnswer] = 0, 0, 0
	if code < 300 {
		tx.state = fsAccepted
		tx.last = nil
		f.dialogs[tx.callID] = tx
		tx.end = now + 64*f.t1
	} else {
		tx.state = fsCompleted
		tx.last = res
		tx.lv.ivFinal = f.t1
		if !tx.tcp {
			tx.lv.t[tFinal] = now + f.t1 // Timer G: UDP only (RFC 3261 §17.2.1)
		}
		tx.end = now + 64*f.t1 // Timer H (and D downstream)
	}
	f.relink(tx)
	f.endCall(tx)
	if code < 300 && !tx.canceled && !f.compact(tx) {
		// RFC 6026 accepted: only 2xx retransmissions (relayed) and the INVITE's (absorbed) are
		// left, compacted (retained.go), or else in tx. A cancelled call keeps its forwarded INVITE
		// for the late 2xx (Late2xx).
		tx.retain()
	}
}

// endCall counts the call done and frees its Call-ID. Under f.mu.
func (f *Engine) endCall(tx *Tx) {
	if tx.ended {
		return
	}
	tx.ended = true
	f.host.Release(tx.callID, tx)
	f.active.Add(-1)
	if f.ctr.Active != nil {
		f.ctr.Active.Add(-1)
	}
	add(f.ctr.CallsDone)
	// The call's one info line (callrecord.go has the controller's): the fast path carries calls
	// Herald pushes nothing into, so pushes is 0 and there is no ringback.
	if f.log.Enabled(context.Background(), slog.LevelInfo) {
		var born int64 // endCall runs before retain, so lv is there; 0 only if that changes
		if tx.lv != nil {
			born = tx.lv.born
		}
		outcome := "none" // ended by a timer or a transport error before any final response
		if tx.final != 0 {
			outcome = strconv.Itoa(tx.final)
		}
		f.log.Info("call finished", "call_id", tx.callID, "outcome", outcome, "pushes", 0, "ringback", false,
			"duration", time.Duration(f.now()-born).Round(time.Microsecond).String(), "path", "fast")
	}
}

// forget removes tx from every table. Under f.mu.
func (f *Engine) forget(tx *Tx) {
	f.w.Remove(&tx.wn)
	if tx.invite {
		if f.inv[tx.branch] == tx {
			delete(f.inv, tx.branch)
		}
		f.endCall(tx)
		if f.dialogs[tx.callID] == tx {
			delete(f.dialogs, tx.callID)
		}
	} else if f.nonInv[tx.branch] == tx {
		delete(f.nonInv, tx.branch)
	}
	delete(f.out, tx.id)
}

// onAck absorbs the ACK for a non-2xx Herald sent upstream, and forwards an ACK for a 2xx
// statelessly along its Route (it is its own transaction, RFC 3261 §17.1.1.3).
func (f *Engine) onAck(m *fmsg, src netip.AddrPort, c Conn) Reason {
	var kb [160]byte
	f.lock(m)
	if tx := f.inv[string(m.txKey(kb[:0]))]; tx != nil && tx.state != fsAccepted {
		if tx.state == fsCompleted && tx.lv.t[tFinal] != 0 {
			tx.lv.t[tFinal] = 0 // Timer G stops; Tx.end (H, and D downstream) still bounds the state
			f.relink(tx)
		}
		f.unlock(m)
		f.st.Absorbed.Add(1)
		return ReasonAbsorbed
	}
	key := m.txKey(kb[:0])
	_, mine := f.own482[0][string(key)]
	if !mine {
		_, mine = f.own482[1][string(key)]
	}
	callID := m.value(hCallID)
	d := f.dialogs[string(callID)]
	// The ACK for that INVITE's 2xx: same dialog and CSeq number (the ACK of a later re-INVITE,
	// which sipgo proxies, has a higher one, and if it acknowledges a non-2xx it must end there).
	ours := d != nil && d.cseq == m.cseq && d.okTag == string(tagOf(m.value(hTo)))
	if d == nil {
		x, ok := f.retInvite(callID)
		ours = ok && bytes.Equal(x.callID, callID) && x.cseq == m.cseq && bytes.Equal(x.okTag, tagOf(m.value(hTo)))
	}
	f.unlock(m)
	if mine {
		f.st.Absorbed.Add(1)
		return ReasonAbsorbed // the ACK for the fast path's own 482
	}
	if !ours || m.mf < 0 {
		// Not the ACK for a 2xx the fast path relayed: it may be the ACK for a non-2xx one of sipgo's
		// server transactions is retransmitting (RFC 3261 §17.2.1), which must end there.
		return ReasonNoTransaction
	}
	r, ok := f.routeOf(m, false)
	if !ok {
		return r.fallback()
	}
	if m.mf <= 1 {
		return ReasonHopLimit // dropped, as the general path does
	}
	// Stateless forwarding: the branch is derived from the upstream one, so a retransmitted ACK
	// leaves with the same branch (RFC 3261 §16.11).
	h := maphash.Bytes(f.seed, m.branch.of(m.buf))
	b := make([]byte, 0, len(BranchPrefix)+18)
	b = append(b, BranchPrefix...)
	b = append(b, 'a')
	b = strconv.AppendUint(b, h, 16)
	fwd := f.forwardRequest(m, src, r, b, false)
	f.st.InDialog.Add(1)
	f.flush([]Datagram{{c, fwd, r.dst}})
	return ReasonForwarded
}

// onCancel answers a CANCEL for a fast INVITE: 200 to the CANCEL, 487 to the INVITE when it has no
// final response yet, and CANCEL downstream (RFC 3261 §16.10). Any other CANCEL goes to sipgo.
func (f *Engine) onCancel(m *fmsg, src netip.AddrPort, c Conn) Reason {
	var kb [160]byte
	f.lock(m)
	tx := f.inv[string(m.txKey(kb[:0]))]
	if tx == nil {
		x, ok := f.retRequest(m, recInvite, f.retKey(m, recInvite))
		f.unlock(m)
		if !ok {
			return ReasonNoTransaction
		}
		// Answered 2xx (RFC 6026 accepted): only the CANCEL's 200 (RFC 3261 §16.10).
		f.flush([]Datagram{{c, answer(m, src, 200, "OK", f.retTag(x.txKey)), src}})
		return ReasonAnswered
	}
	if tx.tag == "" {
		tx.tag = newTag()
	}
	q := []Datagram{{c, answer(m, src, 200, "OK", tx.tag), src}}
	if tx.final == 0 {
		q = f.answerUp(tx, 487, "Request Terminated", "", q)
		q = f.cancelDown(tx, q)
		add(f.ctr.Cancels)
		if f.tracing() {
			f.trace("herald: caller CANCEL: CANCEL toward the callee (fast path)")
		}
	}
	f.unlock(m)
	f.flush(q)
	return ReasonAnswered
}

// cancelDown sends CANCEL for tx's forwarded INVITE and retransmits it until answered. Under f.mu.
func (f *Engine) cancelDown(tx *Tx, q []Datagram) []Datagram {
	if tx.canceled || tx.lv == nil || tx.lv.fwd == nil {
		return q
	}
	tx.canceled = true
	if tx.host {
		tx.lv.cncl = hostHop(tx.lv.fwd, "CANCEL", nil)
	} else {
		tx.lv.cncl = Cancel(tx.lv.fwd)
	}
	if tx.lv.cncl == nil {
		return q
	}
	now := f.now()
	if tx.end == 0 || tx.end < now+64*f.t1 {
		tx.end = now + 64*f.t1
	}
	if !tx.lv.gotProv {
		// RFC 3261 §9.1: no CANCEL before a provisional response; the INVITE keeps being
		// retransmitted (Timer A) until one comes, and the CANCEL goes then.
		f.relink(tx)
		return q
	}
	return f.sendCancel(tx, now, q)
}

// sendCancel sends Herald's CANCEL downstream and starts its retransmissions. Under f.mu.
func (f *Engine) sendCancel(tx *Tx, now int64, q []Datagram) []Datagram {
	tx.lv.ivCancel = f.t1
	if !tx.tcp {
		tx.lv.t[tCancel] = now + f.t1 // Timer E of the CANCEL: UDP only (RFC 3261 §17.1.2.2)
	}
	f.relink(tx)
	return append(q, Datagram{tx.conn, tx.lv.cncl, tx.lv.down})
}

// Cancel is the CANCEL the engine sends for an INVITE it forwarded as fwd (RFC 3261 §9.1), nil if
// fwd is gone or unreadable.
func Cancel(fwd []byte) []byte { return hopRequest(fwd, "CANCEL", nil) }

// hopRequest is the CANCEL, or the ACK for a non-2xx, of an INVITE the fast path forwarded as fwd
// (appendHop), nil if fwd is gone or unreadable.
func hopRequest(fwd []byte, meth string, to []byte) []byte {
	var m fmsg
	if !m.scan(fwd) {
		return nil
	}
	top := m.h(int(m.at[hVia]))
	lines := func(yield func(id hdrID, line []byte)) {
		for i := 0; i < m.n; i++ {
			h := m.h(i)
			yield(h.id, fwd[h.line.a:h.line.b])
		}
	}
	return appendHop(make([]byte, 0, 512), meth, m.ruri.of(fwd), fwd[top.val.a:m.viaEnd], lines, m.cseq, to)
}

// AppendHop appends the request meth (CANCEL, or the ACK for a non-2xx when to is the response's
// To) that follows an INVITE hop by hop (RFC 3261 §9.1, §17.1.1.3): the INVITE given by its
// Request-URI, top Via value, header (name, value) pairs in order and CSeq number, as the general
// path holds it (core/signal's cancelRequest). It is the engine's own builder (appendHop), so both
// paths build these requests alike.
func AppendHop(b []byte, meth string, ruri, topVia []byte, hdrs iter.Seq2[string, string], cseq uint32, to []byte) []byte {
	lines := func(yield func(id hdrID, line []byte)) {
		for name, value := range hdrs {
			switch id := headerID([]byte(name)); id {
			case hRoute, hFrom, hCallID, hTo:
				yield(id, []byte(name+": "+value+"\r\n"))
			}
		}
	}
	return appendHop(b, meth, ruri, topVia, lines, cseq, to)
}

// appendHop is the one builder of the requests that follow an INVITE hop by hop, for both paths
// (the general path's cancelRequest reads sipgo's INVITE into it, AppendHop): the CANCEL (RFC 3261 §9.1) and
// the ACK for a non-2xx (§17.1.1.3). They carry the INVITE's Request-URI, its top Via only (the
// same branch), its Route set, From and Call-ID lines, its CSeq number with the new method, and the
// INVITE's To for a CANCEL or the response's To (to != nil) for an ACK; Max-Forwards 70, no body.
// lines yields the INVITE's header lines in order, each with its CRLF.
func appendHop(b []byte, meth string, ruri, topVia []byte, lines func(yield func(id hdrID, line []byte)), cseq uint32, to []byte) []byte {
	b = append(b, meth...)
	b = append(b, ' ')
	b = append(b, ruri...)
	b = append(b, " SIP/2.0\r\nVia: "...)
	b = append(b, topVia...)
	b = append(b, '\r', '\n')
	lines(func(id hdrID, line []byte) {
		switch id {
		case hRoute, hFrom, hCallID:
			b = append(b, line...)
		case hTo:
			if to == nil {
				b = append(b, line...)
			}
		}
	})
	if to != nil {
		b = append(b, "To: "...)
		b = append(b, to...)
		b = append(b, '\r', '\n')
	}
	b = append(b, "CSeq: "...)
	b = strconv.AppendUint(b, uint64(cseq), 10)
	b = append(b, ' ')
	b = append(b, meth...)
	return append(b, "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"...)
}

// onInDialog forwards a BYE or INFO along its Route set on a fast non-INVITE transaction.
func (f *Engine) onInDialog(m *fmsg, src netip.AddrPort, c Conn) Reason {
	rk := f.retKey(m, recNonInvite)
	f.lock(m)
	if f.absorbNonInvite(m, rk) {
		return ReasonAbsorbed
	}
	f.unlock(m)
	if m.mf <= 1 {
		return ReasonMaxForwards
	}
	if m.proxyRq {
		return ReasonProxyRequire
	}
	callID := m.value(hCallID)
	if f.host.General(string(callID)) {
		return ReasonGeneralCall // a call the general path controls
	}
	r, ok := f.routeOf(m, false)
	if r.general {
		return ReasonGeneralCall // the general path's dialog, whose controller may have ended
	}
	if r.pop == 0 && !f.host.Trusted(src.Addr()) {
		// Not along Herald's Record-Route, nor from a trusted peer: the general path answers 403.
		// Before, anyone's BYE reached any address, Timer E repeating it a dozen times.
		return ReasonUntrusted
	}
	if !ok {
		return r.fallback()
	}
	tx := &Tx{id: f.nextID.Add(1), branch: string(m.txKey(nil)), up: src, conn: c,
		rkey: rk, tcp: m.viaTCP, lv: &txLive{down: r.dst}}
	tx.lv.fwd = f.forwardRequest(m, src, r, f.branchOf(tx.id), false)
	if !tx.tcp && len(tx.lv.fwd) > f.cfg.MaxRequest {
		return ReasonSize
	}
	f.lock(m)
	if _, ok := f.retRequest(m, recNonInvite, rk); ok || f.nonInv[tx.branch] != nil {
		f.unlock(m)
		f.st.Absorbed.Add(1)
		return ReasonAbsorbed
	}
	if f.txCount() >= MaxTxFactor*f.host.MaxCalls() {
		// The transaction limit (MaxTxFactor): refused without state (RFC 3261 §21.5.4).
		f.unlock(m)
		f.st.Overload.Add(1)
		f.flush([]Datagram{{c, answer(m, src, 503, "Service Unavailable", ""), src}})
		return ReasonAnswered
	}
	f.nonInv[tx.branch] = tx
	f.out[tx.id] = tx
	now := f.now()
	tx.lv.ivRetrans = f.t1
	if !tx.tcp {
		tx.lv.t[tRetransmit] = now + f.t1 // Timer E: UDP only (RFC 3261 §17.1.2.2)
	}
	tx.lv.t[tNoAnswer] = now + 64*f.t1
	f.relink(tx)
	fwd := tx.lv.fwd
	f.unlock(m)
	f.st.InDialog.Add(1)
	if f.tracing() {
		f.trace("herald: proxy %s %s (fast path)", methodNames[m.method], callID)
	}
	if err := c.Send(fwd, r.dst); err != nil {
		add(f.ctr.ForwardErrors)
		f.lock(m)
		if tx.lv == nil {
			f.unlock(m) // a retransmission got through and its final came back meanwhile
			return ReasonForwarded
		}
		res := answerFwd(tx.lv.fwd, 503, "Service Unavailable", "Retry-After: 5\r\n", "")
		f.completeNonInvite(tx, res)
		f.unlock(m)
		f.flush([]Datagram{{c, res, src}})
	}
	return ReasonForwarded
}

// absorbNonInvite answers m, a retransmission of a non-INVITE request the engine holds a server
// transaction for (RFC 3261 §17.2.2), from state: its final response again, live or retained (rk:
// retKey), or nothing while it has none (Trying). Called under f.mu; it releases the lock when it
// reports true.
func (f *Engine) absorbNonInvite(m *fmsg, rk uint64) bool {
	var kb [160]byte
	var q []Datagram
	if tx := f.nonInv[string(m.txKey(kb[:0]))]; tx != nil {
		if tx.last != nil {
			q = append(q, Datagram{tx.conn, tx.last, tx.up})
		}
	} else if x, ok := f.retRequest(m, recNonInvite, rk); ok {
		q = append(q, Datagram{f.connOf(&x), x.res, x.up})
	} else {
		return false
	}
	f.unlock(m)
	f.st.Absorbed.Add(1)
	f.flush(q)
	return true
}

// completeNonInvite records the final response of a non-INVITE transaction. Under f.mu.
func (f *Engine) completeNonInvite(tx *Tx, res []byte) {
	tx.state = fsCompleted
	tx.last = res
	tx.end = f.now() + 64*f.t1 // Timer J
	if f.compact(tx) {
		return // retained.go: the response and the keys as a record
	}
	tx.retain() // and every other timer with it
	f.relink(tx)
}

// AbortAll ends every call of the engine's still without a final response, as a drain does when its
// time is up: 487 (Request Terminated) to the caller, CANCEL to the callee (RFC 3261 §16.10).
func (f *Engine) AbortAll() {
	var q []Datagram
	f.mu.Lock()
	for _, tx := range f.inv {
		if !tx.ended && tx.final == 0 {
			add(f.ctr.DrainAborted)
			q = f.answerUp(tx, 487, "Request Terminated", "", q)
			q = f.cancelDown(tx, q)
		}
	}
	f.mu.Unlock()
	f.flush(q)
}
