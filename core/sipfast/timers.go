package sipfast

import (
	"bytes"
	"net/netip"
	"time"
)

// timers.go: the engine's timers. Every fast transaction has a handful of RFC 3261 timers
// (A/B/C/D/E/F/G/H/J and the 200 ms 100 Trying), of which only the earliest matters at any moment.
// A transaction is linked into the wheel (core/wheel) at that earliest deadline; one goroutine reads
// the clock (Config.Clock) every tick and fires what is due. No runtime timer, no goroutine and no
// allocation per transaction: sipgo's time.AfterFunc per timer per transaction was a large part of
// its cost per call.

const wheelSlots = 4096 // × tick (5-10 ms): a deadline further away stays linked and is revisited

// timer roles of a transaction (txLive.t); the last one, when the transaction is forgotten (D/H/J,
// the RFC 6026 accepted state), is Tx.end, since it outlives the rest.
const (
	tRetransmit = iota // A (INVITE) or E (non-INVITE): the forwarded request again
	tNoAnswer          // B or F: 64·T1 without a final response downstream
	tTrying            // 200 ms: 100 Trying upstream unless something was sent (RFC 3261 §17.2.1)
	tTimerC            // RFC 3261 §16.6 step 11: the callee does not answer
	tFinal             // G: the final non-2xx again upstream until the caller's ACK
	tCancel            // E of Herald's CANCEL downstream
	numTimers
)

// due is the earliest set deadline of tx, 0 when none.
func (tx *Tx) due() int64 {
	d := tx.end
	if tx.lv == nil {
		return d
	}
	for _, t := range tx.lv.t {
		if t != 0 && (d == 0 || t < d) {
			d = t
		}
	}
	return d
}

// relink puts tx in the wheel at its earliest deadline, or out of it when it has none. Under f.mu.
func (f *Engine) relink(tx *Tx) {
	if tx.compacted {
		return // retained.go holds it, out of the wheel
	}
	d := tx.due()
	if d == 0 {
		f.w.Remove(&tx.wn)
		return
	}
	tx.wn.Value = tx
	f.w.Schedule(&tx.wn, d)
}

func (f *Engine) run() {
	defer close(f.done)
	t := time.NewTicker(time.Duration(f.tick))
	defer t.Stop()
	var q []Datagram
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		q = f.Tick(q[:0])
	}
}

// Tick runs the timers that are due on the engine's clock, sends what they send, and returns that
// appended to q. It is behind the recovery net (Host.Recovered): a panic releases the lock and the
// loop goes on with the next tick. The engine's own goroutine calls it every tick; with a
// *wheel.Manual clock its owner calls it after each step.
func (f *Engine) Tick(q []Datagram) []Datagram {
	locked := false
	defer func() {
		if r := recover(); f.host.Recovered(r) && locked {
			// The transactions due after the one that panicked are off the wheel (Expire): linked
			// again, so their timers still run; the one that panicked is let go.
			for _, n := range f.due[min(f.firing+1, len(f.due)):] {
				f.relink(n.Value)
			}
			clear(f.due)
			f.mu.Unlock()
		}
	}()
	f.mu.Lock()
	locked = true
	fire(&f.Faults.Tick, struct{}{})
	now := f.now()
	if now-f.own482At >= 64*f.t1 {
		f.own482[1], f.own482[0], f.own482At = f.own482[0], map[string]struct{}{}, now
	}
	f.ret.expire(now)
	f.due = f.w.Expire(now, f.due[:0])
	for i, n := range f.due {
		f.firing = i
		q = f.fire(n.Value, now, q)
	}
	clear(f.due)
	timedOut := f.timedOut
	f.timedOut = nil
	locked = false
	f.mu.Unlock()
	f.flush(q)
	for _, sink := range timedOut {
		sink(nil)
	}
	return q
}

