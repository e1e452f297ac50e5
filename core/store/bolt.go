package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
)

// FileName is the store's file inside data_dir.
const FileName = "herald.db"

// Bucket names. subs: ID → subscriber; ids: canonical identity → ID; pages and clips: reference →
// version; refs: 'p'|'c' + reference → refCount.
var (
	bucketSubs  = []byte("subs")
	bucketIDs   = []byte("ids")
	bucketPages = []byte("pages")
	bucketClips = []byte("clips")
	bucketRefs  = []byte("refs")
)

// Defaults for Options.
const (
	DefaultGCGrace    = time.Hour
	DefaultGCInterval = 10 * time.Minute
)

// Options configure a Bolt store.
type Options struct {
	// Path is the bbolt file; it and its directory are created when missing.
	Path string
	// GCGrace is how long a version stays unreferenced before Collect removes it (DefaultGCGrace
	// when 0; a negative value means "at once", for tests).
	GCGrace time.Duration
	// GCInterval is how often Collect runs in the background (DefaultGCInterval when 0; negative
	// disables it).
	GCInterval time.Duration
	// Logger receives collection results and background errors; slog.Default() when nil.
	Logger *slog.Logger
	// OnCommit, when set, is called after each durable commit with the subscriber writes it holds. Calls are made in commit order
	// from one goroutine; they must not block long. Live uses it to keep its index current.
	OnCommit func([]Change)
}

// BoltStats are the store's write counters (herald_store_commits_total and friends).
type BoltStats struct {
	Commits       atomic.Uint64 // durable commits
	Writes        atomic.Uint64 // writes those commits held (a group commit holds several)
	Refused       atomic.Uint64 // writes refused by their checks (conflict, not found, invalid)
	Failed        atomic.Uint64 // writes whose commit failed (disk full, I/O error)
	CommitNanos   atomic.Uint64 // time spent in commits, fsync included
	CollectedVers atomic.Uint64 // page and clip versions removed by Collect
}

// Stats returns the write counters.
func (s *Bolt) Stats() *BoltStats { return &s.stats }

// Change is one subscriber write, reported to Options.OnCommit once durable.
type Change struct {
	Sub     Subscriber  // the record written; for a delete, the record that was removed
	Old     *Subscriber // the record Sub replaced, nil for a create
	Deleted bool
}

// Bolt is the embedded Store: one bbolt file. Writes are grouped: while one commit is being
// fsync'd the next writers queue, and they share the following commit; each caller returns once
// the commit holding its write is durable, with its own result.
type Bolt struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger

	reqs chan *writeReq
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.RWMutex // write paths hold it shared while queueing; Close exclusively
	closed   bool
	isClosed atomic.Bool // closed, for readers: they never take mu (the committer reads during Close)

	stats BoltStats

	onCommit atomic.Pointer[func([]Change)]   // set by NewLive
	clock    atomic.Pointer[func() time.Time] // tests only; nil = time.Now
}

func (s *Bolt) now() time.Time {
	if f := s.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// writeReq is one write waiting for the committer. fn must check everything before it writes
// anything: an error from it leaves the transaction untouched, so the other writes of the group
// still commit.
type writeReq struct {
	fn   func(tx *bolt.Tx) ([]Change, error)
	done chan error
}

// errWritten marks an error returned after fn had written: the whole group is retried one by one.
type errWritten struct{ err error }

func (e errWritten) Error() string { return e.err.Error() }
func (e errWritten) Unwrap() error { return e.err }

// Open opens or creates the store file. A second process opening the same file waits up to a
// second for bbolt's file lock and then fails.
func Open(opts Options) (*Bolt, error) {
	if opts.GCGrace == 0 {
		opts.GCGrace = DefaultGCGrace
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = DefaultGCInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSubs, bucketIDs, bucketPages, bucketClips, bucketRefs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: init %s: %w", opts.Path, err)
	}
	s := &Bolt{db: db, opts: opts, log: log, reqs: make(chan *writeReq, 1024), stop: make(chan struct{})}
	s.wg.Add(1)
	go s.commitLoop()
	if opts.GCInterval > 0 {
		s.wg.Add(1)
		go s.gcLoop()
	}
	return s, nil
}

// Path returns the store file.
func (s *Bolt) Path() string { return s.opts.Path }

// Close implements Store. It waits for queued writes to commit.
func (s *Bolt) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.isClosed.Store(true)
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	return s.db.Close()
}

