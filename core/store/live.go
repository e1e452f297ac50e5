package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/singleflight"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/profile"
)

// DefaultCacheBytes is the default byte bound of Live's page and clip cache.
const DefaultCacheBytes = 256 << 20

// DefaultMissLoads is how many cache misses Live loads from the file at once by default.
const DefaultMissLoads = 64

// LiveOptions configure a Live index.
type LiveOptions struct {
	// CacheBytes bounds the pages (identity, gzip and zstd bytes) and clips (framed media) the cache
	// holds; DefaultCacheBytes when 0.
	CacheBytes int64
	// MissLoads bounds the cache misses loaded from the file at the same time (DefaultMissLoads when
	// 0). A call that misses while all are busy proceeds without cards and ringback (plain proxying)
	// and is counted as misses{result="plain"}.
	MissLoads int
	// Logger receives missing-version and load errors (rate-limited); slog.Default() when nil.
	Logger *slog.Logger
	// LoadTimeout bounds one miss's load from a networked Source (0: no bound, for Bolt, whose reads
	// are memory-mapped). A load that runs out is a miss served plainly (misses{result="error"}).
	LoadTimeout time.Duration
	// Available, when set, is asked before a miss loads: false (the Source's backend is known to be
	// gone) serves the miss plainly at once, counted as misses{result="store_down"}, so a call never
	// waits on a backend that is down.
	Available func() bool
}

// Source is what Live reads page and clip versions from on a cache miss: a Bolt store or a
// networked store such as netio/redisstore.
type Source interface {
	GetPage(ctx context.Context, ref string) (*content.Page, error)
	GetClip(ctx context.Context, ref string) (Clip, error)
}

// Live is the call path's view of a Bolt store: an in-memory index of every canonical identity and
// a byte-bounded cache of materialised profiles (their pages and ringback clip). It implements
// profile.Store for core/signal.
//
// Lookup never reads the store file on a hit: it takes a read lock on the identity map and loads
// an atomic pointer (0 allocations). A hit returns an immutable *profile.Profile; a call keeps the
// one it got, so a later write never changes what a ringing call sends.
//
// A miss (the subscriber is indexed but its pages were evicted or not yet warmed) loads the pages
// and clip from the file on the calling goroutine: bbolt reads are memory-mapped and take no write
// lock, concurrent misses of the same subscriber share one load (singleflight), and at most
// MissLoads loads run at once. When all are busy, or the load fails, the call gets the profile
// without cards and ringback (it is proxied plainly) and the miss is counted.
//
// Every write through the store is applied to the index after its commit and before the writer is
// answered (Options.OnCommit), so the next Lookup on this node sees it; a written subscriber is
// materialised at once (the pages it names were just uploaded, so they are hot).
type Live struct {
	st   Source
	opts LiveOptions
	log  *slog.Logger

	mu     sync.RWMutex
	byKey  map[string]*entry // canonical identity → current entry
	n      int               // subscribers (entries) in byKey
	intern map[string]string // references at start-up, shared by the entries naming them

	cmu   sync.Mutex // guards items, ring, bytes and entry.slot/prof changes
	items map[string]*item
	ring  []*entry // materialised entries holding cache items (CLOCK order)
	hand  int
	bytes int64

	sem chan struct{}
	sf  singleflight.Group

	stats LiveStats
	warn  atomic.Int64 // unix seconds of the last rate-limited warning
}

// LiveStats are Live's counters (exported as herald_store_* metrics).
type LiveStats struct {
	MissLoaded  atomic.Uint64 // misses served by loading from the file
	MissPlain   atomic.Uint64 // misses served without cards (all loaders busy)
	MissError   atomic.Uint64 // misses whose versions could not be loaded
	MissDown    atomic.Uint64 // lookups served plainly because the Source's backend was down (LiveOptions.Available): uncached versions, or an identity not in the index
	Evictions   atomic.Uint64 // materialised profiles dropped to stay under CacheBytes
	ClipMissing atomic.Uint64 // ringback names that resolved to no clip at call time
}

// entry is one subscriber in the index (about 350 bytes with its map slots at 1M subscribers, see
// BenchmarkStartup1M).
type entry struct {
	id             string
	rev            uint64
	caller, callee string                          // page references ("" none)
	base           profile.Profile                 // without cards; Ringback as stored
	prof           atomic.Pointer[profile.Profile] // materialised (&base when nothing to cache); nil when evicted
	used           atomic.Bool                     // CLOCK reference bit
	slot           int32                           // index in ring, -1 when not there
	dead           bool                            // replaced or deleted (guarded by cmu)
}

