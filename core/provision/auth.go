package provision

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// role is what a bearer token may do.
type role int

const (
	roleNone role = iota
	roleRead
	roleWrite
)

// MinTokenLen is the shortest bearer token accepted in configuration: 16 characters.
const MinTokenLen = 16

var errBadToken = errors.New("bad token")

// checkToken refuses tokens that are short or not RFC 6750 §2.1 b64token characters.
func checkToken(t string) error {
	if len(t) < MinTokenLen {
		return fmt.Errorf("%w: shorter than %d characters", errBadToken, MinTokenLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~+/=", c) >= 0) {
			return fmt.Errorf("%w: character %q is not a b64token character (RFC 6750 §2.1)", errBadToken, c)
		}
	}
	return nil
}

// tokens holds the SHA-256 of every accepted token. Comparing digests of equal length in constant
// time leaks neither a token's bytes nor its length, and every entry is compared on each request, so
// the time taken does not say which one matched.
type tokens struct {
	digests [][sha256.Size]byte
	roles   []role
}

func newTokens(rw, ro []string) *tokens {
	t := &tokens{}
	for _, s := range rw {
		t.digests, t.roles = append(t.digests, sha256.Sum256([]byte(s))), append(t.roles, roleWrite)
	}
	for _, s := range ro {
		t.digests, t.roles = append(t.digests, sha256.Sum256([]byte(s))), append(t.roles, roleRead)
	}
	return t
}

// check returns the role of token, roleNone when it is unknown.
func (t *tokens) check(token string) role {
	d := sha256.Sum256([]byte(token))
	got := roleNone
	for i := range t.digests {
		if subtle.ConstantTimeCompare(d[:], t.digests[i][:]) == 1 && t.roles[i] > got {
			got = t.roles[i]
		}
	}
	return got
}

// bearer extracts the token of an "Authorization: Bearer <token>" field (RFC 6750 §2.1; the scheme
// is case-insensitive, RFC 9110 §11.1).
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Values("Authorization")
	if len(v) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// equal reports whether t and u accept the same tokens with the same roles.
func (t *tokens) equal(u *tokens) bool {
	if len(t.digests) != len(u.digests) {
		return false
	}
	for i := range t.digests {
		if t.digests[i] != u.digests[i] || t.roles[i] != u.roles[i] {
			return false
		}
	}
	return true
}
