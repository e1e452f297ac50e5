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
	forkedBinds, forkCapped, forkedDelivered        atomic.Int64
	idleTimeouts                                    atomic.Int64
	lingerPeer, lingerFlushed, lingerStalled        atomic.Int64
	lingerCapped                                    atomic.Int64
	delivered, failed, timedOut, aborted, discarded atomic.Int64
	bytesSent, bytesReceived                        atomic.Int64
	malformed, tooLarge, reportsUnknown             atomic.Int64
	answersUnread                                   atomic.Int64
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

// Stats is a snapshot of the plane's counters (totals since New, except the *Open gauges and
// MaxOutboundQueued). It is the plane's /varz object and, through its metric tags (core/stats),
// its Prometheus metrics (namespace herald, subsystem msrp): each is declared here only.
type Stats struct {
	ConnsOpen         int64 `json:"conns_open" metric:"herald_msrp_connections_open,gauge" help:"MSRP connections open now."`
	ConnsAccepted     int64 `json:"conns_accepted" metric:"herald_msrp_connections_accepted_total,counter" help:"MSRP connections admitted."`
	ConnsRefusedLimit int64 `json:"conns_refused_limit" metric:"herald_msrp_connections_refused_total,counter" help:"MSRP connections refused by the per-server or per-IP limit."`
	SessionsOpen      int64 `json:"sessions_open" metric:"herald_msrp_sessions_open,gauge" help:"Push sessions registered and not yet ended (a forkable one ends when its call closes it or at its bind deadline)."`

	// Acquisition requests by result: bound a session; bound a forkable session after its first
	// terminal (a forked early dialog's terminal, fork.go); unknown, expired or finished session
	// (481); session bound elsewhere (506) or a second session on a connection (403); a forkable
	// session's further terminal refused at MaxForkBinds (506).
	Binds            int64 `json:"binds" metric:"herald_msrp_binds_total{result=bound},counter" help:"Acquisition requests by result."`
	ForkedBinds      int64 `json:"forked_binds" metric:"herald_msrp_binds_total{result=forked},counter"`
	BindUnknown481   int64 `json:"bind_unknown_481" metric:"herald_msrp_binds_total{result=unknown_481},counter"`
	BindRejected     int64 `json:"bind_rejected" metric:"herald_msrp_binds_total{result=rejected},counter"`
	ForkBindsRefused int64 `json:"fork_binds_refused" metric:"herald_msrp_binds_total{result=fork_cap},counter"`
	BindTimeouts     int64 `json:"bind_timeouts" metric:"herald_msrp_bind_timeouts_total,counter" help:"Connections closed for not binding in time."`
	IdleTimeouts     int64 `json:"idle_timeouts" metric:"herald_msrp_idle_timeouts_total,counter" help:"Connections closed for silence."`

	// Lingering closes (a connection Herald is done with, except after a confirmed delivery) by how
	// they ended: the terminal closed or reset it; Herald closed it once the terminal had taken and
	// acknowledged everything; Herald closed it because the terminal took nothing for 2 s (stalled), or
	// at msrp.linger_max while it was still taking bytes (cap). Stalled and cap closes lose what was
	// still queued toward the terminal, perhaps an abort's '#'.
	LingerClosedByPeer int64 `json:"linger_closed_by_peer" metric:"herald_msrp_linger_closes_total{by=peer},counter" help:"Lingering closes by how they ended: peer, flushed, stalled or cap (the last two cut bytes still queued)."`
	LingerFlushed      int64 `json:"linger_flushed" metric:"herald_msrp_linger_closes_total{by=flushed},counter"`
	LingerStalled      int64 `json:"linger_stalled" metric:"herald_msrp_linger_closes_total{by=stalled},counter"`
	LingerCapped       int64 `json:"linger_capped" metric:"herald_msrp_linger_closes_total{by=cap},counter"`

	// Push session results: Delivered, Failed, TimedOut (never bound, or not confirmed in time),
	// Aborted (Close, Stop), Disconnected; and the outcome of each forked binding's transfer, which is
	// counted here but never reported to the call. ForkedDeliveriesOK: those of them delivered.
	DeliveriesOK           int64 `json:"deliveries_ok" metric:"herald_msrp_deliveries_total{outcome=delivered},counter" help:"Push session results by outcome, and the outcomes of forked bindings' transfers."`
	DeliveriesFailed       int64 `json:"deliveries_failed" metric:"herald_msrp_deliveries_total{outcome=failed},counter"`
	DeliveriesTimeout      int64 `json:"deliveries_timeout" metric:"herald_msrp_deliveries_total{outcome=timed-out},counter"`
	DeliveriesAborted      int64 `json:"deliveries_aborted" metric:"herald_msrp_deliveries_total{outcome=aborted},counter"`
	DeliveriesDisconnected int64 `json:"deliveries_disconnected" metric:"herald_msrp_deliveries_total{outcome=disconnected},counter"`
	ForkedDeliveriesOK     int64 `json:"forked_deliveries_ok" metric:"herald_msrp_forked_deliveries_total,counter" help:"Pages delivered to a forkable session's further terminals (forked early dialogs; also in deliveries_total, never reported to the call)."`

	BytesSent       int64 `json:"bytes_sent" metric:"herald_msrp_sent_bytes_total,counter" help:"Page body bytes handed to connections."`
	BytesReceived   int64 `json:"bytes_received" metric:"herald_msrp_received_bytes_total,counter" help:"Bytes read from terminals' connections."`
	FramesMalformed int64 `json:"frames_malformed" metric:"herald_msrp_frames_rejected_total{reason=malformed},counter" help:"Frames rejected by reason."` // and unusable To-Path/Status values
	FramesTooLarge  int64 `json:"frames_too_large" metric:"herald_msrp_frames_rejected_total{reason=too_large},counter"`                                   // over MaxHeaderBytes or MaxChunkBytes (413)
	FramesUnread    int64 `json:"frames_answers_unread" metric:"herald_msrp_frames_rejected_total{reason=answers_unread},counter"`                         // the peer left MaxOutbound of answers unread: the connection ended
	ReportsUnknown  int64 `json:"reports_unknown" metric:"herald_msrp_reports_unknown_total,counter" help:"REPORTs that matched no transfer."`

	OutboundPauses    int64 `json:"outbound_pauses" metric:"herald_msrp_outbound_pauses_total,counter" help:"Transfers paused at the outbound high-water mark."`
	MaxOutboundQueued int64 `json:"max_outbound_queued" metric:"herald_msrp_outbound_max_queued_bytes,gauge" help:"Largest outbound backlog of a connection seen after a write."`
	EngineRestarts    int64 `json:"engine_restarts" metric:"herald_msrp_engine_restarts_total,counter" help:"Engine restarts after an unexpected stop."`

	DialsBusy          int64 `json:"dials_busy" metric:"herald_msrp_dials_total{result=busy},counter" help:"Outgoing connections (Herald active) that failed or were refused, by result."` // refused at MaxDials
	DialsFailed        int64 `json:"dials_failed" metric:"herald_msrp_dials_total{result=failed},counter"`                                                                                 // TCP connect or msrps handshake failed
	TLSHandshakeFailed int64 `json:"tls_handshake_failed" metric:"herald_msrp_tls_handshake_failures_total,counter" help:"msrps connections, accepted or dialled, closed for a failed or timed-out TLS handshake."`
	AcceptErrors       int64 `json:"accept_errors" metric:"herald_msrp_accept_errors_total,counter" help:"msrps accept errors, each followed by a backoff."`
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
		ForkedBinds:            c.forkedBinds.Load(),
		BindUnknown481:         c.bindUnknown.Load(),
		BindRejected:           c.bindRejected.Load(),
		ForkBindsRefused:       c.forkCapped.Load(),
		BindTimeouts:           c.bindTimeouts.Load(),
		IdleTimeouts:           c.idleTimeouts.Load(),
		LingerClosedByPeer:     c.lingerPeer.Load(),
		LingerFlushed:          c.lingerFlushed.Load(),
		LingerStalled:          c.lingerStalled.Load(),
		LingerCapped:           c.lingerCapped.Load(),
		DeliveriesOK:           c.delivered.Load(),
		DeliveriesFailed:       c.failed.Load(),
		DeliveriesTimeout:      c.timedOut.Load(),
		DeliveriesAborted:      c.aborted.Load(),
		DeliveriesDisconnected: c.discarded.Load(),
		ForkedDeliveriesOK:     c.forkedDelivered.Load(),
		BytesSent:              c.bytesSent.Load(),
		BytesReceived:          c.bytesReceived.Load(),
		FramesMalformed:        c.malformed.Load(),
		FramesTooLarge:         c.tooLarge.Load(),
		FramesUnread:           c.answersUnread.Load(),
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
