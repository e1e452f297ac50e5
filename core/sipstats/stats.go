// Package sipstats holds the SIP plane's counters (Stats: the general path's, the fast path's
// core/sipfast.Stats, the capability gate's) and their one declaration as metrics: Snapshot is the
// /varz object, and its metric tags (core/stats reads them) name every Prometheus counter and gauge
// of the plane (namespace herald, subsystem sip). The call-setup histograms (Hists) are exported
// beside them.
package sipstats

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/overload"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/sipfast"
)

// Stats are counters of the SIP layer.
type Stats struct {
	Invites, CallsDone, Forwarded, CallerCards, CalleeCards, Rejected403, Rejected483, Rejected503,
	BadBodies, ReliableRetransmits, PrackTimeouts, Cancels, UDPToTCP, CallInfoLinks, Ringbacks,
	RingbackNoCodec, Panics atomic.Uint64
	// BadRequests counts requests answered 400 (or 505) before any handler: a mandatory header
	// missing or not parsing, a repeated single-value header, ... (core/sipmsg.CheckRequest).
	BadRequests atomic.Uint64
	// BadResponses counts responses from a next hop dropped because a mandatory header was missing
	// or did not parse (RFC 3261 §18.1.2, core/signal's badResponse).
	BadResponses atomic.Uint64
	// RingbackNoPort counts ringback m-lines answered with port 0 because the RTP plane could not
	// allocate a stream (port range exhausted, descriptor limit): the call goes on without that
	// line's ringback.
	RingbackNoPort atomic.Uint64
	// RingbackYielded counts ringbacks stopped because the callee's network authorised its own
	// early media toward the caller (P-Early-Media, RFC 5009).
	RingbackYielded atomic.Uint64
	// TCPRefusedUDP counts requests (forwarded INVITEs, Herald's UPDATEs) sent over UDP, whole, after
	// the TCP attempt RFC 3261 §18.1.1 asked for (their size) failed: a peer that speaks only UDP.
	TCPRefusedUDP atomic.Uint64
	// ForwardErrors counts requests that could not be sent toward their next hop: DNS, connect, TLS
	// handshake or certificate verification failed. INVITEs and in-dialog requests are answered 503.
	ForwardErrors atomic.Uint64
	// DrainAborted counts the calls a drain ended while they rang (AbortCalls, both paths): 487 to
	// the caller, CANCEL to the callee.
	DrainAborted atomic.Uint64
	// PushLateBinds counts terminals that bound to a push session after the call had closed it (the
	// answer, the CANCEL, a refused UPDATE raced the binding): the binding was ended. PushFailed
	// counts pushes the terminal or the network ended undelivered (failure REPORT or response,
	// timeout, disconnect).
	PushLateBinds, PushFailed atomic.Uint64
	// Fast are the fast path's counters (plain calls over UDP, core/sipfast).
	Fast sipfast.Stats
	// Capability counts the gate on early-dialog pushes (core/signal's capability.go).
	Capability CapabilityStats
}

// CapabilityStats count the gate's decisions and lessons.
type CapabilityStats struct {
	// CallerCardCallInfo counts caller cards sent as Call-Info only (the callee's terminal was not
	// known to take the early-session part); CallerCardProbes those sent to an unknown callee with
	// probing on.
	CallerCardCallInfo, CallerCardProbes atomic.Uint64
	// Resent counts INVITEs sent again without the early-session part after the callee refused the
	// one with it (a non-2xx final before any 18x or 2xx).
	Resent atomic.Uint64
	// CalleeCardCallInfo counts callee cards offered as Call-Info on a provisional because the caller
	// was not known to take the UPDATE; UpdateRefused the UPDATEs the caller refused (any non-2xx, a
	// timeout, or m=message declined), each followed by the Call-Info fallback.
	CalleeCardCallInfo, UpdateRefused atomic.Uint64
}

