package sipfast

import (
	"bytes"
	"net/netip"
)

// hostinvite.go: the forwarded INVITE of a call the host runs itself (a call with cards: its
// controller builds the INVITE it forwards and decides what each response means). The engine keeps
// the client INVITE transaction toward the next hop (RFC 3261 §17.1.1) with no server side: it puts
// its Via on the request, retransmits it, ACKs a non-2xx final hop by hop and cancels it, and hands
// every response to the host as it came, on the goroutine that read it. So the call's responses
// cost no sipgo client transaction, no queue to the general path's reader, no goroutine per
// response and no runtime timer, as a plain call's do not.

// ForwardInvite sends req, the INVITE of a call the host runs (its request line, its headers
// without Herald's Via, its body), to dst over UDP from the engine's first socket that reaches it,
// on a client INVITE transaction of the engine's: Herald's Via on top (branch BranchPrefix and the
// transaction's id, so a response finds it as any of the engine's, RFC 3261 §17.1.3), Timer A from
// T1 doubling and Timer B at 64·T1 (§17.1.1.2), both stopped by a provisional; each non-2xx final
// is ACKed hop by hop, again for each retransmission of it (§17.1.1.3). sink gets each response as
// received: every provisional but 100 before the final, the first non-2xx final, and
// every 2xx (a proxy forwards each, RFC 3261 §16.7 step 5); and nil once if the transaction ends
// without a final response (Timer B). It is called outside the engine's lock, on the goroutine that
// read the response (within Take: the slice is the datagram as read, valid only during the call)
// or ran the timer; it must not block. The size of req is the host's to decide
// (RFC 3261 §18.1.1): max, when not 0, is the largest it sends (Herald's Via included); beyond it,
// or beyond what a UDP datagram holds, it sends nothing. ForwardInvite returns nil,
// having sent nothing, when the engine cannot carry the request (no socket reaches dst, the
// transaction limit, a send error): the host sends it another way.
func (f *Engine) ForwardInvite(req []byte, dst netip.AddrPort, max int, sink func(res []byte)) *Tx {
	return f.ForwardInviteTo(req, At(dst), max, sink)
}

// ForwardInviteTo is ForwardInvite toward a Target of the engine's Names: an INVITE its target
// leaves without even a provisional by 7·T1 goes on to the next target of the same answer (RFC
// 3263 §4.3), as a forwarded one does.
func (f *Engine) ForwardInviteTo(req []byte, to Target, max int, sink func(res []byte)) *Tx {
	if sink == nil {
		return nil
	}
	// ended: the host admitted the call and counts it; the engine's call accounting (endCall) is not
	// this transaction's.
	tx := f.startClient(req, to.Addr, max, &Tx{invite: true, host: true, ended: true, lv: &txLive{sink: sink, name: to.name}})
	if tx != nil {
		f.st.HostInvites.Add(1)
	}
	return tx
}

// CancelInvite sends CANCEL for the INVITE of tx (ForwardInvite), once; as RFC 3261 §9.1 has it, not
// before a provisional response came (the INVITE keeps its Timer A until then), and retransmitted
// until its final response. Nothing once the INVITE has its final response.
func (f *Engine) CancelInvite(tx *Tx) {
	f.mu.Lock()
	var q []Datagram
	if tx.host && tx.final == 0 {
		q = f.cancelDown(tx, nil)
	}
	f.mu.Unlock()
	f.flush(q)
}

// EndInvite lets the host go of tx (ForwardInvite): no response reaches its sink after this. An
// INVITE answered 2xx is forgotten (a retransmitted 2xx is then relayed statelessly, RFC 3261
// §16.7 step 5); one answered non-2xx is kept until Timer D to ACK each retransmission of its final;
// one without a final response is cancelled (CancelInvite) and kept until 64·T1 from then, to ACK
// the 487 and to hand a 2xx that crosses the CANCEL to Host.Late2xx (§15), which confirms and ends
// that dialog.
func (f *Engine) EndInvite(tx *Tx) {
	f.mu.Lock()
	var q []Datagram
	if tx.host && tx.lv != nil {
		tx.lv.sink = nil
		switch {
		case tx.final >= 200 && tx.final < 300:
			f.forget(tx)
		case tx.final == 0:
			q = f.cancelDown(tx, nil)
		}
	}
	f.mu.Unlock()
	f.flush(q)
}

