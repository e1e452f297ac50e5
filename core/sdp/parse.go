package sdp

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse parses a session description (RFC 8866 §5, §9 grammar).
//
// It accepts CRLF or LF-only line ends and skips empty lines. It requires
// v= as the first line, exactly one o= and s= at session level, and well
// formed m= lines (type, port[/n] 0..65535, proto, at least one format).
// i= and c= lines beyond the first in a section, and lines of unknown type
// (k=, z=, x=...), are kept whole in Other, in order. Errors wrap ErrSyntax
// and name the line, or ErrTooLarge.
//
// The returned Session does not alias b.
func Parse(b []byte) (*Session, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(b), MaxSize)
	}
	var p parser
	var times []string
	src := string(b)
	switch n := strings.Count(src, "\nm="); {
	case n == 1:
		blk := new(parsed1)
		p.s, p.medias, times, p.fmts = &blk.s, blk.media[:0:1], blk.times[:0:1], blk.fmts[:0]
		p.s.Media = blk.ptrs[:0:1]
	case n == 2:
		blk := new(parsed2)
		p.s, p.medias, times, p.fmts = &blk.s, blk.media[:0:2], blk.times[:0:1], blk.fmts[:0]
		p.s.Media = blk.ptrs[:0:2]
	case n > 0 && n <= MaxMedia:
		p.s = &Session{}
		p.medias = make([]Media, 0, n)
		p.s.Media = make([]*Media, 0, n)
	default:
		p.s = &Session{}
	}
	p.s.Times = times
	// One backing array for every attribute and one for every media description, sized by counting
	// their lines first: a session's attributes and each media's are contiguous in it, in order.
	// Each section's slice is capped at its end (attrsTo), so an append by a caller copies instead of
	// writing over the next section's. A session of one or two media descriptions has them, their
	// pointers, its t= line and the m= lines' formats (as far as they fit) in the Session's own
	// allocation (parsed1, parsed2).
	if n := strings.Count(src, "\na="); n > 0 {
		p.attrs = make([]Attr, 0, n)
	}
	for len(src) > 0 {
		var line string
		if i := strings.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			line, src = src, ""
		}
		p.n++
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		if err := p.line(line); err != nil {
			return nil, err
		}
	}
	p.closeSection()
	switch {
	case !p.seenV:
		return nil, fmt.Errorf("%w: no v= line", ErrSyntax)
	case !p.seenO:
		return nil, fmt.Errorf("%w: no o= line", ErrSyntax)
	case !p.seenS:
		return nil, fmt.Errorf("%w: no s= line", ErrSyntax)
	}
	for _, m := range p.s.Media {
		m.sessConn, m.sessAttrs = p.s.Conn, p.s.Attrs
	}
	if len(p.s.Times) == 0 {
		p.s.Times = nil // as before the inline room: no t= line, no slice
	}
	if len(p.s.Media) == 0 {
		p.s.Media = nil
	}
	return p.s, nil
}

// parsed1 and parsed2 are what Parse allocates at once for a session of one or two media
// descriptions (every SDP of a call: audio with video, or with the push's m=message; the push
// offer alone): the Session, its media descriptions and their pointers, its first t= line and room
// for the formats of its m= lines (an audio offer's four, one each in an answer). The room fills
// the allocator's size class: 640 bytes for parsed1, 896 for parsed2 (as without it).
type parsed1 struct {
	s     Session
	media [1]Media
	ptrs  [1]*Media
	times [1]string
	fmts  [4]string
}

type parsed2 struct {
	s     Session
	media [2]Media
	ptrs  [2]*Media
	times [1]string
	fmts  [6]string
}

type parser struct {
	s                   *Session
	m                   *Media // current media description, nil at session level
	n                   int    // 1-based line number
	seenV, seenO, seenS bool

	attrs  []Attr   // every a= line parsed so far, in order (the sections' backing array)
	from   int      // where the current section's attributes start in attrs
	medias []Media  // the m= descriptions' backing array
	fmts   []string // the m= lines' formats so far, in the room parsed1 and parsed2 have for them
}

// closeSection ends the current section (the session level, or the media description p.m): its
// attributes are attrs[from:], capped.
func (p *parser) closeSection() {
	if len(p.attrs) == p.from {
		return
	}
	a := p.attrs[p.from:len(p.attrs):len(p.attrs)]
	if p.m != nil {
		p.m.Attrs = a
	} else {
		p.s.Attrs = a
	}
	p.from = len(p.attrs)
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrSyntax, p.n, fmt.Sprintf(format, args...))
}

