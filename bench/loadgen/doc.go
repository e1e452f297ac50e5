// Package loadgen is Herald's whole-push-call load generator: simulated IMS terminals (package
// bench/uesim) placing calls through Herald at an open-loop rate, with every part of the push call
// checked and timed, and the figures a perf engineer needs per step. Command loadgen
// (cmd/loadgen) is its CLI; bench/run drives it.
//
// Two sets of terminals (Options.Terminals): uesim's Caller and Callee on sipgo (the default: every
// mix kind, UDP or TCP) and uesim's Lean pair (raw UDP without sipgo, mixes plain, caller and both),
// which costs less and keeps its schedule at rates where the sipgo terminals fall behind: the push
// rate figures use it.
//
// # What a call is
//
// A caller terminal sends INVITE to Herald (UDP or TCP, Options.Transport); Herald forwards it to
// the generator's callee side, its next hop (one UA on UDP and TCP at one port). Depending on the
// call's mix kind (the subscribers WriteHeraldConfig provisions, CallerURI/CalleeURI):
//
//	plain     Herald proxies: 18x (100rel, PRACKed), 200, ACK, BYE
//	caller    + the INVITE carries the caller card's early-session offer (RFC 3959); the callee
//	            answers it in a reliable 183, PRACKs, opens MSRP to Herald (RFC 4975, CEMA RFC
//	            6714), sends the bodiless acquisition SEND, receives the page's chunks, checks size
//	            and SHA-1 against the offer's a=file-selector (RFC 5547 §5) and sends the success
//	            REPORT (RFC 4975 §7.1.2); it answers only once the page is in (or Hold is over,
//	            whichever is later)
//	both      + Herald's UPDATE offers the callee card (RFC 3311); the caller answers it and
//	            fetches and checks that page the same way
//	ringback  + Herald's own early dialog (reliable 183, P-Early-Media sendonly, RFC 5009) plays
//	            ringback RTP to the caller's offered port, where the generator receives it
//
// The callee answers Hold after its 18x; the caller ACKs, waits Talk, sends BYE.
//
// # Schedule
//
// Open loop: call n of a step is due when the integral of the rate reaches n (linear during the
// Ramp that precedes each step, flat during the Step), and starts then on its own goroutine,
// whatever earlier calls are doing. A start behind schedule is measured (sched_lag_ms), never
// absorbed by slowing the schedule; a call due while MaxInFlight calls are in progress is not
// made and fails as gen_overload (bounded memory). Only calls started in a step's steady window
// count in it; calls of the ramps are made and tallied apart (Result.Ramp). A step's figures are final once its
// last call ended (each call is bounded by Hold+Talk+CallTimeout, fetches by FetchTimeout).
//
// # Figures (Step, JSON keys in parentheses)
//
//   - attempted, completed, failed{cause}: calls started in the window; completed means every
//     check of its kind passed; failed holds one cause per failed call (below).
//   - achieved_cps: attempted / the window's length.
//   - setup_ms: INVITE sent to 200 OK received, answered calls only; it holds the Hold (ringing
//     time): subtract hold_s for Herald's part. pdd_ms: INVITE to the first 18x (post-dial delay).
//   - page_ms: one sample per fetched page (caller card at the callee, callee card at the
//     caller): from writing the acquisition SEND to writing the success REPORT (to the last
//     chunk when the sender asked for none).
//   - sched_lag_ms: how late calls started against the schedule (the generator's own health).
//   - rtp: the ringback streams of the window's answered ringback calls: expected (highest minus
//     lowest extended sequence number + 1, RFC 3550 §A.3), received (unique packets), lost
//     (expected − received: gaps; a loss after the last packet received is invisible, as in RTCP),
//     late (packets arriving more than Options.LateAfter, default 40 ms, after their due time:
//     the first packet's arrival plus the RTP timestamp difference at the payload clock),
//     late_p99_ms (p99 of every packet's lateness, early counting as 0), duplicates.
//   - herald (with -pid): cpu_ms_per_call (utime+stime from /proc/PID/stat over the window / attempted),
//     cpu_util (cores busy), rss_peak_mb (highest 1/s VmRSS sample in the window), rss_end_mb,
//     fds_end (/proc/PID/fd), goroutines_end (with -varz: a "goroutines" key of /varz, or
//     go_goroutines of /metrics).
//   - gen: the generator's own CPU (getrusage(RUSAGE_SELF)) per attempted call and in cores, to
//     show it was not the bottleneck.
//   - kernel: deltas over the window of Udp RcvbufErrors and SndbufErrors (/proc/net/snmp) and
//     TcpExt ListenDrops (/proc/net/netstat), for the whole network namespace.
//   - clean: every call completed and the kernel dropped nothing.
//
// Samples (Result.Samples), every second of the run: Herald's RSS, descriptors and goroutines,
// calls started in that second and calls in flight. A soak (Options.Soak) is one long step with
// the same samples.
//
// # Causes
//
// A failed call has exactly one cause, the first that applies in this order:
//
//	gen_overload     not made: MaxInFlight calls were in progress (the generator's limit)
//	timeout          no final response within Hold+CallTimeout (the call is then cancelled)
//	transport        the INVITE could not be sent: connection refused, send error
//	sip_3xx … sip_6xx  the INVITE's final response was of that class (Herald's or the callee's)
//	page_mismatch    a page's bytes differ from its a=file-selector size or SHA-1
//	page_incomplete  a page transfer started but never completed, so no REPORT was sent:
//	                 stalled until FetchTimeout, connection closed, aborted ('#'), or offered
//	                 to the callee but not fetched by the time it answered
//	msrp_error       the MSRP connection was refused or the acquisition SEND got a non-200
//	no_push          the kind expects a page offer (early-session part, UPDATE m=message) and
//	                 none came (e.g. Herald fell back to Call-Info or proxied plainly)
//	no_ringback      a ringback call got no early-media dialog from Herald, or no RTP from it
//	callee_error     the callee side failed (no PRACK, no ACK, never saw the call, its report
//	                 never came)
//	protocol         anything else the terminals could not follow (BYE refused, send errors)
//
// RTP loss and lateness are measured, not failures: a ringback call with one lost packet
// completes, and the loss shows in rtp.lost.
//
// # Cost
//
// One goroutine per call in progress (plus sipgo's per message; with the lean terminals, none per
// message: one reader per socket and a timer per retransmitted message), one goroutine for all RTP
// (recvmmsg batches of 64, per-stream state found by source address: no goroutine or timer per
// packet), one scheduler, one sampler. Nothing is kept per call once it ended (uesim NoRecord,
// Callee.Forget); streams and callee reports nobody claims are swept. The generator's CPU per
// call is in every step's gen figure; see README.md for measured values.
package loadgen
