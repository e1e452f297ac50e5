package provision

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
)

// Bearer is a rotatable set of bearer tokens (RFC 6750) checked exactly as the API checks its own:
// SHA-256 digests compared in constant time, every entry on every request. Herald's admin listener
// guards /metrics, /varz and pprof with one (http.admin_token_file, read with [ReadTokensFile];
// both rw and ro tokens grant access, the endpoints only read).
type Bearer struct {
	t atomic.Pointer[tokens]
}

// ErrNoTokens is NewBearer's and Set's answer to an empty token list: a guard that lets nobody in
// is a mistake, not a setting.
var ErrNoTokens = errors.New("provision: no bearer token")

// NewBearer returns a Bearer accepting tokens (each at least MinTokenLen RFC 6750 b64token
// characters).
func NewBearer(tokens []string) (*Bearer, error) {
	b := &Bearer{}
	if err := b.Set(tokens); err != nil {
		return nil, err
	}
	return b, nil
}

// Set replaces the accepted tokens (a reload); a request being checked sees the old set or the new.
func (b *Bearer) Set(toks []string) error {
	if len(toks) == 0 {
		return ErrNoTokens
	}
	for _, t := range toks {
		if err := checkToken(t); err != nil {
			return fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
	}
	b.t.Store(newTokens(toks, nil))
	return nil
}

// Check says whether r carries "Authorization: Bearer <one of the tokens>" (authorized), and
// whether it carried a bearer token at all (presented), for the RFC 6750 §3.1 error in the 401.
func (b *Bearer) Check(r *http.Request) (authorized, presented bool) {
	tok, ok := bearer(r)
	if !ok {
		return false, r.Header.Get("Authorization") != ""
	}
	return b.t.Load().check(tok) != roleNone, true
}
