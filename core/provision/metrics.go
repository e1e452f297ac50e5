package provision

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the package's counters (namespace herald, subsystem provision):
//
//	herald_provision_errors_total{code}          error answers, by stable code
//	herald_provision_writes_total{op}            durable writes: create, update, delete, set_ref (a card or the ringback set or cleared)
//	herald_provision_cards_rejected_total{code}  uploaded cards refused by the sanitiser
type metrics struct {
	errors   *prometheus.CounterVec
	writes   *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "herald", Subsystem: "provision",
			Name: "errors_total", Help: "Provisioning API error answers by code."}, []string{"code"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "herald", Subsystem: "provision",
			Name: "writes_total", Help: "Durable provisioning writes by operation."}, []string{"op"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "herald", Subsystem: "provision",
			Name: "cards_rejected_total", Help: "Uploaded cards refused, by code."}, []string{"code"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.errors, m.writes, m.rejected} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("%w: register metrics: %w", ErrBadOptions, err)
			}
		}
	}
	return m, nil
}
