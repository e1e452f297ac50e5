package sip

// Herald patch (file added; see HERALD.md): the layer keeps an INVITE server transaction in RFC
// 6026's Accepted state as a key, not as the transaction.

import (
	"sync"
	"time"
	"weak"
)

// acceptedTick is the shortest wait between two expiry passes: Timer L ends up to this much late
// (RFC 6026 §8.7 sets it to 64·T1, 32 s; nothing observable hangs on its last 100 ms), and at a call
// rate R the layer wakes at most 1/acceptedTick times a second instead of running R timers.
const acceptedTick = 100 * time.Millisecond

// acceptedTx is an INVITE server transaction answered 2xx, as the layer keeps it until Timer L.
// In Accepted (RFC 6026 §7.1) a transaction absorbs a retransmitted INVITE, passes an ACK with its
// branch up, passes the TU's 2xx retransmissions to the transport and answers nothing itself; a
// CANCEL still gets its 200 (RFC 3261 §9.2). While the TU holds the transaction, tx leads to it and
// it behaves exactly as upstream's; once the TU has let go, nobody can read its ACKs or send its 2xx,
// and the entry is all that is left: the key absorbs the INVITE, conn and toTag answer the CANCEL,
// and conn's reference (taken when the transaction was made) is released at expiry. Upstream kept
// the whole transaction (its two channels, its Timer L and its closure) 64·T1 after every answered
// call: about 0.6 KB per call, 60 MB at 3,000 calls/s.
type acceptedTx struct {
	tx      weak.Pointer[ServerTx]
	conn    Connection
	toTag   string
	expires int64 // on the store's clock, see now
}

type acceptedKey struct {
	key     string
	expires int64
}

// acceptedStore holds the layer's accepted transactions. Every entry lives the same Timer L, so
// the queue is in expiry order (but for a change of Timer_L while entries wait: those end late by
// at most the change) and one timer serves them all. Lock order: the server store's lock, then mu.
type acceptedStore struct {
	mu     sync.Mutex
	items  map[string]acceptedTx
	queue  []acceptedKey
	head   int
	timer  *time.Timer
	armed  bool
	closed bool
	epoch  time.Time
}

func (s *acceptedStore) now() int64 { return int64(time.Since(s.epoch)) }

// get returns key's entry. Under the server store's lock it tells, with that store, whether a
// transaction holds key (serverTxAccepted moves one under both locks).
func (s *acceptedStore) get(key string) (acceptedTx, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[key]
	return e, ok
}

// serverTxAccepted takes tx, just answered 2xx, out of the server store into the accepted store.
// It reports false, and the transaction runs its own Timer L as upstream's does, when tx is not the
// store's (a transaction made with NewServerTx outside the layer) or the layer is closed. Called
// inside tx's FSM (fsmMu held), as delete calls serverTxTerminate.
func (txl *TransactionLayer) serverTxAccepted(tx *ServerTx) bool {
	tx.mu.Lock()
	tag := tx.toTag
	tx.mu.Unlock()

	var old acceptedTx
	if txl.accepted.timer == nil { // a layer not made by NewTransactionLayer
		return false
	}
	txl.serverTransactions.lock()
	if cur, ok := txl.serverTransactions.items[tx.key]; !ok || cur != tx {
		txl.serverTransactions.unlock()
		return false
	}
	s := &txl.accepted
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		txl.serverTransactions.unlock()
		return false
	}
	delete(txl.serverTransactions.items, tx.key)
	// A lookup finds an entry before it makes a transaction, so an entry for this key is left
	// only by a transaction made outside serverTxRequest; it ends now, not at its Timer L.
	old, replaced := s.items[tx.key]
	exp := s.now() + int64(Timer_L)
	s.items[tx.key] = acceptedTx{tx: weak.Make(tx), conn: tx.conn, toTag: tag, expires: exp}
	s.queue = append(s.queue, acceptedKey{key: tx.key, expires: exp})
	if !s.armed {
		s.armLocked(exp)
	}
	s.mu.Unlock()
	txl.serverTransactions.unlock()
	if replaced {
		endAccepted(old)
	}
	return true
}

// armLocked sets the timer for an entry expiring at exp. The caller holds mu.
func (s *acceptedStore) armLocked(exp int64) {
	d := time.Duration(exp - s.now())
	if d < acceptedTick {
		d = acceptedTick
	}
	s.armed = true
	s.timer.Reset(d)
}

