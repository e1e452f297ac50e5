package msrp

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Default limits.
const (
	DefaultMaxHeaderBytes = 4096
	DefaultMaxBodyBytes   = 64 << 10
)

// Limits bound the memory one frame may make the reader buffer.
type Limits struct {
	// MaxHeaderBytes bounds the start line plus the header lines (and, for a
	// frame without body, its end-line). 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxBodyBytes bounds the body of one chunk. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int
}

type parseState uint8

const (
	stStart   parseState = iota // before the start line is complete
	stHeaders                   // reading header lines
	stBody                      // looking for the end-line after the body
)

// Bits of Parser.typed: the single-valued headers seen in this frame.
const (
	hToPath uint16 = 1 << iota
	hFromPath
	hMessageID
	hByteRange
	hSuccessReport
	hFailureReport
	hStatus
	hContentType
)

const (
	maxTIDLen  = 32
	minTIDLen  = 4
	startMSRP  = "MSRP "
	tidOffset  = len(startMSRP)
	maxDigits  = 18 // Byte-Range numbers fit in int64
	endLineFix = len(endLineDashes) + 3
)

// Parser is a resumable frame parser for one stream (one TCP connection),
// after RFC 4975 §9:
//
//	msrp-request  = req-start headers [content-stuff] end-line
//	msrp-response = resp-start headers end-line
//	req-start     = "MSRP" SP transact-id SP method CRLF
//	resp-start    = "MSRP" SP transact-id SP status-code [SP comment] CRLF
//	content-stuff = *(Other-Mime-header CRLF) Content-Type 2CRLF data CRLF
//	end-line      = "-------" transact-id continuation-flag CRLF
//	transact-id   = ident = ALPHANUM 3*31ident-char
//
// It keeps its scan position between calls, so a frame arriving in many reads is
// scanned once: header lines are validated once and the body is searched for the
// end-line only in the new bytes. A reused Parser and Message allocate nothing
// per frame (errors other than ErrIncomplete allocate).
//
// Parser is not concurrency-safe; use one per stream, from one goroutine.
type Parser struct {
	Limits Limits

	st        parseState
	resumed   bool   // ErrIncomplete was returned for this frame: m must be refilled
	request   bool   // the start line is a request
	off       int    // head: start of the current line; body: next end-line search position
	scan      int    // head: where to resume looking for '\n' in the current line
	seen      int    // len(buf) of the previous call, to catch a shrinking buffer
	tidLen    int    // the transaction id is buf[tidOffset : tidOffset+tidLen]
	headEnd   int    // offset of the blank line or bodiless end-line
	bodyStart int    // offset of the first body byte
	typed     uint16 // h* bits

	pat [len(endLineDashes) + maxTIDLen]byte // "-------" tid, searched for in the body
}

// Reset drops any partial frame state; Limits are kept.
func (p *Parser) Reset() {
	l := p.Limits
	*p = Parser{Limits: l}
}

func (p *Parser) limits() (maxH, maxB int) {
	maxH, maxB = p.Limits.MaxHeaderBytes, p.Limits.MaxBodyBytes
	if maxH <= 0 {
		maxH = DefaultMaxHeaderBytes
	}
	if maxB <= 0 {
		maxB = DefaultMaxBodyBytes
	}
	return maxH, maxB
}

