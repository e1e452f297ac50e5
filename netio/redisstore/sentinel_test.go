package redisstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// runRedis starts bin with args in dir (output to dir/name.log) and waits until a client with
// ping's options (address, and the password or TLS the server wants) gets an answer to PING.
func runRedis(t *testing.T, bin, dir, name string, ping *redis.Options, args ...string) {
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
	po := *ping
	po.MaxRetries = -1
	c := redis.NewClient(&po)
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("%s not answering:\n%s", name, b)
		}
	}
}

// runSentinel starts a master and one Sentinel (redis-server --sentinel) monitoring it as "herald",
// quorum 1, both on 127.0.0.1. masterPass, when set, is the master's requirepass (and the Sentinel's
// auth-pass for it); sentinelPass, when set, the Sentinel's own requirepass.
func runSentinel(t *testing.T, masterPass, sentinelPass string) (master, sentinel string) {
	t.Helper()
	bin := redisServerPath(t)
	dir := t.TempDir()
	mport, sport := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	master, sentinel = "127.0.0.1:"+mport, "127.0.0.1:"+sport
	args := []string{"--port", mport, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	conf := "port " + sport + "\nbind 127.0.0.1\nsentinel monitor herald 127.0.0.1 " + mport + " 1\n"
	if masterPass != "" {
		args = append(args, "--requirepass", masterPass)
		conf += "sentinel auth-pass herald " + masterPass + "\n"
	}
	if sentinelPass != "" {
		conf += "requirepass " + sentinelPass + "\n"
	}
	runRedis(t, bin, dir, "master", &redis.Options{Addr: master, Password: masterPass}, args...)
	confFile := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	runRedis(t, bin, dir, "sentinel", &redis.Options{Addr: sentinel, Password: sentinelPass}, confFile, "--sentinel")
	return master, sentinel
}

// acrossNodes opens two stores with o, each Available within 5 s, writes subscriber id (identity)
// through the first and waits until the second's index holds it.
func acrossNodes(t *testing.T, o Options, id, identity string) {
	t.Helper()
	o.Logger, o.GCInterval = quiet(), -1
	nodes := make([]*Store, 2)
	lives := make([]*store.Live, 2)
	for i := range nodes {
		s, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		nodes[i], lives[i] = s, s.OpenLive(store.LiveOptions{Logger: quiet()}, 5*time.Second)
		if !s.Available() {
			t.Fatalf("node %d: not available", i)
		}
	}
	if _, err := nodes[0].Put(context.Background(), store.Subscriber{ID: id, Identities: []string{identity}, PushCapable: true}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 1 holds "+id, func() bool { p, ok := lives[1].Lookup(identity); return ok && p.PushCapable })
}

// onMaster fails unless the master (password: its requirepass) holds subscriber id's record.
func onMaster(t *testing.T, master, password, id string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: master, Password: password})
	defer c.Close()
	if n, err := c.Exists(context.Background(), "{herald}:sub:"+id).Result(); err != nil || n != 1 {
		t.Fatalf("record on the master: %d %v", n, err)
	}
}

// TestSentinelMode: with master_name set, the store finds the master through a real Sentinel
// (redis-server --sentinel) and works through it: a write through one node reaches the other.
func TestSentinelMode(t *testing.T) {
	master, sentinel := runSentinel(t, "", "")
	acrossNodes(t, Options{Addrs: []string{sentinel}, MasterName: "herald", Timeout: time.Second}, "lee", "+15556")
	onMaster(t, master, "", "lee") // the data is on the master the Sentinel named
}

// syncBuffer is a log destination the watcher and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// refused opens a store with opts, which Redis or a Sentinel must refuse, and shows that this
// ends in a clear error and not a hang: within a short start wait the store is not Available and
// its log names the cause (want), a read fails as store.ErrUnavailable naming it too, and the
// whole takes a few seconds at the most. It returns the read's error.
func refused(t *testing.T, opts Options, want string, or ...string) error {
	t.Helper()
	start := time.Now()
	var log syncBuffer
	opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
	opts.GCInterval = -1
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.OpenLive(store.LiveOptions{Logger: quiet()}, 300*time.Millisecond)
	if s.Available() {
		t.Fatal("store available, want refused")
	}
	names := func(text string) bool {
		return strings.Contains(text, want) || slices.ContainsFunc(or, func(w string) bool { return strings.Contains(text, w) })
	}
	_, err = s.Count(context.Background())
	if !errors.Is(err, store.ErrUnavailable) || !names(err.Error()) {
		t.Fatalf("Count: %v, want store.ErrUnavailable naming %q (or %q)", err, want, or)
	}
	if l := log.String(); !strings.Contains(l, "not reachable at start") || !names(l) {
		t.Fatalf("log does not name %q (or %q):\n%s", want, or, l)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusal took %s", d)
	}
	t.Logf("refused in %s: %v", time.Since(start).Round(time.Millisecond), err)
	return err
}

// TestSentinelAuth: Sentinels with a requirepass of their own (Redis 5.0.1+, "Configuring Sentinel
// instances with authentication" in https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/)
// in front of a master with another one. The store reaches the master with SentinelPassword for the
// Sentinel and Password for the master, and works through it across two nodes. A wrong or missing
// password on either side is refused at once with Redis's reply (WRONGPASS, NOAUTH) in the error
// and the log: the store is not Available, and nothing hangs.
func TestSentinelAuth(t *testing.T) {
	const masterPass, sentinelPass = "master-secret", "sentinel-secret"
	master, sentinel := runSentinel(t, masterPass, sentinelPass)
	base := Options{Addrs: []string{sentinel}, MasterName: "herald", Password: masterPass, SentinelPassword: sentinelPass, Timeout: time.Second}

	t.Run("authenticated", func(t *testing.T) {
		acrossNodes(t, base, "max", "+15557")
		onMaster(t, master, masterPass, "max")
	})
	for _, tc := range []struct {
		name                       string
		password, sentinelPassword string
		want                       string
		bySentinel                 bool // the Sentinel refuses (else the master does)
	}{
		// go-redis reports every Sentinel unreachable, with the Sentinel's reply.
		{"wrong sentinel password", masterPass, "wrong", "WRONGPASS", true},
		// What Herald did before sentinel_password_file: the master's password is not sent to Sentinels.
		{"no sentinel password", masterPass, "", "NOAUTH", true},
		// The Sentinel answers and names the master, which refuses.
		{"wrong master password", "wrong", sentinelPass, "WRONGPASS", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Password, o.SentinelPassword = tc.password, tc.sentinelPassword
			err := refused(t, o, tc.want)
			if by := strings.Contains(err.Error(), "all sentinels"); by != tc.bySentinel {
				t.Fatalf("refused by the Sentinel: %t, want %t (%v)", by, tc.bySentinel, err)
			}
		})
	}
}
