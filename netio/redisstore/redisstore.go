// Package redisstore is Herald's subscriber store in Redis, for a fleet of Herald nodes that must
// all see the same subscribers, cards and clips: it implements core/store.Store with the semantics
// of the embedded Bolt store (revisions, If-Match / If-None-Match, identities owned by one
// subscriber, immutable content-addressed page and clip versions) and keeps each node's call-path
// index (core/store.Live) current from a change stream.
//
// # Layout
//
// Every key carries the hash tag {prefix} (Options.Prefix, default "herald"), so on a Redis Cluster
// all of them live in one hash slot and a write is one atomic MULTI/EXEC there too (Cluster then
// gives failover, not sharding: a subscriber base of a few million records fits one shard).
//
//	{p}:rev            the store-wide revision: every subscriber write takes the next one
//	{p}:sub:<id>       a subscriber (core/store's binary record encoding)
//	{p}:id:<identity>  the ID of the subscriber owning a canonical identity
//	{p}:subs           sorted set of every subscriber ID, score 0 (List by ZRANGEBYLEX, Count by ZCARD)
//	{p}:page:<ref>     a page version; {p}:clip:<ref> a clip version (content-addressed: immutable)
//	{p}:refs           hash 'p'|'c' + reference → how many subscriber fields name the version
//	{p}:orphans        sorted set of unreferenced versions, scored by when they became so (GC)
//	{p}:changes        stream of subscriber writes; entry ID <revision>-0 (trimmed to StreamMaxLen)
//
// # Writes
//
// A write is optimistic: WATCH {p}:rev and the record, read and check, then MULTI/EXEC that takes
// revision rev+1, writes the record, its identities and reference counts and appends the change to
// the stream. A concurrent write makes EXEC fail and the write is retried from the reads. A write
// returns once Redis has acknowledged EXEC (durability is Redis's persistence: configure AOF with
// appendfsync everysec or always, and replicas, for a carrier deployment).
//
// # Notifications and resynchronisation
//
// Each node runs one watcher: XREAD BLOCK on {p}:changes from the last revision it applied. Entry
// IDs are revisions, so a gap (the first entry read is not applied+1: the stream was trimmed while the
// node was away) or a revision below the applied one ({p}:rev went back: Redis lost its data) is
// detected, and the node then resynchronises: it reads every subscriber and makes its index hold
// exactly that set (store.Live.Resync). It also resynchronises after every reconnection. A write made
// through this node waits (up to Options.Timeout) until the watcher has applied its revision, so the
// next call on this node sees it, as with Bolt.
//
// # Redis slow or gone
//
// Every command is bounded by Options.Timeout. While Redis is unreachable, Available is false: calls
// are served from the index and cache (a subscriber whose versions are not cached is proxied plainly,
// counted as herald_store_misses_total{result="store_down"}), writes fail with store.ErrUnavailable
// (the provisioning API answers 503), and the watcher retries with backoff; once Redis answers it
// resynchronises and Available turns true again.
package redisstore

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/store"
)

// Defaults for Options.
const (
	DefaultPrefix       = "herald"
	DefaultTimeout      = 500 * time.Millisecond
	DefaultStreamMaxLen = 100000
	DefaultGCGrace      = time.Hour
	DefaultGCInterval   = 10 * time.Minute
	// writeRetries bounds the optimistic retries of one write under contention.
	writeRetries = 64
	// block is how long the watcher's XREAD waits for a change before it checks {p}:rev.
	block = time.Second
)

