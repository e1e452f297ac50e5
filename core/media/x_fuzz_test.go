package media

import (
	"os"
	"testing"
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
