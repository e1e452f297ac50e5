package uesim

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
)

// FuzzFetchStream feeds arbitrary bytes to the MSRP fetch client as the pusher's side of the
// connection: it must return (page or error) without panicking or hanging.
func FuzzFetchStream(f *testing.F) {
	page := []byte("<html>hi</html>")
	to, from := []byte("msrp://127.0.0.1:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp"), []byte("msrp://127.0.0.1:9/own;tcp")
	// Seed: a well-formed push (bind 200, then a SEND chunk, RFC 4975 §7.1.1) split in two chunks.
	var seed []byte
	seed = msrp.AppendResponse(seed, "a786hjs2", 200, "OK", from, to)
	seed = msrp.AppendSendChunkHead(seed, "dkei38sd", from, to, "4564dpWd", msrp.ByteRange{Start: 1, End: 6, Total: 15}, "text/html", "render")
	seed = append(seed, page[:6]...)
	seed = msrp.AppendEndLine(seed, "dkei38sd", msrp.FlagMore, true)
	seed = msrp.AppendSendChunkHead(seed, "dkei38se", from, to, "4564dpWd", msrp.ByteRange{Start: 7, End: 15, Total: 15}, "text/html", "render")
	seed = append(seed, page[6:]...)
	seed = msrp.AppendEndLine(seed, "dkei38se", msrp.FlagEnd, true)
	f.Add(seed)
	f.Add([]byte("MSRP a786hjs2 SEND\r\nTo-Path: msrp://x:9/a;tcp\r\nFrom-Path: msrp://y:9/b;tcp\r\nMessage-ID: 1\r\nByte-Range: 3-2/*\r\nContent-Type: text/html\r\n\r\nx\r\n-------a786hjs2$\r\n"))
	f.Add([]byte("MSRP dkei38sd SEND\r\nByte-Range: 1-*/*\r\nContent-Type: text/html\r\n\r\n\r\n-------dkei38sd#\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			go func() { _, _ = io.Copy(io.Discard, server) }()
			_, _ = server.Write(data)
		}()
		done := make(chan error, 1)
		go func() {
			_, err := fetchConn(context.Background(), client, FetchOptions{ToPath: string(to), FromPath: string(from),
				Size: int64(len(page)), Hash: HashSelector(page), Timeout: time.Second})
			done <- err
		}()
		select {
		case err := <-done:
			if errors.Is(err, ErrTimeout) {
				t.Fatalf("fetch timed out on a closed stream: %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("fetch hung")
		}
	})
}

// FuzzLeanParse feeds arbitrary datagrams to the lean terminals' SIP reader: it returns a message
// or an error, never panics, and a parsed body lies within the datagram.
func FuzzLeanParse(f *testing.F) {
	f.Add([]byte(leanInvite))
	f.Add([]byte("SIP/2.0 183 OK\r\nVia: SIP/2.0/UDP a;rport\r\nFrom: x;tag=1\r\nTo: <sip:a>;tag\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nRSeq: 1\r\nl: 0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m leanMsg
		if err := m.parse(data); err != nil {
			return
		}
		if len(m.body) > len(data) || len(m.vias) == 0 {
			t.Fatalf("body %d of %d bytes, %d vias", len(m.body), len(data), len(m.vias))
		}
		_ = leanParam(m.to, "tag")
		_ = leanReplyTo(&m, netip.MustParseAddrPort("127.0.0.1:1"))
		_, _ = leanHostPort(m.contact)
	})
}
