package web

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	metricsNamespace = "herald"
	metricsSubsystem = "web"
)

// route is the bounded "route" label of herald_web_requests_total.
type route uint8

const (
	routePage route = iota
	routeHealthz
	routeVarz
	routeMetrics
	routePprof
	routeAPI
	routeOther
	numRoutes
)

var routeNames = [numRoutes]string{"page", "healthz", "varz", "metrics", "pprof", "api", "other"}

// classNames are the status classes counted; 1xx is never a final status here.
var classNames = [4]string{"2xx", "3xx", "4xx", "5xx"}

// coding is a page representation.
type coding uint8

const (
	codingIdentity coding = iota
	codingGzip
	codingZstd
	numCodings
)

var codingNames = [numCodings]string{"identity", "gzip", "zstd"}

// counters are the server's statistics: plain atomics on the request path, read by the Prometheus
// collector and by [Server.Stats].
type counters struct {
	requests  [numRoutes][len(classNames)]atomic.Uint64
	pages     [numCodings]atomic.Uint64
	published atomic.Uint64
	refused   atomic.Uint64
	expired   atomic.Uint64
	revoked   atomic.Uint64
}

// countRequest records one response with status code.
func (c *counters) countRequest(r route, code int) {
	cl := code/100 - 2
	if cl < 0 || cl >= len(classNames) {
		cl = len(classNames) - 1 // out-of-range codes are server bugs: count them as 5xx
	}
	c.requests[r][cl].Add(1)
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, name), help, labels, nil)
}

var (
	descRequests  = desc("requests_total", "HTTP responses by route and status class.", "route", "class")
	descPages     = desc("page_responses_total", "Full page bodies sent, by content coding.", "encoding")
	descPublished = desc("published_total", "Page tokens issued.")
	descRefused   = desc("publish_refused_total", "Publish calls refused because the token table was full.")
	descExpired   = desc("tokens_expired_total", "Page tokens dropped at expiry.")
	descRevoked   = desc("tokens_revoked_total", "Page tokens revoked before expiry.")
	descTokens    = desc("tokens", "Page tokens held now (expired ones until swept).")
)

// collector exposes a Server's counters.
type collector struct{ s *Server }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descPages, descPublished, descRefused, descExpired,
		descRevoked, descTokens} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := &c.s.stats
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	for r := range numRoutes {
		for cl, name := range classNames {
			counter(descRequests, st.requests[r][cl].Load(), routeNames[r], name)
		}
	}
	for k := range numCodings {
		counter(descPages, st.pages[k].Load(), codingNames[k])
	}
	counter(descPublished, st.published.Load())
	counter(descRefused, st.refused.Load())
	counter(descExpired, st.expired.Load())
	counter(descRevoked, st.revoked.Load())
	ch <- prometheus.MustNewConstMetric(descTokens, prometheus.GaugeValue, float64(c.s.tokens.len()))
}

// Stats is a snapshot of the server's counters; /varz serves it when Options.Varz is nil.
type Stats struct {
	Tokens    int                          `json:"tokens"`
	Published uint64                       `json:"published"`
	Refused   uint64                       `json:"publish_refused"`
	Expired   uint64                       `json:"tokens_expired"`
	Revoked   uint64                       `json:"tokens_revoked"`
	Pages     map[string]uint64            `json:"page_responses"`       // by encoding
	Requests  map[string]map[string]uint64 `json:"requests"`             // route → class → count
	Addr      string                       `json:"addr,omitempty"`       // page listener
	AdminAddr string                       `json:"admin_addr,omitempty"` // admin listener, if separate
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Tokens:    s.tokens.len(),
		Published: s.stats.published.Load(),
		Refused:   s.stats.refused.Load(),
		Expired:   s.stats.expired.Load(),
		Revoked:   s.stats.revoked.Load(),
		Pages:     make(map[string]uint64, numCodings),
		Requests:  make(map[string]map[string]uint64, numRoutes),
		Addr:      s.Addr(),
		AdminAddr: s.AdminAddr(),
	}
	for k := range numCodings {
		st.Pages[codingNames[k]] = s.stats.pages[k].Load()
	}
	for r := range numRoutes {
		m := make(map[string]uint64, len(classNames))
		for cl, name := range classNames {
			m[name] = s.stats.requests[r][cl].Load()
		}
		st.Requests[routeNames[r]] = m
	}
	return st
}
