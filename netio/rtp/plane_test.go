package rtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/media"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// portBase spreads the tests' port ranges so parallel packages on the box rarely collide; the
// allocator skips ports held by others anyway.
const portBase = 43000

func startPlane(t *testing.T, o Options) *Plane {
	t.Helper()
	if o.ListenIP == "" {
		o.ListenIP = "127.0.0.1"
	}
	if o.PortMin == 0 {
		o.PortMin, o.PortMax = portBase, portBase+999
	}
	o.Logger = discard
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return p
}

// pcmuClip is n distinct 20 ms frames: frame i is 160 bytes of value i+1.
func pcmuClip(n int) *media.Packets {
	p := &media.Packets{Encoding: "PCMU", ClockRate: 8000, Channels: 1, MarkFirst: true, Length: uint32(160 * n)}
	for i := range n {
		p.Frames = append(p.Frames, media.Frame{Payload: bytes.Repeat([]byte{byte(i + 1)}, 160), Offset: uint32(160 * i)})
	}
	return p
}

type rtpPkt struct {
	marker  bool
	pt      uint8
	seq     uint16
	ts      uint32
	ssrc    uint32
	payload []byte
	at      time.Time
}

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// listenPair binds an RTP socket on an even port and an RTCP socket on the port above it.
func listenPair(t *testing.T) (rtp, rtcp *net.UDPConn) {
	t.Helper()
	for port := 47000; port < 48000; port += 2 {
		a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			continue
		}
		b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
		if err != nil {
			a.Close()
			continue
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}
	t.Fatal("no free port pair")
	return nil, nil
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func readRTP(t *testing.T, c *net.UDPConn, timeout time.Duration) (rtpPkt, bool) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	n, err := c.Read(buf)
	if err != nil {
		return rtpPkt{}, false
	}
	if n < 12 || buf[0] != 0x80 {
		t.Fatalf("not a plain RTP v2 packet: % x", buf[:min(n, 16)])
	}
	return rtpPkt{marker: buf[1]&0x80 != 0, pt: buf[1] & 0x7F, seq: binary.BigEndian.Uint16(buf[2:]),
		ts: binary.BigEndian.Uint32(buf[4:]), ssrc: binary.BigEndian.Uint32(buf[8:]),
		payload: append([]byte(nil), buf[12:n]...), at: time.Now()}, true
}

// The wire check: continuous sequence numbers, +160 timestamps across loops, payload type, marker
// only on the first packet, constant SSRC, payloads equal to the clip in order, 20 ms pacing.
func TestWireG711(t *testing.T) { wireG711(t, startPlane(t, Options{})) }