// item is one cached page or clip.
type item struct {
	key   string
	page  *content.Page
	clip  *media.Clip
	size  int64
	users int
}

// NewLive builds the index from every subscriber in st, warms the cache up to CacheBytes and
// subscribes to st's commits. Call it before anything writes to st.
func NewLive(st *Bolt, opts LiveOptions) (*Live, error) {
	l := newLive(st, opts)
	l.mu.Lock()
	defer l.mu.Unlock()
	err := st.view(context.Background(), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubs)
		n := b.Stats().KeyN
		l.byKey = make(map[string]*entry, 2*n)
		return b.ForEach(func(_, v []byte) error {
			e, err := l.decodeEntry(v)
			if err != nil {
				return err
			}
			l.add(e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: index: %w", err)
	}
	apply := l.apply
	st.onCommit.Store(&apply)
	l.warm()
	return l, nil
}

func newLive(src Source, opts LiveOptions) *Live {
	if opts.CacheBytes == 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	if opts.MissLoads <= 0 {
		opts.MissLoads = DefaultMissLoads
	}
	l := &Live{st: src, opts: opts, log: opts.Logger, items: map[string]*item{}, intern: map[string]string{}, sem: make(chan struct{}, opts.MissLoads)}
	if l.log == nil {
		l.log = slog.Default()
	}
	l.byKey = map[string]*entry{}
	return l
}

// NewLiveFrom builds an index over a Source whose writes are not Bolt's (netio/redisstore): it
// starts with subs and warms the cache from src; the owner then keeps it current with Apply (each
// write, in revision order) and Resync (the whole set, after a lost notification stream).
func NewLiveFrom(src Source, subs []Subscriber, opts LiveOptions) *Live {
	l := newLive(src, opts)
	l.mu.Lock()
	for i := range subs {
		if len(subs[i].Identities) > 0 {
			l.add(l.newEntry(&subs[i]))
		}
	}
	l.mu.Unlock()
	l.mu.RLock()
	l.warm()
	l.mu.RUnlock()
	return l
}

// Apply applies subscriber writes in revision order, as Bolt's commits are (Options.OnCommit). A
// change whose revision the index already holds or has passed (a duplicate delivered after a
// Resync) changes nothing. It returns once the next Lookup sees them.
func (l *Live) Apply(changes []Change) { l.apply(changes) }

// Resync makes the index hold exactly subs (the whole store, read after a lost notification
// stream): new and changed subscribers are applied, those no longer in subs are removed, and
// unchanged ones keep their cached versions. It returns how many subscribers changed.
func (l *Live) Resync(subs []Subscriber) int {
	l.mu.RLock()
	cur := make(map[string]*entry, l.n)
	for k, e := range l.byKey {
		if k == e.base.Key {
			cur[e.id] = e
		}
	}
	l.mu.RUnlock()
	var changes []Change
	seen := make(map[string]bool, len(subs))
	for _, s := range subs {
		if len(s.Identities) == 0 {
			continue
		}
		seen[s.ID] = true
		e := cur[s.ID]
		if e != nil && e.rev == s.Revision {
			continue
		}
		c := Change{Sub: s}
		if e != nil {
			o := e.subscriber()
			c.Old = &o
		}
		changes = append(changes, c)
	}
	for id, e := range cur {
		if !seen[id] {
			o := e.subscriber()
			changes = append(changes, Change{Sub: o, Old: &o, Deleted: true})
		}
	}
	l.apply(changes)
	return len(changes)
}

// subscriber is the record an entry indexes, as far as apply needs it (ID, identities, revision).
func (e *entry) subscriber() Subscriber {
	ids := append([]string{e.base.Key}, e.base.Identities...)
	return Subscriber{ID: e.id, Identities: ids, Revision: e.rev}
}

// newEntry builds the entry of sub. l.mu must be held for writing (it interns references).
func (l *Live) newEntry(sub *Subscriber) *entry {
	e := &entry{id: sub.ID, rev: sub.Revision, caller: l.internStr(sub.CallerCard), callee: l.internStr(sub.CalleeCard), slot: -1}
	ids := sub.Identities
	e.base = profile.Profile{Key: ids[0], Identities: ids[1:len(ids):len(ids)], Ringback: l.internStr(sub.Ringback), PushCapable: sub.PushCapable}
	if !e.needs() {
		e.prof.Store(&e.base)
	}
	return e
}

// decodeEntry decodes a stored subscriber straight into an entry: the ID and identities share one
// string allocation and references are interned. l.mu must be held for writing.
func (l *Live) decodeEntry(b []byte) (*entry, error) {
	d := dec{b: b}
	if d.byte1() != subFormat {
		return nil, fmt.Errorf("%w: subscriber format", errCorrupt)
	}
	rev := d.uvarint()
	id := d.bytes() // ID and identities: measured, then copied into one string
	n := d.uvarint()
	if d.err != nil || n == 0 || n > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: subscriber", errCorrupt)
	}
	idsAt := d.b
	total := len(id)
	for range n {
		total += len(d.bytes())
	}
	caller, callee, rbk := d.bytes(), d.bytes(), d.bytes()
	flags := d.byte1()
	if d.err != nil {
		return nil, fmt.Errorf("%w: subscriber", d.err)
	}
	var sb strings.Builder
	sb.Grow(total)
	sb.Write(id)
	d2 := dec{b: idsAt}
	for range n {
		sb.Write(d2.bytes())
	}
	all := sb.String()
	ids := make([]string, n)
	off := len(id)
	d2 = dec{b: idsAt}
	for i := range ids {
		k := len(d2.bytes())
		ids[i] = all[off : off+k]
		off += k
	}
	e := &entry{id: all[:len(id)], rev: rev, caller: l.internBytes(caller), callee: l.internBytes(callee), slot: -1}
	e.base = profile.Profile{Key: ids[0], Identities: ids[1:n:n], Ringback: l.internBytes(rbk), PushCapable: flags&1 != 0}
	if !e.needs() {
		e.prof.Store(&e.base)
	}
	return e, nil
}

func (l *Live) internBytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := l.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	l.intern[s] = s
	return s
}

