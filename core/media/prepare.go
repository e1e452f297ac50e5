package media

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // content address of a clip version, not a security boundary
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Source kinds a ringback clip is uploaded as.
const (
	// KindWAV is RIFF/WAVE PCM 16-bit mono at 8 or 16 kHz; it becomes PCMU and PCMA.
	KindWAV = "wav"
	// KindAWB is the AMR-WB storage format (RFC 4867 §5, "#!AMR-WB\n"); it is sent as is.
	KindAWB = "awb"
	// KindH264 is an H.264 Annex-B byte stream (ITU-T H.264 Annex B); it is packetised (RFC 6184).
	KindH264 = "h264"
)

// Defaults of [ClipLimits] fields left zero.
const (
	DefaultClipMaxBytes    = 4 << 20
	DefaultClipMaxDuration = 60 * time.Second
	DefaultClipFPS         = 15
	DefaultClipMTU         = 1200
)

// ClipLimits bounds what [PrepareClip] accepts and says how video is packetised. Zero fields take
// the Default* constants.
type ClipLimits struct {
	MaxBytes    int           // largest source file, in bytes
	MaxDuration time.Duration // longest loop of any framing
	FPS         int           // H.264 frame rate (the Annex-B stream carries no timing)
	MTU         int           // RTP packet size budget for H.264
}

func (l ClipLimits) withDefaults() ClipLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultClipMaxBytes
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultClipMaxDuration
	}
	if l.FPS <= 0 {
		l.FPS = DefaultClipFPS
	}
	if l.MTU <= 0 {
		l.MTU = DefaultClipMTU
	}
	return l
}

// Source is one uploaded file of a clip. Data is never modified once given to PrepareClip.
type Source struct {
	Kind string // KindWAV, KindAWB or KindH264; "" = detect from the bytes (DetectKind)
	Data []byte
}

// DetectKind names the kind of a source from its first bytes: "RIFF....WAVE" is KindWAV, the
// "#!AMR-WB\n" magic is KindAWB, an Annex-B start code (00 00 01 or 00 00 00 01) is KindH264.
// Anything else gives "".
func DetectKind(b []byte) string {
	switch {
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WAVE":
		return KindWAV
	case bytes.HasPrefix(b, []byte(awbMagic)):
		return KindAWB
	case bytes.HasPrefix(b, []byte{0, 0, 1}) || bytes.HasPrefix(b, []byte{0, 0, 0, 1}):
		return KindH264
	}
	return ""
}

// PrepareClip decodes and frames the sources of one ringback clip once, for every payload format
// they can be sent in, and returns an immutable Clip carrying its content address (Version: what a
// store keys the sources by). The Clip holds only the framings, not the sources (a store keeps
// those; a cache of clips should not hold them twice). At most one source of each kind; a WAV gives
// PCMU and PCMA, an .awb both AMR-WB payload formats, an H.264 stream the video framing. The
// framings share no memory with the sources.
//
// Errors wrap [ErrClipTooLarge], [ErrClipTooLong], [ErrClipKind] (unknown, mismatched or repeated
// kind, or no source) or the parse errors of the format ([ErrNotWAV], [ErrWAVFormat], [ErrNotAWB],
// [ErrAWBFrame], [ErrNotH264], [ErrEmptyClip]). [ClipErrorCode] maps each to a stable code.
func PrepareClip(name string, lim ClipLimits, srcs ...Source) (*Clip, error) {
	lim = lim.withDefaults()
	if name == "" || len(name) > 64 || bytes.ContainsAny([]byte(name), "/\\ \t\r\n\x00") {
		return nil, fmt.Errorf("%w: name %q", ErrClipKind, name)
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("%w: no source", ErrClipKind)
	}
	c := &Clip{Name: name}
	seen := map[string]bool{}
	h := sha1.New() //nolint:gosec // see import
	for i, s := range srcs {
		if len(s.Data) > lim.MaxBytes {
			return nil, fmt.Errorf("%w: %d > %d bytes", ErrClipTooLarge, len(s.Data), lim.MaxBytes)
		}
		got := DetectKind(s.Data)
		kind := s.Kind
		if kind == "" {
			kind = got
		}
		if kind != KindWAV && kind != KindAWB && kind != KindH264 {
			return nil, fmt.Errorf("%w: source %d: unknown kind %q (want wav, awb or h264)", ErrClipKind, i, kind)
		}
		if seen[kind] {
			return nil, fmt.Errorf("%w: two %s sources", ErrClipKind, kind)
		}
		seen[kind] = true
		var err error
		switch kind {
		case KindWAV:
			err = c.LoadWAV(s.Data)
		case KindAWB:
			err = c.LoadAWB(s.Data)
		case KindH264:
			err = c.LoadH264(s.Data, lim.FPS, lim.MTU)
		}
		if err != nil {
			return nil, fmt.Errorf("media: clip %s: %s: %w", name, kind, err)
		}
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s.Data)))
		h.Write([]byte(kind))
		h.Write(n[:])
		h.Write(s.Data)
	}
	for _, p := range []*Packets{c.PCMU, c.PCMA, c.AMRWBOA, c.AMRWBBE, c.H264} {
		if p == nil {
			continue
		}
		if d := p.Duration(); d > lim.MaxDuration {
			return nil, fmt.Errorf("%w: %s loop %v > %v", ErrClipTooLong, p.Encoding, d, lim.MaxDuration)
		}
		c.Duration = max(c.Duration, p.Duration())
	}
	c.Version = hex.EncodeToString(h.Sum(nil))
	return c, nil
}

// ClipErrorCode maps an error of PrepareClip to a stable machine-readable code for API answers:
// "clip_too_large", "clip_too_long", "clip_kind", "not_wav", "wav_format", "not_awb", "awb_frame",
// "not_h264", "empty_clip"; "" for nil and "internal" for anything else.
func ClipErrorCode(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range clipCodes {
		if errorsIs(err, e.err) {
			return e.code
		}
	}
	return "internal"
}

var clipCodes = []struct {
	err  error
	code string
}{
	{ErrClipTooLarge, "clip_too_large"},
	{ErrClipTooLong, "clip_too_long"},
	{ErrClipKind, "clip_kind"},
	{ErrNotWAV, "not_wav"},
	{ErrWAVFormat, "wav_format"},
	{ErrNotAWB, "not_awb"},
	{ErrAWBFrame, "awb_frame"},
	{ErrNotH264, "not_h264"},
	{ErrEmptyClip, "empty_clip"},
	{ErrBadMTU, "clip_kind"},
}
