package content

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // checking the RFC 5547 hash
	"encoding/hex"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

const hello = "<!DOCTYPE html><html><body><p>Hello, Herald</p></body></html>\n"

// bigHTML returns a compressible, well-formed page of exactly n bytes: whole paragraphs, padded
// with spaces.
func bigHTML(n int) []byte {
	const head, tail, para = "<!DOCTYPE html><html><body>", "</body></html>", "<p>Zoë's bakery — fresh bread daily.</p>\n"
	b := []byte(head)
	for len(b)+len(para)+len(tail) <= n {
		b = append(b, para...)
	}
	b = append(b, bytes.Repeat([]byte{' '}, n-len(b)-len(tail))...)
	return append(b, tail...)
}

func TestNewPage(t *testing.T) {
	in := []byte(hello)
	p, err := NewPage("card.html", in)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(hello)) //nolint:gosec // see import
	if p.Name != "card.html" || string(p.Body) != hello || p.SHA1 != sum || p.Version != hex.EncodeToString(sum[:]) {
		t.Errorf("page = %+v", p)
	}
	in[0] = 'X' // NewPage must have copied the body
	if string(p.Body) != hello {
		t.Error("Body aliases the caller's slice")
	}

	zr, err := gzip.NewReader(bytes.NewReader(p.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || string(got) != hello {
		t.Errorf("gzip variant decodes to %q, %v", got, err)
	}
	zd, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zd.Close()
	if got, err := zd.DecodeAll(p.Zstd, nil); err != nil || string(got) != hello {
		t.Errorf("zstd variant decodes to %q, %v", got, err)
	}
}

func TestNewPageAccepts(t *testing.T) {
	for name, body := range map[string][]byte{
		"bom and doctype":       []byte("\xef\xbb\xbf\r\n<!doctype HTML><p>x"),
		"html tag":              []byte("  <HTML lang=en><p>x</p></HTML>"),
		"comment first":         []byte("<!-- card --><html></html>"),
		"html after xml prolog": []byte(`<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"></html>`),
		"exactly max size":      bigHTML(MaxPageBytes),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewPage("p.html", body); err != nil {
				t.Errorf("NewPage: %v", err)
			}
		})
	}
}

