package provision

import (
	"fmt"
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/stats"
)

// Stats is the provisioning API's /varz object. Its metric tags (core/stats) declare the package's
// Prometheus counters (namespace herald, subsystem provision); the maps are keyed by the label value.
type Stats struct {
	Errors        map[string]uint64 `json:"errors" metric:"herald_provision_errors_total{code},counter" help:"Provisioning API error answers by code."`
	Writes        map[string]uint64 `json:"writes" metric:"herald_provision_writes_total{op},counter" help:"Durable provisioning writes by operation."` // create, update, delete, set_ref
	CardsRejected map[string]uint64 `json:"cards_rejected" metric:"herald_provision_cards_rejected_total{code},counter" help:"Uploaded cards refused, by code."`
}

// counts is a set of counters keyed by a label value (a stable error code, an operation).
type counts struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *counts) inc(label string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]uint64{}
	}
	c.m[label]++
	c.mu.Unlock()
}

func (c *counts) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		return map[string]uint64{}
	}
	return maps.Clone(c.m)
}

// metrics are the package's counters.
type metrics struct {
	errors, writes, rejected counts
}

func newMetrics(a *API, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	if reg != nil {
		if err := reg.Register(stats.NewCollector(a.Stats)); err != nil {
			return nil, fmt.Errorf("%w: register metrics: %w", ErrBadOptions, err)
		}
	}
	return m, nil
}

// Stats returns a snapshot of the API's counters.
func (a *API) Stats() Stats {
	return Stats{Errors: a.stats.errors.snapshot(), Writes: a.stats.writes.snapshot(), CardsRejected: a.stats.rejected.snapshot()}
}