// Parse parses one complete frame at the start of buf into m. All slices in m
// alias buf and die with it.
//
// It returns (n, nil) with n > 0 bytes consumed; (0, ErrIncomplete) when buf
// holds only a prefix of a frame (the Parser remembers how far it scanned: call
// again with the same buf start plus more bytes, the same or another m).
//
// The contract with the caller's read loop: the result is the number of bytes
// consumed, and 0 means "need more". The caller must keep every unconsumed byte,
// unchanged and in order, and start the next call's buf with them (after dropping
// exactly n bytes on success). A transport whose "discard n" has a special meaning
// for 0 (gnet's Conn.Discard drops everything for n <= 0) must not be called with
// 0. netio/msrp's connState.input states the same contract for its transports.
// Any other error
// is a *[FrameError] wrapping ErrMalformed, ErrHeaderTooLarge or ErrBodyTooLarge;
// the Parser is then reset and the caller answers 400/413 if FrameError.TID is
// set and closes the connection.
func (p *Parser) Parse(buf []byte, m *Message) (n int, err error) {
	if len(buf) < p.seen {
		p.Reset() // the caller broke the contract: start over rather than panic
	}
	p.seen = len(buf)
	maxH, maxB := p.limits()

	if p.st == stStart {
		if p.scan == 0 {
			m.Reset()
			p.typed = 0
		}
		// Cheap garbage filter before the line is complete.
		k := min(len(buf), tidOffset)
		if string(buf[:k]) != startMSRP[:k] {
			return p.fail(buf, 0, fmt.Errorf("%w: start line does not begin with %q", ErrMalformed, startMSRP))
		}
		nl := indexByteFrom(buf, '\n', p.scan)
		if nl < 0 {
			return p.more(buf, maxH)
		}
		if nl+1 > maxH {
			return p.fail(buf, 0, fmt.Errorf("%w: start line of %d bytes", ErrHeaderTooLarge, nl+1))
		}
		if nl == 0 || buf[nl-1] != '\r' {
			return p.fail(buf, nl, fmt.Errorf("%w: start line not ended by CRLF", ErrMalformed))
		}
		if err := p.parseStartLine(buf[:nl-1], m); err != nil {
			return p.fail(buf, 0, err)
		}
		p.st = stHeaders
		p.off, p.scan = nl+1, nl+1
	}

	if p.st == stHeaders {
		for {
			nl := indexByteFrom(buf, '\n', p.scan)
			if nl < 0 {
				return p.more(buf, maxH)
			}
			end := nl + 1
			if end > maxH {
				return p.fail(buf, p.off, fmt.Errorf("%w: header line ends at byte %d", ErrHeaderTooLarge, end))
			}
			if nl == p.off || buf[nl-1] != '\r' {
				return p.fail(buf, nl, fmt.Errorf("%w: header line not ended by CRLF", ErrMalformed))
			}
			line := buf[p.off : nl-1]
			if len(line) == 0 || line[0] == '-' {
				// End of the head: a blank line (a body follows) or an end-line.
				if p.typed&(hToPath|hFromPath) != hToPath|hFromPath {
					return p.fail(buf, p.off, fmt.Errorf("%w: missing To-Path or From-Path", ErrMalformed))
				}
				p.headEnd = p.off
				if len(line) != 0 {
					flag, ok := p.endLine(buf, line)
					if !ok {
						return p.fail(buf, p.off, fmt.Errorf("%w: bad end-line %q", ErrMalformed, line))
					}
					return p.finish(buf, m, nil, flag, end)
				}
				p.st = stBody
				p.bodyStart, p.off = end, end
				break
			}
			if err := p.parseHeaderLine(line, m); err != nil {
				return p.fail(buf, p.off, err)
			}
			p.off, p.scan = end, end
		}
	}

	// stBody: the body ends at the first CRLF "-------" tid flag CRLF.
	bs := p.bodyStart
	tidLen := p.tidLen
	elen := len(endLineDashes) + tidLen + 3 // "-------" tid flag CRLF
	// Tolerated: an empty body whose end-line directly follows the blank line.
	if len(buf) >= bs+elen && buf[bs] == '-' && buf[bs+elen-2] == '\r' && buf[bs+elen-1] == '\n' {
		if flag, ok := p.endLine(buf, buf[bs:bs+elen-2]); ok {
			return p.finish(buf, m, buf[bs:bs], flag, bs+elen)
		}
	}
	// Search for "-------" tid rather than CRLF "-------" tid: CRLF is frequent
	// in bodies (HTML), runs of seven dashes are not, so bytes.Index skips ahead.
	pat := p.pat[:len(endLineDashes)+tidLen]
	for {
		i := bytes.Index(buf[p.off:], pat)
		if i < 0 {
			p.off = max(p.off, len(buf)-len(pat)+1)
			break
		}
		i += p.off
		j := i + len(pat)
		if len(buf) < j+3 {
			p.off = i // candidate not complete yet: look at it again next time
			break
		}
		if i >= bs+2 && buf[i-2] == '\r' && buf[i-1] == '\n' && isFlag(buf[j]) && buf[j+1] == '\r' && buf[j+2] == '\n' {
			if i-2-bs > maxB {
				return p.fail(buf, bs, fmt.Errorf("%w: %d bytes > %d", ErrBodyTooLarge, i-2-bs, maxB))
			}
			return p.finish(buf, m, buf[bs:i-2], buf[j], j+3)
		}
		p.off = i + 1 // decoy: same tid without CRLF before or flag CRLF after
	}
	if len(buf)-bs >= maxB+2+len(pat)+3 {
		// A body within the limit would have its end-line inside buf by now.
		return p.fail(buf, bs, fmt.Errorf("%w: more than %d bytes without end-line", ErrBodyTooLarge, maxB))
	}
	p.resumed = true
	return 0, ErrIncomplete
}

