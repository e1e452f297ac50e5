package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-ims/herald/core/content"
)

// The 1M-subscriber file: every subscriber has a sip: and a tel: identity; one in ten has a caller
// and a callee card, drawn from 1,000 distinct pages; one in a hundred is push_capable. It is built
// once per format version and kept in the system temp directory (a later run only opens it).
const (
	benchSubs     = 1_000_000
	benchPages    = 1000
	benchFileName = "herald-bench-1m-v1.db"
)

func benchIdentity(i int) (sipURI, tel string) {
	return fmt.Sprintf("sub%07d@ims.example.net", i), fmt.Sprintf("+1555%07d", i)
}

// bench1M returns the path of the 1M-subscriber file, building it on first use (in bulk: 100
// transactions of 10,000 records, the same encodings and buckets Put writes).
func bench1M(b *testing.B) string {
	if testing.Short() {
		b.Skip("1M-subscriber benchmarks skipped under -short")
	}
	path := filepath.Join(os.TempDir(), benchFileName)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	s, err := Open(Options{Path: tmp, GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	refs := make([]string, benchPages)
	for i := range refs {
		p, err := content.NewPage(fmt.Sprintf("card%04d.html", i), []byte(fmt.Sprintf("<!doctype html><html><body><h1>Card %d</h1>%s</body></html>", i, strings.Repeat("<p>hello from the card of a subscriber</p>", 20))))
		if err != nil {
			b.Fatal(err)
		}
		if refs[i], err = s.PutPage(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
	const perTx = 10_000
	for base := 0; base < benchSubs; base += perTx {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := base; i < base+perTx; i++ {
				sipURI, tel := benchIdentity(i)
				sub := &Subscriber{ID: fmt.Sprintf("s%07d", i), Identities: []string{sipURI, tel}, PushCapable: i%100 == 0}
				if i%10 == 0 {
					sub.CallerCard, sub.CalleeCard = refs[i%benchPages], refs[(i+1)%benchPages]
				}
				rev, err := tx.Bucket(bucketSubs).NextSequence()
				if err != nil {
					return err
				}
				sub.Revision = rev
				if err := s.swap(tx, nil, sub); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s (%d subscribers) in %.1fs", path, benchSubs, time.Since(start).Seconds())
	return path
}

func heapInUse() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkStartup1M: open the 1M-subscriber file and build the call path's index (NewLive, with
// the cache warmed), with the collector at serve's default gc_percent 400. ns/op is the start-up time; heap-MiB the Go heap the index holds after a
// collection, rss-MiB the process's resident set (heap plus the file pages the index build touched).
func BenchmarkStartup1M(b *testing.B) {
	path := bench1M(b)
	b.ReportAllocs()
	// herald serve runs with limits.gc_percent 400 by default (core/config); so does this.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var heap, rss uint64
	for b.Loop() {
		b.StopTimer()
		before := heapInUse()
		b.StartTimer()
		s, err := Open(Options{Path: path, GCInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		l, err := NewLive(s, LiveOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if l.Len() != benchSubs {
			b.Fatalf("indexed %d", l.Len())
		}
		heap, rss = heapInUse()-before, rssBytes()
		runtime.KeepAlive(l)
		_ = s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(heap)/benchSubs, "heap-B/sub")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
}

// BenchmarkLookup1M: the call path's lookup by canonical identity among 1M subscribers (2M
// identities), every key a cache hit; Parallel runs it on every P.
func BenchmarkLookup1M(b *testing.B) {
	path := bench1M(b)
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	s, err := Open(Options{Path: path, GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l, err := NewLive(s, LiveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1<<16)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		sipURI, tel := benchIdentity(r.IntN(benchSubs))
		keys[i] = sipURI
		if i%2 == 1 {
			keys[i] = tel
		}
		if p, ok := l.Lookup(keys[i]); !ok || p == nil {
			b.Fatalf("%s not found", keys[i])
		}
	}
	if l.Lookup(keys[0]); l.Stats().MissPlain.Load() != 0 {
		b.Fatal("misses served plain")
	}
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := l.Lookup(keys[i&(len(keys)-1)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seed atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seed.Add(7919))
			for pb.Next() {
				if _, ok := l.Lookup(keys[i&(len(keys)-1)]); !ok {
					b.Error("miss")
					return
				}
				i++
			}
		})
	})
}

// BenchmarkWrites: durable subscriber writes (Put, fsync'd before it returns) into a fresh file,
// by 1 writer and by 16 and 64 concurrent writers: the group commit shares one fsync among the
// writers queued meanwhile. writes/s is the rate; ns/op per write.
func BenchmarkWrites(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(Options{Path: filepath.Join(b.TempDir(), FileName), GCInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Int64
			var commits atomic.Int64
			s.opts.OnCommit = func([]Change) { commits.Add(1) }
			start := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := (b.N + writers - 1) / writers
			for range writers {
				wg.Go(func() {
					for range per {
						i := next.Add(1)
						id := fmt.Sprintf("+1777%07d", i)
						if _, err := s.Put(context.Background(), Subscriber{ID: "w" + strconv.FormatInt(i, 10), Identities: []string{id}}, Precondition{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			n := float64(per * writers)
			b.ReportMetric(n/time.Since(start).Seconds(), "writes/s")
			b.ReportMetric(n/float64(commits.Load()), "writes/commit")
		})
	}
}
