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
var (
	descSubscribers = prometheus.NewDesc("herald_store_subscribers", "Indexed subscribers.", nil, nil)
	descCacheBytes  = prometheus.NewDesc("herald_store_cache_bytes", "Bytes of pages and clips cached for calls.", nil, nil)
	descMisses      = prometheus.NewDesc("herald_store_misses_total", "Call-path cache misses by outcome.", []string{"result"}, nil)
	descEvictions   = prometheus.NewDesc("herald_store_evictions_total", "Materialised profiles evicted to stay within the cache bound.", nil, nil)
	descClipMissing = prometheus.NewDesc("herald_store_clip_missing_total", "Ringbacks that resolved to no clip.", nil, nil)
)

type liveCollector struct{ l *Live }

// Collectors returns the store's Prometheus collectors.
func (l *Live) Collectors() []prometheus.Collector { return []prometheus.Collector{liveCollector{l}} }

func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSubscribers, descCacheBytes, descMisses, descEvictions, descClipMissing} {
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
}
