// Package msrp is Herald's MSRP plane: a gnet v2 server that implements [push.Plane],
// [push.AcceptSetter] and [push.Connector]. Terminals connect to it (Herald passive, the default: the
// terminal answered a=setup:active or actpass) and send the acquisition request — a bodiless SEND whose
// To-Path carries the session-id of an a=path Herald advertised — and receive the page. When the terminal
// answered a=setup:passive, Connect makes Herald the active party (RFC 6135): it dials the terminal and
// sends the binding SEND itself, over TCP or, for a session offered as msrps, over TLS (Herald is then
// the TLS client and verifies the terminal's certificate: Options.TLSClientConfig, or, when the
// terminal's answer carried a=fingerprint, ConnectFingerprint checks the certificate against those
// instead, RFC 8122 §5).
//
// Wire behaviour (RFC 4975; the README's "Wire contract per claim"):
//
//   - Sessions are matched by session-id only (RFC 6714 CEMA): the session-id of the last To-Path URI.
//     Unknown, expired or finished session → 481. A session binds to exactly one connection: a second
//     connection for it → 506 "session already bound" (RFC 4975 §10), and a bind for another session on
//     a bound connection → 403. A Forkable session (an offer in a request a proxy forks: the caller
//     card in the INVITE) also binds the terminals of the other forked early dialogs, up to
//     MaxForkBinds in all, each to its own transfer of the page; only the first binding's result is
//     reported, and the session stays open until Close or its bind deadline (fork.go).
//   - The bind is answered 200 (To-Path = the first URI of the request's From-Path, i.e. the previous
//     hop; From-Path = Herald's URI, the last of the To-Path), then the page variant chosen by
//     content.Page.Variant(accept) is sent as SEND chunks of at most ChunkSize body bytes: one Message-ID,
//     a new transaction id per chunk, exact Byte-Range, Success-Report: yes, Failure-Report: yes,
//     Content-Disposition: render, Content-Type. The chunks' To-Path is the request's whole From-Path,
//     which is the reversed route through any RFC 4976 relays (nearest hop first); tested through
//     Kamailio's msrp relay module.
//   - Content negotiation: accept is Session.Accept, replaced by SetAccept when the terminal's SDP answer
//     (which carries a=accept-types) arrives after Open and before the bind. The offer always describes
//     the HTML page (file-selector type:text/html and the HTML size); a pre-compressed variant
//     (application/zstd, then application/gzip) is sent only when accept lists that type by name ("*"
//     does not count), and the SEND's Content-Type says which.
//   - Sessions opened with Secure are msrps: PathURI is msrps://host:tlsport/id;tcp and they bind only on
//     the TLS listener; plain sessions bind only over TCP (otherwise 481). Connect likewise dials an
//     msrps:// terminal path only for a Secure session, over TLS, and an msrp:// one only for a plain
//     session (otherwise ErrBadPeer).
//   - 200 responses to chunks are progress; any other response fails the session with its code. A REPORT
//     with Status 000 200 covering 1-N/N delivers it; an error REPORT fails it; a REPORT for another
//     Message-ID is counted and ignored. REPORTs are never answered.
//   - Malformed frame: 400 if its transaction id is known, then the connection ends; header or chunk
//     over MaxHeaderBytes/MaxChunkBytes: 413, then the connection ends. Unknown methods: 501.
//   - Close(id) during a transfer writes one more chunk, cut short and ended with '#' (RFC 4975 §7.1),
//     reports Aborted and ends the connection; for a Forkable session, on every connection bound to it.
//
// After the success REPORT for the whole page, when Herald has read everything the terminal sent and
// has nothing left to send, it closes at once (no reset is possible then). Every other end is a lingering
// close: Herald stops handling frames but goes on reading and discarding the terminal's input, half-closes
// (SHUT_WR) once the connection's outbound buffer is flushed, and waits for the terminal to close. While
// the terminal still takes the bytes queued toward it (Herald's buffer plus the socket's send queue,
// SIOCOUTQ), an abort's '#' chunk last, the wait is extended by 2 s at a time, up to LingerMax
// (msrp.linger_max) after the end; Herald closes it once the terminal has taken nothing for 2 s, or at
// LingerMax (Stats Linger*: closed by the peer, flushed, stalled, capped). Closing earlier would turn
// the terminal's next 200s into a reset from Herald's kernel, which destroys what was still queued,
// the '#' with it. TCP_NOTSENT_LOWAT (32 KiB) keeps the socket's unsent bytes, ahead of such a '#',
// bounded: without it Linux lets them grow with the send buffer to hundreds of KB on a thin link.
//
// # Data path
//
// OnTraffic parses every complete frame of Peek(-1) with core/msrp's Parser (connState.input, shared by
// both transports) and then Discards them; the parsed Message aliases gnet's buffer and nothing of it
// outlives the call (paths that must stay are copied). input returns the bytes it consumed, 0 meaning
// "need more"; the transport drops exactly those and keeps the rest, an unfinished frame, for the next
// call (gnet: Discard(n) only for n > 0, since gnet's Discard(0) empties the buffer; the stream
// transport: the tail is moved to the front of its read buffer). So a frame may arrive in any number of
// reads, or many frames in one (split_test.go; FuzzPlane segments arbitrary inputs). The responses of one OnTraffic lead the first
// writev of page chunks (so the bind's 200 and the first chunks share a segment), or go out in one Write
// when there are no chunks to write. Page chunks are written with Writev as [head, page sub-slice,
// end-line], up to 16 chunks per writev: the cached page is never copied by Herald (gnet copies only what
// the socket does not take at once into the connection's outbound buffer). When nothing is queued Herald
// makes the writev system call itself with the pooled batch's iovec array (gnetWire.writev), because
// gnet's Writev goes through x/sys/unix.Writev, which allocates an iovec slice per call; the rest of a
// partial write, and any error, go to gnet's Writev as before. Chunk transaction ids and the Message-ID
// come from a pooled msrp.IDSource (one getrandom per ~15 ids).
//
// Each event loop has its own listening socket (SO_REUSEPORT): a loop accepts its own connections, with
// no accepting reactor handing them over through eventfd wake-ups.
//
// Backpressure: chunks are written only while the outbound backlog is below MaxOutbound, and never more
// than the room left, so a connection's backlog stays under MaxOutbound plus one chunk frame (Stats
// MaxOutboundQueued). A paused transfer resumes within one tick (1–10 ms), when the timer goroutine wakes
// it (Conn.Wake).
//
// # Transports
//
// gnet connections (wireless terminals connecting to Herald) are the fast path. Two kinds of connection
// use a goroutine each instead, with the same connState logic behind the wire interface (stream.go):
// msrps connections from the crypto/tls listener (Options.TLSListen; gnet has no TLS), and connections
// Herald dials for Connect (at most MaxDials dialling at once; over TLS for msrps sessions, handshaken
// before they reach the same handler as accepted msrps connections). Their writes are synchronous with a
// deadline, so a slow reader blocks its own goroutine and never grows a buffer; the owner of the state is
// whoever holds the connection's mutex.
//
// # Timers and concurrency
//
// One goroutine serves all timers through a hashed timing wheel with intrusive nodes (timers.go): bind,
// transfer, idle and linger deadlines of connections and the bind deadlines of sessions. Work per wake-up
// is O(due), an idle plane wakes once per granularity (≤ 250 ms), and while a connection is paused it
// wakes every tick. It touches connections only through Conn.Wake and EventLoop().Execute (queue a
// timeout check that the loop re-validates). There is no goroutine per gnet connection.
//
// Ownership: a connection's state (connState) is changed only by its owner (event loop, or the holder
// of a stream connection's mutex). The session table is sharded with one mutex per shard; an entry's mu
// guards its bindings. The result of a session is reported exactly once (an atomic CAS) on its buffered
// Done channel. Every mutex in the package is a leaf except a stream connection's, under which only leaf
// mutexes are taken.
//
// Recovery net (recover.go, core/safe): a panic in a gnet callback, a runnable on a connection's owner,
// a stream connection's reader, the timer goroutine or a dial goroutine is recovered at that boundary,
// counted in herald_panics_total{plane="msrp"} and logged with its stack; the connection's session fails
// (push.Failed) and that connection is closed, the plane goes on serving.
//
// Limits: MaxConns and MaxConnsPerIP are enforced in OnOpen and in the msrps acceptor (refused and
// counted), MaxSessions in Open, MaxDials in Connect. gnet shuts its engine down when accept fails
// (EMFILE); the server then restarts the engine on the same port with bounded backoff (Stats
// EngineRestarts). The msrps acceptor backs off and continues (Stats AcceptErrors).
//
// # Metrics
//
// Collectors returns the Prometheus collectors (namespace herald, subsystem msrp), which read the same
// counters as Stats: connections_open, connections_accepted_total, connections_refused_total,
// sessions_open, binds_total{result}, bind_timeouts_total, idle_timeouts_total, linger_closes_total{by},
// deliveries_total{outcome}, forked_deliveries_total, sent_bytes_total, received_bytes_total,
// frames_rejected_total{reason}, reports_unknown_total,
// outbound_pauses_total, outbound_max_queued_bytes, engine_restarts_total, dials_total{result},
// tls_handshake_failures_total, accept_errors_total.
//
// Interop notes: Wireshark 4.0's MSRP dissector decodes only the first MSRP frame of each TCP segment,
// so Herald's batched writes show one MSRP frame per packet (tshark_test.go checks what it can).
package msrp
