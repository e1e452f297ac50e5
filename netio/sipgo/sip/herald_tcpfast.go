package sip

// Herald patch (whole file): the TCP transport's TCPFast hook (WithTransportLayerTCPFast). Each
// whole SIP message read from a plain TCP connection is framed out of the read buffer and offered
// to the hook before sipgo parses it; what the hook leaves, sipgo parses as before.
//
// The framing is RFC 3261 §18.3: a message is its header section up to the empty line, then
// Content-Length bytes of body (§7.5: on a stream the header is mandatory, and CRLFs before a
// start line are ignored). It never disagrees with sipgo's stream parser (parser_stream.go), and
// a connection whose hook declines everything behaves as one without a hook, errors and closes
// included at the same read:
//
//   - The stream parser (par) sees every byte it saw before except those of the messages the hook
//     took, cut where it mattered: a message within one read is given to it whole (the parse of a
//     message depends only on its bytes and on where reads cut it, not on what follows it), and a
//     message still incomplete at the end of a read is given to it as the read's tail, as before,
//     so that it finds a malformed line or an oversized message at the same read as before. The
//     framer keeps that message's bytes in the connection's carry, and offers them to the hook once
//     they are whole; if it takes them, the parser's partial state is dropped (Reset) as if it had
//     finished the message. The price: what came of such a message before its last read is parsed
//     by sipgo even when the hook then takes it (no allocation is saved on it).
//   - The keep-alive check (RFC 5626 §3.5.1) is readStep's, on the same condition: a read of at
//     most four bytes, all CR or LF, while the parser holds nothing of a message.
//   - A message is framed only when sure: exactly one Content-Length (name as the header parser
//     reads it, "content-length" or "l" in any case, written plainly: blanks only between the name
//     and the colon and around the value, which is digits), no folded line, every CR followed by
//     LF, every header line with a colon, the whole (with the CRLFs before it since the parser's
//     last message) within the parser's MaxMessageLength, and the parser's Content-Length parsers
//     sipgo's own. Otherwise the connection goes to the general path for the rest of its life:
//     what is left of the read and every later read go through readStep, as without a hook.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"reflect"
)

// tcpFastState is a connection's framer, used by its read goroutine only.
type tcpFastState struct {
	fast TCPFast
	from netip.AddrPort
	max  int // the parser's MaxMessageLength

	// general: the framer stood aside for good; every read goes through readStep.
	general bool

	// carry holds the bytes, from its start line, of a message that began in an earlier read and
	// is not whole yet (the parser has had them too). hdr is its header section's length once that
	// is complete (0 before), total the message's length then (hdr and Content-Length).
	carry      []byte
	hdr, total int

	// handler is the transport's handler, counting in fed the messages the parser handed it.
	handler MessageHandler
	fed     int

	// disagreed: the parser found a message end where the framer did not (or none where it did);
	// the framing rules exclude it, and the tests check that it never happens.
	disagreed bool
}

// carryKeep bounds the carry buffer a connection keeps between messages; a larger one (a large
// message came in pieces) is let go once that message is done.
const carryKeep = 16 << 10

var crlfcrlf = []byte("\r\n\r\n")

// newTCPFast returns conn's framer, or nil when the transport has no hook, conn's peer address is
// not a TCP address, or par's parser reads Content-Length with parsers of its own.
func (t *TransportTCP) newTCPFast(conn net.Conn, par *ParserStream, handler MessageHandler) *tcpFastState {
	if t.fast == nil {
		return nil
	}
	ra, ok := conn.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return nil
	}
	from := ra.AddrPort()
	if !from.IsValid() || !standardContentLength(par.p) {
		return nil
	}
	st := &tcpFastState{
		fast: t.fast,
		from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()),
		max:  par.p.MaxMessageLength,
	}
	st.handler = func(msg Message) {
		st.fed++
		handler(msg)
	}
	return st
}

// standardContentLength reports whether p reads "content-length" and "l", and nothing else, with
// sipgo's Content-Length parser: the framer's reading of the header is that parser's.
func standardContentLength(p *Parser) bool {
	want := reflect.ValueOf(headerParserContentLength).Pointer()
	n := 0
	for name, f := range p.headersParsers {
		cl := f != nil && reflect.ValueOf(f).Pointer() == want
		if cl != (name == "content-length" || name == "l") {
			return false
		}
		if cl {
			n++
		}
	}
	return n == 2
}

