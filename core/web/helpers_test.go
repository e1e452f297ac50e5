package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/herald-ims/herald/core/content"
)

const testBase = "https://ps.home1.net/"

// fakeClock is a settable monotonic-enough clock for token expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testPage builds a compressible page whose <title> is title.
func testPage(t testing.TB, title string) *content.Page {
	t.Helper()
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title>" +
		"<style>body{font-family:sans-serif}</style></head><body>\n")
	for i := range 60 {
		b.WriteString("<p class=\"row\">Caller card line " + strings.Repeat("é", i%7) + " for Alice &amp; Bob</p>\n")
	}
	b.WriteString("</body></html>\n")
	p, err := content.NewPage("card.html", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Zstd) >= len(p.Body) || len(p.Gzip) >= len(p.Body) {
		t.Fatalf("test page does not compress: %d/%d/%d", len(p.Body), len(p.Gzip), len(p.Zstd))
	}
	return p
}

// testServer starts a server on 127.0.0.1:0 with a fake clock; Stop runs at cleanup.
func testServer(t *testing.T, o Options) (*Server, *fakeClock) {
	t.Helper()
	if o.BaseURL == "" {
		o.BaseURL = testBase
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	s.now = clk.Now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return s, clk
}

// client is an HTTP client that shows the bytes on the wire (no transparent gunzip).
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

type response struct {
	code int
	hdr  http.Header
	body []byte
}

// do sends method to http://addr+path with headers given as "Name: value" strings.
func do(t *testing.T, c *http.Client, method, url string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// local rewrites a published URL (under testBase) onto the server's real address.
func local(s *Server, url string) string {
	return "http://" + s.Addr() + "/" + strings.TrimPrefix(url, testBase)
}

// decode undoes a Content-Encoding.
func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	switch enc {
	case "":
		return b
	case "gzip":
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "zstd":
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		out, err := d.DecodeAll(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("unexpected Content-Encoding %q", enc)
	return nil
}

// wantJSONError checks a JSON error response.
func wantJSONError(t *testing.T, r response, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status = %d, want %d (body %q)", r.code, code, r.body)
	}
	if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var v struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.Error == "" {
		t.Errorf("body %q is not {\"error\":\"...\"}: %v", r.body, err)
	}
}
