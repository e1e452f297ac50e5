package sipfast

// retained.go: the finished transactions the engine keeps 64·T1 for retransmissions, compacted.
//
// At a sustained call rate R the engine holds R × 64·T1 finished transactions: an INVITE answered
// 2xx (RFC 6026 accepted, Timer L) and a BYE or INFO answered (RFC 3261 §17.2.2 completed, Timer J)
// per plain call. Each is moved out of its Tx, out of the tables keyed by strings and out of the
// wheel (Engine.compact) into retained: one record of bytes per transaction, appended to an arena of
// slabs. Every record lives 64·T1 from when it was written, so records expire in the order they
// were written: the oldest is at the head of the arena, and a slab is released whole once the head
// passed it. Nothing in the arena or in its index is a pointer: the collector neither scans the
// records nor counts them as objects.
//
// A record is found by its key, a 64-bit hash of its Call-ID (and the CSeq number for a
// non-INVITE), through an open-addressing index of 32-bit positions (4 bytes a slot, at most half
// full), and is then verified against the message in full, so a collision never misroutes: a
// request must carry the record's branch and sent-by (RFC 3261 §17.2.3), a response Herald's branch
// with the record's transaction id (§17.1.3), an ACK the record's Call-ID, CSeq number and To tag.
// A transaction whose key is in use (another call with the same Call-ID within 64·T1, or a hash
// collision) stays a Tx in the tables as before; lookups try the tables first.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/maphash"
	"net/netip"
)

const (
	retSlab = 64 << 10    // bytes per slab of the arena; a slab's first byte is never a record's
	retMax  = retSlab / 4 // the largest record the arena takes; a larger transaction stays a Tx
	retSpan = 1 << 31     // the arena's span from head to tail stays under it (positions are 32-bit)
	retMin  = 1 << 10     // the smallest index
)

// Record kinds (the record's first byte).
const (
	recInvite    = 1 + iota // an INVITE answered 2xx (RFC 6026 accepted)
	recNonInvite            // a BYE or INFO answered (Timer J)
	recSkip                 // not a record: the rest of the slab is unused
	recV6        = 0x80     // flag: the upstream address is IPv6 (16 bytes, else 4)
	recViaKey    = 0x40     // flag (non-INVITE): the key is the final response's first Via (viaKeyIs)
)

// A record, little-endian, at its position in the arena:
//
//	0      kind (| recV6)        1      index of the socket in Engine.Conns
//	2..3   upstream port         4..11  end (Tx.end: Timer L or J)
//	12..19 index key             20..27 Herald's transaction id (its branch, BranchPrefix)
//	28..   upstream address (4 or 16 bytes)
//	INVITE: CSeq number (4), lengths of the server transaction key, Call-ID and the 2xx's To tag (1
//	each), then those bytes;
//	non-INVITE: length of the server transaction key (1; 0 with recViaKey), of the final response
//	(2), then those bytes.
const recHead = 28

// rec is a record as read from the arena; its byte slices point into the arena, whose bytes are
// never written again once a record is in (a slab is only dropped), so they may be sent after the
// engine's lock is released.
type rec struct {
	kind   byte
	conn   int
	up     netip.AddrPort
	end    int64
	key    uint64
	id     uint64
	cseq   uint32
	txKey  []byte // the upstream request's branch and sent-by (fmsg.txKey); non-INVITE: or viaKey
	callID []byte // INVITE
	okTag  []byte // INVITE: the To tag of the 2xx relayed upstream
	res    []byte // non-INVITE: the final response sent upstream
	viaKey bool   // non-INVITE: txKey is res's first Via (viaKeyIs), not stored
	size   int
}

// is reports whether x is the server transaction whose key (fmsg.txKey) is key.
func (x *rec) is(key []byte) bool {
	if x.viaKey {
		return viaKeyIs(x.res, key)
	}
	return bytes.Equal(x.txKey, key)
}

// retained is the arena of records and its index. Under Engine.mu.
type retained struct {
	seed maphash.Seed
	mask uint64 // applied to every key: all ones; tests narrow it to force collisions
	// idx is the index: linear probing from key mod len(idx), each slot a record's position mod
	// 2^32 (never 0: no record starts a slab), 0 when empty; len(idx) ≥ 2n, a power of two.
	idx   []uint32
	slabs [][]byte // slabs first, first+1, ... (position / retSlab)
	first uint64
	head  uint64 // position of the oldest record
	tail  uint64 // where the next record goes
	n     int    // records held
}