// internStr shares an interned copy of s when there is one. It adds nothing: the table holds the
// references of the start-up build, so writes over a long uptime do not grow it.
func (l *Live) internStr(s string) string {
	if v, ok := l.intern[s]; ok {
		return v
	}
	return s
}

// add indexes e under its identities. l.mu must be held for writing.
func (l *Live) add(e *entry) {
	l.byKey[e.base.Key] = e
	for _, k := range e.base.Identities {
		l.byKey[k] = e
	}
	l.n++
}

// clip returns the entry's ringback clip reference, "" when its ringback is none or a name.
func (e *entry) clip() string {
	if IsRef(e.base.Ringback) {
		return e.base.Ringback
	}
	return ""
}

// needs reports whether the entry's profile needs cached versions.
func (e *entry) needs() bool { return e.caller != "" || e.callee != "" || e.clip() != "" }

// keys returns the cache keys of the entry's versions ('p' or 'c' + reference).
func (e *entry) keys() []string {
	keys := make([]string, 0, 3)
	for _, r := range []string{e.caller, e.callee} {
		if r != "" {
			keys = append(keys, "p"+r)
		}
	}
	if c := e.clip(); c != "" {
		keys = append(keys, "c"+c)
	}
	return keys
}

// warm materialises subscribers until the cache is full (map order: an arbitrary sample).
func (l *Live) warm() {
	for k, e := range l.byKey {
		if k != e.base.Key || !e.needs() { // each entry once, under its primary identity
			continue
		}
		l.cmu.Lock()
		full := l.bytes >= l.opts.CacheBytes
		l.cmu.Unlock()
		if full {
			return
		}
		if _, err := l.materialise(e, false); err != nil {
			l.warnf("store: warm %s: %v", e.id, err)
		}
	}
}

// Lookup implements profile.Store. See Live for hit and miss behaviour.
func (l *Live) Lookup(key string) (*profile.Profile, bool) {
	l.mu.RLock()
	e := l.byKey[key]
	l.mu.RUnlock()
	if e == nil {
		if l.opts.Available != nil && !l.opts.Available() {
			// The backend is down (or was never reached): this may be a subscriber written meanwhile
			// that this node cannot know of. Proxied plainly like any unknown identity, and counted.
			l.stats.MissDown.Add(1)
		}
		return nil, false
	}
	if p := e.prof.Load(); p != nil {
		if !e.used.Load() {
			e.used.Store(true)
		}
		return p, true
	}
	return l.miss(e), true
}

func (l *Live) miss(e *entry) *profile.Profile {
	if l.opts.Available != nil && !l.opts.Available() {
		l.stats.MissDown.Add(1)
		return &e.base
	}
	select {
	case l.sem <- struct{}{}:
	default:
		l.stats.MissPlain.Add(1)
		return &e.base
	}
	defer func() { <-l.sem }()
	v, err, _ := l.sf.Do(e.id+"@"+strconv.FormatUint(e.rev, 10), func() (any, error) { return l.materialise(e, true) })
	if err != nil {
		l.stats.MissError.Add(1)
		l.warnf("store: load %s: %v", e.id, err)
		return &e.base
	}
	l.stats.MissLoaded.Add(1)
	return v.(*profile.Profile)
}

