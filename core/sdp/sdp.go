package sdp

import "strings"

// Limits enforced by Parse.
const (
	// MaxSize is the largest session description Parse accepts, in bytes.
	MaxSize = 64 << 10
	// MaxMedia is the largest number of m-lines Parse accepts.
	MaxMedia = 64
)

// Direction attribute values (RFC 8866 §6.7).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

// Attr is one a= line. A property attribute ("a=sendonly") has Flag set and
// an empty Value; a value attribute ("a=path:x") has Key "path" and Value
// "x". "a=key:" (empty value) is a value attribute with Value "".
type Attr struct {
	Key, Value string
	Flag       bool
}

// String returns the attribute as it appears after "a=".
func (a Attr) String() string {
	if a.Flag {
		return a.Key
	}
	return a.Key + ":" + a.Value
}

// Origin is the o= line (RFC 8866 §5.2).
type Origin struct {
	Username, SessID, SessVersion, NetType, AddrType, Addr string
}

// Media is one media description: an m= line and the lines after it up to
// the next m= line (RFC 8866 §5.14).
type Media struct {
	Type     string   // "audio", "video", "message", ...
	Port     int      // 0..65535; 0 rejects or disables the stream
	NumPorts int      // the "/<number of ports>" suffix; 0 when absent
	Proto    string   // "RTP/AVP", "TCP/MSRP", ...
	Formats  []string // payload types, or "*" for MSRP

	Info      string   // i=
	Conn      string   // raw c= value ("IN IP4 192.0.2.1"), "" if none
	Bandwidth []string // raw b= values ("AS:64")
	Other     []string // unknown or repeated lines kept whole ("k=prompt"), in order
	Attrs     []Attr

	// sessConn is the session-level c= value of the Session this Media was
	// parsed in; MSRP falls back to it when Conn is empty.
	sessConn string
	// sessAttrs are the session-level attributes of that Session; MSRP
	// falls back to their a=fingerprint (RFC 8122 §5).
	sessAttrs []Attr
}

// Attr returns the value of the first attribute named key (case-sensitive,
// as attribute names are in RFC 8866 §5.13) and whether it exists.
func (m *Media) Attr(key string) (string, bool) { return attrFirst(m.Attrs, key) }

// AttrAll returns the values of all attributes named key, in order.
func (m *Media) AttrAll(key string) []string { return attrAll(m.Attrs, key) }

// Has reports whether an attribute named key is present.
func (m *Media) Has(key string) bool {
	_, ok := attrFirst(m.Attrs, key)
	return ok
}

// AddAttr appends a value attribute.
func (m *Media) AddAttr(key, value string) { m.Attrs = append(m.Attrs, Attr{Key: key, Value: value}) }

// AddFlag appends a property attribute.
func (m *Media) AddFlag(key string) { m.Attrs = append(m.Attrs, Attr{Key: key, Flag: true}) }

// DelAttr removes every attribute named key.
func (m *Media) DelAttr(key string) { m.Attrs = delAttr(m.Attrs, key) }

// Direction returns the media-level direction attribute: sendrecv,
// sendonly, recvonly or inactive; sendrecv when there is none. Use
// Session.DirectionOf to fall back to a session-level attribute.
func (m *Media) Direction() string {
	if d, ok := direction(m.Attrs); ok {
		return d
	}
	return SendRecv
}

// SetDirection replaces the media's direction attribute with d, keeping the
// position of the first existing one (so other lines do not move), or
// appends it when there is none.
func (m *Media) SetDirection(d string) {
	out := m.Attrs[:0]
	done := false
	for _, a := range m.Attrs {
		if a.Flag && isDirection(a.Key) {
			if done {
				continue
			}
			a.Key, done = d, true
		}
		out = append(out, a)
	}
	if !done {
		out = append(out, Attr{Key: d, Flag: true})
	}
	m.Attrs = out
}

// Session is a parsed session description (RFC 8866 §5).
type Session struct {
	Version   int
	Origin    Origin
	Name      string   // s=
	Info      string   // i=
	URI       string   // u=
	Emails    []string // e=
	Phones    []string // p=
	Conn      string   // raw c= value, "" if none
	Bandwidth []string // raw b= values
	Times     []string // raw t= and r= lines, with their "t="/"r=" prefix
	Other     []string // unknown or repeated lines kept whole ("z=...", "k=..."), in order
	Attrs     []Attr
	Media     []*Media
}

// Attr returns the value of the first session-level attribute named key.
func (s *Session) Attr(key string) (string, bool) { return attrFirst(s.Attrs, key) }

// AttrAll returns the values of all session-level attributes named key.
func (s *Session) AttrAll(key string) []string { return attrAll(s.Attrs, key) }

// DirectionOf returns m's direction attribute, else the session-level one,
// else sendrecv (RFC 8866 §6.7).
func (s *Session) DirectionOf(m *Media) string {
	if d, ok := direction(m.Attrs); ok {
		return d
	}
	if d, ok := direction(s.Attrs); ok {
		return d
	}
	return SendRecv
}

// ConnOf returns m's c= value, else the session-level one.
func (s *Session) ConnOf(m *Media) string {
	if m.Conn != "" {
		return m.Conn
	}
	return s.Conn
}

// AddMedia appends m and records the session-level c= and attributes in it
// so that m.MSRP reports the right connection address and fingerprints.
func (s *Session) AddMedia(m *Media) {
	m.sessConn, m.sessAttrs = s.Conn, s.Attrs
	s.Media = append(s.Media, m)
}

// ConnAddr returns the address of a raw c= value ("IN IP4 192.0.2.1/127"
// gives "192.0.2.1"), or "" when it is malformed.
func ConnAddr(conn string) string {
	var f [3]string
	if fieldsInto(conn, f[:]) != 3 {
		return ""
	}
	a := f[2]
	if i := strings.IndexByte(a, '/'); i >= 0 { // multicast TTL / number of addresses
		a = a[:i]
	}
	return a
}

func attrFirst(as []Attr, key string) (string, bool) {
	for _, a := range as {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

func attrAll(as []Attr, key string) []string {
	var out []string
	for _, a := range as {
		if a.Key == key {
			out = append(out, a.Value)
		}
	}
	return out
}

func delAttr(as []Attr, key string) []Attr {
	out := as[:0]
	for _, a := range as {
		if a.Key != key {
			out = append(out, a)
		}
	}
	return out
}

func isDirection(k string) bool {
	return k == SendRecv || k == SendOnly || k == RecvOnly || k == Inactive
}

func direction(as []Attr) (string, bool) {
	for _, a := range as {
		if a.Flag && isDirection(a.Key) {
			return a.Key, true
		}
	}
	return "", false
}

// fieldsInto puts the whitespace-separated fields of s into dst, as far as it has room, and returns
// how many fields s has (more than len(dst) when some did not fit). For lines read on every call
// (o=, c=, a=curr), where strings.Fields would allocate a slice each time.
func fieldsInto(s string, dst []string) int {
	n := 0
	for f := range strings.FieldsSeq(s) {
		if n < len(dst) {
			dst[n] = f
		}
		n++
	}
	return n
}
