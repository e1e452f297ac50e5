package sipfast

// route.go: the engine's routing and forwarding of a request (RFC 3261 §16.4-16.6) and
// the plain-call test.

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
)

// route is the forwarding decision for a request: how many Route entries are Herald's (popped) and
// where the request goes.
type route struct {
	pop     int
	dst     netip.AddrPort
	name    *dnsEntry // the name answer dst came from; nil for an address
	general bool      // a popped Route of Herald's names the general path's dialog (route.go dialogParam)
	// noConn: the next hop is a TCP one Herald has no connection to (ok is false)
	noConn bool
}

// fallback is the reason a request whose route is not ok (routeOf) goes to the general path.
func (r route) fallback() Reason {
	if r.noConn {
		return ReasonNoConnection
	}
	return ReasonRoute
}

// routeOf pops Herald's own Routes and picks the next hop: the next Route, else (INVITE) the
// configured next hop or (in-dialog) the Request-URI. ok is false when that is not an IP literal
// over the request's transport (m.viaTCP: UDP or TCP), a TCP next hop Herald has no connection to
// (r.noConn), or the request is addressed to Herald itself with nothing onward.
func (f *Engine) routeOf(m *fmsg, invite bool) (r route, ok bool) {
	r, ok = f.nextHop(m, invite)
	if ok && m.viaTCP && f.streamTo(r.dst) == nil {
		r.noConn, ok = true, false
	}
	return r, ok
}

// nextHop is routeOf without the connection test. A request over TCP larger than UDP's limit goes
// on over TCP to a next hop whose URI names no transport (target's big; the received size stands
// for the forwarded one: TCP is never wrong where UDP was allowed).
func (f *Engine) nextHop(m *fmsg, invite bool) (route, bool) {
	var r route
	big := m.viaTCP && len(m.buf) > f.cfg.MaxRequest
	var next []byte
	ok := true
	m.eachRoute(func(uri []byte) bool {
		u, good := parseSIPURI(uri)
		if !good {
			if next == nil && hasPrefixFold(uri, "sips:") {
				ok = false
			}
			next = uri
			return false
		}
		if f.isSelf(u) {
			r.pop++
			r.general = r.general || u.general
			return true
		}
		next = uri
		return false
	})
	if !ok {
		return r, false
	}
	if next != nil {
		u, good := parseSIPURI(next)
		if !good || !u.lr {
			return r, false // strict routing or another scheme: the general path
		}
		dst, e, good := f.target(u, m.viaTCP, big)
		r.dst, r.name = dst, e
		return r, good
	}
	if invite {
		host, port, transport, over := f.host.NextHop() // the configured next hop
		if !over {
			return r, false
		}
		dst, e, good := f.target(sipURI{host: host, port: port, transport: transport}, m.viaTCP, big)
		r.dst, r.name = dst, e
		return r, good
	}
	u, good := parseSIPURI(m.ruri.of(m.buf))
	if !good || f.isSelf(u) {
		return r, false
	}
	dst, e, good := f.target(u, m.viaTCP, big)
	r.dst, r.name = dst, e
	return r, good
}

// isSelf asks the host whether the scanned URI u names it (Host.Self), with the default port of
// u's transport (RFC 3261 §19.1.2) when u has none.
func (f *Engine) isSelf(u sipURI) bool { return selfURI(f.host, u) }

func selfURI(h Host, u sipURI) bool {
	def := 5060
	if equalFold(u.transport, "tls") {
		def = 5061
	}
	return h.Self(u.host, u.port, def)
}

// IsSelf reads uri as the engine reads a Route or Request-URI and asks h whether it names the
// host; readable is false for a URI the engine does not read (another scheme, maddr, ...).
func IsSelf(h Host, uri []byte) (self, readable bool) {
	u, ok := parseSIPURI(uri)
	if !ok {
		return false, false
	}
	return selfURI(h, u), true
}

// eachRoute calls fn with the URI of each Route entry, top first, until fn returns false.
func (m *fmsg) eachRoute(fn func(uri []byte) bool) {
	if m.at[hRoute] < 0 {
		return
	}
	for i := int(m.at[hRoute]); i < m.n; i++ {
		if m.h(i).id != hRoute {
			continue
		}
		v := m.h(i).val.of(m.buf)
		for len(v) > 0 {
			e := entryEnd(v)
			uri, _, ok := nameAddr(trimBlanks(v[:e]))
			if !ok {
				fn(v[:e])
				return
			}
			if !fn(uri) {
				return
			}
			if e == len(v) {
				break
			}
			v = v[e+1:]
		}
	}
}

