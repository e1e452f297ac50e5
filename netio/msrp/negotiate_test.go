package msrp

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// fetch binds c to sess, receives the whole page, sends the success REPORT and returns what arrived and
// the session's result.
func fetch(t *testing.T, c *client, sess *push.Session, path string) (received, push.Result) {
	t.Helper()
	c.bind(path)
	if f := c.mustNext(2 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	r := c.receivePage(2*time.Second, true)
	n := int64(len(r.body))
	c.report(r.last.FromPath, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
	return r, waitResult(t, sess, 2*time.Second)
}

func decode(t *testing.T, ctype string, b []byte) []byte {
	t.Helper()
	switch ctype {
	case content.TypeZstd:
		dec, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		out, err := dec.DecodeAll(b, nil)
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		return out
	case content.TypeGzip:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		return out
	}
	return b
}

// TestSetAcceptAfterOpen: the terminal's a=accept-types arrive in its SDP answer, after Open; SetAccept
// decides the variant when it comes before the bind, a compressed type is sent only when listed by name,
// and a SetAccept after the bind changes nothing.
func TestSetAcceptAfterOpen(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 30000)
	var _ push.AcceptSetter = s
	for _, tc := range []struct {
		name   string
		open   []string // Session.Accept at Open
		set    []string // SetAccept before the bind (nil: not called)
		after  []string // SetAccept after the bind (nil: not called)
		wantCT string
	}{
		{name: "none", wantCT: content.ContentTypeHTML},
		{name: "set zstd", set: []string{"text/html", content.TypeZstd}, wantCT: content.TypeZstd},
		{name: "set gzip", set: []string{"text/html", content.TypeGzip}, wantCT: content.TypeGzip},
		{name: "set both prefers zstd", set: []string{content.TypeGzip, content.TypeZstd}, wantCT: content.TypeZstd},
		{name: "wildcard is not a listing", set: []string{"*"}, wantCT: content.ContentTypeHTML},
		{name: "set overrides open", open: []string{content.TypeZstd}, set: []string{"text/html"}, wantCT: content.ContentTypeHTML},
		{name: "open kept without set", open: []string{content.TypeGzip}, wantCT: content.TypeGzip},
		{name: "after bind ignored", after: []string{content.TypeZstd}, wantCT: content.ContentTypeHTML},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := openSession(t, s, push.CallerCard, page, 10*time.Second, tc.open...)
			if tc.set != nil {
				set := append([]string(nil), tc.set...)
				s.SetAccept(sess.ID, set)
				set[0] = "clobbered" // SetAccept must have copied
			}
			path := s.PathURI(sess.ID)
			c := dial(t, s)
			c.bind(path)
			if f := c.mustNext(2 * time.Second); f.Status != 200 {
				t.Fatalf("bind answer %+v", f)
			}
			if tc.after != nil {
				s.SetAccept(sess.ID, tc.after)
			}
			r := c.receivePage(2*time.Second, true)
			if got := r.frames[0].ContentType; got != tc.wantCT {
				t.Fatalf("Content-Type %q, want %q", got, tc.wantCT)
			}
			if !bytes.Equal(decode(t, tc.wantCT, r.body), page.Body) {
				t.Fatal("decoded body differs from the page")
			}
			n := int64(len(r.body))
			c.report(path, r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
			if res := waitResult(t, sess, 2*time.Second); res.Outcome != push.Delivered || res.Bytes != n {
				t.Fatalf("result %+v", res)
			}
		})
	}
	s.SetAccept("no-such-session", []string{content.TypeZstd}) // ignored, no panic
	waitFor(t, "sessions released", func() bool { return s.Stats().SessionsOpen == 0 })
}

// TestSetAcceptRace calls SetAccept concurrently with the bind (run with -race): either variant may win,
// but the page must arrive intact and consistent with its Content-Type.
func TestSetAcceptRace(t *testing.T) {
	s := startServer(t, testOptions())
	page := htmlPage(t, 20000)
	for range 20 {
		sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
		go s.SetAccept(sess.ID, []string{content.TypeGzip})
		r, res := fetch(t, dial(t, s), sess, s.PathURI(sess.ID))
		if res.Outcome != push.Delivered {
			t.Fatalf("result %+v", res)
		}
		if !bytes.Equal(decode(t, r.frames[0].ContentType, r.body), page.Body) {
			t.Fatalf("%s body differs from the page", r.frames[0].ContentType)
		}
	}
}
