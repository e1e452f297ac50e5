package media

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"testing"
)

// makeWAV builds a canonical WAV: fmt (16 bytes) then data.
func makeWAV(format, channels uint16, rate uint32, bits uint16, samples []int16) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, format)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(channels)*uint32(bits)/8)
	b = binary.LittleEndian.AppendUint16(b, channels*bits/8)
	b = binary.LittleEndian.AppendUint16(b, bits)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(2*len(samples)))
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func TestParseWAV(t *testing.T) {
	good := makeWAV(1, 1, 8000, 16, []int16{1, -2, 3})
	odd := append([]byte(nil), good[:12]...) // a LIST chunk of odd size before fmt, padded
	odd = append(odd, "LIST\x03\x00\x00\x00abc\x00"...)
	odd = append(odd, good[12:]...)
	tests := map[string]struct {
		in      []byte
		want    []int16
		rate    int
		wantErr error
	}{
		"pcm 8k":            {in: good, want: []int16{1, -2, 3}, rate: 8000},
		"pcm 16k":           {in: makeWAV(1, 1, 16000, 16, []int16{7}), want: []int16{7}, rate: 16000},
		"odd chunk skipped": {in: odd, want: []int16{1, -2, 3}, rate: 8000},
		"empty":             {in: nil, wantErr: ErrNotWAV},
		"not riff":          {in: []byte("RIFX\x00\x00\x00\x00WAVE"), wantErr: ErrNotWAV},
		"no data chunk":     {in: good[:36], wantErr: ErrNotWAV},
		"truncated fmt":     {in: good[:30], wantErr: ErrNotWAV},
		"stereo":            {in: makeWAV(1, 2, 8000, 16, []int16{1, 2}), wantErr: ErrWAVFormat},
		"8 bit":             {in: makeWAV(1, 1, 8000, 8, nil), wantErr: ErrWAVFormat},
		"44.1 kHz":          {in: makeWAV(1, 1, 44100, 16, []int16{1}), wantErr: ErrWAVFormat},
		"float":             {in: makeWAV(3, 1, 8000, 32, nil), wantErr: ErrWAVFormat},
		"mulaw":             {in: makeWAV(7, 1, 8000, 8, nil), wantErr: ErrWAVFormat},
		"no samples":        {in: makeWAV(1, 1, 8000, 16, nil), wantErr: ErrEmptyClip},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseWAV(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if got.Rate != tc.rate || len(got.Samples) != len(tc.want) {
				t.Fatalf("got %d Hz %v, want %d Hz %v", got.Rate, got.Samples, tc.rate, tc.want)
			}
			for i := range tc.want {
				if got.Samples[i] != tc.want[i] {
					t.Fatalf("sample %d = %d, want %d", i, got.Samples[i], tc.want[i])
				}
			}
		})
	}
}

func tone(rate int, hz, amp float64, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return s
}

func rms(s []int16) float64 {
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(len(s)))
}

// The 16→8 kHz decimator keeps the ringback band and removes what would alias.
func TestTo8k(t *testing.T) {
	pass := PCM{Rate: 16000, Samples: tone(16000, 425, 10000, 16000)}.To8k()
	if pass.Rate != 8000 || len(pass.Samples) != 8000 {
		t.Fatalf("got %d Hz, %d samples", pass.Rate, len(pass.Samples))
	}
	if r := rms(pass.Samples[100:7900]) / (10000 / math.Sqrt2); r < 0.97 || r > 1.03 {
		t.Errorf("425 Hz gain %.3f, want ~1", r)
	}
	stop := PCM{Rate: 16000, Samples: tone(16000, 6000, 10000, 16000)}.To8k()
	if r := rms(stop.Samples[100:7900]) / (10000 / math.Sqrt2); r > 0.01 {
		t.Errorf("6 kHz leaks with gain %.4f, want < 0.01", r)
	}
	same := PCM{Rate: 8000, Samples: []int16{1, 2}}
	if got := same.To8k(); &got.Samples[0] != &same.Samples[0] {
		t.Error("8 kHz input was copied")
	}
}

func TestNewG711(t *testing.T) {
	in := tone(8000, 440, 8000, 330) // 2 full frames + 10 samples
	u, a, err := NewG711(PCM{Rate: 8000, Samples: in})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Packets{u, a} {
		if len(p.Frames) != 3 || p.Length != 480 || p.ClockRate != 8000 || !p.MarkFirst || !p.Audio() {
			t.Fatalf("%s: %d frames length %d", p.Encoding, len(p.Frames), p.Length)
		}
		for i, f := range p.Frames {
			if len(f.Payload) != 160 || cap(f.Payload) != 160 || f.Offset != uint32(160*i) || f.Marker {
				t.Fatalf("%s frame %d: len %d cap %d offset %d", p.Encoding, i, len(f.Payload), cap(f.Payload), f.Offset)
			}
		}
	}
	for i, s := range in {
		if u.Frames[i/160].Payload[i%160] != LinearToULaw(s) || a.Frames[i/160].Payload[i%160] != LinearToALaw(s) {
			t.Fatalf("sample %d encoded wrong", i)
		}
	}
	if u.Frames[2].Payload[10] != PCMUSilence || a.Frames[2].Payload[159] != PCMASilence {
		t.Error("last frame not padded with silence")
	}
	if u.Duration().Milliseconds() != 60 {
		t.Errorf("duration %v, want 60ms", u.Duration())
	}
	if _, _, err := NewG711(PCM{Rate: 11025, Samples: in}); !errors.Is(err, ErrWAVFormat) {
		t.Errorf("11025 Hz: err = %v", err)
	}
}

// The 16 kHz sample clip resamples to the same ringback as the 8 kHz one (same level, same length).
func TestSample16kMatches8k(t *testing.T) {
	read := func(name string) *Packets {
		b, err := os.ReadFile("../../configs/clips/" + name)
		if err != nil {
			t.Fatal(err)
		}
		c := &Clip{}
		if err := c.LoadWAV(b); err != nil {
			t.Fatal(err)
		}
		return c.PCMU
	}
	a, b := read("ringback-8k.wav"), read("ringback-16k.wav")
	if len(a.Frames) != len(b.Frames) {
		t.Fatalf("%d vs %d frames", len(a.Frames), len(b.Frames))
	}
	level := func(p *Packets) float64 {
		var s []int16
		for _, f := range p.Frames {
			for _, c := range f.Payload {
				s = append(s, ULawToLinear(c))
			}
		}
		return rms(s)
	}
	if la, lb := level(a), level(b); math.Abs(la-lb)/la > 0.03 {
		t.Errorf("rms %0.f (8k) vs %0.f (16k)", la, lb)
	}
}
