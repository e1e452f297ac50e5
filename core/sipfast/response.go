package sipfast

// response.go: responses to the engine's requests, relayed upstream or acted on.

import (
	"bytes"
	"net/netip"
)

// stripVia is res without its top Via value (Herald's). It is allocated to its exact size: a relayed final response is kept as the transaction's last
// for 64·T1 (Timer J), so every byte of slack is held per finished call.
func stripVia(m *fmsg) []byte {
	buf := m.buf
	h := m.h(int(m.at[hVia]))
	var rest []byte // more values on the line: kept
	more := m.viaEnd < h.val.b
	n := h.line.a + len(buf) - h.line.b
	if more {
		rest = trimBlanks(buf[m.viaEnd+1 : h.val.b])
		n += h.val.a - h.line.a + len(rest) + h.line.b - h.val.b
	}
	b := make([]byte, 0, n)
	b = append(b, buf[:h.line.a]...)
	if more {
		b = append(b, buf[h.line.a:h.val.a]...)
		b = append(b, rest...)
		b = append(b, buf[h.val.b:h.line.b]...)
	}
	return append(b, buf[h.line.b:]...)
}

func (f *Engine) onResponse(m *fmsg) Reason {
	id, ours, ok := f.idOf(m.branch.of(m.buf))
	switch {
	case !ours:
		return ReasonSipgoBranch // a response to sipgo's own client transactions
	case !ok:
		return ReasonStray // a branch of ours the engine never minted: forged, dropped
	}
	f.lock(m)
	tx := f.out[id]
	if tx == nil {
		if x, ok := f.retResponse(m, id); ok {
			// Retained (retained.go): a 2xx to the INVITE is relayed again (RFC 6026), anything else
			// absorbed (a non-INVITE's retransmitted final: Timer K).
			c := f.connOf(&x)
			f.unlock(m)
			if x.kind == recInvite && m.cseqM == mINVITE && m.status >= 200 && m.status < 300 {
				f.flush([]Datagram{{c, stripVia(m), x.up}})
			}
			return ReasonResponse
		}
		f.unlock(m)
		f.st.Stray.Add(1)
		if m.cseqM == mINVITE && m.status >= 200 && m.status < 300 {
			f.relayStateless(m)
			return ReasonStray2xx
		}
		return ReasonStray
	}
	var q []Datagram
	var sink func([]byte)
	var give []byte
	switch {
	case m.cseqM == mCANCEL:
		if m.status >= 200 && tx.lv != nil {
			tx.lv.cncl, tx.lv.t[tCancel] = nil, 0
			f.relink(tx)
		}
	case tx.host && m.cseqM == mINVITE:
		if tx.lv != nil {
			sink = tx.lv.sink
		}
		q, give = f.hostResponse(tx, m, q)
	case tx.invite && m.cseqM == mINVITE:
		q = f.inviteResponse(tx, m, q)
	case !tx.invite && m.cseqM != mINVITE:
		q = f.nonInviteResponse(tx, m, q)
	}
	f.unlock(m)
	f.flush(q)
	if give != nil {
		sink(give) // outside the lock (ForwardInvite)
	}
	return ReasonResponse
}

// inviteResponse handles a response to a fast INVITE. Under f.mu.
func (f *Engine) inviteResponse(tx *Tx, m *fmsg, q []Datagram) []Datagram {
	now := f.now()
	code := m.status
	if tx.lv == nil {
		// Answered 2xx and retained (RFC 6026 accepted): every 2xx, retransmitted, goes upstream
		// (the UAC's ACK stops them); anything else the callee sends now is owed nothing.
		if code >= 200 && code < 300 {
			return append(q, Datagram{tx.conn, stripVia(m), tx.up})
		}
		return q
	}
	if code < 200 {
		if !tx.lv.gotProv {
			tx.lv.gotProv = true
			if tx.state == fsCalling {
				tx.state = fsProceeding
			}
			tx.lv.t[tRetransmit], tx.lv.t[tNoAnswer] = 0, 0 // Timers A and B stop
			if tx.lv.cncl != nil && tx.lv.t[tCancel] == 0 {
				q = f.sendCancel(tx, now, q) // the CANCEL held for this provisional (§9.1)
			}
		}
		if code > 100 && tx.final == 0 && !tx.canceled {
			tx.lv.t[tTimerC] = now + int64(f.cfg.TimerC) // restarted by every provisional (§16.7 step 2)
			tx.lv.t[tTrying] = 0
			out := stripVia(m)
			tx.last, tx.lv.sentUp = out, true
			q = append(q, Datagram{tx.conn, out, tx.up})
		}
		f.relink(tx)
		return q
	}
	if code >= 300 {
		// Hop-by-hop ACK downstream (RFC 3261 §17.1.1.3), sent again for every retransmission.
		if tx.lv.ack == nil && tx.lv.fwd != nil {
			tx.lv.ack = hopRequest(tx.lv.fwd, "ACK", m.value(hTo))
		}
		if tx.lv.ack != nil {
			q = append(q, Datagram{tx.conn, tx.lv.ack, tx.lv.down})
		}
		tx.lv.t[tRetransmit], tx.lv.t[tNoAnswer], tx.lv.t[tCancel], tx.lv.cncl = 0, 0, 0, nil
		if tx.final == 0 {
			out := stripVia(m)
			f.finalUp(tx, code, out)
			q = append(q, Datagram{tx.conn, out, tx.up})
		}
		tx.lv.fwd = nil
		f.relink(tx)
		return q
	}
	// 2xx.
	if tx.canceled {
		// The CANCEL/200 race (RFC 3261 §15): the caller cancelled (or Timer C fired) and has its
		// final response. Confirm and end the callee's dialog.
		if tx.lv.fwd != nil {
			f.host.Late2xx(tx.lv.fwd, bytes.Clone(m.buf))
			if f.tracing() {
				f.trace("herald: 2xx after CANCEL: ACK and BYE it")
			}
		}
		return q
	}
	if tx.final >= 300 {
		// A 2xx after Herald's 408 for an INVITE nothing answered (Timer B): every 2xx is forwarded
		// (RFC 3261 §16.7 step 5); the caller's UA ends the dialog it did not expect.
		return append(q, Datagram{tx.conn, stripVia(m), tx.up})
	}
	tx.lv.t[tRetransmit], tx.lv.t[tNoAnswer], tx.lv.t[tCancel], tx.lv.cncl = 0, 0, 0, nil
	out := stripVia(m)
	if tx.final == 0 {
		tx.okTag = string(tagOf(m.value(hTo)))
		f.finalUp(tx, code, out)
	}
	// Every 2xx (retransmissions too) goes upstream: the UAC's ACK stops them (RFC 6026).
	return append(q, Datagram{tx.conn, out, tx.up})
}

