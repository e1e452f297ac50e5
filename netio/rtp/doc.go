// Package rtp is Herald's RTP plane: it plays pre-framed ringback clips (core/media) to thousands of
// callers at once with broadcast-grade pacing and no goroutine per stream.
//
// # Model
//
// A [Plane] owns a port allocator and Options.Shards timing wheels (about one per core). Each wheel is
// one goroutine with 256 slots of 1 ms. A stream sits in the slot of its next due time, computed from
// the plane's monotonic base and the clip's timestamp offsets (due = start + ticks/clock), so pacing
// never drifts and a late slot catches up instead of dropping packets. Each slot collects every due
// packet of its streams, writes each stream's 12-byte RTP header into a per-shard scratch entry, and
// sends the lot with sendmmsg(2): two iovecs per datagram, the header and the shared clip payload, so
// a payload is never copied. The wheel then sleeps until the next slot. Symmetric-RTP latching reads
// are non-blocking probes of a stream's sockets every 200 ms until they latch, not an epoll set
// (registering every socket with epoll costs a wake-up callback per sent datagram; see shard.probe).
//
// Every stream has its own RTP/RTCP port pair (the port in the SDP answer, and the port the caller's
// NAT expects packets from): an unconnected receiving socket on each, and for RTP a second socket
// bound to the same port (SO_REUSEPORT) and connected to the caller, which sends. A connected socket
// keeps its route, so no route lookup or IP-ID hashing per datagram; datagrams from anyone but the
// connected peer still land on the receiving socket for latching, and a latch reconnects the sender.
// The kernel takes one sendmmsg per socket: the batch of a slot is one syscall per stream for audio,
// one per video frame burst. Sharing one socket between streams would make the batch a single syscall
// but breaks symmetric RTP behind NAT; see bench/results/history/rtp-ringback.md. A stream holds three
// descriptors.
//
// With Options.CPUs set, shard i locks its goroutine to an OS thread pinned to CPUs[i % len] (via
// netio/cpu) for as long as it runs, and gives the thread its old mask back before unlocking on exit.
//
// # Wire behaviour
//
//   - Random SSRC, sequence number and timestamp starts; sequence +1 and timestamp + the clip's
//     frame step per packet; the clip loops with continuous timestamps (loop k adds k × clip length).
//   - Marker bit on the stream's first packet for audio, plus whatever the payload format asks
//     (last packet of each H.264 access unit, first AMR-WB packet after a NO_DATA gap).
//   - RTCP: an SR + SDES CNAME compound (RFC 3550 §6.1) every Options.RTCPInterval (5 s).
//   - Symmetric RTP (RFC 4961 behaviour): RTP goes to the SDP address until the first RTP packet
//     arrives on the stream's socket, then (within 200 ms) to that packet's source; RTCP likewise
//     on port+1 (within 1 s), or to the RTP source's port + 1 until RTCP arrives.
//   - Options.MaxDuration bounds every stream; [Stream.Err] then reports [ErrMaxDuration].
//
// # API and ownership
//
// The call side calls [Plane.Allocate] before sending its 183 (the port goes in the SDP answer),
// [Stream.Play] after PRACK, and [Stream.Stop] on 200/486/CANCEL. Stop returns once the stream's
// sockets are closed, at the shard's next 1 ms slot, so at most one packet leaves after Stop is
// called. A stream's sending state is owned by its shard; callers talk to it through the shard's
// inbox (a mutex-guarded slice drained at every slot). Lock order: Stream.mu, then shard.mu; the
// shard never holds shard.mu while calling out.
//
// Recovery net (core/safe): a panic in one stream's tick stops that stream ([ErrInternal], its queued
// datagrams dropped, its ports freed) and the slot goes on with the others; a panic elsewhere in a
// shard's turn drops the turn's queued datagrams and the wheel goes on. Both are counted in
// herald_panics_total{plane="rtp"} and logged with their stack.
//
// # Metrics
//
// [Plane.Collectors] exports herald_rtp_* (see metrics.go); [Plane.Stats] gives the same counters and
// the lateness quantiles in code.
//
// The package is Linux only (sendmmsg, epoll); elsewhere [New] returns [ErrUnsupported].
package rtp
