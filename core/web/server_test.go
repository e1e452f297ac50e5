package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/herald-ims/herald/core/content"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

func TestPublishFetch(t *testing.T) {
	s, _ := testServer(t, Options{})
	c := client(t)
	page := testPage(t, "Alice")

	url, tok, err := s.Publish(page, "call-1@home1.net")
	if err != nil {
		t.Fatal(err)
	}
	if want := testBase + "h/" + tok + ".html"; url != want {
		t.Fatalf("url = %q, want %q", url, want)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 16 {
		t.Fatalf("token %q is not ≥128-bit base64url: %d bytes, %v", tok, len(raw), err)
	}
	_, tok2, err := s.Publish(page, "call-1@home1.net")
	if err != nil || tok2 == tok {
		t.Fatalf("second token %q (err %v) repeats %q", tok2, err, tok)
	}

	r := do(t, c, "GET", local(s, url))
	if r.code != http.StatusOK {
		t.Fatalf("status = %d", r.code)
	}
	if !bytes.Equal(r.body, page.Body) {
		t.Fatalf("body differs: got %d bytes, want %d", len(r.body), len(page.Body))
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Etag":                    `"` + page.Version + `"`,
		"Vary":                    "Accept-Encoding",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "private, no-transform, max-age=120",
		"Content-Length":          strconv.Itoa(len(page.Body)),
		"Content-Encoding":        "",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": string(hvCSP[0]),
	} {
		if got := r.hdr.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := r.hdr.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'unsafe-inline'", "img-src data:"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
}

func TestPublishBadPage(t *testing.T) {
	s, _ := testServer(t, Options{})
	for name, p := range map[string]*content.Page{"nil": nil, "empty": {Name: "x.html"},
		"not sanitised": {Name: "x.html", Body: []byte("<!DOCTYPE html><script>alert(1)</script>")}} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := s.Publish(p, "c"); !errors.Is(err, ErrBadPage) {
				t.Fatalf("err = %v, want ErrBadPage", err)
			}
		})
	}
}

func TestContentEncoding(t *testing.T) {
	s, _ := testServer(t, Options{})
	c := client(t)
	page := testPage(t, "Enc")
	url, _, err := s.Publish(page, "c")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		accept []string // Accept-Encoding lines; nil sends none
		want   string   // Content-Encoding, "" for identity, "406" for Not Acceptable
	}{
		"none":              {nil, ""},
		"empty":             {[]string{""}, ""},
		"chromium":          {[]string{"gzip, deflate, br, zstd"}, "zstd"},
		"firefox":           {[]string{"gzip, deflate, br, zstd"}, "zstd"},
		"gzip":              {[]string{"gzip"}, "gzip"},
		"x-gzip upper":      {[]string{"X-GZIP"}, "gzip"},
		"zstd":              {[]string{"zstd"}, "zstd"},
		"zstd q=0":          {[]string{"zstd;q=0, gzip"}, "gzip"},
		"zstd q=0.000":      {[]string{"zstd; q=0.000,gzip"}, "gzip"},
		"both q=0":          {[]string{"gzip;q=0, zstd;q=0"}, ""},
		"star":              {[]string{"*"}, "zstd"},
		"star q=0 identity": {[]string{"*;q=0, identity"}, ""},
		"star q=0 gzip":     {[]string{"*;q=0, gzip;q=0.5"}, "gzip"},
		"gzip preferred":    {[]string{"gzip;q=1.0, zstd;q=0.5"}, "gzip"},
		"identity best":     {[]string{"identity, gzip;q=0.5"}, ""},
		"two lines":         {[]string{"gzip;q=0.2", "zstd;q=0.9"}, "zstd"},
		"bad q ignored":     {[]string{"zstd;q=2, gzip"}, "gzip"},
		"nothing left":      {[]string{"identity;q=0"}, "406"},
		"star zero":         {[]string{"*;q=0"}, "406"},
		"unknown only":      {[]string{"br"}, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var hdrs []string
			for _, a := range tt.accept {
				hdrs = append(hdrs, "Accept-Encoding: "+a)
			}
			r := do(t, c, "GET", local(s, url), hdrs...)
			if tt.want == "406" {
				wantJSONError(t, r, http.StatusNotAcceptable)
				return
			}
			if r.code != http.StatusOK {
				t.Fatalf("status = %d", r.code)
			}
			enc := r.hdr.Get("Content-Encoding")
			if enc != tt.want {
				t.Fatalf("Content-Encoding = %q, want %q", enc, tt.want)
			}
			if !bytes.Equal(decode(t, enc, r.body), page.Body) {
				t.Fatal("decoded body differs from the page")
			}
			wantTag := `"` + page.Version + map[string]string{"": "", "gzip": "-gzip", "zstd": "-zstd"}[enc] + `"`
			if got := r.hdr.Get("Etag"); got != wantTag {
				t.Errorf("ETag = %q, want %q", got, wantTag)
			}
			if r.hdr.Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary = %q", r.hdr.Get("Vary"))
			}
		})
	}
}

