package web

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"sync"
	"time"

	"github.com/herald-ims/herald/core/content"
)

// tokenBytes is the token's entropy: 128 bits, 22 base64url characters.
const (
	tokenBytes = 16
	tokenLen   = 22
)

// newToken returns 128 random bits as unpadded base64url. crypto/rand.Read never fails (Go ≥ 1.24
// crashes the program instead), so there is no error to return.
func newToken() string {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validToken reports whether s has the shape newToken produces, so that junk never reaches the map.
func validToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// entry is one published page.
type entry struct {
	page    *content.Page
	callID  string
	expires time.Time // monotonic
	hdr     *pageHeaders
}

// pageHeaders are a page's per-coding header values, shared read-only by every entry of the page
// and every response (cap == len, so Header.Add copies). etag[c] is nil when the page has no Version.
type pageHeaders struct {
	etag   [numCodings][]string
	length [numCodings][]string
}

func newPageHeaders(p *content.Page) *pageHeaders {
	h := &pageHeaders{}
	for c, b := range [numCodings][]byte{p.Body, p.Gzip, p.Zstd} {
		h.length[c] = []string{strconv.Itoa(len(b))}[:1:1]
		if p.Version != "" {
			h.etag[c] = []string{`"` + p.Version + etagSuffix[c] + `"`}[:1:1]
		}
	}
	return h
}

// maxPageHeaders bounds the table's cache of pageHeaders by page Version; it is emptied when full.
const maxPageHeaders = 4096

// headersLocked returns p's header values: built once per page Version (a content address: one
// Version, one set of bodies) and kept while the cache has room, built afresh for a page without
// one. Every call publishes its cards' pages, mostly the same few: this saves a dozen allocations
// per publish.
func (t *table) headersLocked(p *content.Page) *pageHeaders {
	if p.Version == "" {
		return newPageHeaders(p)
	}
	if h := t.hdrs[p.Version]; h != nil {
		return h
	}
	if len(t.hdrs) >= maxPageHeaders || t.hdrs == nil {
		t.hdrs = make(map[string]*pageHeaders)
	}
	h := newPageHeaders(p)
	t.hdrs[p.Version] = h
	return h
}

// compactSlack is how many stale queue records the table tolerates beyond its live tokens.
const compactSlack = 1024

// expiry is a FIFO record; it is stale once its token was revoked.
type expiry struct {
	token   string
	expires time.Time
}

// table maps tokens to pages. All tokens share one TTL and the clock is monotonic, so the queue is
// ordered by expiry and sweeping pops from its head. Revoked tokens leave stale queue records that are
// skipped when popped and compacted away when they pile up.
type table struct {
	max int
	ttl time.Duration

	mu     sync.RWMutex
	byTok  map[string]*entry
	byCall map[string][]string // callID → its live tokens, for RevokeCall
	hdrs   map[string]*pageHeaders
	queue  []expiry
	head   int
	closed bool

	stats *counters
}

func newTable(maxTokens int, ttl time.Duration, st *counters) *table {
	return &table{max: maxTokens, ttl: ttl, byTok: make(map[string]*entry), byCall: make(map[string][]string), stats: st}
}

// add publishes p for callID at now.
func (t *table) add(p *content.Page, callID string, now time.Time) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return "", ErrClosed
	}
	if len(t.byTok) >= t.max {
		t.sweepLocked(now)
		if len(t.byTok) >= t.max {
			t.stats.refused.Add(1)
			return "", ErrFull
		}
	}
	tok := newToken()
	for t.byTok[tok] != nil { // 2^-128 per live token; the loop is for form's sake
		tok = newToken()
	}
	e := &entry{page: p, callID: callID, expires: now.Add(t.ttl), hdr: t.headersLocked(p)}
	t.byTok[tok] = e
	if callID != "" {
		t.byCall[callID] = append(t.byCall[callID], tok)
	}
	t.queue = append(t.queue, expiry{token: tok, expires: e.expires})
	// Every live token has one queue record; the rest were revoked (every call revokes its own at
	// teardown, long before its TTL). Compacting once they outnumber the live ones by compactSlack
	// keeps the queue in proportion to the live tokens, not to the publish rate × TTL (bounded
	// only by 2 × max_tokens before: 200,000 records, 13 MB, at 3,000 calls/s), at O(1) amortized.
	if len(t.queue)-t.head > 2*len(t.byTok)+compactSlack {
		t.compactLocked()
	}
	t.stats.published.Add(1)
	return tok, nil
}

// get returns the live entry for tok, or nil. Expired entries are never returned, swept or not.
func (t *table) get(tok string, now time.Time) (e *entry) {
	t.mu.RLock()
	e = t.byTok[tok]
	t.mu.RUnlock()
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	return e
}

// revoke removes tok; it reports whether tok was live.
func (t *table) revoke(tok string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byTok[tok]
	if e == nil {
		return false
	}
	t.removeLocked(tok, e)
	t.stats.revoked.Add(1)
	return true
}

// revokeCall removes every token of callID and returns how many there were.
func (t *table) revokeCall(callID string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	toks := t.byCall[callID]
	n := len(toks)
	for _, tok := range toks {
		delete(t.byTok, tok)
	}
	delete(t.byCall, callID)
	t.stats.revoked.Add(uint64(n))
	return n
}

// removeLocked deletes tok (whose entry is e) from both maps.
func (t *table) removeLocked(tok string, e *entry) {
	delete(t.byTok, tok)
	if e.callID == "" {
		return
	}
	toks := t.byCall[e.callID]
	for i, x := range toks {
		if x == tok {
			toks[i] = toks[len(toks)-1]
			toks = toks[:len(toks)-1]
			break
		}
	}
	if len(toks) == 0 {
		delete(t.byCall, e.callID)
	} else {
		t.byCall[e.callID] = toks
	}
}

// sweep drops every token expired at now and returns how many it dropped.
func (t *table) sweep(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sweepLocked(now)
}

func (t *table) sweepLocked(now time.Time) int {
	n := 0
	for t.head < len(t.queue) && !now.Before(t.queue[t.head].expires) {
		q := t.queue[t.head]
		t.queue[t.head] = expiry{} // let the token string go
		t.head++
		if e := t.byTok[q.token]; e != nil && e.expires.Equal(q.expires) {
			t.removeLocked(q.token, e)
			n++
		}
	}
	if t.head == len(t.queue) {
		t.queue, t.head = t.queue[:0], 0
	} else if t.head > 1024 && t.head > len(t.queue)/2 {
		k := copy(t.queue, t.queue[t.head:])
		clear(t.queue[k:])
		t.queue, t.head = t.queue[:k], 0
	}
	t.stats.expired.Add(uint64(n))
	return n
}

// compactLocked drops queue records whose token is gone.
func (t *table) compactLocked() {
	q := t.queue[:0]
	for _, r := range t.queue[t.head:] {
		if e := t.byTok[r.token]; e != nil && e.expires.Equal(r.expires) {
			q = append(q, r)
		}
	}
	clear(t.queue[len(q):])
	t.queue, t.head = q, 0
}

// close drops every token and refuses further adds.
func (t *table) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	clear(t.byTok)
	clear(t.byCall)
	t.queue, t.head = nil, 0
}

// len returns the number of tokens held (expired ones included until swept).
func (t *table) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byTok)
}
