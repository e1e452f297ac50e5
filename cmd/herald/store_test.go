package main

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // RFC 5547 file-selector hashes are SHA-1
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/store"
	"github.com/herald-ims/herald/netio/redisstore"
)

// storeRig is one running Herald (temporary store imported from the embedded seed) with a
// simulated callee as its next hop and a simulated caller.
type storeRig struct {
	in     *instance
	callee *uesim.Callee
	caller *uesim.Caller
}

func newStoreRig(t *testing.T) *storeRig { return newStoreRigRTP(t, 0) }

// newStoreRigRTP is newStoreRig with the caller's RTP port (where ringback arrives) set.
func newStoreRigRTP(t *testing.T, rtpPort int) *storeRig {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	// The callee rings 1 s: the answer closes the callee card's push session (claim 1's cleanup),
	// and the caller's fetch of it (after Herald's 183, the PRACK and the UPDATE) must come before
	// that even on a machine loaded by the race-enabled suite (at 300 ms one CI run's fetch got 481,
	// the session closed, most likely by the answer).
	callee, err := uesim.NewCallee(uesim.CalleeOptions{Listen: "127.0.0.1:0", Logger: quiet, RingTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { callee.Close() })
	o, err := demoConfig(callee.Addr())
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInstance(o, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.start(t.Context()); err != nil {
		in.stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { in.stop(context.Background()) })
	caller, err := uesim.NewCaller(uesim.CallerOptions{Listen: "127.0.0.1:0", Logger: quiet, HoldTime: 50 * time.Millisecond, RTPPort: rtpPort})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caller.Close() })
	return &storeRig{in: in, callee: callee, caller: caller}
}

// call places alice → bob and returns what bob's terminal got: the caller card and the file-selector
// hash of the INVITE that announced it.
func (r *storeRig) call(t *testing.T) (page []byte, selectorHash string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := r.caller.Call(ctx, r.in.sipAddr(), "sip:alice@home1.net", "tel:+1-212-555-2222")
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if res.Final != 200 {
		t.Fatalf("call ended %d", res.Final)
	}
	cc, err := r.callee.WaitCall(ctx, res.CallID)
	if err != nil {
		t.Fatal(err)
	}
	if cc.PageErr != nil || cc.Page == nil {
		t.Fatalf("caller card not delivered: %v", cc.PageErr)
	}
	m := selectorHashRE.FindSubmatch(cc.InviteRaw)
	if m == nil {
		t.Fatalf("no file-selector hash in the INVITE:\n%s", cc.InviteRaw)
	}
	return cc.Page, string(m[1])
}

var selectorHashRE = regexp.MustCompile(`a=file-selector:[^\r\n]*hash:sha-1:([0-9A-F:]{59})`)

func selectorOf(b []byte) string {
	sum := sha1.Sum(b) //nolint:gosec // see import
	var parts []string
	for _, c := range sum {
		parts = append(parts, fmt.Sprintf("%02X", c))
	}
	return strings.Join(parts, ":")
}