// write queues fn for the committer and waits for its commit.
func (s *Bolt) write(ctx context.Context, fn func(tx *bolt.Tx) ([]Change, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.reqs <- r // the committer drains until stop, and Close waits for RLock holders
	s.mu.RUnlock()
	return <-r.done
}

// commitLoop runs every write: it takes all the requests queued so far and commits them in one
// transaction (one fsync).
func (s *Bolt) commitLoop() {
	defer s.wg.Done()
	var group []*writeReq
	for {
		select {
		case r := <-s.reqs:
			group = append(group[:0], r)
		case <-s.stop:
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*writeReq{r})
				default:
					return
				}
			}
		}
	drain:
		for len(group) < 1000 {
			select {
			case r := <-s.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		s.commit(group)
	}
}

func (s *Bolt) commit(group []*writeReq) {
	errs := make([]error, len(group))
	var changes []Change
	start := time.Now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		changes = changes[:0]
		for i, r := range group {
			ch, err := r.fn(tx)
			if w, ok := errors.AsType[errWritten](err); ok {
				return w
			}
			errs[i] = err
			changes = append(changes, ch...)
		}
		return nil
	})
	if err != nil {
		if len(group) > 1 {
			for _, r := range group { // one bad write must not fail the others: retry alone
				s.commit([]*writeReq{r})
			}
			return
		}
		s.stats.Failed.Add(1)
		group[0].done <- fmt.Errorf("store: commit: %w", err)
		return
	}
	s.stats.Commits.Add(1)
	s.stats.CommitNanos.Add(uint64(time.Since(start)))
	for _, e := range errs {
		if e == nil {
			s.stats.Writes.Add(1)
		} else {
			s.stats.Refused.Add(1)
		}
	}
	if len(changes) > 0 {
		if f := s.onCommit.Load(); f != nil {
			(*f)(changes)
		}
		if s.opts.OnCommit != nil {
			s.opts.OnCommit(changes)
		}
	}
	for i, r := range group {
		r.done <- errs[i]
	}
}

func (s *Bolt) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// No lock: the committer reads (Live's loads after a commit) while Close may be waiting for mu,
	// and a shared lock requested behind a waiting Close would block it.
	if s.isClosed.Load() {
		return ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Get implements Store.
func (s *Bolt) Get(ctx context.Context, id string) (Subscriber, error) {
	var out Subscriber
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSubs).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%w: subscriber %q", ErrNotFound, id)
		}
		var err error
		out, err = decodeSub(v)
		return err
	})
	return out, err
}

// Resolve implements Store.
func (s *Bolt) Resolve(ctx context.Context, identity string) (Subscriber, error) {
	key, err := profile.Canonical(identity)
	if err != nil {
		return Subscriber{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var out Subscriber
	err = s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketIDs).Get([]byte(key))
		if id == nil {
			return fmt.Errorf("%w: identity %q", ErrNotFound, key)
		}
		v := tx.Bucket(bucketSubs).Get(id)
		if v == nil {
			return fmt.Errorf("%w: identity %q names missing subscriber %q", errCorrupt, key, id)
		}
		out, err = decodeSub(v)
		return err
	})
	return out, err
}

