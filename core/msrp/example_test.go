package msrp_test

import (
	"errors"
	"fmt"

	"github.com/herald-ims/herald/core/msrp"
)

func ExampleParser_Parse() {
	stream := []byte("MSRP a786hjs2 SEND\r\n" +
		"To-Path: msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp\r\n" +
		"From-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\n" +
		"Message-ID: 87652491\r\n" +
		"Byte-Range: 1-0/0\r\n" +
		"-------a786hjs2$\r\n")
	var p msrp.Parser
	var m msrp.Message
	// The first read holds half the frame.
	_, err := p.Parse(stream[:40], &m)
	fmt.Println(errors.Is(err, msrp.ErrIncomplete))
	n, err := p.Parse(stream, &m)
	sid, _ := msrp.SessionIDOf(m.ToPath)
	fmt.Println(n == len(stream), err, string(m.Method), string(sid), m.Body == nil)
	// Output:
	// true
	// true <nil> SEND kX9r3Qz7Lp2Vw8Yt5Nc1 true
}

func ExampleChunker() {
	c := msrp.NewChunker(5000, 2048)
	for {
		br, last, ok := c.Next()
		if !ok {
			break
		}
		fmt.Println(string(msrp.AppendByteRange(nil, br)), last)
	}
	// Output:
	// 1-2048/5000 false
	// 2049-4096/5000 false
	// 4097-5000/5000 true
}
