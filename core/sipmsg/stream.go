package sipmsg

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

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
	// Reconnects and ReconnectFailed count the messages sent, or not, on a new connection (dial:
	// responses whose request's connection closed, INVITEs sent on to a next target); nil: not
	// counted.
	Reconnects, ReconnectFailed *atomic.Uint64
	// Recovered is told of a panic on a reconnect's goroutine (core/safe); nil: it is only recovered.
	Recovered func(r any) bool

	dialing atomic.Int32 // reconnects in flight
}

// MaxReconnects bounds the connections being opened at once; a message beyond it is not sent
// (counted as failed, and a send error of the fast path's).
const MaxReconnects = 64

// reconnectTimeout bounds opening a new connection for a response (sipgo's, for the general path's
// responses, is 10 s).
const reconnectTimeout = 10 * time.Second

// ErrNoConnection is a send over TCP to a peer Herald has no connection to (any more).
var ErrNoConnection = errors.New("sipmsg: no TCP connection to the peer")

// ErrReconnects is a message not sent because MaxReconnects were in flight.
var ErrReconnects = errors.New("sipmsg: too many TCP connections being opened")

func (t *TCPStream) conn(to netip.AddrPort) *sip.TCPConnection {
	if t.Layer != nil {
		return t.Layer.TCPConnection(to)
	}
	return nil
}

// Connected reports whether a TCP connection to or from to is open.
func (t *TCPStream) Connected(to netip.AddrPort) bool { return t.conn(to) != nil }

// Send writes b whole on the connection to or from to, in one Write: Go serialises a socket's
// writes, so sipgo's own messages on it do not interleave with it. A response whose connection has
// closed goes on a new one (reconnect); a request does not (the engine forwards only over an open
// connection, and answers 503 when it closed meanwhile).
func (t *TCPStream) Send(b []byte, to netip.AddrPort) error {
	c := t.conn(to)
	if c == nil {
		if t.Layer != nil && bytes.HasPrefix(b, []byte("SIP/2.0 ")) {
			return t.reconnect(b)
		}
		return ErrNoConnection
	}
	if t.Trace != nil {
		t.Trace("send", "TCP", to.String(), b)
	}
	_, err := c.Write(b)
	return err
}

// reconnect sends the response b on a new connection to its top Via's received address, else its
// sent-by host, and the sent-by port (RFC 3261 §18.2.2: the request's connection has failed), or on
// one already open there (dial). A Via whose host is a name is not resolved (counted as failed).
func (t *TCPStream) reconnect(b []byte) error {
	dst, ok := responseVia(b)
	if !ok {
		count(t.ReconnectFailed)
		return ErrNoConnection
	}
	return t.dial(dst, b)
}

// Open writes the request b on the connection to or from to, or, when there is none, on a new one
// (dial): the engine's INVITE sent on to a name's next target (RFC 3263 §4.3), which no call may
// have reached yet. A new connection is counted with the reconnects and within their bound.
func (t *TCPStream) Open(b []byte, to netip.AddrPort) error {
	if t.Layer == nil || t.conn(to) != nil {
		return t.Send(b, to)
	}
	return t.dial(to, b)
}

// dial sends b on a new connection to dst, or on one already open there. The connection is opened
// on a goroutine of its own (reconnectTimeout at most, MaxReconnects at once), so the reader that
// asked waits for nothing; it joins sipgo's pool, and what the peer sends on it is read like any
// other.
func (t *TCPStream) dial(dst netip.AddrPort, b []byte) error {
	if t.dialing.Add(1) > MaxReconnects {
		t.dialing.Add(-1)
		count(t.ReconnectFailed)
		return ErrReconnects
	}
	b = bytes.Clone(b)
	go func() {
		defer t.dialing.Add(-1)
		defer func() {
			if r := recover(); r != nil && t.Recovered != nil {
				t.Recovered(r)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), reconnectTimeout)
		defer cancel()
		c, err := t.Layer.DialTCP(ctx, dst)
		if err == nil {
			if t.Trace != nil {
				t.Trace("send", "TCP", dst.String(), b)
			}
			_, err = c.Write(b)
			_, _ = c.TryClose()
		}
		if err != nil {
			count(t.ReconnectFailed)
			return
		}
		count(t.Reconnects)
	}()
	return nil
}

// responseVia is where RFC 3261 §18.2.2 sends the response b when its request's connection is gone:
// its top Via's received address (else its sent-by host, an IP literal) and sent-by port (5060 by
// default); ok is false when b does not parse or the Via names a host by name.
func responseVia(b []byte) (netip.AddrPort, bool) {
	m, err := sip.NewParser(sip.WithHeadersParsers(HeaderParsers())).ParseSIP(b)
	if err != nil {
		return netip.AddrPort{}, false
	}
	via := m.Via()
	if via == nil {
		return netip.AddrPort{}, false
	}
	host := via.Host
	if r, ok := via.Params.Get("received"); ok && r != "" {
		host = r
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	port := via.Port
	if port == 0 {
		port = 5060
	}
	if err != nil || port < 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

func count(c *atomic.Uint64) {
	if c != nil {
		c.Add(1)
	}
}
