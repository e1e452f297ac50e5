package msrp

import "strconv"

// Serializers append to dst and allocate nothing when dst has capacity. They do
// not validate their arguments: callers pass transaction ids from [NewTID] or
// [IDSource] and paths they parsed or built.

const endLineDashes = "-------"

// AppendRequestHead appends "MSRP <tid> <method>\r\n", the headers as
// "Name: Value\r\n" and, if withBody, the blank line that precedes the body.
// If !withBody, the caller then appends the end-line directly.
func AppendRequestHead(dst []byte, tid, method string, hdrs []Header, withBody bool) []byte {
	dst = append(dst, "MSRP "...)
	dst = append(dst, tid...)
	dst = append(dst, ' ')
	dst = append(dst, method...)
	dst = append(dst, "\r\n"...)
	for _, h := range hdrs {
		dst = appendHeader(dst, h.Name, h.Value)
	}
	if withBody {
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// AppendResponse appends a complete response frame (RFC 4975 §7.2):
// "MSRP <tid> <code>[ <comment>]", To-Path, From-Path and the end-line.
func AppendResponse(dst []byte, tid string, code int, comment string, toPath, fromPath []byte) []byte {
	dst = append(dst, "MSRP "...)
	dst = append(dst, tid...)
	dst = append(dst, ' ')
	dst = appendCode(dst, code)
	if comment != "" {
		dst = append(dst, ' ')
		dst = append(dst, comment...)
	}
	dst = append(dst, "\r\n"...)
	dst = appendHeaderS(dst, "To-Path", toPath)
	dst = appendHeaderS(dst, "From-Path", fromPath)
	return AppendEndLine(dst, tid, FlagEnd, false)
}

// AppendEndLine appends the end-line "-------<tid><flag>\r\n". When a body
// preceded it, pass afterBody=true to emit the CRLF that RFC 4975 §7.1 puts
// between body and end-line ("\r\n-------tid$\r\n").
func AppendEndLine(dst []byte, tid string, flag byte, afterBody bool) []byte {
	if afterBody {
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, endLineDashes...)
	dst = append(dst, tid...)
	return append(dst, flag, '\r', '\n')
}

// AppendByteRange appends a Byte-Range value "1-2048/18432"; -1 is written '*'.
func AppendByteRange(dst []byte, br ByteRange) []byte {
	dst = strconv.AppendInt(dst, br.Start, 10)
	dst = append(dst, '-')
	dst = appendStarInt(dst, br.End)
	dst = append(dst, '/')
	return appendStarInt(dst, br.Total)
}

// AppendSendChunkHead appends the head of one SEND chunk as Herald sends pages
// (RFC 4975 §7.1.1): start line, To-Path, From-Path, Message-ID,
// Success-Report: yes, Failure-Report: yes, Byte-Range, Content-Disposition (if
// disposition != ""), Content-Type (last, as §9 requires) and the blank line.
// The body bytes follow as a separate slice (writev), then
// AppendEndLine(dst, tid, flag, true).
func AppendSendChunkHead(dst []byte, tid string, toPath, fromPath []byte, msgID string, br ByteRange, contentType, disposition string) []byte {
	dst = append(dst, "MSRP "...)
	dst = append(dst, tid...)
	dst = append(dst, " SEND\r\n"...)
	dst = appendHeaderS(dst, "To-Path", toPath)
	dst = appendHeaderS(dst, "From-Path", fromPath)
	dst = append(dst, "Message-ID: "...)
	dst = append(dst, msgID...)
	dst = append(dst, "\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\nByte-Range: "...)
	dst = AppendByteRange(dst, br)
	dst = append(dst, "\r\n"...)
	if disposition != "" {
		dst = append(dst, "Content-Disposition: "...)
		dst = append(dst, disposition...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Type: "...)
	dst = append(dst, contentType...)
	return append(dst, "\r\n\r\n"...)
}

// AppendReport appends a complete REPORT frame (RFC 4975 §7.1.2, no body) with
// To-Path, From-Path, Message-ID, Byte-Range and Status "000 <code>[ <comment>]".
func AppendReport(dst []byte, tid string, toPath, fromPath []byte, msgID string, br ByteRange, code int, comment string) []byte {
	dst = append(dst, "MSRP "...)
	dst = append(dst, tid...)
	dst = append(dst, " REPORT\r\n"...)
	dst = appendHeaderS(dst, "To-Path", toPath)
	dst = appendHeaderS(dst, "From-Path", fromPath)
	dst = append(dst, "Message-ID: "...)
	dst = append(dst, msgID...)
	dst = append(dst, "\r\nByte-Range: "...)
	dst = AppendByteRange(dst, br)
	dst = append(dst, "\r\nStatus: 000 "...)
	dst = appendCode(dst, code)
	if comment != "" {
		dst = append(dst, ' ')
		dst = append(dst, comment...)
	}
	dst = append(dst, "\r\n"...)
	return AppendEndLine(dst, tid, FlagEnd, false)
}

// AppendMessage appends m as a complete frame: start line, m.Headers in order,
// the body (if m.Body != nil) and the end-line with m.Flag ('$' if zero). The
// typed fields (ToPath, ByteRange, ...) are ignored: m.Headers is the source.
func AppendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, "MSRP "...)
	dst = append(dst, m.TID...)
	dst = append(dst, ' ')
	if m.IsRequest() {
		dst = append(dst, m.Method...)
	} else {
		dst = appendCode(dst, m.Status)
		if len(m.Comment) > 0 {
			dst = append(dst, ' ')
			dst = append(dst, m.Comment...)
		}
	}
	dst = append(dst, "\r\n"...)
	for _, h := range m.Headers {
		dst = appendHeader(dst, h.Name, h.Value)
	}
	flag := m.Flag
	if flag == 0 {
		flag = FlagEnd
	}
	if m.Body != nil {
		dst = append(dst, "\r\n"...)
		dst = append(dst, m.Body...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, endLineDashes...)
	dst = append(dst, m.TID...)
	return append(dst, flag, '\r', '\n')
}

func appendHeader(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

func appendHeaderS(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// appendCode appends a status code as 3 digits.
func appendCode(dst []byte, code int) []byte {
	if code >= 0 && code < 100 {
		dst = append(dst, '0')
		if code < 10 {
			dst = append(dst, '0')
		}
	}
	return strconv.AppendInt(dst, int64(code), 10)
}

func appendStarInt(dst []byte, v int64) []byte {
	if v < 0 {
		return append(dst, '*')
	}
	return strconv.AppendInt(dst, v, 10)
}
