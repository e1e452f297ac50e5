package redisstore

// versions.go: the immutable, content-addressed page and clip versions ({p}:page:<ref>,
// {p}:clip:<ref>), their reference counts and the collection of unreferenced ones.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/store"
)

// putVersion stores an immutable version under key once and registers it in refs (count 0 and an
// orphan time when new or unreferenced: a re-upload restarts its grace period).
func (s *Store) putVersion(ctx context.Context, key, field string, val []byte) error {
	if err := s.checkOpen(ctx); err != nil {
		return err
	}
	for try := 0; ; try++ {
		c, cancel := s.ctx(ctx)
		err := s.rdb.Watch(c, func(tx *redis.Tx) error {
			counts, err := s.refCounts(c, tx, []string{field})
			if err != nil {
				return err
			}
			n, known := counts[field]
			if known && n > 0 {
				return nil // referenced: stored, and nothing to restart
			}
			_, err = tx.TxPipelined(c, func(p redis.Pipeliner) error {
				p.SetNX(c, key, val, 0)
				p.HSetNX(c, s.k.refs, field, 0)
				p.ZAdd(c, s.k.orphans, redis.Z{Member: field, Score: float64(time.Now().UnixNano())})
				return nil
			})
			return err
		}, s.k.refs, s.k.orphans)
		cancel()
		if errors.Is(err, redis.TxFailedErr) && try < writeRetries {
			s.stats.Retries.Add(1)
			continue
		}
		return s.fail(err)
	}
}

// PutPage implements store.Store.
func (s *Store) PutPage(ctx context.Context, p *content.Page) (string, error) {
	if p == nil || len(p.Body) == 0 {
		return "", fmt.Errorf("%w: empty page", store.ErrInvalid)
	}
	ref := store.PageRef(p)
	if err := s.putVersion(ctx, s.k.page+ref, "p"+ref, store.EncodePage(p)); err != nil {
		return "", err
	}
	return ref, nil
}

// GetPage implements store.Store. The page is rebuilt and checked (store.DecodePage).
func (s *Store) GetPage(ctx context.Context, ref string) (*content.Page, error) {
	if !store.IsRef(ref) {
		return nil, fmt.Errorf("%w: page %q", store.ErrNotFound, ref)
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	c, cancel := s.ctx(ctx)
	defer cancel()
	b, err := s.rdb.Get(c, s.k.page+ref).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: page %q", store.ErrNotFound, ref)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	p, err := store.DecodePage(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptRecord, err)
	}
	return p, nil
}

// PutClip implements store.Store.
func (s *Store) PutClip(ctx context.Context, c store.Clip) (string, error) {
	if err := store.CheckClip(&c); err != nil {
		return "", err
	}
	ref := store.ClipRef(&c)
	if err := s.putVersion(ctx, s.k.clip+ref, "c"+ref, store.EncodeClip(&c)); err != nil {
		return "", err
	}
	return ref, nil
}

// GetClip implements store.Store.
func (s *Store) GetClip(ctx context.Context, ref string) (store.Clip, error) {
	if !store.IsRef(ref) {
		return store.Clip{}, fmt.Errorf("%w: clip %q", store.ErrNotFound, ref)
	}
	if err := s.checkOpen(ctx); err != nil {
		return store.Clip{}, err
	}
	c, cancel := s.ctx(ctx)
	defer cancel()
	b, err := s.rdb.Get(c, s.k.clip+ref).Bytes()
	if errors.Is(err, redis.Nil) {
		return store.Clip{}, fmt.Errorf("%w: clip %q", store.ErrNotFound, ref)
	}
	if err != nil {
		return store.Clip{}, s.fail(err)
	}
	cl, err := store.DecodeClip(ref, b)
	if err != nil {
		return store.Clip{}, fmt.Errorf("%w: %w", errCorruptRecord, err)
	}
	return cl, nil
}

// Collect removes the versions unreferenced for GCGrace, like store.Bolt.Collect.
func (s *Store) Collect(ctx context.Context) (pages, clips int, err error) {
	if err := s.checkOpen(ctx); err != nil {
		return 0, 0, err
	}
	cutoff := time.Now().Add(-s.opts.GCGrace).UnixNano()
	for try := 0; ; try++ {
		c, cancel := s.ctx(ctx)
		pages, clips = 0, 0
		err = s.rdb.Watch(c, func(tx *redis.Tx) error {
			dead, err := tx.ZRangeByScore(c, s.k.orphans, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(cutoff, 10), Count: 1000}).Result()
			if err != nil || len(dead) == 0 {
				return err
			}
			counts, err := s.refCounts(c, tx, dead)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(c, func(p redis.Pipeliner) error {
				for _, f := range dead {
					p.ZRem(c, s.k.orphans, f)
					if counts[f] > 0 {
						continue
					}
					if f[0] == 'c' {
						p.Del(c, s.k.clip+f[1:])
						clips++
					} else {
						p.Del(c, s.k.page+f[1:])
						pages++
					}
					p.HDel(c, s.k.refs, f)
				}
				return nil
			})
			return err
		}, s.k.refs, s.k.orphans)
		cancel()
		if errors.Is(err, redis.TxFailedErr) && try < writeRetries {
			continue
		}
		if err != nil {
			return 0, 0, s.fail(err)
		}
		s.stats.CollectedVers.Add(uint64(pages + clips))
		return pages, clips, nil
	}
}

func (s *Store) gcLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if !s.Available() {
				continue
			}
			p, c, err := s.Collect(context.Background())
			switch {
			case err != nil && !errors.Is(err, store.ErrClosed):
				s.log.Warn("redis store collect", "error", err)
			case p+c > 0:
				s.log.Info("redis store collect", "pages", p, "clips", c)
			}
		}
	}
}

var _ store.Store = (*Store)(nil)
var _ store.Source = (*Store)(nil)
