package callsip

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/call"
)

// identity.go reads what the controller decides on of the caller's INVITE: its capabilities
// (Supported, Require, Allow, P-Early-Media, the Contact's feature tags) and the parties'
// identities the profiles are looked up by.

// scanInvite walks req's headers once, instead of one GetHeaders per name (each walks the whole
// list and lower-cases every generic header's name, allocating), and returns the caller's
// capabilities (call.ParseCaps of Supported, Require, Allow and P-Early-Media) and its first
// P-Asserted-Identity, nil if none. The values are collected on the stack: an INVITE has one or two
// of each (more go to the heap).
func scanInvite(req *sip.Request) (caps call.Caps, pai sip.Header) {
	var vals [4][2]string
	supported, require, allow, earlyMedia := vals[0][:0], vals[1][:0], vals[2][:0], vals[3][:0]
	for _, h := range req.Headers() {
		name := h.Name()
		switch {
		case strings.EqualFold(name, "Supported"):
			supported = append(supported, h.Value())
		case strings.EqualFold(name, "Require"):
			require = append(require, h.Value())
		case strings.EqualFold(name, "Allow"):
			allow = append(allow, h.Value())
		case strings.EqualFold(name, "P-Early-Media"):
			earlyMedia = append(earlyMedia, h.Value())
		case pai == nil && strings.EqualFold(name, "P-Asserted-Identity"):
			pai = h
		}
	}
	if len(supported) == 0 && len(require) == 0 && len(allow) == 0 && len(earlyMedia) == 0 {
		return noCaps, pai
	}
	return call.ParseCaps(supported, require, allow, earlyMedia), pai
}

// noCaps are the capabilities of an INVITE without Supported, Require, Allow or P-Early-Media
// (call.ParseCaps is pure: computed once instead of four empty maps per call).
var noCaps = call.ParseCaps(nil, nil, nil, nil)

// identityOf is the caller's identity: pai, its INVITE's first P-Asserted-Identity (scanInvite),
// when present, else From (TS 24.229 §5.7).
func identityOf(pai sip.Header, req *sip.Request) string {
	if pai != nil {
		return firstNameAddr(pai.Value()) // the first identity (sip: or tel:)
	}
	return uriText(&req.From().Address)
}

// uriText is u.String() for the identities of every INVITE, without sipgo's per-URI IPv6 test of
// the host (net.ParseIP, which allocates for every IPv4 literal, on every URI it prints). An IPv6
// literal host is bracketed as sipgo does (RFC 3261 §25.1).
func uriText(u *sip.Uri) string {
	scheme := u.Scheme
	if scheme == "" {
		scheme = "sip"
	}
	if raw := u.Raw(); raw != "" {
		return scheme + ":" + raw // tel:, urn: and other non-SIP URIs are kept as received
	}
	var b strings.Builder
	b.Grow(len(scheme) + len(u.User) + len(u.Host) + 24)
	b.WriteString(scheme)
	b.WriteByte(':')
	if u.HierarhicalSlashes {
		b.WriteString("//")
	}
	if u.User != "" {
		b.WriteString(u.User)
		if u.Password != "" {
			b.WriteByte(':')
			b.WriteString(u.Password)
		}
		b.WriteByte('@')
	}
	if strings.IndexByte(u.Host, ':') >= 0 && !strings.HasPrefix(u.Host, "[") {
		b.WriteByte('[')
		b.WriteString(u.Host)
		b.WriteByte(']')
	} else {
		b.WriteString(u.Host)
	}
	if u.Port > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.Port))
	}
	if u.UriParams != nil && u.UriParams.Length() > 0 {
		b.WriteByte(';')
		b.WriteString(u.UriParams.ToString(';'))
	}
	if u.Headers != nil && u.Headers.Length() > 0 {
		b.WriteByte('?')
		b.WriteString(u.Headers.ToString('&'))
	}
	return b.String()
}

// callerIdentity is P-Asserted-Identity when present, else From (TS 24.229 §5.7).
func callerIdentity(req *sip.Request) string {
	_, pai := scanInvite(req)
	return identityOf(pai, req)
}

// firstNameAddr returns the first element of a comma-separated name-addr list, ignoring commas inside
// quoted display names and <…> URIs.
func firstNameAddr(v string) string {
	inQuote, inAngle := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '<' && !inQuote:
			inAngle = true
		case c == '>' && !inQuote:
			inAngle = false
		case c == ',' && !inQuote && !inAngle:
			return strings.TrimSpace(v[:i])
		}
	}
	return strings.TrimSpace(v)
}

// messageFeature reports whether req's Contact carries the feature tag for message sessions
// (RFC 4569 sip.message, encoded "+sip.message" by RFC 3840 §9) with no value, or one other than
// FALSE. A Contact that does not parse has none.
func messageFeature(req *sip.Request) bool {
	h := req.GetHeader("Contact")
	if h == nil || !strings.Contains(strings.ToLower(h.Value()), "+sip.message") {
		return false // the common case, without parsing the Contact
	}
	ct := req.Contact()
	if ct == nil {
		return false
	}
	for _, kv := range ct.Params {
		if strings.EqualFold(kv.K, "+sip.message") {
			v := strings.Trim(kv.V, `"`)
			return !strings.EqualFold(v, "FALSE") && !strings.EqualFold(v, "!TRUE")
		}
	}
	return false
}

// earlyMediaAuthorised reports whether a response's P-Early-Media authorises early media toward
// the caller on some m-line: "sendrecv" or "sendonly" among its comma-separated values, on any of
// its lines (RFC 5009 §5; "recvonly", "inactive", "gated" and "supported" do not).
func earlyMediaAuthorised(res *sip.Response) bool {
	for _, h := range res.GetHeaders("P-Early-Media") {
		if v := []string{h.Value()}; call.HasToken(v, "sendrecv") || call.HasToken(v, "sendonly") {
			return true
		}
	}
	return false
}
