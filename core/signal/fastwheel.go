package signal

// fastwheel.go: the fast path's timers. Every fast transaction has a handful of RFC 3261 timers
// (A/B/C/D/E/F/G/H/J and the 200 ms 100 Trying), of which only the earliest matters at any moment.
// A transaction is linked into the wheel (core/wheel) at that earliest deadline; one goroutine reads
// the clock (Options.Clock) every tick and fires what is due. No runtime timer, no goroutine and no
// allocation per transaction: sipgo's time.AfterFunc per timer per transaction was a large part of
// its cost per call.

const wheelSlots = 4096 // × tick (5-10 ms): a deadline further away stays linked and is revisited

// timer roles of a fast transaction (ftx.t).
const (
	tRetransmit = iota // A (INVITE) or E (non-INVITE): the forwarded request again
	tNoAnswer          // B or F: 64·T1 without a final response downstream
	tTrying            // 200 ms: 100 Trying upstream unless something was sent (RFC 3261 §17.2.1)
	tTimerC            // RFC 3261 §16.6 step 11: the callee does not answer
	tFinal             // G: the final non-2xx again upstream until the caller's ACK
	tCancel            // E of Herald's CANCEL downstream
	tEnd               // the transaction is forgotten (D/H/J, the RFC 6026 accepted state)
	numTimers
)

// due is the earliest set deadline of tx, 0 when none.
func (tx *ftx) due() int64 {
	var d int64
	for _, t := range tx.t {
		if t != 0 && (d == 0 || t < d) {
			d = t
		}
	}
	return d
}

// relink puts tx in the wheel at its earliest deadline, or out of it when it has none. Under f.mu.
func (f *fastPath) relink(tx *ftx) {
	d := tx.due()
	if d == 0 {
		f.w.Remove(&tx.wn)
		return
	}
	tx.wn.Value = tx
	f.w.Schedule(&tx.wn, d)
}
