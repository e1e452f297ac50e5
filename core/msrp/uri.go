package msrp

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// URI is an MSRP URI (RFC 4975 §6, §9):
//
//	MSRP-URI   = msrp-scheme "://" authority ["/" session-id] ";" transport *( ";" URI-parameter )
//	msrp-scheme = "msrp" / "msrps"
//	session-id = 1*( unreserved / "+" / "=" / "/" )
//	transport  = "tcp" / 1*ALPHANUM
//
// Example: msrp://alice@atlanta.example.com:7654/jshA7we;tcp
type URI struct {
	Secure    bool   // msrps
	Host      string // host name or IP address; IPv6 without brackets
	Port      int    // 0 when absent (then DefaultPort applies, but §6.1 compares it as absent)
	SessionID string // "" when absent
	Transport string // "tcp"
	User      string // userinfo before '@', "" when absent
	Params    string // raw URI parameters after the transport, without the leading ';'
}

// ParseURI parses one MSRP URI.
func ParseURI(s []byte) (URI, error) {
	var u URI
	rest := s
	switch {
	case hasPrefixFold(rest, "msrps://"):
		u.Secure = true
		rest = rest[8:]
	case hasPrefixFold(rest, "msrp://"):
		rest = rest[7:]
	default:
		return URI{}, fmt.Errorf("%w: scheme in %q", ErrBadURI, s)
	}
	// authority ends at '/' or ';'.
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != ';' {
		end++
	}
	auth := rest[:end]
	rest = rest[end:]
	if at := lastIndexByte(auth, '@'); at >= 0 {
		for _, c := range auth[:at] {
			if !isUserChar(c) {
				return URI{}, fmt.Errorf("%w: userinfo in %q", ErrBadURI, s)
			}
		}
		u.User = string(auth[:at])
		auth = auth[at+1:]
	}
	host, port, err := splitHostPort(auth)
	if err != nil {
		return URI{}, fmt.Errorf("%w: %w in %q", ErrBadURI, err, s)
	}
	u.Host, u.Port = host, port
	if len(rest) > 0 && rest[0] == '/' {
		rest = rest[1:]
		i := 0
		for i < len(rest) && rest[i] != ';' {
			if !isSessionChar(rest[i]) {
				return URI{}, fmt.Errorf("%w: session-id in %q", ErrBadURI, s)
			}
			i++
		}
		if i == 0 {
			return URI{}, fmt.Errorf("%w: empty session-id in %q", ErrBadURI, s)
		}
		u.SessionID = string(rest[:i])
		rest = rest[i:]
	}
	if len(rest) == 0 || rest[0] != ';' {
		return URI{}, fmt.Errorf("%w: no transport in %q", ErrBadURI, s)
	}
	rest = rest[1:]
	i := 0
	for i < len(rest) && rest[i] != ';' {
		if !isAlnum(rest[i]) {
			return URI{}, fmt.Errorf("%w: transport in %q", ErrBadURI, s)
		}
		i++
	}
	if i == 0 {
		return URI{}, fmt.Errorf("%w: empty transport in %q", ErrBadURI, s)
	}
	u.Transport = strings.ToLower(string(rest[:i]))
	if rest = rest[i:]; len(rest) > 0 {
		params := rest[1:] // rest[0] == ';'
		for _, c := range params {
			if c != ';' && c != '=' && !isTokenChar(c) {
				return URI{}, fmt.Errorf("%w: parameter in %q", ErrBadURI, s)
			}
		}
		u.Params = string(params)
	}
	return u, nil
}

// String formats u as an MSRP URI.
func (u URI) String() string {
	var b strings.Builder
	// One allocation: "msrps://" + userinfo@ + [host] + :port + /id + ;transport + ;params.
	b.Grow(len("msrps://@[]:65535/;;") + len(u.User) + len(u.Host) + len(u.SessionID) + len(u.Transport) + len(u.Params))
	if u.Secure {
		b.WriteString("msrps://")
	} else {
		b.WriteString("msrp://")
	}
	if u.User != "" {
		b.WriteString(u.User)
		b.WriteByte('@')
	}
	if strings.IndexByte(u.Host, ':') >= 0 {
		b.WriteByte('[')
		b.WriteString(u.Host)
		b.WriteByte(']')
	} else {
		b.WriteString(u.Host)
	}
	if u.Port != 0 {
		b.WriteByte(':')
		var pb [20]byte
		b.Write(strconv.AppendInt(pb[:0], int64(u.Port), 10))
	}
	if u.SessionID != "" {
		b.WriteByte('/')
		b.WriteString(u.SessionID)
	}
	b.WriteByte(';')
	b.WriteString(u.Transport)
	if u.Params != "" {
		b.WriteByte(';')
		b.WriteString(u.Params)
	}
	return b.String()
}