// Snapshot is the SIP plane's /varz object, read from the live counters (Stats, the fast path's,
// the UDP readers', the capability cache's). Its metric tags (core/stats) are the only declaration
// of the SIP plane's Prometheus counters and gauges (namespace herald, subsystem sip); the
// call-setup histograms are exported beside them.
type Snapshot struct {
	ActiveCalls int  `json:"active_calls" metric:"herald_sip_calls_active,gauge" help:"Calls whose INVITE has no final response yet."`
	Draining    bool `json:"draining" metric:"herald_sip_draining,gauge" help:"1 while a drain refuses new calls, else 0."`

	Invites       uint64 `json:"invites" metric:"herald_sip_invites_total,counter" help:"Initial INVITEs received."`
	CallsDone     uint64 `json:"calls_done" metric:"herald_sip_calls_done_total,counter" help:"INVITEs that got their final response."`
	Forwarded     uint64 `json:"forwarded" metric:"herald_sip_forwarded_total,counter" help:"INVITEs forwarded toward the callee."`
	CallerCards   uint64 `json:"caller_cards" metric:"herald_sip_cards_total{card=caller},counter" help:"Card pushes set up."`
	CalleeCards   uint64 `json:"callee_cards" metric:"herald_sip_cards_total{card=callee},counter"`
	CallInfoLinks uint64 `json:"call_info_links" metric:"herald_sip_call_info_links_total,counter" help:"Call-Info fallbacks offered."`
	// Requests refused by Herald itself: 403 (untrusted), 483 (Max-Forwards), 503 (limits, drain).
	Rejected403         uint64 `json:"rejected_403" metric:"herald_sip_rejected_total{code=403},counter" help:"Requests refused by Herald itself."`
	Rejected483         uint64 `json:"rejected_483" metric:"herald_sip_rejected_total{code=483},counter"`
	Rejected503         uint64 `json:"rejected_503" metric:"herald_sip_rejected_total{code=503},counter"`
	BadBodies           uint64 `json:"bad_bodies" metric:"herald_sip_bad_bodies_total,counter" help:"INVITE bodies forwarded untouched because they did not parse."`
	ReliableRetransmits uint64 `json:"reliable_retransmits" metric:"herald_sip_reliable_retransmits_total,counter" help:"Reliable provisional response retransmissions (RFC 3262)."`
	PrackTimeouts       uint64 `json:"prack_timeouts" metric:"herald_sip_prack_timeouts_total,counter" help:"Reliable provisional responses given up at 64*T1."`
	Cancels             uint64 `json:"cancels" metric:"herald_sip_cancels_total,counter" help:"CANCELs handled."`
	DrainAborted        uint64 `json:"drain_aborted" metric:"herald_sip_drain_aborted_total,counter" help:"Calls a drain ended while they rang (487 to the caller, CANCEL to the callee)."`
	UDPToTCP            uint64 `json:"udp_to_tcp" metric:"herald_sip_udp_to_tcp_total,counter" help:"INVITEs sent over TCP because they outgrew UDP (RFC 3261 18.1.1)."`
	TCPRefusedUDP       uint64 `json:"tcp_refused_udp" metric:"herald_sip_tcp_refused_udp_total,counter" help:"INVITEs sent again over UDP, whole, after the TCP attempt for their size failed (RFC 3261 18.1.1)."`
	Ringbacks           uint64 `json:"ringbacks" metric:"herald_sip_ringbacks_total,counter" help:"Ringbacks started."`
	RingbackNoCodec     uint64 `json:"ringback_no_codec" metric:"herald_sip_ringback_skipped_total{reason=no_codec},counter" help:"Ringbacks (no_codec) or ringback lines (no_port) skipped."`
	RingbackNoPort      uint64 `json:"ringback_no_port" metric:"herald_sip_ringback_skipped_total{reason=no_port},counter"`
	RingbackYielded     uint64 `json:"ringback_yielded" metric:"herald_sip_ringback_yielded_total,counter" help:"Ringbacks stopped because the callee's network authorised its own early media toward the caller (P-Early-Media, RFC 5009)."`
	ForwardErrors       uint64 `json:"forward_errors" metric:"herald_sip_forward_errors_total,counter" help:"Requests that could not be sent toward their next hop (DNS, connect, TLS)."`
	Panics              uint64 `json:"panics" metric:"herald_sip_panics_total,counter" help:"Panics recovered on the SIP plane (requests owed an answer got 500)."`
	BadRequests         uint64 `json:"bad_requests" metric:"herald_sip_bad_requests_total,counter" help:"Requests answered 400 or 505 before any handler: a mandatory header missing or malformed, a repeated one."`
	BadResponses        uint64 `json:"bad_responses" metric:"herald_sip_bad_responses_total,counter" help:"Responses from a next hop dropped: a mandatory header missing or malformed (RFC 3261 18.1.2)."`
	PushLateBinds       uint64 `json:"push_late_binds" metric:"herald_sip_push_late_binds_total,counter" help:"Terminals bound to a push session after the call closed it (answer, CANCEL, refused UPDATE): the binding was ended."`
	PushFailed          uint64 `json:"push_failed" metric:"herald_sip_push_failed_total,counter" help:"Card pushes the terminal or the network ended undelivered (failure REPORT or response, timeout, disconnect)."`
	Shed                uint64 `json:"shed" metric:"herald_sip_shed_total,counter" help:"Calls that would have had cards or ringback, forwarded as plain calls because Herald was overloaded (limits.shed_queue)."`

	Overload OverloadSnapshot `json:"overload"`

	Capability CapabilitySnapshot `json:"capability"`
	FastPath   sipfast.Snapshot   `json:"fast_path"`
	UDP        UDPSnapshot        `json:"udp"`
}

