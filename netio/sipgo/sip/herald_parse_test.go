package sip

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// Herald patch (netio/sipgo/HERALD.md): Parse reads a message's start line and header section from
// one string, of which every header's name and value are substrings. These tests hold it to the
// parser it replaced (herald_parse_ref_test.go): the same message and the same error for any input,
// and fewer allocations.

const heraldInvite = "INVITE sip:+4930123456@ims.example.net;user=phone SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-524287-1---ab12cd34;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: \"Alice\" <sip:+4930111111@ims.example.net;user=phone>;tag=as7d9f8a\r\n" +
	"To: <sip:+4930123456@ims.example.net;user=phone>\r\n" +
	"Call-ID: 3848276298220188511@10.0.0.1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Contact: <sip:alice@10.0.0.1:5060;transport=udp>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";expires=600\r\n" +
	"Supported: 100rel, timer\r\n" +
	"Require: precondition\r\n" +
	"Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, OPTIONS, MESSAGE, INFO\r\n" +
	"P-Asserted-Identity: <sip:+4930111111@ims.example.net;user=phone>\r\n" +
	"P-Early-Media: supported\r\n" +
	"Content-Type: multipart/mixed;boundary=unique-boundary-1\r\n" +
	"Content-Length: 164\r\n" +
	"\r\n" +
	"--unique-boundary-1\r\n" +
	"Content-Type: application/sdp\r\n" +
	"\r\n" +
	"v=0\r\n" +
	"o=- 1 1 IN IP4 10.0.0.1\r\n" +
	"s=-\r\n" +
	"c=IN IP4 10.0.0.1\r\n" +
	"t=0 0\r\n" +
	"m=audio 4000 RTP/AVP 0\r\n" +
	"\r\n" +
	"--unique-boundary-1--\r\n"

const herald183 = "SIP/2.0 183 Session Progress\r\n" +
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-524287-1---ab12cd34;rport=5060;received=10.0.0.1\r\n" +
	"From: \"Alice\" <sip:+4930111111@ims.example.net;user=phone>;tag=as7d9f8a\r\n" +
	"To: <sip:+4930123456@ims.example.net;user=phone>;tag=h7f3a2b1c\r\n" +
	"Call-ID: 3848276298220188511@10.0.0.1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Contact: <sip:herald@10.0.0.2:5060;transport=udp>\r\n" +
	"Require: 100rel\r\n" +
	"RSeq: 1\r\n" +
	"P-Early-Media: sendrecv\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 85\r\n" +
	"\r\n" +
	"v=0\r\n" +
	"o=- 2 2 IN IP4 10.0.0.2\r\n" +
	"s=-\r\n" +
	"c=IN IP4 10.0.0.2\r\n" +
	"t=0 0\r\n" +
	"m=audio 5000 RTP/AVP 0\r\n"

