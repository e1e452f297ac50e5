package signal

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sipfast"
)

// Transports Herald serves SIP on, as indices of Server.listen.
const (
	tpUDP = iota
	tpTCP
	tpTLS
	numTransports
)

// transportIndex maps a sipgo transport name to its index, -1 for one Herald does not serve.
func transportIndex(t string) int {
	switch {
	case strings.EqualFold(t, "udp"):
		return tpUDP
	case strings.EqualFold(t, "tcp"):
		return tpTCP
	case strings.EqualFold(t, "tls"):
		return tpTLS
	}
	return -1
}

// portFor is the port Herald advertises for transport tp, 0 when it serves no socket of that
// transport. A socket on the first served socket's port advertises Options.Port (SIP serves UDP and
// TCP on one port, RFC 3261 §18), the TLS listener Options.TLSPort when set.
func (s *Server) portFor(tp int) int {
	if tp < 0 || tp >= numTransports {
		return 0
	}
	if tp == tpTLS && s.opts.TLSPort > 0 {
		return s.opts.TLSPort
	}
	p := int(s.listen[tp].Load())
	if p != 0 && s.opts.Port > 0 && p == int(s.first.Load()) {
		return s.opts.Port
	}
	return p
}

// legKey identifies Herald's URI toward a leg on transport tp: the transport and port it names. A
// transport Herald serves no socket for gets the primary URI's key (UDP form, Port): the peer may
// reach Herald there, if not over the transport it used.
func (s *Server) legKey(tp int) [2]int {
	if p := s.portFor(tp); p > 0 {
		return [2]int{tp, p}
	}
	return [2]int{tpUDP, s.Port()}
}

// legURI is the Record-Route URI of Herald's interface toward a leg (RFC 3261 §16.6 step 4,
// RFC 5658), key from legKey: sip:host:port;lr on UDP (what Herald inserted before it told
// transports apart), ;transport=tcp on TCP, ;transport=tls on TLS, or sips: when the request is a
// SIPS one (§16.6 step 4 requires it then).
func (s *Server) legURI(key [2]int, sips bool) sip.Uri {
	u := sip.Uri{Scheme: "sip", Host: s.opts.Host, Port: key[1]}
	switch {
	case key[0] == tpTLS && sips:
		u.Scheme = "sips"
	case key[0] == tpTLS:
		u.UriParams = sip.HeaderParams{{K: "transport", V: "tls"}, {K: "lr", V: ""}}
		return u
	case key[0] == tpTCP:
		u.UriParams = sip.HeaderParams{{K: "transport", V: "tcp"}, {K: "lr", V: ""}}
		return u
	}
	u.UriParams = sip.HeaderParams{{K: "lr", V: ""}}
	return u
}

// recordRoute inserts Herald's Record-Route into fwd, an INVITE that came in over inbound and leaves
// over outbound (RFC 3261 §16.6 step 4). When both legs reach Herald at the same URI it is one entry;
// otherwise it is two (RFC 5658 §3 double record-routing): the inbound leg's URI, and on top of it
// the outbound leg's, so that the callee, whose route set starts with the topmost entry, sends its
// in-dialog requests to Herald's outbound interface over the outbound transport, and the caller
// (whose route set is the reverse) to the inbound one. popSelfRoute removes both again.
//
// outbound is the transport the next hop's URI asks for; a request Herald then moves from UDP to TCP
// because of its size (pickTransport, RFC 3261 §18.1.1) keeps the UDP leg's entry: in-dialog
// requests are small, and the peer may send them over either (§18.1.1 applies to each request).
//
// Each entry carries ;herald=general (dialogParam): the dialog is the general path's, so its
// in-dialog requests go to the general path from INVITE to BYE, also once the call's controller
// has ended; the fast path, which reads every UDP datagram first, hands them over (core/sipfast
// routeOf, ReasonGeneralCall). The fast path's own Record-Route has no such parameter.
func (s *Server) recordRoute(fwd *sip.Request, inbound, outbound string, sips bool) {
	in, out := s.legKey(transportIndex(inbound)), s.legKey(transportIndex(outbound))
	fwd.PrependHeader(&sip.RecordRouteHeader{Address: generalLeg(s.legURI(in, sips))})
	if out != in {
		fwd.PrependHeader(&sip.RecordRouteHeader{Address: generalLeg(s.legURI(out, sips))})
	}
}

// dialogParam is the Record-Route URI parameter that names the stack owning a dialog (RFC 3261
// §16.6 step 4 lets a proxy put what it needs in its Record-Route URI; §12.2.1.1 returns it in the
// Route of every request of the dialog).
const dialogParam = sipfast.DialogParam

func generalLeg(u sip.Uri) sip.Uri {
	u.UriParams = append(u.UriParams, sip.HeaderKV{K: dialogParam, V: "general"})
	return u
}
