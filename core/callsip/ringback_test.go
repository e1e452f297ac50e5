package callsip

import (
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"testing"

	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/call"
	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sdp"
)

// fakeRing is a Ringback whose streams record what happens to them; the controller calls it on its
// own goroutine only.
type fakeRing struct {
	clip *media.Clip
	fail error // Allocate's error, if set
	all  []*fakeStream
}

func (f *fakeRing) Allocate() (RingStream, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	st := &fakeStream{port: 40002 + 2*len(f.all)}
	f.all = append(f.all, st)
	return st, nil
}

// Clip is the ring's one clip when asked by its name.
func (f *fakeRing) Clip(name string) (c *media.Clip) {
	if name == f.clip.Name {
		c = f.clip
	}
	return c
}

func (f *fakeRing) Addr() string { return "192.0.2.11" }

type fakeStream struct {
	port    int
	dst     netip.AddrPort
	track   media.Track
	played  bool
	stopped int
}

func (s *fakeStream) Port() int { return s.port }

func (s *fakeStream) Play(dst netip.AddrPort, t media.Track) error {
	s.dst, s.track, s.played = dst, t, true
	return nil
}

func (s *fakeStream) Stop() { s.stopped++ }

// ringbackClip is the sample ringback clip (configs.Clips) prepared as the binary prepares it.
func ringbackClip(t *testing.T) *media.Clip {
	t.Helper()
	var srcs []media.Source
	for _, file := range []string{"ringback-8k.wav", "ringback.awb", "ringback.h264"} {
		b, err := fs.ReadFile(configs.Clips, file)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, media.Source{Data: b})
	}
	c, err := media.PrepareClip("ringback", media.ClipLimits{FPS: 15, MTU: 1200}, srcs...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakePlane is the part of push.Plane answerOffer touches.
type fakePlane struct{}

func (fakePlane) Open(*push.Session) error   { return nil }
func (fakePlane) Close(string)               {}
func (fakePlane) PathURI(id string) string   { return "msrp://192.0.2.10:2855/" + id + ";tcp" }
func (fakePlane) Addr() (string, int)        { return "192.0.2.10", 2855 }
func (fakePlane) SetAccept(string, []string) {}

func offerOf(t *testing.T, media ...string) *sdp.Session {
	t.Helper()
	b := "v=0\r\no=alice 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n" + strings.Join(media, "")
	s, err := sdp.Parse([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	mPCMU  = "m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	mPCMA  = "m=audio 49170 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
	mAMROA = "m=audio 49170 RTP/AVP 97\r\na=rtpmap:97 AMR-WB/16000\r\na=fmtp:97 octet-align=1\r\n"
	mAMRBE = "m=audio 49170 RTP/AVP 96\r\na=rtpmap:96 AMR-WB/16000\r\n"
	mH264  = "m=video 49172 RTP/AVP 98\r\na=rtpmap:98 H264/90000\r\na=fmtp:98 profile-level-id=42c00d;packetization-mode=1\r\n"
	mOpus  = "m=audio 49170 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
	mMSRP  = "m=message 9 TCP/MSRP *\r\na=path:msrp://198.51.100.7:9/x;tcp\r\n"
)

// TestRingbackAnswer checks the 183 answer Herald builds when the callee has a ringback (claims 2, 6):
// each m-line the clip can serve is answered sendonly with one codec the caller offered, on a port
// allocated for it; other m-lines get port 0; with no codec in common the ringback is skipped and every
// line is answered inactive.
func TestRingbackAnswer(t *testing.T) {
	clip := ringbackClip(t)
	tests := map[string]struct {
		offer   []string
		want    []string // per m-line: "<type> <format> sendonly" or "<type> 0" for rejected, "inactive"
		streams int
	}{
		"pcmu only":                  {offer: []string{mPCMU}, want: []string{"audio 0 sendonly"}, streams: 1},
		"pcma only":                  {offer: []string{mPCMA}, want: []string{"audio 8 sendonly"}, streams: 1},
		"amr-wb octet-align":         {offer: []string{mAMROA}, want: []string{"audio 97 sendonly"}, streams: 1},
		"amr-wb bandwidth-efficient": {offer: []string{mAMRBE}, want: []string{"audio 96 sendonly"}, streams: 1},
		"audio and video":            {offer: []string{mPCMU, mH264}, want: []string{"audio 0 sendonly", "video 98 sendonly"}, streams: 2},
		"unserved line gets port 0":  {offer: []string{mPCMA, mMSRP}, want: []string{"audio 8 sendonly", "message port0"}, streams: 1},
		"no codec in common":         {offer: []string{mOpus}, want: []string{"inactive"}, streams: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ring := &fakeRing{clip: clip}
			env := testEnv(fakePlane{})
			env.Ringback = ring
			c := &Call{env: env, plan: call.Plan{Ringback: "ringback"}}
			ans := c.answerOffer(offerOf(t, tc.offer...))
			if len(ans.Media) != len(tc.offer) {
				t.Fatalf("%d m-lines answered, want %d", len(ans.Media), len(tc.offer))
			}
			for i, w := range tc.want {
				m := ans.Media[i]
				switch {
				case w == "inactive":
					if m.Direction() != sdp.Inactive || m.Port == 0 {
						t.Errorf("m-line %d: %s port %d, want inactive", i, m.Direction(), m.Port)
					}
				case strings.HasSuffix(w, "port0"):
					if m.Port != 0 {
						t.Errorf("m-line %d port %d, want 0", i, m.Port)
					}
				default:
					f := strings.Fields(w)
					if m.Type != f[0] || len(m.Formats) != 1 || m.Formats[0] != f[1] || m.Direction() != f[2] || m.Port == 0 {
						t.Errorf("m-line %d: %s %v %s port %d, want %s", i, m.Type, m.Formats, m.Direction(), m.Port, w)
					}
					if c, _ := m.Attr("content"); c != "g.3gpp.cat" {
						t.Errorf("m-line %d lacks a=content:g.3gpp.cat", i)
					}
				}
			}
			if len(c.early.streams) != tc.streams || len(ring.all) != tc.streams {
				t.Fatalf("%d streams kept, %d allocated, want %d", len(c.early.streams), len(ring.all), tc.streams)
			}
			if want := "sendonly"; tc.streams > 0 && c.early.earlyMedia() != want || tc.streams == 0 && c.early.earlyMedia() != "inactive" {
				t.Errorf("P-Early-Media %q", c.early.earlyMedia())
			}
			c.playRingback()
			for _, st := range ring.all {
				if !st.played || st.dst.Addr().String() != "198.51.100.7" || st.track.Packets == nil {
					t.Errorf("stream on %d: played %t to %s", st.port, st.played, st.dst)
				}
			}
			c.early.answer = ans
			c.stopRingback()
			c.stopRingback() // idempotent: the call's cleanup calls it again
			// The next offer on Herald's dialog (the UPDATE) plays nothing.
			for i, m := range ans.Media {
				if m.Direction() == sdp.SendOnly {
					t.Errorf("m-line %d still sendonly after the ringback stopped", i)
				}
			}
			for _, st := range ring.all {
				if st.stopped != 1 {
					t.Errorf("stream on %d stopped %d times, want 1", st.port, st.stopped)
				}
			}
		})
	}
}

// A ringback the RTP plane cannot allocate (its port range exhausted, or the process out of
// descriptors) is skipped line by line: the answer goes inactive, the call goes on, and it is
// counted as RingbackNoPort, not as a codec mismatch.
func TestClaim2RingbackWithoutPortIsSkippedAndCounted(t *testing.T) {
	ring := &fakeRing{clip: ringbackClip(t), fail: errors.New("netio/rtp: no free rtp port pair: too many open files")}
	env := testEnv(fakePlane{})
	env.Ringback = ring
	c := &Call{env: env, plan: call.Plan{Ringback: "ringback"}}
	ans := c.answerOffer(offerOf(t, mPCMU))
	if len(ans.Media) != 1 || ans.Media[0].Direction() != sdp.Inactive {
		t.Fatalf("answer %+v, want one inactive line", ans.Media)
	}
	if len(c.early.streams) != 0 || c.early.earlyMedia() != "inactive" {
		t.Errorf("%d streams, P-Early-Media %q", len(c.early.streams), c.early.earlyMedia())
	}
	if got, codec := env.Stats.RingbackNoPort.Load(), env.Stats.RingbackNoCodec.Load(); got != 1 || codec != 0 {
		t.Errorf("RingbackNoPort %d, RingbackNoCodec %d; want 1, 0", got, codec)
	}
}
