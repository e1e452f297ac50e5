// Package signal is Herald's SIP layer on sipgo: it receives the caller's INVITE as an application
// server on the originating side, executes the call's plan (core/call) and stays in the path of the
// dialog through Record-Route. The Record-Route names the transport and listening port of each leg:
// one entry when the INVITE leaves over the transport it came in on, two (RFC 5658) when it does not,
// so that in-dialog requests come back over the transport of the leg they come from (route.go).
//
// A call with cards (or ringback) is run by its controller in core/callsip, "the SIP side of one
// call with cards": onInvite (callglue.go) admits and routes the caller's INVITE and hands it over
// (callsip.New, Call.Run); the call reaches the Server only through callsip.Host (callHost: lookups,
// routing, transactions, the recovery net). PRACKs and UPDATEs on Herald's own early dialog go to
// their call (Call.OwnDialog, Prack, Update); over UDP the fast path's engine carries the PRACK
// (fastHost.Own, Call.PrackOn), Herald's UPDATE (callsip.EngineOriginate) and the INVITE the call forwards
// (callsip.EngineInvite), so sipgo parses none. What such a call puts on the wire, claim by claim,
// is in core/callsip's package doc and the README's "Wire contract per claim".
//
// Plain calls take a shorter way: the fast path, an I/O-free SIP engine (core/sipfast; on unless
// Options.DisableFastPath) wired in fastglue.go. Herald reads its UDP sockets itself (Deps.UDP:
// netio/sipudp, wired by the binary) and offers each datagram to the engine before sipgo sees it;
// each gets a verdict (fast, drop, or general: sipgo gets it), counted by reason. One admission
// owner (admit.go) holds the calls in progress of both paths; the plain-call rule is call.Decide's
// (fastHost.Plain), on the INVITE's one profile lookup per party, which a call handed to the
// general path takes with it (parties.go); a dialog stays on the stack that took its INVITE (the general path's
// Record-Route says so). Everything else goes to sipgo: cards and ringback, TCP and TLS, DNS SRV,
// oversize, untrusted peers, Max-Forwards at 1, malformed messages.
//
// Input from the wire is hostile. A request without a header RFC 3261 §8.1.1 makes mandatory, or
// with one that does not parse, is answered 400 with a reason phrase naming it and never forwarded:
// by guard (sipmsg.CheckRequest) once sipgo has parsed it, leniently (sipmsg.HeaderParsers), and
// before sipgo for what its transaction layer cannot take (sipmsg.EarlyReject: no usable Via or
// CSeq). A response from a next hop missing one, or with one that does not parse, is dropped
// (badResponse). A panic in any handler, call controller (core/callsip), sipgo callback or fast-path entry
// (sipfast.Engine.Take, Tick) is recovered at that boundary, answered 500 with Retry-After where an
// answer is owed, and counted (recover.go, core/safe).
package signal
