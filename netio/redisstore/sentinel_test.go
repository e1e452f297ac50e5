package redisstore

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/herald-ims/herald/netio/freeport"

	"github.com/redis/go-redis/v9"

	"github.com/herald-ims/herald/core/store"
)

// redisServerPath returns redis-server's path, or skips (fails with HERALD_REQUIRE_PEERS=1).
func redisServerPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatal("redis-server (Debian redis-server) not installed and HERALD_REQUIRE_PEERS=1")
		}
		t.Skip("redis-server not installed (Debian redis-server); set HERALD_REQUIRE_PEERS=1 to make this a failure")
	}
	return p
}

// freePort returns a port of 127.0.0.1 for a redis-server to bind, leased to this process below the
// ephemeral range (netio/freeport).
func freePort(t *testing.T) int {
	t.Helper()
	return freeport.Must(t, "127.0.0.1")
}

// runRedis starts bin with args in dir (output to dir/name.log) and waits until addr answers PING.
func runRedis(t *testing.T, bin, dir, name, addr string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = log.Close() })
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("%s not answering:\n%s", name, b)
		}
	}
}

// TestSentinelMode: with master_name set, the store finds the master through a real Sentinel
// (redis-server --sentinel) and works through it: a write through one node reaches the other.
func TestSentinelMode(t *testing.T) {
	bin := redisServerPath(t)
	dir := t.TempDir()
	mport, sport := freePort(t), freePort(t)
	master := "127.0.0.1:" + strconv.Itoa(mport)
	runRedis(t, bin, dir, "master", master, "--port", strconv.Itoa(mport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte("port "+strconv.Itoa(sport)+"\nbind 127.0.0.1\nsentinel monitor herald 127.0.0.1 "+strconv.Itoa(mport)+" 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinel := "127.0.0.1:" + strconv.Itoa(sport)
	runRedis(t, bin, dir, "sentinel", sentinel, conf, "--sentinel")
	nodes := make([]*Store, 2)
	lives := make([]*store.Live, 2)
	for i := range nodes {
		s, err := New(Options{Addrs: []string{sentinel}, MasterName: "herald", Timeout: time.Second, Logger: quiet(), GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		nodes[i], lives[i] = s, s.OpenLive(store.LiveOptions{Logger: quiet()}, 5*time.Second)
		if !s.Available() {
			t.Fatalf("node %d: not available through the Sentinel", i)
		}
	}
	ctx := context.Background()
	if _, err := nodes[0].Put(ctx, store.Subscriber{ID: "lee", Identities: []string{"+15556"}, PushCapable: true}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 1 holds lee", func() bool { p, ok := lives[1].Lookup("+15556"); return ok && p.PushCapable })
	// The data is on the master the Sentinel named.
	c := redis.NewClient(&redis.Options{Addr: master})
	defer c.Close()
	if n, err := c.Exists(ctx, "{herald}:sub:lee").Result(); err != nil || n != 1 {
		t.Fatalf("record on the master: %d %v", n, err)
	}
}