// onRead handles one read of the connection (after the read filter): without a framer (st nil) or
// once it stood aside, readStep as upstream; else the framer's step. A non-nil error ends the
// connection, as readStep's does.
func (t *TransportTCP) onRead(st *tcpFastState, par *ParserStream, conn *TCPConnection, data []byte, raddr string, handler MessageHandler) error {
	if st == nil || st.general || len(data) == 0 {
		return t.readStep(par, conn, data, raddr, handler)
	}
	// readStep's keep-alive check, on its condition (the parser holds nothing of a message).
	if len(data) <= 4 && par.state == stateStartLine && (par.buf == nil || par.buf.Len() == 0) && onlyCRLF(data) {
		return t.readStep(par, conn, data, raddr, handler)
	}

	// parFed is what the parser holds of the message data begins or continues: CRLFs before its
	// start line, and the part of it that earlier reads brought (the carry).
	parFed := par.totalRead
	if par.buf != nil {
		parFed += par.buf.Len()
	}
	p := 0     // where the next message (or the CRLFs before it) starts in data
	fedTo := 0 // data[:fedTo] is done: the parser had it, or it was a message the hook took

	if n := len(st.carry); n > 0 {
		if st.hdr == 0 && n == 1 && st.carry[0] == '\r' && data[0] == '\n' {
			// A CRLF before a start line, cut between reads (the parser skips it).
			st.carry = st.carry[:0]
			p = 1
		} else {
			q := 0 // data[:q] is in the carry
			if st.hdr == 0 {
				x := headerEndAcross(st.carry, data)
				if x < 0 {
					return t.fastPartial(st, par, data, 0, data, raddr)
				}
				st.carry = append(st.carry, data[:x]...)
				q = x
				cl, ok := frameHeader(st.carry, st.max)
				// The parser counts the CRLFs before the start line (parFed-n of them).
				if !ok || parFed-n+len(st.carry)+cl > st.max {
					return t.fastStandAside(st, par, data, raddr)
				}
				st.hdr, st.total = len(st.carry), len(st.carry)+cl
			}
			need := st.total - len(st.carry)
			if need > len(data)-q {
				return t.fastPartial(st, par, data, 0, data[q:], raddr)
			}
			st.carry = append(st.carry, data[q:q+need]...)
			end := q + need
			took := st.fast(st.carry, st.from)
			if cap(st.carry) > carryKeep {
				st.carry = nil
			} else {
				st.carry = st.carry[:0]
			}
			st.hdr, st.total = 0, 0
			if took {
				par.Reset() // as if it had finished the message
			} else if err := t.fastDeclined(st, par, data, 0, end, raddr); err != nil || st.general {
				return err
			}
			p, fedTo, parFed = end, end, 0
		}
	}

	for {
		s := p
		for len(data)-s >= 2 && data[s] == '\r' && data[s+1] == '\n' {
			s += 2 // RFC 3261 §7.5: CRLFs before a start line are ignored (the parser counts them)
		}
		if s == len(data) {
			break
		}
		i := bytes.Index(data[s:], crlfcrlf)
		if i < 0 {
			return t.fastPartial(st, par, data, fedTo, data[s:], raddr)
		}
		hEnd := s + i + 4
		cl, ok := frameHeader(data[s:hEnd], st.max)
		if !ok || parFed+hEnd-fedTo+cl > st.max {
			return t.fastStandAside(st, par, data[fedTo:], raddr)
		}
		end := hEnd + cl
		if end > len(data) {
			st.hdr, st.total = hEnd-s, end-s
			return t.fastPartial(st, par, data, fedTo, data[s:], raddr)
		}
		if st.fast(data[s:end], st.from) {
			par.Reset() // CRLFs it had counted before the message go with it
		} else if err := t.fastDeclined(st, par, data, fedTo, end, raddr); err != nil || st.general {
			return err
		}
		p, fedTo, parFed = end, end, 0
	}
	// Only CRLFs are left (or nothing): the parser skips and counts them, as before.
	return t.fastFeed(st, par, data[fedTo:], raddr)
}

