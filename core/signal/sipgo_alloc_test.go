package signal

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// Herald patches to sipgo that take allocations off every message of a push call
// (netio/sipgo/HERALD.md): a header looked up by name no longer copies each header's name to lower
// case to compare it, ASCIIToLower copies only a string holding an upper-case letter, and a host is
// parsed as an IPv6 literal only when it has a colon.

const allocRequest = "PRACK sip:127.0.0.1:17070 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-alloc-1\r\n" +
	"From: <sip:alice@example.com>;tag=a1\r\n" +
	"To: <sip:bob@example.com>;tag=h1\r\n" +
	"Call-ID: alloc-1@127.0.0.1\r\n" +
	"CSeq: 2 PRACK\r\n" +
	"Max-Forwards: 70\r\n" +
	"RAck: 776656 1 INVITE\r\n" +
	"P-Early-Media: supported\r\n" +
	"X-Mixed-CASE: v\r\n" +
	"Content-Length: 0\r\n\r\n"

func TestSipgoHeaderLookupNoCopy(t *testing.T) {
	req := parseReq(t, allocRequest)
	for _, c := range []struct{ name, want string }{
		{"RAck", "776656 1 INVITE"}, {"rack", "776656 1 INVITE"}, {"RACK", "776656 1 INVITE"},
		{"p-early-media", "supported"}, {"P-Early-Media", "supported"},
		{"x-mixed-case", "v"}, {"X-MIXED-CASE", "v"},
		{"RSeq", ""}, {"rac", ""}, {"racks", ""},
	} {
		got := ""
		if h := req.GetHeader(c.name); h != nil {
			got = h.Value()
		}
		if got != c.want {
			t.Errorf("GetHeader(%q) = %q, want %q", c.name, got, c.want)
		}
		if n := len(req.GetHeaders(c.name)); (n == 1) != (c.want != "") {
			t.Errorf("GetHeaders(%q): %d headers", c.name, n)
		}
	}
	// A lower-case name (what Herald and sipgo's typed accessors pass) costs nothing to look up,
	// whatever the case on the wire; upstream copied every header name it compared.
	for _, name := range []string{"rack", "p-early-media", "x-mixed-case", "rseq"} {
		if a := testing.AllocsPerRun(100, func() { _ = req.GetHeader(name) }); a != 0 {
			t.Errorf("GetHeader(%q): %.0f allocations, want 0", name, a)
		}
	}
	if a := testing.AllocsPerRun(100, func() { _ = req.CallID(); _ = req.CSeq(); _ = req.Via() }); a != 0 {
		t.Errorf("typed accessors: %.0f allocations, want 0", a)
	}
}

func TestSipgoASCIIToLower(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "via": "via", "call-id": "call-id", "udp6": "udp6", "Call-ID": "call-id",
		"P-Early-Media": "p-early-media", "UDP": "udp", "x-ÄB": "x-Äb",
	} {
		if got := sip.ASCIIToLower(in); got != want {
			t.Errorf("ASCIIToLower(%q) = %q, want %q", in, got, want)
		}
		if got := sip.HeaderToLower(in); got != want {
			t.Errorf("HeaderToLower(%q) = %q, want %q", in, got, want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { _ = sip.ASCIIToLower("p-early-media") }); a != 0 {
		t.Errorf("ASCIIToLower of a lower-case name: %.0f allocations, want 0", a)
	}
}

// A host is bracketed on the wire only when it is an IPv6 literal (RFC 3261 §25.1, RFC 5118 §4.2):
// an IPv4 address, a name, an IPv4-mapped address as net.IP sees it, and a zoned address as
// net.ParseIP rejects it are written as they are.
func TestSipgoIPv6Hosts(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":        "sip:bob@127.0.0.1:5060",
		"example.com":      "sip:bob@example.com:5060",
		"::1":              "sip:bob@[::1]:5060",
		"2001:db8::7":      "sip:bob@[2001:db8::7]:5060",
		"::ffff:192.0.2.1": "sip:bob@::ffff:192.0.2.1:5060",
		"fe80::1%eth0":     "sip:bob@fe80::1%eth0:5060",
		"not:an:address":   "sip:bob@not:an:address:5060",
	} {
		u := sip.Uri{Scheme: "sip", User: "bob", Host: host, Port: 5060}
		if got := u.String(); got != want {
			t.Errorf("host %q: %q, want %q", host, got, want)
		}
	}
	u := sip.Uri{Scheme: "sip", User: "bob", Host: "ims.example.net"} // no port: strconv.Itoa would allocate
	var b bytes.Buffer
	b.Grow(256)
	if a := testing.AllocsPerRun(100, func() { b.Reset(); u.StringWrite(&b) }); a != 0 {
		t.Errorf("writing a URI with a host name: %.0f allocations, want 0", a)
	}
}