// Options configure a Store.
type Options struct {
	// Addrs are host:port addresses: one Redis server; the Sentinels when MasterName is set; the
	// seed nodes of a Cluster when there are several (or Cluster is set).
	Addrs []string
	// MasterName names the Sentinel-monitored master; it selects Sentinel mode.
	MasterName string
	// Cluster selects Cluster mode with a single seed address.
	Cluster bool
	// Username and Password authenticate to Redis (ACL, AUTH): the server, the master and its
	// replicas in Sentinel mode, every Cluster node.
	Username, Password string
	// SentinelUsername and SentinelPassword authenticate to the Sentinels themselves (Sentinel mode
	// only): a Sentinel's own requirepass or ACL user, set apart from the master's, as
	// https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/ ("Configuring
	// Sentinel instances with authentication") describes. "" asks the Sentinels without AUTH.
	SentinelUsername, SentinelPassword string
	// DB is the database number (standalone and Sentinel only).
	DB int
	// TLS, when set, connects over TLS (to the Sentinels too: go-redis dials them with the same
	// configuration).
	TLS *tls.Config
	// Timeout bounds every command (dial, read, write) and a write's wait for its own change to
	// reach this node's index; DefaultTimeout when 0.
	Timeout time.Duration
	// Prefix names the key space (the hash tag); DefaultPrefix when "".
	Prefix string
	// StreamMaxLen bounds the change stream (approximately); a node away for longer resynchronises.
	StreamMaxLen int64
	// GCGrace and GCInterval: as store.Options (negative GCInterval disables collection).
	GCGrace, GCInterval time.Duration
	// Logger receives connection changes and resynchronisations (the store adds
	// component=netio/redisstore itself, and makes it go-redis's logger with component=go-redis);
	// slog.Default() when nil.
	Logger *slog.Logger

	// client, when set (tests), is used instead of a client built from the fields above.
	client redis.UniversalClient
}

// Stats are the store's counters (herald_store_redis_* metrics).
type Stats struct {
	Writes           atomic.Uint64 // writes committed
	Refused          atomic.Uint64 // writes refused by their checks (conflict, not found, invalid)
	Unavailable      atomic.Uint64 // operations failed because Redis could not be reached in time
	WriteUnavailable atomic.Uint64 // writes among them
	Retries          atomic.Uint64 // optimistic write retries (a concurrent write changed the watched keys)
	Applied          atomic.Uint64 // changes applied to the index from the stream
	Resyncs          atomic.Uint64 // full resynchronisations
	Reconnects       atomic.Uint64 // times the watcher found Redis back after losing it
	SelfWaitLate     atomic.Uint64 // own writes not seen on the stream within Timeout (applied directly)
	CollectedVers    atomic.Uint64 // versions removed by Collect
}

// Store is the Redis-backed store.Store. Attach (or OpenLive) starts its watcher.
type Store struct {
	rdb     redis.UniversalClient
	opts    Options
	log     *slog.Logger
	k       keys
	timeout time.Duration

	live    *store.Live
	applied atomic.Uint64 // the revision the index holds
	up      atomic.Bool   // Redis answered the watcher's last command
	synced  atomic.Bool   // the index has been filled from Redis at least once
	waitMu  sync.Mutex
	waitCh  chan struct{} // closed and replaced whenever applied advances

	stop   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool
	stats  Stats
}

type keys struct{ rev, subs, refs, orphans, changes, sub, id, page, clip string }

func newKeys(prefix string) keys {
	p := "{" + prefix + "}:"
	return keys{rev: p + "rev", subs: p + "subs", refs: p + "refs", orphans: p + "orphans", changes: p + "changes",
		sub: p + "sub:", id: p + "id:", page: p + "page:", clip: p + "clip:"}
}

// New builds the client. It does not contact Redis: Attach does.
func New(opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q must not contain braces", opts.Prefix)
	}
	if opts.StreamMaxLen <= 0 {
		opts.StreamMaxLen = DefaultStreamMaxLen
	}
	if opts.GCGrace == 0 {
		opts.GCGrace = DefaultGCGrace
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = DefaultGCInterval
	}
	s := &Store{opts: opts, log: opts.Logger, k: newKeys(opts.Prefix), timeout: opts.Timeout, stop: make(chan struct{}), waitCh: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	} else {
		useLogger(opts.Logger)
	}
	s.log = s.log.With("component", "netio/redisstore")
	s.rdb = opts.client
	if s.rdb == nil {
		if len(opts.Addrs) == 0 {
			return nil, errors.New("redisstore: no address")
		}
		s.rdb = redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs:         opts.Addrs,
			MasterName:    opts.MasterName,
			IsClusterMode: opts.Cluster,
			Username:      opts.Username,
			Password:      opts.Password,
			DB:            opts.DB,
			TLSConfig:     opts.TLS,
			DialTimeout:   opts.Timeout,
			ReadTimeout:   opts.Timeout,
			WriteTimeout:  opts.Timeout,
			PoolTimeout:   opts.Timeout,
			MaxRetries:    -1, // a write is retried by its own loop, after fresh reads; a read fails fast
			// Blocking XREAD adds its block time to ReadTimeout (go-redis does that per command).
			ContextTimeoutEnabled: true,
			// go-redis uses these only for the Sentinel connections (FailoverOptions.sentinelOptions).
			SentinelUsername: opts.SentinelUsername,
			SentinelPassword: opts.SentinelPassword,
		})
	}
	return s, nil
}