func (p *parser) line(line string) error {
	// RFC 8866 §5: <type>=<value>, type a single case-significant letter,
	// no whitespace around "=". Values are byte-strings: no NUL, CR or LF.
	if len(line) < 2 || line[1] != '=' || !isAlpha(line[0]) {
		return p.errorf("not <type>=<value>")
	}
	if strings.IndexByte(line, 0) >= 0 || strings.IndexByte(line, '\r') >= 0 {
		return p.errorf("nul or cr in value")
	}
	typ, val := line[0], line[2:]
	if !p.seenV {
		if typ != 'v' {
			return p.errorf("first line is %c=, want v=", typ)
		}
		if len(val) == 0 || len(val) > 9 || !allDigits(val) {
			return p.errorf("bad version %q", val)
		}
		p.s.Version, _ = strconv.Atoi(val)
		p.seenV = true
		return nil
	}
	if typ == 'm' {
		return p.media(val)
	}
	if typ == 'a' {
		a, err := parseAttr(val)
		if err != nil {
			return p.errorf("%v", err)
		}
		p.attrs = append(p.attrs, a)
		return nil
	}
	if p.m != nil {
		return p.mediaLine(typ, val, line)
	}
	s := p.s
	switch typ {
	case 'v':
		return p.errorf("repeated v=")
	case 'o':
		if p.seenO {
			return p.errorf("repeated o=")
		}
		var f [6]string
		if n := fieldsInto(val, f[:]); n != 6 {
			return p.errorf("o= has %d fields, want 6", n)
		}
		s.Origin = Origin{f[0], f[1], f[2], f[3], f[4], f[5]}
		p.seenO = true
	case 's':
		if p.seenS {
			return p.errorf("repeated s=")
		}
		s.Name, p.seenS = val, true
	case 'i':
		setOrKeep(&s.Info, &s.Other, val, line)
	case 'u':
		setOrKeep(&s.URI, &s.Other, val, line)
	case 'c':
		setOrKeep(&s.Conn, &s.Other, val, line)
	case 'e':
		s.Emails = append(s.Emails, val)
	case 'p':
		s.Phones = append(s.Phones, val)
	case 'b':
		s.Bandwidth = append(s.Bandwidth, val)
	case 't':
		s.Times = append(s.Times, line)
	case 'r':
		if len(s.Times) == 0 {
			return p.errorf("r= before t=")
		}
		s.Times = append(s.Times, line)
	default: // z=, k= and unknown types
		s.Other = append(s.Other, line)
	}
	return nil
}

// setOrKeep stores val in *field, or the whole line in *other when the field
// is already set (Marshal writes an empty field not at all).
func setOrKeep(field *string, other *[]string, val, line string) {
	if *field == "" {
		*field = val
		return
	}
	*other = append(*other, line)
}

func (p *parser) mediaLine(typ byte, val, line string) error {
	m := p.m
	switch typ {
	case 'v', 'o', 's', 't', 'r':
		return p.errorf("%c= inside a media description", typ)
	case 'i':
		setOrKeep(&m.Info, &m.Other, val, line)
	case 'c':
		setOrKeep(&m.Conn, &m.Other, val, line)
	case 'b':
		m.Bandwidth = append(m.Bandwidth, val)
	default: // k= and unknown types
		m.Other = append(m.Other, line)
	}
	return nil
}

// media parses an m= value (RFC 8866 §5.14):
//
//	m=<media> <port>[/<number of ports>] <proto> <fmt> ...
func (p *parser) media(val string) error {
	if !p.seenO || !p.seenS {
		return p.errorf("m= before o= and s=")
	}
	if len(p.s.Media) >= MaxMedia {
		return fmt.Errorf("%w: more than %d m-lines (line %d)", ErrTooLarge, MaxMedia, p.n)
	}
	var f [3]string
	n := fieldsInto(val, f[:])
	if n < 4 {
		return p.errorf("m= has %d fields, want at least 4", n)
	}
	p.closeSection()
	var m *Media
	if len(p.medias) < cap(p.medias) {
		p.medias = append(p.medias, Media{})
		m = &p.medias[len(p.medias)-1]
	} else {
		m = new(Media)
	}
	m.Type, m.Proto, m.Formats = f[0], f[2], p.formats(val, n-3)
	port, num, hasNum := strings.Cut(f[1], "/")
	var ok bool
	if m.Port, ok = parsePort(port); !ok {
		return p.errorf("bad m= port %q", f[1])
	}
	if hasNum {
		if m.NumPorts, ok = parsePort(num); !ok || m.NumPorts == 0 {
			return p.errorf("bad m= number of ports %q", f[1])
		}
	}
	p.s.Media = append(p.s.Media, m)
	p.m = m
	return nil
}

// formats returns the k formats of an m= value (its fields after the third), capped at their end
// so that an append by a caller copies: in the room p.fmts has left, else in a slice of their own.
func (p *parser) formats(val string, k int) []string {
	var f []string
	if i := len(p.fmts); k <= cap(p.fmts)-i {
		p.fmts = p.fmts[:i+k]
		f = p.fmts[i : i+k : i+k]
	} else {
		f = make([]string, k)
	}
	i := 0
	for w := range strings.FieldsSeq(val) {
		if i >= 3 {
			f[i-3] = w
		}
		i++
	}
	return f
}

// parseAttr parses the value of an a= line (RFC 8866 §5.13):
// <attribute> or <attribute>:<value>.
func parseAttr(val string) (Attr, error) {
	k, v, ok := strings.Cut(val, ":")
	if k == "" {
		return Attr{}, fmt.Errorf("empty attribute name in %q", val)
	}
	if !ok {
		return Attr{Key: k, Flag: true}, nil
	}
	return Attr{Key: k, Value: v}, nil
}

func parsePort(s string) (int, bool) {
	if len(s) == 0 || len(s) > 5 || !allDigits(s) {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, n <= 65535
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
