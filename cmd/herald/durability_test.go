package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/store"
)

const killChildEnv = "HERALD_STORE_KILL_CHILD" // config file of the child herald serve

// TestStoreSurvivesSIGKILL: a child Herald (this test binary re-executed: config.Load, the serve
// instance with its store in data_dir, every plane started) takes a stream of provisioning writes
// from 4 concurrent writers and prints each one once the store has acknowledged it. The parent kills
// it with SIGKILL in the middle of the stream. After that the store file opens, passes bbolt's
// consistency check, holds every acknowledged write (record, revision and page), and a restarted
// instance serves them to the call path.
func TestStoreSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "herald.yaml")
	yaml := fmt.Sprintf(`sip:
  listen: [{transport: udp, addr: "127.0.0.1:0"}]
  advertise: 127.0.0.1
  next_hop: "sip:127.0.0.1:9;transport=udp"
msrp:
  listen: "127.0.0.1:0"
  advertise: 127.0.0.1
http:
  listen: ""
rtp:
  port_min: 42000
  port_max: 42998
data_dir: %q
log:
  level: error
`, filepath.Join(dir, "data"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStoreSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+cfg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		rev  uint64
		page string
	}
	acked := map[string]ack{}
	lines := bufio.NewScanner(stdout)
	const killAfter = 300
	for len(acked) < killAfter && lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) != 4 || f[0] != "ack" {
			continue
		}
		rev, _ := strconv.ParseUint(f[2], 10, 64)
		acked[f[1]] = ack{rev, f[3]}
	}
	if len(acked) < killAfter {
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d acks; stderr:\n%s", len(acked), stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Acks printed between our last read and the kill were acknowledged too: read them all.
	for lines.Scan() {
		if f := strings.Fields(lines.Text()); len(f) == 4 && f[0] == "ack" {
			rev, _ := strconv.ParseUint(f[2], 10, 64)
			acked[f[1]] = ack{rev, f[3]}
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v; stderr:\n%s", err, stderr.String())
	}

	st, err := store.Open(store.Options{Path: filepath.Join(dir, "data", store.FileName), GCInterval: -1})
	if err != nil {
		t.Fatalf("store after SIGKILL: %v", err)
	}
	if err := st.Check(); err != nil {
		t.Fatalf("store after SIGKILL fails its check: %v", err)
	}
	bg := context.Background()
	for id, a := range acked {
		sub, err := st.Get(bg, id)
		if err != nil || sub.Revision != a.rev || sub.CallerCard != a.page {
			t.Fatalf("acknowledged write %s (revision %d) after restart: %+v, %v", id, a.rev, sub, err)
		}
		if _, err := st.GetPage(bg, a.page); err != nil {
			t.Fatalf("page of %s: %v", id, err)
		}
	}
	n, _ := st.Count(bg)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged writes before SIGKILL, all present; %d subscribers in the store", len(acked), n)

	// A restarted Herald serves them on the call path.
	o, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInstance(o, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.stop(context.Background())
	for id := range acked {
		p, ok := in.profiles.Lookup(id)
		if !ok || p.CallerCard == nil || !strings.Contains(string(p.CallerCard.Body), id) {
			t.Fatalf("restarted instance: Lookup(%s) = %+v, %v", id, p, ok)
		}
	}
}

// killChild is the child side: serve, then write until killed, printing "ack ID REVISION PAGE" for
// each write the store has acknowledged.
func killChild(cfg string) {
	o, err := config.Load(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	in, err := newInstance(o, slog.New(slog.NewTextHandler(os.Stderr, nil)), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := in.start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("+1999%d%06d", w, i)
				pg, err := content.NewPage("card.html", []byte("<!doctype html><p>card of "+id+"</p>"))
				if err == nil {
					var ref string
					if ref, err = in.store.PutPage(context.Background(), pg); err == nil {
						var sub store.Subscriber
						sub, err = in.store.Put(context.Background(), store.Subscriber{ID: id, Identities: []string{id}, CallerCard: ref}, store.Precondition{IfNoneMatch: true})
						if err == nil {
							mu.Lock()
							fmt.Fprintf(out, "ack %s %d %s\n", id, sub.Revision, ref)
							_ = out.Flush()
							mu.Unlock()
						}
					}
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "write:", err)
					os.Exit(1)
				}
			}
		})
	}
	wg.Wait()
}