// TestSipgoStartLineNoString: a request's start line is written into the caller's buffer, its
// Request-URI included; upstream built the URI as a string first (a builder grown from empty).
// Every request Herald forwards or originates through sipgo is written this way.
func TestSipgoStartLineNoString(t *testing.T) {
	// An IMS Request-URI, without a port (a port's digits still cost their string, strconv.Itoa).
	req := parseReq(t, strings.Replace(allocRequest, "sip:127.0.0.1:17070", "sip:bob@home1.net;user=phone", 1))
	var b bytes.Buffer
	req.StartLineWrite(&b)
	if got, want := b.String(), "PRACK sip:bob@home1.net;user=phone SIP/2.0"; got != want {
		t.Fatalf("start line %q, want %q", got, want)
	}
	up, hp := sip.NewParams(), sip.NewParams()
	up.Add("transport", "udp")
	up.Add("lr", "")
	up.Add("q", "a b")
	hp.Add("h", "v")
	hp.Add("x", "")
	uri := sip.Uri{Scheme: "sip", User: "bob", Host: "::1", Port: 5062, UriParams: up, Headers: hp}
	if got, want := uri.String(), `sip:bob@[::1]:5062;transport=udp;lr;q="a b"?h=v&x`; got != want {
		t.Fatalf("URI %q, want %q", got, want)
	}
	// What the URI writes in place is what upstream built with ToString.
	for _, p := range []sip.HeaderParams{up, hp, sip.NewParams()} {
		b.Reset()
		p.ToStringWrite(';', &b)
		if b.String() != p.ToString(';') {
			t.Errorf("ToStringWrite %q, ToString %q", b.String(), p.ToString(';'))
		}
	}
	if a := testing.AllocsPerRun(100, func() { b.Reset(); req.StartLineWrite(&b) }); a != 0 {
		t.Errorf("StartLineWrite: %.0f allocations, want 0", a)
	}
}

// TestSipgoBodyWriteNoCopy: a message's body is written into the transport's buffer as bytes;
// upstream copied the whole body into a string first (WriteString(string(body))) for every request
// and response written, a forwarded INVITE's multipart body among them. The text is unchanged, and a
// writer of strings only still gets the body.
func TestSipgoBodyWriteNoCopy(t *testing.T) {
	body := bytes.Repeat([]byte("a=x-filler:0123456789abcdef0123456789abcdef\r\n"), 48) // about 2 KB
	req := parseReq(t, allocRequest)
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	var b bytes.Buffer
	b.Grow(8192)
	for _, m := range []sip.Message{req, res} {
		m.SetBody(body)
		b.Reset()
		m.StringWrite(&b)
		if !bytes.HasSuffix(b.Bytes(), append([]byte("\r\n\r\n"), body...)) {
			t.Fatalf("%T written with a body:\n%.300s", m, b.String())
		}
		// Bytes, not allocations: the message's Content-Length digits cost one either way. The least
		// of three tries, so another test's goroutines allocating meanwhile do not count.
		per := uint64(1 << 62)
		for range 3 {
			var before, after runtime.MemStats
			const n = 100
			runtime.ReadMemStats(&before)
			for range n {
				b.Reset()
				m.StringWrite(&b)
			}
			runtime.ReadMemStats(&after)
			per = min(per, (after.TotalAlloc-before.TotalAlloc)/n)
		}
		if per >= uint64(len(body)) {
			t.Errorf("%T: %d bytes allocated per write of a %d-byte body: the body is copied", m, per, len(body))
		}
		var sb strings.Builder
		m.StringWrite(&sb)
		if !strings.HasSuffix(sb.String(), string(body)) {
			t.Errorf("%T written to a strings.Builder lost its body", m)
		}
	}
}