// Client returns the Redis client (for tests and tools).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Stats returns the counters.
func (s *Store) Stats() *Stats { return &s.stats }

// Available reports whether Redis answered the watcher's last command and the index has been
// filled from it: false while Redis is unreachable (calls are served from the cache).
func (s *Store) Available() bool { return s.up.Load() && s.synced.Load() }

// Revision returns the store revision this node's index holds.
func (s *Store) Revision() uint64 { return s.applied.Load() }

// OpenLive builds the call path's index over s and starts the watcher: it reads every subscriber
// (bounded by wait; on failure the index starts empty, Available is false and the watcher keeps
// trying), then follows the change stream.
func (s *Store) OpenLive(opts store.LiveOptions, wait time.Duration) *store.Live {
	if opts.Available == nil {
		opts.Available = s.Available
	}
	if opts.LoadTimeout == 0 {
		opts.LoadTimeout = s.timeout
	}
	var subs []store.Subscriber
	rev, err := uint64(0), error(nil)
	deadline := time.Now().Add(wait)
	for {
		if rev, subs, err = s.snapshot(); err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-s.stop:
		}
	}
	if err == nil {
		s.up.Store(true)
		s.synced.Store(true)
		s.applied.Store(rev)
	} else {
		s.log.Warn("redis store: not reachable at start; serving without subscribers until it is", "error", err)
	}
	s.live = store.NewLiveFrom(s, subs, opts)
	s.wg.Add(1)
	go s.watch(err == nil)
	if s.opts.GCInterval > 0 {
		s.wg.Add(1)
		go s.gcLoop()
	}
	return s.live
}

// Close stops the watcher and closes the client.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	s.wg.Wait()
	return s.rdb.Close()
}

// ctx returns a context bounded by the timeout and by ctx.
func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// fail maps a Redis error: a network error or timeout is store.ErrUnavailable (counted).
func (s *Store) fail(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid) ||
		errors.Is(err, store.ErrIdentityTaken) || errors.Is(err, errCorruptRecord) {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	// Anything else is Redis not answering in time (dial, read or write error, timeout, a write
	// still contended after writeRetries, an error reply such as LOADING or READONLY during a
	// failover): nothing was written, and the caller may retry.
	s.stats.Unavailable.Add(1)
	return fmt.Errorf("%w: redis: %w", store.ErrUnavailable, err)
}

var errCorruptRecord = errors.New("redisstore: corrupt record")

func (s *Store) checkOpen(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (store.Subscriber, error) {
	if err := s.checkOpen(ctx); err != nil {
		return store.Subscriber{}, err
	}
	if !store.ValidID(id) {
		return store.Subscriber{}, fmt.Errorf("%w: subscriber %q", store.ErrNotFound, id)
	}
	c, cancel := s.ctx(ctx)
	defer cancel()
	b, err := s.rdb.Get(c, s.k.sub+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return store.Subscriber{}, fmt.Errorf("%w: subscriber %q", store.ErrNotFound, id)
	}
	if err != nil {
		return store.Subscriber{}, s.fail(err)
	}
	return decodeSub(b)
}

func decodeSub(b []byte) (store.Subscriber, error) {
	sub, err := store.DecodeSubscriber(b)
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("%w: %w", errCorruptRecord, err)
	}
	return sub, nil
}