// more returns ErrIncomplete for an unfinished head line, or ErrHeaderTooLarge.
func (p *Parser) more(buf []byte, maxH int) (int, error) {
	if len(buf) > maxH {
		return p.fail(buf, p.off, fmt.Errorf("%w: no line end within %d bytes", ErrHeaderTooLarge, maxH))
	}
	p.scan = len(buf)
	p.resumed = true
	return 0, ErrIncomplete
}

// finish completes a frame. If earlier calls returned ErrIncomplete, m may hold
// slices of an older buffer, so the head is parsed again from buf (it was
// validated already; this costs at most MaxHeaderBytes once per frame).
func (p *Parser) finish(buf []byte, m *Message, body []byte, flag byte, n int) (int, error) {
	if p.resumed {
		m.Reset()
		p.typed = 0
		var err error
		for off := 0; err == nil && off < p.headEnd; {
			nl := indexByteFrom(buf, '\n', off)
			if nl < off+1 || nl >= p.headEnd {
				err = fmt.Errorf("%w: buffer changed between calls", ErrMalformed)
				break
			}
			if off == 0 {
				err = p.parseStartLine(buf[:nl-1], m)
			} else {
				err = p.parseHeaderLine(buf[off:nl-1], m)
			}
			off = nl + 1
		}
		if err == nil && p.typed&(hToPath|hFromPath) != hToPath|hFromPath {
			err = fmt.Errorf("%w: buffer changed between calls", ErrMalformed)
		}
		if err != nil { // only if the caller changed bytes it had already passed
			return p.fail(buf, 0, err)
		}
	}
	m.Body = body
	m.Flag = flag
	l := p.Limits
	*p = Parser{Limits: l}
	return n, nil
}

// fail resets the parser and returns err as a *FrameError.
func (p *Parser) fail(buf []byte, off int, err error) (int, error) {
	fe := &FrameError{Offset: off, Err: err}
	if p.tidLen > 0 && len(buf) >= tidOffset+p.tidLen {
		fe.TID = append([]byte(nil), buf[tidOffset:tidOffset+p.tidLen]...)
		fe.Request = p.request
	}
	p.Reset()
	return 0, fe
}

// endLine checks line (without CRLF) against "-------" tid flag.
func (p *Parser) endLine(buf, line []byte) (byte, bool) {
	tid := buf[tidOffset : tidOffset+p.tidLen]
	if len(line) != len(endLineDashes)+len(tid)+1 || string(line[:len(endLineDashes)]) != endLineDashes ||
		!bytes.Equal(line[len(endLineDashes):len(line)-1], tid) || !isFlag(line[len(line)-1]) {
		return 0, false
	}
	return line[len(line)-1], true
}