// normalise checks sub and canonicalises its identities in place.
func normalise(sub *Subscriber) error {
	if sub.ID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		sub.ID = hexString(b[:])
	}
	if !ValidID(sub.ID) {
		return fmt.Errorf("%w: id %q", ErrInvalid, sub.ID)
	}
	if len(sub.Identities) == 0 {
		return fmt.Errorf("%w: no identities", ErrInvalid)
	}
	ids := make([]string, 0, len(sub.Identities))
	for _, raw := range sub.Identities {
		k, err := profile.Canonical(raw)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		dup := false
		for _, o := range ids {
			dup = dup || o == k
		}
		if !dup {
			ids = append(ids, k)
		}
	}
	sub.Identities = ids
	for _, r := range []string{sub.CallerCard, sub.CalleeCard} {
		if r != "" && !IsRef(r) {
			return fmt.Errorf("%w: page reference %q", ErrInvalid, r)
		}
	}
	if r := sub.Ringback; r != "" && !IsRef(r) && !validClipName(r) {
		return fmt.Errorf("%w: ringback %q is neither a clip reference nor a clip name", ErrInvalid, r)
	}
	return nil
}

func validClipName(s string) bool { return ValidID(s) && len(s) <= 64 }

// refsOf lists the references a record holds, as refs keys ('p'/'c' + reference).
func refsOf(sub *Subscriber) [][]byte {
	var out [][]byte
	for _, r := range []string{sub.CallerCard, sub.CalleeCard} {
		if r != "" {
			out = append(out, append([]byte{'p'}, r...))
		}
	}
	if IsRef(sub.Ringback) {
		out = append(out, append([]byte{'c'}, sub.Ringback...))
	}
	return out
}

// Put implements Store.
func (s *Bolt) Put(ctx context.Context, sub Subscriber, pre Precondition) (Subscriber, error) {
	sub.Identities = append([]string(nil), sub.Identities...)
	if err := normalise(&sub); err != nil {
		return Subscriber{}, err
	}
	var out Subscriber
	err := s.write(ctx, func(tx *bolt.Tx) ([]Change, error) {
		subs, idx := tx.Bucket(bucketSubs), tx.Bucket(bucketIDs)
		var old *Subscriber
		if v := subs.Get([]byte(sub.ID)); v != nil {
			o, err := decodeSub(v)
			if err != nil {
				return nil, err
			}
			old = &o
		}
		switch {
		case pre.IfNoneMatch && old != nil:
			return nil, fmt.Errorf("%w: subscriber %q exists (revision %d)", ErrConflict, sub.ID, old.Revision)
		case pre.IfMatch != 0 && old == nil:
			return nil, fmt.Errorf("%w: subscriber %q", ErrNotFound, sub.ID)
		case pre.IfMatch != 0 && old.Revision != pre.IfMatch:
			return nil, fmt.Errorf("%w: subscriber %q is at revision %d, not %d", ErrConflict, sub.ID, old.Revision, pre.IfMatch)
		}
		for _, k := range sub.Identities {
			if owner := idx.Get([]byte(k)); owner != nil && string(owner) != sub.ID {
				return nil, &IdentityError{Identity: k, Owner: string(owner)}
			}
		}
		refs := tx.Bucket(bucketRefs)
		for _, r := range refsOf(&sub) {
			if refs.Get(r) == nil {
				what := "page"
				if r[0] == 'c' {
					what = "clip"
				}
				return nil, fmt.Errorf("%w: unknown %s %s", ErrInvalid, what, r[1:])
			}
		}
		// Checks done: from here on an error is a storage failure (errWritten).
		rev, err := subs.NextSequence()
		if err != nil {
			return nil, errWritten{err}
		}
		sub.Revision = rev
		if err := s.swap(tx, old, &sub); err != nil {
			return nil, errWritten{err}
		}
		out = sub
		return []Change{{Sub: sub, Old: old}}, nil
	})
	if err != nil {
		return Subscriber{}, err
	}
	return out, nil
}

