package sipfast

// uri.go: the scanner's reading of URIs, host:port and the header values it checks.

import (
	"bytes"
)

// sipURI is what the fast path reads of a sip: URI: its host (an IP literal), port (0 when absent),
// transport parameter and lr flag.
type sipURI struct {
	host      []byte
	port      int
	transport []byte
	lr        bool
	general   bool // ;herald=general: a Record-Route of the general path's (DialogParam)
}

// parseSIPURI reads a sip: URI (not sips:, not tel:). It reports false for anything else.
func parseSIPURI(u []byte) (sipURI, bool) {
	if !hasPrefixFold(u, "sip:") {
		return sipURI{}, false
	}
	return parseURIRest(u[4:])
}

// requestURI reports whether the scanner takes u as a Request-URI: a sip: URI it reads, or a tel:
// URI (RFC 3966), the form an IMS core often gives the served user's identity in (3GPP TS 24.229
// §5.4.3.3: the terminating S-CSCF keeps the tel URI it was reached at when no ENUM translation
// ran). A tel: URI names no host: an INVITE to one goes to the configured next hop or along its
// Route like any other (route), any other request without a Route to the general path. Its
// characters are the URI ones (RFC 3966 §3 telephone-subscriber and its parameters use no others);
// sipgo keeps what follows "tel:" as it is (Uri.Raw), and so does the scanner.
func requestURI(u []byte) bool {
	if _, ok := parseSIPURI(u); ok {
		return true
	}
	return len(u) > 4 && hasPrefixFold(u, "tel:") && uriChars(u[4:])
}

// parseURIRest reads a sip: or sips: URI after its scheme.
func parseURIRest(u []byte) (sipURI, bool) {
	var r sipURI
	if at := bytes.IndexByte(u, '@'); at >= 0 {
		// sipgo ends the userinfo at the first '@' and refuses a '[' in it.
		if bytes.IndexByte(u[:at], '[') >= 0 || !uriChars(u[:at]) {
			return r, false
		}
		u = u[at+1:]
	}
	hp := u
	var params []byte
	if s := bytes.IndexAny(u, ";?"); s >= 0 {
		hp, params = u[:s], u[s:]
	}
	var ok bool
	if r.host, r.port, ok = hostPort(hp); !ok || !uriChars(params) {
		return r, false
	}
	for len(params) > 0 && params[0] == ';' {
		params = params[1:]
		e := bytes.IndexAny(params, ";?")
		p := params
		if e >= 0 {
			p, params = params[:e], params[e:]
		} else {
			params = nil
		}
		k, v := p, []byte(nil)
		if eq := bytes.IndexByte(p, '='); eq >= 0 {
			k, v = p[:eq], p[eq+1:]
		}
		switch {
		case equalFold(k, "lr"):
			r.lr = true
		case equalFold(k, "transport"):
			r.transport = v
		case equalFold(k, DialogParam):
			r.general = equalFold(v, "general")
		case equalFold(k, "maddr"):
			return r, false // maddr overrides the host (RFC 3261 §19.1.1): the general path's business
		}
	}
	if len(params) > 0 {
		return r, false // URI headers
	}
	return r, true
}

func trimBlanks(b []byte) []byte { return bytes.Trim(b, " \t") }

func hasPrefixFold(b []byte, lowerPrefix string) bool {
	return len(b) >= len(lowerPrefix) && equalFold(b[:len(lowerPrefix)], lowerPrefix)
}

// isToken reports whether b is a non-empty RFC 3261 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '!' || c == '%' || c == '*' || c == '_' || c == '+' || c == '`' || c == '\'' || c == '~':
		default:
			return false
		}
	}
	return true
}

// atoi reads a non-empty decimal of at most 10 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// hostPort reads host[:port] (a sip: URI's hostport, a Via's sent-by): a hostname or IPv4 address,
// or an IPv6 reference (host without its brackets), and a port of 1 to 65535 (0 when absent).
func hostPort(hp []byte) (host []byte, port int, ok bool) {
	if len(hp) > 0 && hp[0] == '[' {
		e := bytes.IndexByte(hp, ']')
		if e < 0 || e > 40 { // sipgo looks for ']' in the first 42 bytes only
			return nil, 0, false
		}
		host, hp = hp[1:e], hp[e+1:]
		for _, c := range host {
			if !('0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f' || c == ':' || c == '.') {
				return nil, 0, false
			}
		}
		if len(hp) > 0 && hp[0] != ':' {
			return nil, 0, false
		}
	} else {
		c := bytes.IndexByte(hp, ':')
		if c < 0 {
			c = len(hp)
		}
		host, hp = hp[:c], hp[c:]
		for _, c := range host {
			if !('0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z' || c == '-' || c == '.') {
				return nil, 0, false
			}
		}
	}
	if len(hp) > 0 {
		p, good := atoi(hp[1:])
		if !good || p == 0 || p > 65535 {
			return nil, 0, false
		}
		port = p
	}
	return host, port, len(host) > 0
}

// uriChars reports whether b is made of RFC 3261 URI characters (unreserved, reserved, escaped, and
// the brackets of an IPv6 reference).
func uriChars(b []byte) bool {
	for _, c := range b {
		if !uriTab[c] {
			return false
		}
	}
	return true
}