// hostResponse handles a response to the INVITE of tx (ForwardInvite) and returns what goes out and
// what the host's sink gets (nil: nothing). Under f.mu.
func (f *Engine) hostResponse(tx *Tx, m *fmsg, q []Datagram) ([]Datagram, []byte) {
	lv, code := tx.lv, m.status
	if lv == nil {
		return q, nil
	}
	if code < 200 {
		if !lv.gotProv {
			lv.gotProv = true
			if tx.state == fsCalling {
				tx.state = fsProceeding
			}
			lv.t[tRetransmit], lv.t[tNoAnswer] = 0, 0 // Timers A and B stop
			if lv.cncl != nil && lv.t[tCancel] == 0 {
				q = f.sendCancel(tx, f.now(), q) // the CANCEL held for this provisional (§9.1)
			}
			f.relink(tx)
		}
		if tx.final != 0 || code == 100 {
			// A proxy forwards no 100 (RFC 3261 §16.7 step 4) and its call has nothing to do on
			// one: the host is spared reading it.
			return q, nil
		}
		return q, tx.give(m)
	}
	lv.t[tRetransmit], lv.t[tNoAnswer], lv.t[tCancel], lv.cncl = 0, 0, 0, nil
	if code >= 300 {
		// Hop-by-hop ACK (RFC 3261 §17.1.1.3), sent again for every retransmission of the final.
		if lv.ack == nil && lv.fwd != nil {
			lv.ack = hostHop(lv.fwd, "ACK", m.value(hTo))
		}
		if lv.ack != nil {
			q = append(q, Datagram{tx.conn, lv.ack, lv.down})
		}
		if tx.final != 0 {
			f.relink(tx)
			return q, nil
		}
		tx.final, tx.state = code, fsCompleted
		tx.end = f.now() + 64*f.t1 // Timer D, at least 32 s over UDP (§17.1.1.2)
		lv.fwd = nil
		f.relink(tx)
		return q, tx.give(m)
	}
	// 2xx.
	if tx.final == 0 {
		tx.final, tx.state = code, fsAccepted
		tx.end = f.now() + 64*f.t1 // RFC 6026 Timer M, unless the host lets go first (EndInvite)
	}
	if lv.sink == nil {
		if tx.canceled && lv.fwd != nil {
			// The CANCEL/200 race (RFC 3261 §15) after the host let go: confirm and end that dialog.
			f.host.Late2xx(lv.fwd, bytes.Clone(m.buf))
		} else if d, ok := f.stateless(m); ok {
			q = append(q, d)
		}
		f.relink(tx)
		return q, nil
	}
	f.relink(tx)
	return q, tx.give(m)
}

// give is m for the host's sink, nil when the host has let go: the datagram as read, lent for the
// sink's call only (Take's data, or its normalized copy). Under f.mu.
func (tx *Tx) give(m *fmsg) []byte {
	if tx.lv.sink == nil {
		return nil
	}
	return m.buf
}

// hostHop is hopRequest for the INVITE of a call the host runs (its CANCEL, or the ACK for a
// non-2xx when to is the response's To), from the request as sent. The host built that request
// from one its general path checked (core/sipmsg's CheckRequest), so it is read line by line
// without the scanner's own checks, which refuse what the fast path does not proxy: more
// header lines than it indexes, say. Nil if fwd lacks its start line, a Via or a CSeq.
func hostHop(fwd []byte, meth string, to []byte) []byte {
	eol := bytes.Index(fwd, crlf)
	if eol <= 0 {
		return nil
	}
	start := fwd[:eol]
	sp1, sp2 := bytes.IndexByte(start, ' '), bytes.LastIndexByte(start, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return nil
	}
	var via []byte
	var cseq uint32
	haveCSeq := false
	looseLines(fwd, eol+2, func(id hdrID, _ []byte, vs span) bool {
		v := vs.of(fwd)
		switch {
		case id == hVia && via == nil:
			via = v
			if c := bytes.IndexByte(v, ','); c >= 0 {
				via = trimBlanks(v[:c])
			}
		case id == hCSeq && !haveCSeq:
			num, _, _ := bytes.Cut(v, []byte(" "))
			n, ok := atoi(num)
			cseq, haveCSeq = uint32(n), ok && n >= 0
		}
		return true
	})
	if via == nil || !haveCSeq {
		return nil
	}
	lines := func(yield func(id hdrID, line []byte)) {
		looseLines(fwd, eol+2, func(id hdrID, line []byte, _ span) bool { yield(id, line); return true })
	}
	return appendHop(make([]byte, 0, 512), meth, start[sp1+1:sp2], via, lines, cseq, to)
}

