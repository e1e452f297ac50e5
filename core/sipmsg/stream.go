package sipmsg

import (
	"errors"
	"net/netip"

	"github.com/emiago/sipgo/sip"
)

// TCPStream is Herald's SIP over TCP as the fast path's engine sends on it (sipfast.Stream). The
// connections are sipgo's TCP transport's, in its pool by peer address, shared with the general
// path: a message goes whole on the connection to or from its destination (RFC 3261 §18.2.2: a
// response on the connection its request came on), and the engine forwards only where one is open
// (the general path opens them). The engine reads TCP through the transport's hook
// (sip.WithTransportLayerTCPFast).
type TCPStream struct {
	// Layer is the transport layer, set once the user agent is built (before anything is served).
	Layer *sip.TransportLayer
	// Trace, when set, gets each message sent (Options.WireTrace).
	Trace func(dir, transport, peer string, msg []byte)
}

// ErrNoConnection is a send over TCP to a peer Herald has no connection to (any more).
var ErrNoConnection = errors.New("sipmsg: no TCP connection to the peer")

func (t *TCPStream) conn(to netip.AddrPort) *sip.TCPConnection {
	if t.Layer != nil {
		return t.Layer.TCPConnection(to)
	}
	return nil
}

// Connected reports whether a TCP connection to or from to is open.
func (t *TCPStream) Connected(to netip.AddrPort) bool { return t.conn(to) != nil }

// Send writes b whole on the connection to or from to, in one Write: Go serialises a socket's
// writes, so sipgo's own messages on it do not interleave with it.
func (t *TCPStream) Send(b []byte, to netip.AddrPort) error {
	c := t.conn(to)
	if c == nil {
		return ErrNoConnection
	}
	if t.Trace != nil {
		t.Trace("send", "TCP", to.String(), b)
	}
	_, err := c.Write(b)
	return err
}

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