// Clip resolves a ringback clip reference to its framed clip, or nil (counted in ClipMissing).
// Call-path safe: it reads the cache only, except on a miss, which loads like Lookup's.
func (l *Live) Clip(ref string) *media.Clip {
	if !IsRef(ref) {
		l.stats.ClipMissing.Add(1)
		l.warnf("store: ringback %q names no clip (neither built in nor stored)", ref)
		return nil
	}
	l.cmu.Lock()
	it := l.items["c"+ref]
	l.cmu.Unlock()
	if it != nil {
		return it.clip
	}
	if l.opts.Available != nil && !l.opts.Available() {
		l.stats.MissDown.Add(1)
		l.stats.ClipMissing.Add(1)
		return nil
	}
	select {
	case l.sem <- struct{}{}:
	default:
		l.stats.MissPlain.Add(1)
		l.stats.ClipMissing.Add(1)
		l.warnf("store: ringback clip %s not cached and every loader busy", ref)
		return nil
	}
	defer func() { <-l.sem }()
	ctx, cancel := l.loadCtx()
	defer cancel()
	c, err := l.loadClip(ctx, ref)
	if err != nil {
		l.stats.ClipMissing.Add(1)
		l.warnf("store: ringback clip %s: %v", ref, err)
		return nil
	}
	return c // not cached: it was evicted, or no subscriber holds it
}

// loadCtx bounds one load by LiveOptions.LoadTimeout.
func (l *Live) loadCtx() (context.Context, context.CancelFunc) {
	if l.opts.LoadTimeout > 0 {
		return context.WithTimeout(context.Background(), l.opts.LoadTimeout)
	}
	return context.Background(), func() {}
}

// Stats returns the counters.
func (l *Live) Stats() *LiveStats { return &l.stats }

// CacheBytes returns the bytes the cache holds now.
func (l *Live) CacheBytes() int64 {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	return l.bytes
}

// Len returns the number of indexed subscribers.
func (l *Live) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.n
}

func (l *Live) loadClip(ctx context.Context, ref string) (*media.Clip, error) {
	c, err := l.st.GetClip(ctx, ref)
	if err != nil {
		return nil, err
	}
	return BuildClip(c)
}

// BuildClip decodes and frames a stored clip for RTP with core/media's upload pipeline
// (media.PrepareClip): G.711 from the WAV part, AMR-WB from the .awb part, H.264 at the default
// 15 fps for a 1200-byte MTU from the Annex-B part. Size and duration are not limited again here:
// the upload checked them, and a later, stricter configuration must not make stored clips vanish.
func BuildClip(c Clip) (*media.Clip, error) {
	srcs := make([]media.Source, 0, len(c.Parts))
	for _, k := range clipKinds {
		if b, ok := c.Parts[k]; ok {
			srcs = append(srcs, media.Source{Kind: k, Data: b})
		}
	}
	name := c.Ref
	if name == "" {
		name = "clip"
	}
	return media.PrepareClip(name, media.ClipLimits{MaxBytes: math.MaxInt, MaxDuration: math.MaxInt64}, srcs...)
}

func clipSize(c *media.Clip) int64 {
	var n int64
	for _, p := range []*media.Packets{c.PCMU, c.PCMA, c.AMRWBOA, c.AMRWBBE, c.H264} {
		if p == nil {
			continue
		}
		for _, f := range p.Frames {
			n += int64(len(f.Payload)) + 16
		}
	}
	return n
}