// CapabilitySnapshot is the gate on early-dialog pushes and its cache of learned terminals.
type CapabilitySnapshot struct {
	CallerCardCallInfo uint64 `json:"caller_card_call_info" metric:"herald_sip_capability_card_call_info_total{card=caller},counter" help:"Cards sent as Call-Info only: the terminal was not known to take the early-dialog push."`
	CalleeCardCallInfo uint64 `json:"callee_card_call_info" metric:"herald_sip_capability_card_call_info_total{card=callee},counter"`
	Probes             uint64 `json:"probes" metric:"herald_sip_capability_probes_total,counter" help:"Caller cards offered to a callee of unknown capability (probing)."`
	Resent             uint64 `json:"resent" metric:"herald_sip_capability_resent_total,counter" help:"INVITEs resent without the early-session part the callee refused."`
	UpdateRefused      uint64 `json:"update_refused" metric:"herald_sip_capability_update_refused_total,counter" help:"UPDATEs offering m=message the caller refused (then Call-Info)."`
	LearnedCapable     uint64 `json:"learned_capable" metric:"herald_sip_capability_learned_total{capable=true},counter" help:"Terminal capability lessons recorded in the cache."`
	LearnedIncapable   uint64 `json:"learned_incapable" metric:"herald_sip_capability_learned_total{capable=false},counter"`
	CacheHits          uint64 `json:"cache_hits" metric:"herald_sip_capability_cache_lookups_total{result=hit},counter" help:"Capability cache lookups."`
	CacheMisses        uint64 `json:"cache_misses" metric:"herald_sip_capability_cache_lookups_total{result=miss},counter"`
	CacheExpired       uint64 `json:"cache_expired" metric:"herald_sip_capability_cache_dropped_total{reason=expired},counter" help:"Capability cache entries dropped at their TTL (expired) or for room (evicted)."`
	CacheEvicted       uint64 `json:"cache_evicted" metric:"herald_sip_capability_cache_dropped_total{reason=evicted},counter"`
	CacheEntries       int    `json:"cache_entries" metric:"herald_sip_capability_cache_entries,gauge" help:"Terminals the capability cache holds."`
}

// OverloadSnapshot is the overload shedder's state (core/overload); zero without a shedder (its run
// queue is read with shedding off too).
type OverloadSnapshot struct {
	ShedShare  float64 `json:"shed_share" metric:"herald_overload_shed_share,gauge" help:"Share of new calls with cards forwarded as plain calls now (0 to 1)."`
	RunQueue   int     `json:"run_queue" metric:"herald_overload_run_queue,gauge" help:"The Go run queue over the last second (runnable goroutines, 10th percentile of samples every 10 ms): Herald sheds while it stands above limits.shed_queue per CPU."`
	Windows    uint64  `json:"windows" metric:"herald_overload_windows_total,counter" help:"Windows (one second each) the overload monitor read."`
	Overloaded uint64  `json:"overloaded" metric:"herald_overload_windows_overloaded_total,counter" help:"Windows whose run queue stood above limits.shed_queue per CPU."`
}

// UDPSnapshot is the SIP UDP sockets Herald reads itself (fast path on).
type UDPSnapshot struct {
	Datagrams uint64 `json:"datagrams" metric:"herald_sip_udp_datagrams_total,counter" help:"Datagrams Herald's own SIP UDP readers read."`
	Reads     uint64 `json:"reads" metric:"herald_sip_udp_reads_total,counter" help:"Read system calls that returned SIP datagrams (recvmmsg batches)."`
	General   uint64 `json:"general" metric:"herald_sip_udp_general_total,counter" help:"SIP datagrams handed to the general stack."`
	Dropped   uint64 `json:"dropped" metric:"herald_sip_udp_dropped_total,counter" help:"SIP datagrams dropped because the general stack's queue was full."`
}

