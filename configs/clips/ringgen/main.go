// Command ringgen writes Herald's sample ringback WAV clips: 3 s of the UK ring cadence (400 Hz + 450 Hz,
// 0.4 s on, 0.2 s off, 0.4 s on, 2.0 s off), PCM 16-bit mono, at 8 kHz and 16 kHz.
//
//	go run ./configs/clips/ringgen -out configs/clips
//
// The output is deterministic, so the committed files can be checked by running it again.
package main

import (
	"encoding/binary"
	"flag"
	"log/slog"
	"math"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", ".", "output directory")
	flag.Parse()
	for _, rate := range []int{8000, 16000} {
		name := filepath.Join(*out, map[int]string{8000: "ringback-8k.wav", 16000: "ringback-16k.wav"}[rate])
		if err := os.WriteFile(name, wav(rate, ring(rate)), 0o644); err != nil {
			slog.Error("write clip", "error", err)
			os.Exit(1)
		}
	}
}

// ring returns the 3 s cadence; each tone is at a quarter of full scale, with 5 ms ramps at the edges.
func ring(rate int) []int16 {
	type burst struct{ from, to float64 }
	on := []burst{{0, 0.4}, {0.6, 1.0}}
	s := make([]int16, 3*rate)
	const ramp = 0.005
	for i := range s {
		t := float64(i) / float64(rate)
		var g float64
		for _, b := range on {
			if t >= b.from && t < b.to {
				g = min(1, (t-b.from)/ramp, (b.to-t)/ramp)
			}
		}
		v := g * 0.25 * 32767 * (math.Sin(2*math.Pi*400*t) + math.Sin(2*math.Pi*450*t))
		s[i] = int16(math.Round(v))
	}
	return s
}

func wav(rate int, s []int16) []byte {
	b := make([]byte, 44, 44+2*len(s))
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(s)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(s)))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}
