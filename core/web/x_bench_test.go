package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a reusable ResponseWriter that keeps no body, so the benchmark measures the handler.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkServePage measures the page handler per Accept-Encoding, without the network.
func BenchmarkServePage(b *testing.B) {
	s, err := New(Options{BaseURL: testBase})
	if err != nil {
		b.Fatal(err)
	}
	page := testPage(b, "Bench")
	_, tok, err := s.Publish(page, "c")
	if err != nil {
		b.Fatal(err)
	}
	h := &handler{s: s, pages: true, admin: true}
	for _, bc := range []struct{ name, accept, inm string }{
		{"enc=zstd", "gzip, deflate, br, zstd", ""},
		{"enc=gzip", "gzip", ""},
		{"enc=identity", "", ""},
		{"enc=zstd/304", "gzip, deflate, br, zstd", `"` + page.Version + `-zstd"`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/h/"+tok+".html", nil)
			if bc.accept != "" {
				req.Header.Set("Accept-Encoding", bc.accept)
			}
			if bc.inm != "" {
				req.Header.Set("If-None-Match", bc.inm)
			}
			w := &discardWriter{h: make(http.Header, 16)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code = 0
				h.ServeHTTP(w, req)
			}
			if w.code != http.StatusOK && w.code != http.StatusNotModified {
				b.Fatalf("status %d", w.code)
			}
		})
	}
}

// BenchmarkPublish measures token issue plus revoke (the table stays small).
func BenchmarkPublish(b *testing.B) {
	s, err := New(Options{BaseURL: testBase})
	if err != nil {
		b.Fatal(err)
	}
	page := testPage(b, "Pub")
	b.ReportAllocs()
	for b.Loop() {
		_, tok, err := s.Publish(page, "call-1")
		if err != nil {
			b.Fatal(err)
		}
		s.Revoke(tok)
	}
}

// BenchmarkServePageParallel measures the handler from many goroutines (read-locked lookups).
func BenchmarkServePageParallel(b *testing.B) {
	s, err := New(Options{BaseURL: testBase})
	if err != nil {
		b.Fatal(err)
	}
	_, tok, err := s.Publish(testPage(b, "Par"), "c")
	if err != nil {
		b.Fatal(err)
	}
	h := &handler{s: s, pages: true}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/h/"+tok+".html", nil)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
		w := &discardWriter{h: make(http.Header, 16)}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}
