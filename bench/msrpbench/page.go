package msrpbench

import "github.com/herald-ims/herald/core/content"

// PageBytes returns a deterministic HTML document of exactly n bytes (n ≥ 64) made of varied words, so
// that parent and child processes build the same page without exchanging it.
func PageBytes(n int) []byte {
	const head, tail = "<!DOCTYPE html><html><body><p>", "</p></body></html>"
	n = max(n, len(head)+len(tail))
	b := make([]byte, 0, n)
	b = append(b, head...)
	words := []string{"caller ", "card ", "herald ", "push ", "msrp ", "ringing ", "page ", "hello "}
	x := uint32(2463534242)
	for len(b) < n-len(tail) {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		w := words[x%uint32(len(words))]
		if room := n - len(tail) - len(b); len(w) > room {
			w = "........"[:room]
		}
		b = append(b, w...)
	}
	return append(b, tail...)
}

// NewPage builds the content.Page of PageBytes(n).
func NewPage(n int) (*content.Page, error) { return content.NewPage("card.html", PageBytes(n)) }
