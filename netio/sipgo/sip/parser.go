package sip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The whitespace characters recognised by the Augmented Backus-Naur Form syntax
// that SIP uses (RFC 3261 S.25).
const abnf = " \t"

// The maximum permissible CSeq number in a SIP message (2**31 - 1).
// C.f. RFC 3261 S. 8.1.1.5.
const maxCseq = 2147483647

var (
	ErrParseLineNoCRLF = errors.New("line has no CRLF")
	ErrParseEOF        = errors.New("EOF on reading line")

	// Stream parse errors
	ErrParseSipPartial         = errors.New("SIP partial data")
	ErrParseReadBodyIncomplete = errors.New("reading body incomplete")
	ErrMessageTooLarge         = errors.New("Message exceeds ParseMaxMessageLength")

	defaultParser = NewParser()
)

var (
	ParseMaxMessageLength = 65535
)

func ParseMessage(msgData []byte) (Message, error) {
	return defaultParser.ParseSIP(msgData)
}

// Parser is implementation of SIPParser
// It is optimized with faster header parsing
type Parser struct {
	// HeadersParsers uses default list of headers to be parsed. Smaller list parser will be faster
	headersParsers HeadersParser

	MaxMessageLength int
}

// ParserOption are addition option for NewParser. Check WithParser...
type ParserOption func(p *Parser)

// Create a new Parser.
func NewParser(options ...ParserOption) *Parser {
	p := &Parser{
		headersParsers:   DefaultHeadersParser(),
		MaxMessageLength: ParseMaxMessageLength,
	}

	for _, o := range options {
		o(p)
	}

	return p
}

// WithHeadersParsers allows customizing parser headers parsers
// Consider performance when adding custom parser.
// Add only if it will appear in almost every message
//
// Check DefaultHeadersParser as starting point
func WithHeadersParsers(m map[string]HeaderParser) ParserOption {
	return func(p *Parser) {
		p.headersParsers = m
	}
}

// ParseHeaders parses all headers of a SIP message. It returns the number of bytes read.
// Data must contain a full SIP message header section, including double CRLF (\r\n).
//
// If the message is cut in the middle of a header or the first line, io.ErrUnexpectedEOF is returned.
// It may return an error wrapping ErrParseLineNoCRLF if one of the header lines is malformed,
// or if there's no CRLF (\r\n) delimiter after headers.
func (p *Parser) ParseHeaders(data []byte, stream bool) (Message, int, error) {
	msg, _, n, err := p.parseHeaders(data, stream)
	return msg, n, err
}

func (p *Parser) parseHeaders(data []byte, stream bool) (Message, *ContentLengthHeader, int, error) {
	// Herald patch: the start line and the header section are copied to one string, and the start
	// line and every header's name and value are substrings of it: one allocation per message where
	// upstream made one string per line (two for a header without a parser), plus the lower-case
	// copy of such a header's name. The stream parser (parseStartLine, parseNextHeader) reads line
	// by line as upstream did.
	skipped, startLine, total, err := readStartLine(data, stream)
	if err != nil {
		return nil, nil, total, err
	}
	text := headerSectionText(data[skipped:])
	msg, err := parseLine(text[:len(startLine)])
	if err != nil {
		return nil, nil, total, err
	}
	data = data[total:]
	text = text[total-skipped:]

	contentLength, n, err := p.parseHeadersOnly(msg, data, text)
	total += n
	return msg, contentLength, total, err
}

// Herald patch: headerSectionText is data up to the empty line ending the header section, all of
// data when there is none, as one string. Every line parseHeaders reads lies in it: a line ends at
// the first CR after its start, so the walk from the start line meets the first CRLFCRLF (or stops
// at an error before it).
func headerSectionText(data []byte) string {
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return string(data[:i+4])
	}
	return string(data)
}

