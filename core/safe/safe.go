// Package safe is the recovery net at the boundaries where Herald runs code on input from the wire: a
// SIP handler or call controller, an MSRP event-loop callback, an RTP wheel tick, an HTTP handler. A
// panic there would otherwise end the process, and with it every call on the node, so each boundary
// recovers it, answers where an answer is owed (500 with Retry-After for a SIP request), and reports it
// here: counted per plane as herald_panics_total{plane} and logged once with its stack.
//
// The net is not the fix. Every panic it catches is a bug to be fixed at its cause; the counter exists
// so that operators see it and alert on it.
//
// The pattern at a boundary (recover must be called by the deferred function itself):
//
//	defer func() {
//		if r := recover(); safe.Recovered(safe.SIP, log, r) {
//			// answer what is owed
//		}
//	}()
package safe

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/stats"
)

// Plane names a recovery boundary's plane: the label value of herald_panics_total.
type Plane int

// The planes.
const (
	SIP Plane = iota
	MSRP
	RTP
	HTTP
	numPlanes
)

var planeNames = [numPlanes]string{"sip", "msrp", "rtp", "http"}

func (p Plane) String() string {
	if p < 0 || p >= numPlanes {
		return fmt.Sprintf("plane(%d)", int(p))
	}
	return planeNames[p]
}

var counts [numPlanes]atomic.Uint64

// Recovered reports r, the value recover() returned at a boundary of plane. It returns false when r is
// nil (no panic); otherwise it counts the panic, logs it once at error level with its stack on log (or
// slog.Default when log is nil) and returns true.
func Recovered(p Plane, log *slog.Logger, r any) bool {
	if r == nil {
		return false
	}
	if p < 0 || p >= numPlanes {
		p = SIP
	}
	counts[p].Add(1)
	if log == nil {
		log = slog.Default()
	}
	log.Error("recovered panic; the request or connection is abandoned and the node goes on serving",
		"plane", p.String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return true
}

// Count is the number of panics recovered on plane p since the process started.
func Count(p Plane) uint64 {
	if p < 0 || p >= numPlanes {
		return 0
	}
	return counts[p].Load()
}

// Stats is the recovery net's /varz object; its metric tag (core/stats) declares
// herald_panics_total{plane}.
type Stats struct {
	Panics map[string]uint64 `json:"panics" metric:"herald_panics_total{plane},counter" help:"Panics recovered at a plane boundary (a bug: the request or connection was abandoned, the node kept serving)."`
}

// Snapshot returns the panics recovered so far on every plane (zero included, so an alert rule
// finds the series before the first panic).
func Snapshot() Stats {
	st := Stats{Panics: make(map[string]uint64, numPlanes)}
	for p := range numPlanes {
		st.Panics[p.String()] = counts[p].Load()
	}
	return st
}

// Collector exports herald_panics_total{plane} for every plane.
func Collector() prometheus.Collector { return stats.NewCollector(Snapshot) }
