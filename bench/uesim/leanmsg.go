package uesim

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// leanMsg is one SIP message as the lean terminals read it (RFC 3261 §7): the start line and the
// headers they act on, as slices of the datagram (valid until the socket's next read).
type leanMsg struct {
	isReq  bool
	method string // the request's method; a response's CSeq method
	ruri   []byte
	status int

	vias       [][]byte // every Via value, top first (a header line may hold several)
	from, to   []byte
	callID     []byte
	cseqRaw    []byte
	cseq       uint32
	contact    []byte // the URI of the first Contact
	recRoutes  [][]byte
	options    []byte // Require and Supported values, comma-joined
	require    []byte
	rseq       uint32
	rack       []byte
	ctype      []byte
	earlyMedia []byte
	body       []byte
}

var (
	errLeanShort  = errors.New("uesim: lean: no end of headers")
	errLeanStart  = errors.New("uesim: lean: bad start line")
	errLeanHeader = errors.New("uesim: lean: missing or bad header")
)

// leanCompact maps RFC 3261 §7.3.3 compact header names to the full ones the lean terminals read.
var leanCompact = map[string]string{"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
	"c": "content-type", "l": "content-length", "k": "supported"}

// parse reads b into m. It accepts what the lean terminals need and refuses the rest with an
// error (the datagram is then dropped and counted by the caller).
func (m *leanMsg) parse(b []byte) error {
	*m = leanMsg{vias: m.vias[:0], recRoutes: m.recRoutes[:0]}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return errLeanShort
	}
	head, rest := b[:end], b[end+4:]
	line, head, _ := bytes.Cut(head, []byte("\r\n"))
	if bytes.HasPrefix(line, []byte("SIP/2.0 ")) {
		if len(line) < 11 {
			return errLeanStart
		}
		code, err := strconv.Atoi(string(line[8:11]))
		if err != nil || code < 100 || code > 699 {
			return errLeanStart
		}
		m.status = code
	} else {
		meth, r, ok := bytes.Cut(line, []byte(" "))
		uri, ver, ok2 := bytes.Cut(r, []byte(" "))
		if !ok || !ok2 || !bytes.Equal(ver, []byte("SIP/2.0")) || len(meth) == 0 {
			return errLeanStart
		}
		m.isReq, m.method, m.ruri = true, string(meth), uri
	}
	clen := -1
	for len(head) > 0 {
		line, head, _ = bytes.Cut(head, []byte("\r\n"))
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue // a folded line (RFC 3261 §7.3.1): nothing the lean terminals read folds
		}
		val = bytes.TrimSpace(val)
		n := strings.ToLower(string(bytes.TrimSpace(name)))
		if full, ok := leanCompact[n]; ok {
			n = full
		}
		switch n {
		case "via":
			for v := range bytes.SplitSeq(val, []byte(",")) {
				m.vias = append(m.vias, bytes.TrimSpace(v))
			}
		case "from":
			m.from = val
		case "to":
			m.to = val
		case "call-id":
			m.callID = val
		case "cseq":
			num, meth, ok := bytes.Cut(val, []byte(" "))
			n, err := strconv.ParseUint(string(num), 10, 32)
			if !ok || err != nil {
				return errLeanHeader
			}
			m.cseqRaw, m.cseq = val, uint32(n)
			if !m.isReq {
				m.method = string(bytes.TrimSpace(meth))
			}
		case "contact":
			if m.contact == nil {
				m.contact = leanURI(val)
			}
		case "record-route":
			for v := range bytes.SplitSeq(val, []byte(",")) {
				m.recRoutes = append(m.recRoutes, bytes.TrimSpace(v))
			}
		case "require":
			m.require = val
			m.options = append(append(m.options, ','), val...)
		case "supported":
			m.options = append(append(m.options, ','), val...)
		case "rseq":
			n, err := strconv.ParseUint(string(val), 10, 32)
			if err != nil {
				return errLeanHeader
			}
			m.rseq = uint32(n)
		case "rack":
			m.rack = val
		case "content-type":
			m.ctype = val
		case "content-length":
			n, err := strconv.Atoi(string(val))
			if err != nil || n < 0 || n > len(rest) {
				return errLeanHeader
			}
			clen = n
		case "p-early-media":
			m.earlyMedia = val
		}
	}
	if len(m.vias) == 0 || m.from == nil || m.to == nil || len(m.callID) == 0 || m.cseqRaw == nil {
		return errLeanHeader
	}
	m.body = rest
	if clen >= 0 {
		m.body = rest[:clen]
	}
	return nil
}

// leanOption says whether tag is among the comma-separated option tags in list.
func leanOption(list []byte, tag string) bool {
	for v := range bytes.SplitSeq(list, []byte(",")) {
		if strings.EqualFold(string(bytes.TrimSpace(v)), tag) {
			return true
		}
	}
	return false
}