// Herald patch: readStartLine is parseStartLine's reading of the start line, shared with
// parseHeaders: the CRLFs a stream may have before it (skipped), the line without its CRLF, and
// the bytes read (CRLFs skipped and the line).
func readStartLine(data []byte, stream bool) (skipped int, startLine []byte, total int, err error) {
	if stream {
		// RFC 3261 - 7.5.
		// Implementations processing SIP messages over stream-oriented
		// transports MUST ignore any CRLF appearing before the start-line.
		for len(data)-skipped >= 2 && data[skipped] == '\r' && data[skipped+1] == '\n' {
			skipped += 2
		}
	}

	startLine, n, err := nextLine(data[skipped:])
	if err != nil {
		if err == io.EOF && skipped > 0 {
			return skipped, nil, skipped, io.ErrUnexpectedEOF
		}
		return skipped, nil, skipped, err
	}
	return skipped, startLine, skipped + n, nil
}

func (p *Parser) parseStartLine(data []byte, stream bool) (Message, int, error) {
	_, startLine, total, err := readStartLine(data, stream)
	if err != nil {
		return nil, total, err
	}

	msg, err := parseLine(string(startLine))
	if err != nil {
		return nil, total, err
	}
	return msg, total, nil
}

var errParseNoMoreHeaders = errors.New("no more headers")

func (p *Parser) parseNextHeader(out []Header, data []byte) ([]Header, int, error) {
	// Herald patch: the line is read by nextHeaderLine, shared with parseNextHeaderText.
	line, n, _, err := nextHeaderLine(data)
	if err != nil {
		return out, n, err
	}

	out, err = p.headersParsers.ParseHeader(out, line)
	if err != nil {
		// We might not need to return n here?
		return out, n, err
	}
	return out, n, nil
}

// Herald patch: parseNextHeaderText is parseNextHeader for parseHeaders: text holds data's bytes
// (at least up to the end of the header section), and the header's name and value are substrings
// of it. A folded line is joined in a string of its own.
func (p *Parser) parseNextHeaderText(out []Header, data []byte, text string) ([]Header, int, error) {
	line, n, folded, err := nextHeaderLine(data)
	if err != nil {
		return out, n, err
	}
	lineText := text[:len(line)]
	if folded {
		lineText = string(line)
	}
	out, err = p.headersParsers.parseHeader(out, lineText, line)
	return out, n, err
}

// Herald patch: nextHeaderLine is upstream's parseNextHeader up to the parse. It reads the next
// header line of data, folded lines joined (RFC 3261 §7.3.1), and the bytes read. It returns
// errParseNoMoreHeaders, having read the empty line, at the end of the header section, and reads
// nothing on any other error.
func nextHeaderLine(data []byte) (line []byte, n int, folded bool, err error) {
	line, n, err = nextLine(data)
	if err != nil {
		if err == io.EOF {
			return nil, 0, false, io.ErrUnexpectedEOF
		}

		// NOTE: n > 0  but we return 0 as we need to read more bytes
		return nil, 0, false, err
	}

	// Advance only after a successful parse.
	if len(line) == 0 {
		// We've hit the end of the header section.
		return nil, n, false, errParseNoMoreHeaders
	}

	if n < len(data) && isHeaderContinuation(data[n]) {
		line, n, err = foldHeaderLine(line, n, data)
		if err != nil {
			return nil, 0, false, err
		}
		return line, n, true, nil
	}
	return line, n, false, nil
}