var heraldParseSeeds = []string{
	heraldInvite,
	herald183,
	"SIP/2.0 200 OK\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1;rport=5060\r\n" +
		"From: <sip:alice@example.com>;tag=a1\r\n" +
		"To: <sip:bob@example.com>;tag=b1\r\n" +
		"Call-ID: c1@10.0.0.1\r\n" +
		"CSeq: 2 PRACK\r\n" +
		"Content-Length: 0\r\n\r\n",
	// compact forms
	"INVITE sip:bob@example.com SIP/2.0\r\n" +
		"v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-2\r\n" +
		"f: <sip:alice@example.com>;tag=a2\r\n" +
		"t: sip:bob@example.com\r\n" +
		"i: c2@h\r\n" +
		"m: <sip:alice@10.0.0.1>\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"c: application/sdp\r\n" +
		"l: 4\r\n\r\nv=0\n",
	// comma-separated Via and Contact
	"REGISTER sip:example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-3, SIP/2.0/TCP 10.0.0.9:5070;branch=z9hG4bK-4;received=1.2.3.4\r\n" +
		"Contact: <sip:a@10.0.0.1>;expires=60, \"B, c\" <sip:b@10.0.0.2>;q=0.5, sip:c@h\r\n" +
		"Route: <sip:p1@example.com;lr>, <sip:p2@example.com;lr>\r\n" +
		"Record-Route: <sip:rr@example.com;lr>\r\n" +
		"CSeq: 3 REGISTER\r\n\r\n",
	// folded header lines
	"OPTIONS sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.1\r\n" +
		"  ;branch=z9hG4bK-5\r\n" +
		"Subject: I know you're there,\r\n" +
		"\tpick up the phone   \r\n" +
		" \t and talk to me!\r\n" +
		"From  :\r\n <sip:alice@example.com>;tag=a5\r\n" +
		"Content-Length: 0\r\n\r\n",
	// header names in odd case, empty values, a Refer-To
	"REFER sip:bob@example.com SIP/2.0\r\n" +
		"VIA: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-6\r\n" +
		"cAlL-iD: odd@h\r\n" +
		"CSEQ: 9 REFER\r\n" +
		"max-FORWARDS: 69\r\n" +
		"Refer-To: <sip:carol@example.com>\r\n" +
		"REFERRED-BY: <sip:alice@example.com>\r\n" +
		"X-Empty:\r\n" +
		"Subject:   \r\n" +
		"X-A-Rather-Long-Header-Name-Past-Thirty-Two-Bytes: v\r\n" +
		" X-Spaced-Name : v \r\n\r\n",
	// a line without a colon
	"MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-7\r\nNoColonHere\r\nCSeq: 1 MESSAGE\r\n\r\n",
	// truncated messages
	"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-8\r\nCall-ID: tr",
	"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-8\r\n",
	"INVITE sip:bob@example.com SIP/2.0\r",
	"SIP/2.0 180 Ringing\r\nContent-Length: 50\r\n\r\nshort",
	"INVITE sip:bob@example.com SIP/2.0\r\nSubject: a\r\n \r",
	// odd shapes
	"\r\n\r\nOPTIONS sip:h SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
	"\r\n",
	"",
	"INVITE sip:bob@example.com SIP/2.0\r\nVia: x\rCSeq: 1 INVITE\r\n\r\n",
	"INVITE sip:bob@example.com SIP/2.0\r\nCSeq: 99999999999 INVITE\r\nMax-Forwards: x\r\n\r\n",
	"NOT A SIP MESSAGE\r\n\r\n",
	"SIP/2.0 abc Bad\r\n\r\n",
	"INVITE * SIP/2.0\r\n\r\n",
}

// heraldProbeParsers adds parsers that show the name and text a parser is given (and one that
// fails) to sipgo's own.
func heraldProbeParsers() HeadersParser {
	m := maps.Clone(DefaultHeadersParser())
	probe := func(name []byte, text string) (Header, error) {
		if strings.Contains(text, "bad") {
			return nil, fmt.Errorf("probe refuses %q", text)
		}
		return NewHeader("probe:"+string(name), text), nil
	}
	for _, n := range []string{"rseq", "require", "subject", "p-early-media", "x-a-rather-long-header-name-past-thirty-two-bytes"} {
		m[n] = probe
	}
	return m
}

var heraldParsers = []*Parser{NewParser(), NewParser(WithHeadersParsers(heraldProbeParsers()))}

// heraldDump names every field of what a parse returned, for a readable difference.
func heraldDump(msg Message, n int, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d err=%v\n", n, err)
	switch m := msg.(type) {
	case *Request:
		fmt.Fprintf(&b, "request %q %q %q\n", m.Method, m.Recipient.String(), m.SipVersion)
	case *Response:
		fmt.Fprintf(&b, "response %q %d %q\n", m.SipVersion, m.StatusCode, m.Reason)
	case nil:
		return b.String()
	}
	for _, h := range msg.(interface{ Headers() []Header }).Headers() {
		fmt.Fprintf(&b, "%T %q %q\n", h, h.Name(), h.Value())
	}
	fmt.Fprintf(&b, "body %q\n", msg.Body())
	return b.String()
}

func heraldSameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error() && errors.Is(a, b) == errors.Is(b, a)
}

// heraldResult is what a parsing function returned: its value (a message, headers), the bytes it
// read and its error.
type heraldResult struct {
	v   any
	n   int
	err error
}

func (r heraldResult) same(o heraldResult) bool {
	return r.n == o.n && heraldSameError(r.err, o.err) && reflect.DeepEqual(r.v, o.v)
}

func (r heraldResult) String() string {
	if m, ok := r.v.(Message); ok || r.v == nil {
		return heraldDump(m, r.n, r.err)
	}
	return fmt.Sprintf("%#v, n=%d, err=%v", r.v, r.n, r.err)
}

// heraldCompare fails t unless the patched parser and the reference agree on data.
func heraldCompare(t *testing.T, data []byte) {
	orig := bytes.Clone(data)
	same := func(what string, got, want heraldResult) {
		t.Helper()
		if !got.same(want) {
			t.Fatalf("%s of %q:\ngot  %s\nwant %s", what, data, got, want)
		}
	}
	for pi, p := range heraldParsers {
		for _, stream := range []bool{false, true} {
			got, gn, gerr := p.Parse(data, stream)
			want, wn, werr := refParse(p, data, stream)
			same(fmt.Sprintf("parser %d, Parse(stream=%v)", pi, stream), heraldResult{got, gn, gerr}, heraldResult{want, wn, werr})
			if got != nil && got.String() != want.String() {
				t.Fatalf("parser %d, Parse(stream=%v) of %q: String()\ngot  %q\nwant %q", pi, stream, data, got.String(), want.String())
			}
		}
		got, gerr := p.ParseSIP(data)
		want, werr := refParseSIP(p, data)
		same(fmt.Sprintf("parser %d, ParseSIP", pi), heraldResult{got, 0, gerr}, heraldResult{want, 0, werr})

		// The stream parser's steps: parseStartLine, then parseNextHeader to the end of the header
		// section.
		gm, gn, gerr := p.parseStartLine(data, true)
		wm, wn, werr := refParseStartLine(p, data, true)
		same(fmt.Sprintf("parser %d, parseStartLine", pi), heraldResult{gm, gn, gerr}, heraldResult{wm, wn, werr})
		for rest := data[gn:]; gerr == nil; rest = rest[gn:] {
			var gh, wh []Header
			gh, gn, gerr = p.parseNextHeader(nil, rest)
			wh, wn, werr = refParseNextHeader(p, nil, rest)
			same(fmt.Sprintf("parser %d, parseNextHeader at %d", pi, len(data)-len(rest)), heraldResult{gh, gn, gerr}, heraldResult{wh, wn, werr})
		}

		// Any line, and the whole input, as one header (core/sipmsg calls ParseHeader).
		for _, line := range append(bytes.Split(data, []byte("\r\n")), data) {
			gh, gerr := p.headersParsers.ParseHeader(nil, line)
			wh, werr := refParseHeader(p.headersParsers, nil, line)
			same(fmt.Sprintf("parser %d, ParseHeader(%q)", pi, line), heraldResult{gh, 0, gerr}, heraldResult{wh, 0, werr})
		}
	}
	if !bytes.Equal(data, orig) {
		t.Fatalf("input modified: %q, was %q", data, orig)
	}
}

func TestHeraldParseSame(t *testing.T) {
	for _, s := range heraldParseSeeds {
		heraldCompare(t, []byte(s))
		// every truncation of the typical messages
		if s == heraldInvite || s == herald183 {
			for i := range len(s) {
				heraldCompare(t, []byte(s[:i]))
			}
		}
	}
}

func FuzzHeraldParseSame(f *testing.F) {
	for _, s := range heraldParseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		heraldCompare(t, data)
	})
}

