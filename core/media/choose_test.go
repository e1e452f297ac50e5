package media

import (
	"errors"
	"testing"
)

func TestChoose(t *testing.T) {
	c := loadSampleClip(t)
	rtpmap := func(v string) Attr { return Attr{"rtpmap", v} }
	fmtp := func(v string) Attr { return Attr{"fmtp", v} }
	tests := map[string]struct {
		m       MLine
		pt      uint8
		enc     string
		rtpmap  string
		fmtp    string
		pk      *Packets
		wantErr error
	}{
		"pcmu static": {m: MLine{Type: "audio", Proto: "RTP/AVP", Formats: []string{"0", "101"},
			Attrs: []Attr{rtpmap("101 telephone-event/8000")}}, pt: 0, enc: "PCMU", rtpmap: "0 PCMU/8000", pk: c.PCMU},
		"pcma only": {m: MLine{Type: "audio", Formats: []string{"8"}}, pt: 8, enc: "PCMA", rtpmap: "8 PCMA/8000", pk: c.PCMA},
		"offer order wins": {m: MLine{Type: "audio", Formats: []string{"8", "0"}}, pt: 8, enc: "PCMA",
			rtpmap: "8 PCMA/8000", pk: c.PCMA},
		"amr-wb octet-aligned": {m: MLine{Type: "audio", Proto: "RTP/AVP", Formats: []string{"97", "0"},
			Attrs: []Attr{rtpmap("97 AMR-WB/16000/1"), fmtp("97 mode-change-capability=2; octet-align=1;max-red=0")}},
			pt: 97, enc: "AMR-WB", rtpmap: "97 AMR-WB/16000/1", fmtp: "octet-align=1", pk: c.AMRWBOA},
		"amr-wb bandwidth-efficient": {m: MLine{Type: "audio", Formats: []string{"96"},
			Attrs: []Attr{rtpmap("96 AMR-WB/16000"), fmtp("96 mode-set=0,1,2")}},
			pt: 96, enc: "AMR-WB", rtpmap: "96 AMR-WB/16000/1", fmtp: "mode-set=0,1,2", pk: c.AMRWBBE},
		"amr-wb mode-set without clip mode falls back": {m: MLine{Type: "audio", Formats: []string{"96", "8"},
			Attrs: []Attr{rtpmap("96 AMR-WB/16000"), fmtp("96 mode-set=0,1")}},
			pt: 8, enc: "PCMA", rtpmap: "8 PCMA/8000", pk: c.PCMA},
		"amr-wb crc refused": {m: MLine{Type: "audio", Formats: []string{"96"},
			Attrs: []Attr{rtpmap("96 AMR-WB/16000"), fmtp("96 octet-align=1;crc=1")}}, wantErr: ErrNoCommonCodec},
		"amr narrowband not served": {m: MLine{Type: "audio", Formats: []string{"98"},
			Attrs: []Attr{rtpmap("98 AMR/8000")}}, wantErr: ErrNoCommonCodec},
		"h264 mode 1": {m: MLine{Type: "video", Proto: "RTP/AVPF", Formats: []string{"100", "102"},
			Attrs: []Attr{rtpmap("100 H264/90000"), fmtp("100 profile-level-id=42e01f;packetization-mode=0"),
				rtpmap("102 H264/90000"), fmtp("102 profile-level-id=42e01f;packetization-mode=1")}},
			pt: 102, enc: "H264", rtpmap: "102 H264/90000", fmtp: "profile-level-id=42c00d;packetization-mode=1", pk: c.H264},
		"h264 lower level refused": {m: MLine{Type: "video", Formats: []string{"102"},
			Attrs: []Attr{rtpmap("102 H264/90000"), fmtp("102 profile-level-id=42e00b;packetization-mode=1")}},
			wantErr: ErrNoCommonCodec},
		"h264 high profile refused": {m: MLine{Type: "video", Formats: []string{"102"},
			Attrs: []Attr{rtpmap("102 H264/90000"), fmtp("102 profile-level-id=64001f;packetization-mode=1")}},
			wantErr: ErrNoCommonCodec},
		"audio codec on video line": {m: MLine{Type: "video", Formats: []string{"0"}}, wantErr: ErrNoCommonCodec},
		"srtp":                      {m: MLine{Type: "audio", Proto: "RTP/SAVP", Formats: []string{"0"}}, wantErr: ErrNoCommonCodec},
		"g729 only": {m: MLine{Type: "audio", Formats: []string{"18"},
			Attrs: []Attr{rtpmap("18 G729/8000")}}, wantErr: ErrNoCommonCodec},
		"message line": {m: MLine{Type: "message", Proto: "TCP/MSRP", Formats: []string{"*"}}, wantErr: ErrNoCommonCodec},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ch, err := c.Choose(tc.m)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if ch.PayloadType != tc.pt || ch.Encoding != tc.enc || ch.Rtpmap() != tc.rtpmap || ch.Fmtp != tc.fmtp ||
				ch.Track.Packets != tc.pk || ch.Track.PayloadType != tc.pt {
				t.Errorf("got pt %d %q rtpmap %q fmtp %q; want pt %d %q rtpmap %q fmtp %q",
					ch.PayloadType, ch.Encoding, ch.Rtpmap(), ch.Fmtp, tc.pt, tc.enc, tc.rtpmap, tc.fmtp)
			}
		})
	}
	// A clip with audio only never answers video.
	audioOnly := &Clip{PCMU: c.PCMU}
	if _, err := audioOnly.Choose(MLine{Type: "video", Formats: []string{"102"},
		Attrs: []Attr{rtpmap("102 H264/90000"), fmtp("102 packetization-mode=1")}}); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("video on audio-only clip: err = %v", err)
	}
}
