// Package msrp is Herald's MSRP plane: a gnet v2 server that implements [push.Plane]. Terminals connect
// to it (Herald is passive, a=setup:actpass answered active), send the acquisition request — a bodiless
// SEND whose To-Path carries the session-id of an a=path Herald advertised — and receive the page.
//
// Wire behaviour (RFC 4975; DESIGN.md "Wire contract", STANDARDS.md §9.3):
//
//   - Sessions are matched by session-id only (RFC 6714 CEMA): the session-id of the last To-Path URI.
//     Unknown, expired or finished session → 481. A session binds to exactly one connection: a second
//     connection for it → 403 "session already bound" (RFC 4975 §10 also defines 506 for this case;
//     Herald answers 403 as its contract says), and a bind for another session on a bound connection → 403.
//   - The bind is answered 200 (To-Path = the terminal's From-Path, From-Path = the request's To-Path),
//     then the page variant chosen by content.Page.Variant(Session.Accept) is sent as SEND chunks of at
//     most ChunkSize body bytes: one Message-ID, a new transaction id per chunk, exact Byte-Range,
//     Success-Report: yes, Failure-Report: yes, Content-Disposition: render, Content-Type.
//   - 200 responses to chunks are progress; any other response fails the session with its code. A REPORT
//     with Status 000 200 covering 1-N/N delivers it; an error REPORT fails it; a REPORT for another
//     Message-ID is counted and ignored. REPORTs are never answered.
//   - Malformed frame: 400 if its transaction id is known, then the connection ends; header or chunk
//     over MaxHeaderBytes/MaxChunkBytes: 413, then the connection ends. Unknown methods: 501.
//   - Close(id) during a transfer writes one more chunk, cut short and ended with '#' (RFC 4975 §7.1),
//     reports Aborted and ends the connection.
//
// Herald ends a connection by lingering: it stops reading frames, half-closes (SHUT_WR) once gnet has
// flushed the connection's outbound buffer, and closes when the terminal closes or after 2 s. Closing at
// once could turn the last frames into a reset when the terminal's responses are still unread.
//
// # Data path
//
// OnTraffic parses every complete frame with Peek(-1), core/msrp's Parser and Discard; the parsed
// Message aliases gnet's buffer and nothing of it outlives the call (paths that must stay are copied).
// Responses of one OnTraffic go out in one Write. Page chunks are written with Writev as [head, page
// sub-slice, end-line], up to 16 chunks per writev: the cached page is never copied by Herald (gnet
// copies only what the socket does not take at once into the connection's outbound buffer).
//
// Backpressure: chunks are written only while Conn.OutboundBuffered() is below MaxOutbound, and never
// more than the room left, so a connection's backlog stays under MaxOutbound plus one chunk frame (Stats
// MaxOutboundQueued). A paused transfer resumes on the next tick, when the ticker wakes it (Conn.Wake).
//
// # Timers and concurrency
//
// One timer serves all connections: gnet's ticker goroutine calls OnTick every few milliseconds. OnTick
// does not run on an event loop, so it touches connections only through Conn.Wake (resume paused
// writers) and EventLoop().Execute (queue a timeout check the loop re-validates). It also expires
// sessions never bound (TimedOut) and shuts the engine down after Stop. There is no goroutine per
// connection.
//
// Ownership: a connection's state (connState) is changed only on its event loop. The session table is
// sharded with one mutex per shard; an entry's mu guards its binding. The result of a session is
// reported exactly once (an atomic CAS) on its buffered Done channel. Every mutex in the package is a
// leaf: none is held while taking another.
//
// Limits: MaxConns and MaxConnsPerIP are enforced in OnOpen (refused and counted), MaxSessions in Open.
// gnet shuts its engine down when accept fails (EMFILE); the server then restarts the engine on the same
// port with bounded backoff (Stats EngineRestarts).
//
// # Metrics
//
// Collectors returns the Prometheus collectors (namespace herald, subsystem msrp), which read the same
// counters as Stats: connections_open, connections_accepted_total, connections_refused_total,
// sessions_open, binds_total{result}, bind_timeouts_total, idle_timeouts_total,
// deliveries_total{outcome}, sent_bytes_total, frames_rejected_total{reason}, reports_unknown_total,
// outbound_pauses_total, outbound_max_queued_bytes, engine_restarts_total.
//
// Not supported yet: msrps (TLS; gnet has none, it needs a crypto/tls listener feeding the same session
// logic), MSRP relays (paths are echoed, not reversed hop by hop), and terminals that are active in the
// other direction (Herald never dials out).
package msrp
