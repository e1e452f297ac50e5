package media

import (
	"os"
	"testing"
	"time"
)

func FuzzParseWAV(f *testing.F) {
	f.Add(makeWAV(1, 1, 8000, 16, []int16{1, -2, 3}))
	f.Add(makeWAV(1, 2, 16000, 16, []int16{1, 2}))
	if b, err := os.ReadFile("../../configs/clips/ringback-8k.wav"); err == nil {
		f.Add(b[:1024])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseWAV(b)
		if err != nil {
			return
		}
		if _, _, err := NewG711(p); err != nil {
			t.Fatalf("parsed wav does not encode: %v", err)
		}
	})
}

func FuzzParseAWB(f *testing.F) {
	f.Add(awbFile)
	f.Add([]byte("#!AMR-WB\n\x7c\x7c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, err := ParseAWB(b)
		if err != nil {
			return
		}
		for _, fr := range frames {
			if fr.Type == AWBNoData || fr.Type == AWBSpeechLost {
				continue
			}
			oa, err1 := AWBOctetAligned(fr)
			be, err2 := AWBBandwidthEfficient(fr)
			if err1 != nil || err2 != nil {
				t.Fatalf("parsed frame does not packetise: %v %v", err1, err2)
			}
			if len(oa) != 2+len(fr.Data) || len(be) != (10+AWBFrameBits(fr.Type)+7)/8 {
				t.Fatalf("sizes oa %d be %d for type %d", len(oa), len(be), fr.Type)
			}
		}
	})
}

func FuzzNewH264(f *testing.F) {
	f.Add(annexB(testSPS, testPPS, testIDR, testP), 300)
	f.Add(annexB(testSPS, testIDR[:20]), 20)
	f.Fuzz(func(t *testing.T, b []byte, mtu int) {
		p, _, err := NewH264(b, 30, mtu)
		if err != nil {
			return
		}
		for _, fr := range p.Frames {
			if len(fr.Payload) == 0 || len(fr.Payload) > mtu-12 {
				t.Fatalf("payload of %d bytes for mtu %d", len(fr.Payload), mtu)
			}
		}
	})
}

// FuzzPrepareClip: any upload either gives a clip within its limits whose every framing has packets,
// or an error with a stable code (never "internal", never a panic).
func FuzzPrepareClip(f *testing.F) {
	f.Add(makeWAV(1, 1, 8000, 16, []int16{1, -2, 3}), "")
	f.Add(awbFile, KindAWB)
	f.Add(annexB(testSPS, testPPS, testIDR, testP), "")
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"), KindWAV)
	lim := ClipLimits{MaxBytes: 1 << 16, MaxDuration: 10 * time.Second}
	f.Fuzz(func(t *testing.T, b []byte, kind string) {
		c, err := PrepareClip("fuzz", lim, Source{Kind: kind, Data: b})
		if err != nil {
			if c != nil || ClipErrorCode(err) == "internal" {
				t.Fatalf("PrepareClip = %v, %v (code %q)", c, err, ClipErrorCode(err))
			}
			return
		}
		if c.Duration > lim.MaxDuration || len(c.Version) != 40 {
			t.Fatalf("duration %v, version %q", c.Duration, c.Version)
		}
		for _, p := range []*Packets{c.PCMU, c.PCMA, c.AMRWBOA, c.AMRWBBE, c.H264} {
			if p != nil && (len(p.Frames) == 0 || p.Length == 0) {
				t.Fatalf("empty framing %s", p.Encoding)
			}
		}
	})
}