// Read is the Snapshot of st, with the gauges the server holds: calls in progress, whether it
// drains, the fast path's transactions, the capability cache (nil: none) and the UDP readers'
// counts (datagrams, reads, general, dropped), and the overload shedder (nil: off).
func Read(st *Stats, active int, draining bool, fastTx int, cc *profile.CapCache, udp [4]uint64, sh *overload.Shedder) Snapshot {
	f, c := &st.Fast, &st.Capability
	out := Snapshot{
		ActiveCalls: active, Draining: draining,
		Invites: st.Invites.Load(), CallsDone: st.CallsDone.Load(), Forwarded: st.Forwarded.Load(),
		CallerCards: st.CallerCards.Load(), CalleeCards: st.CalleeCards.Load(), CallInfoLinks: st.CallInfoLinks.Load(),
		Rejected403: st.Rejected403.Load(), Rejected483: st.Rejected483.Load(), Rejected503: st.Rejected503.Load(),
		BadBodies: st.BadBodies.Load(), ReliableRetransmits: st.ReliableRetransmits.Load(),
		PrackTimeouts: st.PrackTimeouts.Load(), Cancels: st.Cancels.Load(), DrainAborted: st.DrainAborted.Load(),
		UDPToTCP: st.UDPToTCP.Load(), TCPRefusedUDP: st.TCPRefusedUDP.Load(), Ringbacks: st.Ringbacks.Load(),
		RingbackNoCodec: st.RingbackNoCodec.Load(), RingbackNoPort: st.RingbackNoPort.Load(), RingbackYielded: st.RingbackYielded.Load(),
		ForwardErrors: st.ForwardErrors.Load(), Panics: st.Panics.Load(), BadRequests: st.BadRequests.Load(),
		BadResponses:  st.BadResponses.Load(),
		PushLateBinds: st.PushLateBinds.Load(), PushFailed: st.PushFailed.Load(),
		Capability: CapabilitySnapshot{
			CallerCardCallInfo: c.CallerCardCallInfo.Load(), CalleeCardCallInfo: c.CalleeCardCallInfo.Load(),
			Probes: c.CallerCardProbes.Load(), Resent: c.Resent.Load(), UpdateRefused: c.UpdateRefused.Load(),
		},
		FastPath: f.Snapshot(fastTx),
	}
	if sh != nil {
		out.Shed = sh.Calls.Load()
		out.Overload = OverloadSnapshot{ShedShare: float64(sh.Ratio()) / overload.Scale, RunQueue: sh.Last(),
			Windows: sh.Windows.Load(), Overloaded: sh.Overloaded.Load()}
	}
	if cc != nil {
		cs := &cc.Stats
		out.Capability.LearnedCapable, out.Capability.LearnedIncapable = cs.LearnedCapable.Load(), cs.LearnedIncapable.Load()
		out.Capability.CacheHits, out.Capability.CacheMisses = cs.Hits.Load(), cs.Misses.Load()
		out.Capability.CacheExpired, out.Capability.CacheEvicted = cs.Expired.Load(), cs.Evicted.Load()
		out.Capability.CacheEntries = cc.Len()
	}
	u := &out.UDP
	u.Datagrams, u.Reads, u.General, u.Dropped = udp[0], udp[1], udp[2], udp[3]
	return out
}

// setupBuckets are the call-setup latencies, in seconds, that the histograms tell apart: from a
// few milliseconds (Herald's own 183) to the tens of seconds a ringing callee takes to answer.
var setupBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 180}

// Hists are the call-setup latency histograms, exported beside the counters.
type Hists struct {
	Reliable prometheus.Histogram // INVITE received to the first reliable provisional sent upstream
	Final    prometheus.Histogram // INVITE received to the final response sent upstream
}

// NewHists makes the histograms (to register once: core/signal's Collectors).
func NewHists() *Hists {
	return &Hists{
		Reliable: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_sip_setup_reliable_provisional_seconds",
			Help:    "Time from an INVITE's arrival to the first reliable provisional (RFC 3262) Herald sent or relayed to the caller.",
			Buckets: setupBuckets,
		}),
		Final: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_sip_setup_final_seconds",
			Help:    "Time from an INVITE's arrival to the final response Herald sent or relayed to the caller.",
			Buckets: setupBuckets,
		}),
	}
}
