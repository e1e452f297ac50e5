package media

import (
	"errors"
	"os"
	"testing"
	"time"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../configs/clips/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPrepareClip: each sample clip (configs/clips) alone and all together, kinds given and
// detected, with the framings, duration and content address each gives.
func TestPrepareClip(t *testing.T) {
	wav8, wav16, awb, h264 := sample(t, "ringback-8k.wav"), sample(t, "ringback-16k.wav"), sample(t, "ringback.awb"), sample(t, "ringback.h264")
	for name, tc := range map[string]struct {
		srcs     []Source
		pcm, amr bool
		video    bool
		dur      time.Duration
	}{
		"wav 8k":          {srcs: []Source{{KindWAV, wav8}}, pcm: true, dur: 3 * time.Second},
		"wav 16k":         {srcs: []Source{{KindWAV, wav16}}, pcm: true, dur: 3 * time.Second},
		"awb":             {srcs: []Source{{KindAWB, awb}}, amr: true, dur: 3 * time.Second},
		"h264":            {srcs: []Source{{KindH264, h264}}, video: true, dur: 2 * time.Second}, // 30 frames at 15 fps
		"all, detected":   {srcs: []Source{{"", wav8}, {"", awb}, {"", h264}}, pcm: true, amr: true, video: true, dur: 3 * time.Second},
		"all, kind given": {srcs: []Source{{KindH264, h264}, {KindWAV, wav8}, {KindAWB, awb}}, pcm: true, amr: true, video: true, dur: 3 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := PrepareClip("ringback", ClipLimits{}, tc.srcs...)
			if err != nil {
				t.Fatal(err)
			}
			if (c.PCMU != nil) != tc.pcm || (c.PCMA != nil) != tc.pcm || (c.AMRWBOA != nil) != tc.amr ||
				(c.AMRWBBE != nil) != tc.amr || (c.H264 != nil) != tc.video {
				t.Errorf("framings PCMU %v AMR %v H264 %v", c.PCMU != nil, c.AMRWBOA != nil, c.H264 != nil)
			}
			if c.Duration < tc.dur-100*time.Millisecond || c.Duration > tc.dur+100*time.Millisecond {
				t.Errorf("Duration %v, want about %v", c.Duration, tc.dur)
			}
			if len(c.Version) != 40 {
				t.Errorf("Version %q", c.Version)
			}
			again, err := PrepareClip("other", ClipLimits{}, tc.srcs...)
			if err != nil || again.Version != c.Version {
				t.Errorf("Version is not a content address: %q vs %q (%v)", again.Version, c.Version, err)
			}
		})
	}
	a, _ := PrepareClip("r", ClipLimits{}, Source{KindWAV, wav8})
	b, _ := PrepareClip("r", ClipLimits{}, Source{KindWAV, wav16})
	if a == nil || b == nil || a.Version == b.Version {
		t.Error("two different sources share a Version")
	}
}

// TestPrepareClipErrors: every refusal, with its sentinel and its stable code.
func TestPrepareClipErrors(t *testing.T) {
	wav8, awb, h264 := sample(t, "ringback-8k.wav"), sample(t, "ringback.awb"), sample(t, "ringback.h264")
	badFrame := append([]byte(awbMagic), 0x50) // ToC with FT 10: reserved (RFC 4867 §5.3, Table 1a)
	for name, tc := range map[string]struct {
		name string
		lim  ClipLimits
		srcs []Source
		err  error
		code string
	}{
		"no source":           {err: ErrClipKind, code: "clip_kind"},
		"bad name":            {name: "a/b", srcs: []Source{{KindWAV, wav8}}, err: ErrClipKind, code: "clip_kind"},
		"unknown kind":        {srcs: []Source{{"mp3", wav8}}, err: ErrClipKind, code: "clip_kind"},
		"undetectable":        {srcs: []Source{{"", []byte("ID3\x04 an mp3")}}, err: ErrClipKind, code: "clip_kind"},
		"kind twice":          {srcs: []Source{{KindWAV, wav8}, {"", wav8}}, err: ErrClipKind, code: "clip_kind"},
		"too large":           {lim: ClipLimits{MaxBytes: 1024}, srcs: []Source{{KindWAV, wav8}}, err: ErrClipTooLarge, code: "clip_too_large"},
		"too long":            {lim: ClipLimits{MaxDuration: 2 * time.Second}, srcs: []Source{{KindAWB, awb}}, err: ErrClipTooLong, code: "clip_too_long"},
		"awb said wav":        {srcs: []Source{{KindWAV, awb}}, err: ErrNotWAV, code: "not_wav"},
		"truncated wav":       {srcs: []Source{{KindWAV, wav8[:30]}}, err: ErrNotWAV, code: "not_wav"},
		"stereo wav":          {srcs: []Source{{KindWAV, makeWAV(1, 2, 8000, 16, make([]int16, 320))}}, err: ErrWAVFormat, code: "wav_format"},
		"empty wav":           {srcs: []Source{{KindWAV, makeWAV(1, 1, 8000, 16, nil)}}, err: ErrEmptyClip, code: "empty_clip"},
		"wav said awb":        {srcs: []Source{{KindAWB, wav8}}, err: ErrNotAWB, code: "not_awb"},
		"reserved awb frame":  {srcs: []Source{{KindAWB, badFrame}}, err: ErrAWBFrame, code: "awb_frame"},
		"truncated awb frame": {srcs: []Source{{KindAWB, awb[:len(awbMagic)+5]}}, err: ErrAWBFrame, code: "awb_frame"},
		"garbage h264":        {srcs: []Source{{KindH264, []byte("\x00\x00\x00\x01garbage that is no picture")}}, err: ErrNotH264, code: "not_h264"},
		"wav said h264":       {srcs: []Source{{KindH264, wav8}}, err: ErrNotH264, code: "not_h264"},
		"h264 mtu too small":  {lim: ClipLimits{MTU: 12}, srcs: []Source{{KindH264, h264}}, err: ErrBadMTU, code: "clip_kind"},
	} {
		t.Run(name, func(t *testing.T) {
			n := tc.name
			if n == "" {
				n = "ringback"
			}
			c, err := PrepareClip(n, tc.lim, tc.srcs...)
			if c != nil || !errors.Is(err, tc.err) {
				t.Fatalf("PrepareClip = %v, %v; want %v", c, err, tc.err)
			}
			if got := ClipErrorCode(err); got != tc.code {
				t.Errorf("ClipErrorCode = %q, want %q (%v)", got, tc.code, err)
			}
		})
	}
	if ClipErrorCode(nil) != "" || ClipErrorCode(errors.New("x")) != "internal" {
		t.Error("ClipErrorCode of nil or a foreign error")
	}
}

func TestDetectKind(t *testing.T) {
	for in, want := range map[string]string{
		"RIFF\x00\x00\x00\x00WAVEfmt ": KindWAV, "RIFF\x00\x00\x00\x00AVI ": "", awbMagic + "\x04": KindAWB,
		"#!AMR\n": "", "\x00\x00\x00\x01\x67": KindH264, "\x00\x00\x01\x09": KindH264, "\x00\x01": "", "": "",
	} {
		if got := DetectKind([]byte(in)); got != want {
			t.Errorf("DetectKind(%q) = %q, want %q", in, got, want)
		}
	}
}
