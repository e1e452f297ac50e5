package profile

import (
	"container/list"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CapCache remembers, per canonical identity, whether the subscriber's terminal took Herald's
// early-dialog pushes (Profile.PushCapable, learned instead of provisioned): yes when a callee's 18x
// or 2xx answered the early-session offer, when a caller accepted the UPDATE's m=message line, or
// when a terminal fetched its page; no when a terminal refused them. An entry lives TTL from when
// it was last learned; beyond Size entries the least recently learned or read one is dropped.
//
// It is safe for concurrent use. A nil *CapCache, or one of size 0, knows nothing and learns
// nothing.
type CapCache struct {
	size int
	ttl  time.Duration
	now  func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element
	lru   list.List // front: most recently learned or read

	// Stats counts what the cache saw (herald_sip_capability_* on /metrics).
	Stats CapStats
}

// CapStats are a CapCache's counters.
type CapStats struct {
	Hits, Misses     atomic.Uint64 // lookups that found a live entry, or none
	LearnedCapable   atomic.Uint64 // Learn(key, true) calls
	LearnedIncapable atomic.Uint64 // Learn(key, false) calls
	Expired, Evicted atomic.Uint64 // entries dropped at their TTL, or for room
}

type capEntry struct {
	key     string
	capable bool
	until   time.Time
}

// NewCapCache returns a cache of at most size entries, each valid for ttl. now is the clock (nil:
// time.Now); tests inject their own.
func NewCapCache(size int, ttl time.Duration, now func() time.Time) *CapCache {
	if now == nil {
		now = time.Now
	}
	return &CapCache{size: size, ttl: ttl, now: now, items: make(map[string]*list.Element)}
}

// Lookup reports what was learned about key's terminal: known false when nothing (or only an
// expired entry) is held.
func (c *CapCache) Lookup(key string) (capable, known bool) {
	if c == nil || c.size <= 0 || key == "" {
		return false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		c.Stats.Misses.Add(1)
		return false, false
	}
	e := el.Value.(*capEntry)
	if !c.now().Before(e.until) {
		c.lru.Remove(el)
		delete(c.items, key)
		c.Stats.Expired.Add(1)
		c.Stats.Misses.Add(1)
		return false, false
	}
	c.lru.MoveToFront(el)
	c.Stats.Hits.Add(1)
	return e.capable, true
}

// Learn records what key's terminal just showed; it replaces what was known and restarts the TTL.
func (c *CapCache) Learn(key string, capable bool) {
	if c == nil || c.size <= 0 || key == "" {
		return
	}
	if capable {
		c.Stats.LearnedCapable.Add(1)
	} else {
		c.Stats.LearnedIncapable.Add(1)
	}
	until := c.now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*capEntry)
		e.capable, e.until = capable, until
		c.lru.MoveToFront(el)
		return
	}
	for c.lru.Len() >= c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*capEntry).key)
		c.Stats.Evicted.Add(1)
	}
	// A copy: the key may be a piece of a SIP message (a tel: number taken from P-Asserted-Identity
	// as it is), which would keep the message's whole header text live as long as the lesson.
	key = strings.Clone(key)
	c.items[key] = c.lru.PushFront(&capEntry{key: key, capable: capable, until: until})
}

// Len is the number of entries held (expired ones included until they are looked up or evicted).
func (c *CapCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
