package sipfast

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/sipmsg"
)

// Fuzz target and tables of the fast path's scanner (msg.go). Its contract: a datagram the
// scanner accepts is one sipgo's parser (with the server's header parsers) also reads, and the two
// agree on everything the fast path uses; whatever the scanner refuses goes the general way, so
// refusing more than sipgo is always allowed. Seeds are the messages below and the RFC 4475 torture
// messages in testdata/torture; findings are kept in testdata/fuzz/FuzzFastScan.
//
//	go test -run '^$' -fuzz '^FuzzFastScan$' -fuzztime 60s ./core/sipfast/

// fastScanParser reads a datagram as the general path does (server.go).
var fastScanParser = sip.NewParser(sip.WithHeadersParsers(sipmsg.HeaderParsers()))

// sipMsg is a datagram with this start line, these header lines and body; a Content-Length is
// added last unless one of the headers is a Content-Length or "l".
func sipMsg(start string, hdrs []string, body string) []byte {
	var b bytes.Buffer
	b.WriteString(start + "\r\n")
	hasCL := false
	for _, h := range hdrs {
		name, _, _ := strings.Cut(h, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); n == "content-length" || n == "l" {
			hasCL = true
		}
		b.WriteString(h + "\r\n")
	}
	if !hasCL {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.Bytes()
}

const fastSDP = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0 97 101\r\na=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:97 AMR-WB/16000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"

// fastInviteHdrs are the header lines of a typical initial INVITE from a P-CSCF (about 900 bytes
// with fastSDP).
func fastInviteHdrs() []string {
	return []string{
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---77ba2d3a0b1c4e5f;rport",
		"Max-Forwards: 70",
		"Route: <sip:192.0.2.1:5060;lr>",
		"Contact: <sip:+12125551111@192.0.2.10:5060;transport=udp>;+sip.instance=\"<urn:gsma:imei:35-209900-176148-1>\"",
		"To: <sip:+12125552222@home2.net;user=phone>",
		"From: \"Alice\" <sip:+12125551111@home1.net;user=phone>;tag=9fxced76sl",
		"Call-ID: 3848276298220188511@192.0.2.10",
		"CSeq: 1 INVITE",
		"P-Asserted-Identity: <sip:+12125551111@home1.net;user=phone>",
		"Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, INFO, OPTIONS",
		"Supported: 100rel, timer",
		"Content-Type: application/sdp",
	}
}

func fastInvite() []byte {
	return sipMsg("INVITE sip:+12125552222@192.0.2.20:5060;user=phone SIP/2.0", fastInviteHdrs(), fastSDP)
}

// fastScanSeeds are realistic datagrams of the calls the fast path serves, in the forms a peer may
// use (compact names, several Vias per line and per message, Route lists, addr-spec and name-addr
// To/From with and without tag, P-Asserted-Identity).
func fastScanSeeds() map[string][]byte {
	via := "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds"
	dlg := []string{
		"To: Bob <sip:bob@192.0.2.20>;tag=a6c85cf",
		"From: Alice <sip:alice@192.0.2.10>;tag=1928301774",
		"Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
	}
	with := func(a []string, b ...string) []string { return append(append([]string(nil), a...), b...) }
	// noCL is m without its Content-Length line: allowed over UDP (RFC 3261 §18.3, §20.14), where
	// the body is the rest of the datagram; linphone 5.1 answers so.
	noCL := func(m []byte) []byte {
		i := bytes.Index(m, []byte("\r\nContent-Length: "))
		e := bytes.Index(m[i+2:], []byte("\r\n"))
		return append(m[:i:i], m[i+2+e:]...)
	}
	// long: 80 header lines before the dialog's, so that the ones the scanner interprets are
	// indexed past the first maxFastHeaders (fmsg.more); 16 Vias, as a long route gives.
	long := make([]string, 0, 100)
	for i := range 80 {
		long = append(long, fmt.Sprintf("P-Filler-%d: x", i))
	}
	for i := range 16 {
		long = append(long, fmt.Sprintf("Via: SIP/2.0/UDP 192.0.2.%d:5060;branch=z9hG4bK%d", i+1, i))
	}
	return map[string][]byte{
		"200-past-inline-index": sipMsg("SIP/2.0 200 OK", with(long, "To: <sip:bob@192.0.2.20>;tag=314159",
			"From: <sip:alice@192.0.2.10>;tag=1", "Call-ID: c@h", "CSeq: 1 INVITE", "Content-Length: 0"), ""),
		"invite-no-content-length": noCL(fastInvite()),
		// A tel: Request-URI (RFC 3966), global and local with its phone-context, any case of scheme.
		"invite-tel-global": bytes.Replace(fastInvite(), []byte("INVITE sip:+12125552222@192.0.2.20:5060;user=phone"), []byte("INVITE tel:+1-212-555-2222"), 1),
		"invite-tel-local":  bytes.Replace(fastInvite(), []byte("INVITE sip:+12125552222@192.0.2.20:5060;user=phone"), []byte("INVITE TEL:5552222;phone-context=+1-212"), 1),
		"180-no-content-length": noCL(sipMsg("SIP/2.0 180 Ringing", []string{
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx",
			"To: <sip:bob@192.0.2.20>;tag=314159", "From: <sip:alice@192.0.2.10>;tag=1", "Call-ID: c@h",
			"CSeq: 1 INVITE", "Contact: <sip:bob@192.0.2.20>",
		}, "")),
		"200-invite-no-content-length": noCL(sipMsg("SIP/2.0 200 OK", []string{
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx",
			"To: <sip:bob@192.0.2.20>;tag=314159", "From: <sip:alice@192.0.2.10>;tag=1", "Call-ID: c@h",
			"CSeq: 1 INVITE", "Contact: <sip:bob@192.0.2.20>", "Content-Type: application/sdp",
		}, fastSDP)),
		"200-bye-no-content-length": noCL(sipMsg("SIP/2.0 200 OK", []string{
			"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKherald.2;rport", "To: sip:bob@192.0.2.20;tag=314159",
			"From: sip:alice@192.0.2.10;tag=1", "Call-ID: c@h", "CSeq: 231 BYE",
		}, "")),
		"invite": fastInvite(),
		"invite-compact": sipMsg("INVITE sip:bob@192.0.2.20 SIP/2.0", []string{
			"v: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKnashds8;rport",
			"v: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK1;received=198.51.100.8",
			"Max-Forwards: 69", "t: sip:bob@example.com", "f: sip:alice@example.com;tag=88sja8x",
			"i: 987asjd97y7atg", "CSeq: 986759 INVITE", "m: <sip:alice@192.0.2.10>", "c: application/sdp",
			"l: " + strconv.Itoa(len(fastSDP)),
		}, fastSDP),
		"invite-via-list": sipMsg("INVITE sip:+12125552222@192.0.2.20;user=phone SIP/2.0", []string{
			"Via: SIP/2.0/UDP [2001:db8::10]:5060;branch=z9hG4bKa;rport, SIP/2.0/UDP 192.0.2.30;branch=z9hG4bKb",
			"Via: SIP/2.0/TCP 192.0.2.40:5060;branch=z9hG4bKc",
			"Route: <sip:192.0.2.1;lr>, <sip:[2001:db8::1]:5070;lr;transport=udp>", "Route: <sip:192.0.2.3:5080;lr>",
			"Max-Forwards: 10", "To: \"Bob, B.\" <sip:+12125552222@home2.net;user=phone>",
			"From: <tel:+12125551111>;tag=f00", "Call-ID: c1@192.0.2.10", "CSeq: 2 INVITE",
			"P-Asserted-Identity: \"Alice\" <sip:+12125551111@home1.net>, <tel:+12125551111>",
		}, ""),
		"ack": sipMsg("ACK sip:bob@192.0.2.20:5060 SIP/2.0", with(dlg,
			"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds", "Max-Forwards: 70", "CSeq: 1 ACK",
			"Route: <sip:192.0.2.1:5060;lr;ftag=1928301774>"), ""),
		"bye": sipMsg("BYE sip:bob@192.0.2.20:5060;transport=udp SIP/2.0", with(dlg,
			"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKnashds10", "Max-Forwards: 70",
			"CSeq: 231 BYE", "Route: <sip:herald@192.0.2.1;lr>,<sip:192.0.2.2;lr>"), ""),
		"cancel": sipMsg("CANCEL sip:+12125552222@192.0.2.20:5060;user=phone SIP/2.0", []string{
			"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---77ba2d3a0b1c4e5f;rport",
			"Max-Forwards: 70", "Route: <sip:192.0.2.1:5060;lr>", "To: <sip:+12125552222@home2.net;user=phone>",
			"From: \"Alice\" <sip:+12125551111@home1.net;user=phone>;tag=9fxced76sl",
			"Call-ID: 3848276298220188511@192.0.2.10", "CSeq: 1 CANCEL",
		}, ""),
		"info": sipMsg("INFO sip:bob@192.0.2.20 SIP/2.0", with(dlg, via, "Max-Forwards: 70", "CSeq: 5 INFO",
			"Info-Package: dtmf", "Content-Type: application/dtmf-relay"), "Signal=5\r\nDuration=160\r\n"),
		"100": sipMsg("SIP/2.0 100 Trying", []string{
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1;rport=5060;received=192.0.2.1",
			"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1---77ba2d3a0b1c4e5f;rport=5060",
			"To: <sip:+12125552222@home2.net;user=phone>",
			"From: \"Alice\" <sip:+12125551111@home1.net;user=phone>;tag=9fxced76sl",
			"Call-ID: 3848276298220188511@192.0.2.10", "CSeq: 1 INVITE",
		}, ""),
		"180": sipMsg("SIP/2.0 180 Ringing", []string{
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1, SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx",
			"Record-Route: <sip:192.0.2.1;lr>", "t: <sip:bob@192.0.2.20>;tag=314159", "f: <sip:alice@192.0.2.10>;tag=1",
			"i: 3848276298220188511@192.0.2.10", "CSeq: 1 INVITE", "Contact: <sip:bob@192.0.2.20>",
			"P-Asserted-Identity: <sip:+12125552222@home2.net>",
		}, ""),
		"200-invite": sipMsg("SIP/2.0 200 OK", []string{
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx",
			"Record-Route: <sip:192.0.2.1;lr>", "To: Bob <sip:bob@192.0.2.20>;tag=314159",
			"From: Alice <sip:alice@192.0.2.10>;tag=1", "Call-ID: c@h", "CSeq: 1 INVITE",
			"Contact: <sip:bob@192.0.2.20>", "Content-Type: application/sdp",
		}, fastSDP),
		"200-bye": sipMsg("SIP/2.0 200 OK", []string{
			"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKherald.2;rport", "To: sip:bob@192.0.2.20;tag=314159",
			"From: sip:alice@192.0.2.10;tag=1", "Call-ID: c@h", "CSeq: 231 BYE",
		}, ""),
		"486": sipMsg("SIP/2.0 486 Busy Here", []string{
			"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1", "To: <sip:bob@192.0.2.20>;tag=99",
			"From: <sip:alice@192.0.2.10>;tag=1", "Call-ID: c@h", "CSeq: 1 INVITE", "Max-Forwards: 70",
		}, ""),
	}
}

// fastScanDisagreement reports where sipgo's reading of data (which the scanner accepted into m)
// differs from the scanner's, nil when they agree on everything the fast path uses.
func fastScanDisagreement(m *fmsg, data []byte) error {
	// The scanner's own promise: CR and LF only as CRLF up to the body.
	for i, c := range data[:m.body] {
		if c == '\r' && (i+1 == len(data) || data[i+1] != '\n') || c == '\n' && (i == 0 || data[i-1] != '\r') {
			return fmt.Errorf("bare CR or LF at %d", i)
		}
	}
	msg, err := fastScanParser.ParseSIP(bytes.Clone(data))
	if err != nil {
		return fmt.Errorf("sipgo rejects it: %w", err)
	}
	var hs interface {
		CallID() *sip.CallIDHeader
		CSeq() *sip.CSeqHeader
		Via() *sip.ViaHeader
		To() *sip.ToHeader
		MaxForwards() *sip.MaxForwardsHeader
		GetHeaders(string) []sip.Header
	}
	switch r := msg.(type) {
	case *sip.Request:
		if !m.isReq {
			return errors.New("sipgo reads a request, the scanner a response")
		}
		if string(r.Method) != methodNames[m.method] {
			return fmt.Errorf("method: sipgo %q, scanner %q", r.Method, methodNames[m.method])
		}
		if code, reason := sipmsg.CheckRequest(r); code != 0 {
			return fmt.Errorf("the general path answers %d %s", code, reason)
		}
		// The callee's identity, which the plain rule looks up: the general path's reading of the
		// Request-URI and the scanner's bytes name the same subscriber, or none.
		gk, gerr := profile.Canonical(r.Recipient.String())
		fk, ferr := profile.Canonical(string(m.ruri.of(data)))
		if gk != fk || (gerr == nil) != (ferr == nil) {
			return fmt.Errorf("Request-URI identity: sipgo %q (%v), scanner %q (%v)", gk, gerr, fk, ferr)
		}
		hs = r
	case *sip.Response:
		if m.isReq {
			return errors.New("sipgo reads a response, the scanner a request")
		}
		if r.StatusCode != m.status || r.SipVersion != "SIP/2.0" {
			return fmt.Errorf("status: sipgo %s %d, scanner %d", r.SipVersion, r.StatusCode, m.status)
		}
		hs = r
	default:
		return fmt.Errorf("sipgo reads a %T", msg)
	}
	if cid := hs.CallID(); cid == nil || cid.Value() != string(m.value(hCallID)) {
		return fmt.Errorf("Call-ID: sipgo %v, scanner %q", cid, m.value(hCallID))
	}
	cs := hs.CSeq()
	if cs == nil || cs.SeqNo != m.cseq || (m.cseqM != mOther && string(cs.MethodName) != methodNames[m.cseqM]) {
		return fmt.Errorf("CSeq: sipgo %v, scanner %d %q", cs, m.cseq, methodNames[m.cseqM])
	}
	if m.cseqM == mOther && !m.isReq {
		return errors.New("scanner accepted a response to an unknown method")
	}
	via := hs.Via()
	if via == nil {
		return errors.New("sipgo has no Via")
	}
	if branch, _ := via.Params.Get("branch"); branch != string(m.branch.of(data)) {
		return fmt.Errorf("top Via branch: sipgo %q, scanner %q", branch, m.branch.of(data))
	}
	// Case-insensitive, as ABNF literals are (RFC 3261 §25, RFC 5234 §2.3).
	want := "UDP"
	if m.viaTCP {
		want = "TCP"
	}
	if !strings.EqualFold(via.ProtocolName, "SIP") || via.ProtocolVersion != "2.0" || !strings.EqualFold(via.Transport, want) {
		return fmt.Errorf("top Via protocol: sipgo %s/%s/%s, scanner %s", via.ProtocolName, via.ProtocolVersion, via.Transport, want)
	}
	if host, port, ok := fsSplitSentBy(m.sentBy.of(data)); !ok || host != via.Host || port != via.Port {
		return fmt.Errorf("top Via sent-by: sipgo %q %d, scanner %q", via.Host, via.Port, m.sentBy.of(data))
	}
	if rp, has := via.Params.Get("rport"); (has && rp == "") != !m.rport.empty() {
		return fmt.Errorf("top Via bare rport: sipgo %t, scanner %q", has && rp == "", m.rport.of(data))
	}
	to := hs.To()
	if to == nil || to.Params.Has("tag") != m.toTag {
		return fmt.Errorf("To tag: sipgo %v, scanner %t", to, m.toTag)
	}
	mf := hs.MaxForwards()
	if (mf == nil) != (m.mf < 0) || (mf != nil && int(*mf) != m.mf) {
		return fmt.Errorf("Max-Forwards: sipgo %v, scanner %d", mf, m.mf)
	}
	if body := data[m.body:]; !bytes.Equal(msg.Body(), body) {
		return fmt.Errorf("body: sipgo %q, scanner %q", msg.Body(), body)
	}
	routes := hs.GetHeaders("route")
	var err2 error
	i := 0
	m.eachRoute(func(uri []byte) bool {
		if i >= len(routes) {
			err2 = fmt.Errorf("Route %d %q: sipgo has only %d", i, uri, len(routes))
			return false
		}
		rh, ok := routes[i].(*sip.RouteHeader)
		if !ok {
			err2 = fmt.Errorf("Route %d: sipgo %T", i, routes[i])
			return false
		}
		if u, ok := parseSIPURI(uri); ok {
			host := rh.Address.Host
			if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
				host = host[1 : len(host)-1]
			}
			if host != string(u.host) || rh.Address.Port != u.port || !strings.EqualFold(rh.Address.Scheme, "sip") {
				err2 = fmt.Errorf("Route %d: sipgo %s %q %d, scanner %q %d", i, rh.Address.Scheme, rh.Address.Host, rh.Address.Port, u.host, u.port)
				return false
			}
		}
		i++
		return true
	})
	return err2
}

