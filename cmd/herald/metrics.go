package main

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/herald-ims/herald/core/config"
)

// processCollectors are the registry's process-level metrics: Go's runtime (go_*: goroutines, GC,
// heap), the process (process_*: CPU, resident memory, open file descriptors) and
// herald_build_info, a constant 1 whose labels say what runs where.
func processCollectors(o *config.Options) []prometheus.Collector {
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "herald_build_info",
		Help:        "Always 1; its labels are the Herald version, the Go version it was built with and the node name (node.name).",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version(), "node": o.Node.Name},
	})
	build.Set(1)
	return []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
	}
}
