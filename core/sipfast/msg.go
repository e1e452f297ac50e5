package sipfast

import (
	"bytes"
)

// msg.go is the engine's view of one SIP datagram (the scanner, see the package doc): the start line and an
// index of the header lines, found in one pass without copying or allocating. It is deliberately
// strict: anything it does not fully understand (line folding, a bare LF, a header it must read
// given twice, a Content-Length that is not the body's length, a quoted string in the top Via...)
// is left to sipgo's parser and Herald's general path, which answer or drop it as before. A
// message the scanner accepts is one the general path would also accept as it is.

// hdrID names the headers the fast path reads or rewrites.
type hdrID uint8

const (
	hOther hdrID = iota
	hVia
	hCallID
	hCSeq
	hFrom
	hTo
	hMaxFwd
	hCLen
	hRoute
	hRecordRoute
	hPAI
	hProxyRequire
	hContact
	hContentType
	hReferTo
	hReferredBy
	hSupported
	hRequire
	hRAck
	numHeaderIDs
)

// single are the headers a message must not carry twice (RFC 3261 §7.3.1); the general path
// answers 400 for those, so the scanner hands such a message to it.
var single = [...]bool{hCallID: true, hCSeq: true, hFrom: true, hTo: true, hMaxFwd: true, hCLen: true}

func headerID(name []byte) hdrID {
	if len(name) == 1 {
		switch name[0] | 0x20 {
		case 'v':
			return hVia
		case 'i':
			return hCallID
		case 'f':
			return hFrom
		case 't':
			return hTo
		case 'l':
			return hCLen
		case 'm':
			return hContact
		case 'c':
			return hContentType
		case 'k':
			return hSupported
		}
		return hOther
	}
	switch len(name) {
	case 2:
		if equalFold(name, "to") {
			return hTo
		}
	case 3:
		if equalFold(name, "via") {
			return hVia
		}
	case 4:
		if equalFold(name, "cseq") {
			return hCSeq
		}
		if equalFold(name, "from") {
			return hFrom
		}
		if equalFold(name, "rack") {
			return hRAck
		}
	case 5:
		if equalFold(name, "route") {
			return hRoute
		}
	case 9:
		if equalFold(name, "supported") {
			return hSupported
		}
	case 8:
		if equalFold(name, "refer-to") {
			return hReferTo
		}
	case 11:
		if equalFold(name, "referred-by") {
			return hReferredBy
		}
	case 7:
		if equalFold(name, "call-id") {
			return hCallID
		}
		if equalFold(name, "contact") {
			return hContact
		}
		if equalFold(name, "require") {
			return hRequire
		}
	case 12:
		if equalFold(name, "max-forwards") {
			return hMaxFwd
		}
		if equalFold(name, "record-route") {
			return hRecordRoute
		}
		if equalFold(name, "content-type") {
			return hContentType
		}
	case 13:
		if equalFold(name, "proxy-require") {
			return hProxyRequire
		}
	case 14:
		if equalFold(name, "content-length") {
			return hCLen
		}
	case 19:
		if equalFold(name, "p-asserted-identity") {
			return hPAI
		}
	}
	return hOther
}

// equalFold compares b with the lower-case ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// method is a request method the fast path knows.
type method uint8

const (
	mOther method = iota
	mINVITE
	mACK
	mBYE
	mCANCEL
	mINFO
	mPRACK  // only on Herald's own early dialog (own.go); any other PRACK goes the general way
	mUPDATE // only the responses to Herald's own (own.go, Originate); UPDATE requests go the general way
)

var methodNames = [...]string{mOther: "", mINVITE: "INVITE", mACK: "ACK", mBYE: "BYE", mCANCEL: "CANCEL", mINFO: "INFO", mPRACK: "PRACK", mUPDATE: "UPDATE"}

func methodOf(b []byte) method {
	// Methods are case-sensitive (RFC 3261 §7.1).
	for m := mINVITE; m <= mUPDATE; m++ {
		if string(b) == methodNames[m] {
			return m
		}
	}
	return mOther
}

// span is [a, b) in the datagram.
type span struct{ a, b int }

func (s span) of(buf []byte) []byte { return buf[s.a:s.b] }
func (s span) empty() bool          { return s.b <= s.a }

// hline is one header line: the whole line with its CRLF, and its value without surrounding blanks.
type hline struct {
	id   hdrID
	line span
	val  span
}

