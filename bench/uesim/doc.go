// Package uesim simulates IMS terminals for Herald's demo, end-to-end tests and load tests.
//
// The simulators speak real SIP over UDP (sipgo v1.7.3, using the low-level sip package and
// Client/Server transactions rather than DialogUA) and real MSRP over TCP (framing by core/msrp).
// The wire contract is the README's "Wire contract per claim":
//
//	Caller ──INVITE──▶ Herald ──INVITE (+early-session part)──▶ Callee (S-CSCF + terminal in one UA)
//	       ◀─183 (Herald's own To-tag, 100rel)                   ◀─183 multipart (callee To-tag, 100rel)
//	       ──PRACK──▶                                            ──PRACK──▶
//	       ◀─UPDATE m=message sendonly (callee card)             callee ──TCP──▶ Herald MSRP: bodiless SEND,
//	       ──200 (m=message recvonly)──▶                                 chunks, 200s, success REPORT
//	caller ──TCP──▶ Herald MSRP: bodiless SEND, chunks, REPORT
//	       ◀─200 OK (callee To-tag) ── ACK ── (hold) ── BYE/200
//
// A [Callee] listens on one UDP socket and answers every INVITE it receives: with an early-session
// offer in the body it answers a reliable 183 carrying an early-session answer, binds to Herald's
// MSRP address (CEMA: the c=/m= address), fetches and verifies the caller card, then answers 200
// after the ring time. Without one it answers 180 then 200.
//
// A [Caller] places one call per [Caller.Call]: it PRACKs every reliable provisional in the early
// dialog it belongs to (dialogs are keyed by To-tag, the forking model), answers Herald's UPDATE
// with an SDP answer to every m-line, fetches the callee card over MSRP, ACKs the 200, holds and
// hangs up.
//
// Each simulator listens on UDP and TCP at the same 127.0.0.1 port (RFC 3261 §18): Herald's
// forwarded INVITE with an early-session part is larger than 1300 bytes and arrives over TCP, and
// the Caller itself switches to TCP for such requests (§18.1.1; sipgo refuses them over UDP).
//
// Both record every SIP message they send and receive (with the raw bytes) for assertions, and
// report a readable step trace (received messages carry the datagram as read; over TCP, where a
// read need not hold exactly one message, the re-serialised message is kept instead when the
// bytes cannot be matched) through a [Trace] hook. Nothing here writes to stdout; logs go to
// the *slog.Logger passed in the options.
//
// For load generation (bench/loadgen) both take Transport "tcp" (every request over TCP, Contact
// ;transport=tcp) and NoRecord (no per-call message record); a Callee with Forget drops each call
// once it is over, after handing it to OnDone, so that its memory stays bounded.
//
// Concurrency: a Callee serves many calls at once; a Caller may run several Calls concurrently.
// All exported accessors are safe for concurrent use.
package uesim