var uriTab = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()%;/?:@&=+$,[]") {
		t[c] = true
	}
	return t
}()

// printable reports whether b is visible ASCII only (no blanks, controls or UTF-8).
func printable(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// checkLine checks the value of a header sipgo parses with a typed parser that the scanner does
// not otherwise read, so that a message the scanner accepts is one sipgo reads (and reads alike).
func checkLine(id hdrID, v []byte) bool {
	switch id {
	case hFrom, hReferredBy:
		_, ok := addr(v)
		return ok
	case hVia:
		for {
			e := bytes.IndexByte(v, ',')
			if e < 0 {
				e = len(v)
			}
			if !viaValue(trimBlanks(v[:e])) {
				return false
			}
			if e == len(v) {
				return true
			}
			v = v[e+1:]
		}
	case hRoute, hRecordRoute, hReferTo:
		// Every entry, empty ones too: sipgo makes an empty Route of "Route:" or "<sip:a>,", which
		// eachRoute skips.
		for {
			e := entryEnd(v)
			a := trimBlanks(v[:e])
			if bytes.IndexByte(a, '<') < 0 {
				return false // RFC 3261 §20.34: name-addr only
			}
			if _, ok := addr(a); !ok {
				return false
			}
			if e == len(v) {
				return true
			}
			v = v[e+1:]
		}
	case hContentType:
		return mediaType(v)
	}
	return true
}

// mediaType checks that a Content-Type value begins with type "/" subtype, both tokens (RFC 3261
// §20.15): sipgo trims Unicode white space (a vertical tab, U+0085) the scanner keeps, so anything
// that does not start with a token is the general path's to answer.
func mediaType(v []byte) bool {
	s := bytes.IndexByte(v, '/')
	if s <= 0 || !isToken(v[:s]) {
		return false
	}
	sub := v[s+1:]
	if e := bytes.IndexAny(sub, "; \t"); e >= 0 {
		sub = sub[:e]
	}
	return isToken(sub)
}

// viaValue checks one Via value: protocol/version/transport, a blank, sent-by, then parameters
// (RFC 3261 §20.42), without quoted strings.
func viaValue(v []byte) bool {
	sp := bytes.IndexAny(v, " \t")
	if sp < 0 || bytes.IndexByte(v, '"') >= 0 {
		return false
	}
	proto := v[:sp]
	for i := 0; i < 2; i++ {
		s := bytes.IndexByte(proto, '/')
		if s < 0 || !isToken(proto[:s]) {
			return false
		}
		proto = proto[s+1:]
	}
	if !isToken(proto) {
		return false
	}
	rest := trimBlanks(v[sp:])
	sb := rest
	if semi := bytes.IndexByte(rest, ';'); semi >= 0 {
		sb = rest[:semi]
	}
	_, _, ok := hostPort(sb)
	return ok
}

// addr checks a From, To, Route... value both the scanner and sipgo read alike, and returns its
// header parameters: an optional display name (tokens, or a quoted string without escapes), the
// URI in angle brackets or alone, then ;name[=value] parameters without blanks (RFC 3261 §20.10).
func addr(v []byte) (params []byte, ok bool) {
	uri, params, ok := nameAddr(v)
	if !ok || !validURI(uri) {
		return nil, false
	}
	if start := cap(v) - cap(uri); start > 0 { // name-addr: uri is v[start:gt]
		d := trimBlanks(v[:start-1])
		if len(d) > 0 && d[0] == '"' {
			if len(d) < 2 || bytes.IndexByte(d[1:], '"') != len(d)-2 || bytes.IndexByte(d, '\\') >= 0 {
				return nil, false
			}
		} else {
			for i := range d { // tokens and blanks
				if d[i] != ' ' && d[i] != '\t' && !isToken(d[i:i+1]) {
					return nil, false
				}
			}
		}
	}
	if len(params) == 0 {
		return params, true
	}
	if params[0] != ';' {
		return nil, false
	}
	for _, c := range params {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == ',' {
			return nil, false
		}
	}
	for p := params[1:]; ; {
		e := bytes.IndexByte(p, ';')
		if e < 0 {
			e = len(p)
		}
		k, val, eq := bytes.Cut(p[:e], []byte("="))
		if !isToken(k) || eq && (len(val) == 0 || bytes.IndexByte(val, '=') >= 0) {
			return nil, false
		}
		if equalFold(k, "tag") && string(k) != "tag" {
			return nil, false // sipgo looks parameters up in lower case only
		}
		if e == len(p) {
			return params, true
		}
		p = p[e+1:]
	}
}

// validURI checks a URI's scheme and, for sip: and sips:, its userinfo and hostport.
func validURI(u []byte) bool {
	c := bytes.IndexByte(u, ':')
	if c <= 0 || c == len(u)-1 || !uriChars(u[c+1:]) {
		return false
	}
	for _, ch := range u[:c] {
		if !('a' <= ch|0x20 && ch|0x20 <= 'z') {
			return false // sipgo takes letters only (RFC 3261 also allows digits, '+', '-', '.')
		}
	}
	if !equalFold(u[:c], "sip") && !equalFold(u[:c], "sips") {
		return true
	}
	_, ok := parseURIRest(u[c+1:])
	return ok
}
