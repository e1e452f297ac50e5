package msrp

import "fmt"

// Flags of the end-line (RFC 4975 §7.1).
const (
	FlagEnd   byte = '$' // last chunk of the message
	FlagMore  byte = '+' // more chunks follow
	FlagAbort byte = '#' // the sender aborts the message
)

// DefaultPort is the MSRP port used when a URI has none (RFC 4975 §15.4).
const DefaultPort = 2855

// Header is one header field. Name and Value alias the parsed buffer.
type Header struct{ Name, Value []byte }

// ByteRange is the value of a Byte-Range header (RFC 4975 §7.1.1): 1-based
// inclusive Start and End and the Total size. End or Total == -1 means '*'.
type ByteRange struct{ Start, End, Total int64 }

// Message is one parsed MSRP frame (request or response). All slices alias the
// buffer given to [Parser.Parse] and die with it: copy what must outlive it.
// A Message is reused across frames; [Message.Reset] keeps its capacity.
type Message struct {
	TID     []byte // transaction id
	Method  []byte // "SEND", "REPORT", "AUTH", ...; nil for a response
	Status  int    // response code; 0 for a request
	Comment []byte // response comment (may be empty)

	ToPath, FromPath []byte // raw header values (space-separated URIs, first is next hop)
	MessageID        []byte

	ByteRange    ByteRange
	HasByteRange bool

	SuccessReport, FailureReport []byte // raw values or nil

	StatusHeader []byte // REPORT Status header raw value e.g. "000 200 OK"
	ContentType  []byte

	Headers []Header // every header in wire order (including the ones above)
	Body    []byte   // nil if no body
	Flag    byte     // '$', '+', '#'
}

// Reset clears m for reuse and keeps the capacity of m.Headers.
func (m *Message) Reset() {
	h := m.Headers[:0]
	*m = Message{Headers: h}
}

// IsRequest reports whether m is a request (it has a method).
func (m *Message) IsRequest() bool { return m.Method != nil }

// Header returns the value of the first header named name (ASCII
// case-insensitive), or nil if absent.
func (m *Message) Header(name string) []byte {
	for i := range m.Headers {
		if equalFold(m.Headers[i].Name, name) {
			return m.Headers[i].Value
		}
	}
	return nil
}

// ReportStatus parses the REPORT Status header (RFC 4975 §9:
// Status = namespace SP status-code [SP text-reason]): "000 200 OK" -> 200.
// Only namespace 000 is defined.
func (m *Message) ReportStatus() (code int, err error) {
	s := m.StatusHeader
	if s == nil {
		return 0, fmt.Errorf("%w: no status header", ErrMalformed)
	}
	if len(s) < 7 || string(s[:4]) != "000 " || (len(s) > 7 && s[7] != ' ') {
		return 0, fmt.Errorf("%w: status header %q", ErrMalformed, s)
	}
	code, ok := status3(s[4:7])
	if !ok {
		return 0, fmt.Errorf("%w: status header %q", ErrMalformed, s)
	}
	return code, nil
}

// status3 parses a 3-digit status code 100-999.
func status3(b []byte) (int, bool) {
	if len(b) != 3 || b[0] < '1' || b[0] > '9' || !isDigit(b[1]) || !isDigit(b[2]) {
		return 0, false
	}
	return int(b[0]-'0')*100 + int(b[1]-'0')*10 + int(b[2]-'0'), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// equalFold reports whether b equals s under ASCII case folding.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}
