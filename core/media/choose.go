package media

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Attr is one SDP attribute line a=Key:Value (Value empty for a flag).
type Attr struct{ Key, Value string }

// MLine is the part of one offered SDP m-line that codec choice reads. It mirrors core/sdp's Media
// (Type, Proto, Formats, Attrs) so a caller converts with a field copy.
type MLine struct {
	Type    string   // "audio" or "video"
	Proto   string   // "RTP/AVP", "RTP/AVPF"; "" is taken as RTP/AVP
	Formats []string // payload types in offer order
	Attrs   []Attr
}

// Format is one offered payload format after rtpmap/fmtp resolution.
type Format struct {
	PayloadType uint8
	Encoding    string // as offered (case preserved)
	ClockRate   int
	Channels    int // 0 when the rtpmap gives none
	Fmtp        string
}

// Resolve resolves the m-line's payload types with their a=rtpmap and a=fmtp lines. Static payload
// types 0 (PCMU) and 8 (PCMA) need no rtpmap (RFC 3551 Table 4); other formats without an rtpmap and
// non-numeric formats are left out.
func (m MLine) Resolve() []Format {
	rtpmap := map[string]string{}
	fmtp := map[string]string{}
	for _, a := range m.Attrs {
		pt, rest, ok := strings.Cut(strings.TrimSpace(a.Value), " ")
		if !ok {
			continue
		}
		switch strings.ToLower(a.Key) {
		case "rtpmap":
			rtpmap[pt] = strings.TrimSpace(rest)
		case "fmtp":
			fmtp[pt] = strings.TrimSpace(rest)
		}
	}
	var out []Format
	for _, f := range m.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil || n > 127 {
			continue
		}
		pf := Format{PayloadType: uint8(n), Fmtp: fmtp[f]}
		if rm, ok := rtpmap[f]; ok {
			parts := strings.Split(rm, "/")
			pf.Encoding = parts[0]
			if len(parts) > 1 {
				pf.ClockRate, _ = strconv.Atoi(parts[1])
			}
			if len(parts) > 2 {
				pf.Channels, _ = strconv.Atoi(parts[2])
			}
		} else {
			switch n {
			case StaticPCMU:
				pf.Encoding, pf.ClockRate, pf.Channels = "PCMU", 8000, 1
			case StaticPCMA:
				pf.Encoding, pf.ClockRate, pf.Channels = "PCMA", 8000, 1
			default:
				continue
			}
		}
		out = append(out, pf)
	}
	return out
}

// Choice is the answer for one m-line: what to put in the SDP and what to play.
type Choice struct {
	PayloadType uint8
	Encoding    string // canonical name to answer with in a=rtpmap
	ClockRate   int
	Channels    int    // 1 for audio (rtpmap "/1" may be omitted), 0 for video
	Fmtp        string // a=fmtp parameters for the answer, "" for none
	Track       Track  // the pre-framed clip and payload type for netio/rtp
}

// Rtpmap returns the a=rtpmap value, e.g. "96 AMR-WB/16000/1" or "0 PCMU/8000".
func (c Choice) Rtpmap() string {
	s := fmt.Sprintf("%d %s/%d", c.PayloadType, c.Encoding, c.ClockRate)
	if c.Channels > 1 || c.Encoding == awbEncoding {
		s += "/" + strconv.Itoa(c.Channels)
	}
	return s
}

// Clip is one ringback clip framed for every payload format it can be played in. Nil fields are
// formats the clip does not have. Immutable after construction; share one Clip between all calls.
type Clip struct {
	Name       string
	PCMU, PCMA *Packets // from a WAV
	AMRWBOA    *Packets // AMR-WB octet-aligned, from an .awb
	AMRWBBE    *Packets // AMR-WB bandwidth-efficient, same frames
	AMRWBModes uint16   // speech modes the .awb uses (bit i = mode i)
	H264       *Packets // from Annex-B
	H264Info   H264Info
	// Version is the content address of a clip built by PrepareClip: hex SHA-1 over its sources
	// (kind, length, bytes, in order). "" for a Clip assembled by hand.
	Version string
	// Duration is the longest loop among the framings (PrepareClip only).
	Duration time.Duration
}

// LoadWAV adds PCMU and PCMA framings decoded from a WAV file to c.
func (c *Clip) LoadWAV(b []byte) error {
	pcm, err := ParseWAV(b)
	if err != nil {
		return err
	}
	c.PCMU, c.PCMA, err = NewG711(pcm)
	return err
}