// fire runs the timers of tx that are due. Under f.mu.
func (f *Engine) fire(tx *Tx, now int64, q []Datagram) []Datagram {
	fire(&f.Faults.Fire, tx)
	if tx.end != 0 && tx.end <= now {
		tx.end = 0
		f.forget(tx)
		return q
	}
	if tx.lv == nil {
		f.relink(tx) // retained: only end is left
		return q
	}
	due := func(i int) bool {
		if tx.lv.t[i] != 0 && tx.lv.t[i] <= now {
			tx.lv.t[i] = 0
			return true
		}
		return false
	}
	if due(tRetransmit) && tx.lv.fwd != nil {
		// The third retransmission of an INVITE (7·T1, 3.5 s) and not even a 100 Trying, which a
		// proxy sends within 200 ms (RFC 3261 §16.2): the next hop is taken for dead now rather
		// than at Timer B (32 s), so the calls after this one go to the name's next target (RFC
		// 3263 §4.3) instead of 32 s of them failing; and this one goes there too (retarget). Over TCP
		// only this check is made, at 7·T1.
		dead := tx.invite && tx.lv.ivRetrans == 4*f.t1 && !tx.own && tx.lv.done == nil
		if dead {
			f.dns.markDown(tx.lv.down)
		}
		switch {
		case dead && !tx.canceled && tx.final == 0 && f.retarget(tx, now):
			// Not a call the caller cancelled (its CANCEL waits for a provisional, RFC 3261 §9.1)
			// or the host let go of (EndInvite cancels it), nor one answered upstream already. Over
			// TCP the next target may have no connection yet: it is opened (Stream.Open).
			c := tx.conn
			if s, ok := c.(Stream); ok {
				c = opener{s}
			}
			q = append(q, Datagram{c, tx.lv.fwd, tx.lv.down})
		case tx.tcp:
			// Only the 7·T1 check: nothing is retransmitted over TCP (RFC 3261 §17.1.1.2).
		default:
			q = append(q, Datagram{tx.conn, tx.lv.fwd, tx.lv.down})
			f.st.Retransmissions.Add(1)
			if tx.invite {
				tx.lv.ivRetrans *= 2 // Timer A doubles (RFC 3261 §17.1.1.2)
			} else {
				tx.lv.ivRetrans = min(2*tx.lv.ivRetrans, f.t2) // Timer E
			}
			tx.lv.t[tRetransmit] = now + tx.lv.ivRetrans
		}
	}
	if due(tNoAnswer) {
		f.st.Timeouts.Add(1)
		tx.lv.t[tRetransmit] = 0
		if !tx.invite && !tx.own && tx.lv.done == nil && tx.lv.down.IsValid() && f.host.Trusted(tx.up.Addr()) {
			// Not even a provisional (RFC 3263 §4.3). An INVITE's next hop was marked at 7·T1
			// already (an INVITE comes from a trusted peer). A request from any other peer marks
			// nothing: a peer's requests toward names of its own that lead nowhere would fill the
			// list of targets down, and a real S-CSCF failure would then go unmarked.
			f.dns.markDown(tx.lv.down)
		}
		if tx.host {
			// A call the host runs (ForwardInvite): its sink hears, once the lock is released, that
			// the INVITE ended without a final response.
			if s := tx.lv.sink; s != nil {
				f.timedOut = append(f.timedOut, s)
			}
			f.forget(tx)
			return q
		}
		if tx.invite {
			if tx.final == 0 {
				q = f.answerUp(tx, 408, "Request Timeout", "", q)
			}
			tx.lv.fwd = nil
		} else if done := tx.lv.done; done != nil {
			// A request of Herald's own (Engine.Originate): RFC 3261 §8.1.3.1, a timeout is a 408.
			f.forget(tx)
			done(408, nil)
			return q
		} else {
			var res []byte
			if tx.own {
				// The host never answered (its call's controller is stuck or gone): a final
				// answer all the same, so the caller stops retransmitting.
				f.st.OwnUnanswered.Add(1)
				res = ownAnswer(tx, 500, "Server Internal Error", "Retry-After: 5\r\n")
			} else {
				res = answerFwd(tx.lv.fwd, 408, "Request Timeout", "", "")
			}
			f.completeNonInvite(tx, res) // retained from here: only end is left
			return append(q, Datagram{tx.conn, res, tx.up})
		}
	}
	if due(tTrying) && !tx.lv.sentUp && tx.final == 0 {
		n := len(q)
		if q = f.answerUp(tx, 100, "Trying", "", q); len(q) > n { // none when it cannot be built
			tx.last = q[n].B
		}
	}
	if due(tTimerC) && tx.final == 0 {
		// Timer C: the callee never answered. 408 upstream, CANCEL downstream (RFC 3261 §16.8).
		f.st.Timeouts.Add(1)
		q = f.answerUp(tx, 408, "Request Timeout", "", q)
		q = f.cancelDown(tx, q)
	}
	if due(tFinal) && tx.state == fsCompleted && tx.last != nil {
		q = append(q, Datagram{tx.conn, tx.last, tx.up})
		f.st.Retransmissions.Add(1)
		tx.lv.ivFinal = min(2*tx.lv.ivFinal, f.t2) // Timer G
		tx.lv.t[tFinal] = now + tx.lv.ivFinal
	}
	if due(tCancel) && tx.lv.cncl != nil {
		q = append(q, Datagram{tx.conn, tx.lv.cncl, tx.lv.down})
		f.st.Retransmissions.Add(1)
		tx.lv.ivCancel = min(2*tx.lv.ivCancel, f.t2)
		tx.lv.t[tCancel] = now + tx.lv.ivCancel
	}
	f.relink(tx)
	return q
}

