// Package sipmsg holds what Herald's general path (core/signal, on sipgo) accepts of a SIP message
// from the wire, before and after sipgo parses it: hostile input gets a clear answer, never a
// silent drop or a panic.
//
//   - Before sipgo (precheck.go): a request without a usable Via or CSeq has no transaction key
//     (RFC 3261 §17.2.3), so sipgo would answer it a bare 400 or drop it; EarlyReject answers it 400
//     with a reason phrase naming the header (§8.2.2, §16.3 step 1). PacketConn (UDP) and Listener
//     (TCP, TLS: the stream framed by Content-Length, §18.3) apply it under sipgo.
//   - While sipgo parses (parsers.go): HeaderParsers are sipgo's typed parsers made lenient, so a
//     header line that does not parse is kept (Unparsed names it) instead of making sipgo drop the
//     whole message; Contact is left generic (parsed on demand).
//   - After (parsers.go): CheckRequest is what a request must have before any handler acts on it
//     (RFC 3261 §8.1.1 mandatory headers, §7.3.1 single-valued ones, §8.1.1.5 CSeq method, §19.1.5
//     no URI headers in the Request-URI, SIP/2.0 only: 505 otherwise).
//
// The fast path (core/sipfast) reads datagrams with its own scanner and takes none of this; it asks
// the general path's EarlyReject (and Normalize) through its host, and sends over TCP on sipgo's
// connections through TCPStream (stream.go).
package sipmsg
