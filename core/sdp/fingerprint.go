package sdp

import (
	"fmt"
	"strings"
)

// Fingerprint is the value of a=fingerprint (RFC 8122 §5, which obsoletes RFC 4572): the hash of the
// certificate the endpoint presents in its TLS handshake, for self-signed certificates.
//
//	attribute             =/ fingerprint-attribute
//	fingerprint-attribute =  "fingerprint" ":" hash-func SP fingerprint
//	hash-func             =  "sha-1" / "sha-224" / "sha-256" / "sha-384" / "sha-512" /
//	                         "md5" / "md2" / token
//	                         ; Additional hash functions can only come from updates to RFC 3279
//	fingerprint           =  2UHEX *(":" 2UHEX)
//	                         ; Each byte in upper-case hex, separated by colons.
//	UHEX                  =  DIGIT / %x41-46 ; A-F uppercase
//
// The attribute may be at session or media level; a media-level one overrides the session-level ones
// for that media (RFC 8122 §5). Several attributes may be present, one per hash function or certificate.
type Fingerprint struct {
	Hash  string // hash function, lower-cased ("sha-256"); any token is kept, supported or not
	Value []byte // the digest
}

// maxFingerprintLen bounds the digest of an unknown hash function (sha-512 has 64 bytes).
const maxFingerprintLen = 64

// fingerprintLen is the digest length of the hash functions RFC 8122 names.
var fingerprintLen = map[string]int{
	"sha-1": 20, "sha-224": 28, "sha-256": 32, "sha-384": 48, "sha-512": 64, "md5": 16, "md2": 16,
}

// ParseFingerprint parses an a=fingerprint value such as "sha-256 4A:AD:B9:...". The grammar is
// applied strictly (one SP, colon-separated pairs, no surrounding space) except that lower-case hex
// digits are accepted, as browsers and terminals emit them; the hash function is case-insensitive
// (RFC 8122 §5) and returned lower-cased. For the hash functions RFC 8122 names, the digest must have
// their length. Errors wrap ErrSyntax.
func ParseFingerprint(v string) (Fingerprint, error) {
	hf, hv, ok := strings.Cut(v, " ")
	if !ok {
		return Fingerprint{}, fmt.Errorf("%w: a=fingerprint:%q has no hash function and value", ErrSyntax, v)
	}
	if hf == "" || !isToken(hf) {
		return Fingerprint{}, fmt.Errorf("%w: a=fingerprint hash function %q is not a token", ErrSyntax, hf)
	}
	hf = strings.ToLower(hf)
	if len(hv) < 2 || (len(hv)+1)%3 != 0 || (len(hv)+1)/3 > maxFingerprintLen {
		return Fingerprint{}, fmt.Errorf("%w: a=fingerprint value %q is not 1 to %d hex pairs", ErrSyntax, hv, maxFingerprintLen)
	}
	b := make([]byte, (len(hv)+1)/3)
	for i := range b {
		p := hv[3*i:]
		if !isHex(p[0]) || !isHex(p[1]) || (len(p) > 2 && p[2] != ':') {
			return Fingerprint{}, fmt.Errorf("%w: a=fingerprint value %q: bad hex pair at byte %d", ErrSyntax, hv, i+1)
		}
		b[i] = unhex(p[0])<<4 | unhex(p[1])
	}
	if n, ok := fingerprintLen[hf]; ok && n != len(b) {
		return Fingerprint{}, fmt.Errorf("%w: a=fingerprint %s digest has %d bytes, want %d", ErrSyntax, hf, len(b), n)
	}
	return Fingerprint{Hash: hf, Value: b}, nil
}

// String returns the attribute value in RFC 8122 form: the hash function, SP and upper-case hex pairs.
func (f Fingerprint) String() string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(f.Hash) + 1 + 3*len(f.Value))
	b.WriteString(f.Hash)
	b.WriteByte(' ')
	for i, c := range f.Value {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

// parseFingerprints parses every a=fingerprint in as; nil when there is none.
func parseFingerprints(as []Attr) ([]Fingerprint, error) {
	var out []Fingerprint
	for _, a := range as {
		if a.Key != "fingerprint" {
			continue
		}
		if a.Flag {
			return nil, fmt.Errorf("%w: a=fingerprint without a value", ErrSyntax)
		}
		f, err := ParseFingerprint(a.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// isToken reports whether s consists of RFC 8866 token-chars:
//
//	token-char = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	             "^" / "_" / "`" / "{" / "|" / "}" / "~"
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