func TestNewPageErrors(t *testing.T) {
	tests := map[string]struct {
		name string
		body []byte
		want error
	}{
		"empty name":        {"", []byte(hello), ErrBadName},
		"quote in name":     {`a"b.html`, []byte(hello), ErrBadName},
		"path in name":      {"pages/a.html", []byte(hello), ErrBadName},
		"backslash in name": {`pages\a.html`, []byte(hello), ErrBadName},
		"crlf in name":      {"a\r\nX: y", []byte(hello), ErrBadName},
		"nul in name":       {"a\x00.html", []byte(hello), ErrBadName},
		"name too long":     {strings.Repeat("a", 256), []byte(hello), ErrBadName},
		"empty body":        {"a.html", nil, ErrEmptyPage},
		"too large":         {"a.html", bigHTML(MaxPageBytes + 1), ErrPageTooLarge},
		"plain text":        {"a.txt", []byte("hello, this is not html"), ErrNotHTML},
		"html beyond 512":   {"a.html", []byte(strings.Repeat(" x", 300) + "<html>"), ErrNotHTML},
		"invalid utf-8":     {"a.html", []byte("<!DOCTYPE html><p>caf\xe9</p>"), ErrNotUTF8},
		"pdf":               {"a.pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), ErrNotUTF8},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := NewPage(tc.name, tc.body)
			if !errors.Is(err, tc.want) || p != nil {
				t.Errorf("NewPage = %v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

var selectorRE = regexp.MustCompile(`^sha-1:[0-9A-F]{2}(:[0-9A-F]{2}){19}$`)

func TestHashSelector(t *testing.T) {
	p, err := NewPage("card.html", []byte(hello))
	if err != nil {
		t.Fatal(err)
	}
	got := p.HashSelector()
	// Computed independently (Python hashlib) for the bytes of hello.
	const want = "sha-1:2C:AA:5B:12:8A:CD:5E:51:FE:C8:12:35:4B:B0:D7:82:0A:DD:34:7C"
	if got != want {
		t.Errorf("HashSelector() = %q, want %q", got, want)
	}
	if !selectorRE.MatchString(got) || strings.Count(got, ":") != 20 {
		t.Errorf("%q does not have the RFC 5547 form (20 upper-case hex pairs)", got)
	}
	// Different content, different selector, same form.
	q, _ := NewPage("card.html", bigHTML(4096))
	if s := q.HashSelector(); s == got || !selectorRE.MatchString(s) {
		t.Errorf("second selector %q", s)
	}
}

func TestVariant(t *testing.T) {
	big, err := NewPage("big.html", bigHTML(18*1024))
	if err != nil {
		t.Fatal(err)
	}
	tiny, err := NewPage("t.html", []byte("<html>"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tiny.Gzip) < len(tiny.Body) || len(tiny.Zstd) < len(tiny.Body) {
		t.Fatalf("test assumption: tiny page compresses (%d/%d/%d)", len(tiny.Body), len(tiny.Gzip), len(tiny.Zstd))
	}
	tests := map[string]struct {
		page   *Page
		accept []string
		ctype  string
		body   []byte
	}{
		"nothing accepted":          {big, nil, ContentTypeHTML, big.Body},
		"html only":                 {big, []string{"text/html"}, ContentTypeHTML, big.Body},
		"gzip":                      {big, []string{"text/html", "application/gzip"}, TypeGzip, big.Gzip},
		"gzip case-insensitive":     {big, []string{"Application/GZIP"}, TypeGzip, big.Gzip},
		"zstd":                      {big, []string{"application/zstd"}, TypeZstd, big.Zstd},
		"zstd beats gzip":           {big, []string{"application/gzip", "application/zstd"}, TypeZstd, big.Zstd},
		"wildcard is not a codec":   {big, []string{"*"}, ContentTypeHTML, big.Body},
		"identity when not smaller": {tiny, []string{"application/zstd", "application/gzip"}, ContentTypeHTML, tiny.Body},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctype, body := tc.page.Variant(tc.accept)
			if ctype != tc.ctype {
				t.Errorf("type = %q, want %q", ctype, tc.ctype)
			}
			// The variant is the page's own slice, not a copy (MSRP writes sub-slices of it).
			if len(body) != len(tc.body) || len(body) > 0 && &body[0] != &tc.body[0] {
				t.Errorf("body is not the page's %s slice", tc.ctype)
			}
		})
	}
}

// TestNewPageConcurrent builds pages from several goroutines (the gzip writer pool and the shared
// zstd encoder must not mix bodies); run with -race.
func TestNewPageConcurrent(t *testing.T) {
	zd, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zd.Close()
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 10 {
				body := bigHTML(1024 + 512*g + i)
				var p *Page
				if p, err = NewPage("p.html", body); err != nil {
					break
				}
				zr, _ := gzip.NewReader(bytes.NewReader(p.Gzip))
				gotGz, _ := io.ReadAll(zr)
				gotZs, _ := zd.DecodeAll(p.Zstd, nil)
				if !bytes.Equal(gotGz, p.Body) || !bytes.Equal(gotZs, p.Body) || len(p.Body) < len(body) {
					err = errors.New("compressed variant does not decode to its own body")
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestRestore: a stored page comes back sanitised without a second sanitising pass; one whose
// bytes were changed behind Herald's back (a script, a variant that is not the body) is refused.
func TestRestore(t *testing.T) {
	p, _, err := Prepare("card.html", []byte(doc(`<p style="color:red">Hi <a href="tel:+1">call</a></p>`)), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(p.Name, p.Body, p.Gzip, p.Zstd)
	if err != nil || !r.Sanitized() || r.Version != p.Version || r.SHA1 != p.SHA1 || &r.Body[0] != &p.Body[0] {
		t.Fatalf("Restore = %+v, %v", r, err)
	}
	r, err = Restore(p.Name, p.Body, nil, nil)
	if err != nil || !bytes.Equal(r.Gzip, p.Gzip) || !bytes.Equal(r.Zstd, p.Zstd) {
		t.Fatalf("Restore without variants: %v", err)
	}
	evil := []byte(strings.Replace(string(p.Body), "<p ", `<p onclick="alert(1)" `, 1))
	other, _ := NewPage("x.html", []byte(hello))
	for name, tc := range map[string]struct {
		name           string
		body, gz, zstd []byte
		err            error
	}{
		"script":            {"card.html", []byte("<!DOCTYPE html><script>alert(1)</script>"), nil, nil, ErrUnsafe},
		"handler":           {"card.html", evil, nil, nil, ErrUnsafe},
		"gzip of another":   {"card.html", p.Body, other.Gzip, p.Zstd, ErrUnsafe},
		"zstd of another":   {"card.html", p.Body, p.Gzip, other.Zstd, ErrUnsafe},
		"gzip not gzip":     {"card.html", p.Body, []byte("x"), p.Zstd, ErrUnsafe},
		"bad name":          {"a/b", p.Body, nil, nil, ErrBadName},
		"empty":             {"card.html", nil, nil, nil, ErrEmptyPage},
		"not utf-8":         {"card.html", []byte("<p>\xff</p>"), nil, nil, ErrNotUTF8},
		"remote stylesheet": {"card.html", []byte(`<link rel="stylesheet" href="https://x/a.css">`), nil, nil, ErrUnsafe},
	} {
		if r, err := Restore(tc.name, tc.body, tc.gz, tc.zstd); r != nil || !errors.Is(err, tc.err) {
			t.Errorf("%s: Restore = %v, %v; want %v", name, r, err, tc.err)
		}
	}
}
