package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-ims/herald/core/store"
)

// snapshotBatch is how many subscribers one MGET of a snapshot reads.
const snapshotBatch = 1000

// snapshot reads the store revision, then every subscriber. Writes made meanwhile may or may not
// be in it; the stream from the returned revision replays them (Live skips what it holds).
func (s *Store) snapshot() (uint64, []store.Subscriber, error) {
	ctx := context.Background()
	c, cancel := s.ctx(ctx)
	rev, err := s.rdb.Get(c, s.k.rev).Uint64()
	cancel()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, err
	}
	c, cancel = context.WithTimeout(ctx, 10*s.timeout) // the ID list of a large base takes longer
	ids, err := s.rdb.ZRange(c, s.k.subs, 0, -1).Result()
	cancel()
	if err != nil {
		return 0, nil, err
	}
	out := make([]store.Subscriber, 0, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), snapshotBatch)
		c, cancel = s.ctx(ctx)
		subs, err := s.load(c, ids[:n])
		cancel()
		if err != nil {
			return 0, nil, err
		}
		out = append(out, subs...)
		ids = ids[n:]
	}
	return rev, out, nil
}

// resync makes the index hold the whole store (a lost or trimmed stream, or Redis lost its data).
func (s *Store) resync(why string) error {
	rev, subs, err := s.snapshot()
	if err != nil {
		return err
	}
	n := s.live.Resync(subs)
	s.stats.Resyncs.Add(1)
	s.synced.Store(true)
	s.advance(rev)
	s.log.Info("redis store resynchronised", "reason", why, "revision", rev, "subscribers", len(subs), "changed", n)
	return nil
}

// setUp records whether Redis answered; a change is logged (and a return counted).
func (s *Store) setUp(up bool, err error) {
	if s.up.Swap(up) == up {
		return
	}
	if up {
		s.stats.Reconnects.Add(1)
		s.log.Info("redis store reachable again")
	} else {
		s.log.Warn("redis store unreachable: calls served from the cache, writes refused", "error", err)
	}
}

// watch follows the change stream until Close. See the package documentation.
func (s *Store) watch(synced bool) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	need := ""
	if !synced {
		need = "start"
	}
	backoff := 50 * time.Millisecond
	behind := false
	pause := func() bool {
		select {
		case <-s.stop:
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
		return true
	}
	for ctx.Err() == nil {
		if need != "" {
			if err := s.resync(need); err != nil {
				s.setUp(false, err)
				if !pause() {
					return
				}
				continue
			}
			s.setUp(true, nil)
			need = ""
		}
		from := s.applied.Load()
		c, ccancel := context.WithTimeout(ctx, block+s.timeout)
		res, err := s.rdb.XRead(c, &redis.XReadArgs{Streams: []string{s.k.changes, strconv.FormatUint(from, 10) + "-0"}, Count: 1000, Block: block}).Result()
		ccancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, redis.Nil): // nothing new: check that Redis did not go back
			c, ccancel := s.ctx(ctx)
			cur, err := s.rdb.Get(c, s.k.rev).Uint64()
			ccancel()
			if err != nil && !errors.Is(err, redis.Nil) {
				s.setUp(false, err)
				need = "reconnect"
				_ = pause()
				continue
			}
			switch {
			case cur < from: // Redis lost writes (restarted without persistence, flushed)
				need = fmt.Sprintf("store revision %d below the index's %d", cur, from)
			case cur > from && behind: // twice: the stream lacks what {p}:rev says was written
				need = fmt.Sprintf("store revision %d, index at %d, stream has nothing after it", cur, from)
			}
			behind = cur > from && need == "" // a write may have landed between XREAD and GET
			s.setUp(true, nil)
			backoff = 50 * time.Millisecond
			continue
		case err != nil:
			s.setUp(false, err)
			// Back: the stream from the applied revision replays what was missed; a gap in it (trimmed)
			// or a revision gone back resynchronises. A full read is made anyway: the cheapest proof.
			need = "reconnect"
			_ = pause()
			continue
		}
		s.setUp(true, nil)
		backoff = 50 * time.Millisecond
		for _, st := range res {
			for _, m := range st.Messages {
				rev, ok := entryRev(m.ID)
				if !ok {
					need = "unreadable stream entry " + m.ID
					break
				}
				if rev <= s.applied.Load() {
					continue
				}
				if rev != s.applied.Load()+1 {
					need = fmt.Sprintf("stream gap: revision %d after %d", rev, s.applied.Load())
					break
				}
				ch, err := decodeChange(m.Values)
				if err != nil {
					need = "stream entry " + m.ID + ": " + err.Error()
					break
				}
				s.live.Apply([]store.Change{ch})
				s.stats.Applied.Add(1)
				s.advance(rev)
			}
		}
	}
}

// entryRev reads the revision of a stream entry ID "<rev>-0".
func entryRev(id string) (uint64, bool) {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok || seq != "0" {
		return 0, false
	}
	v, err := strconv.ParseUint(ms, 10, 64)
	return v, err == nil
}

func decodeChange(vals map[string]any) (store.Change, error) {
	str := func(k string) string { v, _ := vals[k].(string); return v }
	sub, err := store.DecodeSubscriber([]byte(str(fieldSub)))
	if err != nil {
		return store.Change{}, err
	}
	ch := store.Change{Sub: sub, Deleted: str(fieldOp) == "del"}
	if o := str(fieldOld); o != "" {
		old, err := store.DecodeSubscriber([]byte(o))
		if err != nil {
			return store.Change{}, err
		}
		ch.Old = &old
	}
	if len(sub.Identities) == 0 {
		return store.Change{}, fmt.Errorf("%w: change without identities", errCorruptRecord)
	}
	return ch, nil
}
