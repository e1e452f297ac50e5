package media_test

import (
	"fmt"
	"os"

	"github.com/herald-ims/herald/core/media"
)

// Load a ringback clip once at provisioning time, then answer each call's audio m-line from it.
func ExampleClip_Choose() {
	wav, err := os.ReadFile("../../configs/clips/ringback-8k.wav")
	if err != nil {
		panic(err)
	}
	awb, err := os.ReadFile("../../configs/clips/ringback.awb")
	if err != nil {
		panic(err)
	}
	clip := &media.Clip{Name: "ringback"}
	if err := clip.LoadWAV(wav); err != nil {
		panic(err)
	}
	if err := clip.LoadAWB(awb); err != nil {
		panic(err)
	}
	offer := media.MLine{Type: "audio", Proto: "RTP/AVP", Formats: []string{"97", "8", "0"}, Attrs: []media.Attr{
		{Key: "rtpmap", Value: "97 AMR-WB/16000/1"}, {Key: "fmtp", Value: "97 octet-align=1"},
	}}
	ch, err := clip.Choose(offer)
	if err != nil {
		panic(err) // media.ErrNoCommonCodec: answer the m-line with port 0 and skip ringback
	}
	for _, a := range ch.AnswerAttrs() {
		fmt.Println("a=" + a.String())
	}
	fmt.Println(len(ch.Track.Packets.Frames), "packets per loop,", ch.Track.Packets.Duration())
	// Output:
	// a=rtpmap:97 AMR-WB/16000/1
	// a=fmtp:97 octet-align=1
	// a=ptime:20
	// 65 packets per loop, 3s
}
