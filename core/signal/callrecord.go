package signal

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// setupBuckets are the call-setup latencies, in seconds, that the histograms tell apart: from a
// few milliseconds (Herald's own 183) to the tens of seconds a ringing callee takes to answer.
var setupBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 180}

// callHists are the latency histograms of calls run by the call controller (invite.go).
type callHists struct {
	reliable prometheus.Histogram // INVITE received to the first reliable provisional sent upstream
	final    prometheus.Histogram // INVITE received to the final response sent upstream
}

func newCallHists() *callHists {
	return &callHists{
		reliable: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_sip_setup_reliable_provisional_seconds",
			Help:    "Time from an INVITE's arrival to the first reliable provisional (RFC 3262) Herald sent or relayed to the caller.",
			Buckets: setupBuckets,
		}),
		final: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_sip_setup_final_seconds",
			Help:    "Time from an INVITE's arrival to the final response Herald sent or relayed to the caller.",
			Buckets: setupBuckets,
		}),
	}
}

// callRecord is what a call controller remembers for its histograms and its one info line.
type callRecord struct {
	start    time.Time
	reliable bool         // the first reliable provisional went upstream (observed once)
	final    atomic.Int32 // the final response's code sent upstream, 0 while none
	ringback atomic.Bool  // ringback played to the caller
}

// noteReliable records the first reliable provisional sent upstream. On the controller goroutine.
func (c *callCtl) noteReliable() {
	if c.rec.reliable || c.rec.start.IsZero() || c.s.hist == nil {
		return
	}
	c.rec.reliable = true
	c.s.hist.reliable.Observe(time.Since(c.rec.start).Seconds())
}

// noteFinal records the final response sent upstream (the first one only).
func (c *callCtl) noteFinal(code int) {
	if code < 200 || c.rec.start.IsZero() || !c.rec.final.CompareAndSwap(0, int32(code)) || c.s.hist == nil {
		return
	}
	c.s.hist.final.Observe(time.Since(c.rec.start).Seconds())
}

// logEnd writes the one info line of a finished call: its outcome (the final response's code
// upstream, "none" when the caller's transaction ended without one), the push sessions opened,
// whether ringback played, and how long the controller ran.
func (c *callCtl) logEnd() {
	outcome := "none"
	if code := c.rec.final.Load(); code != 0 {
		outcome = strconv.Itoa(int(code))
	} else if c.m != nil && c.m.Canceled() {
		outcome = "cancelled" // the caller's CANCEL: sipgo's transaction layer answered 487
	}
	c.s.log.Info("call finished", "call_id", c.callID, "outcome", outcome, "pushes", len(c.sessions),
		"ringback", c.rec.ringback.Load(), "duration", time.Since(c.rec.start).Round(time.Microsecond).String())
}