// parseStartLine parses the start line without its CRLF.
func (p *Parser) parseStartLine(line []byte, m *Message) error {
	if len(line) < tidOffset || string(line[:tidOffset]) != startMSRP {
		return fmt.Errorf("%w: start line %q", ErrMalformed, line)
	}
	rest := line[tidOffset:]
	sp := indexByte(rest, ' ')
	if sp < 0 {
		return fmt.Errorf("%w: start line %q has no method or status", ErrMalformed, line)
	}
	tid := rest[:sp]
	if !validTID(tid) {
		return fmt.Errorf("%w: transaction id %q", ErrMalformed, tid)
	}
	p.tidLen = len(tid) // from here on, errors carry the tid
	copy(p.pat[:], endLineDashes)
	copy(p.pat[len(endLineDashes):], tid)
	m.TID = tid
	rest = rest[sp+1:]
	// Only requests are answered: anything starting with a digit is not one.
	p.request = len(rest) == 0 || !isDigit(rest[0])
	if len(rest) >= 3 && isDigit(rest[0]) && isDigit(rest[1]) && isDigit(rest[2]) && (len(rest) == 3 || rest[3] == ' ') {
		code, ok := status3(rest[:3])
		if !ok {
			return fmt.Errorf("%w: status code %q", ErrMalformed, rest[:3])
		}
		m.Status = code
		if len(rest) > 3 {
			m.Comment = rest[4:]
			if !validText(m.Comment) {
				return fmt.Errorf("%w: response comment %q", ErrMalformed, m.Comment)
			}
		}
		return nil
	}
	if len(rest) == 0 {
		return fmt.Errorf("%w: empty method", ErrMalformed)
	}
	for _, c := range rest {
		if c < 'A' || c > 'Z' {
			return fmt.Errorf("%w: method %q", ErrMalformed, rest)
		}
	}
	m.Method = rest
	return nil
}

// parseHeaderLine parses "Name: value" (without CRLF), appends it to m.Headers
// and decodes the headers RFC 4975 defines. hname = ALPHA *token (RFC 4975 §9);
// leading and trailing SP/HTAB of the value are dropped.
//
// Fast path: a name that is one of the RFC 4975 headers (any case) is a valid
// token already, so only other names are checked character by character.
func (p *Parser) parseHeaderLine(line []byte, m *Message) error {
	colon := indexByte(line, ':')
	if colon <= 0 || !isAlpha(line[0]) {
		return fmt.Errorf("%w: header line %q", ErrMalformed, line)
	}
	name := line[:colon]
	bit := knownHeader(name)
	if bit == 0 {
		for _, c := range name[1:] {
			if !isTokenChar(c) {
				return fmt.Errorf("%w: header name %q", ErrMalformed, name)
			}
		}
	}
	value := line[colon+1:]
	if len(value) > 0 && value[0] == ' ' && (len(value) == 1 || (value[1] != ' ' && value[1] != '\t')) &&
		value[len(value)-1] != ' ' && value[len(value)-1] != '\t' {
		value = value[1:] // the usual "Name: value" with one SP
	} else {
		value = trimWS(value)
	}
	if !validText(value) {
		return fmt.Errorf("%w: header %q value has control characters", ErrMalformed, name)
	}
	m.Headers = append(m.Headers, Header{Name: name, Value: value})

	switch bit {
	case 0:
		return nil
	case hStatus:
		m.StatusHeader = value
	case hToPath:
		m.ToPath = value
	case hFromPath:
		m.FromPath = value
	case hMessageID:
		m.MessageID = value
	case hByteRange:
		br, ok := parseByteRange(value)
		if !ok {
			return fmt.Errorf("%w: Byte-Range %q", ErrMalformed, value)
		}
		m.ByteRange, m.HasByteRange = br, true
	case hContentType:
		m.ContentType = value
	case hSuccessReport:
		m.SuccessReport = value
	case hFailureReport:
		m.FailureReport = value
	}
	if p.typed&bit != 0 {
		return fmt.Errorf("%w: duplicate %s header", ErrMalformed, name)
	}
	p.typed |= bit
	if (bit == hToPath || bit == hFromPath || bit == hMessageID) && len(value) == 0 {
		return fmt.Errorf("%w: empty %s header", ErrMalformed, name)
	}
	return nil
}

