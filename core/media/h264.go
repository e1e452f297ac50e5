package media

import (
	"bytes"
	"fmt"

	"github.com/pion/rtp/codecs"
)

// H.264 RTP framing (RFC 6184) at the 90 kHz video clock.
const (
	h264Clock    = 90000
	rtpHeaderLen = 12
	nalSEI       = 6
	nalSPS       = 7
	nalPPS       = 8
	nalAUD       = 9
)

// H264Info is what the answer needs to know about an H.264 clip.
type H264Info struct {
	ProfileLevelID [3]byte // profile_idc, constraint flags, level_idc from the first SPS
	Frames         int     // access units with a picture
	FPS            int
}

// ProfileLevelIDString returns the fmtp profile-level-id value, e.g. "42c01e".
func (i H264Info) ProfileLevelIDString() string {
	return fmt.Sprintf("%02x%02x%02x", i.ProfileLevelID[0], i.ProfileLevelID[1], i.ProfileLevelID[2])
}

// splitAnnexB returns the NAL units of an Annex-B byte stream (start codes 00 00 01 or 00 00 00 01).
// The returned slices alias b.
func splitAnnexB(b []byte) [][]byte {
	var nalus [][]byte
	start := -1
	for i := 0; i+3 <= len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				nalus = append(nalus, bytes.TrimRight(b[start:i], "\x00"))
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		nalus = append(nalus, b[start:])
	}
	return nalus
}

// accessUnits groups NAL units into access units (ITU-T H.264 §7.4.1.2.3, simplified to what encoders
// emit): AUD, SPS, PPS and SEI start a new unit when the current one already has a picture; a slice
// with first_mb_in_slice == 0 (first bit of the slice header set, ue(v) for 0) starts a new picture.
func accessUnits(nalus [][]byte) [][][]byte {
	var aus [][][]byte
	var cur [][]byte
	hasPic := false
	flush := func() {
		if hasPic {
			aus = append(aus, cur)
			cur, hasPic = nil, false
		}
	}
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch t := n[0] & 0x1F; {
		case t == nalAUD || t == nalSPS || t == nalPPS || t == nalSEI:
			flush()
		case t >= 1 && t <= 5:
			if len(n) > 1 && n[1]&0x80 != 0 {
				flush()
			}
			cur = append(cur, n)
			hasPic = true
			continue
		}
		cur = append(cur, n)
	}
	flush()
	return aus
}

// NewH264 packetises an H.264 Annex-B stream once: each access unit through pion/rtp's H264Payloader
// for payloads of at most mtu-12 bytes (single NAL unit packets, STAP-A for SPS+PPS, FU-A for larger
// NAL units), the marker bit on the last packet of each access unit, and fps access units per second
// (Annex-B carries no timing). Answers need packetization-mode=1.
func NewH264(annexB []byte, fps, mtu int) (*Packets, H264Info, error) {
	if mtu <= rtpHeaderLen+2 || mtu > 65507 {
		return nil, H264Info{}, fmt.Errorf("%w: %d", ErrBadMTU, mtu)
	}
	if fps <= 0 || h264Clock%fps != 0 {
		return nil, H264Info{}, fmt.Errorf("%w: fps %d must divide 90000", ErrNotH264, fps)
	}
	var info H264Info
	info.FPS = fps
	for _, n := range splitAnnexB(annexB) {
		if len(n) >= 4 && n[0]&0x1F == nalSPS {
			copy(info.ProfileLevelID[:], n[1:4])
			break
		}
	}
	if info.ProfileLevelID[0] == 0 {
		return nil, H264Info{}, fmt.Errorf("%w: no sequence parameter set", ErrNotH264)
	}
	aus := accessUnits(splitAnnexB(annexB))
	step := uint32(h264Clock / fps)
	p := &Packets{Encoding: "H264", ClockRate: h264Clock,
		Fmtp: "profile-level-id=" + info.ProfileLevelIDString() + ";packetization-mode=1"}
	var pay codecs.H264Payloader
	var au []byte
	for i, nalus := range aus {
		au = au[:0]
		for _, n := range nalus {
			au = append(au, 0, 0, 0, 1)
			au = append(au, n...)
		}
		pls := pay.Payload(uint16(mtu-rtpHeaderLen), au) // fresh slices; pion copies out of au
		for j, pl := range pls {
			p.Frames = append(p.Frames, Frame{Payload: pl[:len(pl):len(pl)], Offset: uint32(i) * step,
				Marker: j == len(pls)-1})
		}
	}
	info.Frames = len(aus)
	p.Length = uint32(len(aus)) * step
	if err := p.validate(); err != nil {
		return nil, H264Info{}, fmt.Errorf("%w: no picture", ErrNotH264)
	}
	return p, info, nil
}
