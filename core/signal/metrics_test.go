package signal

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/stats"
)

// The SIP counters reach Prometheus under herald_sip_*, labelled where they are one family, and a
// pedantic registry finds Describe and Collect consistent.
func TestCollectors(t *testing.T) {
	s := &Server{deps: Deps{Capabilities: profile.NewCapCache(10, time.Hour, nil)}}
	s.deps.Capabilities.Learn("alice@home1.net", true)
	s.deps.Capabilities.Learn("+12125553333", false)
	s.deps.Capabilities.Learn("+12125553333", true)
	s.Stats.Capability.CalleeCardCallInfo.Add(2)
	s.Stats.Invites.Add(3)
	s.Stats.CallerCards.Add(2)
	s.Stats.CalleeCards.Add(1)
	s.Stats.Rejected503.Add(5)
	s.Stats.RingbackNoPort.Add(4)
	s.Stats.ForwardErrors.Add(6)
	s.active.Add(7)
	s.Stats.Fast.Calls.Add(8)
	s.Stats.Fast.Fallbacks.Add(9)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collectors()...)
	want := `
# HELP herald_sip_calls_active Calls whose INVITE has no final response yet.
# TYPE herald_sip_calls_active gauge
herald_sip_calls_active 7
# HELP herald_sip_cards_total Card pushes set up.
# TYPE herald_sip_cards_total counter
herald_sip_cards_total{card="callee"} 1
herald_sip_cards_total{card="caller"} 2
# HELP herald_sip_fast_path_calls_total Plain calls (UDP or TCP) proxied on the fast path.
# TYPE herald_sip_fast_path_calls_total counter
herald_sip_fast_path_calls_total 8
# HELP herald_sip_fast_path_fallbacks_total New INVITEs the fast path left to the general path.
# TYPE herald_sip_fast_path_fallbacks_total counter
herald_sip_fast_path_fallbacks_total 9
# HELP herald_sip_capability_card_call_info_total Cards sent as Call-Info only: the terminal was not known to take the early-dialog push.
# TYPE herald_sip_capability_card_call_info_total counter
herald_sip_capability_card_call_info_total{card="callee"} 2
herald_sip_capability_card_call_info_total{card="caller"} 0
# HELP herald_sip_capability_cache_entries Terminals the capability cache holds.
# TYPE herald_sip_capability_cache_entries gauge
herald_sip_capability_cache_entries 2
# HELP herald_sip_capability_learned_total Terminal capability lessons recorded in the cache.
# TYPE herald_sip_capability_learned_total counter
herald_sip_capability_learned_total{capable="false"} 1
herald_sip_capability_learned_total{capable="true"} 2
# HELP herald_sip_fast_path_transactions Transactions the fast path holds.
# TYPE herald_sip_fast_path_transactions gauge
herald_sip_fast_path_transactions 0
# HELP herald_sip_forward_errors_total Requests that could not be sent toward their next hop (DNS, connect, TLS).
# TYPE herald_sip_forward_errors_total counter
herald_sip_forward_errors_total 6
# HELP herald_sip_invites_total Initial INVITEs received.
# TYPE herald_sip_invites_total counter
herald_sip_invites_total 3
# HELP herald_sip_rejected_total Requests refused by Herald itself.
# TYPE herald_sip_rejected_total counter
herald_sip_rejected_total{code="403"} 0
herald_sip_rejected_total{code="483"} 0
herald_sip_rejected_total{code="503"} 5
# HELP herald_sip_ringback_skipped_total Ringbacks (no_codec) or ringback lines (no_port) skipped.
# TYPE herald_sip_ringback_skipped_total counter
herald_sip_ringback_skipped_total{reason="no_codec"} 0
herald_sip_ringback_skipped_total{reason="no_port"} 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "herald_sip_calls_active", "herald_sip_cards_total",
		"herald_sip_fast_path_calls_total", "herald_sip_fast_path_fallbacks_total", "herald_sip_fast_path_transactions",
		"herald_sip_forward_errors_total", "herald_sip_invites_total", "herald_sip_rejected_total",
		"herald_sip_ringback_skipped_total", "herald_sip_capability_card_call_info_total",
		"herald_sip_capability_cache_entries", "herald_sip_capability_learned_total"); err != nil {
		t.Fatal(err)
	}
	// Every field of the snapshot is one sample, and nothing else is.
	var fields int
	if err := stats.Walk(s.Snapshot(), func(stats.Sample) { fields++ }); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(s.Collectors()[0]); n != fields || n < 50 {
		t.Errorf("%d metrics, want one per snapshot field (%d)", n, fields)
	}
}