// leanURI is the URI of a name-addr or addr-spec value (RFC 3261 §25.1): inside <> when present,
// else up to the first ';'.
func leanURI(v []byte) []byte {
	if i := bytes.IndexByte(v, '<'); i >= 0 {
		if j := bytes.IndexByte(v[i:], '>'); j > 0 {
			return v[i+1 : i+j]
		}
	}
	u, _, _ := bytes.Cut(v, []byte(";"))
	return bytes.TrimSpace(u)
}

// leanParam returns the value of header parameter name (";tag=", ";branch=") of v, after any
// <URI>; a parameter without a value (";rport") gives an empty, non-nil slice; nil means absent.
func leanParam(v []byte, name string) []byte {
	if i := bytes.LastIndexByte(v, '>'); i >= 0 {
		v = v[i+1:]
	}
	_, v, ok := bytes.Cut(v, []byte(";"))
	for ok {
		var p []byte
		p, v, ok = bytes.Cut(v, []byte(";"))
		k, val, _ := bytes.Cut(p, []byte("="))
		if strings.EqualFold(string(bytes.TrimSpace(k)), name) {
			if val == nil {
				return []byte{}
			}
			return bytes.TrimSpace(val)
		}
	}
	return nil
}

// leanReplyTo is where a response to req goes over UDP (RFC 3261 §18.2.2, RFC 3581): the source
// address when the top Via asks for rport, else the source IP with the Via's sent-by port.
func leanReplyTo(req *leanMsg, from netip.AddrPort) netip.AddrPort {
	via := req.vias[0]
	if leanParam(via, "rport") != nil {
		return from
	}
	sentBy, _, _ := bytes.Cut(via, []byte(";"))
	if i := bytes.IndexAny(sentBy, " \t"); i >= 0 {
		sentBy = bytes.TrimSpace(sentBy[i:])
	}
	port := uint16(5060)
	if i := bytes.LastIndexByte(sentBy, ':'); i >= 0 && !bytes.HasSuffix(sentBy, []byte("]")) {
		if p, err := strconv.ParseUint(string(sentBy[i+1:]), 10, 16); err == nil {
			port = uint16(p)
		}
	}
	return netip.AddrPortFrom(from.Addr(), port)
}

// leanHostPort is the host:port a SIP URI's messages go to (RFC 3263 without DNS: the lean terminals
// only reach literal addresses); port 5060 when absent.
func leanHostPort(uri []byte) (string, bool) {
	s := string(uri)
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.EqualFold(s[:i], "sip") {
		s = s[i+1:]
	} else {
		return "", false
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, ";?>"); i >= 0 {
		s = s[:i]
	}
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "]:"); i >= 0 {
			return s, true
		}
		return s + ":5060", true
	}
	if !strings.Contains(s, ":") {
		s += ":5060"
	}
	return s, s != ":5060"
}

// leanWriter builds one SIP message into a reused buffer.
type leanWriter struct{ b []byte }

func (w *leanWriter) reset() { w.b = w.b[:0] }

func (w *leanWriter) line(parts ...string) {
	for _, p := range parts {
		w.b = append(w.b, p...)
	}
	w.b = append(w.b, "\r\n"...)
}

func (w *leanWriter) header(name string, val []byte) {
	w.b = append(w.b, name...)
	w.b = append(w.b, ": "...)
	w.b = append(w.b, val...)
	w.b = append(w.b, "\r\n"...)
}

// body ends the headers with Content-Type (when ct is set) and Content-Length, then the body.
func (w *leanWriter) body(ct string, body []byte) []byte {
	if ct != "" {
		w.line("Content-Type: ", ct)
	}
	w.line("Content-Length: ", strconv.Itoa(len(body)))
	w.b = append(w.b, "\r\n"...)
	w.b = append(w.b, body...)
	return w.b
}

// response starts a response to req (RFC 3261 §8.2.6.2): status line, every Via, From, To (with
// toTag added when the To has none and the status is above 100), Call-ID, CSeq.
func (w *leanWriter) response(req *leanMsg, code int, reason, toTag string) {
	w.line("SIP/2.0 ", strconv.Itoa(code), " ", reason)
	for _, v := range req.vias {
		w.header("Via", v)
	}
	w.header("From", req.from)
	w.b = append(w.b, "To: "...)
	w.b = append(w.b, req.to...)
	if code > 100 && toTag != "" && leanParam(req.to, "tag") == nil {
		w.b = append(w.b, ";tag="...)
		w.b = append(w.b, toTag...)
	}
	w.b = append(w.b, "\r\n"...)
	w.header("Call-ID", req.callID)
	w.header("CSeq", req.cseqRaw)
}
