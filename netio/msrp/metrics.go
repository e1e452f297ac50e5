package msrp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/stats"
)

// Collectors returns the plane's Prometheus collectors for the caller to register: the counters and
// gauges of [Stats] (declared by its metric tags, herald_msrp_*) and the connect-to-bind and
// page-delivery histograms.
func (s *Server) Collectors() []prometheus.Collector {
	return []prometheus.Collector{stats.NewCollector(s.Stats), s.hist.bind, s.hist.delivery}
}