// fastDeclined gives the parser data[from:end], which ends a message the hook declined (the
// parser may hold its beginning), and checks that the parser found the message where the framer
// did. If not (which the framing rules exclude), the parser rules the rest of the connection: it
// gets the rest of data, as it would have.
func (t *TransportTCP) fastDeclined(st *tcpFastState, par *ParserStream, data []byte, from, end int, raddr string) error {
	before := st.fed
	if err := t.parseStream(par, data[from:end], raddr, st.handler); err != nil {
		st.general = true
		return err
	}
	if st.fed == before+1 && par.state == stateStartLine && par.totalRead == 0 && (par.buf == nil || par.buf.Len() == 0) {
		return nil
	}
	st.disagreed = true
	return t.fastStandAside(st, par, data[end:], raddr)
}

// fastPartial ends a read whose tail data[fedTo:] holds the beginning of a message (rest, from its
// start line; any CRLFs before it precede rest): rest joins the carry, and the parser gets the
// tail as it would have.
func (t *TransportTCP) fastPartial(st *tcpFastState, par *ParserStream, data []byte, fedTo int, rest []byte, raddr string) error {
	if len(st.carry)+len(rest) > st.max {
		// The parser finds the message too large (RFC 3261 has no boundary to resume at).
		return t.fastStandAside(st, par, data[fedTo:], raddr)
	}
	st.carry = append(st.carry, rest...)
	return t.fastFeed(st, par, data[fedTo:], raddr)
}

// fastFeed gives the parser b, the tail of a read that ends no message by the framer's reading: it
// may error (ending the connection as before); if it finds a message end there after all, the
// framer stands aside.
func (t *TransportTCP) fastFeed(st *tcpFastState, par *ParserStream, b []byte, raddr string) error {
	if len(b) == 0 {
		return nil
	}
	before := st.fed
	err := t.parseStream(par, b, raddr, st.handler)
	if st.fed != before {
		st.disagreed = true
	}
	if err != nil || st.fed != before {
		st.general = true
		st.carry = nil
	}
	return err
}

// fastStandAside hands the connection to the general path for good: the parser gets b, the rest of
// the read (it holds the message's earlier reads already), and every later read goes through
// readStep.
func (t *TransportTCP) fastStandAside(st *tcpFastState, par *ParserStream, b []byte, raddr string) error {
	st.general = true
	st.carry = nil
	if len(b) == 0 {
		return nil
	}
	return t.parseStream(par, b, raddr, st.handler)
}

