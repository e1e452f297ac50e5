package content

import (
	"fmt"
	"testing"
)

func BenchmarkNewPage(b *testing.B) {
	for _, n := range []int{2 << 10, 18 << 10, 256 << 10} {
		body := bigHTML(n)
		b.Run(fmt.Sprintf("size=%db", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := NewPage("p.html", body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHashSelector(b *testing.B) {
	p, err := NewPage("p.html", []byte(hello))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.HashSelector()
	}
}

func BenchmarkVariant(b *testing.B) {
	p, err := NewPage("p.html", bigHTML(18<<10))
	if err != nil {
		b.Fatal(err)
	}
	accept := []string{"text/html", "application/gzip", "application/zstd"}
	b.ReportAllocs()
	for b.Loop() {
		if ct, _ := p.Variant(accept); ct != TypeZstd {
			b.Fatal(ct)
		}
	}
}

// BenchmarkRestore is what reading a stored page costs a store's cache miss: the safety check and
// decoding both variants (no sanitising, no compression).
func BenchmarkRestore(b *testing.B) {
	for _, n := range []int{2 << 10, 18 << 10, 256 << 10} {
		p, err := NewPage("p.html", bigHTML(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("size=%db", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.Body)))
			for b.Loop() {
				if _, err := Restore(p.Name, p.Body, p.Gzip, p.Zstd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
