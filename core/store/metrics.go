package store

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/stats"
)

// Snapshot is the store's /varz object: the call-path index (Live) and the durable writes under it.
// Its metric tags (core/stats) declare the store's Prometheus metrics (herald_store_*), read at
// scrape time.
type Snapshot struct {
	Subscribers int   `json:"subscribers" metric:"herald_store_subscribers,gauge" help:"Indexed subscribers."`
	CacheBytes  int64 `json:"cache_bytes" metric:"herald_store_cache_bytes,gauge" help:"Bytes of pages and clips cached for calls."`
	// Call-path cache misses: loaded from the file, served plain (every loader busy), failed.
	MissLoaded uint64 `json:"misses_loaded" metric:"herald_store_misses_total{result=loaded},counter" help:"Call-path cache misses by outcome."`
	MissPlain  uint64 `json:"misses_plain" metric:"herald_store_misses_total{result=plain},counter"`
	MissError  uint64 `json:"misses_error" metric:"herald_store_misses_total{result=error},counter"`
	// Served plain at once because a networked store's backend (Redis) was down.
	MissDown    uint64 `json:"misses_store_down" metric:"herald_store_misses_total{result=store_down},counter"`
	Evictions   uint64 `json:"evictions" metric:"herald_store_evictions_total,counter" help:"Materialised profiles evicted to stay within the cache bound."`
	ClipMissing uint64 `json:"clip_missing" metric:"herald_store_clip_missing_total,counter" help:"Ringbacks that resolved to no clip."`
	Commits     uint64 `json:"commits" metric:"herald_store_commits_total,counter" help:"Durable commits."`
	// Writes: committed, refused by their checks, failed at commit.
	Writes        uint64  `json:"writes" metric:"herald_store_writes_total{result=committed},counter" help:"Store writes by result."`
	WritesRefused uint64  `json:"writes_refused" metric:"herald_store_writes_total{result=refused},counter"`
	WritesFailed  uint64  `json:"writes_failed" metric:"herald_store_writes_total{result=failed},counter"`
	CommitSeconds float64 `json:"commit_seconds" metric:"herald_store_commit_seconds_total,counter" help:"Time spent committing, fsync included."`
	Collected     uint64  `json:"collected" metric:"herald_store_collected_total,counter" help:"Unreferenced page and clip versions removed."`
}

// Snapshot returns the counters of the index and of the store under it.
func (l *Live) Snapshot() Snapshot {
	st := &l.stats
	var wc WriteCounts
	if c, ok := l.st.(WriteCounter); ok {
		wc = c.WriteCounts()
	}
	return Snapshot{
		Subscribers:   l.Len(),
		CacheBytes:    l.CacheBytes(),
		MissLoaded:    st.MissLoaded.Load(),
		MissPlain:     st.MissPlain.Load(),
		MissError:     st.MissError.Load(),
		MissDown:      st.MissDown.Load(),
		Evictions:     st.Evictions.Load(),
		ClipMissing:   st.ClipMissing.Load(),
		Commits:       wc.Commits,
		Writes:        wc.Writes,
		WritesRefused: wc.Refused,
		WritesFailed:  wc.Failed,
		CommitSeconds: float64(wc.CommitNanos) / 1e9,
		Collected:     wc.Collected,
	}
}

// WriteCounts are a store's write counters, as Snapshot reports them.
type WriteCounts struct {
	Commits     uint64 // durable commits (Bolt: fsync'd transactions; Redis: acknowledged EXECs)
	Writes      uint64 // writes committed
	Refused     uint64 // writes refused by their checks
	Failed      uint64 // writes that failed (commit error; Redis unreachable)
	CommitNanos uint64 // time spent committing (Bolt only)
	Collected   uint64 // unreferenced versions removed
}

// WriteCounter is implemented by a Source that counts its writes (Bolt, netio/redisstore).
type WriteCounter interface{ WriteCounts() WriteCounts }

// WriteCounts implements WriteCounter.
func (s *Bolt) WriteCounts() WriteCounts {
	bs := &s.stats
	return WriteCounts{Commits: bs.Commits.Load(), Writes: bs.Writes.Load(), Refused: bs.Refused.Load(), Failed: bs.Failed.Load(),
		CommitNanos: bs.CommitNanos.Load(), Collected: bs.CollectedVers.Load()}
}

// Collectors returns the Prometheus collectors of the index and of the store under it.
func (l *Live) Collectors() []prometheus.Collector {
	return []prometheus.Collector{stats.NewCollector(l.Snapshot)}
}