// Resolve implements store.Store.
func (s *Store) Resolve(ctx context.Context, identity string) (store.Subscriber, error) {
	key, err := profile.Canonical(identity)
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("%w: %w", store.ErrInvalid, err)
	}
	if err := s.checkOpen(ctx); err != nil {
		return store.Subscriber{}, err
	}
	c, cancel := s.ctx(ctx)
	defer cancel()
	id, err := s.rdb.Get(c, s.k.id+key).Result()
	if errors.Is(err, redis.Nil) {
		return store.Subscriber{}, fmt.Errorf("%w: identity %q", store.ErrNotFound, key)
	}
	if err != nil {
		return store.Subscriber{}, s.fail(err)
	}
	return s.Get(ctx, id)
}

// refsOf lists the refs fields of the versions a subscriber names ('p'|'c' + reference).
func refsOf(sub *store.Subscriber) []string {
	var out []string
	for _, r := range []string{sub.CallerCard, sub.CalleeCard} {
		if r != "" {
			out = append(out, "p"+r)
		}
	}
	if store.IsRef(sub.Ringback) {
		out = append(out, "c"+sub.Ringback)
	}
	return out
}

// change is one stream entry's payload.
const (
	fieldOp  = "op"  // "put" or "del"
	fieldSub = "sub" // the record written (put) or removed (del)
	fieldOld = "old" // the record replaced ("" for a create)
)

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, sub store.Subscriber, pre store.Precondition) (store.Subscriber, error) {
	if err := store.Normalise(&sub); err != nil {
		return store.Subscriber{}, err
	}
	if err := s.checkOpen(ctx); err != nil {
		return store.Subscriber{}, err
	}
	var out store.Subscriber
	err := s.write(ctx, []string{s.k.sub + sub.ID}, func(c context.Context, tx *redis.Tx, rev uint64) (func(redis.Pipeliner), error) {
		var old *store.Subscriber
		b, err := tx.Get(c, s.k.sub+sub.ID).Bytes()
		switch {
		case err == nil:
			o, err := decodeSub(b)
			if err != nil {
				return nil, err
			}
			old = &o
		case !errors.Is(err, redis.Nil):
			return nil, err
		}
		switch {
		case pre.IfNoneMatch && old != nil:
			return nil, fmt.Errorf("%w: subscriber %q exists (revision %d)", store.ErrConflict, sub.ID, old.Revision)
		case pre.IfMatch != 0 && old == nil:
			return nil, fmt.Errorf("%w: subscriber %q", store.ErrNotFound, sub.ID)
		case pre.IfMatch != 0 && old.Revision != pre.IfMatch:
			return nil, fmt.Errorf("%w: subscriber %q is at revision %d, not %d", store.ErrConflict, sub.ID, old.Revision, pre.IfMatch)
		}
		idKeys := make([]string, len(sub.Identities))
		for i, k := range sub.Identities {
			idKeys[i] = s.k.id + k
		}
		owners, err := tx.MGet(c, idKeys...).Result()
		if err != nil {
			return nil, err
		}
		for i, o := range owners {
			if o, ok := o.(string); ok && o != sub.ID {
				return nil, &store.IdentityError{Identity: sub.Identities[i], Owner: o}
			}
		}
		newRefs := refsOf(&sub)
		var oldRefs []string
		if old != nil {
			oldRefs = refsOf(old)
		}
		counts, err := s.refCounts(c, tx, append(append([]string(nil), newRefs...), oldRefs...))
		if err != nil {
			return nil, err
		}
		for _, r := range newRefs {
			if _, ok := counts[r]; !ok {
				what := "page"
				if r[0] == 'c' {
					what = "clip"
				}
				return nil, fmt.Errorf("%w: unknown %s %s", store.ErrInvalid, what, r[1:])
			}
		}
		sub.Revision = rev
		out = sub
		return func(p redis.Pipeliner) {
			s.swap(c, p, old, &sub, counts)
			s.appendChange(c, p, rev, "put", &sub, old)
		}, nil
	})
	if err != nil {
		return store.Subscriber{}, err
	}
	return out, nil
}

