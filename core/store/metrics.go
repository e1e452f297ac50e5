package store

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics (namespace herald, subsystem store), read from Live at scrape time:
//
//	herald_store_subscribers                 indexed subscribers
//	herald_store_cache_bytes                 bytes of pages and clips cached for calls
//	herald_store_misses_total{result}        call-path cache misses: loaded, plain (all loaders busy), error
//	herald_store_evictions_total             materialised profiles dropped to stay within cache_mb
//	herald_store_clip_missing_total          ringback names or references that resolved to no clip
//	herald_store_commits_total               durable (fsync'd) commits
//	herald_store_writes_total{result}        writes: committed, refused (checks), failed (commit error)
//	herald_store_commit_seconds_total        time spent committing, fsync included
//	herald_store_collected_total             page and clip versions removed as unreferenced
var (
	descCommits     = prometheus.NewDesc("herald_store_commits_total", "Durable commits.", nil, nil)
	descWrites      = prometheus.NewDesc("herald_store_writes_total", "Store writes by result.", []string{"result"}, nil)
	descCommitSecs  = prometheus.NewDesc("herald_store_commit_seconds_total", "Time spent committing, fsync included.", nil, nil)
	descCollected   = prometheus.NewDesc("herald_store_collected_total", "Unreferenced page and clip versions removed.", nil, nil)
	descSubscribers = prometheus.NewDesc("herald_store_subscribers", "Indexed subscribers.", nil, nil)
	descCacheBytes  = prometheus.NewDesc("herald_store_cache_bytes", "Bytes of pages and clips cached for calls.", nil, nil)
	descMisses      = prometheus.NewDesc("herald_store_misses_total", "Call-path cache misses by outcome.", []string{"result"}, nil)
	descEvictions   = prometheus.NewDesc("herald_store_evictions_total", "Materialised profiles evicted to stay within the cache bound.", nil, nil)
	descClipMissing = prometheus.NewDesc("herald_store_clip_missing_total", "Ringbacks that resolved to no clip.", nil, nil)
)

type liveCollector struct{ l *Live }

// Collectors returns the Prometheus collectors of the index and of the store under it.
func (l *Live) Collectors() []prometheus.Collector { return []prometheus.Collector{liveCollector{l}} }

func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSubscribers, descCacheBytes, descMisses, descEvictions, descClipMissing,
		descCommits, descWrites, descCommitSecs, descCollected} {
		ch <- d
	}
}

func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	st := &c.l.stats
	ch <- prometheus.MustNewConstMetric(descSubscribers, prometheus.GaugeValue, float64(c.l.Len()))
	ch <- prometheus.MustNewConstMetric(descCacheBytes, prometheus.GaugeValue, float64(c.l.CacheBytes()))
	for _, m := range []struct {
		result string
		v      *atomic.Uint64
	}{{"loaded", &st.MissLoaded}, {"plain", &st.MissPlain}, {"error", &st.MissError}} {
		ch <- prometheus.MustNewConstMetric(descMisses, prometheus.CounterValue, float64(m.v.Load()), m.result)
	}
	ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(st.Evictions.Load()))
	ch <- prometheus.MustNewConstMetric(descClipMissing, prometheus.CounterValue, float64(st.ClipMissing.Load()))
	bs := &c.l.st.stats
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(bs.Commits.Load()))
	for _, m := range []struct {
		result string
		v      *atomic.Uint64
	}{{"committed", &bs.Writes}, {"refused", &bs.Refused}, {"failed", &bs.Failed}} {
		ch <- prometheus.MustNewConstMetric(descWrites, prometheus.CounterValue, float64(m.v.Load()), m.result)
	}
	ch <- prometheus.MustNewConstMetric(descCommitSecs, prometheus.CounterValue, float64(bs.CommitNanos.Load())/1e9)
	ch <- prometheus.MustNewConstMetric(descCollected, prometheus.CounterValue, float64(bs.CollectedVers.Load()))
}
