package web

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
)

func newTestTable(maxTokens int) *table {
	return newTable(maxTokens, 10*time.Second, &counters{})
}

func TestTokenShape(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := newToken()
		if !validToken(tok) {
			t.Fatalf("newToken() = %q fails validToken", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q repeated", tok)
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA+/",
		"AAAAAAAAAAAAAAAAAAAA=="} {
		if validToken(bad) {
			t.Errorf("validToken(%q) = true", bad)
		}
	}
}

func TestSweepOrder(t *testing.T) {
	tb := newTestTable(100)
	page := testPage(t, "T")
	t0 := time.Unix(1000, 0)
	a, _ := tb.add(page, "c1", t0)
	b, _ := tb.add(page, "c1", t0.Add(time.Second))
	c, _ := tb.add(page, "c2", t0.Add(2*time.Second))
	tb.revoke(b) // leaves a stale queue record that the sweep must skip

	if n := tb.sweep(t0.Add(10*time.Second - time.Nanosecond)); n != 0 {
		t.Fatalf("swept %d before any expiry", n)
	}
	if n := tb.sweep(t0.Add(11500 * time.Millisecond)); n != 1 {
		t.Fatalf("swept %d, want 1 (a; b was revoked)", n)
	}
	if tb.get(a, t0) != nil || tb.get(c, t0) == nil {
		t.Fatal("wrong token swept")
	}
	if got := tb.byCall["c1"]; len(got) != 0 {
		t.Fatalf("byCall[c1] = %v after its tokens went", got)
	}
	if n := tb.sweep(t0.Add(time.Hour)); n != 1 || tb.len() != 0 || len(tb.queue) != 0 || len(tb.byCall) != 0 {
		t.Fatalf("final sweep %d, left %d tokens, %d queued, %d calls", n, tb.len(), len(tb.queue), len(tb.byCall))
	}
	if tb.stats.expired.Load() != 2 || tb.stats.revoked.Load() != 1 {
		t.Fatalf("expired %d revoked %d", tb.stats.expired.Load(), tb.stats.revoked.Load())
	}
}

// TestQueueBounded: publish-then-revoke churn within one TTL (every call revokes its tokens at
// teardown) keeps the expiry queue in proportion to the live tokens, not to the publish rate × TTL
// nor to max_tokens.
func TestQueueBounded(t *testing.T) {
	for _, max := range []int{10, 100000} {
		tb := newTestTable(max)
		page := testPage(t, "Q")
		now := time.Unix(1000, 0)
		var live []string
		for i := range 20000 {
			tok, err := tb.add(page, "c", now.Add(time.Duration(i)*time.Microsecond))
			if err != nil {
				t.Fatal(err)
			}
			if i%100 == 0 && len(live) < max/2 {
				live = append(live, tok) // a few stay published
				continue
			}
			tb.revoke(tok)
		}
		if q := len(tb.queue) - tb.head; q > 2*len(live)+compactSlack+1 {
			t.Fatalf("max %d: queue holds %d records for %d live tokens", max, q, len(live))
		}
		if tb.len() != len(live) {
			t.Fatalf("max %d: %d tokens left, want %d", max, tb.len(), len(live))
		}
		for _, tok := range live {
			if tb.get(tok, now) == nil {
				t.Fatalf("max %d: a live token was lost by compaction", max)
			}
		}
		if n := tb.sweep(now.Add(time.Hour)); n != len(live) || len(tb.queue) != 0 {
			t.Fatalf("max %d: the final sweep expired %d of %d live, %d records left", max, n, len(live), len(tb.queue))
		}
	}
}

// TestQueueCompacts: a long run of expiries in a big queue moves the live tail to the front.
func TestQueueCompacts(t *testing.T) {
	tb := newTestTable(10000)
	page := testPage(t, "C")
	t0 := time.Unix(1000, 0)
	var last string
	for i := range 3000 {
		last, _ = tb.add(page, "", t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := tb.sweep(t0.Add(10*time.Second + 2500*time.Millisecond)); n != 2501 {
		t.Fatalf("swept %d, want 2501", n)
	}
	if tb.head != 0 || len(tb.queue) != 499 {
		t.Fatalf("head %d len %d, want compacted 0/499", tb.head, len(tb.queue))
	}
	if tb.get(last, t0) == nil || tb.queue[498].token != last {
		t.Fatal("live tail lost in compaction")
	}
}

// TestPageHeadersShared: the header values of a page are built once per Version and shared by
// every token of it; another page gets its own; a page without a Version gets fresh ones; the
// cache is emptied when full, never grown past maxPageHeaders.
func TestPageHeadersShared(t *testing.T) {
	tb := newTestTable(10 * maxPageHeaders)
	now := time.Unix(1000, 0)
	a, b := testPage(t, "A"), testPage(t, "B page")
	entryOf := func(p *content.Page) *entry {
		tok, err := tb.add(p, "call", now)
		if err != nil {
			t.Fatal(err)
		}
		return tb.get(tok, now)
	}
	a1, a2, b1 := entryOf(a), entryOf(a), entryOf(b)
	if a1.hdr != a2.hdr {
		t.Error("two tokens of one page built its header values twice")
	}
	if a1.hdr == b1.hdr || a1.hdr.etag[0][0] == b1.hdr.etag[0][0] {
		t.Error("two pages share header values")
	}
	for c, body := range [numCodings][]byte{b.Body, b.Gzip, b.Zstd} {
		if got, want := b1.hdr.length[c][0], strconv.Itoa(len(body)); got != want {
			t.Errorf("coding %d: Content-Length %s, want %s", c, got, want)
		}
		if got, want := b1.hdr.etag[c][0], `"`+b.Version+etagSuffix[c]+`"`; got != want {
			t.Errorf("coding %d: ETag %s, want %s", c, got, want)
		}
		if cap(b1.hdr.etag[c]) != 1 || cap(b1.hdr.length[c]) != 1 {
			t.Errorf("coding %d: a shared header value has room to append in place", c)
		}
	}
	nv := *a
	nv.Version = ""
	n1, n2 := entryOf(&nv), entryOf(&nv)
	if n1.hdr == n2.hdr || n1.hdr.etag[0] != nil || n1.hdr.length[0][0] != strconv.Itoa(len(nv.Body)) {
		t.Errorf("a page without a Version: shared %v, etag %q, length %q", n1.hdr == n2.hdr, n1.hdr.etag[0], n1.hdr.length[0])
	}
	for i := range maxPageHeaders + 10 {
		p := *a
		p.Version = fmt.Sprintf("%040x", i)
		entryOf(&p)
		if len(tb.hdrs) > maxPageHeaders {
			t.Fatalf("%d pages cached, bound %d", len(tb.hdrs), maxPageHeaders)
		}
	}
}