// materialise builds e's profile with its versions, caches them and publishes it in e.prof.
// It loads versions missing from the cache from the file, outside the cache lock.
func (l *Live) materialise(e *entry, referenced bool) (*profile.Profile, error) {
	keys := e.keys()
	loaded := map[string]*item{}
	l.cmu.Lock()
	var missing []string
	for _, k := range keys {
		if l.items[k] == nil {
			missing = append(missing, k)
		}
	}
	l.cmu.Unlock()
	var errs []error
	ctx, cancel := l.loadCtx()
	defer cancel()
	for _, k := range missing {
		it := &item{key: k}
		if k[0] == 'p' {
			p, err := l.st.GetPage(ctx, k[1:])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			it.page, it.size = p, int64(len(p.Body)+len(p.Gzip)+len(p.Zstd))
		} else {
			c, err := l.loadClip(ctx, k[1:])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			it.clip, it.size = c, clipSize(c)
		}
		loaded[k] = it
	}
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if p := e.prof.Load(); p != nil { // another path materialised it meanwhile
		return p, nil
	}
	p := e.base
	var held []*item
	for _, k := range keys {
		it := l.items[k]
		if it == nil {
			if it = loaded[k]; it == nil {
				continue
			}
			l.items[k] = it
			l.bytes += it.size
		}
		it.users++
		held = append(held, it)
		if k[0] == 'p' && k[1:] == e.caller {
			p.CallerCard = it.page
		}
		if k[0] == 'p' && k[1:] == e.callee {
			p.CalleeCard = it.page
		}
	}
	if len(errs) > 0 {
		l.releaseLocked(held)
		return nil, errors.Join(errs...)
	}
	if e.dead { // replaced while loading: serve this call, cache nothing for it
		l.releaseLocked(held)
		return &p, nil
	}
	e.used.Store(referenced)
	e.slot = int32(len(l.ring))
	l.ring = append(l.ring, e)
	e.prof.Store(&p)
	l.evictLocked(e)
	return &p, nil
}

// releaseLocked drops one use of each item; unused items leave the cache.
func (l *Live) releaseLocked(held []*item) {
	for _, it := range held {
		it.users--
		if it.users <= 0 && l.items[it.key] == it {
			delete(l.items, it.key)
			l.bytes -= it.size
		}
	}
}

// dropLocked dematerialises e: it leaves the ring and releases its items.
func (l *Live) dropLocked(e *entry) {
	if e.slot < 0 {
		return
	}
	last := l.ring[len(l.ring)-1]
	l.ring[e.slot] = last
	last.slot = e.slot
	l.ring = l.ring[:len(l.ring)-1]
	e.slot = -1
	e.prof.Store(nil)
	held := make([]*item, 0, 3)
	for _, k := range e.keys() {
		if it := l.items[k]; it != nil {
			held = append(held, it)
		}
	}
	l.releaseLocked(held)
}

// evictLocked drops materialised entries (CLOCK: a used bit buys a second pass) until the cache is
// within CacheBytes. keep is never dropped (the entry just materialised).
func (l *Live) evictLocked(keep *entry) {
	for pass := 0; l.bytes > l.opts.CacheBytes && len(l.ring) > 1 && pass < 2*len(l.ring); pass++ {
		if l.hand >= len(l.ring) {
			l.hand = 0
		}
		e := l.ring[l.hand]
		if e == keep || e.used.Swap(false) {
			l.hand++
			continue
		}
		l.dropLocked(e)
		l.stats.Evictions.Add(1)
	}
}

// apply updates the index with committed writes, in commit order (Options.OnCommit).
func (l *Live) apply(changes []Change) {
	for _, c := range changes {
		if len(c.Sub.Identities) == 0 {
			continue
		}
		l.mu.Lock()
		old := l.findLocked(&c)
		if old != nil && (old.rev > c.Sub.Revision || !c.Deleted && old.rev == c.Sub.Revision) {
			l.mu.Unlock() // a duplicate, or older than what the index holds (Bolt never sends one)
			continue
		}
		if old != nil {
			if l.byKey[old.base.Key] == old {
				delete(l.byKey, old.base.Key)
			}
			for _, k := range old.base.Identities {
				if l.byKey[k] == old {
					delete(l.byKey, k)
				}
			}
			l.n--
		}
		var e *entry
		if !c.Deleted {
			e = l.newEntry(&c.Sub)
			l.add(e)
		}
		l.mu.Unlock()
		if old != nil {
			l.cmu.Lock()
			old.dead = true
			l.dropLocked(old)
			l.cmu.Unlock()
		}
		if e != nil && e.needs() {
			if _, err := l.materialise(e, true); err != nil {
				l.warnf("store: materialise %s: %v", e.id, err)
			}
		}
	}
}

// findLocked returns the entry indexed for c's subscriber ID under any identity c names (new or
// old), nil when there is none. l.mu must be held.
func (l *Live) findLocked(c *Change) *entry {
	for _, k := range c.Sub.Identities {
		if e := l.byKey[k]; e != nil && e.id == c.Sub.ID {
			return e
		}
	}
	if c.Old != nil {
		for _, k := range c.Old.Identities {
			if e := l.byKey[k]; e != nil && e.id == c.Sub.ID {
				return e
			}
		}
	}
	return nil
}

// warnf logs at most one warning a second.
func (l *Live) warnf(format string, args ...any) {
	now := time.Now().Unix()
	if last := l.warn.Load(); last == now || !l.warn.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn(fmt.Sprintf(format, args...))
}

var _ profile.Store = (*Live)(nil)
