package sdp

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxParts is the largest number of body parts ParseMultipart accepts.
const MaxParts = 64

// Part is one body part of a multipart body (RFC 2046 §5.1). ContentType
// and Disposition hold the first Content-Type and Content-Disposition
// header values; every other header (and any repeat of those two) is kept
// in Other as {name, value}, in order. Header values are unfolded and
// trimmed.
type Part struct {
	ContentType string
	Disposition string
	Other       [][2]string
	Body        []byte
}

// Boundary returns the boundary parameter of a Content-Type value, quoted or
// not, and whether it is present and usable (1..200 bytes, no CR or LF).
func Boundary(contentType string) (string, bool) {
	_, rest, _ := strings.Cut(contentType, ";")
	b, ok := param(rest, "boundary")
	if !ok || b == "" || len(b) > 200 || strings.ContainsAny(b, "\r\n") {
		return "", false
	}
	return b, true
}

// ParseMultipart parses a multipart body (RFC 2046 §5.1.1):
//
//	multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF
//	                  body-part *encapsulation
//	                  close-delimiter transport-padding [CRLF epilogue]
//	encapsulation  := delimiter transport-padding CRLF body-part
//	delimiter      := CRLF dash-boundary
//	body-part      := MIME-part-headers [CRLF *OCTET]
//
// LF-only line ends are accepted. The CRLF before a delimiter belongs to
// the delimiter, so a part's Body is byte-for-byte what was encapsulated.
// It fails with ErrNoBoundary when contentType has no boundary, and with
// ErrMultipart for a non-multipart type, a missing delimiter, a missing
// close delimiter (truncated body) or a malformed part header.
//
// Part bodies alias body.
func ParseMultipart(contentType string, body []byte) ([]Part, error) {
	var parts []Part
	_, _, err := scanMultipart(contentType, body, func(c []byte, _ rawPart) error {
		p, err := parsePart(c)
		if err != nil {
			return err
		}
		parts = append(parts, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return parts, nil
}

// BuildMultipart returns a multipart body with CRLF line ends:
//
//	--<boundary>
//	Content-Type: <ContentType>          (when not empty)
//	Content-Disposition: <Disposition>   (when not empty)
//	<Other...>
//
//	<Body>
//	--<boundary>
//	...
//	--<boundary>--
//
// The caller picks a boundary that does not occur in any body.
func BuildMultipart(boundary string, parts []Part) []byte {
	n := 2*len(boundary) + 8
	for _, p := range parts {
		n += len(boundary) + len(p.ContentType) + len(p.Disposition) + len(p.Body) + 64
		for _, h := range p.Other {
			n += len(h[0]) + len(h[1]) + 4
		}
	}
	b := make([]byte, 0, n)
	b = append(b, "--"...)
	b = append(b, boundary...)
	b = append(b, "\r\n"...)
	for i, p := range parts {
		if p.ContentType != "" {
			b = header(b, "Content-Type", p.ContentType)
		}
		if p.Disposition != "" {
			b = header(b, "Content-Disposition", p.Disposition)
		}
		for _, h := range p.Other {
			b = header(b, h[0], h[1])
		}
		b = append(b, "\r\n"...)
		b = append(b, p.Body...)
		b = append(b, "\r\n--"...)
		b = append(b, boundary...)
		if i == len(parts)-1 {
			b = append(b, "--"...)
		}
		b = append(b, "\r\n"...)
	}
	if len(parts) == 0 {
		b = append(b[:0], "--"...)
		b = append(b, boundary...)
		b = append(b, "--\r\n"...)
	}
	return b
}

func header(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// rawPart records where a part sits in the multipart body.
type rawPart struct {
	dStart    int // start of its delimiter, including the CRLF (or LF) before "--"
	lineStart int // index of "--boundary"
	end       int // end of the part content: dStart of the next delimiter
}

// dashBuf holds "--" and a boundary (Boundary allows 200 bytes) on the caller's stack.
type dashBuf [2 + 200]byte

// dash returns "--" and boundary in buf: the delimiter line's start (RFC 2046 §5.1.1 dash-boundary).
func (buf *dashBuf) dash(boundary string) []byte {
	return append(append(buf[:0], "--"...), boundary...)
}

// scanMultipart walks the parts of a multipart body in order, calling part with each one's content
// (its headers and body: what lies between its delimiter line and the CRLF of the next delimiter)
// and where it sits; an error from part stops the walk, naming the part. It keeps nothing of the
// parts itself: the body scans of every call (SplitBody, StripEarlySession) read each part in
// place. It returns the boundary and where the close delimiter starts.
func scanMultipart(contentType string, body []byte, part func(c []byte, r rawPart) error) (boundary string, closeStart int, err error) {
	if mt := MediaType(contentType); !strings.HasPrefix(mt, "multipart/") {
		return "", 0, fmt.Errorf("%w: %w: %q is not multipart", ErrMultipart, ErrContentType, mt)
	}
	boundary, ok := Boundary(contentType)
	if !ok {
		return "", 0, fmt.Errorf("%w: %q", ErrNoBoundary, contentType)
	}
	var buf dashBuf
	dash := buf.dash(boundary)
	d, ok := findDelim(body, dash, 0)
	if !ok {
		return "", 0, fmt.Errorf("%w: no delimiter %q", ErrMultipart, string(dash))
	}
	n := 0
	for ; !d.close; n++ {
		if n == MaxParts {
			return "", 0, fmt.Errorf("%w: more than %d body parts", ErrTooLarge, MaxParts)
		}
		if d.after < 0 {
			return "", 0, fmt.Errorf("%w: truncated after delimiter", ErrMultipart)
		}
		next, ok := findDelim(body, dash, d.after)
		if !ok {
			return "", 0, fmt.Errorf("%w: no close delimiter (truncated)", ErrMultipart)
		}
		if next.dStart < d.after {
			return "", 0, fmt.Errorf("%w: part %d has no header/body separator", ErrMultipart, n+1)
		}
		r := rawPart{dStart: d.dStart, lineStart: d.lineStart, end: next.dStart}
		if err := part(body[d.after:next.dStart:next.dStart], r); err != nil {
			return "", 0, fmt.Errorf("%w (part %d)", err, n+1)
		}
		d = next
	}
	if n == 0 {
		return "", 0, fmt.Errorf("%w: no body parts", ErrMultipart)
	}
	return boundary, d.dStart, nil
}

type delim struct {
	dStart, lineStart int
	after             int // index after the delimiter line's LF; -1 at end of input
	close             bool
}

// findDelim finds the next delimiter line at or after from: dash at the
// start of body or of a line, followed by "--" (close), or by optional
// transport padding (SP/HT) and a line end.
func findDelim(body, dash []byte, from int) (delim, bool) {
	for from <= len(body) {
		i := bytes.Index(body[from:], dash)
		if i < 0 {
			return delim{}, false
		}
		i += from
		from = i + 1
		if i > 0 && body[i-1] != '\n' {
			continue
		}
		d := delim{dStart: i, lineStart: i}
		if i > 0 {
			d.dStart = i - 1
			if i > 1 && body[i-2] == '\r' {
				d.dStart = i - 2
			}
		}
		j := i + len(dash)
		if bytes.HasPrefix(body[j:], []byte("--")) {
			d.close = true
			return d, true
		}
		for j < len(body) && (body[j] == ' ' || body[j] == '\t') {
			j++
		}
		switch {
		case j == len(body):
			d.after = -1
			return d, true
		case body[j] == '\n':
			d.after = j + 1
			return d, true
		case body[j] == '\r' && j+1 < len(body) && body[j+1] == '\n':
			d.after = j + 2
			return d, true
		case body[j] == '\r' && j+1 == len(body):
			d.after = -1
			return d, true
		}
		// "--boundary" followed by other text is not a delimiter.
	}
	return delim{}, false
}

// parsePart splits one part into headers and body. A part that starts with
// an empty line has no headers; one without an empty line is all headers.
func parsePart(c []byte) (Part, error) {
	var hb [4][2][]byte
	hs, body, err := readHead(c, hb[:0])
	if err != nil {
		return Part{}, err
	}
	p := Part{Body: body}
	ct, disp := partTypes(hs, func(name, value []byte) {
		p.Other = append(p.Other, [2]string{string(name), string(value)})
	})
	p.ContentType, p.Disposition = string(ct), string(disp)
	return p, nil
}

// partView is what the body scans of every call ask of a part, read in place: its Content-Type and
// Content-Disposition values (as parsePart's Part has them, nil for "") and its body.
type partView struct {
	ctype, disp, body []byte
}

// viewPart reads one part as parsePart does, without copying its header values to strings.
func viewPart(c []byte) (partView, error) {
	var hb [4][2][]byte
	hs, body, err := readHead(c, hb[:0])
	if err != nil {
		return partView{}, err
	}
	ct, disp := partTypes(hs, nil)
	return partView{ctype: ct, disp: disp, body: body}, nil
}

// readHead appends a part's header lines to hs as {name, value} (the name trimmed, the value as
// written, folded lines unfolded) and returns them with the part's body. They are read in place (a
// part of a SIP body has two or three: Content-Type, Content-Disposition); only a folded value is
// a copy, never written into c.
func readHead(c []byte, hs [][2][]byte) ([][2][]byte, []byte, error) {
	bodyStart := len(c)
	for pos := 0; pos < len(c); {
		next := len(c)
		ln := c[pos:]
		if e := bytes.IndexByte(ln, '\n'); e >= 0 {
			ln, next = ln[:e], pos+e+1
		}
		pos = next
		ln = bytes.TrimSuffix(ln, []byte("\r"))
		if len(ln) == 0 { // the empty line ending the headers
			bodyStart = next
			break
		}
		if ln[0] == ' ' || ln[0] == '\t' { // folded continuation (RFC 5322 §2.2.3)
			if len(hs) == 0 {
				return nil, nil, fmt.Errorf("%w: continuation line before any header", ErrMultipart)
			}
			v := hs[len(hs)-1][1]
			hs[len(hs)-1][1] = append(v[:len(v):len(v)], ln...)
			continue
		}
		k, v, ok := bytes.Cut(ln, []byte(":"))
		name := bytes.TrimSpace(k)
		if !ok || len(name) == 0 {
			return nil, nil, fmt.Errorf("%w: malformed part header %q", ErrMultipart, ln)
		}
		hs = append(hs, [2][]byte{name, v})
	}
	return hs, c[bodyStart:], nil
}

// partTypes returns the trimmed values of the first Content-Type and the first Content-Disposition
// header of hs that are not empty, and calls other (when not nil) with each other header, trimmed,
// in order: every header but those two and the empty ones of their names before them.
func partTypes(hs [][2][]byte, other func(name, value []byte)) (ctype, disp []byte) {
	for _, h := range hs {
		n, v := h[0], bytes.TrimSpace(h[1])
		switch {
		case len(ctype) == 0 && bytes.EqualFold(n, []byte("Content-Type")):
			ctype = v
		case len(disp) == 0 && bytes.EqualFold(n, []byte("Content-Disposition")):
			disp = v
		case other != nil:
			other(n, v)
		}
	}
	return ctype, disp
}

// typeIs reports whether the type of header value v (before any ';', trimmed and lower-cased, as
// MediaType reads it) is want, a lower-case token, reading v in place.
func typeIs(v []byte, want string) bool {
	t, _, _ := bytes.Cut(v, []byte(";"))
	t = bytes.TrimSpace(t)
	for _, c := range t {
		if c >= utf8.RuneSelf { // MediaType's Unicode lower-casing, for the rare value it concerns
			return strings.ToLower(string(t)) == want
		}
	}
	if len(t) != len(want) {
		return false
	}
	for i, c := range t {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// parseParams splits a header value such as
// `multipart/mixed; boundary="a b"; x=y` into its lower-cased first token
// and parameters (names lower-cased, quoted values unquoted). It is
// tolerant: empty and valueless parameters are kept with value "".
func parseParams(v string) (string, map[string]string) {
	typ, rest, _ := strings.Cut(v, ";")
	typ = strings.ToLower(strings.TrimSpace(typ))
	var params map[string]string
	for rest != "" {
		var seg string
		seg, rest = cutParam(rest)
		k, val, _ := strings.Cut(seg, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = unquote(val[1 : len(val)-1])
		}
		if params == nil {
			params = make(map[string]string)
		}
		if _, dup := params[k]; !dup {
			params[k] = val
		}
	}
	return typ, params
}

// param finds the parameter name (lower case) in rest, the parameters after a media type's or a
// disposition's first ';', as parseParams reads them (names compared ignoring case, the first
// occurrence wins, a quoted value unquoted), without building their map.
func param(rest, name string) (string, bool) {
	for rest != "" {
		var seg string
		seg, rest = cutParam(rest)
		k, val, _ := strings.Cut(seg, "=")
		if !strings.EqualFold(strings.TrimSpace(k), name) {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = unquote(val[1 : len(val)-1])
		}
		return val, true
	}
	return "", false
}

// cutParam returns the text up to the first ';' outside double quotes.
func cutParam(s string) (seg, rest string) {
	inQ := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQ {
				i++
			}
		case '"':
			inQ = !inQ
		case ';':
			if !inQ {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

func unquote(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// quoteParam returns v as a token, or as a quoted-string when it contains
// characters outside the RFC 2045 token set.
func quoteParam(v string) string {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
		}
	}
	return v
}
