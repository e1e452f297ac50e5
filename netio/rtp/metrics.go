package rtp

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of the plane's counters since New.
type Stats struct {
	Streams     int           `json:"streams"`         // allocated streams, playing or not
	Playing     int           `json:"playing"`         // streams on a wheel
	Packets     uint64        `json:"packets"`         // RTP packets sent
	Octets      uint64        `json:"octets"`          // RTP payload octets sent
	Late        uint64        `json:"late"`            // RTP packets sent more than 10 ms after their due time
	Dropped     uint64        `json:"dropped"`         // datagrams the kernel refused (full send buffer, errors): lost at the sender
	RTCP        uint64        `json:"rtcp"`            // RTCP compound packets sent
	Latched     uint64        `json:"latched"`         // sockets that latched to the caller's source address
	Unconnected uint64        `json:"unconnected"`     // senders that could not be connected (those streams send unconnected)
	P50Lateness time.Duration `json:"p50_lateness_ns"` // lateness quantiles, 100 µs resolution, capped at 100 ms
	P99Lateness time.Duration `json:"p99_lateness_ns"`
	MaxLateness time.Duration `json:"max_lateness_ns"` // upper edge of the highest non-empty bucket
}

// Stats returns the current counters, summed over the shards.
func (p *Plane) Stats() Stats {
	st := Stats{Streams: int(p.streams.Load()), Latched: p.latched.Load(), Unconnected: p.unconnected.Load()}
	var hist [lateBuckets]uint64
	for _, sh := range p.shards {
		st.Playing += int(sh.playing.Load())
		st.Packets += sh.sent.Load()
		st.Octets += sh.octets.Load()
		st.Late += sh.late.Load()
		st.Dropped += sh.dropped.Load()
		st.RTCP += sh.rtcpOut.Load()
		for i := range hist {
			hist[i] += sh.hist[i].Load()
		}
	}
	st.P50Lateness = quantile(&hist, 0.50)
	st.P99Lateness = quantile(&hist, 0.99)
	for i := lateBuckets - 1; i >= 0; i-- {
		if hist[i] != 0 {
			st.MaxLateness = time.Duration(int64(i+1) * lateBucketNs)
			break
		}
	}
	return st
}

// LatenessHistogram returns the raw per-bucket packet counts (bucket i holds lateness in
// [i, i+1) × 100 µs; the last bucket is everything from 100 ms up).
func (p *Plane) LatenessHistogram() []uint64 {
	h := make([]uint64, lateBuckets)
	for _, sh := range p.shards {
		for i := range h {
			h[i] += sh.hist[i].Load()
		}
	}
	return h
}

func quantile(h *[lateBuckets]uint64, q float64) time.Duration {
	var total uint64
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	var acc uint64
	for i, c := range h {
		acc += c
		if acc > rank {
			return time.Duration(int64(i+1) * lateBucketNs)
		}
	}
	return time.Duration(lateBuckets * lateBucketNs)
}

// Prometheus metrics (namespace herald, subsystem rtp):
//
//	herald_rtp_streams                     gauge   allocated streams
//	herald_rtp_streams_playing             gauge   streams on a wheel
//	herald_rtp_packets_sent_total          counter RTP packets sent
//	herald_rtp_payload_bytes_total         counter RTP payload octets sent
//	herald_rtp_packets_late_total          counter RTP packets sent more than 10 ms late
//	herald_rtp_packets_dropped_total       counter datagrams lost at the sender
//	herald_rtp_rtcp_sent_total             counter RTCP compound packets sent
//	herald_rtp_latched_total               counter sockets latched to the caller (symmetric RTP)
//	herald_rtp_senders_unconnected_total   counter senders that could not be connected (dearer sends)
//	herald_rtp_send_lateness_seconds       histogram send time minus due time
var (
	descStreams  = prometheus.NewDesc("herald_rtp_streams", "Allocated RTP streams.", nil, nil)
	descPlaying  = prometheus.NewDesc("herald_rtp_streams_playing", "RTP streams on a timing wheel.", nil, nil)
	descSent     = prometheus.NewDesc("herald_rtp_packets_sent_total", "RTP packets sent.", nil, nil)
	descOctets   = prometheus.NewDesc("herald_rtp_payload_bytes_total", "RTP payload octets sent.", nil, nil)
	descLate     = prometheus.NewDesc("herald_rtp_packets_late_total", "RTP packets sent more than 10 ms after their due time.", nil, nil)
	descDropped  = prometheus.NewDesc("herald_rtp_packets_dropped_total", "Datagrams lost at the sender.", nil, nil)
	descRTCP     = prometheus.NewDesc("herald_rtp_rtcp_sent_total", "RTCP compound packets sent.", nil, nil)
	descLatched  = prometheus.NewDesc("herald_rtp_latched_total", "Sockets latched to the caller's source address.", nil, nil)
	descUnconn   = prometheus.NewDesc("herald_rtp_senders_unconnected_total", "Stream senders that could not be connected; those streams send with an address per datagram.", nil, nil)
	descLateness = prometheus.NewDesc("herald_rtp_send_lateness_seconds", "Send time minus due time of RTP packets.", nil, nil)
	// latenessEdges are the exported histogram bounds, in 100 µs buckets.
	latenessEdges = []int{5, 10, 20, 50, 100, 200, 500, 1000}
)

type collector struct{ p *Plane }

// Collectors returns the plane's Prometheus collectors, to register once.
func (p *Plane) Collectors() []prometheus.Collector { return []prometheus.Collector{collector{p}} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStreams, descPlaying, descSent, descOctets, descLate, descDropped,
		descRTCP, descLatched, descUnconn, descLateness} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(st.Streams))
	ch <- prometheus.MustNewConstMetric(descPlaying, prometheus.GaugeValue, float64(st.Playing))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(st.Packets))
	ch <- prometheus.MustNewConstMetric(descOctets, prometheus.CounterValue, float64(st.Octets))
	ch <- prometheus.MustNewConstMetric(descLate, prometheus.CounterValue, float64(st.Late))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(descRTCP, prometheus.CounterValue, float64(st.RTCP))
	ch <- prometheus.MustNewConstMetric(descLatched, prometheus.CounterValue, float64(st.Latched))
	ch <- prometheus.MustNewConstMetric(descUnconn, prometheus.CounterValue, float64(st.Unconnected))
	h := c.p.LatenessHistogram()
	buckets := make(map[float64]uint64, len(latenessEdges))
	var count uint64
	var sum float64
	for i, n := range h {
		count += n
		sum += float64(n) * (float64(i) + 0.5) * float64(lateBucketNs) / 1e9 // bucket midpoints
	}
	for _, e := range latenessEdges {
		var acc uint64
		for _, n := range h[:e] {
			acc += n
		}
		buckets[float64(int64(e)*lateBucketNs)/1e9] = acc
	}
	ch <- prometheus.MustNewConstHistogram(descLateness, count, sum, buckets)
}
