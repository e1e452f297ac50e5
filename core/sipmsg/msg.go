package sipmsg

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// msg.go: the small readers and answerers both the server (core/signal) and its calls
// (core/callsip) use on sipgo's messages.

// Respond answers req on tx with code and reason, and hdrs.
func Respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// RespondTag is Respond with tag as the To tag of a response to a request without one (RFC 3261
// §8.2.6.2: one tag for all responses to a request).
func RespondTag(tx sip.ServerTransaction, req *sip.Request, tag string, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil && tag != "" && code > 100 && (req.To() == nil || !req.To().Params.Has("tag")) {
		to.Params.Add("tag", tag) // instead of the random one sipgo gave it
	}
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// HeaderValues are the values of m's headers called name, in order.
func HeaderValues(m interface{ GetHeaders(string) []sip.Header }, name string) []string {
	var out []string
	for _, h := range m.GetHeaders(name) {
		out = append(out, h.Value())
	}
	return out
}

// TransportToward is the transport of the next hop of req: the top Route's, else the Request-URI's
// transport parameter, else udp.
func TransportToward(req *sip.Request) string {
	u := &req.Recipient
	if r := req.Route(); r != nil {
		u = &r.Address
	}
	return URITransport(u)
}

// URITransport is the transport toward u: its transport parameter, else TLS for sips:, else UDP.
func URITransport(u *sip.Uri) string {
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		return strings.ToUpper(t)
	}
	if u.Scheme == "sips" {
		return "TLS"
	}
	return "UDP"
}

// WithBytes hands use m as it goes on the wire, in a pooled buffer that is reused once use
// returns, instead of []byte(m.String()), which grows a string builder and then copies it: for a
// caller that copies what it keeps (the fast path's engine puts its Via in a copy).
func WithBytes(m interface{ StringWrite(io.StringWriter) }, use func([]byte) bool) bool {
	b := wirePool.Get().(*bytes.Buffer)
	b.Reset()
	m.StringWrite(b)
	ok := use(b.Bytes())
	if b.Cap() <= 4*wireSize { // an outsized message's buffer is let go, not kept
		wirePool.Put(b)
	}
	return ok
}

// wireSize fits a SIP request or response with an SDP body, as Herald sends them over UDP.
const wireSize = 2048

var wirePool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, wireSize)) }}