// hostLoose gives a response the scanner refuses even as the general path prints it (more header
// lines than it indexes) to the transaction it answers when that is the INVITE of a call the host
// runs (ForwardInvite), read leniently: its status, its top Via's branch, its CSeq method and its
// To, which is all hostResponse reads. The call's general-path parser reads it as sipgo would have
// when the INVITE went out on sipgo; any other response stays unreadable. Reports whether it took
// the response. m is Take's, so that its recovery net releases the lock taken here.
func (f *Engine) hostLoose(m *fmsg, data []byte) bool {
	*m = fmsg{buf: data, mf: -1}
	for i := range m.at {
		m.at[i] = -1
	}
	if len(data) < 12 || !bytes.HasPrefix(data, []byte("SIP/2.0 ")) || data[11] != ' ' {
		return false
	}
	code, ok := atoi(data[8:11])
	if !ok || code < 100 || code > 699 {
		return false
	}
	m.status = code
	var branch []byte
	eol := bytes.Index(data, crlf)
	if eol < 0 {
		return false
	}
	looseLines(data, eol+2, func(id hdrID, _ []byte, vs span) bool {
		v := vs.of(data)
		switch {
		case id == hVia && branch == nil:
			if b := bytes.Index(v, []byte(";branch=")); b >= 0 {
				branch = v[b+len(";branch="):]
				if end := bytes.IndexAny(branch, ";, \t"); end >= 0 {
					branch = branch[:end]
				}
			}
		case id == hCSeq && m.cseqM == 0:
			if sp := bytes.LastIndexByte(v, ' '); sp >= 0 {
				m.cseqM = methodOf(trimBlanks(v[sp+1:]))
			}
		case id == hTo && m.at[hTo] < 0:
			m.at[hTo], m.hdr[0], m.n = 0, hline{id: hTo, val: vs}, 1
		}
		return true
	})
	id, _, ok := f.idOf(branch)
	if !ok || m.cseqM != mINVITE || m.at[hTo] < 0 {
		return false
	}
	f.lock(m)
	tx := f.out[id]
	if tx == nil || !tx.host || tx.lv == nil {
		f.unlock(m)
		return false
	}
	sink := tx.lv.sink
	q, give := f.hostResponse(tx, m, nil)
	f.unlock(m)
	f.flush(q)
	if give != nil {
		sink(give)
	}
	return true
}

// looseLines yields msg's header lines from offset i on (each with its CRLF, its header's id and its
// value's span, blanks trimmed) until the blank line that ends them or yield's false, without the
// scanner's checks: what hostHop and hostLoose read of a message the scanner refuses. A line
// without a colon is skipped.
func looseLines(msg []byte, i int, yield func(id hdrID, line []byte, value span) bool) {
	for i < len(msg) {
		e := bytes.Index(msg[i:], crlf)
		if e <= 0 { // the blank line ending the headers, or no line end
			return
		}
		line := msg[i : i+e+2]
		if colon := bytes.IndexByte(line, ':'); colon > 0 {
			vs, ve := i+colon+1, i+e
			for vs < ve && (msg[vs] == ' ' || msg[vs] == '\t') {
				vs++
			}
			for ve > vs && (msg[ve-1] == ' ' || msg[ve-1] == '\t') {
				ve--
			}
			if !yield(headerID(trimBlanks(line[:colon])), line, span{vs, ve}) {
				return
			}
		}
		i += e + 2
	}
}
