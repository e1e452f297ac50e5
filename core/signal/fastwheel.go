package signal

// fastwheel.go: the fast path's timers. Every fast transaction has a handful of RFC 3261 timers
// (A/B/C/D/E/F/G/H/J and the 200 ms 100 Trying), of which only the earliest matters at any moment.
// A transaction is linked into one slot of a hashed timing wheel by that earliest deadline; one
// goroutine advances the wheel every tick and fires what is due. No runtime timer, no goroutine and no
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

type wheel struct {
	slots [wheelSlots]*ftx
	last  int64 // the last tick advanced
}

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

func (w *wheel) unlink(tx *ftx) {
	if tx.wslot < 0 {
		return
	}
	if tx.wprev != nil {
		tx.wprev.wnext = tx.wnext
	} else {
		w.slots[tx.wslot] = tx.wnext
	}
	if tx.wnext != nil {
		tx.wnext.wprev = tx.wprev
	}
	tx.wprev, tx.wnext, tx.wslot = nil, nil, -1
}

// link puts tx in the slot of its earliest deadline (after the current tick), or nowhere if it has
// none. tick is the wheel's tick in the same unit as the deadlines.
func (w *wheel) link(tx *ftx, tick int64) {
	w.unlink(tx)
	d := tx.due()
	if d == 0 {
		return
	}
	at := (d + tick - 1) / tick
	if at <= w.last {
		at = w.last + 1
	}
	slot := int(at % wheelSlots)
	tx.wslot = slot
	tx.wnext = w.slots[slot]
	if tx.wnext != nil {
		tx.wnext.wprev = tx
	}
	w.slots[slot] = tx
}

// advance moves the wheel to the tick of now and appends to due every transaction with a deadline at
// or before now, unlinked.
func (w *wheel) advance(now, tick int64, due []*ftx) []*ftx {
	cur := now / tick
	if cur-w.last > wheelSlots {
		w.last = cur - wheelSlots
	}
	for w.last < cur {
		w.last++
		for tx := w.slots[w.last%wheelSlots]; tx != nil; {
			next := tx.wnext
			if d := tx.due(); d != 0 && d <= now {
				w.unlink(tx)
				due = append(due, tx)
			}
			tx = next
		}
	}
	return due
}