// fsSplitSentBy splits a Via sent-by as sipgo does: an IPv6 reference's address without brackets, the
// port 0 when absent.
func fsSplitSentBy(sb []byte) (host string, port int, ok bool) {
	s := string(sb)
	portStr := ""
	if strings.HasPrefix(s, "[") {
		e := strings.IndexByte(s, ']')
		if e < 0 {
			return "", 0, false
		}
		host, s = s[1:e], s[e+1:]
		if s != "" {
			if s[0] != ':' {
				return "", 0, false
			}
			portStr = s[1:]
		}
	} else if c := strings.LastIndexByte(s, ':'); c >= 0 {
		host, portStr = s[:c], s[c+1:]
	} else {
		host = s
	}
	if portStr != "" {
		p, good := atoi([]byte(portStr))
		if !good {
			return "", 0, false
		}
		port = p
	}
	return host, port, true
}

// fastScanTorture are the RFC 4475 torture messages (core/signal/testdata/torture).
func fastScanTorture(tb testing.TB) map[string][]byte {
	files, err := filepath.Glob(filepath.Join("..", "signal", "testdata", "torture", "*.dat"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no torture messages: %v", err)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".dat")] = b
	}
	return out
}

func FuzzFastScan(f *testing.F) {
	for _, s := range fastScanSeeds() {
		f.Add(s)
	}
	for _, s := range fastScanTorture(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		var m fmsg
		ok := m.scan(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("scan changed its input")
		}
		if !ok {
			return // the general path's business
		}
		if err := fastScanDisagreement(&m, data); err != nil {
			t.Fatalf("scanner accepts what sipgo reads otherwise: %v\n%q", err, data)
		}
	})
}

