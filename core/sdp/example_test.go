package sdp_test

import (
	"fmt"
	"strings"

	"github.com/herald-ims/herald/core/sdp"
)

// Herald's early-session offer to the callee (RFC 3959; claim 3 in the README), added to
// the caller's unchanged SDP.
func ExampleAddEarlySession() {
	callerSDP := []byte("v=0\r\no=alice 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n")

	early := sdp.NewSession("ps", "192.0.2.10", 2890844526)
	early.AddMedia(sdp.PushOffer{
		Port:         2855,
		PathURI:      "msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp",
		AcceptTypes:  []string{"text/html"},
		FileSelector: sdp.FileSelector{Name: "caller-card.html", Type: "text/html", Size: 18432},
		TransferID:   "vBnG0ZeBq7",
		Disposition:  "render",
	}.Media())

	ct, body, err := sdp.AddEarlySession("application/sdp", callerSDP, early.Marshal(), "ps-b1")
	if err != nil {
		panic(err)
	}
	fmt.Println("Content-Type:", ct)
	fmt.Print(strings.ReplaceAll(string(body), "\r\n", "\n"))

	// The 18x going back to the caller has the early-session part removed.
	ct, back, _, _ := sdp.StripEarlySession(ct, body)
	fmt.Println(ct, string(back) == string(callerSDP))
	// Output:
	// Content-Type: multipart/mixed;boundary=ps-b1
	// --ps-b1
	// Content-Type: application/sdp
	// Content-Disposition: session
	//
	// v=0
	// o=alice 1 1 IN IP4 198.51.100.7
	// s=-
	// c=IN IP4 198.51.100.7
	// t=0 0
	// m=audio 49170 RTP/AVP 0
	//
	// --ps-b1
	// Content-Type: application/sdp
	// Content-Disposition: early-session;handling=optional
	//
	// v=0
	// o=ps 2890844526 2890844526 IN IP4 192.0.2.10
	// s=-
	// c=IN IP4 192.0.2.10
	// t=0 0
	// m=message 2855 TCP/MSRP *
	// a=sendonly
	// a=accept-types:text/html
	// a=path:msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp
	// a=setup:actpass
	// a=msrp-cema
	// a=file-selector:name:"caller-card.html" type:text/html size:18432
	// a=file-transfer-id:vBnG0ZeBq7
	// a=file-disposition:render
	//
	// --ps-b1--
	// application/sdp true
}

// Reading the callee's early-session answer (RFC 5547 receiver: a=recvonly, its own a=path, a=setup:active).
func ExampleMedia_MSRP() {
	answer := "v=0\r\no=- 3600507138 3600507138 IN IP4 10.1.2.3\r\ns=-\r\nc=IN IP4 10.1.2.3\r\nt=0 0\r\n" +
		"m=message 9 TCP/MSRP *\r\na=recvonly\r\na=path:msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\na=setup:active\r\na=msrp-cema\r\n"
	s, err := sdp.Parse([]byte(answer))
	if err != nil {
		panic(err)
	}
	info, err := s.Media[0].MSRP()
	if err != nil {
		panic(err)
	}
	fmt.Println(info.Path[0], info.Setup, info.CEMA, info.Direction, info.ConnAddr, info.Port)
	// Output: msrp://10.1.2.3:9/aQ3xT8pR;tcp active true recvonly 10.1.2.3 9
}