// Equal compares two MSRP URIs as RFC 4975 §6.1 says: scheme, host and transport
// case-insensitively, port exactly (an explicit port never equals an absent
// one), session-id case-sensitively; userinfo and parameters are ignored.
func (u URI) Equal(v URI) bool {
	return u.Secure == v.Secure && strings.EqualFold(u.Host, v.Host) && u.Port == v.Port &&
		u.SessionID == v.SessionID && strings.EqualFold(u.Transport, v.Transport)
}

// FirstURI returns the first URI of a To-Path/From-Path value (URIs separated by
// SP), without allocating.
func FirstURI(path []byte) []byte {
	path = trimWS(path)
	for i, c := range path {
		if c == ' ' || c == '\t' {
			return path[:i]
		}
	}
	return path
}

// LastURI returns the last URI of a To-Path/From-Path value (the final
// destination of a To-Path, the original sender of a From-Path).
func LastURI(path []byte) []byte {
	path = trimWS(path)
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == ' ' || path[i] == '\t' {
			return path[i+1:]
		}
	}
	return path
}

// SessionIDOf returns the session-id of the FIRST URI in a To-Path/From-Path
// value, aliasing path (no allocation). It checks only what it needs: the
// scheme, that a session-id is present and made of session-id characters, and
// that a transport follows.
func SessionIDOf(path []byte) ([]byte, error) {
	u := FirstURI(path)
	switch {
	case hasPrefixFold(u, "msrps://"):
		u = u[8:]
	case hasPrefixFold(u, "msrp://"):
		u = u[7:]
	default:
		return nil, fmt.Errorf("%w: scheme in %q", ErrBadURI, path)
	}
	i := 0
	for i < len(u) && u[i] != '/' && u[i] != ';' {
		i++
	}
	if i == 0 || i == len(u) || u[i] != '/' {
		return nil, fmt.Errorf("%w: no session-id in %q", ErrBadURI, path)
	}
	u = u[i+1:]
	for i = 0; i < len(u) && u[i] != ';'; i++ {
		if !isSessionChar(u[i]) {
			return nil, fmt.Errorf("%w: session-id in %q", ErrBadURI, path)
		}
	}
	if i == 0 || i == len(u) {
		return nil, fmt.Errorf("%w: session-id or transport in %q", ErrBadURI, path)
	}
	return u[:i], nil
}

// splitHostPort parses host [":" port] of an RFC 3986 authority.
func splitHostPort(a []byte) (string, int, error) {
	var host, port []byte
	if len(a) > 0 && a[0] == '[' {
		end := indexByte(a, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("unclosed ip-literal")
		}
		host = a[1:end]
		if len(host) == 0 {
			return "", 0, fmt.Errorf("empty ip-literal")
		}
		for _, c := range host {
			if !isHex(c) && c != ':' && c != '.' {
				return "", 0, fmt.Errorf("ip-literal")
			}
		}
		a = a[end+1:]
		if len(a) > 0 {
			if a[0] != ':' {
				return "", 0, fmt.Errorf("after ip-literal")
			}
			port = a[1:]
			if len(port) == 0 {
				return "", 0, fmt.Errorf("empty port")
			}
		}
	} else {
		if c := indexByte(a, ':'); c >= 0 {
			host, port = a[:c], a[c+1:]
			if len(port) == 0 {
				return "", 0, fmt.Errorf("empty port")
			}
		} else {
			host = a
		}
		if len(host) == 0 {
			return "", 0, fmt.Errorf("empty host")
		}
		for _, c := range host {
			if !isHostChar(c) {
				return "", 0, fmt.Errorf("host character %q", c)
			}
		}
	}
	p := 0
	if port != nil {
		if len(port) > 5 {
			return "", 0, fmt.Errorf("port")
		}
		for _, c := range port {
			if !isDigit(c) {
				return "", 0, fmt.Errorf("port")
			}
			p = p*10 + int(c-'0')
		}
		if p == 0 || p > 65535 {
			return "", 0, fmt.Errorf("port %d", p)
		}
	}
	return string(host), p, nil
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && equalFold(b[:len(prefix)], prefix)
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func trimWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// isUnreserved: RFC 3986 unreserved.
func isUnreserved(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// isSessionChar: RFC 4975 session-id = 1*( unreserved / "+" / "=" / "/" ).
func isSessionChar(c byte) bool { return isUnreserved(c) || c == '+' || c == '=' || c == '/' }

// isHostChar: RFC 3986 reg-name (unreserved / pct-encoded / sub-delims minus ';').
func isHostChar(c byte) bool {
	if isUnreserved(c) || c == '%' {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', '=':
		return true
	}
	return false
}

// isUserChar: RFC 3986 userinfo (unreserved / pct-encoded / sub-delims / ":").
func isUserChar(c byte) bool { return isHostChar(c) || c == ':' }

// isTokenChar: RFC 3261 token.
func isTokenChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}