func foldHeaderLine(line []byte, n int, data []byte) ([]byte, int, error) {
	total := n
	baseLen := trimRightHeaderWhitespaceLen(line)
	foldedLen := baseLen
	for total < len(data) && isHeaderContinuation(data[total]) {
		cont, contN, err := nextLine(data[total:])
		if err != nil {
			if err == io.EOF {
				return nil, 0, io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		cont = trimHeaderContinuationLine(cont)
		foldedLen += 1 + len(cont)
		total += contN
	}

	folded := make([]byte, 0, foldedLen)
	folded = append(folded, line[:baseLen]...)

	offset := n
	for offset < total {
		cont, contN, _ := nextLine(data[offset:])
		cont = trimHeaderContinuationLine(cont)
		folded = append(folded, ' ')
		folded = append(folded, cont...)
		offset += contN
	}

	return folded, total, nil
}

func isHeaderContinuation(c byte) bool {
	return c == ' ' || c == '\t'
}

func trimHeaderContinuationLine(line []byte) []byte {
	for len(line) > 0 && isHeaderContinuation(line[0]) {
		line = line[1:]
	}
	return line[:trimRightHeaderWhitespaceLen(line)]
}

func trimRightHeaderWhitespaceLen(line []byte) int {
	n := len(line)
	for n > 0 && isHeaderContinuation(line[n-1]) {
		n--
	}
	return n
}

// Herald patch: text holds data's bytes, at least up to the end of the header section
// (parseNextHeaderText).
func (p *Parser) parseHeadersOnly(msg Message, data []byte, text string) (*ContentLengthHeader, int, error) {
	var (
		total, n      int
		headerBuf     []Header
		contentLength *ContentLengthHeader
		err           error
	)
	for {
		headerBuf, n, err = p.parseNextHeaderText(headerBuf[:0], data, text)
		data = data[n:]
		text = text[n:]
		total += n
		for _, h := range headerBuf {
			switch h := h.(type) {
			case *ContentLengthHeader:
				contentLength = h
			}
			msg.AppendHeader(h)
		}
		if err == errParseNoMoreHeaders {
			return contentLength, total, nil
		}
		if err != nil {
			return contentLength, total, err
		}
	}
}

// Parse data to a SIP message. It returns the number of bytes read. Data must contain a full SIP message.
//
// If the message is cut in the middle of a header or a first line, io.ErrUnexpectedEOF is returned.
// It may return an error wrapping ErrParseLineNoCRLF if one of the header lines is malformed,
// or if there's no CRLF (\r\n) delimiter after headers.
//
// In case the end of the body cannot be determined, or the body is incomplete,
// an ErrParseReadBodyIncomplete is returned.
func (p *Parser) Parse(data []byte, stream bool) (Message, int, error) {
	if len(data) > p.MaxMessageLength {
		return nil, 0, ErrMessageTooLarge
	}
	msg, contentLength, total, err := p.parseHeaders(data, stream)
	if err != nil {
		return msg, total, err
	}
	data = data[total:]
	bodySize := -1
	if contentLength != nil {
		bodySize = int(*contentLength)
	} else if !stream {
		bodySize = len(data)
	}
	if bodySize < 0 {
		// RFC 3261 - 7.5.
		// The Content-Length header field value is used to locate the end of
		// each SIP message in a stream. It will always be present when SIP
		// messages are sent over stream-oriented transports.
		return msg, total, ErrParseReadBodyIncomplete
	}
	if bodySize == 0 {
		return msg, total, nil
	}
	if bodySize > p.MaxMessageLength-total {
		return msg, total, ErrMessageTooLarge
	}
	body := make([]byte, bodySize)
	n := copy(body, data)
	total += n
	msg.SetBody(body)
	// RFC 3261 - 18.3.
	if n != bodySize {
		return msg, total, ErrParseReadBodyIncomplete
	}
	return msg, total, nil
}

// ParseSIP converts data to sip message. Buffer must contain full sip message
func (p *Parser) ParseSIP(data []byte) (msg Message, err error) {
	msg, _, err = p.Parse(data, false)
	if err == io.ErrUnexpectedEOF {
		err = ErrParseEOF
	}
	return msg, err
}

// NewSIPStream implements SIP parsing contructor for IO that stream SIP message
// It should be created per each stream
func (p *Parser) NewSIPStream() *ParserStream {
	if p == nil {
		p = NewParser()
	}
	return &ParserStream{
		p: p, // safe as it read only
	}
}

func parseLine(startLine string) (msg Message, err error) {
	if parts, ok := split3(startLine); ok {
		if isRequest(parts) {
			recipient := Uri{}
			method, sipVersion, err := parseRequestLine(parts, &recipient)
			if err != nil {
				return nil, err
			}

			m := NewRequest(method, recipient)
			m.SipVersion = sipVersion
			return m, nil
		}
		if isResponse(parts) {
			sipVersion, statusCode, reason, err := parseStatusLine(parts)
			if err != nil {
				return nil, err
			}

			m := NewResponse(statusCode, reason)
			m.SipVersion = sipVersion
			return m, nil
		}
	}
	return nil, fmt.Errorf("transmission beginning '%s' is not a SIP message", startLine)
}

// nextLine reads the next line of a SIP message and the number of bytes read.
//
// It returns io.ErrUnexpectedEOF is there's no CRLF (\r\n) in the data.
// If there's a CR (\r) which is not followed by LF (\n), a ErrParseLineNoCRLF is returned.
// As a special case, it returns io.EOF if data is empty.
func nextLine(data []byte) ([]byte, int, error) {
	if len(data) == 0 {
		return nil, 0, io.EOF
	}
	// https://www.rfc-editor.org/rfc/rfc3261.html#section-7
	// The start-line, each message-header line, and the empty line MUST be
	// terminated by a carriage-return line-feed sequence (CRLF).  Note that
	// the empty line MUST be present even if the message-body is not.

	// Lines could be multiline as well so this is also acceptable
	// TO :\n
	// sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
	i := bytes.IndexByte(data, '\r')
	if i < 0 {
		return data, len(data), io.ErrUnexpectedEOF
	}
	line := data[:i]
	if i+1 >= len(data) {
		return line, i + 1, io.ErrUnexpectedEOF
	}
	if data[i+1] != '\n' {
		return line, i + 1, ErrParseLineNoCRLF
	}
	return line, i + 2, nil
}

// detect is request by spaces
func isRequest(parts [3]string) bool {
	// SIP request lines contain precisely two spaces.
	part2 := parts[2]
	if len(part2) < 3 {
		return false
	}
	i := strings.IndexByte(part2, ' ')
	if i >= 0 {
		return false
	}
	return UriIsSIP(part2[:3])
}

// Detect is response by spaces
func isResponse(parts [3]string) bool {
	part0 := parts[0]
	if len(part0) < 3 {
		return false
	}
	return UriIsSIP(part0[:3])
}

func split3(s string) (parts [3]string, ok bool) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return
	}
	parts[0] = s[:i]
	s = s[i+1:]

	i = strings.IndexByte(s, ' ')
	if i < 0 {
		return
	}
	parts[1] = s[:i]
	s = s[i+1:]
	parts[2] = s
	return parts, true
}

