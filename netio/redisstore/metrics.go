package redisstore

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/store"
)

// Metrics (read at scrape time):
//
//	herald_store_redis_up                      1 while Redis answers and the index is filled from it, else 0
//	herald_store_redis_revision                the store revision this node's index holds
//	herald_store_redis_unavailable_total       operations failed because Redis could not be reached in time
//	herald_store_redis_retries_total           optimistic write retries (a concurrent write intervened)
//	herald_store_redis_changes_applied_total   changes applied to the index from the stream
//	herald_store_redis_resyncs_total           full resynchronisations (start, reconnect, gap)
//	herald_store_redis_reconnects_total        times Redis was reachable again after being lost
//	herald_store_redis_self_wait_late_total    own writes not back from the stream within the timeout
//
// Writes committed, refused and failed, and versions collected, are the store-wide
// herald_store_writes_total{result} and herald_store_collected_total (store.Live's snapshot reads
// them through store.WriteCounter).
var (
	descUp        = prometheus.NewDesc("herald_store_redis_up", "1 while Redis answers and the index is filled from it, else 0.", nil, nil)
	descRevision  = prometheus.NewDesc("herald_store_redis_revision", "Store revision this node's index holds.", nil, nil)
	descUnavail   = prometheus.NewDesc("herald_store_redis_unavailable_total", "Operations failed because Redis could not be reached in time.", nil, nil)
	descRetries   = prometheus.NewDesc("herald_store_redis_retries_total", "Optimistic write retries.", nil, nil)
	descApplied   = prometheus.NewDesc("herald_store_redis_changes_applied_total", "Changes applied to the index from the stream.", nil, nil)
	descResyncs   = prometheus.NewDesc("herald_store_redis_resyncs_total", "Full resynchronisations of the index.", nil, nil)
	descReconnect = prometheus.NewDesc("herald_store_redis_reconnects_total", "Times Redis was reachable again after being lost.", nil, nil)
	descLate      = prometheus.NewDesc("herald_store_redis_self_wait_late_total", "Own writes not back from the change stream within the timeout.", nil, nil)
)

type collector struct{ s *Store }

// Collectors returns the store's Prometheus collectors.
func (s *Store) Collectors() []prometheus.Collector { return []prometheus.Collector{collector{s}} }

// WriteCounts implements store.WriteCounter: a commit is an acknowledged EXEC; Failed counts the
// writes Redis could not take (unreachable).
func (s *Store) WriteCounts() store.WriteCounts {
	st := &s.stats
	return store.WriteCounts{Commits: st.Writes.Load(), Writes: st.Writes.Load(), Refused: st.Refused.Load(),
		Failed: st.WriteUnavailable.Load(), Collected: st.CollectedVers.Load()}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descRevision, descUnavail, descRetries, descApplied, descResyncs, descReconnect, descLate} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := &c.s.stats
	up := 0.0
	if c.s.Available() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descRevision, prometheus.GaugeValue, float64(c.s.applied.Load()))
	for _, m := range []struct {
		d *prometheus.Desc
		v *atomic.Uint64
	}{{descRetries, &st.Retries}, {descApplied, &st.Applied}, {descResyncs, &st.Resyncs}, {descReconnect, &st.Reconnects},
		{descLate, &st.SelfWaitLate}, {descUnavail, &st.Unavailable}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v.Load()))
	}
}
