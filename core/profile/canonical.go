package profile

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Canonical turns a subscriber identity into the key profiles are stored under.
//
// It accepts what arrives in P-Asserted-Identity, From and the Request-URI: a name-addr with or
// without display name and header parameters (`"Alice" <sip:alice@home1.net>;tag=x`), an addr-spec,
// or a bare identity typed by an operator (`+1 212 555 2222`, `alice@home1.net`).
//
//   - tel: URIs (RFC 3966) and sip:/sips: URIs with user=phone yield the number with visual separators
//     (- . ( )) removed: "+12125552222" for a global number, plain digits for a local one
//     (phone-context is dropped). A sip: user that is a '+'-number is treated the same way even without
//     user=phone, as IMS networks often omit it.
//   - other sip:/sips: URIs yield "user@host": the user keeps its case (RFC 3261 §19.1.4 compares it
//     case-sensitively), percent-escapes are decoded, the host is lowercased, port, password, URI
//     parameters and headers are dropped.
//
// Anything else (no user part, other schemes, letters in a number, empty input) wraps ErrBadIdentity.
func Canonical(uri string) (string, error) {
	s := strings.TrimSpace(uri)
	addr, err := addrSpec(s)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %q", ErrBadIdentity, err.Error(), uri)
	}
	key, why := canonAddr(addr)
	if why != "" {
		return "", fmt.Errorf("%w: %s: %q", ErrBadIdentity, why, uri)
	}
	return key, nil
}

// reason is a short error text used inside Canonical before wrapping.
type reason string

func (r reason) Error() string { return string(r) }

// addrSpec strips a display name, angle brackets and header parameters.
func addrSpec(s string) (string, error) {
	if s == "" {
		return "", reason("empty")
	}
	rest := s
	if rest[0] == '"' { // quoted display name: skip it, honouring \" escapes
		i := 1
		for ; i < len(rest); i++ {
			if rest[i] == '\\' {
				i++
				continue
			}
			if rest[i] == '"' {
				break
			}
		}
		if i >= len(rest) {
			return "", reason("unterminated display name")
		}
		rest = rest[i+1:]
		if !strings.Contains(rest, "<") {
			return "", reason("display name without <uri>")
		}
	}
	lt := strings.IndexByte(rest, '<')
	if lt < 0 {
		return s, nil
	}
	gt := strings.IndexByte(rest[lt:], '>')
	if gt < 0 {
		return "", reason("unterminated <uri>")
	}
	return strings.TrimSpace(rest[lt+1 : lt+gt]), nil
}

func canonAddr(addr string) (string, string) {
	lower := strings.ToLower(addr)
	switch {
	case strings.HasPrefix(lower, "tel:"):
		num, _, _ := strings.Cut(addr[len("tel:"):], ";")
		return canonNumber(num, false)
	case strings.HasPrefix(lower, "sip:"):
		return canonSIP(addr[len("sip:"):])
	case strings.HasPrefix(lower, "sips:"):
		return canonSIP(addr[len("sips:"):])
	}
	if i := strings.IndexAny(addr, ":@"); i >= 0 && addr[i] == ':' {
		return "", "unsupported scheme"
	}
	if strings.Contains(addr, "@") {
		return canonSIP(addr)
	}
	return canonNumber(addr, true)
}

// canonNumber removes visual separators (and spaces, for operator input) and checks the digits. A
// number without separators is its own key: no copy is made.
func canonNumber(n string, bare bool) (string, string) {
	kept := 0
	for i := 0; i < len(n); i++ {
		switch c := n[i]; {
		case c >= '0' && c <= '9', c == '+' && i == 0:
			kept++
		case c == '-' || c == '.' || c == '(' || c == ')':
		case c == ' ' && bare:
		default:
			return "", "not a telephone number"
		}
	}
	out := n
	if kept < len(n) {
		var b strings.Builder
		b.Grow(kept)
		for i := 0; i < len(n); i++ {
			if c := n[i]; c >= '0' && c <= '9' || c == '+' { // '+' passed the check above: first only
				b.WriteByte(c)
			}
		}
		out = b.String()
	}
	digits := len(strings.TrimPrefix(out, "+"))
	switch {
	case digits == 0:
		return "", "no digits"
	case out[0] == '+' && digits > 15:
		return "", "more than 15 digits in an E.164 number"
	case digits > 32:
		return "", "number too long"
	}
	return out, ""
}

func canonSIP(rest string) (string, string) {
	at := strings.IndexByte(rest, '@')
	if at < 0 {
		return "", "no user part"
	}
	user, hostpart := rest[:at], rest[at+1:]
	hostpart, _, _ = strings.Cut(hostpart, "?")
	hostport, params, _ := strings.Cut(hostpart, ";")
	phone := false
	for p := range strings.SplitSeq(params, ";") {
		if strings.EqualFold(p, "user=phone") {
			phone = true
		}
	}

	host, why := canonHost(hostport)
	if why != "" {
		return "", why
	}

	if i := strings.IndexByte(user, ':'); i >= 0 { // user:password
		user = user[:i]
	}
	user, err := url.PathUnescape(user)
	if err != nil {
		return "", "bad escape in user part"
	}
	if user == "" {
		return "", "no user part"
	}
	if num, _, _ := strings.Cut(user, ";"); phone || strings.HasPrefix(user, "+") {
		n, why := canonNumber(num, false)
		if why == "" {
			return n, ""
		}
		if phone {
			return "", why
		}
	}
	for i := 0; i < len(user); i++ {
		// ':' only reaches here escaped (%3A; a bare one ends the user at the password). Unescaped
		// in a key it would read back as a URI scheme, so the key would not canonicalise to itself.
		if c := user[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '@' || c == ':' {
			return "", "bad character in user part"
		}
	}
	if k := len(user) + 1 + len(host); len(rest) >= k && rest[:len(user)] == user && rest[len(user)] == '@' &&
		rest[len(user)+1:k] == host {
		return rest[:k], "" // the key as written (no password, escape, upper case or port): no copy
	}
	return user + "@" + host, ""
}

// canonHost lowercases the host of hostport and drops the port.
func canonHost(hostport string) (string, string) {
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", "unterminated IPv6 reference"
		}
		a, err := netip.ParseAddr(hostport[1:end])
		if err != nil || !a.Is6() {
			return "", "bad IPv6 reference"
		}
		return "[" + a.String() + "]", ""
	}
	host := hostport
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if host == "" {
		return "", "no host"
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", "bad host"
		}
	}
	return strings.ToLower(host), ""
}
