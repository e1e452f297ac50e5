package media

import "errors"

// errorsIs is errors.Is (named so ClipErrorCode reads as a table walk).
var errorsIs = errors.Is

var (
	// ErrNotWAV means the input is not a RIFF/WAVE file or is truncated inside its headers.
	ErrNotWAV = errors.New("media: not a wav file")
	// ErrWAVFormat means the WAV file is valid but not PCM 16-bit mono at 8000 or 16000 Hz.
	ErrWAVFormat = errors.New("media: unsupported wav format")
	// ErrNotAWB means the input does not start with the AMR-WB storage magic "#!AMR-WB\n".
	ErrNotAWB = errors.New("media: not an amr-wb storage file")
	// ErrAWBFrame means an AMR-WB frame is truncated or has a reserved frame type.
	ErrAWBFrame = errors.New("media: bad amr-wb frame")
	// ErrNotH264 means the input holds no H.264 Annex-B access unit with a picture.
	ErrNotH264 = errors.New("media: not an h264 annex-b stream")
	// ErrEmptyClip means the clip decodes to no packet at all.
	ErrEmptyClip = errors.New("media: empty clip")
	// ErrNoCommonCodec means no format of the offered m-line can be served from the clip.
	ErrNoCommonCodec = errors.New("media: no common codec")
	// ErrBadMTU means the MTU leaves no room for an RTP payload.
	ErrBadMTU = errors.New("media: mtu too small")
	// ErrClipTooLarge means an uploaded clip source is larger than ClipLimits.MaxBytes.
	ErrClipTooLarge = errors.New("media: clip too large")
	// ErrClipTooLong means a framing of the clip plays longer than ClipLimits.MaxDuration.
	ErrClipTooLong = errors.New("media: clip too long")
	// ErrClipKind means a clip source is of no known kind, of a kind given twice, or that there is none.
	ErrClipKind = errors.New("media: bad clip source")
)