func wireG711(t *testing.T, p *Plane) {
	t.Helper()
	rx := listen(t)
	clip := pcmuClip(5)
	s, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if s.Port()%2 != 0 || s.Port() < portBase || s.Port() > portBase+999 {
		t.Fatalf("port %d not an even port of the range", s.Port())
	}
	if err := s.Play(addrOf(rx), media.Track{Packets: clip, PayloadType: 0}); err != nil {
		t.Fatal(err)
	}
	const n = 13 // two full loops and a bit
	var got []rtpPkt
	for len(got) < n {
		pk, ok := readRTP(t, rx, time.Second)
		if !ok {
			t.Fatalf("got %d packets, want %d", len(got), n)
		}
		got = append(got, pk)
	}
	s.Stop()
	for i, pk := range got {
		if pk.pt != 0 || pk.ssrc != got[0].ssrc || pk.marker != (i == 0) {
			t.Errorf("packet %d: pt %d ssrc %#x marker %v", i, pk.pt, pk.ssrc, pk.marker)
		}
		if pk.seq != got[0].seq+uint16(i) || pk.ts != got[0].ts+uint32(160*i) {
			t.Errorf("packet %d: seq %d ts %d; want %d %d", i, pk.seq, pk.ts, got[0].seq+uint16(i), got[0].ts+uint32(160*i))
		}
		if !bytes.Equal(pk.payload, clip.Frames[i%5].Payload) {
			t.Errorf("packet %d: payload %d…, want frame %d", i, pk.payload[0], i%5)
		}
	}
	within(t, "time for 13 packets", got[n-1].at.Sub(got[0].at), 200*time.Millisecond, 320*time.Millisecond)
	st := p.Stats()
	if st.Packets < n || st.Dropped != 0 || st.Streams != 0 || st.Playing != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Stop takes effect within one packet time: at most one packet leaves after Stop is called (the slot
// that may be running at that moment), none after it returns, and on a machine that is not
// oversubscribed Stop returns within 20 ms.
func TestStopWithinPacketTime(t *testing.T) {
	p := startPlane(t, Options{})
	rx := listen(t)
	received := 0
	for range 5 {
		s, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Play(addrOf(rx), media.Track{Packets: pcmuClip(3), PayloadType: 8}); err != nil {
			t.Fatal(err)
		}
		if _, ok := readRTP(t, rx, time.Second); !ok {
			t.Fatal("no packet")
		}
		received++
		sent0 := p.Stats().Packets
		t0 := time.Now()
		s.Stop()
		d := time.Since(t0)
		sent1 := p.Stats().Packets
		if sent1-sent0 > 1 {
			t.Errorf("%d packets left after Stop was called, want at most 1", sent1-sent0)
		}
		if d > 20*time.Millisecond {
			if strictTiming() {
				t.Errorf("Stop took %v, want < 20ms", d)
			} else {
				t.Logf("Stop took %v on an oversubscribed machine (%s)", d, loadavg())
			}
		}
		select {
		case <-s.Done():
		default:
			t.Fatal("Done not closed after Stop")
		}
		if s.Err() != nil {
			t.Errorf("Err = %v after Stop", s.Err())
		}
		for {
			if _, ok := readRTP(t, rx, 50*time.Millisecond); !ok {
				break
			}
			received++
		}
		if st := p.Stats(); uint64(received) != st.Packets {
			t.Fatalf("received %d packets, plane sent %d: something was sent after Stop returned", received, st.Packets)
		}
	}
	if st := p.Stats(); st.Streams != 0 || st.Playing != 0 {
		t.Errorf("streams survive: %+v", st)
	}
}

// strictTiming reports whether wall-clock bounds can be asserted: the 1-minute load average does
// not exceed the CPU count (tests on a box shared with other busy processes only log them).
func strictTiming() bool {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return true
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return err != nil || l <= float64(runtime.NumCPU())
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return "loadavg " + strings.TrimSpace(string(b))
}

// within checks got is in [lo, hi]; the upper bound only when timing is strict.
func within(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	switch {
	case got < lo:
		t.Errorf("%s = %v, want >= %v", what, got, lo)
	case got > hi && strictTiming():
		t.Errorf("%s = %v, want <= %v", what, got, hi)
	case got > hi:
		t.Logf("%s = %v > %v on an oversubscribed machine (%s)", what, got, hi, loadavg())
	}
}

func TestMaxDuration(t *testing.T) {
	p := startPlane(t, Options{MaxDuration: 100 * time.Millisecond})
	rx := listen(t)
	s, _ := p.Allocate()
	t0 := time.Now()
	if err := s.Play(addrOf(rx), media.Track{Packets: pcmuClip(2), PayloadType: 0}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(time.Second):
		t.Fatal("stream outlived its maximum duration")
	}
	within(t, "end after", time.Since(t0), 90*time.Millisecond, 150*time.Millisecond)
	if !errors.Is(s.Err(), ErrMaxDuration) {
		t.Errorf("Err = %v", s.Err())
	}
	s.Stop() // idempotent after the end
}

// Symmetric RTP: RTP from the caller moves the destination to its source.
func TestLatching(t *testing.T) {
	p := startPlane(t, Options{})
	sdp, caller := listen(t), listen(t)
	s, _ := p.Allocate()
	if err := s.Play(addrOf(sdp), media.Track{Packets: pcmuClip(4), PayloadType: 0}); err != nil {
		t.Fatal(err)
	}
	if _, ok := readRTP(t, sdp, time.Second); !ok {
		t.Fatal("nothing at the SDP address before latching")
	}
	hello := []byte{0x80, 0x00, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}
	if _, err := caller.WriteToUDPAddrPort(hello, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(s.Port()))); err != nil {
		t.Fatal(err)
	}
	if _, ok := readRTP(t, caller, time.Second); !ok {
		t.Fatal("no RTP at the caller's source address after latching")
	}
	// Drain what was in flight to the SDP address, then nothing more may come there.
	for {
		if _, ok := readRTP(t, sdp, 60*time.Millisecond); !ok {
			break
		}
	}
	if st := p.Stats(); st.Latched != 1 {
		t.Errorf("latched = %d", st.Latched)
	}
	s.Stop()
}

func TestRTCPSenderReport(t *testing.T) {
	p := startPlane(t, Options{RTCPInterval: 60 * time.Millisecond, CNAME: "ringback@test"})
	rx, rxc := listenPair(t)
	s, _ := p.Allocate()
	if err := s.Play(addrOf(rx), media.Track{Packets: pcmuClip(4), PayloadType: 0}); err != nil {
		t.Fatal(err)
	}
	first, ok := readRTP(t, rx, time.Second)
	if !ok {
		t.Fatal("no rtp")
	}
	buf := make([]byte, 1500)
	_ = rxc.SetReadDeadline(time.Now().Add(time.Second))
	n, err := rxc.Read(buf)
	s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	sdes := buf[28:n]
	if n != 28+4+4+2+13+1 || buf[0] != 0x80 || buf[1] != 200 || binary.BigEndian.Uint16(buf[2:]) != 6 ||
		binary.BigEndian.Uint32(buf[4:]) != first.ssrc {
		t.Fatalf("sr header % x (%d bytes)", buf[:8], n)
	}
	if sdes[0] != 0x81 || sdes[1] != 202 || int(binary.BigEndian.Uint16(sdes[2:])+1)*4 != len(sdes) ||
		sdes[8] != 1 || string(sdes[10:10+sdes[9]]) != "ringback@test" {
		t.Fatalf("sdes % x", sdes)
	}
	ntpSec := binary.BigEndian.Uint32(buf[8:])
	if d := int64(ntpSec) - (time.Now().Unix() + ntpUnixDelta); d < -2 || d > 2 {
		t.Errorf("ntp seconds off by %d", d)
	}
	pkts, octets := binary.BigEndian.Uint32(buf[20:]), binary.BigEndian.Uint32(buf[24:])
	rtpTS := binary.BigEndian.Uint32(buf[16:])
	if pkts < 2 || octets != 160*pkts || rtpTS-first.ts > 8000 {
		t.Errorf("sr counts %d packets %d octets, rtp ts +%d", pkts, octets, rtpTS-first.ts)
	}
}

// An H.264 track: all packets of an access unit share a timestamp and leave together; the marker
// sits on the last one; the timestamp steps by 90000/fps.
func TestWireH264(t *testing.T) {
	p := startPlane(t, Options{})
	rx := listen(t)
	v := &media.Packets{Encoding: "H264", ClockRate: 90000, Length: 3 * 6000, Frames: []media.Frame{
		{Payload: []byte{0x78, 1}, Offset: 0}, {Payload: []byte{0x7C, 0x85}, Offset: 0},
		{Payload: []byte{0x7C, 0x45}, Offset: 0, Marker: true},
		{Payload: []byte{0x41, 1}, Offset: 6000, Marker: true}, {Payload: []byte{0x41, 2}, Offset: 12000, Marker: true},
	}}
	s, _ := p.Allocate()
	if err := s.Play(addrOf(rx), media.Track{Packets: v, PayloadType: 102}); err != nil {
		t.Fatal(err)
	}
	var got []rtpPkt
	for len(got) < 10 {
		pk, ok := readRTP(t, rx, time.Second)
		if !ok {
			t.Fatalf("%d packets", len(got))
		}
		got = append(got, pk)
	}
	s.Stop()
	wantTS := []uint32{0, 0, 0, 6000, 12000, 18000, 18000, 18000, 24000, 30000}
	for i, pk := range got {
		if pk.pt != 102 || pk.ts-got[0].ts != wantTS[i] || pk.marker != v.Frames[i%5].Marker ||
			!bytes.Equal(pk.payload, v.Frames[i%5].Payload) || pk.seq != got[0].seq+uint16(i) {
			t.Errorf("packet %d: pt %d ts +%d marker %v payload % x", i, pk.pt, pk.ts-got[0].ts, pk.marker, pk.payload)
		}
	}
	// Paced by the timestamp: the access unit at +24000 (packet 8) leaves 4 frame times (266.7 ms)
	// after the first. Read over 4 frames, not 1: the arrival times are when this test read each
	// packet, so a read delayed by a busy machine (CI runs the race-enabled suite alongside) shortens
	// the gap after it; over one frame (66.7 ms, bound 50 ms) a 17 ms delay once failed the test.
	within(t, "4-frame spacing", got[8].at.Sub(got[0].at), 230*time.Millisecond, 400*time.Millisecond)
}

func TestPorts(t *testing.T) {
	p := startPlane(t, Options{PortMin: portBase + 1001, PortMax: portBase + 1005}) // pairs 1002, 1004
	a, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if a.Port() == b.Port() || a.Port()%2 != 0 || b.Port()%2 != 0 {
		t.Fatalf("ports %d %d", a.Port(), b.Port())
	}
	if _, err := p.Allocate(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("third pair: err = %v, want ErrNoPorts", err)
	}
	a.Stop() // never played: frees at once
	c, err := p.Allocate()
	if err != nil || c.Port() != a.Port() {
		t.Fatalf("after Stop: port %v err %v", c, err)
	}
	b.Stop()
	c.Stop()
	if st := p.Stats(); st.Streams != 0 {
		t.Errorf("streams %d", st.Streams)
	}
}

func TestPlayErrors(t *testing.T) {
	p := startPlane(t, Options{})
	rx := addrOf(listen(t))
	good := media.Track{Packets: pcmuClip(1)}
	tests := map[string]struct {
		dst     netip.AddrPort
		track   media.Track
		prep    func(*Stream)
		wantErr error
	}{
		"nil packets":  {dst: rx, track: media.Track{}, wantErr: ErrBadTrack},
		"bad pt":       {dst: rx, track: media.Track{Packets: pcmuClip(1), PayloadType: 200}, wantErr: ErrBadTrack},
		"zero port":    {dst: netip.AddrPortFrom(rx.Addr(), 0), track: good, wantErr: ErrBadAddr},
		"ipv6 on ipv4": {dst: netip.MustParseAddrPort("[::1]:5000"), track: good, wantErr: ErrBadAddr},
		"twice":        {dst: rx, track: good, prep: func(s *Stream) { _ = s.Play(rx, good) }, wantErr: ErrStreamState},
		"after stop":   {dst: rx, track: good, prep: func(s *Stream) { s.Stop() }, wantErr: ErrStreamState},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := p.Allocate()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			if tc.prep != nil {
				tc.prep(s)
			}
			if err := s.Play(tc.dst, tc.track); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// Stopping the plane ends every stream (Err = ErrClosed) and leaves no goroutine (goleak in TestMain).
func TestPlaneStopEndsStreams(t *testing.T) {
	p, err := New(Options{ListenIP: "127.0.0.1", PortMin: portBase, PortMax: portBase + 999, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rx := listen(t)
	var ss []*Stream
	for range 50 {
		s, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Play(addrOf(rx), media.Track{Packets: pcmuClip(2)}); err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	time.Sleep(30 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		select {
		case <-s.Done():
		default:
			t.Fatal("stream survived the plane")
		}
		if !errors.Is(s.Err(), ErrClosed) {
			t.Fatalf("Err = %v", s.Err())
		}
		s.Stop()
	}
	if _, err := p.Allocate(); !errors.Is(err, ErrClosed) {
		t.Errorf("Allocate after Stop: %v", err)
	}
	if st := p.Stats(); st.Streams != 0 {
		t.Errorf("streams %d", st.Streams)
	}
}

func TestOptions(t *testing.T) {
	tests := map[string]Options{
		"no ip":       {},
		"bad ip":      {ListenIP: "nope"},
		"low ports":   {ListenIP: "127.0.0.1", PortMin: 80, PortMax: 90},
		"inverted":    {ListenIP: "127.0.0.1", PortMin: 30000, PortMax: 20000},
		"bad dscp":    {ListenIP: "127.0.0.1", DSCP: 64},
		"single port": {ListenIP: "127.0.0.1", PortMin: 30000, PortMax: 30000},
		"cpu outside": {ListenIP: "127.0.0.1", CPUs: []int{0, 4095}},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(o); !errors.Is(err, ErrOptions) {
				t.Fatalf("err = %v, want ErrOptions", err)
			}
		})
	}
}

// An overloaded shard (slots take longer than 1 ms, so it runs permanently behind) still applies
// Stop at its next slot instead of only after catching up.
func TestStopUnderOverload(t *testing.T) {
	p := startPlane(t, Options{Shards: 1})
	rx := listen(t) // never read: the kernel drops at the receiver, the sender still pays per packet
	burst := &media.Packets{Encoding: "PCMU", ClockRate: 8000, Channels: 1, Length: 160}
	for i := range 8 { // 8 × 1 ms, 100 packets each
		for range 100 {
			burst.Frames = append(burst.Frames, media.Frame{Payload: make([]byte, 160), Offset: uint32(8 * i)})
		}
	}
	var ss []*Stream
	for range 20 {
		s, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Play(addrOf(rx), media.Track{Packets: burst}); err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	time.Sleep(300 * time.Millisecond)
	for _, s := range ss {
		t0 := time.Now()
		s.Stop()
		// A hang (the bug this test was written for) is always a failure; the 100 ms bound only
		// holds on a machine that is not oversubscribed.
		d := time.Since(t0)
		if d > 2*time.Second {
			t.Fatalf("Stop took %v on an overloaded shard: hung", d)
		}
		within(t, "Stop on an overloaded shard", d, 0, 100*time.Millisecond)
	}
}

// Gaps longer than the 256 ms wheel (AMR-WB DTX silences) are kept exactly: the stream is revisited
// each turn until due. Timestamps follow the clip offsets; the marker follows the framing.
func TestWireLongGap(t *testing.T) {
	p := startPlane(t, Options{})
	rx := listen(t)
	clip := &media.Packets{Encoding: "AMR-WB", ClockRate: 16000, Channels: 1, MarkFirst: true, Length: 16000,
		Frames: []media.Frame{{Payload: []byte{0xF0, 0x4C, 1, 2, 3, 4, 5}, Offset: 0},
			{Payload: []byte{0xF0, 0x14, 9}, Offset: 9600, Marker: true}}} // 0 ms and 600 ms of a 1 s loop
	s, _ := p.Allocate()
	t0 := time.Now()
	if err := s.Play(addrOf(rx), media.Track{Packets: clip, PayloadType: 97}); err != nil {
		t.Fatal(err)
	}
	var got []rtpPkt
	for len(got) < 3 {
		pk, ok := readRTP(t, rx, 2*time.Second)
		if !ok {
			t.Fatalf("%d packets", len(got))
		}
		got = append(got, pk)
	}
	s.Stop()
	if got[1].ts-got[0].ts != 9600 || got[2].ts-got[0].ts != 16000 || !got[0].marker || !got[1].marker || got[2].marker {
		t.Errorf("ts +%d +%d markers %v %v %v", got[1].ts-got[0].ts, got[2].ts-got[0].ts, got[0].marker, got[1].marker, got[2].marker)
	}
	// Against the Play call: a late first packet must not make the next ones look early.
	within(t, "second packet after Play", got[1].at.Sub(t0), 598*time.Millisecond, 650*time.Millisecond)
	within(t, "next loop after Play", got[2].at.Sub(t0), 998*time.Millisecond, 1050*time.Millisecond)
}

// Streams cost no goroutine: 300 playing streams leave the goroutine count where it was.
func TestNoGoroutinePerStream(t *testing.T) {
	p := startPlane(t, Options{})
	rx := listen(t)
	before := runtime.NumGoroutine()
	var ss []*Stream
	for range 300 {
		s, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Play(addrOf(rx), media.Track{Packets: pcmuClip(2)}); err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	time.Sleep(50 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines %d -> %d with 300 streams", before, after)
	}
	if st := p.Stats(); st.Playing != 300 || st.Streams != 300 {
		t.Errorf("stats %+v", st)
	}
	for _, s := range ss {
		s.Stop()
	}
}
