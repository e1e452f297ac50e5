package sdp

import "strconv"

// Marshal returns the description with CRLF line ends in RFC 8866 §5 order.
// Empty optional fields (i=, u=, c=) are omitted; v=, o= and s= are always
// written.
func (s *Session) Marshal() []byte { return s.AppendTo(make([]byte, 0, s.sizeHint())) }

// String returns Marshal as a string.
func (s *Session) String() string { return string(s.Marshal()) }

// AppendTo appends the marshalled description to b.
func (s *Session) AppendTo(b []byte) []byte {
	b = append(b, "v="...)
	b = strconv.AppendInt(b, int64(s.Version), 10)
	b = append(b, "\r\no="...)
	o := s.Origin
	for i, f := range [...]string{o.Username, o.SessID, o.SessVersion, o.NetType, o.AddrType, o.Addr} {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
	}
	b = append(b, "\r\n"...)
	b = line(b, "s=", s.Name)
	b = optLine(b, "i=", s.Info)
	b = optLine(b, "u=", s.URI)
	for _, v := range s.Emails {
		b = line(b, "e=", v)
	}
	for _, v := range s.Phones {
		b = line(b, "p=", v)
	}
	b = optLine(b, "c=", s.Conn)
	for _, v := range s.Bandwidth {
		b = line(b, "b=", v)
	}
	for _, v := range s.Times {
		b = line(b, "", v)
	}
	for _, v := range s.Other {
		b = line(b, "", v)
	}
	b = attrs(b, s.Attrs)
	for _, m := range s.Media {
		b = m.AppendTo(b)
	}
	return b
}

// AppendTo appends the media description (m= line and the lines that
// follow it) to b.
func (m *Media) AppendTo(b []byte) []byte {
	b = append(b, "m="...)
	b = append(b, m.Type...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(m.Port), 10)
	if m.NumPorts > 0 {
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(m.NumPorts), 10)
	}
	b = append(b, ' ')
	b = append(b, m.Proto...)
	for _, f := range m.Formats {
		b = append(b, ' ')
		b = append(b, f...)
	}
	b = append(b, "\r\n"...)
	b = optLine(b, "i=", m.Info)
	b = optLine(b, "c=", m.Conn)
	for _, v := range m.Bandwidth {
		b = line(b, "b=", v)
	}
	for _, v := range m.Other {
		b = line(b, "", v)
	}
	return attrs(b, m.Attrs)
}

func line(b []byte, prefix, v string) []byte {
	b = append(b, prefix...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

func optLine(b []byte, prefix, v string) []byte {
	if v == "" {
		return b
	}
	return line(b, prefix, v)
}

func attrs(b []byte, as []Attr) []byte {
	for _, a := range as {
		b = append(b, "a="...)
		b = append(b, a.Key...)
		if !a.Flag {
			b = append(b, ':')
			b = append(b, a.Value...)
		}
		b = append(b, "\r\n"...)
	}
	return b
}

func (s *Session) sizeHint() int {
	n := 64 + len(s.Name) + len(s.Info) + len(s.URI) + len(s.Conn)
	o := s.Origin
	n += len(o.Username) + len(o.SessID) + len(o.SessVersion) + len(o.NetType) + len(o.AddrType) + len(o.Addr)
	n += strsLen(s.Emails) + strsLen(s.Phones) + strsLen(s.Bandwidth) + strsLen(s.Times) + strsLen(s.Other)
	n += attrsLen(s.Attrs)
	for _, m := range s.Media {
		n += 32 + len(m.Type) + len(m.Proto) + len(m.Info) + len(m.Conn) + strsLen(m.Formats)
		n += strsLen(m.Bandwidth) + strsLen(m.Other) + attrsLen(m.Attrs)
	}
	return n
}

func strsLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n += len(s) + 4
	}
	return n
}

func attrsLen(as []Attr) int {
	n := 0
	for _, a := range as {
		n += len(a.Key) + len(a.Value) + 5
	}
	return n
}
