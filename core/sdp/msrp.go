package sdp

import (
	"fmt"
	"strconv"
	"strings"
)

// MSRP protocol identifiers for the m= proto field (RFC 4975 §8.1).
const (
	ProtoMSRP    = "TCP/MSRP"
	ProtoMSRPTLS = "TCP/TLS/MSRP"
)

// FileSelector is the value of a=file-selector (RFC 5547 §5):
//
//	file-selector-attr = "file-selector" [":" selector *(SP selector)]
//	selector           = filename-selector / filesize-selector /
//	                     filetype-selector / hash-selector
//	filename-selector  = "name:" DQUOTE filename-string DQUOTE
//	filename-string    = 1*( filename-char / percent-encoded )
//	filesize-selector  = "size:" filesize-value
//	filetype-selector  = "type:" type "/" subtype *(";" ft-parameter)
//	ft-parameter       = attribute "=" DQUOTE value-string DQUOTE
//	hash-selector      = "hash:" hash-algorithm ":" hash-value
//	hash-value         = 2UHEX *(":" 2UHEX)
//
// Name is percent-decoded (a display name, never a path). Size 0 means
// absent. Hash keeps the algorithm: "sha-1:72:24:...".
type FileSelector struct {
	Name, Type string
	Size       int64
	Hash       string
}

// ParseFileSelector parses a file-selector attribute value such as
//
//	name:"a b.html" type:text/html size:18432 hash:sha-1:72:24:5F:...
//
// Selectors may come in any order; an unknown selector is skipped, a
// repeated or malformed one is an error wrapping ErrSyntax. An empty value
// gives the zero FileSelector.
func ParseFileSelector(v string) (FileSelector, error) {
	var f FileSelector
	var seen [4]bool
	for rest := v; rest != ""; {
		if rest[0] == ' ' || rest[0] == '\t' {
			rest = rest[1:]
			continue
		}
		sel, tail, err := nextSelector(rest)
		if err != nil {
			return FileSelector{}, err
		}
		rest = tail
		name, val, ok := strings.Cut(sel, ":")
		if !ok {
			return FileSelector{}, fmt.Errorf("%w: file-selector %q has no value", ErrSyntax, sel)
		}
		idx := -1
		switch name {
		case "name":
			idx = 0
			if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
				return FileSelector{}, fmt.Errorf("%w: file-selector name not quoted", ErrSyntax)
			}
			if f.Name, err = pctDecode(val[1 : len(val)-1]); err != nil {
				return FileSelector{}, err
			}
		case "type":
			idx = 1
			if t, _, _ := strings.Cut(val, ";"); strings.Count(t, "/") != 1 || t[0] == '/' || t[len(t)-1] == '/' {
				return FileSelector{}, fmt.Errorf("%w: file-selector type %q", ErrSyntax, val)
			}
			f.Type = val
		case "size":
			idx = 2
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 || !allDigits(val) {
				return FileSelector{}, fmt.Errorf("%w: file-selector size %q", ErrSyntax, val)
			}
			f.Size = n
		case "hash":
			idx = 3
			if !validHash(val) {
				return FileSelector{}, fmt.Errorf("%w: file-selector hash %q", ErrSyntax, val)
			}
			f.Hash = val
		}
		if idx >= 0 {
			if seen[idx] {
				return FileSelector{}, fmt.Errorf("%w: repeated file-selector %s", ErrSyntax, name)
			}
			seen[idx] = true
		}
	}
	return f, nil
}

// nextSelector returns the selector at the start of s (up to the first
// space outside double quotes) and the rest.
func nextSelector(s string) (sel, rest string, err error) {
	inQ := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQ = !inQ
		case (c == ' ' || c == '\t') && !inQ:
			return s[:i], s[i:], nil
		}
	}
	if inQ {
		return "", "", fmt.Errorf("%w: unterminated quote in file-selector", ErrSyntax)
	}
	return s, "", nil
}

