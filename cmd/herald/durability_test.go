package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/store"
)

const killChildEnv = "HERALD_STORE_KILL_CHILD" // config file of the child herald serve

const killToken = "durability-test-rw-token-0123456789"

// TestStoreSurvivesSIGKILL: a child `herald serve` (this test binary re-executed into run("serve"))
// takes a stream of provisioning writes over its HTTP API from 4 concurrent clients: create a
// subscriber (POST, 201), then set its caller card (PUT with If-None-Match: *, 201). The parent
// kills it with SIGKILL in the middle of the stream. Afterwards the store file opens, passes
// bbolt's consistency check and holds every write the API acknowledged (record, revision, card
// page), and a restarted instance serves them to the call path.
func TestStoreSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		os.Exit(run([]string{"serve", "-c", path}, os.Stdout, os.Stderr))
	}
	dir := t.TempDir()
	admin, err := freeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := freeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "herald.yaml")
	yaml := fmt.Sprintf(`sip:
  listen: [{transport: udp, addr: "127.0.0.1:0"}]
  advertise: 127.0.0.1
  next_hop: "sip:127.0.0.1:9;transport=udp"
msrp:
  listen: "127.0.0.1:0"
  advertise: 127.0.0.1
http:
  listen: "127.0.0.1:%s"
  base_url: "http://127.0.0.1:%s/"
  admin_listen: "127.0.0.1:%s"
  api:
    read_write_tokens: [%q]
rtp:
  port_min: 42000
  port_max: 42998
data_dir: %q
log:
  level: error
`, pages, pages, admin, killToken, filepath.Join(dir, "data"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStoreSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+cfg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()

	base := "http://127.0.0.1:" + admin
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path, ctype string, hdr map[string]string, body []byte) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+killToken)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	// Wait for the API to answer.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _, err := call(http.MethodGet, "/v1/subscribers?limit=1", "", nil, nil); err == nil && code == 200 {
			break
		}
		select {
		case <-done:
			t.Fatalf("child exited before serving; stderr:\n%s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("API not up within 30s; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	type ack struct {
		rev  uint64
		card string // acknowledged caller card ref, "" if only the create was acknowledged
	}
	var (
		mu    sync.Mutex
		acked = map[string]ack{}
		total int
	)
	const killAfter = 200
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("+1999%d%06d", w, i)
				code, b, err := call(http.MethodPost, "/v1/subscribers", "application/json", nil, []byte(`{"id":"`+id+`","identities":["tel:`+id+`"]}`))
				if err != nil || code != http.StatusCreated {
					return // the kill (or a failure the checks below report)
				}
				var out struct{ Revision uint64 }
				if json.Unmarshal(b, &out) != nil {
					return
				}
				mu.Lock()
				acked[id] = ack{rev: out.Revision}
				mu.Unlock()
				page := "<!DOCTYPE html><html><body><p>card of " + id + "</p></body></html>"
				code, b, err = call(http.MethodPut, "/v1/subscribers/"+id+"/cards/caller", "text/html", map[string]string{"If-None-Match": "*"}, []byte(page))
				if err != nil || code != http.StatusCreated {
					return
				}
				var card struct{ Ref string }
				if json.Unmarshal(b, &card) != nil {
					return
				}
				mu.Lock()
				acked[id] = ack{rev: 0, card: card.Ref} // the card write bumped the revision: checked by ref
				total++
				if total == killAfter {
					once.Do(func() { _ = cmd.Process.Signal(syscall.SIGKILL); close(killed) })
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("writers stopped after %d acknowledged card writes, before the kill; stderr:\n%s", total, stderr.String())
	}
	<-done
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v; stderr:\n%s", cmd.ProcessState, stderr.String())
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
		if err != nil {
			t.Fatalf("acknowledged subscriber %s missing after SIGKILL: %v", id, err)
		}
		if a.card == "" && sub.Revision < a.rev || a.card != "" && sub.CallerCard != a.card {
			t.Fatalf("acknowledged write to %s lost: stored %+v, acknowledged %+v", id, sub, a)
		}
		if a.card != "" {
			if _, err := st.GetPage(bg, a.card); err != nil {
				t.Fatalf("card of %s: %v", id, err)
			}
		}
	}
	n, _ := st.Count(bg)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d subscribers acknowledged (%d with their card) before SIGKILL, all present; %d in the store", len(acked), total, n)

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
	for id, a := range acked {
		p, ok := in.profiles.Lookup(id)
		if !ok || a.card != "" && (p.CallerCard == nil || !strings.Contains(string(p.CallerCard.Body), "card of "+id)) {
			t.Fatalf("restarted instance: Lookup(%s) = %+v, %v", id, p, ok)
		}
	}
}