// nonInviteResponse handles a response to a fast BYE or INFO. Under f.mu.
func (f *Engine) nonInviteResponse(tx *Tx, m *fmsg, q []Datagram) []Datagram {
	if tx.state == fsCompleted {
		return q // Timer K: a retransmitted final is absorbed
	}
	if tx.lv.done != nil {
		f.ownResponse(tx, m)
		return q
	}
	if m.status < 200 {
		if tx.state == fsCalling {
			tx.state = fsProceeding
			tx.lv.ivRetrans = f.t2 // RFC 3261 §17.1.2.2: T2 once a provisional arrived
		}
		if m.status > 100 {
			out := stripVia(m)
			tx.last = out
			q = append(q, Datagram{tx.conn, out, tx.up})
		}
		return q
	}
	out := stripVia(m)
	f.completeNonInvite(tx, out)
	return append(q, Datagram{tx.conn, out, tx.up})
}

// relayStateless sends a 2xx with no transaction left upstream by its next Via (RFC 3261 §16.11,
// RFC 6026): received and rport when present, else sent-by.
func (f *Engine) relayStateless(m *fmsg) {
	if d, ok := f.stateless(m); ok {
		f.flush([]Datagram{d})
	}
}

// stateless is the datagram relayStateless sends for m, false when m names nowhere to send it.
func (f *Engine) stateless(m *fmsg) (Datagram, bool) {
	if m.at[hVia] < 0 {
		return Datagram{}, false // read leniently (hostLoose): no Via indexed to strip
	}
	out := stripVia(m)
	if f.cfg.Stray2xx != nil {
		out = f.cfg.Stray2xx(m.value(hCallID), out)
	}
	var n fmsg
	if !n.scan(out) {
		return Datagram{}, false
	}
	dst, ok := viaTarget(&n)
	if !ok {
		return Datagram{}, false
	}
	var c Conn
	if n.viaTCP {
		// Over the connection the request came on, if it is still open (RFC 3261 §18.2.2);
		// opening one to the sent-by is the general path's.
		if s := f.streamTo(dst); s != nil {
			c = s
		}
	} else {
		c = f.connToward(dst.Addr())
	}
	if c == nil {
		return Datagram{}, false
	}
	return Datagram{c, out, dst}, true
}

// viaTarget is where a response goes by the top Via of m: received/rport, else sent-by.
func viaTarget(m *fmsg) (netip.AddrPort, bool) {
	h := m.h(int(m.at[hVia]))
	top := m.buf[h.val.a:m.viaEnd]
	top = top[viaPrefix:]
	semi := bytes.IndexByte(top, ';')
	if semi < 0 {
		return netip.AddrPort{}, false
	}
	host, params := top[:semi], top[semi:]
	var hostB []byte
	port := 5060
	if c := bytes.LastIndexByte(host, ':'); c >= 0 && bytes.IndexByte(host, ']') < c {
		p, ok := atoi(host[c+1:])
		if !ok {
			return netip.AddrPort{}, false
		}
		hostB, port = host[:c], p
	} else {
		hostB = host
	}
	hostB = bytes.Trim(hostB, "[]")
	for _, p := range bytes.Split(params[1:], []byte(";")) {
		p = trimBlanks(p)
		if eq := bytes.IndexByte(p, '='); eq > 0 {
			k, v := p[:eq], p[eq+1:]
			switch {
			case equalFold(k, "received"):
				hostB = v
			case equalFold(k, "rport"):
				if n, ok := atoi(v); ok {
					port = n
				}
			}
		}
	}
	ip, err := netip.ParseAddr(string(hostB))
	if err != nil || port <= 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}
