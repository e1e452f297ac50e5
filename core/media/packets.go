package media

import (
	"fmt"
	"math/bits"
	"time"
)

// Frame is one RTP payload of a clip.
type Frame struct {
	// Payload is the RTP payload, shared by every stream. Read-only.
	Payload []byte
	// Offset is the RTP timestamp of this packet relative to the start of the loop, in clock units.
	// Packets of one video frame share their Offset and are sent together.
	Offset uint32
	// Marker is the RTP marker bit the payload format asks for (last packet of a video access unit,
	// first audio packet after a gap). The stream also sets it on its very first packet for audio.
	Marker bool
}

// Packets is one loop of a clip framed for one RTP payload format. Immutable after construction and
// safe to share.
type Packets struct {
	Encoding  string // rtpmap encoding name, e.g. "PCMU", "AMR-WB", "H264"
	ClockRate uint32 // RTP clock rate in Hz
	Channels  int    // audio channels (1), 0 for video
	// Frames in send order; Offsets never decrease.
	Frames []Frame
	// Length is the timestamp span of one loop in clock units: loop k's packets carry
	// Offset + k*Length past the stream's first timestamp, so looping keeps timestamps continuous.
	Length uint32
	// MarkFirst says the first packet of a stream carries the marker bit (audio talkspurt start).
	MarkFirst bool
	// Fmtp is the a=fmtp parameter string this framing needs in an answer ("" for none).
	Fmtp string
}

// Audio reports whether p is an audio framing.
func (p *Packets) Audio() bool { return p.Channels > 0 }

// At returns the send time of timestamp offset ts (clock units from the stream's first packet).
func (p *Packets) At(ts uint64) time.Duration {
	hi, lo := bits.Mul64(ts, uint64(time.Second))
	q, _ := bits.Div64(hi, lo, uint64(p.ClockRate))
	return time.Duration(q)
}

// Duration returns the play time of one loop.
func (p *Packets) Duration() time.Duration { return p.At(uint64(p.Length)) }

func (p *Packets) validate() error {
	if len(p.Frames) == 0 || p.Length == 0 {
		return fmt.Errorf("%w: %s", ErrEmptyClip, p.Encoding)
	}
	return nil
}

// Track is a framing plus the payload type negotiated for one call: what a stream plays.
type Track struct {
	Packets     *Packets
	PayloadType uint8
}

// G.711 framing: 20 ms at 8 kHz.
const (
	g711FrameSamples = 160
	// StaticPCMU and StaticPCMA are the RFC 3551 static payload types.
	StaticPCMU = 0
	StaticPCMA = 8
)

// NewG711 encodes p (resampled to 8 kHz when needed) once to PCMU and PCMA and frames both in 20 ms
// packets. The last packet is padded with silence, so a loop is a whole number of packets.
func NewG711(p PCM) (pcmu, pcma *Packets, err error) {
	if p.Rate != 8000 && p.Rate != 16000 {
		return nil, nil, fmt.Errorf("%w: %d Hz, want 8000 or 16000", ErrWAVFormat, p.Rate)
	}
	if len(p.Samples) == 0 {
		return nil, nil, fmt.Errorf("%w: no samples", ErrEmptyClip)
	}
	s := p.To8k().Samples
	n := (len(s) + g711FrameSamples - 1) / g711FrameSamples
	u := EncodeULaw(make([]byte, 0, n*g711FrameSamples), s)
	a := EncodeALaw(make([]byte, 0, n*g711FrameSamples), s)
	for len(u) < n*g711FrameSamples {
		u = append(u, PCMUSilence)
		a = append(a, PCMASilence)
	}
	return frameG711("PCMU", u, n), frameG711("PCMA", a, n), nil
}

func frameG711(enc string, b []byte, n int) *Packets {
	p := &Packets{Encoding: enc, ClockRate: 8000, Channels: 1, Length: uint32(n * g711FrameSamples),
		MarkFirst: true, Frames: make([]Frame, n)}
	for i := range p.Frames {
		// Three-index slices: no stream can append into its neighbour's payload.
		p.Frames[i] = Frame{Payload: b[i*g711FrameSamples : (i+1)*g711FrameSamples : (i+1)*g711FrameSamples],
			Offset: uint32(i * g711FrameSamples)}
	}
	return p
}