// refCounts reads the reference counts of the given refs fields; a field absent from refs (no
// such version stored) is absent from the map.
func (s *Store) refCounts(c context.Context, tx *redis.Tx, fields []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(fields) == 0 {
		return out, nil
	}
	vals, err := tx.HMGet(c, s.k.refs, fields...).Result()
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		if v, ok := v.(string); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			out[fields[i]] = n
		}
	}
	return out, nil
}

// swap queues the replacement of old (nil: none) by sub (nil: delete) with its identities and
// reference counts (counts: as read under WATCH).
func (s *Store) swap(c context.Context, p redis.Pipeliner, old, sub *store.Subscriber, counts map[string]int64) {
	delta := map[string]int64{}
	if old != nil {
		for _, k := range old.Identities {
			p.Del(c, s.k.id+k)
		}
		for _, r := range refsOf(old) {
			delta[r]--
		}
	}
	if sub == nil {
		p.Del(c, s.k.sub+old.ID)
		p.ZRem(c, s.k.subs, old.ID)
	} else {
		for _, k := range sub.Identities {
			p.Set(c, s.k.id+k, sub.ID, 0)
		}
		for _, r := range refsOf(sub) {
			delta[r]++
		}
		p.Set(c, s.k.sub+sub.ID, store.EncodeSubscriber(sub), 0)
		p.ZAdd(c, s.k.subs, redis.Z{Member: sub.ID})
	}
	now := float64(time.Now().UnixNano())
	for r, d := range delta {
		if d == 0 {
			continue
		}
		n := max(counts[r]+d, 0)
		p.HSet(c, s.k.refs, r, n)
		if n == 0 {
			p.ZAdd(c, s.k.orphans, redis.Z{Member: r, Score: now})
		} else {
			p.ZRem(c, s.k.orphans, r)
		}
	}
}

func (s *Store) appendChange(c context.Context, p redis.Pipeliner, rev uint64, op string, sub, old *store.Subscriber) {
	vals := []any{fieldOp, op, fieldSub, store.EncodeSubscriber(sub)}
	if old != nil {
		vals = append(vals, fieldOld, store.EncodeSubscriber(old))
	}
	p.XAdd(c, &redis.XAddArgs{Stream: s.k.changes, ID: strconv.FormatUint(rev, 10) + "-0", MaxLen: s.opts.StreamMaxLen, Approx: true, Values: vals})
}

// write runs one optimistic subscriber write: fn reads and checks under WATCH ({p}:rev and extra)
// and returns the commands to queue with the new revision; the write is retried when EXEC finds a
// watched key changed. After EXEC it waits until this node's index holds the revision.
func (s *Store) write(ctx context.Context, extra []string, fn func(c context.Context, tx *redis.Tx, rev uint64) (func(redis.Pipeliner), error)) error {
	var rev uint64
	for try := 0; ; try++ {
		c, cancel := s.ctx(ctx)
		err := s.rdb.Watch(c, func(tx *redis.Tx) error {
			cur, err := tx.Get(c, s.k.rev).Uint64()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			rev = cur + 1
			queue, err := fn(c, tx, rev)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(c, func(p redis.Pipeliner) error {
				p.Set(c, s.k.rev, rev, 0)
				queue(p)
				return nil
			})
			return err
		}, append([]string{s.k.rev, s.k.refs}, extra...)...)
		cancel()
		if errors.Is(err, redis.TxFailedErr) && try < writeRetries {
			s.stats.Retries.Add(1)
			continue
		}
		if err != nil {
			if e := s.fail(err); errors.Is(e, store.ErrUnavailable) || errors.Is(e, store.ErrClosed) {
				if errors.Is(e, store.ErrUnavailable) {
					s.stats.WriteUnavailable.Add(1)
				}
				return e
			}
			s.stats.Refused.Add(1)
			return err
		}
		break
	}
	s.stats.Writes.Add(1)
	s.awaitApplied(ctx, rev)
	return nil
}

