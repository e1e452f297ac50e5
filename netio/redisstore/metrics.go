package redisstore

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/stats"
	"github.com/herald-ims/herald/core/store"
)

// Snapshot is the Redis store's /varz object; its metric tags (core/stats) declare the
// herald_store_redis_* metrics. Writes committed, refused and failed, and versions collected, are
// the store-wide herald_store_writes_total{result} and herald_store_collected_total (store.Live's
// snapshot reads them through store.WriteCounter).
type Snapshot struct {
	Up          bool   `json:"up" metric:"herald_store_redis_up,gauge" help:"1 while Redis answers and the index is filled from it, else 0."`
	Revision    uint64 `json:"revision" metric:"herald_store_redis_revision,gauge" help:"Store revision this node's index holds."`
	Unavailable uint64 `json:"unavailable" metric:"herald_store_redis_unavailable_total,counter" help:"Operations failed because Redis could not be reached in time."`
	Retries     uint64 `json:"retries" metric:"herald_store_redis_retries_total,counter" help:"Optimistic write retries (a concurrent write changed the watched keys)."`
	Applied     uint64 `json:"changes_applied" metric:"herald_store_redis_changes_applied_total,counter" help:"Changes applied to the index from the change stream."`
	Resyncs     uint64 `json:"resyncs" metric:"herald_store_redis_resyncs_total,counter" help:"Full resynchronisations of the index (start, reconnection, stream gap)."`
	Reconnects  uint64 `json:"reconnects" metric:"herald_store_redis_reconnects_total,counter" help:"Times Redis was reachable again after being lost."`
	SelfLate    uint64 `json:"self_wait_late" metric:"herald_store_redis_self_wait_late_total,counter" help:"Own writes not back from the change stream within the timeout."`
}

// Snapshot returns the counters.
func (s *Store) Snapshot() Snapshot {
	st := &s.stats
	return Snapshot{Up: s.Available(), Revision: s.applied.Load(), Unavailable: st.Unavailable.Load(), Retries: st.Retries.Load(),
		Applied: st.Applied.Load(), Resyncs: st.Resyncs.Load(), Reconnects: st.Reconnects.Load(), SelfLate: st.SelfWaitLate.Load()}
}

// Collectors returns the store's Prometheus collectors.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{stats.NewCollector(s.Snapshot)}
}

// WriteCounts implements store.WriteCounter: a commit is an acknowledged EXEC; Failed counts the
// writes Redis could not take (unreachable).
func (s *Store) WriteCounts() store.WriteCounts {
	st := &s.stats
	return store.WriteCounts{Commits: st.Writes.Load(), Writes: st.Writes.Load(), Refused: st.Refused.Load(),
		Failed: st.WriteUnavailable.Load(), Collected: st.CollectedVers.Load()}
}
