//go:build linux

package rtp

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/netio/cpu"
)

// cpusAllowed reads Cpus_allowed_list of thread tid from /proc; "" once the thread is gone.
func cpusAllowed(t *testing.T, tid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/status")
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("thread %d: no Cpus_allowed_list", tid)
	return ""
}

// With Options.CPUs, shard i runs on its own thread pinned to CPUs[i % len] (seen by the kernel in
// /proc), the wire behaviour is unchanged on every shard, and Stop unpins the threads.
func TestPinnedShards(t *testing.T) {
	avail := cpu.Available()
	tests := map[string]struct {
		shards int
		cpus   []int
	}{
		"one cpu per shard":  {0, avail}, // Shards defaults to len(CPUs)
		"shards share a cpu": {3, avail[len(avail)-1:]},
		"round the list":     {len(avail) + 1, avail},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := Options{ListenIP: "127.0.0.1", PortMin: portBase, PortMax: portBase + 999, Shards: tc.shards,
				CPUs: tc.cpus, Logger: discard}
			p, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			want := max(tc.shards, len(tc.cpus))
			if len(p.shards) != want {
				t.Fatalf("%d shards, want %d", len(p.shards), want)
			}
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			stopped := false
			stop := func() {
				if stopped {
					return
				}
				stopped = true
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if err := p.Stop(ctx); err != nil {
					t.Error(err)
				}
			}
			t.Cleanup(stop)

			tids := map[int]bool{}
			for _, sh := range p.shards {
				tid := 0
				for end := time.Now().Add(2 * time.Second); tid == 0 && time.Now().Before(end); time.Sleep(time.Millisecond) {
					tid = int(sh.tid.Load())
				}
				if tid == 0 {
					t.Fatalf("shard %d never pinned its thread", sh.id)
				}
				if tids[tid] {
					t.Errorf("shard %d shares thread %d with another shard", sh.id, tid)
				}
				tids[tid] = true
				c := tc.cpus[sh.id%len(tc.cpus)]
				if got := cpusAllowed(t, tid); got != strconv.Itoa(c) {
					t.Errorf("shard %d thread %d: Cpus_allowed_list %q, want %d", sh.id, tid, got, c)
				}
			}
			for range p.shards { // Allocate goes round the shards: one wire check on each
				wireG711(t, p)
			}
			stop()
			// After Stop no thread is left pinned: each former shard thread has its mask back (it went
			// back to the scheduler) or is gone.
			for tid := range tids {
				if got := cpusAllowed(t, tid); got != "" && got != cpu.Format(avail) {
					t.Errorf("former shard thread %d still pinned after Stop: %q", tid, got)
				}
			}
		})
	}
}

func TestPinnedOptionsRefused(t *testing.T) {
	a := cpu.Available()
	_, err := New(Options{ListenIP: "127.0.0.1", CPUs: []int{a[len(a)-1] + 1}})
	if !errors.Is(err, ErrOptions) || !errors.Is(err, cpu.ErrNotAllowed) {
		t.Fatalf("err = %v, want ErrOptions and cpu.ErrNotAllowed", err)
	}
	want := "cpu " + strconv.Itoa(a[len(a)-1]+1) + " (allowed " + cpu.Format(a) + ")"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %q", err, want)
	}
}
