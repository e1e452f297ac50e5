package sip

// Herald: the message parser as it was before the patch that parses a datagram's header section
// from one string (netio/sipgo/HERALD.md), kept as the reference FuzzHeraldParseSame and
// TestHeraldParseAllocs compare the parser with. These are upstream's functions byte for byte but
// for their names (ref...) and their receivers, which became the first parameter. The line helpers
// they call (nextLine, foldHeaderLine, parseLine) are unchanged by the patch.

import (
	"bytes"
	"fmt"
	"io"
)

func refParseHeader(headersParser HeadersParser, out []Header, line []byte) ([]Header, error) {
	colonIdx := bytes.IndexByte(line, ':')
	if colonIdx == -1 {
		return out, fmt.Errorf("field name with no value in header: %q", line)
	}

	fieldName := bytes.TrimSpace(line[:colonIdx])
	lowerFieldName := headerToLower(fieldName)
	fieldValue := bytes.TrimSpace(line[colonIdx+1:])

	headerParser, ok := headersParser[string(lowerFieldName)]
	if !ok {
		// We have no registered parser for this header type,
		// so we encapsulate the header data in a GenericHeader struct.
		// We do only forwarding on this with trimmed space. Validation and parsing is required by user
		h := NewHeader(string(fieldName), string(fieldValue))
		out = append(out, h)
		return out, nil
	}

	// NOTE: This line is a must and this conversion must here to stay
	fieldText := string(fieldValue)
	// Support comma separated values
	for {
		// We have a registered parser for this header type - use it.
		// headerParser should detect comma (,) and return as error
		h, err := headerParser(lowerFieldName, fieldText)
		if err == nil {
			out = append(out, h)
			return out, nil
		}

		commaErr, ok := err.(errComaDetected)
		if !ok {
			return out, err
		}
		// Ok we detected we have comma in header value
		out = append(out, h)
		fieldText = fieldText[commaErr+1:]
	}
}

func refParseHeaders(p *Parser, data []byte, stream bool) (Message, *ContentLengthHeader, int, error) {
	msg, total, err := refParseStartLine(p, data, stream)
	if err != nil {
		return msg, nil, total, err
	}
	data = data[total:]

	contentLength, n, err := refParseHeadersOnly(p, msg, data)
	total += n
	return msg, contentLength, total, err
}

func refParseStartLine(p *Parser, data []byte, stream bool) (Message, int, error) {
	var (
		total   int
		skipped bool
	)

	if stream {
		// RFC 3261 - 7.5.
		// Implementations processing SIP messages over stream-oriented
		// transports MUST ignore any CRLF appearing before the start-line.
		for len(data) >= 2 && data[0] == '\r' && data[1] == '\n' {
			data = data[2:]
			total += 2
			skipped = true
		}
	}

	startLine, n, err := nextLine(data)
	if err != nil {
		if err == io.EOF && skipped {
			return nil, total, io.ErrUnexpectedEOF
		}
		return nil, total, err
	}
	total += n

	msg, err := parseLine(string(startLine))
	if err != nil {
		return nil, total, err
	}
	return msg, total, nil
}

func refParseNextHeader(p *Parser, out []Header, data []byte) ([]Header, int, error) {
	line, n, err := nextLine(data)
	if err != nil {
		if err == io.EOF {
			return out, 0, io.ErrUnexpectedEOF
		}

		// NOTE: n > 0  but we return 0 as we need to read more bytes
		return out, 0, err
	}

	// Advance only after a successful parse.
	if len(line) == 0 {
		// We've hit the end of the header section.
		return out, n, errParseNoMoreHeaders
	}

	if n < len(data) && isHeaderContinuation(data[n]) {
		line, n, err = foldHeaderLine(line, n, data)
		if err != nil {
			return out, 0, err
		}
	}

	out, err = refParseHeader(p.headersParsers, out, line)
	if err != nil {
		// We might not need to return n here?
		return out, n, err
	}
	return out, n, nil
}

func refParseHeadersOnly(p *Parser, msg Message, data []byte) (*ContentLengthHeader, int, error) {
	var (
		total, n      int
		headerBuf     []Header
		contentLength *ContentLengthHeader
		err           error
	)
	for {
		headerBuf, n, err = refParseNextHeader(p, headerBuf[:0], data)
		data = data[n:]
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

func refParse(p *Parser, data []byte, stream bool) (Message, int, error) {
	if len(data) > p.MaxMessageLength {
		return nil, 0, ErrMessageTooLarge
	}
	msg, contentLength, total, err := refParseHeaders(p, data, stream)
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

func refParseSIP(p *Parser, data []byte) (msg Message, err error) {
	msg, _, err = refParse(p, data, false)
	if err == io.ErrUnexpectedEOF {
		err = ErrParseEOF
	}
	return msg, err
}
