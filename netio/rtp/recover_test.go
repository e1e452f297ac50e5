package rtp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/safe"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startLoggedPlane is startPlane with one shard (every stream on the same wheel) logging to lb.
func startLoggedPlane(t *testing.T, lb *syncBuf) *Plane {
	t.Helper()
	p, err := New(Options{ListenIP: "127.0.0.1", PortMin: portBase + 2000, PortMax: portBase + 2199, Shards: 1,
		Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return p
}

// injectRTPPanic makes the next tick of target (or, with target nil, the next loop turn of p's shards)
// panic once.
func injectRTPPanic(t *testing.T, p *Plane, target *Stream) {
	t.Helper()
	var armed atomic.Bool
	armed.Store(true)
	h := func(sh *shard, s *Stream) {
		if sh.p == p && s == target && armed.CompareAndSwap(true, false) {
			panic("injected by recover_test")
		}
	}
	panicHook.Store(&h)
	t.Cleanup(func() { panicHook.Store(nil) })
}

// playing starts a stream of a 5-frame clip toward a new receiver.
func playing(t *testing.T, p *Plane) (*Stream, func() bool) {
	t.Helper()
	rx := listen(t)
	s, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := s.Play(addrOf(rx), media.Track{Packets: pcmuClip(5), PayloadType: 0}); err != nil {
		t.Fatal(err)
	}
	return s, func() bool { _, ok := readRTP(t, rx, time.Second); return ok }
}

// TestRecoveryNetRTP: a panic in one stream's wheel tick stops that stream only (Err ErrInternal, its
// ports freed), is counted in herald_panics_total{plane="rtp"} (safe.Count) and logged with its stack;
// the other stream on the same shard keeps playing and a new stream plays afterwards. A panic in the
// shard's loop turn outside any stream's tick is recovered too and the wheel goes on. Not parallel: the
// hook and the count are process-wide.
func TestRecoveryNetRTP(t *testing.T) {
	t.Run("stream tick", func(t *testing.T) {
		var lb syncBuf
		p := startLoggedPlane(t, &lb)
		a, readA := playing(t, p)
		b, readB := playing(t, p)
		if !readA() || !readB() {
			t.Fatal("streams do not play")
		}
		before := safe.Count(safe.RTP)
		injectRTPPanic(t, p, a)
		select {
		case <-a.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("the stream whose tick panicked was not stopped")
		}
		if !errors.Is(a.Err(), ErrInternal) {
			t.Fatalf("stream end reason %v, want ErrInternal", a.Err())
		}
		if got := safe.Count(safe.RTP) - before; got != 1 {
			t.Fatalf("herald_panics_total{plane=rtp} grew by %d, want 1", got)
		}
		if l := lb.String(); !strings.Contains(l, "recovered panic") || !strings.Contains(l, "plane=rtp") ||
			!strings.Contains(l, "goroutine") {
			t.Fatalf("the panic was not logged with its stack: %q", l)
		}
		for range 10 { // the other stream of the shard plays on
			if !readB() {
				t.Fatal("the other stream stopped")
			}
		}
		select {
		case <-b.Done():
			t.Fatalf("the other stream ended: %v", b.Err())
		default:
		}
		c, readC := playing(t, p)
		if !readC() {
			t.Fatal("a new stream does not play after the panic")
		}
		b.Stop()
		c.Stop()
		if st := p.Stats(); st.Streams != 0 || st.Playing != 0 {
			t.Fatalf("stats after the streams ended %+v", st)
		}
	})
	t.Run("loop turn", func(t *testing.T) {
		var lb syncBuf
		p := startLoggedPlane(t, &lb)
		b, readB := playing(t, p)
		if !readB() {
			t.Fatal("stream does not play")
		}
		before := safe.Count(safe.RTP)
		injectRTPPanic(t, p, nil)
		deadline := time.Now().Add(2 * time.Second)
		for safe.Count(safe.RTP) == before {
			if time.Now().After(deadline) {
				t.Fatal("the injected panic did not happen")
			}
			time.Sleep(time.Millisecond)
		}
		for range 10 {
			if !readB() {
				t.Fatal("the stream stopped after a recovered panic in the loop turn")
			}
		}
		if got := safe.Count(safe.RTP) - before; got != 1 {
			t.Fatalf("panics counted %d, want 1", got)
		}
		b.Stop()
	})
}