// entryEnd is the end of the first entry of a comma-separated name-addr list (a comma outside
// quotes and angle brackets), len(v) when there is one entry.
func entryEnd(v []byte) int {
	inQ, inA := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && inQ:
			i++
		case c == '"':
			inQ = !inQ
		case c == '<' && !inQ:
			inA = true
		case c == '>' && !inQ:
			inA = false
		case c == ',' && !inQ && !inA:
			return i
		}
	}
	return len(v)
}

// forwardRequest writes the request m as Herald forwards it: Herald's Via (branch) and, for an
// INVITE, its Record-Route on top; r.pop Route entries removed; Max-Forwards decremented; the
// caller's top Via given received and rport when it asked for rport (RFC 3581); everything else,
// body included, byte for byte.
func (f *Engine) forwardRequest(m *fmsg, src netip.AddrPort, r route, branch []byte, recordRoute bool) []byte {
	buf := m.buf
	b := make([]byte, 0, len(buf)+160)
	b = append(b, buf[m.start.a:m.start.b]...)
	b = f.appendVia(b, branch, m.viaTCP)
	if recordRoute {
		// Both sides of the request are over one transport, so one Record-Route does (RFC 5658
		// §3.2 asks for two only where the transports differ); over TCP it names TCP (§19.1.1).
		b = append(b, "Record-Route: <sip:"...)
		if m.viaTCP {
			b = appendHostPort(b, f.cfg.ViaHost, f.cfg.TCPPort())
			b = append(b, ";transport=tcp;lr>\r\n"...)
		} else {
			b = appendHostPort(b, f.cfg.ViaHost, f.cfg.ViaPort())
			b = append(b, ";lr>\r\n"...)
		}
	}
	pop := r.pop
	firstVia := true
	for i := 0; i < m.n; i++ {
		h := m.h(i)
		switch {
		case h.id == hVia && firstVia:
			firstVia = false
			b = appendViaLine(b, m, h, src)
		case h.id == hMaxFwd:
			b = append(b, "Max-Forwards: "...)
			b = strconv.AppendInt(b, int64(m.mf-1), 10)
			b = append(b, '\r', '\n')
		case h.id == hRoute && pop > 0:
			v := h.val.of(buf)
			for pop > 0 && len(v) > 0 {
				e := entryEnd(v)
				pop--
				if e == len(v) {
					v = nil
				} else {
					v = trimBlanks(v[e+1:])
				}
			}
			if len(v) > 0 {
				b = append(b, "Route: "...)
				b = append(b, v...)
				b = append(b, '\r', '\n')
			}
		default:
			b = append(b, buf[h.line.a:h.line.b]...)
		}
	}
	b = append(b, '\r', '\n')
	return append(b, buf[m.body:]...)
}

// forwardGrowth bounds how many bytes forwardRequest adds to a request: Herald's Via line and its
// Record-Route (each with its host, bracketed, and a port), the received and rport the caller's Via
// may get (an address with a zone included), and a Max-Forwards written with a space the request
// may have left out. Route entries popped only shorten it. TestForwardGrowthBounds proves it.
func (f *Engine) forwardGrowth() int {
	return 2*len(f.cfg.ViaHost) + len(BranchPrefix) + len(";transport=tcp") + 256
}

// appendViaLine copies the first Via line, with received and rport filled in when the top value
// has a bare rport (RFC 3581 §4; sipgo's proxying did the same).
func appendViaLine(b []byte, m *fmsg, h *hline, src netip.AddrPort) []byte {
	if m.rport.empty() {
		return append(b, m.buf[h.line.a:h.line.b]...)
	}
	b = append(b, m.buf[h.line.a:m.rport.b]...)
	b = append(b, '=')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, m.buf[m.rport.b:m.viaEnd]...)
	b = append(b, ";received="...)
	b = src.Addr().AppendTo(b)
	return append(b, m.buf[m.viaEnd:h.line.b]...)
}

// appendVia appends Herald's Via with branch: over TCP (tcp) its TCP port, else its UDP one.
func (f *Engine) appendVia(b, branch []byte, tcp bool) []byte {
	if tcp {
		b = append(b, "Via: SIP/2.0/TCP "...)
		b = appendHostPort(b, f.cfg.ViaHost, f.cfg.TCPPort())
	} else {
		b = append(b, "Via: SIP/2.0/UDP "...)
		b = appendHostPort(b, f.cfg.ViaHost, f.cfg.ViaPort())
	}
	b = append(b, ";branch="...)
	b = append(b, branch...)
	return append(b, '\r', '\n')
}