// expireAccepted ends every entry whose Timer L has fired. A transaction the TU still holds gets its
// Timer L input (Terminated: Done closes, OnTerminate runs, and its delete drops the entry and
// releases conn); for one the TU let go the entry is dropped here and conn released.
func (txl *TransactionLayer) expireAccepted() {
	s := &txl.accepted
	var ends []acceptedTx
	s.mu.Lock()
	s.armed = false
	now := s.now()
	for s.head < len(s.queue) {
		k := s.queue[s.head]
		if k.expires > now {
			break
		}
		s.queue[s.head] = acceptedKey{}
		s.head++
		e, ok := s.items[k.key]
		if !ok || e.expires != k.expires {
			continue // ended early (Terminate) or replaced
		}
		if e.tx.Value() == nil {
			delete(s.items, k.key)
		}
		ends = append(ends, e)
	}
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	} else if s.head > len(s.queue)/2 && s.head > 1024 {
		n := copy(s.queue, s.queue[s.head:])
		clear(s.queue[n:])
		s.queue, s.head = s.queue[:n], 0
	}
	if s.head < len(s.queue) && !s.closed {
		s.armLocked(s.queue[s.head].expires)
	}
	s.mu.Unlock()
	for _, e := range ends {
		endAccepted(e)
	}
}

// endAccepted ends e's transaction: its Timer L input when the TU still holds it, else conn's
// reference released.
func endAccepted(e acceptedTx) {
	if tx := e.tx.Value(); tx != nil {
		tx.spinFsm(server_input_timer_l)
		return
	}
	if e.conn != nil {
		e.conn.TryClose()
	}
}

// acceptedTerminated drops key's entry when its transaction is the one that terminated (delete
// marks it closed before it calls OnTerminate) and reports whether it did.
func (txl *TransactionLayer) acceptedTerminated(key string) bool {
	s := &txl.accepted
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[key]
	if !ok {
		return false
	}
	tx := e.tx.Value()
	if tx == nil {
		return false
	}
	tx.mu.Lock()
	closed := tx.closed
	tx.mu.Unlock()
	if closed {
		delete(s.items, key)
	}
	return closed
}

// acceptedRequest handles req for key, whose accepted entry is e: the transaction's Receive while
// the TU holds it, else the INVITE is absorbed and anything else (an ACK with the INVITE's branch,
// which only the TU could have read) dropped.
func (txl *TransactionLayer) acceptedRequest(req *Request, key string, e acceptedTx) {
	if tx := e.tx.Value(); tx != nil {
		if err := tx.Receive(req); err != nil {
			txl.log.Debug("accepted transaction refused a request", "error", err, "tx", key)
		}
		return
	}
	txl.log.Debug("request absorbed by an accepted transaction", "method", string(req.Method), "tx", key)
}

// acceptedCancel answers a CANCEL whose INVITE is accepted and no longer held by the TU: 200 with
// the INVITE's To tag (RFC 3261 §9.2: the CANCEL has no effect on a request already answered, but
// it is answered itself). It reports whether such an entry was there.
func (txl *TransactionLayer) acceptedCancel(req *Request, key string) (bool, error) {
	e, ok := txl.accepted.get(key)
	if !ok || e.conn == nil {
		return false, nil
	}
	res := NewResponseFromRequest(req, StatusOK, "OK", nil)
	if to := res.To(); e.toTag != "" && to != nil {
		to.Params.Add("tag", e.toTag)
	}
	return true, e.conn.WriteMsg(res)
}

// acceptedServerTx returns the transaction of key's accepted entry while the TU still holds it.
func (txl *TransactionLayer) acceptedServerTx(key string) (*ServerTx, bool) {
	e, ok := txl.accepted.get(key)
	if !ok {
		return nil, false
	}
	tx := e.tx.Value()
	return tx, tx != nil
}

// closeAccepted ends every entry, as Close terminates every transaction.
func (txl *TransactionLayer) closeAccepted() {
	s := &txl.accepted
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	ends := make([]acceptedTx, 0, len(s.items))
	for k, e := range s.items {
		if e.tx.Value() == nil {
			delete(s.items, k)
		}
		ends = append(ends, e)
	}
	s.queue, s.head = nil, 0
	s.mu.Unlock()
	for _, e := range ends {
		if tx := e.tx.Value(); tx != nil {
			tx.Terminate()
		} else if e.conn != nil {
			e.conn.TryClose()
		}
	}
}

// acceptedLen is the number of accepted entries (tests).
func (txl *TransactionLayer) acceptedLen() int {
	s := &txl.accepted
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}
