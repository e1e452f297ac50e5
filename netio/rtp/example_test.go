package rtp_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/netio/rtp"
)

// The call side: Allocate before the 183 (its port goes in the SDP answer), Play after PRACK, Stop on
// the callee's 200, a final failure or CANCEL.
func Example() {
	plane, err := rtp.New(rtp.Options{ListenIP: "127.0.0.1", PortMin: 44000, PortMax: 44999})
	if err != nil {
		panic(err)
	}
	if err := plane.Start(context.Background()); err != nil {
		panic(err)
	}
	defer plane.Stop(context.Background())

	clip := &media.Clip{}
	if err := clip.LoadWAV(mustRead("../../configs/clips/ringback-8k.wav")); err != nil {
		panic(err)
	}
	ch, err := clip.Choose(media.MLine{Type: "audio", Formats: []string{"8"}})
	if err != nil {
		panic(err)
	}

	stream, err := plane.Allocate() // before the 183
	if err != nil {
		panic(err)
	}
	fmt.Println("answer port is even:", stream.Port()%2 == 0)

	caller := netip.MustParseAddrPort("127.0.0.1:49170")  // from the offer's c= and m= lines
	if err := stream.Play(caller, ch.Track); err != nil { // after PRACK
		panic(err)
	}
	time.Sleep(60 * time.Millisecond)
	stream.Stop() // on 200 / 486 / CANCEL: returns once the sockets are closed
	<-stream.Done()
	fmt.Println("ended:", stream.Err())
	// Output:
	// answer port is even: true
	// ended: <nil>
}

func mustRead(name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}