// TestFastScanSeeds checks that every seed is one the scanner accepts (so that the fuzzer starts from
// the fast path's own inputs) and that sipgo agrees on it.
func TestFastScanSeeds(t *testing.T) {
	for name, s := range fastScanSeeds() {
		var m fmsg
		if !m.scan(s) {
			t.Errorf("%s: scanner refuses it", name)
			continue
		}
		if err := fastScanDisagreement(&m, s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, s := range fastScanTorture(t) {
		var m fmsg
		if m.scan(s) {
			t.Logf("torture %s accepted", name)
			if err := fastScanDisagreement(&m, s); err != nil {
				t.Errorf("torture %s: %v", name, err)
			}
		}
	}
}

// withHdr is hdrs with the line whose name is name (case-insensitive) replaced by repl (several
// lines, or none to remove it).
func withHdr(hdrs []string, name string, repl ...string) []string {
	var out []string
	done := false
	for _, h := range hdrs {
		if n, _, _ := strings.Cut(h, ":"); !done && strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, repl...)
			done = true
			continue
		}
		out = append(out, h)
	}
	if !done {
		panic("withHdr: no " + name)
	}
	return out
}

// fsInv is the typical INVITE with its header lines changed by edit (nil: as is).
func fsInv(edit func([]string) []string) []byte {
	h := fastInviteHdrs()
	if edit != nil {
		h = edit(h)
	}
	return sipMsg("INVITE sip:+12125552222@192.0.2.20:5060;user=phone SIP/2.0", h, fastSDP)
}

