package media

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PCM is mono 16-bit linear audio.
type PCM struct {
	Rate    int // samples per second
	Samples []int16
}

// WAV format tags (RFC 2361, Microsoft WAVEFORMATEXTENSIBLE).
const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xFFFE
)

// ParseWAV decodes a RIFF/WAVE file holding PCM 16-bit mono audio at 8000 or 16000 Hz. Any other
// layout (stereo, 8/24/32-bit, float, μ-law, other rates) is [ErrWAVFormat]; a file that is not WAVE
// or is cut short is [ErrNotWAV].
//
//	"RIFF" size:u32le "WAVE" { id:4 size:u32le body [pad to even] }*
//	fmt  body: format:u16 channels:u16 rate:u32 byterate:u32 align:u16 bits:u16 [ext...]
//	data body: little-endian int16 samples
func ParseWAV(b []byte) (PCM, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return PCM{}, fmt.Errorf("%w: missing riff/wave header", ErrNotWAV)
	}
	var (
		haveFmt bool
		rate    int
		data    []byte
		off     = 12
	)
	for off+8 <= len(b) {
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8
		if size < 0 || size > len(b)-off {
			if id == "data" && haveFmt { // tolerate a data size larger than the file (streamed writers)
				size = len(b) - off
			} else {
				return PCM{}, fmt.Errorf("%w: chunk %q size %d beyond end", ErrNotWAV, id, size)
			}
		}
		body := b[off : off+size]
		switch id {
		case "fmt ":
			if size < 16 {
				return PCM{}, fmt.Errorf("%w: fmt chunk %d bytes", ErrNotWAV, size)
			}
			format := binary.LittleEndian.Uint16(body[0:])
			channels := binary.LittleEndian.Uint16(body[2:])
			rate = int(binary.LittleEndian.Uint32(body[4:]))
			bits := binary.LittleEndian.Uint16(body[14:])
			if format == wavFormatExtensible && size >= 40 {
				format = binary.LittleEndian.Uint16(body[24:]) // SubFormat GUID starts with the tag
			}
			if format != wavFormatPCM {
				return PCM{}, fmt.Errorf("%w: format tag %#x, want pcm", ErrWAVFormat, format)
			}
			if channels != 1 {
				return PCM{}, fmt.Errorf("%w: %d channels, want mono", ErrWAVFormat, channels)
			}
			if bits != 16 {
				return PCM{}, fmt.Errorf("%w: %d bits per sample, want 16", ErrWAVFormat, bits)
			}
			if rate != 8000 && rate != 16000 {
				return PCM{}, fmt.Errorf("%w: %d Hz, want 8000 or 16000", ErrWAVFormat, rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return PCM{}, fmt.Errorf("%w: data chunk before fmt chunk", ErrNotWAV)
			}
			data = body
		}
		off += size + size&1
	}
	if !haveFmt || data == nil {
		return PCM{}, fmt.Errorf("%w: missing fmt or data chunk", ErrNotWAV)
	}
	s := make([]int16, len(data)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	if len(s) == 0 {
		return PCM{}, fmt.Errorf("%w: no samples", ErrEmptyClip)
	}
	return PCM{Rate: rate, Samples: s}, nil
}

// halfBand is a 31-tap windowed-sinc (Blackman) low-pass at 3.6 kHz for a 16 kHz input, computed once.
var halfBand = func() [31]float64 {
	var h [31]float64
	const fc = 3600.0 / 16000.0
	var sum float64
	for i := range h {
		n := float64(i - 15)
		x := 2 * fc
		if n != 0 {
			x = math.Sin(2*math.Pi*fc*n) / (math.Pi * n)
		}
		w := 0.42 - 0.5*math.Cos(2*math.Pi*float64(i)/30) + 0.08*math.Cos(4*math.Pi*float64(i)/30)
		h[i] = x * w
		sum += h[i]
	}
	for i := range h {
		h[i] /= sum
	}
	return h
}()

// To8k returns p at 8000 Hz: unchanged when it already is, else low-pass filtered and decimated by two.
func (p PCM) To8k() PCM {
	if p.Rate == 8000 {
		return p
	}
	out := make([]int16, len(p.Samples)/2)
	for i := range out {
		c := 2 * i
		var acc float64
		for k, h := range halfBand {
			j := c + k - 15
			if j >= 0 && j < len(p.Samples) {
				acc += h * float64(p.Samples[j])
			}
		}
		out[i] = int16(max(-32768, min(32767, math.Round(acc))))
	}
	return PCM{Rate: 8000, Samples: out}
}
