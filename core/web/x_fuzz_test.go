package web

import (
	"strings"
	"testing"
)

// FuzzAcceptEncoding checks that negotiation never panics, never picks a coding the client gave q=0
// or the page lacks, and never passes over a coding with a strictly higher q.
// Seeds: RFC 9110 §12.5.3 examples and what browsers send.
func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{
		"compress, gzip", "", "*", "compress;q=0.5, gzip;q=1.0", "gzip;q=1.0, identity; q=0.5, *;q=0",
		"gzip, deflate, br, zstd", "zstd;q=0, gzip", "identity;q=0", "x-gzip", "gzip;q=0.001,zstd;q=1.000",
		" zstd ; q = 0 ,\tgzip ", "gzip;;;q=0.5,,", "*;q=0, identity;q=0",
	} {
		f.Add(s, 1000, 300, 250)
	}
	f.Fuzz(func(t *testing.T, header string, idSize, gzSize, zsSize int) {
		sizes := [numCodings]int{max(idSize%4096, 0), max(gzSize%4096, 0), max(zsSize%4096, 0)}
		a := parseAcceptEncoding(strings.Split(header, "\n"))
		for c := range numCodings {
			if w := a.weight(c); w < 0 || w > qMax {
				t.Fatalf("weight(%s) = %d out of range", codingNames[c], w)
			}
		}
		c, ok := a.choose(sizes)
		if !ok {
			if sizes[codingIdentity] > 0 && a.weight(codingIdentity) > 0 {
				t.Fatalf("406 although identity is acceptable: %q", header)
			}
			return
		}
		if sizes[c] == 0 || a.weight(c) == 0 {
			t.Fatalf("chose %s (size %d, q %d) for %q", codingNames[c], sizes[c], a.weight(c), header)
		}
		idOK := sizes[codingIdentity] > 0 && a.weight(codingIdentity) > 0
		for o := range numCodings {
			offered := sizes[o] > 0 && (o == codingIdentity || !idOK || sizes[o] < sizes[codingIdentity])
			if offered && a.weight(o) > a.weight(c) {
				t.Fatalf("chose %s q=%d over %s q=%d for %q", codingNames[c], a.weight(c), codingNames[o], a.weight(o), header)
			}
		}
	})
}

// FuzzETagMatch checks that If-None-Match parsing never panics and always finds the tag when it
// appears first, bare or weak (RFC 9110 §13.1.2 examples as seeds).
func FuzzETagMatch(f *testing.F) {
	for _, s := range []string{`"xyzzy"`, `W/"xyzzy"`, `"xyzzy", "r2d2xxxx", "c3piozzzz"`, `*`, `""`, `W/""`, `"a`, `,,,`} {
		f.Add(s, "xyzzy")
	}
	f.Fuzz(func(t *testing.T, header, tag string) {
		if strings.ContainsRune(tag, '"') {
			return
		}
		etag := `"` + tag + `"`
		_ = etagMatch([]string{header}, etag)
		if !etagMatch([]string{etag + ", " + header}, etag) || !etagMatch([]string{"W/" + etag}, etag) {
			t.Fatalf("tag %s not found in its own list", etag)
		}
	})
}