// retarget sends tx's unanswered INVITE on to the next target of the answer that gave its next hop,
// now marked down (RFC 3263 §4.3: "a new request, identical to the previous, but with a different
// branch ID"): a new client transaction under a new branch, Timers A and B started again, so a
// call placed while an S-CSCF died silently is not lost with it. Responses the dead target sends
// late match no transaction (stray). It reports false, changing nothing, when there is no other
// target. Under f.mu.
func (f *Engine) retarget(tx *Tx, now int64) bool {
	sendable := f.dns.sendable // UDP: the sockets' family
	if tx.tcp {
		sendable = func(netip.AddrPort) bool { return true } // TCP opens a connection (Stream.Open)
	}
	next, ok := f.dns.next(tx.lv.name, tx.lv.down, sendable)
	if !ok {
		return false
	}
	id := f.nextID.Add(1)
	fwd, ok := rebranch(tx.lv.fwd, f.branchOf(tx.id), f.branchOf(id))
	if !ok {
		return false
	}
	delete(f.out, tx.id)
	tx.id = id
	f.out[id] = tx
	tx.lv.fwd, tx.lv.down, tx.lv.ivRetrans = fwd, next, f.t1
	tx.lv.t[tRetransmit], tx.lv.t[tNoAnswer] = now+f.t1, now+64*f.t1
	if tx.tcp {
		tx.lv.ivRetrans, tx.lv.t[tRetransmit] = 4*f.t1, now+7*f.t1 // the 7·T1 check again
	}
	f.st.DNSRetargets.Add(1)
	return true
}

// rebranch is the request msg with its top Via's branch old (Herald's, the first header after
// the request line) replaced by branch, in a new slice; ok false when old is not there.
func rebranch(msg, old, branch []byte) ([]byte, bool) {
	eol := bytes.Index(msg, []byte("\r\n"))
	if eol < 0 {
		return nil, false
	}
	i := bytes.Index(msg[eol:], old)
	if i < 0 {
		return nil, false
	}
	i += eol
	out := make([]byte, 0, len(msg)-len(old)+len(branch))
	out = append(append(append(out, msg[:i]...), branch...), msg[i+len(old):]...)
	return out, true
}