func TestNotModified(t *testing.T) {
	s, _ := testServer(t, Options{})
	c := client(t)
	page := testPage(t, "Etag")
	url, _, err := s.Publish(page, "c")
	if err != nil {
		t.Fatal(err)
	}
	id, gz := `"`+page.Version+`"`, `"`+page.Version+`-gzip"`
	tests := map[string]struct {
		headers []string
		want    int
	}{
		"match":          {[]string{"If-None-Match: " + id}, http.StatusNotModified},
		"weak":           {[]string{"If-None-Match: W/" + id}, http.StatusNotModified},
		"list":           {[]string{`If-None-Match: "x", ` + id}, http.StatusNotModified},
		"star":           {[]string{"If-None-Match: *"}, http.StatusNotModified},
		"gzip match":     {[]string{"If-None-Match: " + gz, "Accept-Encoding: gzip"}, http.StatusNotModified},
		"other coding":   {[]string{"If-None-Match: " + gz}, http.StatusOK},
		"other version":  {[]string{`If-None-Match: "0123"`}, http.StatusOK},
		"unquoted":       {[]string{"If-None-Match: " + page.Version}, http.StatusOK},
		"no conditional": {},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			want := tt.want
			if want == 0 {
				want = http.StatusOK
			}
			r := do(t, c, "GET", local(s, url), tt.headers...)
			if r.code != want {
				t.Fatalf("status = %d, want %d", r.code, want)
			}
			if r.hdr.Get("Etag") == "" || r.hdr.Get("Vary") == "" || r.hdr.Get("Cache-Control") == "" {
				t.Errorf("missing validator or cache headers: %v", r.hdr)
			}
			if want == http.StatusNotModified && len(r.body) != 0 {
				t.Errorf("304 has a body of %d bytes", len(r.body))
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	s, clk := testServer(t, Options{TokenTTL: 120 * time.Second})
	c := client(t)
	url, _, err := s.Publish(testPage(t, "Exp"), "c")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(100*time.Second + 500*time.Millisecond)
	r := do(t, c, "GET", local(s, url))
	if r.code != http.StatusOK {
		t.Fatalf("status before expiry = %d", r.code)
	}
	if cc := r.hdr.Get("Cache-Control"); cc != "private, no-transform, max-age=19" {
		t.Errorf("Cache-Control = %q, want max-age bounded by the 19.5 s left", cc)
	}
	clk.Advance(19500 * time.Millisecond) // exactly at expiry: gone
	wantJSONError(t, do(t, c, "GET", local(s, url)), http.StatusNotFound)
	if r := do(t, c, "HEAD", local(s, url)); r.code != http.StatusNotFound || r.hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("HEAD after expiry: %d %q", r.code, r.hdr.Get("Content-Type"))
	}
	if n := s.tokens.len(); n != 1 {
		t.Fatalf("before the sweep the table holds %d tokens, want 1", n)
	}
	if n := s.tokens.sweep(clk.Now()); n != 1 || s.tokens.len() != 0 {
		t.Fatalf("sweep dropped %d, %d left", n, s.tokens.len())
	}
	if st := s.Stats(); st.Expired != 1 {
		t.Errorf("Stats.Expired = %d", st.Expired)
	}
}

// TestSweeper checks that the background sweeper (not a lookup) empties the table.
func TestSweeper(t *testing.T) {
	s, err := New(Options{BaseURL: testBase, TokenTTL: 50 * time.Millisecond, SweepInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background()) //nolint:errcheck // checked in other tests
	for range 10 {
		if _, _, err := s.Publish(testPage(t, "S"), "c"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for s.tokens.len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d tokens left after 3 s with a 50 ms TTL", s.tokens.len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Expired != 10 {
		t.Errorf("Expired = %d, want 10", st.Expired)
	}
}

func TestRevoke(t *testing.T) {
	s, _ := testServer(t, Options{})
	c := client(t)
	page := testPage(t, "Rev")
	u1, t1, _ := s.Publish(page, "call-a")
	u2, _, _ := s.Publish(page, "call-a")
	u3, _, _ := s.Publish(page, "call-b")

	s.Revoke(t1)
	s.Revoke(t1)       // twice: no-op
	s.Revoke("bogus!") // unknown: no-op
	wantJSONError(t, do(t, c, "GET", local(s, u1)), http.StatusNotFound)
	if r := do(t, c, "GET", local(s, u2)); r.code != http.StatusOK {
		t.Fatalf("sibling token: status %d", r.code)
	}
	if n := s.RevokeCall("call-a"); n != 1 {
		t.Fatalf("RevokeCall = %d, want 1 (t1 already revoked)", n)
	}
	wantJSONError(t, do(t, c, "GET", local(s, u2)), http.StatusNotFound)
	if r := do(t, c, "GET", local(s, u3)); r.code != http.StatusOK {
		t.Fatalf("other call's token: status %d", r.code)
	}
	if st := s.Stats(); st.Revoked != 2 || st.Tokens != 1 {
		t.Errorf("Stats = %+v, want 2 revoked, 1 left", st)
	}
}

func TestFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, clk := testServer(t, Options{MaxTokens: 3, TokenTTL: 10 * time.Second, Registry: reg})
	page := testPage(t, "Full")
	var toks []string
	for range 3 {
		_, tok, err := s.Publish(page, "c")
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	if _, _, err := s.Publish(page, "c"); !errors.Is(err, ErrFull) {
		t.Fatalf("4th Publish err = %v, want ErrFull", err)
	}
	s.Revoke(toks[0])
	if _, _, err := s.Publish(page, "c"); err != nil {
		t.Fatalf("after a revoke: %v", err)
	}
	if _, _, err := s.Publish(page, "c"); !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	clk.Advance(10 * time.Second) // all expired; Publish sweeps before refusing
	if _, _, err := s.Publish(page, "c"); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if got := counterValue(t, reg, "herald_web_publish_refused_total", nil); got != 2 {
		t.Errorf("publish_refused_total = %v, want 2", got)
	}
}

func TestHead(t *testing.T) {
	s, _ := testServer(t, Options{})
	c := client(t)
	page := testPage(t, "Head")
	url, _, _ := s.Publish(page, "c")
	get := do(t, c, "GET", local(s, url), "Accept-Encoding: gzip")
	head := do(t, c, "HEAD", local(s, url), "Accept-Encoding: gzip")
	if head.code != http.StatusOK || len(head.body) != 0 {
		t.Fatalf("HEAD: status %d, %d body bytes", head.code, len(head.body))
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Etag", "Vary",
		"Cache-Control", "Content-Security-Policy"} {
		if head.hdr.Get(k) != get.hdr.Get(k) || get.hdr.Get(k) == "" {
			t.Errorf("%s: HEAD %q, GET %q", k, head.hdr.Get(k), get.hdr.Get(k))
		}
	}
	if head.hdr.Get("Content-Length") != strconv.Itoa(len(page.Gzip)) {
		t.Errorf("HEAD Content-Length = %s, want %d", head.hdr.Get("Content-Length"), len(page.Gzip))
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s, _ := testServer(t, Options{Registry: prometheus.NewRegistry()})
	c := client(t)
	url, _, _ := s.Publish(testPage(t, "M"), "c")
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		for name, u := range map[string]string{
			"page":    local(s, url),
			"dead":    "http://" + s.Addr() + "/h/AAAAAAAAAAAAAAAAAAAAAA.html", // same answer: no oracle
			"healthz": "http://" + s.Addr() + "/healthz",
			"varz":    "http://" + s.Addr() + "/varz",
			"metrics": "http://" + s.Addr() + "/metrics",
		} {
			t.Run(m+"/"+name, func(t *testing.T) {
				r := do(t, c, m, u)
				wantJSONError(t, r, http.StatusMethodNotAllowed)
				if a := r.hdr.Get("Allow"); a != "GET, HEAD" {
					t.Errorf("Allow = %q", a)
				}
			})
		}
	}
}

func TestBadPaths(t *testing.T) {
	s, _ := testServer(t, Options{})
	c := client(t)
	_, tok, _ := s.Publish(testPage(t, "P"), "c")
	for name, p := range map[string]string{
		"root":         "/",
		"prefix":       "/h/",
		"no suffix":    "/h/" + tok,
		"htm":          "/h/" + tok + ".htm",
		"trailing":     "/h/" + tok + ".html/x",
		"short":        "/h/" + tok[1:] + ".html",
		"long":         "/h/" + tok + "A.html",
		"bad char":     "/h/" + tok[:21] + "%2F.html",
		"upper suffix": "/h/" + tok + ".HTML",
		"dotdot":       "/h/../healthz",
		"other":        "/index.html",
		"double slash": "//h/" + tok + ".html",
	} {
		t.Run(name, func(t *testing.T) {
			wantJSONError(t, do(t, c, "GET", "http://"+s.Addr()+p), http.StatusNotFound)
		})
	}
	if r := do(t, c, "GET", "http://"+s.Addr()+"/h/"+tok+".html?x=1"); r.code != http.StatusOK {
		t.Errorf("query string: status %d", r.code)
	}
}

func TestBaseURLPrefix(t *testing.T) {
	s, _ := testServer(t, Options{BaseURL: "https://ps.home1.net/herald/"})
	c := client(t)
	url, tok, _ := s.Publish(testPage(t, "Pre"), "c")
	if url != "https://ps.home1.net/herald/h/"+tok+".html" {
		t.Fatalf("url = %q", url)
	}
	if r := do(t, c, "GET", "http://"+s.Addr()+"/herald/h/"+tok+".html"); r.code != http.StatusOK {
		t.Fatalf("status %d", r.code)
	}
	wantJSONError(t, do(t, c, "GET", "http://"+s.Addr()+"/h/"+tok+".html"), http.StatusNotFound)
}

func TestHealthz(t *testing.T) {
	s, _ := testServer(t, Options{})
	r := do(t, client(t), "GET", "http://"+s.Addr()+"/healthz")
	if r.code != http.StatusOK || string(r.body) != "ok" {
		t.Fatalf("healthz = %d %q", r.code, r.body)
	}
}

// TestReadyz: /readyz answers 200 while Options.Ready says ready and 503 naming the reason
// otherwise, on the page listener and the admin listener alike; no Ready follows /healthz.
func TestReadyz(t *testing.T) {
	var why atomic.Pointer[string]
	ready := func() error {
		if w := why.Load(); w != nil {
			return errors.New(*w)
		}
		return nil
	}
	s, _ := testServer(t, Options{Ready: ready, AdminListen: "127.0.0.1:0"})
	c := client(t)
	for _, base := range []string{"http://" + s.Addr(), "http://" + s.AdminAddr()} {
		if r := do(t, c, "GET", base+"/readyz"); r.code != http.StatusOK || string(r.body) != "ready" {
			t.Fatalf("%s/readyz while ready = %d %q", base, r.code, r.body)
		}
	}
	draining := "draining"
	why.Store(&draining)
	for _, base := range []string{"http://" + s.Addr(), "http://" + s.AdminAddr()} {
		r := do(t, c, "GET", base+"/readyz")
		wantJSONError(t, r, http.StatusServiceUnavailable)
		if !strings.Contains(string(r.body), "draining") {
			t.Fatalf("%s/readyz while draining: %q does not say why", base, r.body)
		}
		if r := do(t, c, "GET", base+"/healthz"); r.code != http.StatusOK {
			t.Fatalf("%s/healthz while draining = %d: liveness must not follow readiness", base, r.code)
		}
	}
	if r := do(t, c, "POST", "http://"+s.Addr()+"/readyz"); r.code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /readyz = %d", r.code)
	}
	plain, _ := testServer(t, Options{})
	if r := do(t, c, "GET", "http://"+plain.Addr()+"/readyz"); r.code != http.StatusOK {
		t.Fatalf("/readyz without Ready = %d", r.code)
	}
}

func TestVarz(t *testing.T) {
	t.Run("custom", func(t *testing.T) {
		s, _ := testServer(t, Options{Varz: func() any { return map[string]any{"calls": 3, "name": "herald"} }})
		r := do(t, client(t), "GET", "http://"+s.Addr()+"/varz")
		var v map[string]any
		if r.code != http.StatusOK || json.Unmarshal(r.body, &v) != nil || v["calls"] != 3.0 || v["name"] != "herald" {
			t.Fatalf("varz = %d %q", r.code, r.body)
		}
		if r.hdr.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type = %q", r.hdr.Get("Content-Type"))
		}
	})
	t.Run("stats", func(t *testing.T) {
		s, _ := testServer(t, Options{})
		c := client(t)
		url, _, _ := s.Publish(testPage(t, "V"), "c")
		do(t, c, "GET", local(s, url), "Accept-Encoding: zstd")
		r := do(t, c, "GET", "http://"+s.Addr()+"/varz")
		var st Stats
		if err := json.Unmarshal(r.body, &st); err != nil {
			t.Fatalf("varz %q: %v", r.body, err)
		}
		if st.Tokens != 1 || st.Published != 1 || st.Pages["zstd"] != 1 || st.Requests["page"]["2xx"] != 1 ||
			st.Addr != s.Addr() {
			t.Fatalf("varz = %+v", st)
		}
	})
	t.Run("unencodable", func(t *testing.T) {
		s, _ := testServer(t, Options{Varz: func() any { return make(chan int) }})
		wantJSONError(t, do(t, client(t), "GET", "http://"+s.Addr()+"/varz"), http.StatusInternalServerError)
	})
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, _ := testServer(t, Options{Registry: reg})
	c := client(t)
	url, _, _ := s.Publish(testPage(t, "Met"), "c")
	for range 3 {
		do(t, c, "GET", local(s, url), "Accept-Encoding: gzip")
	}
	do(t, c, "GET", "http://"+s.Addr()+"/nope")
	do(t, c, "POST", local(s, url))
	r := do(t, c, "GET", "http://"+s.Addr()+"/metrics")
	if r.code != http.StatusOK {
		t.Fatalf("metrics: status %d", r.code)
	}
	text := string(r.body)
	for _, want := range []string{
		`herald_web_requests_total{class="2xx",route="page"} 3`,
		`herald_web_requests_total{class="4xx",route="page"} 1`,
		`herald_web_requests_total{class="4xx",route="other"} 1`,
		`herald_web_page_responses_total{encoding="gzip"} 3`,
		`herald_web_published_total 1`,
		`herald_web_tokens 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if got := counterValue(t, reg, "herald_web_requests_total", map[string]string{"route": "metrics", "class": "2xx"}); got != 1 {
		t.Errorf("the /metrics request itself counted %v times, want 1", got)
	}

	t.Run("no registry", func(t *testing.T) {
		s, _ := testServer(t, Options{})
		wantJSONError(t, do(t, client(t), "GET", "http://"+s.Addr()+"/metrics"), http.StatusNotFound)
	})
}

// counterValue gathers reg and returns the value of the series name{labels}.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestPprof(t *testing.T) {
	s, _ := testServer(t, Options{})
	c := client(t)
	r := do(t, c, "GET", "http://"+s.Addr()+"/debug/pprof/")
	if r.code != http.StatusOK || !strings.Contains(string(r.body), "goroutine") {
		t.Fatalf("pprof index: %d %.200q", r.code, r.body)
	}
	r = do(t, c, "GET", "http://"+s.Addr()+"/debug/pprof/goroutine?debug=1")
	if r.code != http.StatusOK || !strings.Contains(string(r.body), "goroutine profile:") {
		t.Fatalf("goroutine profile: %d %.200q", r.code, r.body)
	}
	r = do(t, c, "GET", "http://"+s.Addr()+"/debug/pprof/cmdline")
	if r.code != http.StatusOK || len(r.body) == 0 {
		t.Fatalf("cmdline: %d", r.code)
	}
}

var defaultMuxOnce sync.Once

// TestPprofNotDefaultMux checks that the server serves its own handler, not http.DefaultServeMux.
func TestPprofNotDefaultMux(t *testing.T) {
	defaultMuxOnce.Do(func() {
		http.DefaultServeMux.HandleFunc("/herald-web-test-default", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("default mux"))
		})
	})
	s, _ := testServer(t, Options{})
	wantJSONError(t, do(t, client(t), "GET", "http://"+s.Addr()+"/herald-web-test-default"), http.StatusNotFound)
}

func TestAdminListen(t *testing.T) {
	s, _ := testServer(t, Options{AdminListen: "127.0.0.1:0", Registry: prometheus.NewRegistry()})
	c := client(t)
	url, tok, _ := s.Publish(testPage(t, "Adm"), "c")
	pub, adm := "http://"+s.Addr(), "http://"+s.AdminAddr()
	if s.AdminAddr() == "" || s.AdminAddr() == s.Addr() {
		t.Fatalf("admin addr %q, page addr %q", s.AdminAddr(), s.Addr())
	}
	for _, p := range []string{"/metrics", "/varz", "/debug/pprof/"} {
		wantJSONError(t, do(t, c, "GET", pub+p), http.StatusNotFound)
		if r := do(t, c, "GET", adm+p); r.code != http.StatusOK {
			t.Errorf("admin %s: status %d", p, r.code)
		}
	}
	for _, base := range []string{pub, adm} {
		if r := do(t, c, "GET", base+"/healthz"); r.code != http.StatusOK {
			t.Errorf("%s/healthz: status %d", base, r.code)
		}
	}
	if r := do(t, c, "GET", local(s, url)); r.code != http.StatusOK {
		t.Errorf("page: status %d", r.code)
	}
	wantJSONError(t, do(t, c, "GET", adm+"/h/"+tok+".html"), http.StatusNotFound)
}

// TestAdminAPIAndPagesOnly: Options.API answers /v1/ and /ui/ on the admin listener only; with
// PagesOnly and no admin listener, no admin endpoint answers at all, pages and /healthz still do.
func TestAdminAPIAndPagesOnly(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("api " + r.URL.Path)) })
	s, _ := testServer(t, Options{AdminListen: "127.0.0.1:0", API: api})
	c := client(t)
	for _, p := range []string{"/v1/subscribers", "/ui/"} {
		wantJSONError(t, do(t, c, "GET", "http://"+s.Addr()+p), http.StatusNotFound)
		if r := do(t, c, "GET", "http://"+s.AdminAddr()+p); r.code != http.StatusOK || string(r.body) != "api "+p {
			t.Errorf("admin %s: %d %q", p, r.code, r.body)
		}
	}
	if st := s.Stats(); st.Requests["api"]["2xx"] != 2 {
		t.Errorf("api requests counted %v", st.Requests["api"])
	}

	po, _ := testServer(t, Options{PagesOnly: true, API: api, Registry: prometheus.NewRegistry()})
	url, _, _ := po.Publish(testPage(t, "PO"), "c")
	for _, p := range []string{"/metrics", "/varz", "/debug/pprof/", "/v1/subscribers", "/ui/"} {
		wantJSONError(t, do(t, c, "GET", "http://"+po.Addr()+p), http.StatusNotFound)
	}
	if r := do(t, c, "GET", local(po, url)); r.code != http.StatusOK {
		t.Errorf("page: %d", r.code)
	}
	if r := do(t, c, "GET", "http://"+po.Addr()+"/healthz"); r.code != http.StatusOK {
		t.Errorf("healthz: %d", r.code)
	}
}

func TestNewErrors(t *testing.T) {
	tests := map[string]Options{
		"empty base":     {},
		"relative":       {BaseURL: "/h/"},
		"no slash":       {BaseURL: "https://ps.home1.net"},
		"no slash path":  {BaseURL: "https://ps.home1.net/herald"},
		"ftp":            {BaseURL: "ftp://ps.home1.net/"},
		"query":          {BaseURL: "https://ps.home1.net/?a=/"},
		"fragment":       {BaseURL: "https://ps.home1.net/#/"},
		"userinfo":       {BaseURL: "https://u:p@ps.home1.net/"},
		"negative ttl":   {BaseURL: testBase, TokenTTL: -1},
		"negative max":   {BaseURL: testBase, MaxTokens: -1},
		"tls no cert":    {BaseURL: testBase, TLSConfig: &tls.Config{}},
		"bad escape":     {BaseURL: "https://ps.home1.net/%zz/"},
		"escaped slash":  {BaseURL: "https://ps.home1.net/a%2Fb/"},
		"opaque":         {BaseURL: "https:ps.home1.net/"},
		"no host":        {BaseURL: "https:///x/"},
		"negative sweep": {BaseURL: testBase, SweepInterval: -time.Second},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(o); !errors.Is(err, ErrBadOptions) {
				t.Fatalf("New err = %v, want ErrBadOptions", err)
			}
		})
	}
	t.Run("registry twice", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := New(Options{BaseURL: testBase, Registry: reg}); err != nil {
			t.Fatal(err)
		}
		if _, err := New(Options{BaseURL: testBase, Registry: reg}); !errors.Is(err, ErrBadOptions) {
			t.Fatalf("err = %v, want ErrBadOptions", err)
		}
	})
}

func TestLifecycle(t *testing.T) {
	s, err := New(Options{BaseURL: testBase})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	url, _, err := s.Publish(testPage(t, "Early"), "c") // before Start: fine
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	if r := do(t, client(t), "GET", local(s, url)); r.code != http.StatusOK {
		t.Fatalf("page published before Start: status %d", r.code)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := s.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Stop: %v", err)
	}
	if _, _, err := s.Publish(testPage(t, "Late"), "c"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Stop: %v", err)
	}
	t.Run("listen error", func(t *testing.T) {
		s2, _ := New(Options{BaseURL: testBase, Listen: s.Addr() + "0000"})
		if err := s2.Start(ctx); err == nil {
			t.Fatal("Start on a bad address succeeded")
		}
	})
}

// TestStopNoLeak serves keep-alive connections, stops, and checks that every goroutine is gone.
func TestStopNoLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s, err := New(Options{BaseURL: testBase, AdminListen: "127.0.0.1:0", Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	url, _, _ := s.Publish(testPage(t, "Leak"), "c")
	tr := &http.Transport{}
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for _, u := range []string{local(s, url), "http://" + s.AdminAddr() + "/metrics"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	goleak.VerifyNone(t, before)
}

// TestPageListenerConnCap: the page listener serves at most MaxConns connections at once; one more
// waits in the accept queue (holding no goroutine or buffers of Herald's) and is served as soon as
// another closes. Before, nothing bounded them but the process's file limit, shared with SIP and
// MSRP.
func TestPageListenerConnCap(t *testing.T) {
	s, _ := testServer(t, Options{MaxConns: 2, PagesOnly: true})
	get := func(c net.Conn, d time.Duration) error {
		_ = c.SetDeadline(time.Now().Add(d))
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && !strings.HasPrefix(line, "HTTP/1.1 200") {
			err = fmt.Errorf("answer %q", line)
		}
		return err
	}
	var conns []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns = append(conns, c)
		wait := 5 * time.Second // served: however busy the machine
		if i == 2 {
			wait = 300 * time.Millisecond // queued: not served while two are open
		}
		err = get(c, wait)
		if i < 2 && err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		if i == 2 && err == nil {
			t.Fatal("a third connection served while two are open, MaxConns 2")
		}
	}
	// The third connection waited in the accept queue with its request sent; once the first
	// closes, it is served.
	_ = conns[0].Close()
	_ = conns[2].SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(conns[2]).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("the queued connection after one closed: %q %v", line, err)
	}
}

// TestPageListenerStopWhileFull: Stop returns while the page listener is full and a connection
// waits for room (its Accept gives up when the listener closes).
func TestPageListenerStopWhileFull(t *testing.T) {
	s, _ := testServer(t, Options{MaxConns: 1, PagesOnly: true}) // its cleanup's Stop: a no-op after ours
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 2 {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i == 0 { // served, then idle (keep-alive): Shutdown closes it
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
				t.Fatalf("first connection: %q %v", line, err)
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // the second waits for room
	done := make(chan error, 1)
	go func() { done <- s.Stop(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Stop with the listener full: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Stop hangs while a connection waits for room in the page listener")
	}
}
