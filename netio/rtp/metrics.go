package rtp

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-ims/herald/core/stats"
)

// Stats is a snapshot of the plane's counters since New. It is the plane's /varz object and,
// through its metric tags (core/stats), its Prometheus counters and gauges (herald_rtp_*); the
// lateness histogram (herald_rtp_send_lateness_seconds) is exported beside it.
type Stats struct {
	Streams     int    `json:"streams" metric:"herald_rtp_streams,gauge" help:"Allocated RTP streams."`                 // playing or not
	Playing     int    `json:"playing" metric:"herald_rtp_streams_playing,gauge" help:"RTP streams on a timing wheel."` // streams on a wheel
	Packets     uint64 `json:"packets" metric:"herald_rtp_packets_sent_total,counter" help:"RTP packets sent."`
	Octets      uint64 `json:"octets" metric:"herald_rtp_payload_bytes_total,counter" help:"RTP payload octets sent."`
	Late        uint64 `json:"late" metric:"herald_rtp_packets_late_total,counter" help:"RTP packets sent more than 10 ms after their due time."`
	Dropped     uint64 `json:"dropped" metric:"herald_rtp_packets_dropped_total,counter" help:"Datagrams lost at the sender."` // the kernel refused them (full send buffer, errors)
	RTCP        uint64 `json:"rtcp" metric:"herald_rtp_rtcp_sent_total,counter" help:"RTCP compound packets sent."`
	Latched     uint64 `json:"latched" metric:"herald_rtp_latched_total,counter" help:"Sockets latched to the caller's source address."`
	Unconnected uint64 `json:"unconnected" metric:"herald_rtp_senders_unconnected_total,counter" help:"Stream senders that could not be connected; those streams send with an address per datagram."`
	// Lateness quantiles of the packets sent so far (100 µs resolution, capped at 100 ms; max is the
	// upper edge of the highest non-empty bucket): nanoseconds on /varz, seconds on /metrics.
	P50Lateness time.Duration `json:"p50_lateness_ns" metric:"herald_rtp_send_lateness_quantile_seconds{quantile=0.5},gauge" help:"Send lateness quantiles of the RTP packets sent since start (100 µs resolution)."`
	P99Lateness time.Duration `json:"p99_lateness_ns" metric:"herald_rtp_send_lateness_quantile_seconds{quantile=0.99},gauge"`
	MaxLateness time.Duration `json:"max_lateness_ns" metric:"herald_rtp_send_lateness_max_seconds,gauge" help:"Upper edge of the highest non-empty send lateness bucket since start."`
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

// descLateness is the lateness histogram (core/stats exports the counters and gauges of Stats).
var (
	descLateness = prometheus.NewDesc("herald_rtp_send_lateness_seconds", "Send time minus due time of RTP packets.", nil, nil)
	// latenessEdges are the exported histogram bounds, in 100 µs buckets.
	latenessEdges = []int{5, 10, 20, 50, 100, 200, 500, 1000}
)

// collector exports the lateness histogram.
type collector struct{ p *Plane }

// Collectors returns the plane's Prometheus collectors, to register once: the counters and gauges
// of [Stats] and the lateness histogram.
func (p *Plane) Collectors() []prometheus.Collector {
	return []prometheus.Collector{stats.NewCollector(p.Stats), collector{p}}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- descLateness }

func (c collector) Collect(ch chan<- prometheus.Metric) {
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