// swap replaces old (nil: none) by sub (nil: delete) in subs, ids and refs.
func (s *Bolt) swap(tx *bolt.Tx, old, sub *Subscriber) error {
	subs, idx, refs := tx.Bucket(bucketSubs), tx.Bucket(bucketIDs), tx.Bucket(bucketRefs)
	now := s.now().UnixNano()
	if old != nil {
		for _, k := range old.Identities {
			if err := idx.Delete([]byte(k)); err != nil {
				return err
			}
		}
		for _, r := range refsOf(old) {
			rc := decodeRefCount(refs.Get(r))
			if rc.n > 0 {
				rc.n--
			}
			if rc.n == 0 {
				rc.orphan = now
			}
			if err := refs.Put(r, rc.encode()); err != nil {
				return err
			}
		}
	}
	if sub == nil {
		return subs.Delete([]byte(old.ID))
	}
	for _, k := range sub.Identities {
		if err := idx.Put([]byte(k), []byte(sub.ID)); err != nil {
			return err
		}
	}
	for _, r := range refsOf(sub) {
		rc := decodeRefCount(refs.Get(r))
		rc.n++
		rc.orphan = 0
		if err := refs.Put(r, rc.encode()); err != nil {
			return err
		}
	}
	return subs.Put([]byte(sub.ID), encodeSub(sub))
}

// Delete implements Store.
func (s *Bolt) Delete(ctx context.Context, id string, pre Precondition) error {
	return s.write(ctx, func(tx *bolt.Tx) ([]Change, error) {
		subs := tx.Bucket(bucketSubs)
		v := subs.Get([]byte(id))
		if v == nil {
			return nil, fmt.Errorf("%w: subscriber %q", ErrNotFound, id)
		}
		old, err := decodeSub(v)
		if err != nil {
			return nil, err
		}
		if pre.IfMatch != 0 && old.Revision != pre.IfMatch {
			return nil, fmt.Errorf("%w: subscriber %q is at revision %d, not %d", ErrConflict, id, old.Revision, pre.IfMatch)
		}
		if _, err := subs.NextSequence(); err != nil { // a later re-create gets a fresh revision anyway
			return nil, errWritten{err}
		}
		if err := s.swap(tx, &old, nil); err != nil {
			return nil, errWritten{err}
		}
		return []Change{{Sub: old, Old: &old, Deleted: true}}, nil
	})
}

// List implements Store. The cursor is the base64url of the last ID returned.
func (s *Bolt) List(ctx context.Context, cursor string, limit int) ([]Subscriber, string, error) {
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return nil, "", fmt.Errorf("%w: limit %d not in 1..%d", ErrInvalid, limit, MaxListLimit)
	}
	var after []byte
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !ValidID(string(b)) {
			return nil, "", fmt.Errorf("%w: cursor", ErrInvalid)
		}
		after = b
	}
	var out []Subscriber
	next := ""
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSubs).Cursor()
		var k, v []byte
		if after == nil {
			k, v = c.First()
		} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			if len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1].ID))
				return nil
			}
			sub, err := decodeSub(v)
			if err != nil {
				return err
			}
			out = append(out, sub)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// Count implements Store.
func (s *Bolt) Count(ctx context.Context) (int, error) {
	var n int
	err := s.view(ctx, func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketSubs).Stats().KeyN
		return nil
	})
	return n, err
}

// putVersion stores a page or clip version under key (refs key: kind byte + reference) once; a
// version stored again while unreferenced has its grace period restarted.
func (s *Bolt) putVersion(ctx context.Context, bucket, key, val []byte) error {
	return s.write(ctx, func(tx *bolt.Tx) ([]Change, error) {
		refs, b := tx.Bucket(bucketRefs), tx.Bucket(bucket)
		rc := decodeRefCount(refs.Get(key))
		if b.Get(key[1:]) == nil {
			if err := b.Put(key[1:], val); err != nil {
				return nil, errWritten{err}
			}
		} else if rc.n > 0 {
			return nil, nil
		}
		rc.orphan = s.now().UnixNano()
		if err := refs.Put(key, rc.encode()); err != nil {
			return nil, errWritten{err}
		}
		return nil, nil
	})
}

