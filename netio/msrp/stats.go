package msrp

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/herald-ims/herald/core/push"
)

// counters are the plane's statistics; Stats and the Prometheus collector read the same atomics.
type counters struct {
	accepted, refusedLimit                          atomic.Int64
	binds, bindUnknown, bindRejected, bindTimeouts  atomic.Int64
	idleTimeouts                                    atomic.Int64
	delivered, failed, timedOut, aborted, discarded atomic.Int64
	bytesSent, bytesReceived                        atomic.Int64
	malformed, tooLarge, reportsUnknown             atomic.Int64
	pauses, maxOutbound                             atomic.Int64
	engineRestarts                                  atomic.Int64
	dialBusy, dialFailed                            atomic.Int64
	tlsHandshakeFailed, acceptErrors                atomic.Int64
}

func (c *counters) outcome(o push.Outcome) {
	switch o {
	case push.Delivered:
		c.delivered.Add(1)
	case push.Failed:
		c.failed.Add(1)
	case push.TimedOut:
		c.timedOut.Add(1)
	case push.Aborted:
		c.aborted.Add(1)
	case push.Disconnected:
		c.discarded.Add(1)
	}
}

// noteOutbound records the largest outbound backlog seen right after a chunk write.
func (c *counters) noteOutbound(n int64) {
	for {
		cur := c.maxOutbound.Load()
		if n <= cur || c.maxOutbound.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Stats is a snapshot of the plane's counters (totals since New, except the *Open gauges).
type Stats struct {
	ConnsOpen         int64 `json:"conns_open"`          // connections open now
	ConnsAccepted     int64 `json:"conns_accepted"`      // connections admitted
	ConnsRefusedLimit int64 `json:"conns_refused_limit"` // connections refused by MaxConns or MaxConnsPerIP
	SessionsOpen      int64 `json:"sessions_open"`       // sessions registered and not yet reported

	Binds          int64 `json:"binds"`            // acquisition requests that bound a session
	BindUnknown481 int64 `json:"bind_unknown_481"` // binds for an unknown, expired or finished session (481)
	BindRejected   int64 `json:"bind_rejected"`    // binds for a session bound elsewhere (506), or a second session on a connection (403)
	BindTimeouts   int64 `json:"bind_timeouts"`    // connections closed for not binding within BindTimeout
	IdleTimeouts   int64 `json:"idle_timeouts"`    // connections closed for silence

	DeliveriesOK           int64 `json:"deliveries_ok"`           // Delivered results
	DeliveriesFailed       int64 `json:"deliveries_failed"`       // Failed results
	DeliveriesTimeout      int64 `json:"deliveries_timeout"`      // TimedOut results (never bound, or not confirmed in time)
	DeliveriesAborted      int64 `json:"deliveries_aborted"`      // Aborted results (Close, Stop)
	DeliveriesDisconnected int64 `json:"deliveries_disconnected"` // Disconnected results

	BytesSent       int64 `json:"bytes_sent"`       // page body bytes handed to connections
	BytesReceived   int64 `json:"bytes_received"`   // bytes read from terminals' connections (every read, whatever it holds)
	FramesMalformed int64 `json:"frames_malformed"` // malformed frames and unusable To-Path/Status values
	FramesTooLarge  int64 `json:"frames_too_large"` // frames over MaxHeaderBytes or MaxChunkBytes (413)
	ReportsUnknown  int64 `json:"reports_unknown"`  // REPORTs for no transfer of the connection (ignored)

	OutboundPauses    int64 `json:"outbound_pauses"`     // times a transfer stopped at the MaxOutbound mark
	MaxOutboundQueued int64 `json:"max_outbound_queued"` // largest outbound backlog of a connection seen after a chunk write
	EngineRestarts    int64 `json:"engine_restarts"`     // engine runs restarted after an unexpected stop

	DialsBusy          int64 `json:"dials_busy"`           // Connect calls refused at MaxDials
	DialsFailed        int64 `json:"dials_failed"`         // outgoing connections (Connect) not established: TCP connect, or msrps handshake
	TLSHandshakeFailed int64 `json:"tls_handshake_failed"` // msrps connections, accepted or dialled, closed for a failed or timed-out handshake
	AcceptErrors       int64 `json:"accept_errors"`        // msrps accept errors (e.g. EMFILE), each followed by a backoff
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.st
	return Stats{
		ConnsOpen:              s.connCount.Load(),
		ConnsAccepted:          c.accepted.Load(),
		ConnsRefusedLimit:      c.refusedLimit.Load(),
		SessionsOpen:           s.sessions.count.Load(),
		Binds:                  c.binds.Load(),
		BindUnknown481:         c.bindUnknown.Load(),
		BindRejected:           c.bindRejected.Load(),
		BindTimeouts:           c.bindTimeouts.Load(),
		IdleTimeouts:           c.idleTimeouts.Load(),
		DeliveriesOK:           c.delivered.Load(),
		DeliveriesFailed:       c.failed.Load(),
		DeliveriesTimeout:      c.timedOut.Load(),
		DeliveriesAborted:      c.aborted.Load(),
		DeliveriesDisconnected: c.discarded.Load(),
		BytesSent:              c.bytesSent.Load(),
		BytesReceived:          c.bytesReceived.Load(),
		FramesMalformed:        c.malformed.Load(),
		FramesTooLarge:         c.tooLarge.Load(),
		ReportsUnknown:         c.reportsUnknown.Load(),
		OutboundPauses:         c.pauses.Load(),
		MaxOutboundQueued:      c.maxOutbound.Load(),
		EngineRestarts:         c.engineRestarts.Load(),
		DialsBusy:              c.dialBusy.Load(),
		DialsFailed:            c.dialFailed.Load(),
		TLSHandshakeFailed:     c.tlsHandshakeFailed.Load(),
		AcceptErrors:           c.acceptErrors.Load(),
	}
}

// gnetLogger routes gnet's warnings and errors to slog and drops its debug and info lines (its default
// zap logger prints at boot and is configured by environment variables).
type gnetLogger struct{ log *slog.Logger }

func (gnetLogger) Debugf(string, ...any) {}
func (gnetLogger) Infof(string, ...any)  {}
func (l gnetLogger) Warnf(format string, args ...any) {
	l.log.Warn("gnet", "detail", fmt.Sprintf(format, args...))
}
func (l gnetLogger) Errorf(format string, args ...any) {
	l.log.Error("gnet", "detail", fmt.Sprintf(format, args...))
}
func (l gnetLogger) Fatalf(format string, args ...any) {
	l.log.Error("gnet fatal", "detail", fmt.Sprintf(format, args...))
}