func newRetained(seed maphash.Seed) retained {
	return retained{seed: seed, mask: ^uint64(0), idx: make([]uint32, retMin)}
}

// pos is the position whose low 32 bits are p (every record is within retSpan of the head).
func (r *retained) pos(p uint32) uint64 { return r.head + uint64(p-uint32(r.head)) }

// keyAt is the key of the record at pos.
func (r *retained) keyAt(pos uint64) uint64 {
	return binary.LittleEndian.Uint64(r.slab(pos)[pos%retSlab+12:])
}

// slot is the index slot of key: its record's, or the empty one where it would go.
func (r *retained) slot(key uint64) int {
	m := uint64(len(r.idx) - 1)
	i := key & m
	for r.idx[i] != 0 && r.keyAt(r.pos(r.idx[i])) != key {
		i = (i + 1) & m
	}
	return int(i)
}

// unindex empties slot i, moving back the entries after it whose probe passed it.
func (r *retained) unindex(i int) {
	m := len(r.idx) - 1
	for j := (i + 1) & m; r.idx[j] != 0; j = (j + 1) & m {
		home := int(r.keyAt(r.pos(r.idx[j]))) & m
		if (j-home)&m >= (j-i)&m { // home is at or before i, cyclically: the entry may move to i
			r.idx[i] = r.idx[j]
			i = j
		}
	}
	r.idx[i] = 0
}

// resize rebuilds the index with n slots.
func (r *retained) resize(n int) {
	old := r.idx
	r.idx = make([]uint32, n)
	for _, p := range old {
		if p != 0 {
			r.idx[r.slot(r.keyAt(r.pos(p)))] = p
		}
	}
}

// key is the index key of a record: kind, Call-ID and (non-INVITE) CSeq number.
func (r *retained) key(kind byte, callID []byte, cseq uint32) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	var b [5]byte
	b[0] = kind
	binary.LittleEndian.PutUint32(b[1:], cseq)
	h.Write(b[:])
	h.Write(callID)
	return h.Sum64() & r.mask
}

func (r *retained) slab(pos uint64) []byte { return r.slabs[pos/retSlab-r.first] }

// alloc is room for a record of size bytes at the tail (size ≤ retMax).
func (r *retained) alloc(size int) (b []byte, pos uint64) {
	off := int(r.tail % retSlab)
	if off != 0 && off+size > retSlab {
		r.slab(r.tail)[off] = recSkip
		r.tail += uint64(retSlab - off)
		off = 0
	}
	if off == 0 {
		if r.tail/retSlab-r.first == uint64(len(r.slabs)) {
			r.slabs = append(r.slabs, make([]byte, retSlab))
		}
		r.tail++ // the slab's first byte: no position is 0 mod 2^32
		off = 1
	}
	pos = r.tail
	r.tail += uint64(size)
	return r.slab(pos)[off : off+size], pos
}

// read is the record at pos.
func (r *retained) read(pos uint64) rec {
	b := r.slab(pos)[pos%retSlab:]
	x := rec{kind: b[0] &^ (recV6 | recViaKey), conn: int(b[1]), end: int64(binary.LittleEndian.Uint64(b[4:])),
		key: binary.LittleEndian.Uint64(b[12:]), id: binary.LittleEndian.Uint64(b[20:])}
	port := binary.LittleEndian.Uint16(b[2:])
	i := recHead
	if b[0]&recV6 != 0 {
		x.up = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[i:i+16])), port)
		i += 16
	} else {
		x.up = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[i:i+4])), port)
		i += 4
	}
	take := func(n int) []byte {
		s := b[i : i+n : i+n]
		i += n
		return s
	}
	if x.kind == recInvite {
		x.cseq = binary.LittleEndian.Uint32(b[i:])
		kl, cl, tl := int(b[i+4]), int(b[i+5]), int(b[i+6])
		i += 7
		x.txKey, x.callID, x.okTag = take(kl), take(cl), take(tl)
	} else {
		kl, rl := int(b[i]), int(binary.LittleEndian.Uint16(b[i+1:]))
		i += 3
		x.txKey, x.res, x.viaKey = take(kl), take(rl), b[0]&recViaKey != 0
	}
	x.size = i
	return x
}