// fsBye is an in-dialog BYE with the header line name replaced by repl.
func fsBye(name string, repl ...string) []byte {
	h := []string{
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;rport", "Max-Forwards: 70",
		"To: <sip:bob@192.0.2.20>;tag=b1", "From: <sip:alice@192.0.2.10>;tag=a1", "Call-ID: c1@192.0.2.10",
		"CSeq: 2 BYE", "Route: <sip:192.0.2.1;lr>",
	}
	if name != "" {
		h = withHdr(h, name, repl...)
	}
	return sipMsg("BYE sip:bob@192.0.2.20 SIP/2.0", h, "")
}

// fs200 is a 200 to an INVITE with the header line name replaced by repl.
func fs200(name string, repl ...string) []byte {
	h := []string{
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1", "To: <sip:bob@192.0.2.20>;tag=b1",
		"From: <sip:alice@192.0.2.10>;tag=a1", "Call-ID: c1@192.0.2.10", "CSeq: 1 INVITE",
	}
	if name != "" {
		h = withHdr(h, name, repl...)
	}
	return sipMsg("SIP/2.0 200 OK", h, "")
}

// TestFastScanRejects lists datagrams the scanner must leave to the general path, among them what
// FuzzFastScan found the scanner accepting although sipgo refuses or reads them otherwise.
func TestFastScanRejects(t *testing.T) {
	add := func(h ...string) func([]string) []string {
		return func(hs []string) []string { return append(hs, h...) }
	}
	repl := func(name string, r ...string) func([]string) []string {
		return func(hs []string) []string { return withHdr(hs, name, r...) }
	}
	inv := string(fastInvite())
	many := make([]string, maxHeaderLines)
	for i := range many {
		many[i] = "X-Filler-" + strconv.Itoa(i) + ": x"
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{name: "folded header line", data: fsInv(add("Subject: lunch", " tomorrow"))},
		{name: "folded Via", data: fsInv(repl("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060", "\t;branch=z9hG4bK1"))},
		{name: "bare LF in a header", data: fsInv(add("Subject: a\nb"))},
		{name: "bare LF ending a header", data: []byte(strings.Replace(inv, "Max-Forwards: 70\r\n", "Max-Forwards: 70\n", 1))},
		{name: "bare CR in a header", data: fsInv(add("Subject: a\rb"))},
		{name: "LF-only message", data: []byte(strings.ReplaceAll(inv, "\r\n", "\n"))},
		{name: "duplicated Call-ID", data: fsInv(add("Call-ID: other@192.0.2.10"))},
		{name: "duplicated Call-ID (compact)", data: fsInv(add("i: 3848276298220188511@192.0.2.10"))},
		{name: "duplicated CSeq", data: fsInv(add("CSeq: 1 INVITE"))},
		{name: "duplicated From", data: fsInv(add("f: <sip:mallory@home1.net>;tag=x"))},
		{name: "duplicated To", data: fsInv(add("To: <sip:carol@home2.net>"))},
		{name: "duplicated Max-Forwards", data: fsInv(add("Max-Forwards: 70"))},
		{name: "duplicated Content-Length", data: fsInv(add("l: "+strconv.Itoa(len(fastSDP)), "Content-Length: "+strconv.Itoa(len(fastSDP))))},
		{name: "Content-Length too large", data: fsInv(add("Content-Length: " + strconv.Itoa(len(fastSDP)+1)))},
		{name: "Content-Length too small", data: fsInv(add("Content-Length: " + strconv.Itoa(len(fastSDP)-1)))},
		{name: "Content-Length not a number", data: fsInv(add("Content-Length: 0x10"))},
		{name: "no Via", data: fsInv(repl("Via"))},
		{name: "no Call-ID", data: fsInv(repl("Call-ID"))},
		{name: "no CSeq", data: fsInv(repl("CSeq"))},
		{name: "no From", data: fsInv(repl("From"))},
		{name: "no To", data: fsInv(repl("To"))},
		{name: "Via without branch", data: fsInv(repl("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;rport"))},
		{name: "Via without parameters", data: fsInv(repl("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060"))},
		{name: "RFC 2543 branch", data: fsInv(repl("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=1f9a2c"))},
		{name: "bare magic cookie", data: fsInv(repl("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK"))},
		{name: "branch not a token", data: fsInv(repl("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK/1"))},
		{name: "branch cookie in another case", data: fsInv(repl("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=Z9HG4BK1"))},
		{name: "quoted string in top Via", data: fsInv(repl("Via", `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;x="a"`))},
		{name: "TLS top Via", data: fsInv(repl("Via", "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK1"))},
		{name: "SIP/3.0 Via", data: fsInv(repl("Via", "Via: SIP/3.0/UDP 192.0.2.10:5060;branch=z9hG4bK1"))},
		{name: "sips: Request-URI", data: []byte(strings.Replace(inv, "INVITE sip:", "INVITE sips:", 1))},
		{name: "empty tel: Request-URI", data: []byte(strings.Replace(inv, "INVITE sip:+12125552222@192.0.2.20:5060;user=phone", "INVITE tel:", 1))},
		{name: "tel: Request-URI with a non-URI character", data: []byte(strings.Replace(inv, "INVITE sip:+12125552222@192.0.2.20:5060;user=phone", "INVITE tel:+1212555{2222}", 1))},
		{name: "tel: Request-URI with URI headers", data: []byte(strings.Replace(inv, "INVITE sip:+12125552222@192.0.2.20:5060;user=phone", "INVITE tel:+12125552222?x=y", 1))},
		{name: "sips: Request-URI", data: []byte(strings.Replace(inv, "INVITE sip:+12125552222@192.0.2.20:5060;user=phone", "INVITE sips:+12125552222@192.0.2.20", 1))},
		{name: "'?' in Request-URI", data: []byte(strings.Replace(inv, ";user=phone SIP/2.0", ";user=phone?Subject=x SIP/2.0", 1))},
		{name: "'<' in Request-URI", data: []byte(strings.Replace(inv, "INVITE sip:", "INVITE <sip:", 1))},
		{name: "two blanks after method", data: []byte(strings.Replace(inv, "INVITE sip:", "INVITE  sip:", 1))},
		{name: "SIP/2.1 request", data: []byte(strings.Replace(inv, "user=phone SIP/2.0", "user=phone SIP/2.1", 1))},
		{name: "CSeq method mismatch", data: fsInv(repl("CSeq", "CSeq: 1 BYE"))},
		{name: "CSeq method in lower case", data: fsInv(repl("CSeq", "CSeq: 1 invite"))},
		{name: "CSeq without method", data: fsInv(repl("CSeq", "CSeq: 1"))},
		{name: "CSeq above 2^31-1", data: fsInv(repl("CSeq", "CSeq: 2147483648 INVITE"))},
		{name: "CSeq not a number", data: fsInv(repl("CSeq", "CSeq: -1 INVITE"))},
		{name: "response to an unknown method", data: fs200("CSeq", "CSeq: 1 OPTIONS")},
		{name: "more than maxHeaderLines headers", data: fsInv(add(many...))},
		{name: "unknown method", data: []byte(strings.ReplaceAll(strings.Replace(inv, "INVITE sip:", "OPTIONS sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 OPTIONS"))},
		{name: "method in lower case", data: []byte(strings.ReplaceAll(strings.Replace(inv, "INVITE sip:", "invite sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 invite"))},
		{name: "extension method", data: []byte(strings.ReplaceAll(strings.Replace(inv, "INVITE sip:", "MESSAGE sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 MESSAGE"))},
		{name: "Max-Forwards above 255", data: fsInv(repl("Max-Forwards", "Max-Forwards: 256"))},
		{name: "Max-Forwards not a number", data: fsInv(repl("Max-Forwards", "Max-Forwards: seventy"))},
		{name: "empty Call-ID", data: fsInv(repl("Call-ID", "Call-ID:"))},
		{name: "Call-ID with a blank", data: fsInv(repl("Call-ID", "Call-ID: a b"))},
		{name: "To without closing bracket", data: fsInv(repl("To", "To: <sip:+12125552222@home2.net"))},
		{name: "To with an unclosed quote", data: fsInv(repl("To", `To: "Bob <sip:+12125552222@home2.net>`))},
		{name: "header without colon", data: fsInv(add("Subject"))},
		{name: "header name not a token", data: fsInv(add("X Y: z"))},
		{name: "status code 700", data: []byte(strings.Replace(string(fs200("")), "SIP/2.0 200 OK", "SIP/2.0 700 Odd", 1))},
		{name: "status code 99", data: []byte(strings.Replace(string(fs200("")), "SIP/2.0 200 OK", "SIP/2.0 099 Odd", 1))},
		{name: "four-digit status", data: []byte(strings.Replace(string(fs200("")), "SIP/2.0 200 OK", "SIP/2.0 2000 OK", 1))},
		{name: "SIP/1.0 response", data: []byte(strings.Replace(string(fs200("")), "SIP/2.0 200 OK", "SIP/1.0 200 OK", 1))},
		{name: "no empty line", data: []byte(strings.TrimSuffix(string(fs200("")), "\r\n"))},
		{name: "empty datagram", data: nil},
		{name: "keep-alive", data: []byte("\r\n\r\n")},

		// found by FuzzFastScan: From/To values sipgo cannot read.
		{name: "From sipgo cannot read", data: fsBye("From", "From: 0")},
		{name: "empty From", data: fsBye("From", "From:")},
		{name: "To display name with ';'", data: fsBye("To", `To: "B";tag=1 <sip:bob@192.0.2.20>`)},
		{name: "To without scheme", data: fsBye("To", "To: <bob>;tag=b1")},

		// found by FuzzFastScan: headers the scanner does not use that sipgo refuses.
		{name: "lower Via sipgo cannot read", data: fs200("Via", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1", "Via: garbage")},
		{name: "Record-Route sipgo cannot read", data: fs200("To", "To: <sip:bob@192.0.2.20>;tag=b1", "Record-Route: <sip:[192.0.2.1;lr>")},
		{name: "top Via line ending in ','", data: fs200("Via", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1,")},
		{name: "Route URI scheme with a digit", data: fsBye("Route", "Route: <s1p:192.0.2.1;lr>")},
		{name: "empty Content-Type", data: fs200("To", "To: <sip:bob@192.0.2.20>;tag=b1", "Content-Type:")},

		// found by FuzzFastScan: sip: Request-URIs sipgo refuses (a port not a number, the host "*").
		{name: "Request-URI port not a number", data: []byte(strings.Replace(inv, "192.0.2.20:5060;", "192.0.2.20:x;", 1))},
		{name: "Request-URI host *", data: []byte(strings.Replace(inv, "INVITE sip:+12125552222@192.0.2.20:5060;user=phone", "INVITE sip:*", 1))},

		// found by FuzzFastScan: sipgo reads no branch after a non-numeric or empty sent-by port.
		{name: "sent-by port not a number", data: fs200("Via", "Via: SIP/2.0/UDP 192.0.2.1:x;branch=z9hG4bKherald.1")},
		{name: "empty sent-by port", data: fs200("Via", "Via: SIP/2.0/UDP 192.0.2.1:;branch=z9hG4bKherald.1")},

		// found by FuzzFastScan: sipgo finds the Via branch and the To tag only in lower case.
		{name: "branch in upper case", data: fs200("Via", "Via: SIP/2.0/UDP 192.0.2.1:5060;BRANCH=z9hG4bKherald.1")},
		{name: "To tag in upper case", data: fsBye("To", "To: <sip:bob@192.0.2.20>;TAG=b1")},

		// found by FuzzFastScan: Route URIs whose host sipgo reads otherwise or not at all.
		{name: "Route host with a quote", data: fsBye("Route", `Route: <sip:192.0.2.1"x;lr>`)},
		{name: "Route with two '@'", data: fsBye("Route", "Route: <sip:a@b@192.0.2.9;lr>")},

		// found by FuzzFastScan: Route entries that are not name-addr, which sipgo reads otherwise.
		{name: "Route as addr-spec", data: fsBye("Route", `Route: sip:192.0.2.1;"`)},
		{name: "Route display name with a quote", data: fsBye("Route", `Route: a"<sip:192.0.2.1;lr>`)},
		{name: "empty Route line", data: fsBye("Route", "Route:", "Route: <sip:192.0.2.1;lr>")},

		// found by FuzzFastScan: a bare CR or LF in the start line, which sipgo refuses.
		{name: "bare CR in Status-Line", data: []byte(strings.Replace(string(fs200("")), "SIP/2.0 200 OK\r\n", "SIP/2.0 200 OK\r\r\n", 1))},
		{name: "bare LF in Request-URI", data: []byte(strings.Replace(inv, ";user=phone SIP/2.0", ";user=\nphone SIP/2.0", 1))},

		// found by FuzzFastScan: blanks around the top Via's sent-by, ';' and ',', which sipgo does not trim.
		{name: "blank before ',' in top Via", data: fs200("Via", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKherald.1 , SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK2")},
		{name: "blank after ';' in top Via", data: fsBye("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1; rport")},
		{name: "blank before ';' after sent-by", data: fsBye("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060 ;branch=z9hG4bK1")},
		{name: "two blanks before an IPv6 sent-by", data: fsBye("Via", "Via: SIP/2.0/UDP  [2001:db8::10]:5060;branch=z9hG4bK1")},

		// found by FuzzFastScan: empty or repeated top Via parameters shift sipgo's branch and rport.
		{name: "empty top Via parameter", data: fsBye("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;;branch=z9hG4bK1")},
		{name: "rport=", data: fsBye("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;rport=")},
		{name: "rport twice", data: fsBye("Via", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;rport;rport=5060")},

		// found by FuzzFastScan: two blanks in CSeq make sipgo read the method with a leading blank.
		{name: "two blanks in CSeq", data: fsBye("CSeq", "CSeq: 2  BYE")},
		{name: "two blanks in a response's CSeq", data: fs200("CSeq", "CSeq: 1  INVITE")},

		// found by FuzzFastScan: sipgo reads a Reason-Phrase "SIPx" as a request line.
		{name: "Reason-Phrase SIPx", data: []byte(strings.Replace(string(fs200("")), "SIP/2.0 200 OK", "SIP/2.0 200 SIPok", 1))},

		// found by FuzzFastScan: sipgo trims other white space than SP and HTAB off the Call-ID.
		{name: "Call-ID ending in VT", data: fsBye("Call-ID", "Call-ID: c1@192.0.2.10\v")},
		{name: "Call-ID ending in NBSP", data: fsBye("Call-ID", "Call-ID: c1@192.0.2.10\u00a0")},

		// found by FuzzFastScan: loose To parameters whose tag sipgo reads otherwise.
		{name: "To tag without ';'", data: fsBye("To", "To: <sip:bob@192.0.2.20>tag=b1")},
		{name: "To tag with blanks", data: fsBye("To", "To: <sip:bob@192.0.2.20> ; tag = b1")},
		{name: "To tag==", data: fsBye("To", "To: <sip:bob@192.0.2.20>;tag==")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m fmsg
			if m.scan(tc.data) {
				t.Errorf("accepted: %q", tc.data)
			}
		})
	}
}

// TestFastScanAccepts checks what the scanner reads of canonical messages (and that sipgo agrees).
func TestFastScanAccepts(t *testing.T) {
	seeds := fastScanSeeds()
	type want struct {
		isReq  bool
		method method
		status int
		branch string
		sentBy string
		rport  bool
		toTag  bool
		mf     int
		cseq   uint32
		cseqM  method
		callID string
		routes []string
		body   int
		tcp    bool
	}
	for _, tc := range []struct {
		name string
		data []byte
		want want
	}{
		{"typical INVITE", fastInvite(), want{isReq: true, method: mINVITE, branch: "z9hG4bK-524287-1---77ba2d3a0b1c4e5f",
			sentBy: "192.0.2.10:5060", rport: true, mf: 70, cseq: 1, cseqM: mINVITE, callID: "3848276298220188511@192.0.2.10",
			routes: []string{"sip:192.0.2.1:5060;lr"}, body: len(fastSDP)}},
		{"compact INVITE", seeds["invite-compact"], want{isReq: true, method: mINVITE, branch: "z9hG4bKnashds8",
			sentBy: "192.0.2.10", rport: true, mf: 69, cseq: 986759, cseqM: mINVITE, callID: "987asjd97y7atg", body: len(fastSDP)}},
		{"Via and Route lists", seeds["invite-via-list"], want{isReq: true, method: mINVITE, branch: "z9hG4bKa",
			sentBy: "[2001:db8::10]:5060", rport: true, mf: 10, cseq: 2, cseqM: mINVITE, callID: "c1@192.0.2.10",
			routes: []string{"sip:192.0.2.1;lr", "sip:[2001:db8::1]:5070;lr;transport=udp", "sip:192.0.2.3:5080;lr"}}},
		{"ACK", seeds["ack"], want{isReq: true, method: mACK, branch: "z9hG4bK776asdhds", sentBy: "192.0.2.10:5060",
			toTag: true, mf: 70, cseq: 1, cseqM: mACK, callID: "a84b4c76e66710@pc33.atlanta.example.com",
			routes: []string{"sip:192.0.2.1:5060;lr;ftag=1928301774"}}},
		{"BYE, rport before branch", seeds["bye"], want{isReq: true, method: mBYE, branch: "z9hG4bKnashds10",
			sentBy: "192.0.2.10:5060", rport: true, toTag: true, mf: 70, cseq: 231, cseqM: mBYE,
			callID: "a84b4c76e66710@pc33.atlanta.example.com", routes: []string{"sip:herald@192.0.2.1;lr", "sip:192.0.2.2;lr"}}},
		{"CANCEL", seeds["cancel"], want{isReq: true, method: mCANCEL, branch: "z9hG4bK-524287-1---77ba2d3a0b1c4e5f",
			sentBy: "192.0.2.10:5060", rport: true, mf: 70, cseq: 1, cseqM: mCANCEL, callID: "3848276298220188511@192.0.2.10",
			routes: []string{"sip:192.0.2.1:5060;lr"}}},
		{"INFO with a body", seeds["info"], want{isReq: true, method: mINFO, branch: "z9hG4bK776asdhds", sentBy: "192.0.2.10:5060",
			toTag: true, mf: 70, cseq: 5, cseqM: mINFO, callID: "a84b4c76e66710@pc33.atlanta.example.com", body: len("Signal=5\r\nDuration=160\r\n")}},
		{"100, valued rport", seeds["100"], want{status: 100, branch: "z9hG4bKherald.1", sentBy: "192.0.2.1:5060", mf: -1,
			cseq: 1, cseqM: mINVITE, callID: "3848276298220188511@192.0.2.10"}},
		{"180, compact To and Via list", seeds["180"], want{status: 180, branch: "z9hG4bKherald.1", sentBy: "192.0.2.1:5060",
			toTag: true, mf: -1, cseq: 1, cseqM: mINVITE, callID: "3848276298220188511@192.0.2.10"}},
		{"200 to INVITE", seeds["200-invite"], want{status: 200, branch: "z9hG4bKherald.1", sentBy: "192.0.2.1:5060", toTag: true,
			mf: -1, cseq: 1, cseqM: mINVITE, callID: "c@h", body: len(fastSDP)}},
		{"200 to BYE, addr-spec To", seeds["200-bye"], want{status: 200, branch: "z9hG4bKherald.2", sentBy: "192.0.2.1", rport: true,
			toTag: true, mf: -1, cseq: 231, cseqM: mBYE, callID: "c@h"}},
		{"486 with Max-Forwards", seeds["486"], want{status: 486, branch: "z9hG4bKherald.1", sentBy: "192.0.2.1:5060", toTag: true,
			mf: 70, cseq: 1, cseqM: mINVITE, callID: "c@h"}},
		{"Max-Forwards 0, lower-case names and protocol", sipMsg("BYE sip:bob@192.0.2.20 SIP/2.0", []string{
			"via: sip/2.0/udp 192.0.2.10;branch=z9hG4bKlow", "max-forwards: 0", "to: <sip:bob@192.0.2.20>;tag=1",
			"from: <sip:alice@192.0.2.10>;tag=2", "call-id: x", "cseq: 7 BYE", "content-length: 0"}, ""),
			want{isReq: true, method: mBYE, branch: "z9hG4bKlow", sentBy: "192.0.2.10", toTag: true, mf: 0, cseq: 7, cseqM: mBYE, callID: "x"}},
		{"PRACK with RAck (RFC 3262 §7.1)", sipMsg("PRACK sip:herald@192.0.2.1:5060 SIP/2.0", []string{
			"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKpr1", "Max-Forwards: 70", "To: <sip:bob@192.0.2.20>;tag=h1",
			"From: <sip:alice@192.0.2.10>;tag=a1", "Call-ID: c1@192.0.2.10", "CSeq: 2 PRACK", "RAck: 776656 1 INVITE"}, ""),
			want{isReq: true, method: mPRACK, branch: "z9hG4bKpr1", sentBy: "192.0.2.10:5060", toTag: true, mf: 70, cseq: 2,
				cseqM: mPRACK, callID: "c1@192.0.2.10"}},
		{"TCP top Via (RFC 3261 §18.3)", fsInv(func(h []string) []string {
			return withHdr(h, "Via", "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK1")
		}), want{isReq: true, method: mINVITE, branch: "z9hG4bK1", sentBy: "192.0.2.10:5060", mf: 70, cseq: 1, cseqM: mINVITE,
			callID: "3848276298220188511@192.0.2.10", routes: []string{"sip:192.0.2.1:5060;lr"}, body: len(fastSDP), tcp: true}},
		{"TCP top Via before UDP, lower case", fsInv(func(h []string) []string {
			return withHdr(h, "Via", "Via: sip/2.0/tcp 192.0.2.10;branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK2")
		}), want{isReq: true, method: mINVITE, branch: "z9hG4bK1", sentBy: "192.0.2.10", mf: 70, cseq: 1, cseqM: mINVITE,
			callID: "3848276298220188511@192.0.2.10", routes: []string{"sip:192.0.2.1:5060;lr"}, body: len(fastSDP), tcp: true}},
		{"blanks around colons, tab in CSeq", sipMsg("SIP/2.0 486 Busy Here", []string{
			"Via :  SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsp  ", "To\t:\t<sip:bob@192.0.2.20>;tag=1", "From: <sip:a@h>",
			"Call-ID:nospace", "CSeq: 3\tINVITE"}, ""),
			want{status: 486, branch: "z9hG4bKsp", sentBy: "192.0.2.1:5060", toTag: true, mf: -1, cseq: 3, cseqM: mINVITE, callID: "nospace"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m fmsg
			if !m.scan(tc.data) {
				t.Fatalf("refused: %q", tc.data)
			}
			var routes []string
			m.eachRoute(func(uri []byte) bool { routes = append(routes, string(uri)); return true })
			got := want{isReq: m.isReq, method: m.method, status: m.status, branch: string(m.branch.of(tc.data)),
				sentBy: string(m.sentBy.of(tc.data)), rport: !m.rport.empty(), toTag: m.toTag, mf: m.mf, cseq: m.cseq,
				cseqM: m.cseqM, callID: string(m.value(hCallID)), routes: routes, body: len(tc.data) - m.body, tcp: m.viaTCP}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if got.rport && string(m.rport.of(tc.data)) != "rport" {
				t.Errorf("rport span %q", m.rport.of(tc.data))
			}
			if err := fastScanDisagreement(&m, tc.data); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFastScanNoAlloc pins the scanner's promise: no allocation per datagram.
func TestFastScanNoAlloc(t *testing.T) {
	inv := fastInvite()
	if n := len(inv); n < 850 || n > 950 {
		t.Fatalf("typical INVITE is %d bytes, want about 900", n)
	}
	for name, d := range map[string][]byte{"INVITE": inv, "180": fastScanSeeds()["180"], "BYE": fastScanSeeds()["bye"]} {
		var m fmsg
		if !m.scan(d) {
			t.Fatalf("%s refused", name)
		}
		if a := testing.AllocsPerRun(200, func() { m.scan(d) }); a != 0 {
			t.Errorf("%s: %v allocs per scan, want 0", name, a)
		}
	}
}

func BenchmarkFastScan(b *testing.B) {
	inv := fastInvite()
	b.ReportAllocs()
	b.SetBytes(int64(len(inv)))
	var m fmsg
	for b.Loop() {
		if !m.scan(inv) {
			b.Fatal("refused")
		}
	}
}
