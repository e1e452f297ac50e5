package msrp

import "strings"

// crlf turns the readable "\n" line ends of a test frame into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// Frames reconstructed from the RFC 4975 §7 and §11 examples (and RFC 4976 for
// AUTH), plus Herald's own flows (acquisition SEND, chunked push, REPORT). Shared by the table tests,
// the fuzz seeds and the benchmarks.
var (
	// RFC 4975 §7.1.1 / §11.1: SEND with a body.
	rfcSend = crlf(`MSRP a786hjs2 SEND
To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp
From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp
Message-ID: 87652491
Byte-Range: 1-25/25
Content-Type: text/plain

Hey Bob, are you there?
-------a786hjs2$
`)
	// RFC 4975 §7.2 / §11.1: the 200 OK to it.
	rfcOK = crlf(`MSRP a786hjs2 200 OK
To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp
From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp
-------a786hjs2$
`)
	// RFC 4975 §11.4-style first chunk of a chunked message ('+').
	rfcChunkMore = crlf(`MSRP 7443ffj1 SEND
To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
Message-ID: 12339sdqwer
Byte-Range: 1-*/*
Content-Type: message/cpim

To: Bob <sip:bob@example.com>
From: Alice <sip:alice@example.com>
Content-Type: image/jpeg
** first chunk of binary data
-------7443ffj1+
`)
	// An aborted chunk ('#') after which no more chunks follow (RFC 4975 §7.1).
	rfcChunkAbort = crlf(`MSRP 7443ffj2 SEND
To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
Message-ID: 12339sdqwer
Byte-Range: 69-*/148
Content-Type: message/cpim

** second chunk, cut short
-------7443ffj2#
`)
	// RFC 4975 §11.6: positive REPORT (no body).
	rfcReport = crlf(`MSRP dkei38sd REPORT
To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
Message-ID: 12339sdqwer
Byte-Range: 1-106/106
Status: 000 200 OK
-------dkei38sd$
`)
	// RFC 4975 §11.5-style SEND asking for reports, several-hop To-Path (RFC 4976 relay).
	rfcRelaySend = crlf(`MSRP d93kswow SEND
To-Path: msrp://relay.example.com:2855/9di4ea;tcp msrp://bob.example.com:8888/9di4eae923wzd;tcp
From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
Message-ID: 12339sdqwer
Success-Report: yes
Failure-Report: no
Byte-Range: 1-22/22
Content-Type: text/html

<p>Hello, relay!</p>
-------d93kswow$
`)
	// RFC 4976 §7.1: AUTH to a relay (To-Path without a session-id).
	rfcAuth = crlf(`MSRP 49fh AUTH
To-Path: msrps://alice@intra.example.com;tcp
From-Path: msrps://alice.example.com:9892/98cjs;tcp
-------49fh$
`)
	// RFC 4975 §7.2: a failure response with a long comment.
	rfc481 = crlf(`MSRP 49fi 481 Session does not exist
To-Path: msrp://alice.example.com:9892/98cjs;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
-------49fi$
`)
	// The acquisition request: a bodiless SEND binding the connection (RFC 4975 §5.4).
	heraldAcquire = crlf(`MSRP a786hjs2 SEND
To-Path: msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp
From-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp
Message-ID: 87652491
Byte-Range: 1-0/0
-------a786hjs2$
`)
	// A body holding decoy end-lines: another tid, the same tid without a flag,
	// the same tid with a flag but no CRLF, ones not preceded by CRLF (x, bare
	// CR) and one followed by a bare CR.
	decoySend = crlf(`MSRP decoy123 SEND
To-Path: msrp://h:1/s;tcp
From-Path: msrp://h:2/t;tcp
Message-ID: m1
Byte-Range: 1-*/*
Content-Type: text/plain

line
-------other999$
-------decoy123
-------decoy123x$
-------decoy123$ trailing
x-------decoy123$
`) + "a\r-------decoy123$\r\n-------decoy123$\rx\r\n" + crlf(`end
-------decoy123$
`)
)

// decoyBody is the body of decoySend.
var decoyBody = crlf(`line
-------other999$
-------decoy123
-------decoy123x$
-------decoy123$ trailing
x-------decoy123$
`) + "a\r-------decoy123$\r\n-------decoy123$\rx\r\n" + crlf(`end`)

// allExamples lists every example frame by name.
var allExamples = []struct{ name, frame string }{
	{"rfc-send", rfcSend},
	{"rfc-200", rfcOK},
	{"rfc-chunk-more", rfcChunkMore},
	{"rfc-chunk-abort", rfcChunkAbort},
	{"rfc-report", rfcReport},
	{"rfc-relay-send", rfcRelaySend},
	{"rfc4976-auth", rfcAuth},
	{"rfc-481", rfc481},
	{"herald-acquire", heraldAcquire},
	{"decoy-send", decoySend},
}