// PutPage implements Store.
func (s *Bolt) PutPage(ctx context.Context, p *content.Page) (string, error) {
	if p == nil || len(p.Body) == 0 {
		return "", fmt.Errorf("%w: empty page", ErrInvalid)
	}
	ref := PageRef(p)
	if err := s.putVersion(ctx, bucketPages, append([]byte{'p'}, ref...), encodePage(p)); err != nil {
		return "", err
	}
	return ref, nil
}

// GetPage implements Store.
func (s *Bolt) GetPage(ctx context.Context, ref string) (*content.Page, error) {
	var p *content.Page
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPages).Get([]byte(ref))
		if v == nil {
			return fmt.Errorf("%w: page %q", ErrNotFound, ref)
		}
		var err error
		p, err = decodePage(v)
		return err
	})
	return p, err
}

// PutClip implements Store.
func (s *Bolt) PutClip(ctx context.Context, c Clip) (string, error) {
	if len(c.Parts) == 0 {
		return "", fmt.Errorf("%w: clip without parts", ErrInvalid)
	}
	for k, b := range c.Parts {
		if k != KindWAV && k != KindAWB && k != KindH264 {
			return "", fmt.Errorf("%w: clip kind %q", ErrInvalid, k)
		}
		if len(b) == 0 {
			return "", fmt.Errorf("%w: empty %s part", ErrInvalid, k)
		}
	}
	ref := ClipRef(&c)
	if err := s.putVersion(ctx, bucketClips, append([]byte{'c'}, ref...), encodeClip(&c)); err != nil {
		return "", err
	}
	return ref, nil
}

// GetClip implements Store.
func (s *Bolt) GetClip(ctx context.Context, ref string) (Clip, error) {
	var c Clip
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketClips).Get([]byte(ref))
		if v == nil {
			return fmt.Errorf("%w: clip %q", ErrNotFound, ref)
		}
		var err error
		c, err = decodeClip(ref, v)
		return err
	})
	return c, err
}

// Collect removes the page and clip versions that no subscriber has referenced for GCGrace and
// returns how many of each it removed. It runs as one durable write.
func (s *Bolt) Collect(ctx context.Context) (pages, clips int, err error) {
	cutoff := s.now().Add(-s.opts.GCGrace).UnixNano()
	err = s.write(ctx, func(tx *bolt.Tx) ([]Change, error) {
		pages, clips = 0, 0
		refs := tx.Bucket(bucketRefs)
		var dead [][]byte
		err := refs.ForEach(func(k, v []byte) error {
			if rc := decodeRefCount(v); rc.n == 0 && rc.orphan <= cutoff {
				dead = append(dead, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, k := range dead {
			b := tx.Bucket(bucketPages)
			if k[0] == 'c' {
				b = tx.Bucket(bucketClips)
				clips++
			} else {
				pages++
			}
			if err := b.Delete(k[1:]); err != nil {
				return nil, errWritten{err}
			}
			if err := refs.Delete(k); err != nil {
				return nil, errWritten{err}
			}
		}
		return nil, nil
	})
	if err == nil {
		s.stats.CollectedVers.Add(uint64(pages + clips))
	}
	return pages, clips, err
}

func (s *Bolt) gcLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			p, c, err := s.Collect(context.Background())
			switch {
			case err != nil && !errors.Is(err, ErrClosed):
				s.log.Warn("store collect", "error", err)
			case p+c > 0:
				s.log.Info("store collect", "pages", p, "clips", c)
			}
		}
	}
}

var _ Store = (*Bolt)(nil)

// Check verifies the file's structure (bbolt's consistency check: every page reachable once, no
// page both used and free) and returns the problems found, joined.
func (s *Bolt) Check() error {
	return s.view(context.Background(), func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}
