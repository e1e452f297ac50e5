package sip

import "net/netip"

// Herald patch: SentTo is the address the transport layer resolved req's destination to when it
// sent req, or tried to (a connection refused); not valid before that, for a name it could not
// resolve, or an address with a zone. A name's answers change between requests (RFC 3263 §4.3
// failover): where this request went is what a TU marks down when it goes unanswered, not where
// the name points now.
func (req *Request) SentTo() netip.AddrPort {
	a := req.raddr
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok || a.Zone != "" || a.Port <= 0 || a.Port > 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}
