package msrp

import (
	"net"
	"strconv"
	"testing"
	"time"
)

// FuzzServerInput sends arbitrary bytes to a live server as a terminal would and checks that the server
// neither crashes nor hangs: the connection is answered or closed within the bind timeout, and the server
// still answers a well-formed acquisition request afterwards. Seeds are RFC 4975 §7 frames and
// Herald's own (acquisition SEND, REPORT).
func FuzzServerInput(f *testing.F) {
	seeds := []string{
		// The acquisition request (RFC 4975 §5.4).
		"MSRP a786hjs2 SEND\r\nTo-Path: msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp\r\n" +
			"From-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\nMessage-ID: 87652491\r\nByte-Range: 1-0/0\r\n-------a786hjs2$\r\n",
		// RFC 4975 §7.1.1 SEND with a body.
		"MSRP a786hjs2 SEND\r\nTo-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n" +
			"From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\nMessage-ID: 87652491\r\n" +
			"Byte-Range: 1-25/25\r\nContent-Type: text/plain\r\n\r\nHey Bob, are you there?\r\n-------a786hjs2$\r\n",
		// RFC 4975 §7.2 response.
		"MSRP a786hjs2 200 OK\r\nTo-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n" +
			"From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n-------a786hjs2$\r\n",
		// A success REPORT (RFC 4975 §7.1.2).
		"MSRP 9xq2LmR0 REPORT\r\nTo-Path: msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp\r\n" +
			"From-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\nMessage-ID: 4564dpWd\r\nByte-Range: 1-18432/18432\r\n" +
			"Status: 000 200 OK\r\n-------9xq2LmR0$\r\n",
		// Aborted chunk.
		"MSRP d93kswow SEND\r\nTo-Path: msrp://h:1/s;tcp\r\nFrom-Path: msrp://h:2/t;tcp\r\nMessage-ID: 1\r\n" +
			"Byte-Range: 1-*/*\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------d93kswow#\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"MSRP x",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	o := testOptions()
	o.BindTimeout = 300 * time.Millisecond
	o.MaxHeaderBytes = 2048
	o.MaxChunkBytes = 4096
	s := startServer(f, o)
	host, port := s.Addr()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	f.Fuzz(func(t *testing.T, in []byte) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write(in); err != nil {
			return // the server may close on garbage before everything is written
		}
		_ = conn.(*net.TCPConn).CloseWrite() // an incomplete frame then ends at once, not at the bind timeout
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("server neither answered nor closed within 3 s")
				}
				break
			}
		}
		if err := probe481(addr); err != nil {
			t.Fatalf("server unhealthy after input: %v", err)
		}
	})
}