// validHash checks hash-algorithm ":" 2HEX *(":" 2HEX). Lower-case hex is
// accepted although RFC 5547 asks for upper case.
func validHash(v string) bool {
	alg, hv, ok := strings.Cut(v, ":")
	if !ok || alg == "" || hv == "" || strings.ContainsAny(alg, " \t\"") {
		return false
	}
	for { // each pair read in place: the selector of every push offer and answer has one
		if len(hv) < 2 || !isHex(hv[0]) || !isHex(hv[1]) {
			return false
		}
		if len(hv) == 2 {
			return true
		}
		if hv[2] != ':' {
			return false
		}
		hv = hv[3:]
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func pctDecode(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		if strings.IndexByte(s, '"') >= 0 {
			return "", fmt.Errorf("%w: quote in file-selector name", ErrSyntax)
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Errorf("%w: bad percent-encoding in file-selector name", ErrSyntax)
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		case '"':
			return "", fmt.Errorf("%w: quote in file-selector name", ErrSyntax)
		}
		b = append(b, c)
	}
	return string(b), nil
}

// String returns the attribute value in RFC 5547 form, selectors in the
// order name, type, size, hash; empty ones are left out. In the name, NUL,
// CR, LF, DQUOTE and "%" are percent-encoded.
func (f FileSelector) String() string {
	var b strings.Builder
	b.Grow(f.maxLen()) // one allocation: every push offer writes one
	f.writeTo(&b)
	return b.String()
}

// maxLen is the longest String can be: a name escaped at most 3 bytes per byte.
func (f FileSelector) maxLen() int {
	return len(`name:"" type: size:-9223372036854775808 hash:`) + 3*len(f.Name) + len(f.Type) + len(f.Hash)
}

// writeTo writes String to b after what b holds.
func (f FileSelector) writeTo(b *strings.Builder) {
	start := b.Len()
	sep := func() {
		if b.Len() > start {
			b.WriteByte(' ')
		}
	}
	if f.Name != "" {
		b.WriteString(`name:"`)
		const hexdig = "0123456789ABCDEF"
		for i := 0; i < len(f.Name); i++ {
			switch c := f.Name[i]; c {
			case 0, '\r', '\n', '"', '%':
				b.WriteByte('%')
				b.WriteByte(hexdig[c>>4])
				b.WriteByte(hexdig[c&15])
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	if f.Type != "" {
		sep()
		b.WriteString("type:")
		b.WriteString(f.Type)
	}
	if f.Size > 0 {
		sep()
		b.WriteString("size:")
		var nb [20]byte
		b.Write(strconv.AppendInt(nb[:0], f.Size, 10))
	}
	if f.Hash != "" {
		sep()
		b.WriteString("hash:")
		b.WriteString(f.Hash)
	}
}

// MSRPInfo is what a peer's m=message line says (RFC 4975 §8, RFC 5547,
// RFC 6135, RFC 6714).
type MSRPInfo struct {
	Path         []string // a=path URIs, split on whitespace, in order
	Setup        string   // a=setup (RFC 6135): active, passive, actpass, holdconn; "" if absent
	CEMA         bool     // a=msrp-cema (RFC 6714)
	AcceptTypes  []string // a=accept-types, split on whitespace
	MaxSize      int64    // a=max-size, 0 if absent
	Direction    string   // media-level direction, sendrecv by default
	FileSelector *FileSelector
	TransferID   string // a=file-transfer-id
	Port         int
	Proto        string
	ConnAddr     string // address of the media c=, else of the session c=
	// Fingerprints are the media-level a=fingerprint values (RFC 8122 §5), else the session-level
	// ones; nil when there is none. For TCP/TLS/MSRP they identify the peer's certificate.
	Fingerprints []Fingerprint
}

// IsMSRP reports whether m is an m=message line over MSRP (proto TCP/MSRP or TCP/TLS/MSRP): the
// lines MSRP reads. A caller that scans every media line asks it first, at no cost for the others.
func (m *Media) IsMSRP() bool {
	return strings.EqualFold(m.Type, "message") &&
		(strings.EqualFold(m.Proto, ProtoMSRP) || strings.EqualFold(m.Proto, ProtoMSRPTLS))
}

// MSRP extracts the MSRP parameters of an m=message line. It fails with
// ErrNotMSRP unless the line is m=message with proto TCP/MSRP or
// TCP/TLS/MSRP, with ErrNoPath without a=path, and with ErrSyntax for a
// malformed a=max-size, a=file-selector or a=fingerprint.
//
// ConnAddr and Fingerprints fall back to the session-level c= and
// a=fingerprint of the Session m was parsed in (or added to with
// Session.AddMedia).
func (m *Media) MSRP() (MSRPInfo, error) {
	if !m.IsMSRP() {
		return MSRPInfo{}, fmt.Errorf("%w: m=%s %s", ErrNotMSRP, m.Type, m.Proto)
	}
	info := MSRPInfo{Port: m.Port, Proto: m.Proto, Direction: m.Direction()}
	room := newMSRPRoom(m.Attrs)
	info.Path, info.AcceptTypes = room.path, room.types
	for _, a := range m.Attrs {
		switch a.Key {
		case "path":
			for u := range strings.FieldsSeq(a.Value) {
				info.Path = append(info.Path, u)
			}
		case "setup":
			if info.Setup == "" {
				info.Setup = strings.TrimSpace(a.Value)
			}
		case "msrp-cema":
			info.CEMA = true
		case "accept-types":
			for t := range strings.FieldsSeq(a.Value) {
				info.AcceptTypes = append(info.AcceptTypes, t)
			}
		case "max-size":
			v := strings.TrimSpace(a.Value)
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || !allDigits(v) {
				return MSRPInfo{}, fmt.Errorf("%w: a=max-size:%s", ErrSyntax, a.Value)
			}
			info.MaxSize = n
		case "file-selector":
			if info.FileSelector != nil {
				continue
			}
			fs, err := ParseFileSelector(a.Value)
			if err != nil {
				return MSRPInfo{}, err
			}
			info.FileSelector = room.selector(fs)
		case "file-transfer-id":
			if info.TransferID == "" {
				info.TransferID = a.Value
			}
		}
	}
	if len(info.Path) == 0 {
		return MSRPInfo{}, ErrNoPath
	}
	if len(info.AcceptTypes) == 0 {
		info.AcceptTypes = nil // as without the room: no type, no slice
	}
	conn := m.Conn
	if conn == "" {
		conn = m.sessConn
	}
	info.ConnAddr = ConnAddr(conn)
	fps, err := parseFingerprints(m.Attrs)
	if err == nil && fps == nil {
		fps, err = parseFingerprints(m.sessAttrs)
	}
	if err != nil {
		return MSRPInfo{}, err
	}
	info.Fingerprints = fps
	return info, nil
}

// msrpRoom is where MSRP puts what it returns: the a=path URIs and the accept-types, each slice
// capped at its end so that an append by a caller copies, and the file selector. The MSRP line of
// a call has a path, a type or two and a selector: they take one allocation (msrpBlock).
type msrpRoom struct {
	path, types []string // empty, with room for every field of the attributes
	fs          *FileSelector
}

// msrpBlock is the one allocation of an msrpRoom whose fields fit.
type msrpBlock struct {
	fs   FileSelector
	strs [4]string
}

// newMSRPRoom counts the fields of the a=path and a=accept-types attributes in as and makes room
// for them.
func newMSRPRoom(as []Attr) msrpRoom {
	np, nt := 0, 0
	for _, a := range as {
		switch a.Key {
		case "path":
			np += fieldsInto(a.Value, nil)
		case "accept-types":
			nt += fieldsInto(a.Value, nil)
		}
	}
	var r msrpRoom
	var strs []string
	switch n := np + nt; {
	case n == 0:
		return r
	case n <= len(msrpBlock{}.strs):
		blk := new(msrpBlock)
		r.fs, strs = &blk.fs, blk.strs[:n]
	default:
		strs = make([]string, n)
	}
	r.path, r.types = strs[:0:np], strs[np:np:np+nt]
	return r
}

// selector returns fs in the room's file selector, or in one of its own when the room has none.
func (r msrpRoom) selector(fs FileSelector) *FileSelector {
	p := r.fs
	if p == nil {
		p = new(FileSelector)
	}
	*p = fs
	return p
}

// PushOffer describes the m=message line Herald advertises for a pushed
// file (RFC 5547 push, RFC 6135 actpass, RFC 6714 CEMA).
type PushOffer struct {
	Host         string // IP address for c= ("IN IP6" when it contains ':'); no c= when empty
	Port         int
	PathURI      string // our a=path URI, msrp://host:port/session-id;tcp
	Secure       bool   // TCP/TLS/MSRP instead of TCP/MSRP
	AcceptTypes  []string
	FileSelector FileSelector
	TransferID   string
	Disposition  string // a=file-disposition, e.g. "render"
}

// Media returns the m=message line, with attributes in this order (RFC 8866 sets no order among
// attribute lines; this one keeps the direction first and the RFC 5547 file attributes last):
//
//	m=message <port> TCP/MSRP *
//	c=IN IP4 <host>
//	a=sendonly
//	a=accept-types:text/html multipart/related
//	a=path:msrp://...
//	a=setup:actpass
//	a=msrp-cema
//	a=file-selector:name:"x.html" type:text/html size:18432 hash:sha-1:...
//	a=file-transfer-id:...
//	a=file-disposition:render
//
// Accept-types defaults to the file-selector type, else "*". Empty
// TransferID, Disposition and file selector are left out.
func (p PushOffer) Media() *Media {
	// The offer is built for each push, on the call's path: the media description, its format and
	// its attributes take one allocation (pushMedia), its c= value, accept-types and file selector
	// are cut from one string.
	blk := new(pushMedia)
	blk.fmts[0] = "*"
	m := &blk.m
	*m = Media{Type: "message", Port: p.Port, Proto: ProtoMSRP, Formats: blk.fmts[:], Attrs: blk.attrs[:0]}
	if p.Secure {
		m.Proto = ProtoMSRPTLS
	}
	var b strings.Builder
	b.Grow(len("IN IP4 ") + len(p.Host) + strsLen(p.AcceptTypes) + p.FileSelector.maxLen())
	if p.Host != "" {
		b.WriteString(connPrefix(p.Host))
		b.WriteString(p.Host)
	}
	connEnd := b.Len()
	for i, t := range p.AcceptTypes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	typesEnd := b.Len()
	p.FileSelector.writeTo(&b)
	strs := b.String()
	m.Conn = strs[:connEnd]
	at, fs := strs[connEnd:typesEnd], strs[typesEnd:]
	if at == "" {
		at = "*"
		if p.FileSelector.Type != "" {
			at, _, _ = strings.Cut(p.FileSelector.Type, ";")
		}
	}
	m.AddFlag(SendOnly)
	m.AddAttr("accept-types", at)
	m.AddAttr("path", p.PathURI)
	m.AddAttr("setup", "actpass")
	m.AddFlag("msrp-cema")
	if fs != "" {
		m.AddAttr("file-selector", fs)
	}
	if p.TransferID != "" {
		m.AddAttr("file-transfer-id", p.TransferID)
	}
	if p.Disposition != "" {
		m.AddAttr("file-disposition", p.Disposition)
	}
	return m
}

// pushMedia is what PushOffer.Media allocates at once: the media description, its one format and
// room for every attribute it writes.
type pushMedia struct {
	m     Media
	fmts  [1]string
	attrs [8]Attr
}

// ConnValue returns the c= value for an IP address: "IN IP4 192.0.2.1" or
// "IN IP6 2001:db8::1".
func ConnValue(addr string) string { return connPrefix(addr) + addr }

// connPrefix is the start of addr's c= value: "IN IP6 " for an address with a ':', else "IN IP4 ".
func connPrefix(addr string) string {
	if strings.IndexByte(addr, ':') >= 0 {
		return "IN IP6 "
	}
	return "IN IP4 "
}
