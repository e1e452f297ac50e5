package sipmsg

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// precheck.go answers, before sipgo sees them, the requests sipgo cannot take: a request without a
// Via or a CSeq, or with one that does not parse, has no transaction key (RFC 3261 §17.2.3), and
// sipgo answers it a bare "400 Bad Request" without calling any handler; one with a line that is
// not a header at all (no colon) sipgo drops unanswered (and closes a TCP connection over it).
// Herald answers it here instead, with a reason phrase naming the header (§8.2.2, §16.3 step 1),
// from the socket or connection it came on. Everything else passes to sipgo untouched: the other
// mandatory headers are checked by CheckRequest (core/signal's guard) once sipgo has parsed it.
//
// The hooks: the fast path's engine (UDP, fast path on, through its host), PacketConn (UDP, fast
// path off) and Listener's connections (TCP and TLS: Herald frames the stream as sipgo does, by
// Content-Length). Each counts what it answers in the counter it is given (the SIP plane's
// BadRequests).

// strictParsers are sipgo's own typed parsers, to tell whether a Via or CSeq value parses.
var strictParsers = sip.HeadersParser(sip.DefaultHeadersParser())

// EarlyReject is Herald's 400 to msg when msg is a request (not an ACK: never answered, RFC 3261
// §17.2.1) whose Via or CSeq is missing or does not parse, nil otherwise. The response copies the
// request's Via, From, To (with a tag when it has none, §8.2.6.2), Call-ID and CSeq lines as they
// are.
func EarlyReject(msg []byte) []byte {
	eol := bytes.Index(msg, crlf)
	if eol <= 0 || bytes.HasPrefix(msg, []byte("SIP/")) {
		return nil
	}
	sp := bytes.IndexByte(msg[:eol], ' ')
	if sp <= 0 || !bytes.HasSuffix(msg[:eol], []byte(" SIP/2.0")) || string(msg[:sp]) == "ACK" {
		return nil // not a request line sipgo reads as one, or an ACK
	}
	var via, cseq, from, to, callID [][]byte // whole lines (folded ones joined), without CRLF
	var firstVia, firstCSeq []byte
	badLine := false
	rest := msg[eol+2:]
	for len(rest) > 0 {
		e := bytes.Index(rest, crlf)
		if e < 0 {
			return nil // no end of headers: sipgo drops it
		}
		if e == 0 {
			break
		}
		line := rest[:e]
		rest = rest[e+2:]
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') { // folded (RFC 3261 §7.3.1)
			f := bytes.Index(rest, crlf)
			if f < 0 {
				return nil
			}
			line = append(append(append([]byte(nil), line...), ' '), bytes.TrimLeft(rest[:f], " \t")...)
			rest = rest[f+2:]
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			badLine = true // sipgo would drop the whole message unanswered
			continue
		}
		switch CanonicalName(string(bytes.ToLower(bytes.TrimSpace(line[:colon])))) {
		case "Via":
			via = append(via, line)
			if firstVia == nil {
				firstVia = line
			}
		case "CSeq":
			cseq = append(cseq, line)
			if firstCSeq == nil {
				firstCSeq = line
			}
		case "From":
			from = append(from, line)
		case "To":
			to = append(to, line)
		case "Call-ID":
			callID = append(callID, line)
		}
	}
	reason := ""
	switch {
	case badLine:
		reason = "malformed header line"
	case firstVia == nil:
		reason = "missing Via"
	case !parses(via):
		reason = "malformed Via"
	case firstCSeq == nil:
		reason = "missing CSeq"
	case !parses(cseq):
		reason = "malformed CSeq"
	default:
		return nil
	}
	b := make([]byte, 0, 256+len(msg)/2)
	b = append(b, "SIP/2.0 400 Bad Request ("+reason+")\r\n"...)
	for i, set := range [][][]byte{via, from, to, callID, cseq} {
		for _, l := range set {
			b = append(b, l...)
			if i == 2 && !bytes.Contains(bytes.ToLower(l), []byte("tag=")) {
				b = append(b, ";tag="...)
				b = append(b, sip.GenerateTagN(16)...)
			}
			b = append(b, '\r', '\n')
		}
	}
	return append(b, "Content-Length: 0\r\n\r\n"...)
}

// parses reports whether every line parses with sipgo's typed parser.
func parses(lines [][]byte) bool {
	for _, l := range lines {
		if _, err := strictParsers.ParseHeader(nil, l); err != nil {
			return false
		}
	}
	return true
}

// PacketConn is a UDP socket as sipgo reads it when the fast path is off: datagrams EarlyReject
// answers are not passed on; each is counted in Bad.
type PacketConn struct {
	net.PacketConn
	Bad *atomic.Uint64
}

func (c PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, a, err := c.PacketConn.ReadFrom(p)
		if err != nil || n > len(p) {
			return n, a, err
		}
		res := EarlyReject(p[:n])
		if res == nil {
			return n, a, nil
		}
		c.Bad.Add(1)
		_, _ = c.PacketConn.WriteTo(res, a)
	}
}