// LoadAWB adds AMR-WB framings (both payload modes) from an AMR-WB storage file to c.
func (c *Clip) LoadAWB(b []byte) error {
	frames, err := ParseAWB(b)
	if err != nil {
		return err
	}
	if c.AMRWBOA, err = NewAMRWB(frames, true); err != nil {
		return err
	}
	if c.AMRWBBE, err = NewAMRWB(frames, false); err != nil {
		return err
	}
	c.AMRWBModes = AWBModes(frames)
	return nil
}

// LoadH264 adds an H.264 framing from an Annex-B stream to c.
func (c *Clip) LoadH264(b []byte, fps, mtu int) error {
	p, info, err := NewH264(b, fps, mtu)
	if err != nil {
		return err
	}
	c.H264, c.H264Info = p, info
	return nil
}

// Choose answers one offered m-line: the first offered format (offer order, RFC 3264 §6.1) that the
// clip can be sent in without transcoding. Secure or non-RTP transports, and an m-line whose formats
// the clip lacks, give [ErrNoCommonCodec]; the caller then answers the m-line with port 0.
//
// Rules: PCMU/PCMA at 8000 Hz mono; AMR-WB at 16000 Hz mono whose fmtp asks for neither crc,
// robust-sorting nor interleaving and whose mode-set (if any) contains every mode the clip uses,
// octet-aligned when octet-align=1, else bandwidth-efficient; H.264 with packetization-mode=1, the
// clip's profile_idc and a level at least the clip's (or level-asymmetry-allowed=1).
func (c *Clip) Choose(m MLine) (Choice, error) {
	if p := strings.ToUpper(m.Proto); p != "" && p != "RTP/AVP" && p != "RTP/AVPF" {
		return Choice{}, fmt.Errorf("%w: transport %s", ErrNoCommonCodec, m.Proto)
	}
	for _, f := range m.Resolve() {
		if ch, ok := c.match(strings.ToLower(m.Type), f); ok {
			return ch, nil
		}
	}
	return Choice{}, fmt.Errorf("%w: %s formats %v", ErrNoCommonCodec, m.Type, m.Formats)
}

func (c *Clip) match(typ string, f Format) (Choice, bool) {
	enc := strings.ToUpper(f.Encoding)
	audio := func(p *Packets, fmtp string) (Choice, bool) {
		if typ != "audio" || p == nil || f.ClockRate != int(p.ClockRate) || f.Channels > 1 {
			return Choice{}, false
		}
		return Choice{PayloadType: f.PayloadType, Encoding: p.Encoding, ClockRate: int(p.ClockRate),
			Channels: 1, Fmtp: fmtp, Track: Track{Packets: p, PayloadType: f.PayloadType}}, true
	}
	switch enc {
	case "PCMU":
		return audio(c.PCMU, "")
	case "PCMA":
		return audio(c.PCMA, "")
	case awbEncoding:
		params := fmtpParams(f.Fmtp)
		if params["crc"] == "1" || params["robust-sorting"] == "1" || params["interleaving"] != "" {
			return Choice{}, false
		}
		fmtp := ""
		if ms, ok := params["mode-set"]; ok {
			var set uint16
			for _, s := range strings.Split(ms, ",") {
				if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 && n <= 8 {
					set |= 1 << n
				}
			}
			if c.AMRWBModes&^set != 0 {
				return Choice{}, false
			}
			fmtp = "mode-set=" + ms
		}
		if params["octet-align"] == "1" {
			return audio(c.AMRWBOA, joinFmtp(fmtpOctetAlign, fmtp))
		}
		return audio(c.AMRWBBE, fmtp)
	case "H264":
		if typ != "video" || c.H264 == nil || f.ClockRate != h264Clock {
			return Choice{}, false
		}
		params := fmtpParams(f.Fmtp)
		if params["packetization-mode"] != "1" {
			return Choice{}, false
		}
		plid := params["profile-level-id"]
		if plid == "" {
			plid = "42000a" // RFC 6184 §8.1 default: Baseline, level 1.0
		}
		var off [3]byte
		if _, err := fmt.Sscanf(plid, "%02x%02x%02x", &off[0], &off[1], &off[2]); err != nil {
			return Choice{}, false
		}
		clip := c.H264Info.ProfileLevelID
		if off[0] != clip[0] || (off[2] < clip[2] && params["level-asymmetry-allowed"] != "1") {
			return Choice{}, false
		}
		return Choice{PayloadType: f.PayloadType, Encoding: "H264", ClockRate: h264Clock, Fmtp: c.H264.Fmtp,
			Track: Track{Packets: c.H264, PayloadType: f.PayloadType}}, true
	}
	return Choice{}, false
}

func fmtpParams(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k != "" {
			m[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return m
}

func joinFmtp(a, b string) string {
	if b == "" {
		return a
	}
	return a + ";" + b
}