// awaitApplied waits until the index holds rev, at most Timeout; after that the watcher applies it
// when it reads it (counted in SelfWaitLate).
func (s *Store) awaitApplied(ctx context.Context, rev uint64) {
	if s.live == nil {
		return
	}
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	for {
		s.waitMu.Lock()
		ch := s.waitCh
		s.waitMu.Unlock()
		if s.applied.Load() >= rev {
			return
		}
		select {
		case <-ch:
		case <-t.C:
			s.stats.SelfWaitLate.Add(1)
			return
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		}
	}
}

func (s *Store) advance(rev uint64) {
	s.applied.Store(rev)
	s.waitMu.Lock()
	close(s.waitCh)
	s.waitCh = make(chan struct{})
	s.waitMu.Unlock()
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, id string, pre store.Precondition) error {
	if err := s.checkOpen(ctx); err != nil {
		return err
	}
	if !store.ValidID(id) {
		return fmt.Errorf("%w: subscriber %q", store.ErrNotFound, id)
	}
	return s.write(ctx, []string{s.k.sub + id}, func(c context.Context, tx *redis.Tx, rev uint64) (func(redis.Pipeliner), error) {
		b, err := tx.Get(c, s.k.sub+id).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("%w: subscriber %q", store.ErrNotFound, id)
		}
		if err != nil {
			return nil, err
		}
		old, err := decodeSub(b)
		if err != nil {
			return nil, err
		}
		if pre.IfMatch != 0 && old.Revision != pre.IfMatch {
			return nil, fmt.Errorf("%w: subscriber %q is at revision %d, not %d", store.ErrConflict, id, old.Revision, pre.IfMatch)
		}
		counts, err := s.refCounts(c, tx, refsOf(&old))
		if err != nil {
			return nil, err
		}
		return func(p redis.Pipeliner) {
			s.swap(c, p, &old, nil, counts)
			s.appendChange(c, p, rev, "del", &old, &old)
		}, nil
	})
}

// List implements store.Store. The cursor is the base64url of the last ID returned, as Bolt's
// (ZRANGEBYLEX "(" + ID continues after it).
func (s *Store) List(ctx context.Context, cursor string, limit int) ([]store.Subscriber, string, error) {
	switch {
	case limit == 0:
		limit = store.DefaultListLimit
	case limit < 0 || limit > store.MaxListLimit:
		return nil, "", fmt.Errorf("%w: limit %d not in 1..%d", store.ErrInvalid, limit, store.MaxListLimit)
	}
	after := ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !store.ValidID(string(b)) {
			return nil, "", fmt.Errorf("%w: cursor", store.ErrInvalid)
		}
		after = string(b)
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, "", err
	}
	c, cancel := s.ctx(ctx)
	defer cancel()
	minLex := "-"
	if after != "" {
		minLex = "(" + after
	}
	ids, err := s.rdb.ZRangeByLex(c, s.k.subs, &redis.ZRangeBy{Min: minLex, Max: "+", Count: int64(limit) + 1}).Result()
	if err != nil {
		return nil, "", s.fail(err)
	}
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(ids[limit-1]))
	}
	subs, err := s.load(c, ids)
	if err != nil {
		return nil, "", err
	}
	return subs, next, nil
}

// load reads the subscribers with these IDs (one MGET); one deleted meanwhile is left out.
func (s *Store) load(c context.Context, ids []string) ([]store.Subscriber, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ks := make([]string, len(ids))
	for i, id := range ids {
		ks[i] = s.k.sub + id
	}
	vals, err := s.rdb.MGet(c, ks...).Result()
	if err != nil {
		return nil, s.fail(err)
	}
	out := make([]store.Subscriber, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		sub, err := decodeSub([]byte(str))
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

// Count implements store.Store.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.checkOpen(ctx); err != nil {
		return 0, err
	}
	c, cancel := s.ctx(ctx)
	defer cancel()
	n, err := s.rdb.ZCard(c, s.k.subs).Result()
	if err != nil {
		return 0, s.fail(err)
	}
	return int(n), nil
}
