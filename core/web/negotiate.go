package web

import "strings"

// qMax is q=1 in thousandths; qImplicit ranks an unmentioned identity below every coding the client
// named (RFC 9110 §12.5.3: identity is acceptable unless excluded, but a client that lists codings
// prefers them).
const (
	qMax      = 1000
	qImplicit = 1
)

// acceptEncoding holds the q-values (in thousandths, -1 when unmentioned) of the codings Herald has.
type acceptEncoding struct {
	q    [numCodings]int
	star int
}

// parseAcceptEncoding reads every Accept-Encoding field line (RFC 9110 §12.5.3):
//
//	Accept-Encoding  = #( codings [ weight ] )
//	codings          = content-coding / "identity" / "*"
//	weight           = OWS ";" OWS "q=" qvalue
//
// Elements with a malformed weight are ignored; unknown codings are ignored.
func parseAcceptEncoding(values []string) acceptEncoding {
	a := acceptEncoding{q: [numCodings]int{-1, -1, -1}, star: -1}
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(elem, ";")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			q, ok := parseWeight(params)
			if !ok {
				continue
			}
			switch {
			case strings.EqualFold(name, "zstd"):
				a.q[codingZstd] = q
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				a.q[codingGzip] = q
			case strings.EqualFold(name, "identity"):
				a.q[codingIdentity] = q
			case name == "*":
				a.star = q
			}
		}
	}
	return a
}

// parseWeight reads the parameters after a coding; only "q" is defined, others are ignored.
func parseWeight(params string) (q int, ok bool) {
	q = qMax
	for p := range strings.SplitSeq(params, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		if q, ok = parseQValue(strings.TrimSpace(v)); !ok {
			return 0, false
		}
	}
	return q, true
}

// parseQValue parses qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) into thousandths.
func parseQValue(s string) (int, bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * qMax
	rest := s[1:]
	if rest == "" {
		return q, true
	}
	if rest[0] != '.' || len(rest) > 4 {
		return 0, false
	}
	scale := 100
	for i := 1; i < len(rest); i++ {
		c := rest[i]
		if c < '0' || c > '9' || (q == qMax && c != '0') {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return q, true
}

// weight returns the effective q of coding c.
func (a acceptEncoding) weight(c coding) int {
	switch {
	case a.q[c] >= 0:
		return a.q[c]
	case a.star >= 0:
		return a.star
	case c == codingIdentity:
		return qImplicit
	}
	return 0
}

// choose picks the representation to send: the highest q, ties going to zstd > gzip > identity.
// A compressed body no smaller than the identity one is not offered unless identity is excluded.
// sizes[c] == 0 means the page lacks coding c. ok is false when the client excluded every
// representation the page has (answer 406).
func (a acceptEncoding) choose(sizes [numCodings]int) (best coding, ok bool) {
	idOK := sizes[codingIdentity] > 0 && a.weight(codingIdentity) > 0
	bestQ := 0
	for _, c := range [...]coding{codingZstd, codingGzip, codingIdentity} { // preference order
		q := a.weight(c)
		if sizes[c] == 0 || q == 0 || (c != codingIdentity && idOK && sizes[c] >= sizes[codingIdentity]) {
			continue
		}
		if q > bestQ {
			best, bestQ = c, q
		}
	}
	return best, bestQ > 0
}

// etagMatch reports whether an If-None-Match field value lists etag (a quoted strong tag) under the
// weak comparison RFC 9110 §13.1.2 requires, or is "*".
//
//	If-None-Match = "*" / #entity-tag
//	entity-tag    = [ "W/" ] DQUOTE *etagc DQUOTE
func etagMatch(values []string, etag string) bool {
	for _, v := range values {
		for {
			v = strings.TrimLeft(v, " \t,")
			if v == "" {
				break
			}
			if v[0] == '*' {
				return true
			}
			v = strings.TrimPrefix(v, "W/")
			if len(v) < 2 || v[0] != '"' {
				break // malformed: ignore the rest of this line
			}
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				break
			}
			if v[:end+2] == etag {
				return true
			}
			v = v[end+2:]
		}
	}
	return false
}
