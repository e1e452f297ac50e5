package msrp

import "github.com/prometheus/client_golang/prometheus"

const (
	metricsNamespace = "herald"
	metricsSubsystem = "msrp"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, name), help, labels, nil)
}

var (
	descConnsOpen      = desc("connections_open", "MSRP connections open now.")
	descConnsAccepted  = desc("connections_accepted_total", "MSRP connections admitted.")
	descConnsRefused   = desc("connections_refused_total", "MSRP connections refused by the per-server or per-IP limit.")
	descSessionsOpen   = desc("sessions_open", "Push sessions registered and not yet reported.")
	descBinds          = desc("binds_total", "Acquisition requests by result.", "result")
	descBindTimeouts   = desc("bind_timeouts_total", "Connections closed for not binding in time.")
	descIdleTimeouts   = desc("idle_timeouts_total", "Connections closed for silence.")
	descDeliveries     = desc("deliveries_total", "Push session results by outcome.", "outcome")
	descBytesSent      = desc("sent_bytes_total", "Page body bytes handed to connections.")
	descBytesReceived  = desc("received_bytes_total", "Bytes read from terminals' connections.")
	descFramesBad      = desc("frames_rejected_total", "Frames rejected by reason.", "reason")
	descReportsUnknown = desc("reports_unknown_total", "REPORTs that matched no transfer.")
	descPauses         = desc("outbound_pauses_total", "Transfers paused at the outbound high-water mark.")
	descMaxOutbound    = desc("outbound_max_queued_bytes", "Largest outbound backlog of a connection seen after a write.")
	descRestarts       = desc("engine_restarts_total", "Engine restarts after an unexpected stop.")
	descDials          = desc("dials_total", "Outgoing connections (Herald active) that failed or were refused, by result.", "result")
	descTLSHandshake   = desc("tls_handshake_failures_total", "msrps connections, accepted or dialled, closed for a failed or timed-out TLS handshake.")
	descAcceptErrors   = desc("accept_errors_total", "msrps accept errors, each followed by a backoff.")
)

// collector exposes the Stats counters; it reads the same atomics as Stats.
type collector struct{ s *Server }

// Collectors returns the plane's Prometheus collectors for the caller to register (namespace herald,
// subsystem msrp):
//
//	herald_msrp_connections_open, herald_msrp_connections_accepted_total,
//	herald_msrp_connections_refused_total, herald_msrp_sessions_open,
//	herald_msrp_binds_total{result="bound|unknown_481|rejected"}, herald_msrp_bind_timeouts_total,
//	herald_msrp_idle_timeouts_total,
//	herald_msrp_deliveries_total{outcome="delivered|failed|timed-out|aborted|disconnected"},
//	herald_msrp_sent_bytes_total, herald_msrp_received_bytes_total, herald_msrp_frames_rejected_total{reason="malformed|too_large"},
//	herald_msrp_reports_unknown_total, herald_msrp_outbound_pauses_total,
//	herald_msrp_outbound_max_queued_bytes, herald_msrp_engine_restarts_total,
//	herald_msrp_dials_total{result="failed|busy"}, herald_msrp_tls_handshake_failures_total,
//	herald_msrp_accept_errors_total.
func (s *Server) Collectors() []prometheus.Collector {
	return []prometheus.Collector{collector{s}, s.hist.bind, s.hist.delivery}
}

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnsOpen, descConnsAccepted, descConnsRefused, descSessionsOpen,
		descBinds, descBindTimeouts, descIdleTimeouts, descDeliveries, descBytesSent, descBytesReceived, descFramesBad,
		descReportsUnknown, descPauses, descMaxOutbound, descRestarts, descDials, descTLSHandshake,
		descAcceptErrors} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	gauge := func(d *prometheus.Desc, v int64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), l...)
	}
	counter := func(d *prometheus.Desc, v int64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	gauge(descConnsOpen, st.ConnsOpen)
	counter(descConnsAccepted, st.ConnsAccepted)
	counter(descConnsRefused, st.ConnsRefusedLimit)
	gauge(descSessionsOpen, st.SessionsOpen)
	counter(descBinds, st.Binds, "bound")
	counter(descBinds, st.BindUnknown481, "unknown_481")
	counter(descBinds, st.BindRejected, "rejected")
	counter(descBindTimeouts, st.BindTimeouts)
	counter(descIdleTimeouts, st.IdleTimeouts)
	counter(descDeliveries, st.DeliveriesOK, "delivered")
	counter(descDeliveries, st.DeliveriesFailed, "failed")
	counter(descDeliveries, st.DeliveriesTimeout, "timed-out")
	counter(descDeliveries, st.DeliveriesAborted, "aborted")
	counter(descDeliveries, st.DeliveriesDisconnected, "disconnected")
	counter(descBytesSent, st.BytesSent)
	counter(descBytesReceived, st.BytesReceived)
	counter(descFramesBad, st.FramesMalformed, "malformed")
	counter(descFramesBad, st.FramesTooLarge, "too_large")
	counter(descReportsUnknown, st.ReportsUnknown)
	counter(descPauses, st.OutboundPauses)
	gauge(descMaxOutbound, st.MaxOutboundQueued)
	counter(descRestarts, st.EngineRestarts)
	counter(descDials, st.DialsFailed, "failed")
	counter(descDials, st.DialsBusy, "busy")
	counter(descTLSHandshake, st.TLSHandshakeFailed)
	counter(descAcceptErrors, st.AcceptErrors)
}
