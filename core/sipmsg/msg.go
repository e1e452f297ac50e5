package sipmsg

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
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

// TowardNextHop sets req's transport and destination to its next hop (RFC 3261 §16.6 steps 6-7):
// route, the top Route left after Herald's own, else the Request-URI. The transport is the URI's
// (URITransport); for a sip: URI naming a domain and neither transport nor port, the one DNS names
// (RFC 3263 §4.1: NAPTR, else SRV per transport), asked of names (nil: UDP). The destination is the
// URI's host and port; a host name without a port gets port 0, which Herald's resolver (sipfast's
// Names, sipgo's through sip.WithTransportLayerResolver) takes as "none named": SRV decides the
// port (§4.2); an IP address without one gets the transport's default port (§4.2: no SRV for an
// address). Set here so that sipgo does not build it with fmt.Sprintf per request.
func TowardNextHop(req *sip.Request, route *sip.RouteHeader, names TransportChooser) {
	u := &req.Recipient
	if route != nil {
		u = &route.Address
	}
	tp := URITransport(u)
	port := max(u.Port, 0)
	if port == 0 {
		if _, err := netip.ParseAddr(strings.Trim(u.Host, "[]")); err == nil {
			port = sip.DefaultPort(tp)
		} else if _, named := u.UriParams.Get("transport"); !named && u.Scheme == "sip" && names != nil {
			tp = cmp.Or(names.Transport(context.Background(), u.Host), tp)
		}
	}
	req.SetTransport(tp)
	req.SetDestination(u.Host + ":" + strconv.Itoa(port))
}

// NextHopRoute is the configured next hop (host:port, port 0 for a name without one; transport udp,
// tcp or tls, udp named only when pinned) as the Route TowardNextHop reads, so that the next hop
// and a Route are sent toward by one rule (RFC 3263 §4.1 included). It is read, never changed.
func NextHopRoute(hostport, transport string, pinned bool) *sip.RouteHeader {
	host, port, err := net.SplitHostPort(hostport)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		host, p = hostport, 0
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 reference, as sipgo's URIs hold it
	}
	r := &sip.RouteHeader{Address: sip.Uri{Scheme: "sip", Host: host, Port: p}}
	if tp := strings.ToLower(transport); tp != "udp" || pinned {
		r.Address.UriParams = sip.HeaderParams{{K: "transport", V: tp}}
	}
	return r
}

// TransportChooser names the transport toward a domain (RFC 3263 §4.1): "UDP", "TCP", or "" when
// DNS does not say. sipfast's Names is one; it waits for DNS, bounded by its own lookup timeout.
type TransportChooser interface {
	Transport(ctx context.Context, host string) string
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

// Normalize is a response as sipgo reads and prints it, nil when sipgo cannot read it (or leaves a
// header unparsed): what the fast path scans of a response its scanner refused.
func Normalize(data []byte) []byte {
	msg, err := sip.NewParser(sip.WithHeadersParsers(HeaderParsers())).ParseSIP(data)
	if err != nil {
		return nil
	}
	res, ok := msg.(*sip.Response)
	if !ok || Unparsed(res) != "" {
		return nil
	}
	return []byte(res.String())
}

// ParseExchange reads a request and a response to it as sipgo does.
func ParseExchange(req, res []byte) (*sip.Request, *sip.Response, error) {
	p := sip.NewParser(sip.WithHeadersParsers(HeaderParsers()))
	m1, err1 := p.ParseSIP(req)
	m2, err2 := p.ParseSIP(res)
	rq, ok1 := m1.(*sip.Request)
	rs, ok2 := m2.(*sip.Response)
	if err := errors.Join(err1, err2); err != nil || !ok1 || !ok2 {
		return nil, nil, errors.Join(err, errors.New("sipmsg: not a request and a response"))
	}
	return rq, rs, nil
}

// HeaderLines writes hdrs as header lines, each ending in CRLF.
func HeaderLines(hdrs ...sip.Header) string {
	s := ""
	for _, h := range hdrs {
		s += h.Name() + ": " + h.Value() + "\r\n"
	}
	return s
}

// ForUpstream readies a response a proxy relays upstream: its top Via, the proxy's, removed (RFC
// 3261 §16.7 step 3), and a Content-Length written when it has none. A response may come over UDP
// without one (§20.14 makes it optional there) and go upstream over TCP, where it is how the
// message ends (§18.3): a caller's stack reads the rest of the stream as its body, or drops the
// connection.
func ForUpstream(res *sip.Response) {
	res.RemoveHeader("Via")
	if res.ContentLength() == nil {
		res.SetBody(res.Body())
	}
}

// NextHopParam is the transport parameter of a next hop's URI (RFC 3261 §19.1.1) for the fast path:
// "tcp", "udp" when the URI named it (pinned: UDP whatever the size), else none (UDP, or TCP for a
// request too big for UDP, RFC 3261 §18.1.1).
func NextHopParam(tcp, pinned bool) []byte {
	switch {
	case tcp:
		return []byte("tcp")
	case pinned:
		return []byte("udp")
	}
	return nil
}
