package msrp

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/msrp"
)

// latencyBuckets (seconds) span a loopback bind (well under a millisecond) to a page pushed over a
// slow radio link within the transfer timeout.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// hists are the plane's latency histograms; made once per Server (New) and registered by Collectors.
type hists struct {
	bind     prometheus.Histogram // connection admitted (or dialled) to session bound
	delivery prometheus.Histogram // session bound (the acquisition SEND's 200) to the success REPORT
}

func newHists() *hists {
	return &hists{
		bind: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_msrp_connect_to_bind_seconds",
			Help:    "Time from an MSRP connection's admission to its session binding (RFC 4975 §7.1: the terminal's acquisition SEND, or the 200 to Herald's).",
			Buckets: latencyBuckets,
		}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_msrp_page_delivery_seconds",
			Help:    "Time from a session's binding (acquisition SEND) to the success REPORT for the whole page (RFC 4975 §7.1.2).",
			Buckets: latencyBuckets,
		}),
	}
}

// noteBound observes connect-to-bind and starts the delivery clock. Loop-owned.
func (cs *connState) noteBound() {
	now := cs.s.mono()
	cs.boundAt = now
	cs.s.hist.bind.Observe(time.Duration(now - cs.openedAt).Seconds())
}

// noteDelivered observes the page's delivery time. Loop-owned.
func (cs *connState) noteDelivered() {
	if cs.boundAt != 0 {
		cs.s.hist.delivery.Observe(time.Duration(cs.s.mono() - cs.boundAt).Seconds())
	}
}

// traceIn hands Options.Trace a summary of one inbound frame: its start line and the headers that
// identify it (the body is not traced: it is the terminal's, and a chunk can be large).
func (cs *connState) traceIn(m *msrp.Message) {
	t := cs.s.opts.Trace
	if t == nil {
		return
	}
	var line string
	if m.IsRequest() {
		line = "MSRP " + string(m.TID) + " " + string(m.Method) + " Message-ID: " + string(m.MessageID)
		if m.HasByteRange {
			line += " Byte-Range: " + strconv.FormatInt(m.ByteRange.Start, 10) + "-" + strconv.FormatInt(m.ByteRange.End, 10)
		}
	} else {
		line = "MSRP " + string(m.TID) + " " + strconv.Itoa(m.Status)
	}
	t("recv", cs.ip.String(), line)
}

// traceOut hands Options.Trace the head of one outbound chunk (without its body).
func (cs *connState) traceOut(head []byte) {
	if t := cs.s.opts.Trace; t != nil {
		t("send", cs.ip.String(), string(head))
	}
}