func appendHostPort(b []byte, host string, port int) []byte {
	if bytes.IndexByte([]byte(host), ':') >= 0 && host[0] != '[' {
		b = append(b, '[')
		b = append(b, host...)
		b = append(b, ']')
	} else {
		b = append(b, host...)
	}
	if port > 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(port), 10)
	}
	return b
}

// branchOf is the branch of Herald's Via on the request of transaction id: BranchPrefix, the id and
// a MAC of it (SipHash-2-4 under the engine's random key), 16 hex digits each. The ids count up, so
// without the MAC anyone who saw one branch could name the next calls' transactions and forge their
// responses (a 200 with its own Contact, a 486 ending the call) or have Herald relay a 2xx it never
// asked for to any address; a branch the engine did not mint matches nothing (idOf).
func (f *Engine) branchOf(id uint64) []byte {
	b := make([]byte, 0, len(BranchPrefix)+32)
	b = append(b, BranchPrefix...)
	return appendHex16(appendHex16(b, id), f.branchMAC(id))
}

func (f *Engine) branchMAC(id uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], id)
	return sipHash24(f.bkey[0], f.bkey[1], b[:])
}

// appendHex16 appends v as 16 hex digits.
func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		b = append(b, digits[v>>uint(s)&0xf])
	}
	return b
}

// idOf reads the transaction id of a branch: ours when it starts with BranchPrefix, ok when its MAC
// is the engine's (branchOf). A branch of ours that is not ok was forged or is another process's.
func (f *Engine) idOf(branch []byte) (id uint64, ours, ok bool) {
	if len(branch) < len(BranchPrefix) || string(branch[:len(BranchPrefix)]) != BranchPrefix {
		return 0, false, false
	}
	rest := branch[len(BranchPrefix):]
	if len(rest) != 32 {
		return 0, true, false
	}
	id, ok1 := parseHex16(rest[:16])
	mac, ok2 := parseHex16(rest[16:])
	return id, true, ok1 && ok2 && mac == f.branchMAC(id)
}

// parseHex16 reads 16 hex digits (either case).
func parseHex16(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// plain reports whether the call m starts is plain forwarding, by the host's rule (Host.Plain) on
// the caller (P-Asserted-Identity, else From), the callee (the Request-URI) and whether the caller
// supports reliable provisional responses (Supported or Require: 100rel, RFC 3262), the one
// capability of the caller's that changes whether a plan is plain (no ringback without it).
func (f *Engine) plain(m *fmsg) bool { return plainCall(f.host, m) }

// Plain reads the INVITE msg as the engine does and asks h whether its call is plain (Host.Plain);
// scanned is false when the engine's scanner does not take msg.
func Plain(h Host, msg []byte) (plain, scanned bool) {
	var m fmsg
	if !m.scan(msg) || !m.isReq || m.method != mINVITE {
		return false, false
	}
	return plainCall(h, &m), true
}

func plainCall(h Host, m *fmsg) bool {
	caller := m.value(hFrom)
	if m.at[hPAI] >= 0 {
		pai := m.value(hPAI)
		caller = trimBlanks(pai[:entryEnd(pai)])
	}
	rel := m.hasOptionTag(hSupported, "100rel") || m.hasOptionTag(hRequire, "100rel")
	return h.Plain(m.value(hCallID), caller, m.ruri.of(m.buf), rel)
}

// hasOptionTag reports whether any line of the header id (Supported or Require) lists tag, a
// lower-case option tag (RFC 3261 §20.37, §20.32: comma-separated, case-insensitive).
func (m *fmsg) hasOptionTag(id hdrID, tag string) bool {
	if m.at[id] < 0 {
		return false
	}
	for i := int(m.at[id]); i < m.n; i++ {
		if m.h(i).id != id {
			continue
		}
		for v := m.h(i).val.of(m.buf); len(v) > 0; {
			t := v
			if c := bytes.IndexByte(v, ','); c >= 0 {
				t, v = v[:c], v[c+1:]
			} else {
				v = nil
			}
			if equalFold(trimBlanks(t), tag) {
				return true
			}
		}
	}
	return false
}