// WriteToUDPAddrPort sends p to a as the socket underneath does (WriteToAddrPort): sipgo writes
// through it when the destination is an address and port, without an address parsed and
// allocated per datagram (a Herald patch in netio/sipgo that a wrapper without this method hides).
func (c PacketConn) WriteToUDPAddrPort(p []byte, a netip.AddrPort) (int, error) {
	return WriteToAddrPort(c.PacketConn, p, a)
}

// WriteToAddrPort writes p to a on pc: through pc's own WriteToUDPAddrPort when it has one
// (*net.UDPConn, netio/sipudp's sockets), else WriteTo. For wrappers of a net.PacketConn, whose
// embedded interface does not carry the method.
func WriteToAddrPort(pc net.PacketConn, p []byte, a netip.AddrPort) (int, error) {
	if w, ok := pc.(interface {
		WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
	}); ok {
		return w.WriteToUDPAddrPort(p, a)
	}
	return pc.WriteTo(p, net.UDPAddrFromAddrPort(a))
}

// FirstRead is a socket that calls Ready once, on the first read from it (core/signal: sipgo's
// connection pool holds a listening socket only from its first read).
type FirstRead struct {
	net.PacketConn
	Ready func()
	once  sync.Once
}

func (p *FirstRead) ReadFrom(b []byte) (int, net.Addr, error) {
	p.once.Do(p.Ready)
	return p.PacketConn.ReadFrom(b)
}

// WriteToUDPAddrPort keeps sipgo's allocation-free write (WriteToAddrPort) through the wrapper.
func (p *FirstRead) WriteToUDPAddrPort(b []byte, a netip.AddrPort) (int, error) {
	return WriteToAddrPort(p.PacketConn, b, a)
}

// Listener hands sipgo its connections framed and checked (precheckConn); what EarlyReject answers
// is counted in Bad.
type Listener struct {
	net.Listener
	Bad *atomic.Uint64
}

func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &precheckConn{Conn: c, bad: l.Bad}, nil
}

// maxFramed bounds a message precheckConn frames (sipgo's sip.ParseMaxMessageLength): past it, or
// on a Content-Length it cannot read, it stops framing and passes the stream through as it is,
// for sipgo to refuse.
const maxFramed = 65535

// precheckConn frames a SIP stream (RFC 3261 §18.3: headers, then Content-Length bytes of body)
// and hands sipgo one message per Read, leaving out the ones EarlyReject answers. Keep-alive
// CRLFs (RFC 5626 §3.5.1) pass in reads of their own, as sipgo expects them. Read runs only on
// sipgo's reader goroutine of the connection.
type precheckConn struct {
	net.Conn
	bad  *atomic.Uint64
	in   []byte // read, not yet framed
	out  []byte // framed, to hand out
	err  error  // the read error, returned once out and in are drained
	pass bool   // framing lost: everything passes unchecked
	buf  []byte
}

func (c *precheckConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		c.frame()
		if len(c.out) > 0 {
			break
		}
		if c.err != nil {
			if len(c.in) > 0 {
				c.out, c.in = c.in, nil // an incomplete message: sipgo's to judge
				break
			}
			return 0, c.err
		}
		if c.buf == nil {
			c.buf = make([]byte, 32<<10)
		}
		n, err := c.Conn.Read(c.buf)
		c.in = append(c.in, c.buf[:n]...)
		c.err = err
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// frame moves the next unit (a run of CRLFs, or one message) from in to out.
func (c *precheckConn) frame() {
	for len(c.in) > 0 && len(c.out) == 0 {
		if c.pass {
			c.out, c.in = c.in, nil
			return
		}
		if k := len(c.in) - len(bytes.TrimLeft(c.in, "\r\n")); k > 0 {
			c.out, c.in = c.in[:k:k], c.in[k:]
			return
		}
		end := bytes.Index(c.in, []byte("\r\n\r\n"))
		if end < 0 {
			if len(c.in) > maxFramed {
				c.pass = true
			}
			return
		}
		cl, ok := contentLength(c.in[:end+2])
		if !ok || end+4+cl > maxFramed {
			c.pass = true
			continue
		}
		total := end + 4 + cl
		if len(c.in) < total {
			return
		}
		msg := c.in[:total:total]
		c.in = c.in[total:]
		if res := EarlyReject(msg); res != nil {
			c.bad.Add(1)
			_, _ = c.Conn.Write(res)
			continue
		}
		c.out = msg
	}
}

// contentLength reads the Content-Length of a header block (0 when there is none, as sipgo takes
// it); ok is false when it is not a number.
func contentLength(head []byte) (int, bool) {
	for len(head) > 0 {
		e := bytes.Index(head, crlf)
		if e < 0 {
			e = len(head)
		}
		line := head[:e]
		head = head[min(e+2, len(head)):]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := bytes.TrimSpace(line[:colon])
		if equalFold(name, "content-length") || equalFold(name, "l") {
			n, ok := atoi(bytes.TrimSpace(line[colon+1:]))
			return n, ok
		}
	}
	return 0, true
}

var crlf = []byte("\r\n")

// equalFold compares b with the lower-case ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

// atoi reads a non-empty decimal of at most 10 digits, without a sign.
func atoi(b []byte) (int, bool) {
	n, err := strconv.Atoi(string(b))
	return n, err == nil && len(b) <= 10 && b[0] >= '0' && b[0] <= '9'
}
