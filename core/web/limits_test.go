package web

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestReadHeaderTimeout: a client that never finishes its header is cut off (slowloris).
func TestReadHeaderTimeout(t *testing.T) {
	s, _ := testServer(t, Options{ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = bufio.NewReader(conn).ReadString('\n') // EOF (or a 4xx line) when the server gives up
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("connection held %v after a 200 ms header timeout (err %v)", el, err)
	}
}

// TestMaxHeaderBytes: oversized request headers get 431, not a page.
func TestMaxHeaderBytes(t *testing.T) {
	s, _ := testServer(t, Options{MaxHeaderBytes: 1024})
	r := do(t, client(t), "GET", "http://"+s.Addr()+"/healthz", "X-Big: "+string(bytes.Repeat([]byte("a"), 8192)))
	if r.code != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", r.code)
	}
}

// TestConcurrent runs publishers, revokers, fetchers and the sweeper together under -race.
func TestConcurrent(t *testing.T) {
	s, err := New(Options{BaseURL: testBase, TokenTTL: 30 * time.Millisecond, SweepInterval: 5 * time.Millisecond,
		MaxTokens: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(t.Context()) //nolint:errcheck // checked elsewhere
	page := testPage(t, "Conc")
	c := client(t)
	var wg sync.WaitGroup
	deadline := time.Now().Add(500 * time.Millisecond)
	for g := range 6 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				url, tok, err := s.Publish(page, "call")
				if err != nil {
					continue // ErrFull is expected under this churn
				}
				resp, err := c.Get(local(s, url))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
					t.Errorf("status %d", resp.StatusCode)
				}
				if g%2 == 0 {
					s.Revoke(tok)
				} else if g == 5 {
					s.RevokeCall("call")
				}
			}
		})
	}
	wg.Wait()
	// Every counter changes under the table lock, so hold it for a consistent snapshot.
	s.tokens.mu.Lock()
	live, pub := uint64(len(s.tokens.byTok)), s.stats.published.Load()
	exp, rev := s.stats.expired.Load(), s.stats.revoked.Load()
	s.tokens.mu.Unlock()
	if pub == 0 || pub != live+exp+rev {
		t.Fatalf("token accounting: published %d != live %d + expired %d + revoked %d", pub, live, exp, rev)
	}
}
