package media

import "testing"

// Reference values from the ITU-T G.711 tables as computed by the reference g711.c (cross-checked with
// Python's audioop.lin2ulaw/lin2alaw).
func TestG711Encode(t *testing.T) {
	tests := map[string]struct {
		in   int16
		u, a byte
	}{
		"zero":          {0, 0xFF, 0xD5},
		"plus one":      {1, 0xFF, 0xD5},
		"minus one":     {-1, 0x7E, 0x55},
		"plus eight":    {8, 0xFE, 0xD5},
		"plus 31":       {31, 0xFB, 0xD4},
		"minus 31":      {-31, 0x7B, 0x54},
		"plus 100":      {100, 0xF2, 0xD3},
		"minus 100":     {-100, 0x72, 0x53},
		"plus 1000":     {1000, 0xCE, 0xFA},
		"minus 1000":    {-1000, 0x4E, 0x7A},
		"plus 4000":     {4000, 0xAF, 0x9A},
		"minus 4000":    {-4000, 0x2F, 0x1A},
		"plus 8158":     {8158, 0x9F, 0x8A},
		"minus 8159":    {-8159, 0x1F, 0x0A},
		"plus 12345":    {12345, 0x97, 0xBD},
		"minus 12345":   {-12345, 0x17, 0x3D},
		"ulaw peak":     {32124, 0x80, 0xAA},
		"max positive":  {32767, 0x80, 0xAA},
		"max negative":  {-32767, 0x00, 0x2A},
		"most negative": {-32768, 0x00, 0x2A},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := LinearToULaw(tc.in); got != tc.u {
				t.Errorf("ulaw(%d) = %#02x, want %#02x", tc.in, got, tc.u)
			}
			if got := LinearToALaw(tc.in); got != tc.a {
				t.Errorf("alaw(%d) = %#02x, want %#02x", tc.in, got, tc.a)
			}
		})
	}
}

func TestG711Decode(t *testing.T) {
	tests := map[string]struct {
		code byte
		u, a int16
	}{
		"0x00": {0x00, -32124, -5504},
		"0x7f": {0x7F, 0, -848},
		"0x80": {0x80, 32124, 5504},
		"0xff": {0xFF, 0, 848},
		"0x55": {0x55, -716, -8},
		"0xd5": {0xD5, 716, 8},
		"0x2a": {0x2A, -5372, -32256},
		"0xaa": {0xAA, 5372, 32256},
		"0x13": {0x13, -14460, -2880},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ULawToLinear(tc.code); got != tc.u {
				t.Errorf("ulaw decode = %d, want %d", got, tc.u)
			}
			if got := ALawToLinear(tc.code); got != tc.a {
				t.Errorf("alaw decode = %d, want %d", got, tc.a)
			}
		})
	}
}

// Every code word decodes to a value that encodes back to the same code word (μ-law's negative
// zero 0x7F is the one code that maps onto positive zero 0xFF), and encoding is monotonic.
func TestG711RoundTripAndMonotonic(t *testing.T) {
	for c := range 256 {
		if got := LinearToALaw(ALawToLinear(byte(c))); got != byte(c) {
			t.Errorf("alaw %#02x -> %d -> %#02x", c, ALawToLinear(byte(c)), got)
		}
		want := byte(c)
		if c == 0x7F {
			want = 0xFF
		}
		if got := LinearToULaw(ULawToLinear(byte(c))); got != want {
			t.Errorf("ulaw %#02x -> %d -> %#02x", c, ULawToLinear(byte(c)), got)
		}
	}
	prevU, prevA := ULawToLinear(LinearToULaw(-32768)), ALawToLinear(LinearToALaw(-32768))
	for s := -32768; s <= 32767; s++ {
		u, a := ULawToLinear(LinearToULaw(int16(s))), ALawToLinear(LinearToALaw(int16(s)))
		if u < prevU || a < prevA {
			t.Fatalf("not monotonic at %d: ulaw %d<%d or alaw %d<%d", s, u, prevU, a, prevA)
		}
		prevU, prevA = u, a
	}
}