// find is the record indexed under key.
func (r *retained) find(key uint64) (rec, bool) {
	p := r.idx[r.slot(key)]
	if p == 0 {
		return rec{}, false
	}
	return r.read(r.pos(p)), true
}

// put writes the record of tx (kind, index key, socket index), reporting false, with nothing
// written, when it cannot: a key in use, a field over its length, a scoped address.
func (r *retained) put(tx *Tx, kind byte, key uint64, conn int) bool {
	if r.idx[r.slot(key)] != 0 || conn > 255 || tx.up.Addr().Zone() != "" || len(tx.branch) > 255 ||
		r.tail-r.head > retSpan-2*retSlab {
		return false
	}
	addr := tx.up.Addr()
	viaKey := false
	size := recHead + 4
	if !addr.Is4() {
		size += 12
	}
	if kind == recInvite {
		if len(tx.callID) > 255 || len(tx.okTag) > 255 {
			return false
		}
		size += 7 + len(tx.branch) + len(tx.callID) + len(tx.okTag)
	} else {
		viaKey = viaKeyIs(tx.last, []byte(tx.branch))
		if !viaKey {
			size += len(tx.branch)
		}
		size += 3 + len(tx.last)
	}
	if size > retMax {
		return false
	}
	b, pos := r.alloc(size)
	b[0], b[1] = kind, byte(conn)
	binary.LittleEndian.PutUint16(b[2:], tx.up.Port())
	binary.LittleEndian.PutUint64(b[4:], uint64(tx.end))
	binary.LittleEndian.PutUint64(b[12:], key)
	binary.LittleEndian.PutUint64(b[20:], tx.id)
	i := recHead
	if addr.Is4() {
		a := addr.As4()
		i += copy(b[i:], a[:])
	} else {
		b[0] |= recV6
		a := addr.As16()
		i += copy(b[i:], a[:])
	}
	if kind == recInvite {
		binary.LittleEndian.PutUint32(b[i:], tx.cseq)
		b[i+4], b[i+5], b[i+6] = byte(len(tx.branch)), byte(len(tx.callID)), byte(len(tx.okTag))
		i += 7
		i += copy(b[i:], tx.branch)
		i += copy(b[i:], tx.callID)
		copy(b[i:], tx.okTag)
	} else {
		binary.LittleEndian.PutUint16(b[i+1:], uint16(len(tx.last)))
		i += 3
		if viaKey {
			b[0] |= recViaKey
		} else {
			b[i-3] = byte(len(tx.branch))
			i += copy(b[i:], tx.branch)
		}
		copy(b[i:], tx.last)
	}
	if 2*(r.n+1) > len(r.idx) {
		r.resize(2 * len(r.idx))
	}
	r.idx[r.slot(key)] = uint32(pos)
	r.n++
	return true
}

// expire forgets the records whose end is at or before now (RFC 6026 Timer L, RFC 3261 Timer J),
// oldest first, and drops the slabs the head has passed. Records are written with end = now + 64·T1
// on a monotonic clock, so they expire in arena order.
func (r *retained) expire(now int64) {
	for r.head < r.tail {
		off := r.head % retSlab
		if off == 0 {
			r.head++ // a slab's first byte
			continue
		}
		if r.slab(r.head)[off] == recSkip {
			r.head += retSlab - off
			continue
		}
		x := r.read(r.head)
		if x.end > now {
			break
		}
		if i := r.slot(x.key); r.idx[i] == uint32(r.head) {
			r.unindex(i)
		}
		r.head += uint64(x.size)
		r.n--
	}
	if n := len(r.idx); n > retMin && 8*r.n < n {
		for n > retMin && 8*r.n < n {
			n /= 2
		}
		r.resize(n) // at most half full, as after a growth
	}
	for r.first < r.head/retSlab && len(r.slabs) > 0 {
		r.slabs[0] = nil
		r.slabs = r.slabs[1:]
		r.first++
	}
}

// compact moves tx, finished and now kept only for retransmissions (an INVITE answered 2xx and
// not cancelled; a non-INVITE answered), from the tables and the wheel into f.ret, reporting
// whether it did; if not, tx stays where it is. Under f.mu.
func (f *Engine) compact(tx *Tx) bool {
	conn := -1
	for i, c := range f.Conns() {
		if c == tx.conn {
			conn = i
			break
		}
	}
	if conn < 0 {
		return false
	}
	kind := byte(recNonInvite)
	if tx.invite {
		kind = recInvite
	}
	if !f.ret.put(tx, kind, tx.rkey, conn) {
		return false
	}
	f.w.Remove(&tx.wn)
	if tx.invite {
		if f.inv[tx.branch] == tx {
			delete(f.inv, tx.branch)
		}
		if f.dialogs[tx.callID] == tx {
			delete(f.dialogs, tx.callID)
		}
	} else if f.nonInv[tx.branch] == tx {
		delete(f.nonInv, tx.branch)
	}
	delete(f.out, tx.id)
	tx.lv, tx.compacted = nil, true
	return true
}