// knownHeader returns the h* bit of an RFC 4975 header name (ASCII case-insensitive), or 0. The usual
// spelling is compared first (one memory compare), then any other case.
func knownHeader(name []byte) uint16 {
	switch len(name) {
	case 6:
		if string(name) == "Status" || equalFold(name, "Status") {
			return hStatus
		}
	case 7:
		if string(name) == "To-Path" || equalFold(name, "To-Path") {
			return hToPath
		}
	case 9:
		if string(name) == "From-Path" || equalFold(name, "From-Path") {
			return hFromPath
		}
	case 10:
		switch {
		case string(name) == "Message-ID" || equalFold(name, "Message-ID"):
			return hMessageID
		case string(name) == "Byte-Range" || equalFold(name, "Byte-Range"):
			return hByteRange
		}
	case 12:
		if string(name) == "Content-Type" || equalFold(name, "Content-Type") {
			return hContentType
		}
	case 14:
		switch {
		case string(name) == "Success-Report" || equalFold(name, "Success-Report"):
			return hSuccessReport
		case string(name) == "Failure-Report" || equalFold(name, "Failure-Report"):
			return hFailureReport
		}
	}
	return 0
}

// parseByteRange parses RFC 4975 §9:
//
//	Byte-Range  = "Byte-Range:" SP range-start "-" range-end "/" total
//	range-start = 1*DIGIT
//	range-end   = 1*DIGIT / "*"
//	total       = 1*DIGIT / "*"
//
// It also requires start >= 1, end >= start-1 and end <= total when known.
func parseByteRange(v []byte) (ByteRange, bool) {
	var br ByteRange
	var ok bool
	if br.Start, v, ok = parseNum(v, false); !ok || len(v) == 0 || v[0] != '-' {
		return br, false
	}
	if br.End, v, ok = parseNum(v[1:], true); !ok || len(v) == 0 || v[0] != '/' {
		return br, false
	}
	if br.Total, v, ok = parseNum(v[1:], true); !ok || len(v) != 0 {
		return br, false
	}
	if br.Start < 1 || (br.End >= 0 && br.End < br.Start-1) || (br.End >= 0 && br.Total >= 0 && br.End > br.Total) {
		return br, false
	}
	return br, true
}

// parseNum parses 1*DIGIT (at most maxDigits) or, if star, "*" as -1.
func parseNum(v []byte, star bool) (int64, []byte, bool) {
	if star && len(v) > 0 && v[0] == '*' {
		return -1, v[1:], true
	}
	var n int64
	i := 0
	for ; i < len(v) && isDigit(v[i]); i++ {
		if i == maxDigits {
			return 0, v, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, v[i:], i > 0
}

// validTID reports whether tid is an RFC 4975 ident: ALPHANUM 3*31ident-char,
// ident-char = ALPHANUM / "." / "-" / "+" / "%" / "=".
func validTID(tid []byte) bool {
	if len(tid) < minTIDLen || len(tid) > maxTIDLen || !isAlnum(tid[0]) {
		return false
	}
	for _, c := range tid[1:] {
		if !isAlnum(c) && c != '.' && c != '-' && c != '+' && c != '%' && c != '=' {
			return false
		}
	}
	return true
}

// validText rejects control characters other than HTAB (utf8text allows UTF-8).
// It tests eight bytes at a time: a word with no byte below 0x20 and no 0x7f
// is clean; only a word that may hold one (or an HTAB) is looked at bytewise.
func validText(b []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		del := x ^ (0x7f * ones) // a 0x7f byte becomes 0
		if ((x-0x20*ones)&^x|(del-ones)&^del)&highs != 0 {
			for _, c := range b[:8] {
				if (c < 0x20 && c != '\t') || c == 0x7f {
					return false
				}
			}
		}
		b = b[8:]
	}
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func isFlag(c byte) bool { return c == FlagEnd || c == FlagMore || c == FlagAbort }

func indexByteFrom(b []byte, c byte, from int) int {
	if from >= len(b) {
		return -1
	}
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return i + from
	}
	return -1
}