// TestHeraldParseAllocs: parsing a datagram allocates one string for its start line and headers,
// where the reference made one per line (two per header sipgo does not parse itself, with the copy
// of its name in lower case).
func TestHeraldParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	p := NewParser()
	for _, c := range []struct {
		name  string
		msg   string
		fewer float64
	}{
		{"INVITE", heraldInvite, 20},
		{"183", herald183, 12},
	} {
		data := []byte(c.msg)
		got := testing.AllocsPerRun(200, func() {
			if _, err := p.ParseSIP(data); err != nil {
				t.Fatal(err)
			}
		})
		ref := testing.AllocsPerRun(200, func() {
			if _, err := refParseSIP(p, data); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %.0f allocations per parse, reference %.0f", c.name, got, ref)
		if got > ref-c.fewer {
			t.Errorf("%s: %.0f allocations per parse, want at most %.0f (reference %.0f)", c.name, got, ref-c.fewer, ref)
		}
	}
}

// TestHeraldParseMethodShared: a standard method is the package's constant, not a substring of the
// message's header text, which ServerTx would keep alive with it after slim drops the request.
func TestHeraldParseMethodShared(t *testing.T) {
	for s, want := range map[string]RequestMethod{
		heraldInvite: INVITE,
		"prack sip:h SIP/2.0\r\nCSeq: 2 PRACK\r\nContent-Length: 0\r\n\r\n": PRACK,
	} {
		for _, stream := range []bool{false, true} {
			msg, _, err := NewParser().Parse([]byte(s), stream)
			if err != nil {
				t.Fatal(err)
			}
			if m := msg.(*Request).Method; m != want || unsafe.StringData(string(m)) != unsafe.StringData(string(want)) {
				t.Errorf("%q (stream %v): method %q is not the constant %s", s[:12], stream, m, want)
			}
		}
	}
}

// TestHeraldURIBrackets pins the patch to ParseUri: '[' opens an IPv6 reference only where the host
// starts (RFC 3261 §25.1). In a URI parameter or header it is an ordinary character
// (param-unreserved, hnv-unreserved); in a host name or userinfo it is an error. Upstream took the
// first '[' anywhere as an IPv6 reference, refusing the valid "sip:h;p[" and reading "ab[::1]" as
// the host "[::1]". core/sipfast's FuzzFastScan found the first: the fast path forwarded an INVITE
// with such a Route, the general path answered it 400.
func TestHeraldURIBrackets(t *testing.T) {
	for _, tc := range []struct {
		in, host string
		port     int
		params   string
		err      bool
	}{
		{in: "sip:0;0[", host: "0", params: "0["},
		{in: "sip:h;lr;x=a]b", host: "h", params: "lr&x=a]b"},
		{in: "sip:h;[", host: "h", params: "["},
		{in: "sip:h?x=[", host: "h"},
		{in: "sip:[::1]", host: "[::1]"},
		{in: "sip:[::1]:5070;lr", host: "[::1]", port: 5070, params: "lr"},
		{in: "sip:u@[2001:db8::1]:5060;transport=udp", host: "[2001:db8::1]", port: 5060, params: "transport=udp"},
		{in: "sip:0[", err: true},
		{in: "sip:ab[::1]", err: true},
		{in: "sip:a[b@h", err: true},
		{in: "sip:[::1", err: true},
	} {
		var u Uri
		err := ParseUri(tc.in, &u)
		if tc.err {
			if err == nil {
				t.Errorf("%q: parsed (host %q), want an error", tc.in, u.Host)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		params := ""
		if u.UriParams != nil {
			params = u.UriParams.String()
		}
		if u.Host != tc.host || u.Port != tc.port || params != tc.params {
			t.Errorf("%q: host %q port %d params %q, want %q %d %q", tc.in, u.Host, u.Port, params, tc.host, tc.port, tc.params)
		}
	}
}
