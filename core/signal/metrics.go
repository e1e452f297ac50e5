package signal

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/sipstats"
	"github.com/herald-ims/herald/core/stats"
)

// Snapshot is the SIP plane's /varz object (core/sipstats: its metric tags declare the SIP plane's
// Prometheus counters and gauges).
type Snapshot = sipstats.Snapshot

// Snapshot reads the SIP plane's counters.
func (s *Server) Snapshot() Snapshot {
	var u [4]uint64
	u[0], u[1], u[2], u[3] = s.UDPStats()
	return sipstats.Read(&s.Stats, s.ActiveCalls(), s.Draining(), s.FastTransactions(), s.deps.Capabilities, u, s.deps.Shed)
}

// Collectors returns the SIP layer's Prometheus collectors, to register once: the counters and
// gauges of [Snapshot] and the call-setup histograms.
func (s *Server) Collectors() []prometheus.Collector {
	cs := []prometheus.Collector{stats.NewCollector(s.Snapshot)}
	if s.hist != nil { // nil only in a Server built without New (unit tests)
		cs = append(cs, s.hist.Reliable, s.hist.Final)
	}
	return cs
}
