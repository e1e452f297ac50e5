// Package signal is Herald's SIP layer on sipgo: it receives the caller's INVITE as an application
// server on the originating side, executes the call's plan (core/call) and stays in the path of the
// dialog through Record-Route. The Record-Route names the transport and listening port of each leg:
// one entry when the INVITE leaves over the transport it came in on, two (RFC 5658) when it does not,
// so that in-dialog requests come back over the transport of the leg they come from (route.go).
//
// Per call, the goroutine sipgo starts for the INVITE is the call's controller: it owns the call's
// state and is the only goroutine that changes it. What the call does next is decided by its state
// machine (core/call's Call: events in, actions out, no I/O); the controller only translates what
// arrives into events and performs the actions (callact.go), and it closes a push session only when
// the machine says so. The MSRP plane's reports (a terminal bound to a push session, the page's
// outcome: push.Session's Bound and Done) reach the call as the machine's events. Other handlers (PRACK and UPDATE on Herald's own
// early dialog) and helper goroutines (the UPDATE client transaction) post events to the controller
// and never touch its state. The controller returns only after the INVITE has its final response, every
// push session of the call has ended and every helper goroutine has exited; the call table entry is
// removed last.
//
// The pushes go only to terminals known to take them (capability.go): ordinary phones fail a call
// whose INVITE carries an early-session part, and refuse an UPDATE offering m=message. Knowledge is
// provisioned (profile.Profile.PushCapable), learned (profile.CapCache) or, for the caller, said in
// its INVITE; every other terminal gets the card as a Call-Info link (RFC 3261 §20.9) only.
//
// What goes on the wire (the README's "Wire contract per claim" has it claim by claim):
//
//   - forwarded INVITE: a Call-Info link to the caller card; to a callee known to take it, also the
//     caller's SDP untouched as the session part of a multipart/mixed body, plus an
//     early-session;handling=optional SDP part with Herald's m=message push offer (claims 1, 3);
//   - 18x/2xx from the callee: relayed with any early-session part removed (RFC 3959);
//   - Herald's own early dialog with the caller (own To-tag): a reliable 183 (RFC 3262: Require: 100rel,
//     RSeq, retransmitted on T1 doubling until PRACK, abandoned at 64*T1), then an UPDATE (RFC 3311)
//     adding the callee card's m=message offer (claims 1, 4, 5, 7) to a caller known to take it; to
//     any other caller, and after a refused UPDATE, a 183 with a Call-Info link to the callee card;
//   - on the callee's 2xx: 199 on Herald's early dialog when the caller supports it (RFC 6228), push
//     sessions closed, 2xx relayed; ACK, BYE and other in-dialog requests are proxied by Route.
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
// (badResponse). A panic in any handler, call controller, sipgo callback or fast-path entry
// (sipfast.Engine.Take, Tick) is recovered at that boundary, answered 500 with Retry-After where an
// answer is owed, and counted (recover.go, core/safe).
package signal
