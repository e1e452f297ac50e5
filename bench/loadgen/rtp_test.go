package loadgen

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

// rtpPacket is a 12-byte RTP header (PCMU) and a 20-byte payload.
func rtpPacket(seq uint16, ts, ssrc uint32) []byte {
	b := make([]byte, 32)
	b[0] = 0x80
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

// waitReceived waits until the receiver holds want unique packets from src.
func waitReceived(t *testing.T, r *rtpReceiver, src netip.AddrPort, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		var got int64
		for _, s := range r.streams[src] {
			got += s.received + s.duplicates
		}
		r.mu.Unlock()
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver got %d packets from %s, want %d", got, src, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRTPLossAndLateness sends a ringback-like stream over a real socket with controlled faults:
// packet 10 never sent (lost), packet 20 held back 700 ms (late, and out of order), packet 25
// sent twice (duplicate). Timestamps advance 200 samples (25 ms at 8 kHz) per packet, and packets
// leave back to back, so every other packet arrives well ahead of its due time (a sender stalled
// for less than 65 ms cannot make one late): exactly one is late, exactly one lost. Packet 20 is
// due 500 ms after the first.
func TestRTPLossAndLateness(t *testing.T) {
	r, err := newRTPReceiver("127.0.0.1", 40*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tx, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.Port()})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	src := tx.LocalAddr().(*net.UDPAddr).AddrPort()
	since := time.Now()
	const ssrc, seq0, ts0 = 0x1234, 65530, 4294967000 // both wrap during the stream
	send := func(i int) {
		if _, err := tx.Write(rtpPacket(uint16(seq0+i), uint32(ts0+200*i), ssrc)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 40; i++ {
		switch i {
		case 10, 20:
			continue
		case 25:
			send(i)
		}
		send(i)
	}
	waitReceived(t, r, src, 39)        // 38 distinct + 1 duplicate
	time.Sleep(700 * time.Millisecond) // the fault under test: a packet 200 ms past its due time
	send(20)
	waitReceived(t, r, src, 40)

	res, ok := r.claim(src, since)
	if !ok {
		t.Fatal("stream not found by its source")
	}
	if res.expected != 40 || res.received != 39 || res.lost != 1 || res.late != 1 || res.duplicates != 1 {
		t.Errorf("expected %d received %d lost %d late %d duplicates %d, want 40 39 1 1 1",
			res.expected, res.received, res.lost, res.late, res.duplicates)
	}
	var worst uint32
	for _, us := range res.lateness {
		worst = max(worst, us)
	}
	if worst < 150_000 {
		t.Errorf("worst lateness %d µs, want the held-back packet's (>= 150 ms)", worst)
	}
	if _, ok := r.claim(src, since); ok {
		t.Error("a claimed stream was claimed twice")
	}
}

// TestRTPStreamsBySource: two streams from two sources, and a stream that started before the
// call (an earlier call's, on a reused port) is not claimed by it.
func TestRTPStreamsBySource(t *testing.T) {
	r, err := newRTPReceiver("127.0.0.1", 40*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var srcs []netip.AddrPort
	for k := 0; k < 2; k++ {
		tx, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.Port()})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		src := tx.LocalAddr().(*net.UDPAddr).AddrPort()
		srcs = append(srcs, src)
		for i := 0; i < 5+k; i++ {
			if _, err := tx.Write(rtpPacket(uint16(100*k+i), uint32(160*i), uint32(7+k))); err != nil {
				t.Fatal(err)
			}
		}
		waitReceived(t, r, src, int64(5+k))
	}
	if _, ok := r.claim(srcs[0], time.Now()); ok {
		t.Error("a stream older than the call was claimed")
	}
	for k, src := range srcs {
		res, ok := r.claim(src, time.Now().Add(-time.Minute))
		if !ok || res.received != int64(5+k) || res.lost != 0 {
			t.Errorf("source %d: %+v %v, want %d received, none lost", k, res, ok, 5+k)
		}
	}
}
