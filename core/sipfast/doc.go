// Package sipfast is Herald's fast path as an I/O-free SIP engine: a transaction-stateful,
// record-routing proxy (RFC 3261 §16) for plain calls over UDP — an INVITE with its CANCEL and ACK,
// and the in-dialog BYE and INFO — that works on datagrams as bytes. It also carries the two
// transactions of Herald's own early dialog with the caller of a call with cards (own.go): the
// caller's PRACK for Herald's reliable 183 (a server transaction the host's call answers,
// AnswerOwn) and Herald's UPDATE with the callee card (a client transaction, Originate); and the
// client transaction of the INVITE such a call forwards (hostinvite.go, ForwardInvite: the call's
// controller builds the request and reads each response, the engine sends, retransmits, ACKs a
// non-2xx and cancels, with no server side of its own). It opens no socket, parses
// nothing with sipgo, starts no goroutine per message and no runtime timer per transaction; the
// proxy around it (core/signal) hands it each datagram read (Engine.Take), gives it the sockets to
// answer and forward from (Conn), and answers its questions (Host: who the proxy is, whom it trusts,
// which calls are plain, the admission of calls on both paths, and what only a full parser can do).
//
// # One datagram, one verdict
//
// Take returns, and counts by reason (Stats.Verdicts, verdict.go), one verdict per datagram: Fast
// (the engine forwarded, relayed, answered or absorbed it), Drop (discarded, as the general path
// would), or General (the host's general path gets it and parses it again). The reasons form a
// bounded set. Anything the scanner (msg.go) or the checks below do not accept as ordinary is
// General: calls with a card or a ringback (Host.Plain), TCP and TLS on either side, names that need
// NAPTR/SRV (RFC 3263 §4.1), an INVITE that would outgrow UDP (RFC 3261 §18.1.1), untrusted peers,
// Max-Forwards 1 or absent (§16.3 step 3), Proxy-Require (§16.3 step 5), a Call-ID in progress,
// malformed messages. The decision is made from a message's own content, so a retransmission
// takes the way of its original.
//
// # Scanner and rewriting
//
// The scanner (msg.go, uri.go) indexes the start line and the header lines in one pass without
// copying, up to maxHeaderLines (512) lines, the first 64 inside the scanned message on the reader's
// stack (a longer message allocates the rest of its index). It is strict: a message it accepts is one the general path reads alike (FuzzFastScan
// holds it to that). Forwarding (route.go, RFC 3261 §16.4-16.6) pops the proxy's own Routes (loose
// routing, §16.4), picks the next hop (the next Route, the configured next hop, or the Request-URI),
// puts the proxy's Via and, for an INVITE, Record-Route on top, decrements Max-Forwards, fills
// received and rport (RFC 3581), and copies everything else byte for byte. Names with an explicit
// port are resolved by A/AAAA alone (RFC 3263 §4.2) from a cache filled in the background
// (dns.go, Config.Lookup); the first requests for a name take the general path meanwhile.
//
// # Transactions and timers
//
// One table keyed by the upstream branch and sent-by (RFC 3261 §17.2.3) holds each transaction
// as one object (Tx): the server transaction toward the caller and the client transaction toward
// the next hop. Its branch toward the next hop is BranchPrefix and the transaction's id, so a
// response finds it by id (§17.1.3). The timers are RFC 3261's, each transaction linked once into a
// timing wheel (core/wheel) at its earliest deadline (timers.go):
//
//   - client INVITE (§17.1.1.2): Timer A retransmits from T1, doubling; Timer B ends it at 64·T1
//     with 408 upstream; a provisional stops both; a non-2xx final is ACKed hop by hop (§17.1.1.3),
//     again for each retransmission of it;
//   - client non-INVITE (§17.1.2.2): Timer E from T1 doubling to T2 (T2 at once after a
//     provisional), Timer F at 64·T1;
//   - server INVITE (§17.2.1): 100 Trying after 200 ms unless something went upstream; a
//     retransmitted INVITE gets the last response again; a non-2xx final is retransmitted on Timer G
//     (T1 doubling to T2) until the ACK, and kept until Timer H (64·T1); a 2xx ends the transaction
//     in RFC 6026's accepted state, which relays every 2xx and absorbs INVITE retransmissions for
//     64·T1; the caller's ACK for the 2xx is forwarded statelessly (§16.11); a 2xx without a
//     transaction is relayed statelessly (§16.7 step 5), through Config.Stray2xx when set;
//   - server non-INVITE (§17.2.2): the final answers retransmissions until Timer J (64·T1);
//   - proxy (§16.6 step 11, §16.7 step 2, §16.8): Timer C from the forwarding, restarted by each
//     provisional; when it fires, 408 upstream and CANCEL downstream;
//   - CANCEL (§9.1, §16.10): 200 and 487 upstream at once; Herald's CANCEL downstream only once a
//     provisional came (the INVITE keeps its Timer A until then), retransmitted until its final;
//     a 2xx that crosses it (§15) goes to the host (Host.Late2xx), which ACKs and BYEs it.
//
// Every instant is read from Config.Clock. With a *wheel.Manual the engine runs no ticker: the
// owner steps the clock and calls Tick, and a timer fires exactly at the step the test chooses
// (timers_test.go's tables). Otherwise one goroutine calls Tick every T1/4 (at most 10 ms).
//
// A finished transaction is kept 64·T1 to absorb retransmissions, so the table follows the call
// rate. An INVITE answered 2xx and a BYE or INFO answered are kept as compact records of bytes in a
// pointer-free arena that expires oldest first (retained.go), not as Tx. The table is bounded at
// MaxTxFactor × Host.MaxCalls transactions, beyond which new requests are answered 503 without
// state (RFC 3261 §21.5.4).
//
// # Faults
//
// Take and Tick are recovery boundaries: a panic is reported to Host.Recovered, the lock released
// if the panicking code held it, and a request other than ACK answered 500 with Retry-After
// statelessly (verdict fast, reason fault). Engine.Faults are the test-only injection points.
package sipfast
