package store

import (
	"crypto/sha1" //nolint:gosec // a content address, not a security boundary; matches content.Page.Version
	"encoding/hex"

	"github.com/herald-ims/herald/core/content"
)

// refLen is the length of a page or clip reference: hex SHA-1.
const refLen = 40

func hexString(b []byte) string { return hex.EncodeToString(b) }

// IsRef reports whether s has the form of a page or clip reference (40 lowercase hex digits).
// A Ringback that is not a reference names a built-in clip.
func IsRef(s string) bool {
	if len(s) != refLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// PageRef is the reference PutPage stores p under: hex SHA-1 over p.Name, a NUL and p.Body.
func PageRef(p *content.Page) string {
	h := sha1.New() //nolint:gosec // see import
	h.Write([]byte(p.Name))
	h.Write([]byte{0})
	h.Write(p.Body)
	return hexString(h.Sum(nil))
}

// ClipRef is the reference PutClip stores c under: hex SHA-1 over its encoding (name, then each
// part in kind order with its kind), so the same clip is stored once.
func ClipRef(c *Clip) string {
	sum := sha1.Sum(encodeClip(c)) //nolint:gosec // see import
	return hexString(sum[:])
}
