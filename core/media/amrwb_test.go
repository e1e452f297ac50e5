package media

import (
	"bytes"
	"errors"
	"testing"
)

var (
	sidData   = []byte{0xAB, 0xCD, 0xEF, 0x12, 0x34}                     // 40 bits
	mode0Data = append(bytes.Repeat([]byte{0xFF}, 16), 0xF0)             // 132 bits + 4 pad bits
	awbFile   = append(append(append(append([]byte("#!AMR-WB\n"), 0x4C), // FT=9 SID, Q=1
		sidData...), 0x7C, 0x04), // FT=15 NO_DATA Q=1; FT=0 Q=1
		mode0Data...)
)

// Byte-exact payloads worked out by hand from RFC 4867 §4.3 and §4.4.
func TestAWBPayloads(t *testing.T) {
	tests := map[string]struct {
		f      AWBFrame
		oa, be []byte
	}{
		"sid q=1": {
			f:  AWBFrame{Type: 9, Quality: true, Data: sidData},
			oa: []byte{0xF0, 0x4C, 0xAB, 0xCD, 0xEF, 0x12, 0x34},
			// 1111 0 1001 1 | AB CD EF 12 34 | 000000
			be: []byte{0xF4, 0xEA, 0xF3, 0x7B, 0xC4, 0x8D, 0x00},
		},
		"mode 0 q=1": {
			f:  AWBFrame{Type: 0, Quality: true, Data: mode0Data},
			oa: append([]byte{0xF0, 0x04}, mode0Data...),
			// 1111 0 0000 1 | 132 ones | 00: 142 bits in 18 octets
			be: append(append([]byte{0xF0, 0x7F}, bytes.Repeat([]byte{0xFF}, 15)...), 0xFC),
		},
		"sid q=0": {
			f:  AWBFrame{Type: 9, Data: []byte{0x80, 0, 0, 0, 0x01}},
			oa: []byte{0xF0, 0x48, 0x80, 0, 0, 0, 0x01},
			// 1111 0 1001 0 | 1000…0001 | 000000: the last data bit is bit 49, in octet 6
			be: []byte{0xF4, 0xA0, 0, 0, 0, 0, 0x40},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			oa, err := AWBOctetAligned(tc.f)
			if err != nil || !bytes.Equal(oa, tc.oa) {
				t.Errorf("octet-aligned = % x, %v; want % x", oa, err, tc.oa)
			}
			be, err := AWBBandwidthEfficient(tc.f)
			if err != nil || !bytes.Equal(be, tc.be) {
				t.Errorf("bandwidth-efficient = % x, %v; want % x", be, err, tc.be)
			}
		})
	}
	if _, err := AWBOctetAligned(AWBFrame{Type: 2, Data: []byte{1}}); !errors.Is(err, ErrAWBFrame) {
		t.Errorf("short frame: err = %v", err)
	}
}

func TestParseAWB(t *testing.T) {
	tests := map[string]struct {
		in      []byte
		types   []uint8
		wantErr error
	}{
		"sid nodata mode0": {in: awbFile, types: []uint8{9, 15, 0}},
		"no magic":         {in: []byte("#!AMR\n\x04"), wantErr: ErrNotAWB},
		"empty input":      {in: nil, wantErr: ErrNotAWB},
		"multi-channel":    {in: []byte("#!AMR-WB_MC1.0\n\x00\x00\x00\x01"), wantErr: ErrAWBFrame},
		"reserved type 10": {in: []byte("#!AMR-WB\n\x54"), wantErr: ErrAWBFrame},
		"truncated frame":  {in: awbFile[:len(awbFile)-1], wantErr: ErrAWBFrame},
		"magic only":       {in: []byte("#!AMR-WB\n"), wantErr: ErrEmptyClip},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			frames, err := ParseAWB(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(frames) != len(tc.types) {
				t.Fatalf("%d frames, want %d", len(frames), len(tc.types))
			}
			for i, f := range frames {
				if f.Type != tc.types[i] || !f.Quality {
					t.Errorf("frame %d: type %d q %v", i, f.Type, f.Quality)
				}
			}
		})
	}
}

func TestNewAMRWB(t *testing.T) {
	frames, err := ParseAWB(awbFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, oa := range []bool{true, false} {
		p, err := NewAMRWB(frames, oa)
		if err != nil {
			t.Fatal(err)
		}
		// NO_DATA is skipped; the frame after the gap is at 2×320 with the marker set.
		if len(p.Frames) != 2 || p.Length != 960 || p.ClockRate != 16000 {
			t.Fatalf("oa=%v: %d frames, length %d", oa, len(p.Frames), p.Length)
		}
		if p.Frames[0].Offset != 0 || p.Frames[0].Marker || p.Frames[1].Offset != 640 || !p.Frames[1].Marker {
			t.Errorf("oa=%v: offsets/markers %+v %+v", oa, p.Frames[0].Offset, p.Frames[1].Offset)
		}
		if want := map[bool]string{true: "octet-align=1", false: ""}[oa]; p.Fmtp != want {
			t.Errorf("fmtp %q, want %q", p.Fmtp, want)
		}
	}
	if m := AWBModes(frames); m != 1 {
		t.Errorf("modes %b, want 1", m)
	}
	if _, err := NewAMRWB([]AWBFrame{{Type: AWBNoData}}, true); !errors.Is(err, ErrEmptyClip) {
		t.Errorf("all NO_DATA: err = %v", err)
	}
}
