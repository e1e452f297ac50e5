package media

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

var (
	testSPS = []byte{0x67, 0x42, 0xC0, 0x0D, 0xD9, 0x02}
	testPPS = []byte{0x68, 0xCE, 0x3C, 0x80}
	testIDR = append([]byte{0x65, 0x88}, bytes.Repeat([]byte{0xAA}, 3000)...)
	testP   = append([]byte{0x41, 0x9A}, bytes.Repeat([]byte{0x55}, 50)...)
)

func annexB(nalus ...[]byte) []byte {
	var b []byte
	for i, n := range nalus {
		if i%2 == 0 {
			b = append(b, 0, 0, 0, 1)
		} else {
			b = append(b, 0, 0, 1) // both start code lengths
		}
		b = append(b, n...)
	}
	return b
}

func TestNewH264(t *testing.T) {
	p, info, err := NewH264(annexB(testSPS, testPPS, testIDR, testP), 15, 1200)
	if err != nil {
		t.Fatal(err)
	}
	if info.ProfileLevelIDString() != "42c00d" || info.Frames != 2 || p.Length != 12000 || p.ClockRate != 90000 {
		t.Fatalf("info %+v length %d", info, p.Length)
	}
	if p.Fmtp != "profile-level-id=42c00d;packetization-mode=1" || p.Audio() || p.MarkFirst {
		t.Errorf("fmtp %q audio %v", p.Fmtp, p.Audio())
	}
	type want struct {
		first  []byte // leading payload bytes
		size   int
		offset uint32
		marker bool
	}
	stap := []byte{0x78, 0, byte(len(testSPS))}
	wants := []want{
		{stap, 1 + 2 + len(testSPS) + 2 + len(testPPS), 0, false}, // STAP-A: SPS+PPS
		{[]byte{0x7C, 0x85, 0x88}, 1188, 0, false},                // FU-A start: indicator NRI=3 type 28, S|type 5
		{[]byte{0x7C, 0x05, 0xAA}, 1188, 0, false},                // FU-A middle
		{[]byte{0x7C, 0x45, 0xAA}, 2 + 3001 - 2*1186, 0, true},    // FU-A end, marker: last packet of the AU
		{testP[:3], len(testP), 6000, true},                       // single NAL unit, next AU
	}
	if len(p.Frames) != len(wants) {
		t.Fatalf("%d packets, want %d", len(p.Frames), len(wants))
	}
	for i, w := range wants {
		f := p.Frames[i]
		if !bytes.HasPrefix(f.Payload, w.first) || len(f.Payload) != w.size || f.Offset != w.offset || f.Marker != w.marker {
			t.Errorf("packet %d: % x… len %d offset %d marker %v; want % x… len %d offset %d marker %v",
				i, f.Payload[:3], len(f.Payload), f.Offset, f.Marker, w.first, w.size, w.offset, w.marker)
		}
		if len(f.Payload) > 1200-12 {
			t.Errorf("packet %d: %d bytes exceeds the MTU", i, len(f.Payload))
		}
	}
	// FU-A fragments reassemble to the IDR NAL unit.
	re := []byte{p.Frames[1].Payload[0]&0xE0 | p.Frames[1].Payload[1]&0x1F}
	for _, f := range p.Frames[1:4] {
		re = append(re, f.Payload[2:]...)
	}
	if !bytes.Equal(re, testIDR) {
		t.Error("FU-A fragments do not reassemble to the NAL unit")
	}
}

func TestNewH264Errors(t *testing.T) {
	tests := map[string]struct {
		in       []byte
		fps, mtu int
		wantErr  error
	}{
		"no sps":        {annexB(testPPS, testIDR), 15, 1200, ErrNotH264},
		"no picture":    {annexB(testSPS, testPPS), 15, 1200, ErrNotH264},
		"garbage":       {[]byte("hello"), 15, 1200, ErrNotH264},
		"fps 7":         {annexB(testSPS, testPPS, testIDR), 7, 1200, ErrNotH264},
		"mtu too small": {annexB(testSPS, testPPS, testIDR), 15, 14, ErrBadMTU},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := NewH264(tc.in, tc.fps, tc.mtu); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// The committed sample clips load, and their framings are what the docs say.
func TestSampleClips(t *testing.T) {
	c := loadSampleClip(t)
	if len(c.PCMU.Frames) != 150 || c.PCMU.Duration().Seconds() != 3 {
		t.Errorf("pcmu: %d frames, %v", len(c.PCMU.Frames), c.PCMU.Duration())
	}
	if c.AMRWBOA.Length != 150*320 || c.AMRWBModes != 1<<2 || len(c.AMRWBOA.Frames) < 50 {
		t.Errorf("amr-wb: length %d modes %b frames %d", c.AMRWBOA.Length, c.AMRWBModes, len(c.AMRWBOA.Frames))
	}
	if c.H264Info.Frames != 30 || c.H264Info.ProfileLevelIDString() != "42c00d" {
		t.Errorf("h264: %+v", c.H264Info)
	}
	fua := 0
	for _, f := range c.H264.Frames {
		if f.Payload[0]&0x1F == 28 {
			fua++
		}
	}
	if fua == 0 {
		t.Error("h264 sample has no FU-A packet at mtu 1200")
	}
}

func loadSampleClip(t testing.TB) *Clip {
	t.Helper()
	c := &Clip{Name: "ringback"}
	read := func(name string) []byte {
		b, err := os.ReadFile("../../configs/clips/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := c.LoadWAV(read("ringback-8k.wav")); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadAWB(read("ringback.awb")); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadH264(read("ringback.h264"), 15, 1200); err != nil {
		t.Fatal(err)
	}
	return c
}
