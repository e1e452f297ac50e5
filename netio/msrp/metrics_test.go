package msrp

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

func TestCollectors(t *testing.T) {
	s := startServer(t, testOptions())
	reg := prometheus.NewPedanticRegistry()
	for _, c := range s.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	page := htmlPage(t, 5000)
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
	c := dial(t, s)
	c.bind(s.PathURI(sess.ID))
	c.mustNext(2 * time.Second)
	r := c.receivePage(2*time.Second, true)
	c.report(s.PathURI(sess.ID), r.msgID, msrp.ByteRange{Start: 1, End: 5000, Total: 5000}, 200)
	waitResult(t, sess, 2*time.Second)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"herald_msrp_connections_accepted_total":              1,
		"herald_msrp_binds_total{result=bound}":               1,
		"herald_msrp_binds_total{result=forked}":              0, // a forkable session's further terminals (fork.go)
		"herald_msrp_binds_total{result=fork_cap}":            0,
		"herald_msrp_forked_deliveries_total":                 0,
		"herald_msrp_deliveries_total{outcome=delivered}":     1,
		"herald_msrp_deliveries_total{outcome=disconnected}":  0,
		"herald_msrp_sent_bytes_total":                        5000,
		"herald_msrp_received_bytes_total":                    float64(s.Stats().BytesReceived),
		"herald_msrp_sessions_open":                           0,
		"herald_msrp_frames_rejected_total{reason=malformed}": 0,
		"herald_msrp_connections_refused_total":               0,
		"herald_msrp_engine_restarts_total":                   0,
		"herald_msrp_dials_total{result=failed}":              0,
		"herald_msrp_tls_handshake_failures_total":            0,
		"herald_msrp_linger_closes_total{by=cap}":             0, // a delivery closes at once: no linger
		"herald_msrp_linger_closes_total{by=peer}":            0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}