// cardVersion is alice's caller card number v: several MSRP chunks (chunk_size 2048), each line
// naming the version, so a page mixed from two versions cannot pass for either.
func cardVersion(v int) []byte {
	var b strings.Builder
	b.WriteString("<!doctype html><html><body>\n")
	for i := range 120 {
		fmt.Fprintf(&b, "<p>alice card version %04d line %03d</p>\n", v, i)
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

// stored returns the body content.NewPage keeps of an upload (sanitised and normalised): what a
// terminal receives.
func stored(t *testing.T, upload []byte) []byte {
	t.Helper()
	p, err := content.NewPage("x.html", upload)
	if err != nil {
		t.Fatal(err)
	}
	return p.Body
}

// setCard uploads body as alice's caller card and points her record at it, as the provisioning
// API does: two durable writes.
func setCard(ctx context.Context, st store.Store, body []byte) error {
	pg, err := content.NewPage("alice-card.html", body)
	if err != nil {
		return err
	}
	ref, err := st.PutPage(ctx, pg)
	if err != nil {
		return err
	}
	sub, err := st.Resolve(ctx, "sip:alice@home1.net")
	if err != nil {
		return err
	}
	sub.CallerCard = ref
	_, err = st.Put(ctx, sub, store.Precondition{IfMatch: sub.Revision})
	return err
}

// TestStoreRuntimeUpdateWholeCall: a whole call after a runtime write pushes the new caller card,
// on the same instance, without a restart.
func TestStoreRuntimeUpdateWholeCall(t *testing.T) {
	r := newStoreRig(t)
	seedCard, err := fs.ReadFile(configs.Seed, "pages/alice-card.html")
	if err != nil {
		t.Fatal(err)
	}
	if before, _ := r.call(t); string(before) != string(stored(t, seedCard)) {
		t.Fatalf("before the update bob got %d bytes, want the seed's alice-card.html", len(before))
	}
	if err := setCard(context.Background(), r.in.store, cardVersion(1)); err != nil {
		t.Fatal(err)
	}
	want := stored(t, cardVersion(1))
	got, hash := r.call(t)
	if string(got) != string(want) {
		t.Fatalf("after the update bob got %d bytes:\n%.200s\nwant version 1", len(got), got)
	}
	if hash != selectorOf(want) {
		t.Fatalf("file-selector hash %s, want %s", hash, selectorOf(want))
	}
}

// TestStoreWritesDuringCalls: while a writer replaces alice's caller card as fast as the store
// commits, calls keep delivering whole versions: each page bob gets has the SHA-1 of the
// file-selector of its own INVITE and is byte-equal to one of the versions written (run with -race).
func TestStoreWritesDuringCalls(t *testing.T) {
	r := newStoreRig(t)
	st := r.in.store
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		written  atomic.Int64
		writeErr atomic.Value
	)
	t.Cleanup(func() { cancel(); wg.Wait() }) // before the rig's cleanups (LIFO), also on Fatal
	wg.Go(func() {
		for v := 1; ctx.Err() == nil; v++ {
			if err := setCard(ctx, st, cardVersion(v)); err != nil {
				if ctx.Err() == nil {
					writeErr.Store(err)
				}
				return
			}
			written.Store(int64(v))
		}
	})
	// Wait until the writer is going, then call while it writes.
	deadline := time.Now().Add(10 * time.Second)
	for written.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	seen := map[string]bool{}
	for range 6 {
		page, hash := r.call(t)
		if hash != selectorOf(page) {
			t.Fatalf("page SHA-1 %s differs from its INVITE's file-selector %s", selectorOf(page), hash)
		}
		var v int
		i := strings.Index(string(page), "version ")
		if i < 0 {
			t.Fatalf("delivered page is no card version:\n%.300s", page)
		}
		if _, err := fmt.Sscanf(string(page[i:]), "version %d", &v); err != nil || string(stored(t, cardVersion(v))) != string(page) {
			t.Fatalf("delivered page is no version written (parsed %d, %v):\n%.300s", v, err, page)
		}
		seen[hash] = true
	}
	cancel()
	wg.Wait()
	if err, _ := writeErr.Load().(error); err != nil {
		t.Fatalf("writer: %v", err)
	}
	if written.Load() < 6 {
		t.Fatalf("only %d writes during 6 calls: the test did not overlap writes and calls", written.Load())
	}
	t.Logf("%d versions written, %d distinct versions delivered in 6 calls", written.Load(), len(seen))
}

// TestImportCommand: `herald import DIR` writes a seed directory into the configured store (pages,
// a clip from clips/, identities canonicalised), a second import replaces rather than duplicates,
// and a bad seed or a missing directory is refused with exit 1 and nothing written.
func TestImportCommand(t *testing.T) {
	data := t.TempDir()
	cfg := writeFile(t, fmt.Sprintf("sip:\n  next_hop: \"sip:127.0.0.1:5070\"\ndata_dir: %q\n", data))
	seed := t.TempDir()
	wav, err := fs.ReadFile(configs.Clips, "ringback-8k.wav")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"profiles.yaml":   "- identities: [\"sip:erin@home1.net\", \"tel:+1-212-555-7777\"]\n  caller_card: erin.html\n  ringback: tune\n",
		"pages/erin.html": "<!doctype html><p>Erin</p>",
		"clips/tune.wav":  string(wav),
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Join(seed, filepath.Dir(name)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(seed, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if code, out, errOut := runCmd("import", "-c", cfg, seed); code != 0 || !strings.Contains(out, "1 subscribers") {
			t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "profiles.yaml"), []byte("- identities: [\"mailto:x\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd("import", "-c", cfg, bad); code != 1 || !strings.Contains(errOut, "profiles.yaml:1") {
		t.Fatalf("bad seed: exit %d, %q", code, errOut)
	}
	if code, _, _ := runCmd("import", "-c", cfg, filepath.Join(seed, "nope")); code != 1 {
		t.Fatalf("missing dir: exit %d", code)
	}
	if code, _, _ := runCmd("import", "-c", cfg); code != 2 {
		t.Fatalf("no dir: exit %d", code)
	}
	st, err := store.Open(store.Options{Path: filepath.Join(data, store.FileName), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if n, _ := st.Count(ctx); n != 1 {
		t.Fatalf("%d subscribers after two imports and two refusals, want 1", n)
	}
	erin, err := st.Resolve(ctx, "+12125557777")
	if err != nil || erin.ID != "erin@home1.net" || !store.IsRef(erin.Ringback) || erin.CallerCard == "" {
		t.Fatalf("erin = %+v, %v", erin, err)
	}
	c, err := st.GetClip(ctx, erin.Ringback)
	if err != nil || string(c.Parts[store.KindWAV]) != string(wav) {
		t.Fatalf("clip: %v", err)
	}
}

// loadSeed reads a seed directory as the store import does (profile.LoadSeed: pages through the
// upload pipeline), for tests that compare delivered pages with a seed's (lifecycle_test.go).
func loadSeed(dir string) (*profile.MemStore, error) { return profile.LoadSeed(os.DirFS(dir)) }

// TestStoreRingbackClip: bob's ringback set at run time to a stored clip version (a WAV uploaded
// through the store) is played to alice as G.711 on the next call; set to a name that is neither
// built in nor stored, the call still completes, without ringback, and the miss is counted.
func TestStoreRingbackClip(t *testing.T) {
	rtpSock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtpSock.Close()
	r := newStoreRigRTP(t, rtpSock.LocalAddr().(*net.UDPAddr).Port)
	ctx := context.Background()
	wav, err := fs.ReadFile(configs.Clips, "ringback-8k.wav")
	if err != nil {
		t.Fatal(err)
	}
	// The sample WAV stored as a version: bob's profile names it by reference, not by the
	// built-in name "ringback", so it resolves through the store.
	ref, err := r.in.store.PutClip(ctx, store.Clip{Name: "bob-tune", Parts: map[string][]byte{store.KindWAV: wav}})
	if err != nil {
		t.Fatal(err)
	}
	setRingback := func(v string) {
		t.Helper()
		bob, err := r.in.store.Resolve(ctx, "tel:+12125552222")
		if err != nil {
			t.Fatal(err)
		}
		bob.Ringback = v
		if _, err := r.in.store.Put(ctx, bob, store.Precondition{IfMatch: bob.Revision}); err != nil {
			t.Fatal(err)
		}
	}
	// pcmu counts the G.711 µ-law packets (payload type 0, 160-byte payloads) that reach alice
	// during one call.
	pcmu := func() int {
		got := make(chan int, 1)
		go func() {
			n := 0
			buf := make([]byte, 2048)
			for {
				_ = rtpSock.SetReadDeadline(time.Now().Add(800 * time.Millisecond))
				k, err := rtpSock.Read(buf)
				if err != nil {
					got <- n
					return
				}
				if k == 12+160 && buf[0]>>6 == 2 && buf[1]&0x7f == 0 {
					n++
				}
			}
		}()
		r.call(t)
		return <-got
	}
	setRingback(ref)
	if n := pcmu(); n < 5 {
		t.Fatalf("stored clip: %d PCMU packets reached alice, want the ringback", n)
	}
	missing := r.in.profiles.Stats().ClipMissing.Load()
	setRingback("nosuchclip")
	if n := pcmu(); n != 0 {
		t.Fatalf("unknown clip name: %d PCMU packets", n)
	}
	if got := r.in.profiles.Stats().ClipMissing.Load(); got != missing+1 {
		t.Fatalf("herald_store_clip_missing_total went %d → %d, want +1", missing, got)
	}
}

// TestImportCommandRedis: with store.redis.addrs, `herald import DIR` writes the seed into Redis
// (the fleet's store), not into a bbolt file in data_dir; a second import replaces.
func TestImportCommandRedis(t *testing.T) {
	m := miniredis.RunT(t)
	data := t.TempDir()
	cfg := writeFile(t, fmt.Sprintf("sip:\n  next_hop: \"sip:127.0.0.1:5070\"\ndata_dir: %q\nstore:\n  redis:\n    addrs: [%q]\n", data, m.Addr()))
	seed := t.TempDir()
	writeSeed(t, seed, "- identities: [\"sip:erin@home1.net\", \"tel:+1-212-555-7777\"]\n  caller_card: erin.html\n", map[string]string{"erin.html": "<!doctype html><p>Erin</p>"})
	for range 2 {
		if code, out, errOut := runCmd("import", "-c", cfg, seed); code != 0 || !strings.Contains(out, "1 subscribers") || !strings.Contains(out, "redis "+m.Addr()) {
			t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	rs, err := redisstore.New(redisstore.Options{Addrs: []string{m.Addr()}, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	sub, err := rs.Resolve(context.Background(), "tel:+1-212-555-7777")
	if err != nil || sub.CallerCard == "" || sub.Revision != 2 {
		t.Fatalf("erin in Redis: %+v %v", sub, err)
	}
	if _, err := os.Stat(filepath.Join(data, store.FileName)); !os.IsNotExist(err) {
		t.Fatalf("a bbolt file was written: %v", err)
	}
}

// TestRedisOptions: the store.redis keys reach the Redis store's options as written: the master's
// and the Sentinels' credentials apart (each password file's one line without its line end), the
// TLS CA and client pair loaded. A password file that cannot be read is named by its key.
func TestRedisOptions(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir) // the self-signed certificate serves as the CA bundle too
	pass, sentinelPass := filepath.Join(dir, "redis.pass"), filepath.Join(dir, "sentinel.pass")
	if err := os.WriteFile(pass, []byte("master-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sentinelPass, []byte("sentinel-secret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := func(sentinelPassFile string) string {
		return fmt.Sprintf(`sip:
  next_hop: sip:127.0.0.1:5070
store:
  redis:
    addrs: ["127.0.0.1:26379", "127.0.0.1:26380"]
    master_name: herald
    username: app
    password_file: %q
    sentinel_username: watcher
    sentinel_password_file: %q
    db: 3
    tls: true
    tls_ca: %q
    tls_cert: %q
    tls_key: %q
    timeout: 750ms
    prefix: fleet
`, pass, sentinelPassFile, certFile, certFile, keyFile)
	}
	o, err := config.Load(writeFile(t, yaml(sentinelPass)))
	if err != nil {
		t.Fatal(err)
	}
	ro, err := redisOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%v %s %s %q %s %q %d %s %s", ro.Addrs, ro.MasterName, ro.Username, ro.Password, ro.SentinelUsername, ro.SentinelPassword, ro.DB, ro.Timeout, ro.Prefix); got != `[127.0.0.1:26379 127.0.0.1:26380] herald app "master-secret" watcher "sentinel-secret" 3 750ms fleet` {
		t.Errorf("options: %s", got)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	want := x509.NewCertPool()
	want.AppendCertsFromPEM(certPEM)
	switch tc := ro.TLS; {
	case tc == nil:
		t.Fatal("no TLS configuration")
	case tc.InsecureSkipVerify || !tc.RootCAs.Equal(want):
		t.Errorf("server verification: insecure %t, roots are tls_ca: %t", tc.InsecureSkipVerify, tc.RootCAs.Equal(want))
	case len(tc.Certificates) != 1 || !bytes.Equal(tc.Certificates[0].Certificate[0], block.Bytes):
		t.Errorf("client certificate is not tls_cert (%d certificates)", len(tc.Certificates))
	}

	o, err = config.Load(writeFile(t, yaml(filepath.Join(dir, "missing.pass"))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := redisOptions(o); err == nil || !strings.Contains(err.Error(), "store.redis.sentinel_password_file: open ") {
		t.Errorf("missing sentinel password file: %v", err)
	}
}
