package redisstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/netio/freeport"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/store"
)

// benchRedis returns the address of a Redis for the benchmarks: a real redis-server of its own
// (127.0.0.1, ephemeral port, temporary directory, no persistence) when one is installed, else
// miniredis (reported in the benchmark name, since its latency is not Redis's).
func benchRedis(b *testing.B) (addr, kind string) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return miniredis.RunT(b).Addr(), "miniredis"
	}
	port := freeport.Must(b, "127.0.0.1")
	dir := b.TempDir()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no")
	cmd.Stdout, _ = os.Create(filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			b.Fatal("redis-server not answering")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, "redis-server"
}

const benchLookupSubs = 1000

// fill writes benchLookupSubs subscribers, each with its own caller card of about 1 KB.
func fill(b *testing.B, st store.Store) []string {
	ctx := context.Background()
	keys := make([]string, benchLookupSubs)
	for i := range keys {
		p, err := content.NewPage(fmt.Sprintf("card%04d.html", i), []byte(fmt.Sprintf("<!doctype html><html><body><h1>Card %d</h1>%s</body></html>", i, strings.Repeat("<p>hello from a subscriber's card</p>", 25))))
		if err != nil {
			b.Fatal(err)
		}
		ref, err := st.PutPage(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = fmt.Sprintf("+1555%07d", i)
		if _, err := st.Put(ctx, store.Subscriber{ID: fmt.Sprintf("s%d", i), Identities: []string{keys[i]}, CallerCard: ref}, store.Precondition{}); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}

// BenchmarkLookup is the call path's profile lookup (store.Live.Lookup, what core/signal asks on
// every INVITE) over the Bolt store and over the Redis store, in the same run:
//   - hit: every subscriber's card is cached (cache_mb large enough): no store access;
//   - miss: a cache of 1 byte, so each lookup of the next subscriber loads its card from the store
//     (Bolt: a memory-mapped read; Redis: one GET over loopback) and decodes and checks it.
//
// misses/op says how many lookups did load (1 for miss, 0 for hit).
func BenchmarkLookup(b *testing.B) {
	for _, backend := range []string{"bolt", "redis"} {
		for _, mode := range []string{"hit", "miss"} {
			b.Run(backend+"/"+mode, func(b *testing.B) {
				cache := int64(256 << 20)
				if mode == "miss" {
					cache = 1
				}
				var live *store.Live
				var keys []string
				switch backend {
				case "bolt":
					st, err := store.Open(store.Options{Path: filepath.Join(b.TempDir(), "b.db"), GCInterval: -1})
					if err != nil {
						b.Fatal(err)
					}
					defer st.Close()
					keys = fill(b, st)
					if live, err = store.NewLive(st, store.LiveOptions{CacheBytes: cache}); err != nil {
						b.Fatal(err)
					}
				default:
					addr, kind := benchRedis(b)
					st, err := New(Options{Addrs: []string{addr}, Logger: quiet(), GCInterval: -1})
					if err != nil {
						b.Fatal(err)
					}
					defer st.Close()
					keys = fill(b, st)
					live = st.OpenLive(store.LiveOptions{CacheBytes: cache, Logger: quiet()}, 5*time.Second)
					b.Logf("redis: %s", kind)
				}
				for _, k := range keys { // warm (hit) or cycle the 1-byte cache (miss)
					live.Lookup(k)
				}
				m0 := live.Stats().MissLoaded.Load()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					p, ok := live.Lookup(keys[i%len(keys)])
					if !ok || p.CallerCard == nil {
						b.Fatalf("lookup %d: %v %v", i, p, ok)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(live.Stats().MissLoaded.Load()-m0)/float64(b.N), "misses/op")
			})
		}
	}
}
