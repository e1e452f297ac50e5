package callsip

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
)

// callRecord is what a call controller remembers for its histograms and its one info line.
type callRecord struct {
	start    time.Time
	reliable bool         // the first reliable provisional went upstream (observed once)
	final    atomic.Int32 // the final response's code sent upstream, 0 while none
	ringback atomic.Bool  // ringback played to the caller
}

// noteReliable records the first reliable provisional sent upstream. On the controller goroutine.
func (c *Call) noteReliable() {
	if c.rec.reliable || c.rec.start.IsZero() || c.env.Hist == nil {
		return
	}
	c.rec.reliable = true
	c.env.Hist.Reliable.Observe(time.Since(c.rec.start).Seconds())
}

// noteFinal records the final response sent upstream (the first one only).
func (c *Call) noteFinal(code int) {
	if code < 200 || c.rec.start.IsZero() || !c.rec.final.CompareAndSwap(0, int32(code)) || c.env.Hist == nil {
		return
	}
	c.env.Hist.Final.Observe(time.Since(c.rec.start).Seconds())
}

// logEnd writes the one info line of a finished call: its outcome (the final response's code
// upstream, "none" when the caller's transaction ended without one), the push sessions opened,
// whether ringback played, and how long the controller ran. Nothing of it is built when the
// logger does not write info lines (a node at warn: every call would pay for a line never written).
func (c *Call) logEnd() {
	if !c.env.Log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	outcome := "none"
	if code := c.rec.final.Load(); code != 0 {
		outcome = strconv.Itoa(int(code))
	} else if c.m != nil && c.m.Canceled() {
		outcome = "cancelled" // the caller's CANCEL: sipgo's transaction layer answered 487
	}
	c.env.Log.Info("call finished", "call_id", c.callID, "outcome", outcome, "pushes", len(c.sessions),
		"ringback", c.rec.ringback.Load(), "duration", time.Since(c.rec.start).Round(time.Microsecond).String())
}