func onlyCRLF(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// headerEndAcross returns the index in data just past the "\r\n\r\n" that ends a header section
// begun in carry (which holds none), or -1.
func headerEndAcross(carry, data []byte) int {
	for j := 3; j >= 1; j-- { // the CRLFCRLF starting j bytes before carry's end
		if len(carry) >= j && len(data) >= 4-j &&
			bytes.Equal(carry[len(carry)-j:], crlfcrlf[:j]) && bytes.Equal(data[:4-j], crlfcrlf[j:]) {
			return 4 - j
		}
	}
	if i := bytes.Index(data, crlfcrlf); i >= 0 {
		return i + 4
	}
	return -1
}

// frameHeader reads h, a start line and header section through its empty line (the first
// CRLFCRLF), and returns the message's Content-Length, or false when the framer is not sure of it:
// a CR without LF, a folded line (RFC 3261 §7.3.1), a line without a colon, no Content-Length or
// more than one, or one written other than plainly (see the file's comment) or above max.
func frameHeader(h []byte, max int) (int, bool) {
	cl := -1
	pos := 0
	for first := true; ; first = false {
		j := bytes.IndexByte(h[pos:], '\r')
		if j < 0 || pos+j+1 >= len(h) || h[pos+j+1] != '\n' {
			return 0, false
		}
		line := h[pos : pos+j]
		pos += j + 2
		if first {
			continue // the start line: the parser reads it
		}
		if len(line) == 0 {
			return cl, cl >= 0 && pos == len(h)
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 0, false
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return 0, false
		}
		// The header parser's name: the text before the colon without white space (TrimSpace).
		name := bytes.TrimSpace(line[:colon])
		if !isContentLengthName(name) {
			continue
		}
		if cl >= 0 {
			return 0, false
		}
		v, ok := plainContentLength(line[:colon], name, line[colon+1:], max)
		if !ok {
			return 0, false
		}
		cl = v
	}
}

// isContentLengthName reports whether the header parser looks name up as Content-Length: in
// ASCII lower case, "content-length" or "l".
func isContentLengthName(name []byte) bool {
	const full = "content-length"
	switch len(name) {
	case 1:
		return name[0] == 'l' || name[0] == 'L'
	case len(full):
		for i, c := range name {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != full[i] {
				return false
			}
		}
		return true
	}
	return false
}

// plainContentLength reads a Content-Length header written plainly: before the colon (raw) its
// name from the line's start and then blanks (SP, HT) only, after it (v) 1 to 10 digits between
// blanks, at most max (and 2^32-1, the parser's limit).
func plainContentLength(raw, name, v []byte, max int) (int, bool) {
	if !bytes.HasPrefix(raw, name) {
		return 0, false
	}
	for _, c := range raw[len(name):] {
		if c != ' ' && c != '\t' {
			return 0, false
		}
	}
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if len(v) == 0 || len(v) > 10 || max < 0 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > uint64(max) || n > 1<<32-1 {
		return 0, false
	}
	return int(n), true
}

// TCPConnection returns the TCP transport's pooled connection to or from addr (the pool's key, as
// net.TCPAddr.String has it: "1.2.3.4:5060", "[::1]:5060"; an IPv4-mapped addr is looked up as
// IPv4), or nil: it never dials. No reference is taken (Ref): a write on a connection closed
// meanwhile returns an error. A connection whose peer is not addr (the pool also keys connections
// by their local address) is not returned. Herald patch: for the TCPFast engine's sends.
func (l *TransportLayer) TCPConnection(addr netip.AddrPort) *TCPConnection {
	if l.tcp == nil || l.tcp.pool == nil || !addr.IsValid() {
		return nil
	}
	ip := addr.Addr().Unmap()
	addr = netip.AddrPortFrom(ip, addr.Port())
	var b [64]byte
	c := l.tcp.pool.lookupBytes(addr.AppendTo(b[:0]))
	if c == nil && ip.Zone() != "" {
		// A dialed connection's key has no zone (Addr.String).
		c = l.tcp.pool.lookupBytes(netip.AddrPortFrom(ip.WithZone(""), addr.Port()).AppendTo(b[:0]))
	}
	tc, ok := c.(*TCPConnection)
	if !ok {
		return nil
	}
	ra, ok := tc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return nil
	}
	rap := ra.AddrPort()
	if rap.Port() != addr.Port() || rap.Addr().Unmap().WithZone("") != ip.WithZone("") {
		return nil
	}
	return tc
}

// lookupBytes is getUnref with the key as bytes (the map lookup copies nothing).
func (p *ConnectionPool) lookupBytes(key []byte) Connection {
	p.mu.RLock()
	c := p.m[string(key)]
	p.mu.RUnlock()
	return c
}

// DialTCP opens a TCP connection to raddr through the TCP transport, as it opens one for a request:
// in its pool, read by the transport (its messages go to the layer's handler, through the TCPFast
// hook first). The caller holds one reference and releases it with TryClose once it wrote. Herald
// patch: the fast path's TCP stream sends a response whose request's connection has closed on a new
// connection to the Via's address (RFC 3261 §18.2.2), as the general path does.
func (l *TransportLayer) DialTCP(ctx context.Context, raddr netip.AddrPort) (*TCPConnection, error) {
	if l.tcp == nil || !raddr.IsValid() {
		return nil, fmt.Errorf("sip: no TCP transport, or no address")
	}
	ip := raddr.Addr().Unmap()
	c, err := l.tcp.CreateConnection(ctx, Addr{}, Addr{IP: ip.AsSlice(), Port: int(raddr.Port()), Zone: ip.Zone()}, l.handleMessage)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*TCPConnection)
	if !ok {
		c.TryClose()
		return nil, fmt.Errorf("sip: TCP transport gave a %T", c)
	}
	return tc, nil
}
