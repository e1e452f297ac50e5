package sipmsg

import (
	"maps"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// singleValued are the headers a request must not carry twice (RFC 3261 §7.3.1, §20).
var singleValued = [...]string{"Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length"}

// HeaderParsers is sipgo's default set of typed header parsers without Contact. A proxy relays
// Contact untouched in every INVITE, 18x, 200, ACK and BYE, and Herald reads it only in the rare
// paths (its own early dialog, the CANCEL/200 race) where sip.Message.Contact parses it on demand;
// left generic, it costs a string instead of a parsed name-addr and its parameter list per message.
//
// Every typed parser is lenient (lenientParser): a header line that does not parse no longer makes
// sipgo drop the whole message unanswered, so that CheckRequest can answer 400 naming it (RFC 3261
// §16.3 step 1, §8.2.2). Content-Length stays strict: it frames messages on TCP.
func HeaderParsers() map[string]sip.HeaderParser {
	m := maps.Clone(sip.DefaultHeadersParser())
	delete(m, "contact")
	delete(m, "m")
	for name, p := range m {
		if name == "content-length" || name == "l" {
			continue
		}
		m[name] = lenientParser(CanonicalName(name), p)
	}
	return m
}

// CanonicalName is the full, canonical name of a header sipgo parses (compact forms expanded).
func CanonicalName(lower string) string {
	switch lower {
	case "v", "via":
		return "Via"
	case "f", "from":
		return "From"
	case "t", "to":
		return "To"
	case "i", "call-id":
		return "Call-ID"
	case "cseq":
		return "CSeq"
	case "max-forwards":
		return "Max-Forwards"
	case "c", "content-type":
		return "Content-Type"
	case "route":
		return "Route"
	case "record-route":
		return "Record-Route"
	case "refer-to":
		return "Refer-To"
	case "referred-by":
		return "Referred-By"
	}
	return lower
}

// badHeader is a header line whose typed parser refused it, kept as text under its canonical name:
// the typed accessor (req.To() ...) finds it and, parsing it again on demand, returns nil, and
// CheckRequest answers the request 400 naming it. A response carrying one is dropped where Herald
// reads it (core/signal drops it).
type badHeader struct{ sip.Header }

// lenientParser wraps sipgo's typed parser p of header name. A value list (a comma, which sipgo
// reports as an error carrying the offset of the rest) is passed through.
func lenientParser(name string, p sip.HeaderParser) sip.HeaderParser {
	return func(lower []byte, text string) (sip.Header, error) {
		h, err := p(lower, text)
		if err == nil || err.Error() == "comma detected" {
			return h, err
		}
		return &badHeader{sip.NewHeader(name, text)}, nil
	}
}

// Unparsed is the name of the first header of m whose value did not parse, "" when all did.
func Unparsed(m interface{ Headers() []sip.Header }) string {
	for _, h := range m.Headers() {
		if b, ok := h.(*badHeader); ok {
			return b.Name()
		}
	}
	return ""
}

// CheckRequest is what Herald refuses of a request sipgo parsed, before any handler
// acts on it (RFC 4475 §3.1.2, §3.3.8, §3.3.9): another SIP version gets 505; a mandatory header
// missing or not parsing, a CSeq method that is not the request's (RFC 3261 §8.1.1.5), a
// single-value header given twice and URI headers in the Request-URI (RFC 3261 §19.1.5) get 400
// naming what is wrong. Code 0: the request passes.
func CheckRequest(req *sip.Request) (int, string) {
	if req.SipVersion != "SIP/2.0" {
		return 505, "Version Not Supported"
	}
	// RFC 3261 §8.1.1: To, From, CSeq, Call-ID and Via are mandatory (Max-Forwards too, but a proxy
	// passes a request without it, §16.3 step 3); one that does not parse is as bad (§16.3 step 1).
	if name := Unparsed(req); name != "" {
		return 400, "Bad Request (malformed " + name + ")"
	}
	switch {
	case req.Via() == nil:
		return 400, "Bad Request (missing Via)"
	case req.From() == nil:
		return 400, "Bad Request (missing From)"
	case req.To() == nil:
		return 400, "Bad Request (missing To)"
	case req.CallID() == nil || req.CallID().Value() == "":
		return 400, "Bad Request (missing Call-ID)"
	case req.CSeq() == nil:
		return 400, "Bad Request (missing CSeq)"
	}
	if cs := req.CSeq(); !strings.EqualFold(string(cs.MethodName), string(req.Method)) {
		return 400, "Bad Request (CSeq method)"
	}
	// One pass over the headers (every request passes here): GetHeaders per name would walk the list
	// six times and lower-case every generic header's name each time.
	var seen [6]uint8
	for _, h := range req.Headers() {
		name := h.Name()
		for i, sv := range singleValued {
			if len(name) == len(sv) && strings.EqualFold(name, sv) {
				if seen[i]++; seen[i] > 1 {
					return 400, "Bad Request (multiple " + sv + ")"
				}
				break
			}
		}
	}
	if req.Recipient.Headers != nil && req.Recipient.Headers.Length() > 0 {
		return 400, "Bad Request (headers in Request-URI)"
	}
	return 0, ""
}
