package media

import (
	"fmt"
	"strings"
)

// AMR-WB (3GPP TS 26.201) frame types and their class A+B+C bit counts, TS 26.201 Table 2 / RFC 4867 §3.6.
// FT 0–8 are the speech modes 6.60…23.85 kbit/s, 9 is SID (comfort noise), 10–13 are reserved,
// 14 is SPEECH_LOST and 15 is NO_DATA (both carry no bits).
var awbFrameBits = [16]int{132, 177, 253, 285, 317, 365, 397, 461, 477, 40, -1, -1, -1, -1, 0, 0}

// AMR-WB frame types with special meaning.
const (
	AWBSID        = 9
	AWBSpeechLost = 14
	AWBNoData     = 15
)

// awbMagic is the single-channel AMR-WB storage header, RFC 4867 §5.1.
const awbMagic = "#!AMR-WB\n"

// AWBFrame is one 20 ms frame of an AMR-WB storage file.
type AWBFrame struct {
	Type    uint8  // frame type FT, 0–15
	Quality bool   // Q bit: false marks a damaged frame
	Data    []byte // speech or SID bits, ceil(bits/8) octets, MSB first, zero-padded; aliases the input
}

// AWBFrameBits returns the number of speech bits of frame type ft, or -1 for a reserved type.
func AWBFrameBits(ft uint8) int { return awbFrameBits[ft&0xF] }

// ParseAWB splits an AMR-WB storage file (RFC 4867 §5, single channel) into frames.
//
//	"#!AMR-WB\n" { ToC:1 data:ceil(bits(FT)/8) }*
//	ToC = P(1)=0 | FT(4) | Q(1) | P(2)=0
//
// The multi-channel format ("#!AMR-WB_MC1.0\n") and reserved frame types are [ErrAWBFrame]; a missing
// magic is [ErrNotAWB]. Returned frames alias b.
func ParseAWB(b []byte) ([]AWBFrame, error) {
	if !strings.HasPrefix(string(b[:min(len(b), len(awbMagic))]), awbMagic) {
		if strings.HasPrefix(string(b[:min(len(b), 14)]), "#!AMR-WB_MC1.0") {
			return nil, fmt.Errorf("%w: multi-channel storage not supported", ErrAWBFrame)
		}
		return nil, ErrNotAWB
	}
	var frames []AWBFrame
	for off := len(awbMagic); off < len(b); {
		toc := b[off]
		ft := (toc >> 3) & 0xF
		nbits := awbFrameBits[ft]
		if nbits < 0 {
			return nil, fmt.Errorf("%w: reserved frame type %d at offset %d", ErrAWBFrame, ft, off)
		}
		n := (nbits + 7) / 8
		if off+1+n > len(b) {
			return nil, fmt.Errorf("%w: frame type %d at offset %d needs %d bytes, %d left",
				ErrAWBFrame, ft, off, n, len(b)-off-1)
		}
		frames = append(frames, AWBFrame{Type: ft, Quality: toc&0x04 != 0, Data: b[off+1 : off+1+n : off+1+n]})
		off += 1 + n
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("%w: no frames", ErrEmptyClip)
	}
	return frames, nil
}

// AMR-WB RTP framing: 16 kHz clock, 20 ms (320 samples) per frame, one frame per packet.
const (
	awbClock       = 16000
	awbFrameTicks  = 320
	awbCMRNoReq    = 15 // CMR value "no mode request", RFC 4867 §4.3.1
	awbEncoding    = "AMR-WB"
	fmtpOctetAlign = "octet-align=1"
)

// NewAMRWB packetises frames for RTP without transcoding, one frame per packet, in the octet-aligned
// (RFC 4867 §4.4) or bandwidth-efficient (§4.3) mode. NO_DATA and SPEECH_LOST frames are not sent; the
// first packet after such a gap carries the marker bit (§4.1). The payloads are built here once.
func NewAMRWB(frames []AWBFrame, octetAligned bool) (*Packets, error) {
	p := &Packets{Encoding: awbEncoding, ClockRate: awbClock, Channels: 1, MarkFirst: true,
		Length: uint32(len(frames) * awbFrameTicks)}
	if octetAligned {
		p.Fmtp = fmtpOctetAlign
	}
	gap := false
	for i, f := range frames {
		if f.Type == AWBNoData || f.Type == AWBSpeechLost {
			gap = true
			continue
		}
		var pl []byte
		var err error
		if octetAligned {
			pl, err = AWBOctetAligned(f)
		} else {
			pl, err = AWBBandwidthEfficient(f)
		}
		if err != nil {
			return nil, err
		}
		p.Frames = append(p.Frames, Frame{Payload: pl, Offset: uint32(i * awbFrameTicks), Marker: gap})
		gap = false
	}
	return p, p.validate()
}

func awbCheck(f AWBFrame) (int, error) {
	nbits := awbFrameBits[f.Type&0xF]
	if nbits < 0 || len(f.Data) != (nbits+7)/8 {
		return 0, fmt.Errorf("%w: frame type %d with %d bytes", ErrAWBFrame, f.Type, len(f.Data))
	}
	return nbits, nil
}

// AWBOctetAligned returns the RTP payload of one frame in octet-aligned mode, RFC 4867 §4.4:
//
//	CMR(4)=15 R(4)=0 | F(1)=0 FT(4) Q(1) P(2)=0 | frame data, octet padded
func AWBOctetAligned(f AWBFrame) ([]byte, error) {
	if _, err := awbCheck(f); err != nil {
		return nil, err
	}
	out := make([]byte, 2+len(f.Data))
	out[0] = awbCMRNoReq << 4
	out[1] = f.Type << 3
	if f.Quality {
		out[1] |= 0x04
	}
	copy(out[2:], f.Data)
	return out, nil
}

// AWBBandwidthEfficient returns the RTP payload of one frame in bandwidth-efficient mode, RFC 4867 §4.3:
// the 4-bit CMR, the 6-bit ToC entry (F FT Q) and exactly bits(FT) speech bits packed without gaps,
// then zero bits up to the octet boundary.
func AWBBandwidthEfficient(f AWBFrame) ([]byte, error) {
	nbits, err := awbCheck(f)
	if err != nil {
		return nil, err
	}
	total := 4 + 6 + nbits
	out := make([]byte, (total+7)/8)
	var w bitWriter
	w.buf = out
	w.put(awbCMRNoReq, 4)
	w.put(0, 1) // F: last frame of the payload
	w.put(uint32(f.Type), 4)
	q := uint32(0)
	if f.Quality {
		q = 1
	}
	w.put(q, 1)
	for i := range nbits {
		w.put(uint32(f.Data[i/8]>>(7-i%8))&1, 1)
	}
	return out, nil
}

type bitWriter struct {
	buf []byte
	n   int // bits written
}

func (w *bitWriter) put(v uint32, nbits int) {
	for i := nbits - 1; i >= 0; i-- {
		if v>>i&1 != 0 {
			w.buf[w.n/8] |= 0x80 >> (w.n % 8)
		}
		w.n++
	}
}

// AWBModes returns the set of speech modes (FT 0–8) used by frames, as a bit set (bit i = mode i).
func AWBModes(frames []AWBFrame) uint16 {
	var m uint16
	for _, f := range frames {
		if f.Type <= 8 {
			m |= 1 << f.Type
		}
	}
	return m
}
