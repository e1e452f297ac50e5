package content

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // RFC 5547 §6 file-selector hash is sha-1 by definition
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Media types a page can be sent as.
const (
	TypeHTML = "text/html"
	// ContentTypeHTML is the Content-Type an identity page is sent with: pages are validated UTF-8,
	// so the SEND names the charset parameter of text/html (RFC 2854) and no terminal has to guess it.
	ContentTypeHTML = "text/html;charset=utf-8"
	TypeGzip        = "application/gzip" // RFC 6713
	TypeZstd        = "application/zstd" // RFC 8878
)

// MaxPageBytes is the largest page accepted; MSRP terminals and Call-Info browsers both expect small cards.
const MaxPageBytes = 1 << 20

// Page is one immutable version of an HTML page.
type Page struct {
	Name string // display file name for a=file-selector (never a path)
	Body []byte // identity bytes, text/html; immutable
	Gzip []byte // gzip -9 of Body; immutable
	Zstd []byte // zstd best of Body; immutable
	SHA1 [20]byte
	// Version is the content address: hex SHA-1 of Body.
	Version string

	sanitized bool // built by Prepare; see Sanitized
}

// gzPool reuses gzip -9 writers: each one allocates about 1.4 MB of tables, far more than a page.
var gzPool = sync.Pool{New: func() any {
	w, err := gzip.NewWriterLevel(nil, gzip.BestCompression)
	if err != nil {
		panic("content: gzip level: " + err.Error()) // constant level; cannot fail
	}
	return w
}}

// zPool reuses zstd encoders the way gzPool does, so that none stays live between page builds. One
// encoder at SpeedBestCompression with zstd's default 8 MiB window holds about 50 MB of tables and
// history for good: a package-level one kept that much live heap in every Herald process that had
// built one page, and the collector (limits.gc_percent 400) let the heap grow by five times that
// before each cycle. The window is MaxPageBytes: every page fits in it whole, so the output is as
// small as with the default window, for an eighth of the memory while a page is built.
var zPool = sync.Pool{New: func() any {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(MaxPageBytes))
	if err != nil {
		panic("content: zstd options: " + err.Error()) // constant options; cannot fail
	}
	return e
}}

// NewPage builds the Page of body with Prepare and DefaultPolicy: validated, sanitised, hashed and
// compressed. What sanitising removed is not reported; uploads call Prepare to tell the uploader.
// The body is copied, so the caller may reuse its slice.
func NewPage(name string, body []byte) (*Page, error) {
	p, _, err := Prepare(name, body, DefaultPolicy())
	return p, err
}

// newPage builds a Page from a body Prepare has checked and sanitised: the only constructor that
// marks a Page sanitised.
func newPage(name string, body []byte) (*Page, error) {
	p := &Page{Name: name, Body: bytes.Clone(body), sanitized: true}
	p.SHA1 = sha1.Sum(p.Body) //nolint:gosec // see import
	p.Version = hex.EncodeToString(p.SHA1[:])

	var gz bytes.Buffer
	gz.Grow(len(p.Body)/2 + 64)
	zw := gzPool.Get().(*gzip.Writer)
	zw.Reset(&gz)
	if _, err := zw.Write(p.Body); err != nil {
		return nil, fmt.Errorf("content: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("content: gzip: %w", err)
	}
	gzPool.Put(zw)
	p.Gzip = gz.Bytes()
	ze := zPool.Get().(*zstd.Encoder)
	p.Zstd = ze.EncodeAll(p.Body, nil)
	zPool.Put(ze)
	return p, nil
}

// Sanitized reports whether p was built by Prepare (or NewPage), so its Body passed the policy and
// the final safety check. A Page assembled as a literal elsewhere is not: the planes that push pages
// refuse it.
func (p *Page) Sanitized() bool { return p != nil && p.sanitized }

func looksHTML(b []byte) bool {
	head := b
	if len(head) > 512 {
		head = head[:512]
	}
	head = bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	l := bytes.ToLower(head)
	return bytes.HasPrefix(l, []byte("<!doctype html")) || bytes.HasPrefix(l, []byte("<html")) ||
		bytes.HasPrefix(l, []byte("<!--")) || bytes.Contains(l, []byte("<html"))
}

// HashSelector renders the SHA-1 the way RFC 5547 §6 wants it in a=file-selector: "sha-1:72:24:5F:…".
func (p *Page) HashSelector() string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len("sha-1:") + 3*len(p.SHA1))
	b.WriteString("sha-1:")
	for i, c := range p.SHA1 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&0xf])
	}
	return b.String()
}

// Variant picks the representation to send to a peer whose a=accept-types lists accept.
// zstd beats gzip beats identity; identity is always the fallback. The returned slice is shared.
func (p *Page) Variant(accept []string) (ctype string, body []byte) {
	has := func(t string) bool {
		for _, a := range accept {
			if strings.EqualFold(a, t) {
				return true
			}
		}
		return false
	}
	switch {
	case has(TypeZstd) && len(p.Zstd) < len(p.Body):
		return TypeZstd, p.Zstd
	case has(TypeGzip) && len(p.Gzip) < len(p.Body):
		return TypeGzip, p.Gzip
	}
	return ContentTypeHTML, p.Body
}

// Restore rebuilds a Page a store kept (Name, Body and the Gzip and Zstd variants as Prepare made
// them) without sanitising it again: it checks the name, that Body is UTF-8 and passes the final
// safety check Prepare ends with (so a store file altered behind Herald's back cannot put a script
// on a phone), and that each variant decodes to Body; a nil variant is made again. The slices are
// kept, not copied: the caller must not modify them afterwards. The policy's size limit is not
// applied (a page is stored only after Prepare accepted it).
func Restore(name string, body, gz, zs []byte) (*Page, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, &InputError{Err: ErrEmptyPage, Reason: "no bytes"}
	}
	if err := errNotUTF8(body); err != nil {
		return nil, err
	}
	if err := checkSafe(trimDoctype(body)); err != nil {
		return nil, err
	}
	if gz == nil || zs == nil {
		p, err := newPage(name, body)
		if err != nil {
			return nil, err
		}
		p.Body = body
		return p, nil
	}
	if err := sameBody(body, gz, zs); err != nil {
		return nil, err
	}
	p := &Page{Name: name, Body: body, Gzip: gz, Zstd: zs, SHA1: sha1.Sum(body), sanitized: true} //nolint:gosec // see import
	p.Version = hex.EncodeToString(p.SHA1[:])
	return p, nil
}

// sameBody checks that gz and zs decode to body exactly (reading at most one byte more).
func sameBody(body, gz, zs []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err == nil {
		var got []byte
		got, err = io.ReadAll(io.LimitReader(zr, int64(len(body))+1))
		if err == nil && !bytes.Equal(got, body) {
			err = errors.New("does not decode to the body")
		}
	}
	if err != nil {
		return &InputError{Err: ErrUnsafe, Reason: "gzip variant: " + err.Error()}
	}
	got, err := zdec.DecodeAll(zs, make([]byte, 0, len(body)))
	if err == nil && !bytes.Equal(got, body) {
		err = errors.New("does not decode to the body")
	}
	if err != nil {
		return &InputError{Err: ErrUnsafe, Reason: "zstd variant: " + err.Error()}
	}
	return nil
}

// zdec decodes stored zstd variants in Restore; DecodeAll is safe for concurrent use.
var zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(4*MaxPageBytes))
