package media

// G.711 (ITU-T Recommendation G.711, 1988), written from the segment tables of the recommendation in
// the form of the well-known reference implementation (Sun Microsystems' g711.c, which is bit-exact with
// the ITU tables): μ-law works on 14-bit magnitudes with a bias of 33 (0x84 at 16-bit scale) and eight
// segments; A-law works on 13-bit magnitudes, with segments 0 and 1 both linear and the even bits of
// the code word inverted (XOR 0x55).

// uEnd and aEnd are the upper magnitude of each segment, G.711 Table 2a (μ-law, biased, 14-bit) and
// Table 1a (A-law, 13-bit).
var (
	uEnd = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}
	aEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
)

const (
	uBias = 0x84 // μ-law bias at 16-bit scale (33 << 2)
	uClip = 8159 // largest 14-bit magnitude before the bias overflows the top segment
)

// PCMUSilence and PCMASilence are the code words for a zero sample.
const (
	PCMUSilence = 0xFF
	PCMASilence = 0xD5
)

func segment(v int, ends *[8]int) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return 8
}

// LinearToULaw encodes one 16-bit linear PCM sample as a G.711 μ-law code word.
func LinearToULaw(sample int16) byte {
	v := int(sample) >> 2 // 14-bit
	mask := byte(0xFF)
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	if v > uClip {
		v = uClip
	}
	v += uBias >> 2
	seg := segment(v, &uEnd)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return byte(seg<<4|(v>>(seg+1))&0xF) ^ mask
}

// LinearToALaw encodes one 16-bit linear PCM sample as a G.711 A-law code word.
func LinearToALaw(sample int16) byte {
	v := int(sample) >> 3 // 13-bit
	mask := byte(0xD5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := segment(v, &aEnd)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := seg << 4
	if seg < 2 {
		a |= (v >> 1) & 0xF
	} else {
		a |= (v >> seg) & 0xF
	}
	return byte(a) ^ mask
}

// ULawToLinear decodes a G.711 μ-law code word to a 16-bit linear sample.
func ULawToLinear(u byte) int16 {
	u = ^u
	t := (int(u&0x0F) << 3) + uBias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(uBias - t)
	}
	return int16(t - uBias)
}

// ALawToLinear decodes a G.711 A-law code word to a 16-bit linear sample.
func ALawToLinear(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := int(a&0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// EncodeULaw appends the μ-law encoding of samples to dst and returns it.
func EncodeULaw(dst []byte, samples []int16) []byte {
	for _, s := range samples {
		dst = append(dst, LinearToULaw(s))
	}
	return dst
}

// EncodeALaw appends the A-law encoding of samples to dst and returns it.
func EncodeALaw(dst []byte, samples []int16) []byte {
	for _, s := range samples {
		dst = append(dst, LinearToALaw(s))
	}
	return dst
}
