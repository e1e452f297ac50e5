package signal

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics (namespace herald, subsystem sip), the same counters as Stats:
//
//	herald_sip_calls_active                       gauge   calls whose INVITE has no final response yet
//	herald_sip_draining                           gauge   1 while a drain refuses new calls (Server.Drain), else 0
//	herald_sip_drain_aborted_total                counter calls a drain ended while they rang (487 up, CANCEL down)
//	herald_sip_invites_total                      counter initial INVITEs received
//	herald_sip_calls_done_total                   counter INVITEs that got their final response
//	herald_sip_forwarded_total                    counter INVITEs forwarded toward the callee
//	herald_sip_cards_total{card="caller|callee"}  counter card pushes set up
//	herald_sip_call_info_links_total              counter Call-Info fallbacks offered
//	herald_sip_rejected_total{code="403|483|503"} counter requests refused by Herald itself
//	herald_sip_bad_bodies_total                   counter INVITE bodies forwarded untouched (unparsable)
//	herald_sip_reliable_retransmits_total         counter reliable 18x retransmissions (RFC 3262)
//	herald_sip_prack_timeouts_total               counter reliable 18x given up at 64·T1
//	herald_sip_cancels_total                      counter CANCELs handled
//	herald_sip_udp_to_tcp_total                   counter INVITEs sent over TCP for size (RFC 3261 §18.1.1)
//	herald_sip_tcp_refused_udp_total              counter INVITEs sent again over UDP, whole, after a refused TCP attempt
//	herald_sip_ringbacks_total                    counter ringbacks started
//	herald_sip_ringback_skipped_total{reason="no_codec|no_port"} counter ringbacks or lines skipped
//	herald_sip_forward_errors_total               counter requests that could not reach their next hop
//	herald_sip_panics_total                       counter panics recovered on the SIP plane (also herald_panics_total{plane="sip"})
//	herald_sip_bad_requests_total                 counter requests answered 400/505 before any handler (checkRequest)
//	herald_sip_bad_responses_total                counter responses dropped: a mandatory header missing or malformed
//	herald_sip_fast_path_calls_total              counter plain UDP calls proxied on the fast path
//	herald_sip_fast_path_fallbacks_total          counter new INVITEs the fast path left to the general path
//	herald_sip_fast_path_in_dialog_total          counter ACKs for 2xx, BYEs and INFOs it forwarded
//	herald_sip_fast_path_retransmissions_total    counter requests and responses it sent again (Timers A, E, G)
//	herald_sip_fast_path_absorbed_total           counter retransmissions it answered without forwarding
//	herald_sip_fast_path_timeouts_total           counter transactions ended by Timer B, F or C
//	herald_sip_fast_path_stray_total              counter responses to its branches with no transaction
//	herald_sip_fast_path_send_errors_total        counter datagrams the socket refused
//	herald_sip_fast_path_overload_total           counter requests answered 503 at its transaction limit
//	herald_sip_fast_path_unreadable_total         counter responses to its branches that could not be read
//	herald_sip_fast_path_dns_lookups_total        counter background A/AAAA lookups of Route and next-hop names
//	herald_sip_fast_path_dns_failures_total       counter those that failed
//	herald_sip_fast_path_dns_full_total           counter requests sent the general way: name cache full
//	herald_sip_fast_path_transactions             gauge   transactions it holds
//	herald_sip_udp_datagrams_total                counter datagrams Herald's own UDP readers read (fast path on)
//	herald_sip_udp_reads_total                    counter read system calls that returned datagrams (recvmmsg batches)
//	herald_sip_udp_general_total                  counter datagrams handed to the general stack
//	herald_sip_udp_dropped_total                  counter datagrams dropped: the general stack's queue was full
//	herald_sip_capability_card_call_info_total{card="caller|callee"} counter cards sent as Call-Info only:
//	                                              the terminal was not known to take the early-dialog push
//	herald_sip_capability_probes_total            counter caller cards offered to a callee of unknown capability
//	herald_sip_capability_resent_total            counter INVITEs resent without the early-session part it refused
//	herald_sip_capability_update_refused_total    counter UPDATEs offering m=message the caller refused
//	herald_sip_capability_learned_total{capable="true|false"} counter lessons recorded in the cache
//	herald_sip_capability_cache_lookups_total{result="hit|miss"} counter cache lookups
//	herald_sip_capability_cache_dropped_total{reason="expired|evicted"} counter cache entries dropped
//	herald_sip_capability_cache_entries           gauge   terminals the cache holds
var (
	descSIPActive = prometheus.NewDesc("herald_sip_calls_active", "Calls whose INVITE has no final response yet.", nil, nil)
	descSIPCards  = prometheus.NewDesc("herald_sip_cards_total", "Card pushes set up.", []string{"card"}, nil)
	descSIPReject = prometheus.NewDesc("herald_sip_rejected_total", "Requests refused by Herald itself.", []string{"code"}, nil)
	descSIPFastTx = prometheus.NewDesc("herald_sip_fast_path_transactions", "Transactions the fast path holds.", nil, nil)
	descSIPDrain  = prometheus.NewDesc("herald_sip_draining", "1 while a drain refuses new calls, else 0.", nil, nil)
	descSIPUDP    = [...]*prometheus.Desc{
		prometheus.NewDesc("herald_sip_udp_datagrams_total", "Datagrams Herald's own SIP UDP readers read.", nil, nil),
		prometheus.NewDesc("herald_sip_udp_reads_total", "Read system calls that returned SIP datagrams (recvmmsg batches).", nil, nil),
		prometheus.NewDesc("herald_sip_udp_general_total", "SIP datagrams handed to the general stack.", nil, nil),
		prometheus.NewDesc("herald_sip_udp_dropped_total", "SIP datagrams dropped because the general stack's queue was full.", nil, nil),
	}
	descCapCallInfo = prometheus.NewDesc("herald_sip_capability_card_call_info_total", "Cards sent as Call-Info only: the terminal was not known to take the early-dialog push.", []string{"card"}, nil)
	descCapLearned  = prometheus.NewDesc("herald_sip_capability_learned_total", "Terminal capability lessons recorded in the cache.", []string{"capable"}, nil)
	descCapLookups  = prometheus.NewDesc("herald_sip_capability_cache_lookups_total", "Capability cache lookups.", []string{"result"}, nil)
	descCapDropped  = prometheus.NewDesc("herald_sip_capability_cache_dropped_total", "Capability cache entries dropped at their TTL (expired) or for room (evicted).", []string{"reason"}, nil)
	descCapEntries  = prometheus.NewDesc("herald_sip_capability_cache_entries", "Terminals the capability cache holds.", nil, nil)
	descSIPSkip     = prometheus.NewDesc("herald_sip_ringback_skipped_total", "Ringbacks (no_codec) or ringback lines (no_port) skipped.", []string{"reason"}, nil)
	sipCounters     = []struct {
		desc *prometheus.Desc
		get  func(*Stats) *atomic.Uint64
	}{
		{prometheus.NewDesc("herald_sip_invites_total", "Initial INVITEs received.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Invites }},
		{prometheus.NewDesc("herald_sip_calls_done_total", "INVITEs that got their final response.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.CallsDone }},
		{prometheus.NewDesc("herald_sip_forwarded_total", "INVITEs forwarded toward the callee.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Forwarded }},
		{prometheus.NewDesc("herald_sip_call_info_links_total", "Call-Info fallbacks offered.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.CallInfoLinks }},
		{prometheus.NewDesc("herald_sip_bad_bodies_total", "INVITE bodies forwarded untouched because they did not parse.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.BadBodies }},
		{prometheus.NewDesc("herald_sip_reliable_retransmits_total", "Reliable provisional response retransmissions (RFC 3262).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.ReliableRetransmits }},
		{prometheus.NewDesc("herald_sip_prack_timeouts_total", "Reliable provisional responses given up at 64*T1.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.PrackTimeouts }},
		{prometheus.NewDesc("herald_sip_cancels_total", "CANCELs handled.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Cancels }},
		{prometheus.NewDesc("herald_sip_drain_aborted_total", "Calls a drain ended while they rang (487 to the caller, CANCEL to the callee).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.DrainAborted }},
		{prometheus.NewDesc("herald_sip_udp_to_tcp_total", "INVITEs sent over TCP because they outgrew UDP (RFC 3261 18.1.1).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.UDPToTCP }},
		{prometheus.NewDesc("herald_sip_tcp_refused_udp_total", "INVITEs sent again over UDP, whole, after the TCP attempt for their size failed (RFC 3261 18.1.1).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.TCPRefusedUDP }},
		{prometheus.NewDesc("herald_sip_ringbacks_total", "Ringbacks started.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Ringbacks }},
		{prometheus.NewDesc("herald_sip_forward_errors_total", "Requests that could not be sent toward their next hop (DNS, connect, TLS).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.ForwardErrors }},
		{prometheus.NewDesc("herald_sip_panics_total", "Panics recovered on the SIP plane (requests owed an answer got 500).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Panics }},
		{prometheus.NewDesc("herald_sip_bad_requests_total", "Requests answered 400 or 505 before any handler: a mandatory header missing or malformed, a repeated one.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.BadRequests }},
		{prometheus.NewDesc("herald_sip_bad_responses_total", "Responses from a next hop dropped: a mandatory header missing or malformed (RFC 3261 18.1.2).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.BadResponses }},
		{prometheus.NewDesc("herald_sip_fast_path_calls_total", "Plain UDP calls proxied on the fast path.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.Calls }},
		{prometheus.NewDesc("herald_sip_fast_path_fallbacks_total", "New INVITEs the fast path left to the general path.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.Fallbacks }},
		{prometheus.NewDesc("herald_sip_fast_path_in_dialog_total", "ACKs for 2xx, BYEs and INFOs forwarded on the fast path.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.InDialog }},
		{prometheus.NewDesc("herald_sip_fast_path_retransmissions_total", "Requests and responses the fast path sent again (RFC 3261 Timers A, E, G).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.Retransmissions }},
		{prometheus.NewDesc("herald_sip_fast_path_absorbed_total", "Retransmissions the fast path answered without forwarding.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.Absorbed }},
		{prometheus.NewDesc("herald_sip_fast_path_timeouts_total", "Fast-path transactions ended by Timer B, F or C.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.Timeouts }},
		{prometheus.NewDesc("herald_sip_fast_path_stray_total", "Responses to a fast-path branch with no transaction.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.Stray }},
		{prometheus.NewDesc("herald_sip_fast_path_unreadable_total", "Responses to a fast-path branch that could not be read.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.Unreadable }},
		{prometheus.NewDesc("herald_sip_fast_path_dns_lookups_total", "Background A/AAAA lookups of Route and next-hop names.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.DNSLookups }},
		{prometheus.NewDesc("herald_sip_fast_path_dns_failures_total", "Background name lookups that failed.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.DNSFailures }},
		{prometheus.NewDesc("herald_sip_fast_path_dns_full_total", "Requests sent the general way because the name cache was full.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.DNSFull }},
		{prometheus.NewDesc("herald_sip_fast_path_overload_total", "Requests answered 503: the fast path held its limit of transactions.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.Overload }},
		{prometheus.NewDesc("herald_sip_fast_path_send_errors_total", "Datagrams the fast path's socket refused.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Fast.SendErrors }},
		{prometheus.NewDesc("herald_sip_capability_probes_total", "Caller cards offered to a callee of unknown capability (probing).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Capability.CallerCardProbes }},
		{prometheus.NewDesc("herald_sip_capability_resent_total", "INVITEs resent without the early-session part the callee refused.", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Capability.Resent }},
		{prometheus.NewDesc("herald_sip_capability_update_refused_total", "UPDATEs offering m=message the caller refused (then Call-Info).", nil, nil), func(s *Stats) *atomic.Uint64 { return &s.Capability.UpdateRefused }},
	}
)

type sipCollector struct{ s *Server }

// Collectors returns the SIP layer's Prometheus collectors, to register once.
func (s *Server) Collectors() []prometheus.Collector {
	cs := []prometheus.Collector{sipCollector{s}}
	if s.hist != nil { // nil only in a Server built without New (unit tests)
		cs = append(cs, s.hist.reliable, s.hist.final)
	}
	return cs
}

func (c sipCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSIPActive
	ch <- descSIPCards
	ch <- descSIPReject
	ch <- descSIPSkip
	ch <- descSIPFastTx
	ch <- descSIPDrain
	for _, d := range []*prometheus.Desc{descCapCallInfo, descCapLearned, descCapLookups, descCapDropped, descCapEntries} {
		ch <- d
	}
	for _, d := range descSIPUDP {
		ch <- d
	}
	for _, m := range sipCounters {
		ch <- m.desc
	}
}

func (c sipCollector) Collect(ch chan<- prometheus.Metric) {
	st := &c.s.Stats
	counter := func(d *prometheus.Desc, v *atomic.Uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v.Load()), labels...)
	}
	ch <- prometheus.MustNewConstMetric(descSIPActive, prometheus.GaugeValue, float64(c.s.ActiveCalls()))
	ch <- prometheus.MustNewConstMetric(descSIPFastTx, prometheus.GaugeValue, float64(c.s.FastTransactions()))
	draining := 0.0
	if c.s.Draining() {
		draining = 1
	}
	ch <- prometheus.MustNewConstMetric(descSIPDrain, prometheus.GaugeValue, draining)
	dg, rd, gen, drop := c.s.UDPStats()
	for i, v := range [...]uint64{dg, rd, gen, drop} {
		ch <- prometheus.MustNewConstMetric(descSIPUDP[i], prometheus.CounterValue, float64(v))
	}
	counter(descSIPCards, &st.CallerCards, "caller")
	counter(descSIPCards, &st.CalleeCards, "callee")
	counter(descSIPReject, &st.Rejected403, "403")
	counter(descSIPReject, &st.Rejected483, "483")
	counter(descSIPReject, &st.Rejected503, "503")
	counter(descSIPSkip, &st.RingbackNoCodec, "no_codec")
	counter(descSIPSkip, &st.RingbackNoPort, "no_port")
	for _, m := range sipCounters {
		counter(m.desc, m.get(st))
	}
	counter(descCapCallInfo, &st.Capability.CallerCardCallInfo, "caller")
	counter(descCapCallInfo, &st.Capability.CalleeCardCallInfo, "callee")
	if cc := c.s.deps.Capabilities; cc != nil {
		cs := &cc.Stats
		counter(descCapLearned, &cs.LearnedCapable, "true")
		counter(descCapLearned, &cs.LearnedIncapable, "false")
		counter(descCapLookups, &cs.Hits, "hit")
		counter(descCapLookups, &cs.Misses, "miss")
		counter(descCapDropped, &cs.Expired, "expired")
		counter(descCapDropped, &cs.Evicted, "evicted")
		ch <- prometheus.MustNewConstMetric(descCapEntries, prometheus.GaugeValue, float64(cc.Len()))
	} else {
		ch <- prometheus.MustNewConstMetric(descCapEntries, prometheus.GaugeValue, 0)
	}
}