// maxHeaderLines bounds the header lines the scanner indexes; a message with more goes the general
// way (a response to the engine's own request is read leniently, hostLoose, or counted unreadable).
// It is far above what a SIP network sends, long Via and Record-Route chains included, and bounds the
// index a hostile datagram makes the reader build. The first maxFastHeaders lines are indexed inside
// the fmsg, on the reader's stack; only a longer message costs an allocation.
const (
	maxHeaderLines = 512
	maxAddedLines  = 8 // a request the engine takes leaves room for the lines it adds (Via, Record-Route)
	maxFastHeaders = 64
)

// fmsg is one scanned datagram. It refers into buf, which the caller must not reuse while it is in
// use (sipgo's read buffer: the fast path is done with it before the next read).
type fmsg struct {
	buf    []byte
	isReq  bool
	method method                // requests
	status int                   // responses
	ruri   span                  // requests: the Request-URI
	start  span                  // the start line with its CRLF
	body   int                   // offset of the body
	hdr    [maxFastHeaders]hline // the first header lines (h)
	more   []hline               // the lines after the first maxFastHeaders (h)
	n      int
	at     [numHeaderIDs]int16 // index (h) of the first line of each header, -1 when absent

	cseq    uint32
	cseqM   method
	mf      int // Max-Forwards, -1 when absent
	toTag   bool
	branch  span // the top Via's branch value
	sentBy  span // the top Via's sent-by (host[:port])
	viaEnd  int  // end of the top Via's value (a comma or the end of the first Via line's value)
	rport   span // the top Via's bare ";rport" (empty when it has none or has a value)
	proxyRq bool // Proxy-Require present
	viaTCP  bool // the top Via's transport is TCP (else UDP)
	locked  bool // Engine.mu is held while handling this message (released by Take after a panic)
}