// Parse the first line of a SIP request, e.g:
//
//	INVITE bob@example.com SIP/2.0
//	REGISTER jane@telco.com SIP/1.0
func parseRequestLine(parts [3]string, recipient *Uri) (method RequestMethod, sipVersion string, err error) {
	method = standardMethod(RequestMethod(strings.ToUpper(parts[0])))
	err = ParseUri(parts[1], recipient)
	sipVersion = parts[2]

	if recipient.Wildcard {
		err = fmt.Errorf("wildcard URI '*' not permitted in request line")
		return
	}

	return
}

// Herald patch: standardMethod is m as the package's constant when it is one (the same string),
// else m. parseHeaders gives the start line as a substring of the whole header section, and a
// request's method outlives the request: ServerTx keeps it for 64·T1 after slim lets the request go.
func standardMethod(m RequestMethod) RequestMethod {
	for _, c := range standardMethods {
		if m == c {
			return c
		}
	}
	return m
}

var standardMethods = [...]RequestMethod{INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, REFER, INFO, MESSAGE, PRACK, UPDATE, PUBLISH}

// Parse the first line of a SIP response, e.g:
//
//	SIP/2.0 200 OK
//	SIP/1.0 403 Forbidden
func parseStatusLine(parts [3]string) (sipVersion string, statusCode int, reasonPhrase string, err error) {
	sipVersion = parts[0]
	statusCodeRaw, err := strconv.ParseUint(parts[1], 10, 16)
	statusCode = int(statusCodeRaw)
	reasonPhrase = parts[2]
	return
}
