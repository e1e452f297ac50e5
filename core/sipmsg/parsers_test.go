package sipmsg

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestLenientParserKeepsValueLists: Herald's lenient header parsers (HeaderParsers) still split a
// comma-separated list into typed headers (sipgo reports the comma as an error carrying the rest),
// and keep a value that does not parse as a badHeader under its canonical name, also when it is
// the second of a list or given in compact form.
func TestLenientParserKeepsValueLists(t *testing.T) {
	p := sip.NewParser(sip.WithHeadersParsers(HeaderParsers()))
	parse := func(extra string) *sip.Request {
		t.Helper()
		raw := "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n" + extra + "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n" +
			"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
		m, err := p.ParseSIP([]byte(raw))
		if err != nil {
			t.Fatalf("%q: %v", extra, err)
		}
		return m.(*sip.Request)
	}
	r := parse("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK2\r\n" +
		"Route: <sip:127.0.0.1:5072;lr>, <sip:127.0.0.1:5073;lr>\r\n")
	if vias := r.GetHeaders("Via"); len(vias) != 2 || Unparsed(r) != "" {
		t.Fatalf("Vias %v, unparsed %q", vias, Unparsed(r))
	}
	for _, h := range append(r.GetHeaders("Via"), r.GetHeaders("Route")...) {
		switch h.(type) {
		case *sip.ViaHeader, *sip.RouteHeader:
		default:
			t.Fatalf("%s kept as %T", h.Name(), h)
		}
	}
	if code, reason := CheckRequest(r); code != 0 {
		t.Fatalf("a valid request refused: %d %s", code, reason)
	}
	for extra, want := range map[string]string{
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1, garbage\r\n": "malformed Via",
		"v: garbage\r\n": "malformed Via",
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nt: garbage<<\r\n":     "malformed To",
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nMax-Forwards: -1\r\n": "malformed Max-Forwards",
	} {
		r := parse(extra)
		if code, reason := CheckRequest(r); code != 400 || reason != "Bad Request ("+want+")" {
			t.Errorf("%q: %d %q, want 400 Bad Request (%s)", extra, code, reason, want)
		}
	}
}

// TestWithBytesIsString: WithBytes writes a message exactly as String prints it, requests and
// responses, a body included, also in a reused buffer.
func TestWithBytesIsString(t *testing.T) {
	req := sip.NewRequest(sip.UPDATE, sip.Uri{Scheme: "sip", User: "erin", Host: "192.0.2.1", Port: 5060})
	req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKb1"))
	req.AppendHeader(sip.NewHeader("Call-ID", "c1@192.0.2.9"))
	req.SetBody([]byte("v=0\r\n"))
	res := sip.NewResponseFromRequest(req, 200, "OK", []byte("v=0\r\ns=-\r\n"))
	for _, m := range []sip.Message{req, res} {
		for range 2 { // the second time in a reused buffer
			var got string
			if !WithBytes(m, func(b []byte) bool { got = string(b); return true }) || got != m.String() {
				t.Fatalf("WithBytes:\n%q\nString:\n%q", got, m.String())
			}
		}
	}
	if WithBytes(req, func([]byte) bool { return false }) {
		t.Fatal("WithBytes did not report use's result")
	}
}
