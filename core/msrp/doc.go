// Package msrp is the Message Session Relay Protocol codec (RFC 4975): a resumable
// zero-allocation frame parser, serializers for the frames Herald sends (SEND
// chunks, responses, REPORTs), a chunker, MSRP URIs and identifier generators.
//
// The package is pure: it performs no I/O and imports neither gnet nor sipgo. The
// gnet server (netio/msrp) feeds the bytes of one TCP connection to one [Parser]:
//
//	var p msrp.Parser
//	var m msrp.Message
//	for {
//		n, err := p.Parse(buf, &m)
//		if errors.Is(err, msrp.ErrIncomplete) {
//			break // wait for more bytes; call again with the same buf start
//		}
//		if err != nil {
//			var fe *msrp.FrameError
//			if errors.As(err, &fe) && fe.TID != nil && fe.Request { /* answer fe.StatusCode() */ }
//			// close the connection
//		}
//		handle(&m) // m aliases buf: copy what must outlive it
//		buf = buf[n:]
//	}
//
// Wire format (RFC 4975 §7, §9):
//
//	MSRP a786hjs2 SEND\r\n                  start line: "MSRP" SP transact-id SP method
//	To-Path: msrp://...;tcp\r\n              headers: Name ":" SP value
//	From-Path: msrp://...;tcp\r\n
//	Message-ID: 87652491\r\n
//	Byte-Range: 1-25/25\r\n
//	Content-Type: text/plain\r\n             MIME headers, Content-Type last
//	\r\n                                     blank line, then the body
//	Hey Bob, are you there?\r\n              body, then the CRLF that precedes the end-line
//	-------a786hjs2$\r\n                     end-line: 7 '-', transact-id, flag ($ + #)
//
// A frame without a body (responses, REPORTs, bodiless SENDs) has the end-line
// directly after the last header line. CRLF is mandatory everywhere; bare LF is
// malformed.
//
// Concurrency: a [Parser] and a [Message] belong to one stream and one goroutine
// (one gnet event loop). Everything else is safe for concurrent use.
package msrp