// retInvite is the record of the INVITE with Call-ID callID answered 2xx, if any.
func (f *Engine) retInvite(callID []byte) (rec, bool) {
	x, ok := f.ret.find(f.ret.key(recInvite, callID, 0))
	return x, ok && x.kind == recInvite
}

// retKey is the index key under which request m's server transaction would be retained (kind:
// recInvite or recNonInvite), computed once per request.
func (f *Engine) retKey(m *fmsg, kind byte) uint64 {
	if kind == recInvite {
		return f.ret.key(recInvite, m.value(hCallID), 0)
	}
	return f.ret.key(recNonInvite, m.value(hCallID), m.cseq)
}

// retRequest is the record of the server transaction of request m (its branch and sent-by) under
// key (retKey), if any. Under f.mu.
func (f *Engine) retRequest(m *fmsg, kind byte, key uint64) (rec, bool) {
	x, ok := f.ret.find(key)
	if !ok || x.kind != kind {
		return rec{}, false
	}
	var kb [160]byte
	return x, x.is(m.txKey(kb[:0]))
}

// retResponse is the record of the transaction with Herald's id id that response m answers, if
// any. Under f.mu.
func (f *Engine) retResponse(m *fmsg, id uint64) (rec, bool) {
	callID := m.value(hCallID)
	if x, ok := f.retInvite(callID); ok && x.id == id {
		return x, true
	}
	x, ok := f.ret.find(f.ret.key(recNonInvite, callID, m.cseq))
	return x, ok && x.kind == recNonInvite && x.id == id
}

// conn is the socket a record names.
func (f *Engine) connOf(x *rec) Conn { return f.Conns()[x.conn] }

// retTag is the To tag of Herald's 200 to a CANCEL of a retained INVITE (RFC 3261 §9.2): derived
// from the transaction's key, so a retransmitted CANCEL gets the same one.
func (f *Engine) retTag(txKey []byte) string {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString("cancel ")
	h.Write(txKey)
	var t [8]byte
	binary.LittleEndian.PutUint64(t[:], h.Sum64())
	return hex.EncodeToString(t[:])
}

// viaKeyIs reports whether the first Via value of the response res is SIP/2.0/UDP (or TCP) with the sent-by
// and the (first) branch parameter of key (fmsg.txKey: branch, a blank, sent-by). Neither a branch
// (a token) nor a sent-by (scanTopVia) holds a ';', so res names one key at most: a non-INVITE's
// record whose final response names the transaction's own key (RFC 3261 §8.2.6.2: a response
// copies the request's Via values) need not store the key, and is still matched exactly.
func viaKeyIs(res, key []byte) bool {
	branch, sentBy, ok := bytes.Cut(key, []byte(" "))
	if !ok {
		return false
	}
	for rest := res; ; {
		line, next, ok := bytes.Cut(rest, []byte("\r\n"))
		if !ok || len(line) == 0 {
			return false
		}
		rest = next
		name, v, ok := bytes.Cut(line, []byte(":"))
		if name = trimBlanks(name); !ok || !equalFold(name, "via") && !equalFold(name, "v") {
			continue
		}
		v = trimBlanks(v)
		if c := bytes.IndexByte(v, ','); c >= 0 {
			v = v[:c]
		}
		if !hasPrefixFold(v, "sip/2.0/udp ") && !hasPrefixFold(v, "sip/2.0/tcp ") {
			return false
		}
		v = v[viaPrefix:]
		if !bytes.HasPrefix(v, sentBy) || len(v) == len(sentBy) || v[len(sentBy)] != ';' {
			return false
		}
		_, b, ok := bytes.Cut(v, []byte(";branch="))
		if !ok {
			return false
		}
		if e := bytes.IndexByte(b, ';'); e >= 0 {
			b = b[:e]
		}
		return bytes.Equal(b, branch)
	}
}