// scan indexes buf. It reports false for anything the fast path leaves to the general path.
func (m *fmsg) scan(buf []byte) bool {
	m.buf = buf
	m.n, m.more = 0, m.more[:0]
	m.mf = -1
	m.toTag, m.proxyRq, m.viaTCP = false, false, false
	m.branch, m.rport = span{}, span{}
	for i := range m.at {
		m.at[i] = -1
	}
	eol := bytes.Index(buf, crlf)
	if eol <= 0 || bytes.IndexByte(buf[:eol], '\r') >= 0 || bytes.IndexByte(buf[:eol], '\n') >= 0 {
		return false
	}
	m.start = span{0, eol + 2}
	if !m.startLine(buf[:eol]) {
		return false
	}
	i := eol + 2
	for {
		if i+2 > len(buf) {
			return false
		}
		if buf[i] == '\r' && buf[i+1] == '\n' {
			m.body = i + 2
			break
		}
		if buf[i] == ' ' || buf[i] == '\t' || m.n == maxHeaderLines {
			return false // folded line, or too many headers
		}
		e := bytes.Index(buf[i:], crlf)
		if e < 0 {
			return false
		}
		line := buf[i : i+e]
		if bytes.IndexByte(line, '\n') >= 0 || bytes.IndexByte(line, '\r') >= 0 {
			return false // a bare LF or CR
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		name := trimBlanks(line[:colon])
		if !isToken(name) {
			return false
		}
		vs, ve := i+colon+1, i+e
		for vs < ve && (buf[vs] == ' ' || buf[vs] == '\t') {
			vs++
		}
		for ve > vs && (buf[ve-1] == ' ' || buf[ve-1] == '\t') {
			ve--
		}
		id := headerID(name)
		if id != hOther {
			if m.at[id] >= 0 {
				if int(id) < len(single) && single[id] {
					return false
				}
			} else {
				m.at[id] = int16(m.n)
			}
		}
		if id == hProxyRequire {
			m.proxyRq = true
		}
		if !checkLine(id, buf[vs:ve]) {
			return false
		}
		if hl := (hline{id: id, line: span{i, i + e + 2}, val: span{vs, ve}}); m.n < maxFastHeaders {
			m.hdr[m.n] = hl
		} else {
			m.more = append(m.more, hl)
		}
		m.n++
		i += e + 2
	}
	// The headers RFC 3261 §8.1.1 and §8.2.6.2 require of every request and response. Content-Length
	// is not among them over UDP (§18.3, §20.14: without it the body is the rest of the datagram;
	// linphone sends responses without one), so only a present one must equal the body's length.
	for _, id := range [...]hdrID{hVia, hCallID, hCSeq, hFrom, hTo} {
		if m.at[id] < 0 {
			return false
		}
	}
	if m.at[hCLen] >= 0 {
		if cl, ok := atoi(m.value(hCLen)); !ok || cl != len(buf)-m.body {
			return false
		}
	}
	if v := m.value(hCallID); len(v) == 0 || !printable(v) || bytes.IndexByte(v, ',') >= 0 {
		return false
	}
	if !m.scanCSeq() || !m.scanTopVia() || !m.scanTo() {
		return false
	}
	if m.isReq && m.cseqM != m.method {
		return false
	}
	if m.at[hMaxFwd] >= 0 {
		n, ok := atoi(m.value(hMaxFwd))
		if !ok || n > 255 {
			return false
		}
		m.mf = n
	}
	return true
}

var crlf = []byte("\r\n")

func (m *fmsg) startLine(l []byte) bool {
	if bytes.HasPrefix(l, []byte("SIP/2.0 ")) {
		// Status-Line: SIP/2.0 SP 3DIGIT SP Reason-Phrase.
		if len(l) < 12 || l[11] != ' ' {
			return false
		}
		code, ok := atoi(l[8:11])
		if !ok || code < 100 || code > 699 {
			return false
		}
		// sipgo takes "SIP/2.0 200 SIPx" (one word starting with SIP or sip) for a request line.
		if r := l[12:]; len(r) >= 3 && bytes.IndexByte(r, ' ') < 0 && (string(r[:3]) == "SIP" || string(r[:3]) == "sip") {
			return false
		}
		m.isReq, m.status = false, code
		return true
	}
	sp1 := bytes.IndexByte(l, ' ')
	if sp1 <= 0 {
		return false
	}
	rest := l[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || string(rest[sp2+1:]) != "SIP/2.0" {
		return false
	}
	uri := rest[:sp2]
	// Only sip: and tel: Request-URIs without URI headers (a '?' is 400 on the general path) or
	// blanks.
	if !requestURI(uri) || bytes.ContainsAny(uri, "?\t<>\"") {
		return false
	}
	m.isReq = true
	m.method = methodOf(l[:sp1])
	m.ruri = span{sp1 + 1, sp1 + 1 + sp2}
	return m.method != mOther
}

// txKey is the key of the request's server transaction (RFC 3261 §17.2.3: branch and sent-by; the
// method class is the table it is looked up in), written into dst.
func (m *fmsg) txKey(dst []byte) []byte {
	dst = append(dst, m.branch.of(m.buf)...)
	dst = append(dst, ' ')
	return append(dst, m.sentBy.of(m.buf)...)
}

// value is the value of the first line of header id (nil when absent).
func (m *fmsg) value(id hdrID) []byte {
	if m.at[id] < 0 {
		return nil
	}
	return m.h(int(m.at[id])).val.of(m.buf)
}

// h is header line i (0 <= i < m.n).
func (m *fmsg) h(i int) *hline {
	if i < maxFastHeaders {
		return &m.hdr[i]
	}
	return &m.more[i-maxFastHeaders]
}

func (m *fmsg) scanCSeq() bool {
	v := m.value(hCSeq)
	sp := bytes.IndexAny(v, " \t")
	if sp <= 0 {
		return false
	}
	n, ok := atoi(v[:sp])
	if !ok || n > 1<<31-1 {
		return false
	}
	m.cseq = uint32(n)
	m.cseqM = methodOf(v[sp+1:]) // one blank only: sipgo keeps the others in the method
	if m.cseqM == mOther && !m.isReq {
		return false
	}
	return true
}

// viaPrefix is the length of "SIP/2.0/UDP " and of "SIP/2.0/TCP ".
const viaPrefix = len("SIP/2.0/UDP ")

// scanTopVia reads the first value of the first Via line: SIP/2.0/UDP or SIP/2.0/TCP sent-by, its
// branch and a bare rport. The fast path serves a request over the transport its top Via names, and
// forwards it over the same one (a request whose Via does not name the transport it came over is
// the general path's: Engine.handle).
func (m *fmsg) scanTopVia() bool {
	h := *m.h(int(m.at[hVia]))
	v := h.val.of(m.buf)
	if bytes.IndexByte(v, '"') >= 0 {
		return false
	}
	switch {
	case hasPrefixFold(v, "sip/2.0/udp "):
	case hasPrefixFold(v, "sip/2.0/tcp "):
		m.viaTCP = true
	default:
		return false
	}
	end := len(v)
	if c := bytes.IndexByte(v, ','); c >= 0 {
		end = c
	}
	m.viaEnd = h.val.a + end
	top := v[:end]
	// No blanks after the transport's: sipgo keeps them in the sent-by's port (and then drops the
	// parameters) and in parameter names and values.
	if bytes.ContainsAny(top[viaPrefix:], " \t") {
		return false
	}
	semi := bytes.IndexByte(top, ';')
	if semi < 0 {
		return false // no branch
	}
	sb := h.val.a + viaPrefix
	m.sentBy = span{sb, h.val.a + semi}
	if _, _, ok := hostPort(m.sentBy.of(m.buf)); !ok {
		return false
	}
	seenR := false
	for p := semi; p < len(top); {
		q := bytes.IndexByte(top[p+1:], ';')
		e := len(top)
		if q >= 0 {
			e = p + 1 + q
		}
		param := top[p+1 : e]
		base := h.val.a + p + 1
		if len(param) == 0 || param[0] == '=' || param[len(param)-1] == '=' {
			return false // sipgo reads the next parameter's name with the ';', or "rport=" as rport
		}
		k := param
		if eq := bytes.IndexByte(param, '='); eq >= 0 {
			k = param[:eq]
		}
		// sipgo looks parameters up in lower case only, and keeps the last of two.
		switch {
		case equalFold(k, "branch"):
			if string(k) != "branch" || !m.branch.empty() || len(k) == len(param) {
				return false
			}
			m.branch = span{base + 7, base + len(param)}
		case equalFold(k, "rport"):
			if string(k) != "rport" || seenR {
				return false
			}
			seenR = true
			if len(k) == len(param) {
				m.rport = span{base, base + len(param)}
			}
		}
		p = e
	}
	b := m.branch.of(m.buf)
	// RFC 3261 branches only (the magic cookie): older ones are matched the RFC 2543 way by sipgo.
	return len(b) > 7 && string(b[:7]) == "z9hG4bK" && isToken(b)
}

// scanTo notes whether To carries a tag (in-dialog request, or a response from a UAS).
func (m *fmsg) scanTo() bool {
	params, ok := addr(m.value(hTo))
	if !ok {
		return false
	}
	m.toTag = hasParam(params, "tag")
	return true
}

// nameAddr splits a name-addr or addr-spec header value into its URI and the header parameters
// after it (RFC 3261 §20.10).
func nameAddr(v []byte) (uri, params []byte, ok bool) {
	if len(v) == 0 {
		return nil, nil, false
	}
	i := 0
	if v[0] == '"' {
		for i = 1; i < len(v) && v[i] != '"'; i++ {
			if v[i] == '\\' {
				i++
			}
		}
		if i >= len(v) {
			return nil, nil, false
		}
	}
	lt := bytes.IndexByte(v[i:], '<')
	if lt < 0 {
		if i > 0 {
			return nil, nil, false
		}
		// addr-spec: the parameters after the URI belong to the header.
		if s := bytes.IndexByte(v, ';'); s >= 0 {
			return v[:s], v[s:], true
		}
		return v, nil, true
	}
	lt += i
	gt := bytes.IndexByte(v[lt:], '>')
	if gt < 0 {
		return nil, nil, false
	}
	gt += lt
	return v[lt+1 : gt], v[gt+1:], true
}

// hasParam reports whether the ;-separated parameter list has name (with or without a value).
func hasParam(params []byte, name string) bool {
	for len(params) > 0 {
		params = bytes.TrimLeft(params, " \t")
		if len(params) == 0 || params[0] != ';' {
			return false
		}
		params = params[1:]
		e := bytes.IndexByte(params, ';')
		p := params
		if e >= 0 {
			p, params = params[:e], params[e:]
		} else {
			params = nil
		}
		if eq := bytes.IndexByte(p, '='); eq >= 0 {
			p = p[:eq]
		}
		if equalFold(trimBlanks(p), name) {
			return true
		}
	}
	return false
}
