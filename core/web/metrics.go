package web

import (
	"sync/atomic"
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
	adminDeny atomic.Uint64
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

// Stats is a snapshot of the server's counters; /varz serves it when Options.Varz is nil. Its
// metric tags (core/stats) declare the HTTP plane's Prometheus metrics (herald_web_*).
type Stats struct {
	Tokens            int                          `json:"tokens" metric:"herald_web_tokens,gauge" help:"Page tokens held now (expired ones until swept)."`
	Published         uint64                       `json:"published" metric:"herald_web_published_total,counter" help:"Page tokens issued."`
	Refused           uint64                       `json:"publish_refused" metric:"herald_web_publish_refused_total,counter" help:"Publish calls refused because the token table was full."`
	Expired           uint64                       `json:"tokens_expired" metric:"herald_web_tokens_expired_total,counter" help:"Page tokens dropped at expiry."`
	Revoked           uint64                       `json:"tokens_revoked" metric:"herald_web_tokens_revoked_total,counter" help:"Page tokens revoked before expiry."`
	Pages             map[string]uint64            `json:"page_responses" metric:"herald_web_page_responses_total{encoding},counter" help:"Full page bodies sent, by content coding."`
	Requests          map[string]map[string]uint64 `json:"requests" metric:"herald_web_requests_total{route,class},counter" help:"HTTP responses by route and status class."`
	AdminUnauthorized uint64                       `json:"admin_unauthorized" metric:"herald_web_admin_unauthorized_total,counter" help:"Requests for /metrics, /varz or pprof refused 401: no or a wrong bearer token (http.admin_token_file)."`
	// The page listener, and the admin listener when it is separate.
	Addr      string `json:"addr,omitempty"`
	AdminAddr string `json:"admin_addr,omitempty"`
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Tokens:            s.tokens.len(),
		Published:         s.stats.published.Load(),
		Refused:           s.stats.refused.Load(),
		Expired:           s.stats.expired.Load(),
		Revoked:           s.stats.revoked.Load(),
		AdminUnauthorized: s.stats.adminDeny.Load(),
		Pages:             make(map[string]uint64, numCodings),
		Requests:          make(map[string]map[string]uint64, numRoutes),
		Addr:              s.Addr(),
		AdminAddr:         s.AdminAddr(),
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
