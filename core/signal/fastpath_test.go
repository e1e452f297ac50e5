package signal

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/core/wheel"
)

// The fast path (core/sipfast, fastglue.go) driven over raw UDP: a caller socket in front of Herald and a callee
// socket as its next hop, hand-written requests and responses, and assertions on the bytes Herald
// puts on the wire. Every read has a deadline (fpWait); time passes only inside reads, except where
// Herald absorbs a datagram and the only trace of it is a counter (fpCount).

// fpWait bounds every read of a test socket.
const fpWait = 2 * time.Second

// fpBranchRE is a branch of the fast path: its prefix and a transaction id in hex (the ACK for a 2xx
// has an "a" and a hash, hex as well).
var fpBranchRE = regexp.MustCompile(`^z9hG4bKhrld[0-9a-f]+$`)

const (
	fpSDP = "v=0\r\no=erin 2890844526 2890844526 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" +
		"t=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	fpSDPAnswer = "v=0\r\no=dave 2808844564 2808844564 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" +
		"t=0 0\r\nm=audio 49174 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)

// fpPeer is a raw UDP socket on 127.0.0.1 playing a caller or a callee (Herald's next hop). A reader
// goroutine queues every datagram with its arrival time while the test reads another socket. Timer
// tests run Herald on an injected clock (fastclock_test.go) and measure no interval.
type fpPeer struct {
	conn *net.UDPConn
	rx   chan fpDatagram
	stop chan struct{}
	done chan struct{}
}

type fpDatagram struct {
	at   time.Time
	data []byte
}

func newFPPeer(t *testing.T) *fpPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return startFPPeer(t, c)
}

// newFPPeerTCP is a peer that also accepts TCP on its UDP port (RFC 3261 §18: a request too big for
// UDP goes over TCP to the same address).
func newFPPeerTCP(t *testing.T) (*fpPeer, *net.TCPListener) {
	t.Helper()
	for range 20 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", c.LocalAddr().String())
		if err == nil {
			t.Cleanup(func() { _ = ln.Close() })
			return startFPPeer(t, c), ln.(*net.TCPListener)
		}
		_ = c.Close()
	}
	t.Fatal("no free UDP+TCP port pair on 127.0.0.1")
	return nil, nil
}

func startFPPeer(t *testing.T, c *net.UDPConn) *fpPeer {
	p := &fpPeer{conn: c, rx: make(chan fpDatagram, 256), stop: make(chan struct{}), done: make(chan struct{})}
	go p.read()
	t.Cleanup(func() {
		close(p.stop)
		_ = c.Close()
		<-p.done
	})
	return p
}

func (p *fpPeer) read() {
	defer close(p.done)
	for {
		buf := make([]byte, 64<<10)
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		select {
		case p.rx <- fpDatagram{at: time.Now(), data: buf[:n]}:
		case <-p.stop:
			return
		}
	}
}

func (p *fpPeer) addr() string { return p.conn.LocalAddr().String() }
func (p *fpPeer) port() string { return portOf(p.addr()) }

// send writes msg to the address to and returns the time just before.
func (p *fpPeer) send(t *testing.T, to string, msg []byte) time.Time {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if _, err := p.conn.WriteToUDP(msg, a); err != nil {
		t.Fatal(err)
	}
	return at
}

// next is the next datagram that is not a copy of one of skip (a retransmission Herald sent before
// it saw the answer that stops it); the test fails when none comes within fpWait.
func (p *fpPeer) next(t *testing.T, what string, skip ...[]byte) fpDatagram {
	t.Helper()
	deadline, grace := time.After(fpWait), false
	for {
		select {
		case d := <-p.rx:
			if !slices.ContainsFunc(skip, func(s []byte) bool { return bytes.Equal(s, d.data) }) {
				return d
			}
		case <-deadline:
			if grace {
				t.Fatalf("%s: nothing received within %v", what, fpWait)
			}
			// A process stalled past the deadline wakes up with the deadline and the datagram ready
			// at once: the reader goroutine gets its turn before the datagram is called lost.
			deadline, grace = time.After(100*time.Millisecond), true
		}
	}
}

// nextNot100 is next, skipping 100 Trying: a stateful proxy sends one after 200 ms when nothing else
// went upstream (RFC 3261 §16.2, §17.2.1), which a slow run may see before a relayed response.
func (p *fpPeer) nextNot100(t *testing.T, what string) fpDatagram {
	t.Helper()
	for {
		if d := p.next(t, what); !bytes.HasPrefix(d.data, []byte("SIP/2.0 100 ")) {
			return d
		}
	}
}

// silent reads for d and fails on any datagram other than a copy of one of allow (a retransmission
// already on its way); it returns the number of copies. What was received before counts too.
func (p *fpPeer) silent(t *testing.T, what string, d time.Duration, allow ...[]byte) int {
	t.Helper()
	n := 0
	for _, g := range p.drain(d) {
		if !slices.ContainsFunc(allow, func(a []byte) bool { return bytes.Equal(a, g.data) }) {
			t.Fatalf("%s: unexpected datagram:\n%s", what, g.data)
		}
		n++
	}
	return n
}

// drain returns every datagram received so far and within d.
func (p *fpPeer) drain(d time.Duration) []fpDatagram {
	var out []fpDatagram
	deadline := time.After(d)
	for {
		select {
		case g := <-p.rx: // first what is there, even when d is up
			out = append(out, g)
			continue
		default:
		}
		select {
		case g := <-p.rx:
			out = append(out, g)
		case <-deadline:
			return out
		}
	}
}

// fpCount waits for a counter to reach want (fpWait at most). A datagram Herald absorbs leaves no
// other trace, so the counter is polled; a value past want fails at once.
func fpCount(t *testing.T, what string, c *atomic.Uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(fpWait)
	for {
		n := c.Load()
		if n == want {
			return
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d", what, n, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// fpStat checks counters that must already have their value.
func fpStat(t *testing.T, what string, c *atomic.Uint64, want uint64) {
	t.Helper()
	if n := c.Load(); n != want {
		t.Fatalf("%s = %d, want %d", what, n, want)
	}
}

// fpMsg is a SIP message as it was on the wire: its start line, header lines in order (without CRLF)
// and body.
type fpMsg struct {
	raw   []byte
	start string
	lines []string
	body  []byte
}

// parseFP splits a datagram and checks that its Content-Length is the body's length (RFC 3261 §18.3).
func parseFP(t *testing.T, what string, b []byte) fpMsg {
	t.Helper()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("%s: no end of headers:\n%s", what, b)
	}
	head := strings.Split(string(b[:i]), "\r\n")
	m := fpMsg{raw: b, start: head[0], lines: head[1:], body: b[i+4:]}
	if cl := m.one(t, what, "Content-Length"); cl != strconv.Itoa(len(m.body)) {
		t.Fatalf("%s: Content-Length %s, body %d bytes", what, cl, len(m.body))
	}
	return m
}

// all is the values of the header lines named name, in order.
func (m fpMsg) all(name string) []string {
	var out []string
	for _, l := range m.lines {
		if n, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// one is the value of the only header line named name.
func (m fpMsg) one(t *testing.T, what, name string) string {
	t.Helper()
	vs := m.all(name)
	if len(vs) != 1 {
		t.Fatalf("%s: %d %s lines, want 1:\n%s", what, len(vs), name, m.raw)
	}
	return vs[0]
}

// others is the header lines not named in names, in order.
func (m fpMsg) others(names ...string) []string {
	var out []string
	for _, l := range m.lines {
		n, _, _ := strings.Cut(l, ":")
		if !slices.ContainsFunc(names, func(s string) bool { return strings.EqualFold(strings.TrimSpace(n), s) }) {
			out = append(out, l)
		}
	}
	return out
}

// fpCall is one call as the caller's terminal (or an upstream hop) sends it.
type fpCall struct {
	caller   *fpPeer
	callID   string
	fromTag  string
	branch   string // the INVITE's
	ruri     string
	from, to string
	routes   []string // Route values of the INVITE, one per line
	mf       string   // Max-Forwards of the INVITE
	lowerVia string   // a Via value below the caller's (a hop before it), "" for none
	body     string
}

func newFPCall(caller *fpPeer, from, to string) *fpCall {
	id := fmt.Sprintf("%016x", rand.Uint64())
	return &fpCall{
		caller: caller, callID: "fp" + id + "@127.0.0.1", fromTag: "f" + id[:8], branch: fpBranch(),
		ruri: to, from: from, to: to, mf: "70", body: fpSDP,
	}
}

// fpBranch is a new RFC 3261 branch (§8.1.1.7: the magic cookie and something unique).
func fpBranch() string { return fmt.Sprintf("z9hG4bKt%016x", rand.Uint64()) }

// via is the caller's Via for branch; it asks for rport (RFC 3581 §3).
func (c *fpCall) via(branch string) string {
	return "SIP/2.0/UDP " + c.caller.addr() + ";branch=" + branch + ";rport"
}

// viaSeen is that Via as Herald forwards and answers with it: rport and received filled in
// (RFC 3581 §4, RFC 3261 §18.2.1).
func (c *fpCall) viaSeen(branch string) string {
	return "SIP/2.0/UDP " + c.caller.addr() + ";branch=" + branch + ";rport=" + c.caller.port() + ";received=127.0.0.1"
}

func (c *fpCall) fromHdr() string { return "\"Erin\" <" + c.from + ">;tag=" + c.fromTag }

func (c *fpCall) invite() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE %s SIP/2.0\r\nVia: %s\r\n", c.ruri, c.via(c.branch))
	if c.lowerVia != "" {
		fmt.Fprintf(&b, "Via: %s\r\n", c.lowerVia)
	}
	fmt.Fprintf(&b, "Max-Forwards: %s\r\n", c.mf)
	for _, r := range c.routes {
		fmt.Fprintf(&b, "Route: %s\r\n", r)
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n", c.fromHdr(), c.to, c.callID)
	fmt.Fprintf(&b, "Contact: <sip:caller@%s>\r\nSupported: timer\r\nUser-Agent: fp-test\r\n", c.caller.addr())
	fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(c.body), c.body)
	return []byte(b.String())
}

// request is another request of the call without a body: the CANCEL (RFC 3261 §9.1) or the ACK for
// a non-2xx (§17.1.1.3) on the INVITE's branch, or an ACK for a 2xx or a BYE in the dialog (§12.2.1.1).
func (c *fpCall) request(method, ruri, branch string, cseq int, to string, routes []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\n", method, ruri, c.via(branch))
	for _, r := range routes {
		fmt.Fprintf(&b, "Route: %s\r\n", r)
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n",
		c.fromHdr(), to, c.callID, cseq, method)
	return []byte(b.String())
}

// fpReply is the callee's response to req (RFC 3261 §8.2.6.2): req's Via values (on one line when
// oneVia, §7.3.1), its Record-Route for 101-299 (§12.1.1), From, To with tag added when it has none,
// Call-ID and CSeq; a Contact when contact is set, and the body.
func fpReply(t *testing.T, req fpMsg, code int, reason, tag string, oneVia bool, contact, body string) []byte {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	if vias := req.all("Via"); oneVia {
		fmt.Fprintf(&b, "Via: %s\r\n", strings.Join(vias, ", "))
	} else {
		for _, v := range vias {
			fmt.Fprintf(&b, "Via: %s\r\n", v)
		}
	}
	if code > 100 && code < 300 {
		for _, rr := range req.all("Record-Route") {
			fmt.Fprintf(&b, "Record-Route: %s\r\n", rr)
		}
	}
	to := req.one(t, "request", "To")
	if tag != "" && !strings.Contains(to, ";tag=") {
		to += ";tag=" + tag
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n", req.one(t, "request", "From"), to,
		req.one(t, "request", "Call-ID"), req.one(t, "request", "CSeq"))
	if contact != "" {
		fmt.Fprintf(&b, "Contact: %s\r\n", contact)
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// fpWithoutVia is a response as Herald relays it: the line of its own Via removed, or its value when
// the line holds more (RFC 3261 §16.7 step 3), and nothing else changed.
func fpWithoutVia(t *testing.T, res []byte, via string) []byte {
	t.Helper()
	for _, pair := range [][2]string{{"Via: " + via + "\r\n", ""}, {"Via: " + via + ", ", "Via: "}} {
		if bytes.Contains(res, []byte(pair[0])) {
			return bytes.Replace(res, []byte(pair[0]), []byte(pair[1]), 1)
		}
	}
	t.Fatalf("Herald's Via %q not in\n%s", via, res)
	return nil
}

// fpRoute is Herald's loose-routing URI (RFC 3261 §16.6 step 4), as it record-routes.
func fpRoute(r *rig) string { return "<sip:127.0.0.1:" + portOf(r.addr) + ";lr>" }

// fpForwarded checks fwd, Herald's forwarding of sent (RFC 3261 §16.6): the same Request-URI;
// Herald's Via on top (step 8: SIP/2.0/UDP 127.0.0.1:port with a fast-path branch) and the sent Vias
// below it, the first as viaSeen (RFC 3581 §4); one Record-Route of Herald's when rr (step 4); the
// Route values left (§16.4 pops Herald's own; step 6 keeps the rest); Max-Forwards one less (step 3);
// every other header line, in order, and the body byte for byte. It returns Herald's Via.
func fpForwarded(t *testing.T, what string, sent, fwd fpMsg, r *rig, viaSeen string, left []string, rr bool) string {
	t.Helper()
	if fwd.start != sent.start {
		t.Fatalf("%s: start line %q, want %q", what, fwd.start, sent.start)
	}
	vias, sentVias := fwd.all("Via"), sent.all("Via")
	if len(vias) != len(sentVias)+1 {
		t.Fatalf("%s: Vias %q, want Herald's on top of %q", what, vias, sentVias)
	}
	pre := "SIP/2.0/UDP 127.0.0.1:" + portOf(r.addr) + ";branch="
	if !strings.HasPrefix(vias[0], pre) || !fpBranchRE.MatchString(vias[0][len(pre):]) {
		t.Fatalf("%s: top Via %q, want %s<fast-path branch>", what, vias[0], pre)
	}
	if want := append([]string{viaSeen}, sentVias[1:]...); !slices.Equal(vias[1:], want) {
		t.Fatalf("%s: Vias below Herald's %q, want %q", what, vias[1:], want)
	}
	var wantRR []string
	if rr {
		wantRR = []string{fpRoute(r)}
	}
	if got := fwd.all("Record-Route"); !slices.Equal(got, wantRR) {
		t.Fatalf("%s: Record-Route %q, want %q", what, got, wantRR)
	}
	if got := fwd.all("Route"); !slices.Equal(got, left) {
		t.Fatalf("%s: Route %q, want %q", what, got, left)
	}
	mf, err := strconv.Atoi(sent.one(t, what, "Max-Forwards"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fwd.one(t, what, "Max-Forwards"); got != strconv.Itoa(mf-1) {
		t.Fatalf("%s: Max-Forwards %s, want %d", what, got, mf-1)
	}
	rewritten := []string{"Via", "Record-Route", "Route", "Max-Forwards"}
	if got, want := fwd.others(rewritten...), sent.others(rewritten...); !slices.Equal(got, want) {
		t.Fatalf("%s: header lines changed:\n%q\nwant\n%q", what, got, want)
	}
	if !bytes.Equal(fwd.body, sent.body) {
		t.Fatalf("%s: body changed:\n%s\nwant\n%s", what, fwd.body, sent.body)
	}
	return vias[0]
}

// fpAnswer checks a response of Herald's own to a request of c (RFC 3261 §8.2.6.2): the status
// line, the request's Vias (the top one as viaSeen), From, Call-ID and CSeq, its To with a tag added
// for a final response to a request without one, no body. It returns the To value.
func fpAnswer(t *testing.T, what string, m fpMsg, c *fpCall, status, viaSeen, to, cseq string) string {
	t.Helper()
	if m.start != "SIP/2.0 "+status {
		t.Fatalf("%s: status line %q, want SIP/2.0 %s", what, m.start, status)
	}
	if got := m.all("Via"); !slices.Equal(got, []string{viaSeen}) {
		t.Fatalf("%s: Via %q, want %q", what, got, viaSeen)
	}
	if m.one(t, what, "From") != c.fromHdr() || m.one(t, what, "Call-ID") != c.callID || m.one(t, what, "CSeq") != cseq {
		t.Fatalf("%s: From/Call-ID/CSeq not the request's:\n%s", what, m.raw)
	}
	got := m.one(t, what, "To")
	switch {
	case strings.HasPrefix(status, "100 ") || strings.Contains(to, ";tag="):
		if got != to {
			t.Fatalf("%s: To %q, want %q", what, got, to)
		}
	case !strings.HasPrefix(got, to+";tag=") || len(got) == len(to+";tag="):
		t.Fatalf("%s: To %q, want %q with a tag", what, got, to)
	}
	if len(m.body) != 0 {
		t.Fatalf("%s: body %q", what, m.body)
	}
	return got
}

// fpHopRequest checks Herald's CANCEL (RFC 3261 §9.1) or ACK for a non-2xx (§17.1.1.3) of the
// forwarded INVITE fwd: its Request-URI, a single Via equal to fwd's top one, its Route, From and
// Call-ID, To as given, CSeq with fwd's number and the method, Max-Forwards, no body.
func fpHopRequest(t *testing.T, what string, m, fwd fpMsg, method, to string) {
	t.Helper()
	_, ruri, _ := strings.Cut(fwd.start, " ")
	if want := method + " " + ruri; m.start != want {
		t.Fatalf("%s: start line %q, want %q", what, m.start, want)
	}
	if got := m.all("Via"); len(got) != 1 || got[0] != fwd.all("Via")[0] {
		t.Fatalf("%s: Via %q, want only the INVITE's top Via %q", what, got, fwd.all("Via")[0])
	}
	if got, want := m.all("Route"), fwd.all("Route"); !slices.Equal(got, want) {
		t.Fatalf("%s: Route %q, want the INVITE's %q", what, got, want)
	}
	if m.one(t, what, "From") != fwd.one(t, what, "From") || m.one(t, what, "Call-ID") != fwd.one(t, what, "Call-ID") {
		t.Fatalf("%s: From or Call-ID not the INVITE's:\n%s", what, m.raw)
	}
	if got := m.one(t, what, "To"); got != to {
		t.Fatalf("%s: To %q, want %q", what, got, to)
	}
	n, _, _ := strings.Cut(fwd.one(t, what, "CSeq"), " ")
	if got := m.one(t, what, "CSeq"); got != n+" "+method {
		t.Fatalf("%s: CSeq %q, want %s %s", what, got, n, method)
	}
	if mf, err := strconv.Atoi(m.one(t, what, "Max-Forwards")); err != nil || mf < 1 {
		t.Fatalf("%s: Max-Forwards %q", what, m.one(t, what, "Max-Forwards"))
	}
	if len(m.body) != 0 {
		t.Fatalf("%s: body %q", what, m.body)
	}
}

// fpT2 is T2 where these tests check the cap of retransmission intervals: 8·T1, RFC 3261's ratio (T2
// 4 s with T1 500 ms, §17.1.2.2), so that the cap shows within 64·T1.
const fpT2 = 8 * testT1

// TestFastPathPlainCall proves a plain call end to end on the fast path (RFC 3261 §16): the INVITE is
// forwarded with Herald's Via and Record-Route, its own Route popped and the next one followed (or the
// configured next hop when none is left), Max-Forwards decremented and everything else byte for byte;
// the callee's 180 and 200 reach the caller with only Herald's Via removed; the ACK for the 2xx and
// the BYE follow the route set through Herald, and the BYE's 200 comes back.
func TestFastPathPlainCall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		routes func(herald, callee string) []string // the INVITE's Route lines; nil: none
	}{
		{"next hop", nil},
		{"Route lines", func(h, c string) []string { return []string{h, c} }},
		{"Route list", func(h, c string) []string { return []string{h + ", " + c} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			caller, callee, decoy := newFPPeer(t), newFPPeer(t), newFPPeer(t)
			nextHop := callee.addr()
			if tc.routes != nil {
				nextHop = decoy.addr() // the Route left after Herald's must win over the next hop
			}
			r := startHerald(t, st, nextHop, nil)
			c := newFPCall(caller, erin, dave)
			c.lowerVia = "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKue7;received=192.0.2.70"
			var left []string
			if tc.routes != nil {
				calleeRoute := "<sip:" + callee.addr() + ";lr>"
				c.routes, left = tc.routes(fpRoute(r), calleeRoute), []string{calleeRoute}
			}
			inv := c.invite()
			caller.send(t, r.addr, inv)
			fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
			hv := fpForwarded(t, "INVITE", parseFP(t, "INVITE", inv), fwd, r, c.viaSeen(c.branch), left, true)

			// §16.7 step 3 and 9: responses go upstream without Herald's Via, on its own line or not.
			contact := "<sip:dave@" + callee.addr() + ">"
			ring := fpReply(t, fwd, 180, "Ringing", "cal1", false, contact, "")
			callee.send(t, r.addr, ring)
			if got := caller.nextNot100(t, "relayed 180").data; !bytes.Equal(got, fpWithoutVia(t, ring, hv)) {
				t.Fatalf("relayed 180:\n%s\nwant\n%s", got, fpWithoutVia(t, ring, hv))
			}
			ok := fpReply(t, fwd, 200, "OK", "cal1", true, contact, fpSDPAnswer)
			callee.send(t, r.addr, ok)
			if got := caller.next(t, "relayed 200").data; !bytes.Equal(got, fpWithoutVia(t, ok, hv)) {
				t.Fatalf("relayed 200:\n%s\nwant\n%s", got, fpWithoutVia(t, ok, hv))
			}
			if n := r.sig.ActiveCalls(); n != 0 {
				t.Fatalf("ActiveCalls %d after the final response", n)
			}

			// The dialog's route set is the 200's Record-Route, its target the Contact (§12.1.2); the
			// ACK for a 2xx is a transaction of its own (§17.1.1.3, §13.2.2.4) with a new branch.
			to := "<" + dave + ">;tag=cal1"
			target := "sip:dave@" + callee.addr()
			routeSet := []string{fpRoute(r)}
			ackBranch := fpBranch()
			ack := c.request("ACK", target, ackBranch, 1, to, routeSet)
			caller.send(t, r.addr, ack)
			fa := parseFP(t, "forwarded ACK", callee.next(t, "forwarded ACK", fwd.raw).data)
			av := fpForwarded(t, "ACK", parseFP(t, "ACK", ack), fa, r, c.viaSeen(ackBranch), nil, false)

			byeBranch := fpBranch()
			bye := c.request("BYE", target, byeBranch, 2, to, routeSet)
			caller.send(t, r.addr, bye)
			fb := parseFP(t, "forwarded BYE", callee.next(t, "forwarded BYE", fwd.raw).data)
			bv := fpForwarded(t, "BYE", parseFP(t, "BYE", bye), fb, r, c.viaSeen(byeBranch), nil, false)
			if bv == hv || bv == av || av == hv {
				t.Fatalf("Herald reused a branch: INVITE %q ACK %q BYE %q (§16.6 step 8)", hv, av, bv)
			}
			byeOK := fpReply(t, fb, 200, "OK", "", false, "", "")
			callee.send(t, r.addr, byeOK)
			if got := caller.next(t, "relayed 200 to BYE").data; !bytes.Equal(got, fpWithoutVia(t, byeOK, bv)) {
				t.Fatalf("relayed 200 to BYE:\n%s\nwant\n%s", got, fpWithoutVia(t, byeOK, bv))
			}

			// Nothing is retransmitted either way once answered, and the next hop saw nothing.
			callee.silent(t, "callee after the BYE", 3*testT1, fwd.raw, fb.raw)
			caller.silent(t, "caller after the BYE", 3*testT1)
			decoy.silent(t, "the configured next hop", 0) // the waits above let anything arrive
			s := &r.sig.Stats
			fpStat(t, "Fast.Calls", &s.Fast.Calls, 1)
			fpStat(t, "Fast.InDialog", &s.Fast.InDialog, 2)
			fpStat(t, "Fast.Fallbacks", &s.Fast.Fallbacks, 0)
			fpStat(t, "Invites", &s.Invites, 1)
			fpStat(t, "Forwarded", &s.Forwarded, 1)
			fpStat(t, "CallsDone", &s.CallsDone, 1)
			r.quiet(t)
		})
	}
}

// TestFastPathInviteRetransmission proves the server transaction's absorption of retransmitted
// INVITEs (RFC 3261 §17.2.1, §16.6): before any response it is not forwarded again; after a 180 it
// gets the 180 again; after the 200 it is absorbed in silence (RFC 6026 §7.1 "Accepted") while the
// callee's retransmitted 200 still goes upstream (RFC 6026 §8.4).
func TestFastPathInviteRetransmission(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	// T1 of 2 s: Timer A would fire only after the test, so every INVITE the callee gets is one Herald
	// forwarded for the caller's.
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.T1 = 2 * time.Second })
	absorbed := &r.sig.Stats.Fast.Absorbed
	c := newFPCall(caller, erin, dave)
	inv := c.invite()
	caller.send(t, r.addr, inv)
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)

	caller.send(t, r.addr, inv)
	fpCount(t, "Fast.Absorbed", absorbed, 1)
	callee.silent(t, "after the retransmitted INVITE", 50*time.Millisecond)

	ring := fpReply(t, fwd, 180, "Ringing", "rt", false, "<sip:dave@"+callee.addr()+">", "")
	callee.send(t, r.addr, ring)
	first := caller.nextNot100(t, "relayed 180").data
	caller.send(t, r.addr, inv)
	if again := caller.next(t, "180 for the retransmitted INVITE").data; !bytes.Equal(again, first) {
		t.Fatalf("answer to the retransmitted INVITE:\n%s\nwant the 180 again\n%s", again, first)
	}
	fpCount(t, "Fast.Absorbed", absorbed, 2)

	ok := fpReply(t, fwd, 200, "OK", "rt", false, "<sip:dave@"+callee.addr()+">", fpSDPAnswer)
	callee.send(t, r.addr, ok)
	relayed := caller.next(t, "relayed 200").data
	caller.send(t, r.addr, inv)
	fpCount(t, "Fast.Absorbed", absorbed, 3)
	callee.send(t, r.addr, ok)
	if again := caller.next(t, "relayed 200 retransmission").data; !bytes.Equal(again, relayed) {
		t.Fatalf("retransmitted 200 relayed as\n%s\nwant\n%s", again, relayed)
	}
	caller.silent(t, "caller after the 200", 50*time.Millisecond)
	callee.silent(t, "callee after the 200", 50*time.Millisecond)

	out, _ := r.tap.sent(0)
	invites := 0
	for _, d := range out {
		if d.to == callee.addr() && bytes.HasPrefix(d.data, []byte("INVITE ")) {
			invites++
		}
	}
	if invites != 1 {
		t.Fatalf("Herald sent the callee %d INVITEs, want 1", invites)
	}
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1)
	r.quiet(t)
}

// TestFastPathTimerAB proves Timers A, B, G and H of a forwarded INVITE nobody answers (RFC 3261
// §17.1.1.2, §17.2.1, §16.7) on an injected clock, with sip.t1 = 300 ms and sip.t2 = 1.2 s as
// configured (not the RFC defaults): 100 Trying at 200 ms; the INVITE again at T1, 3·T1, 7·T1, ...
// byte for byte and never capped (Timer A); at 64·T1 a 408 upstream and no more INVITEs (Timer B);
// the 408 again at T1, 2·T1, then T2 apart (Timer G) until the caller's ACK; the transaction is gone
// 64·T1 after the 408 (Timer H). Each row steps the clock to an instant and lists exactly what Herald
// sent then; every datagram is also read from the peer's real socket.
func TestFastPathTimerAB(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	const t1, t2 = 300 * time.Millisecond, 1200 * time.Millisecond
	clk := new(wheel.Manual)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.Clock, o.T1, o.T2, o.TimerC = clk, t1, t2, time.Hour })
	peers := fpPeers{"caller": caller, "callee": callee}
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	first := callee.next(t, "forwarded INVITE").data

	steps := []fpClockStep{
		{at: 199 * time.Millisecond},
		{at: 200 * time.Millisecond, sent: []string{"caller SIP/2.0 100 Trying"}},
		{at: t1 - time.Millisecond},
		{at: t1, sent: []string{"callee INVITE"}},
		{at: 3*t1 - time.Millisecond},
		{at: 3 * t1, sent: []string{"callee INVITE"}},
		{at: 7 * t1, sent: []string{"callee INVITE"}},
		{at: 15 * t1, sent: []string{"callee INVITE"}},
		{at: 31 * t1, sent: []string{"callee INVITE"}}, // 16·T1 after the last: Timer A has no T2 cap
		{at: 63 * t1, sent: []string{"callee INVITE"}},
		{at: 64*t1 - time.Millisecond},
		{at: 64 * t1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
		{at: 65*t1 - time.Millisecond},
		{at: 65 * t1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
		{at: 67 * t1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
		{at: 67*t1 + t2 - time.Millisecond},
		{at: 67*t1 + t2, sent: []string{"caller SIP/2.0 408 Request Timeout"}}, // 4·T1 > T2: capped
		{at: 67*t1 + 2*t2, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
	}
	got := fpRunClock(t, r, clk, peers, steps)
	for _, d := range got["callee"] {
		if !bytes.Equal(d, first) {
			t.Fatalf("retransmitted INVITE differs:\n%s\nwant\n%s", d, first)
		}
	}
	res408 := got["caller"][1]
	to := fpAnswer(t, "408", parseFP(t, "408", res408), c, "408 Request Timeout", c.viaSeen(c.branch), "<"+dave+">", "1 INVITE")
	for _, d := range got["caller"][2:] {
		if !bytes.Equal(d, res408) {
			t.Fatalf("Timer G sent\n%s\nwant the 408 again", d)
		}
	}
	fpStat(t, "Fast.Timeouts", &r.sig.Stats.Fast.Timeouts, 1)
	fpStat(t, "Fast.Retransmissions", &r.sig.Stats.Fast.Retransmissions, 6+4)
	fpStat(t, "CallsDone", &r.sig.Stats.CallsDone, 1)
	if n := r.sig.ActiveCalls(); n != 0 {
		t.Fatalf("ActiveCalls %d after Timer B", n)
	}

	// The ACK stops Timer G; Timer H (64·T1 after the 408) forgets the transaction.
	caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, to, c.routes))
	fpCount(t, "Fast.Absorbed", &r.sig.Stats.Fast.Absorbed, 1)
	fpRunClock(t, r, clk, peers, []fpClockStep{
		{at: 67*t1 + 3*t2},
		{at: 128*t1 - time.Millisecond},
	})
	if n := fpTxCount(r); n != 1 {
		t.Fatalf("%d fast transactions before Timer H, want 1", n)
	}
	fpRunClock(t, r, clk, peers, []fpClockStep{{at: 128 * t1}})
	if n := fpTxCount(r); n != 0 {
		t.Fatalf("%d fast transactions after Timer H, want 0", n)
	}
	caller.silent(t, "caller after its ACK", 0)
	callee.silent(t, "callee after Timer B", 0)
	r.quiet(t)
}

// TestFastPathReject proves a rejected call (RFC 3261 §16.7, §17.1.1.3, §17.2.1) on an injected
// clock: Herald ACKs the callee's 486 itself (same branch as its INVITE, CSeq n ACK, the 486's To,
// the INVITE's Route), relays the 486 upstream and retransmits it on Timer G (T1, then doubling up
// to T2) until the caller's ACK; a retransmitted 486 from the callee gets the same ACK again and is
// not relayed; Timer H (64·T1) forgets the transaction.
func TestFastPathReject(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	clk := new(wheel.Manual)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.Clock, o.T2 = clk, fpT2 })
	peers := fpPeers{"caller": caller, "callee": callee}
	c := newFPCall(caller, erin, dave)
	c.routes = []string{fpRoute(r) + ", <sip:" + callee.addr() + ";lr;x=1>"}
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	hv := fwd.all("Via")[0]

	busy := fpReply(t, fwd, 486, "Busy Here", "cb", false, "", "")
	callee.send(t, r.addr, busy)
	ackDown := callee.next(t, "ACK for the 486", fwd.raw)
	busyTo := parseFP(t, "486", busy).one(t, "486", "To")
	fpHopRequest(t, "ACK downstream", parseFP(t, "ACK", ackDown.data), fwd, "ACK", busyTo)

	rel := caller.next(t, "relayed 486") // at 0: no 100 Trying is due yet
	if want := fpWithoutVia(t, busy, hv); !bytes.Equal(rel.data, want) {
		t.Fatalf("relayed 486:\n%s\nwant\n%s", rel.data, want)
	}
	if n := r.sig.ActiveCalls(); n != 0 {
		t.Fatalf("ActiveCalls %d after the 486", n)
	}
	g := "caller SIP/2.0 486 Busy Here"
	got := fpRunClock(t, r, clk, peers, []fpClockStep{
		{at: testT1 - time.Millisecond},
		{at: testT1, sent: []string{g}},
		{at: 3*testT1 - time.Millisecond},
		{at: 3 * testT1, sent: []string{g}},
		{at: 7 * testT1, sent: []string{g}},
		{at: 7*testT1 + fpT2 - time.Millisecond}, // 8·T1 = T2: capped from here
		{at: 7*testT1 + fpT2, sent: []string{g}},
		{at: 7*testT1 + 2*fpT2, sent: []string{g}},
	})
	for _, d := range got["caller"] {
		if !bytes.Equal(d, rel.data) {
			t.Fatalf("Timer G sent\n%s\nwant the 486 again", d)
		}
	}

	caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, busyTo, c.routes))
	fpCount(t, "Fast.Absorbed", &r.sig.Stats.Fast.Absorbed, 1)
	callee.send(t, r.addr, busy)
	if again := callee.next(t, "ACK for the retransmitted 486", fwd.raw).data; !bytes.Equal(again, ackDown.data) {
		t.Fatalf("ACK for the retransmitted 486:\n%s\nwant the first one\n%s", again, ackDown.data)
	}
	// Timer G stopped at the ACK; Timer H ends the transaction at 64·T1.
	fpRunClock(t, r, clk, peers, []fpClockStep{{at: 7*testT1 + 4*fpT2}, {at: 64*testT1 - time.Millisecond}})
	if n := fpTxCount(r); n != 1 {
		t.Fatalf("%d fast transactions before Timer H, want 1", n)
	}
	fpRunClock(t, r, clk, peers, []fpClockStep{{at: 64 * testT1}})
	if n := fpTxCount(r); n != 0 {
		t.Fatalf("%d fast transactions after Timer H, want 0", n)
	}
	caller.silent(t, "caller after its ACK", 0)
	callee.silent(t, "callee after its 486", 0)
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1)
	fpStat(t, "CallsDone", &r.sig.Stats.CallsDone, 1)
	fpStat(t, "Fast.Timeouts", &r.sig.Stats.Fast.Timeouts, 0)
	fpStat(t, "Fast.Retransmissions", &r.sig.Stats.Fast.Retransmissions, 5)
	r.quiet(t)
}

// TestFastPathCancel proves CANCEL on the fast path (RFC 3261 §16.10, §9.2): after a 180 the caller's
// CANCEL gets 200 and its INVITE 487 from Herald at once, and Herald CANCELs downstream on the branch
// of its INVITE; the callee's 487 is ACKed by Herald and not relayed (the caller has its 487).
func TestFastPathCancel(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	callee.send(t, r.addr, fpReply(t, fwd, 180, "Ringing", "cc", false, "<sip:dave@"+callee.addr()+">", ""))
	caller.nextNot100(t, "relayed 180")

	caller.send(t, r.addr, c.request("CANCEL", c.ruri, c.branch, 1, "<"+dave+">", c.routes))
	var term fpMsg
	for range 2 {
		m := parseFP(t, "answer to CANCEL", caller.next(t, "answers to the CANCEL").data)
		switch m.one(t, "answer", "CSeq") {
		case "1 CANCEL":
			fpAnswer(t, "200 to CANCEL", m, c, "200 OK", c.viaSeen(c.branch), "<"+dave+">", "1 CANCEL")
		case "1 INVITE":
			term = m
		default:
			t.Fatalf("unexpected answer:\n%s", m.raw)
		}
	}
	if term.raw == nil {
		t.Fatal("no 487 for the INVITE")
	}
	to := fpAnswer(t, "487", term, c, "487 Request Terminated", c.viaSeen(c.branch), "<"+dave+">", "1 INVITE")
	if strings.HasSuffix(to, ";tag=cc") {
		t.Fatalf("487 To %q: Herald's own response reuses the callee's tag", to)
	}
	caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, to, c.routes))
	if n := r.sig.ActiveCalls(); n != 0 {
		t.Fatalf("ActiveCalls %d after the CANCEL", n)
	}
	fpStat(t, "Cancels", &r.sig.Stats.Cancels, 1)

	cd := fpCancelDown(t, "CANCEL downstream", r, callee, fwd, "cc")

	caller.silent(t, "caller after the callee's 487", 5*testT1, term.raw)
	callee.silent(t, "callee after its 487", 3*testT1, cd, fwd.raw)
	fpCount(t, "Fast.Absorbed", &r.sig.Stats.Fast.Absorbed, 1)
	fpStat(t, "Cancels", &r.sig.Stats.Cancels, 1)
	r.quiet(t)
}

// TestFastPathTimerC proves Timer C (RFC 3261 §16.6 step 11, §16.7 step 2, §16.8) on an injected
// clock: every provisional above 100 restarts it (the 180's deadline passes silently once a 183
// came); when it fires the caller gets 408 and the callee a CANCEL, whose 487 Herald ACKs and does
// not relay.
func TestFastPathTimerC(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	const timerC = 3 * time.Second
	clk := new(wheel.Manual)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.Clock, o.TimerC = clk, timerC })
	peers := fpPeers{"caller": caller, "callee": callee}
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	hv := fwd.all("Via")[0]
	contact := "<sip:dave@" + callee.addr() + ">"
	callee.send(t, r.addr, fpReply(t, fwd, 180, "Ringing", "tc", false, contact, ""))
	caller.next(t, "relayed 180") // at 0: Timer C restarts at 0 + C; Timers A, B and the 100 stop
	fpRunClock(t, r, clk, peers, []fpClockStep{{at: time.Second}})
	progress := fpReply(t, fwd, 183, "Session Progress", "tc", false, contact, fpSDPAnswer)
	callee.send(t, r.addr, progress)
	if d := caller.next(t, "relayed 183").data; !bytes.Equal(d, fpWithoutVia(t, progress, hv)) {
		t.Fatalf("relayed 183:\n%s", d)
	}
	// The 183 came at 1 s: Timer C is due at 1 s + C, not at C.
	got := fpRunClock(t, r, clk, peers, []fpClockStep{
		{at: timerC},
		{at: time.Second + timerC - time.Millisecond},
		{at: time.Second + timerC, sent: []string{"caller SIP/2.0 408 Request Timeout", "callee CANCEL"}},
	})
	res408 := got["caller"][0]
	to := fpAnswer(t, "408", parseFP(t, "408", res408), c, "408 Request Timeout", c.viaSeen(c.branch), "<"+dave+">", "1 INVITE")
	cancel := parseFP(t, "CANCEL", got["callee"][0])
	fpHopRequest(t, "CANCEL downstream", cancel, fwd, "CANCEL", fwd.one(t, "INVITE", "To"))
	callee.send(t, r.addr, fpReply(t, cancel, 200, "OK", "tc", false, "", ""))
	callee.send(t, r.addr, fpReply(t, fwd, 487, "Request Terminated", "tc", false, "", ""))
	ack := parseFP(t, "ACK", callee.next(t, "ACK for the 487").data)
	fpHopRequest(t, "ACK for the 487", ack, fwd, "ACK", "<"+dave+">;tag=tc")
	caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, to, c.routes))
	fpCount(t, "Fast.Absorbed", &r.sig.Stats.Fast.Absorbed, 1)
	// The ACK stopped Timer G and the CANCEL is answered: nothing more goes out.
	fpRunClock(t, r, clk, peers, []fpClockStep{{at: time.Second + timerC + 10*time.Second}})
	caller.silent(t, "caller after Timer C", 0)
	fpStat(t, "Fast.Timeouts", &r.sig.Stats.Fast.Timeouts, 1)
	fpStat(t, "Cancels", &r.sig.Stats.Cancels, 0)
	if n := r.sig.ActiveCalls(); n != 0 {
		t.Fatalf("ActiveCalls %d after Timer C", n)
	}
	r.quiet(t)
}

// TestFastPathLoop482 proves loop detection on the fast path (RFC 3261 §16.3 step 4, §8.2.2.2): a
// second INVITE with the Call-ID of a fast call in progress and another branch gets 482 and is not
// forwarded; the first call goes on.
func TestFastPathLoop482(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	contact := "<sip:dave@" + callee.addr() + ">"
	callee.send(t, r.addr, fpReply(t, fwd, 180, "Ringing", "lp", false, contact, ""))
	caller.nextNot100(t, "relayed 180")

	loop := *c
	loop.branch = fpBranch()
	caller.send(t, r.addr, loop.invite())
	m := parseFP(t, "482", caller.next(t, "482").data)
	fpAnswer(t, "482", m, &loop, "482 Loop Detected", loop.viaSeen(loop.branch), "<"+dave+">", "1 INVITE")
	callee.silent(t, "callee after the looped INVITE", 3*testT1, fwd.raw)
	s := &r.sig.Stats
	fpStat(t, "Invites", &s.Invites, 2)
	fpStat(t, "Forwarded", &s.Forwarded, 1)
	fpStat(t, "Fast.Calls", &s.Fast.Calls, 1)
	fpStat(t, "Fast.Fallbacks", &s.Fast.Fallbacks, 0)
	if n := r.sig.ActiveCalls(); n != 1 {
		t.Fatalf("ActiveCalls %d, want the first call", n)
	}

	ok := fpReply(t, fwd, 200, "OK", "lp", false, contact, fpSDPAnswer)
	callee.send(t, r.addr, ok)
	if got := caller.next(t, "relayed 200").data; !bytes.Equal(got, fpWithoutVia(t, ok, fwd.all("Via")[0])) {
		t.Fatalf("first call's 200 relayed as\n%s", got)
	}
	r.quiet(t)
}

// TestFastPathFallbacks proves that what the fast path does not take is handed to the general path
// unchanged and counted (Stats.Fast.Fallbacks): a caller with a card (the general path adds it as
// early-session), Max-Forwards 1 (483, RFC 3261 §16.3 step 3), a Route by a name the fast path has
// not resolved yet (RFC 3263 §4.2; core/sipfast's dns.go looks it up meanwhile) and an INVITE that would outgrow
// UDP once forwarded (TCP, RFC 3261 §18.1.1).
func TestFastPathFallbacks(t *testing.T) {
	// general checks the INVITE the callee got came from sipgo's transaction layer, not the fast path.
	general := func(t *testing.T, fwd fpMsg) {
		t.Helper()
		if v := fwd.all("Via"); len(v) == 0 || strings.Contains(v[0], "branch=z9hG4bKhrld") {
			t.Fatalf("forwarded on the fast path: Via %q", v)
		}
	}
	// reject has the callee answer 486 on send, and the caller get it and ACK it (RFC 3261 §17.1.1.3).
	reject := func(t *testing.T, r *rig, c *fpCall, fwd fpMsg, send func([]byte)) {
		t.Helper()
		send(fpReply(t, fwd, 486, "Busy Here", "fb", false, "", ""))
		m := parseFP(t, "486", c.caller.nextNot100(t, "486 from the general path").data)
		if m.start != "SIP/2.0 486 Busy Here" {
			t.Fatalf("caller got %q, want the 486", m.start)
		}
		c.caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, m.one(t, "486", "To"), c.routes))
	}
	counted := func(t *testing.T, r *rig) {
		t.Helper()
		fpStat(t, "Fast.Fallbacks", &r.sig.Stats.Fast.Fallbacks, 1)
		fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 0)
		fpStat(t, "Invites", &r.sig.Stats.Invites, 1)
	}

	t.Run("caller card", func(t *testing.T) {
		leakCheck(t)
		st, _ := testStore(t)
		caller := newFPPeer(t)
		callee, ln := newFPPeerTCP(t)
		r := startHerald(t, st, callee.addr(), nil)
		c := newFPCall(caller, alice, dave)
		caller.send(t, r.addr, c.invite())
		// The card's early-session part makes the INVITE too big for UDP (RFC 3261 §18.1.1).
		conn, br := fpAccept(t, ln)
		fwd := parseFP(t, "INVITE", fpReadTCP(t, conn, br))
		general(t, fwd)
		if ct := fwd.one(t, "INVITE", "Content-Type"); !strings.HasPrefix(ct, "multipart/mixed") {
			t.Fatalf("Content-Type %q: the caller card was not added", ct)
		}
		reject(t, r, c, fwd, func(b []byte) { fpWriteTCP(t, conn, b) })
		if a := parseFP(t, "ACK", fpReadTCP(t, conn, br)); !strings.HasPrefix(a.start, "ACK ") {
			t.Fatalf("callee got %q, want the ACK for its 486", a.start)
		}
		counted(t, r)
		fpStat(t, "CallerCards", &r.sig.Stats.CallerCards, 1)
		r.quiet(t)
	})

	t.Run("Max-Forwards 1", func(t *testing.T) {
		leakCheck(t)
		st, _ := testStore(t)
		caller, callee := newFPPeer(t), newFPPeer(t)
		r := startHerald(t, st, callee.addr(), nil)
		c := newFPCall(caller, erin, dave)
		c.mf = "1"
		caller.send(t, r.addr, c.invite())
		m := parseFP(t, "483", caller.nextNot100(t, "483").data)
		fpAnswer(t, "483", m, c, "483 Too Many Hops", c.viaSeen(c.branch), "<"+dave+">", "1 INVITE")
		caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, m.one(t, "483", "To"), c.routes))
		callee.silent(t, "callee", 3*testT1)
		counted(t, r)
		fpStat(t, "Rejected483", &r.sig.Stats.Rejected483, 1)
		r.quiet(t)
	})

	t.Run("Route by name", func(t *testing.T) {
		leakCheck(t)
		st, _ := testStore(t)
		caller, callee := newFPPeer(t), newFPPeer(t)
		r := startHerald(t, st, callee.addr(), nil)
		c := newFPCall(caller, erin, dave)
		c.routes = []string{"<sip:localhost:" + callee.port() + ";lr>"}
		caller.send(t, r.addr, c.invite())
		fwd := parseFP(t, "INVITE", callee.next(t, "INVITE from the general path").data)
		// The call is the general path's (counted below); its INVITE leaves on the engine's client
		// transaction when the name's lookup has ended by then (callsip.EngineInvite), else on
		// sipgo's, so the branch may be either.
		if got := fwd.all("Route"); !slices.Equal(got, c.routes) {
			t.Fatalf("Route %q, want %q", got, c.routes)
		}
		reject(t, r, c, fwd, func(b []byte) { callee.send(t, r.addr, b) })
		callee.next(t, "sipgo's ACK for the 486")
		counted(t, r)
		r.quiet(t)
	})

	t.Run("too big for UDP", func(t *testing.T) {
		leakCheck(t)
		st, _ := testStore(t)
		caller := newFPPeer(t)
		callee, ln := newFPPeerTCP(t)
		r := startHerald(t, st, callee.addr(), nil)
		c := newFPCall(caller, erin, dave)
		// 1250 bytes as sent (under 1300); Herald's Via, Record-Route, rport and received push it over.
		pad := 1250 - len(c.invite()) - len("a=x-pad:\r\n")
		c.body += "a=x-pad:" + strings.Repeat("p", pad) + "\r\n"
		inv := c.invite()
		if len(inv) != 1250 {
			t.Fatalf("INVITE of %d bytes", len(inv))
		}
		caller.send(t, r.addr, inv)
		conn, br := fpAccept(t, ln)
		fwd := parseFP(t, "INVITE", fpReadTCP(t, conn, br))
		general(t, fwd)
		if v := fwd.all("Via")[0]; !strings.HasPrefix(v, "SIP/2.0/TCP ") || !bytes.Equal(fwd.body, []byte(c.body)) {
			t.Fatalf("INVITE over TCP: Via %q, body %d bytes", v, len(fwd.body))
		}
		reject(t, r, c, fwd, func(b []byte) { fpWriteTCP(t, conn, b) })
		if a := parseFP(t, "ACK", fpReadTCP(t, conn, br)); !strings.HasPrefix(a.start, "ACK ") {
			t.Fatalf("callee got %q, want the ACK for its 486", a.start)
		}
		counted(t, r)
		fpStat(t, "UDPToTCP", &r.sig.Stats.UDPToTCP, 1)
		r.quiet(t)
	})
}

// fpAccept accepts the general path's TCP connection (fpWait at most).
func fpAccept(t *testing.T, ln *net.TCPListener) (net.Conn, *bufio.Reader) {
	t.Helper()
	_ = ln.SetDeadline(time.Now().Add(fpWait))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("no TCP connection from the general path: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, bufio.NewReader(conn)
}

func fpWriteTCP(t *testing.T, conn net.Conn, b []byte) {
	t.Helper()
	_ = conn.SetWriteDeadline(time.Now().Add(fpWait))
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// fpReadTCP reads one SIP message from a TCP stream (RFC 3261 §18.3: Content-Length frames it),
// skipping keep-alive CRLFs.
func fpReadTCP(t *testing.T, conn net.Conn, br *bufio.Reader) []byte {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(fpWait))
	var head bytes.Buffer
	cl := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("TCP read: %v", err)
		}
		if line == "\r\n" {
			if head.Len() == 0 {
				continue
			}
			head.WriteString(line)
			break
		}
		head.WriteString(line)
		if n, v, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(strings.TrimSpace(n), "Content-Length") || strings.TrimSpace(n) == "l") {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, cl)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatalf("TCP read body: %v", err)
	}
	return append(head.Bytes(), body...)
}

// TestFastPathStrayResponses proves the handling of responses to a fast-path branch with no
// transaction (Stats.Fast.Stray): a 2xx to an INVITE is relayed statelessly by its next Via, to
// received and rport when present, else to sent-by (RFC 3261 §16.11, §18.2.2, RFC 3581 §4; RFC 6026
// makes the UAS retransmit 2xx end to end); any other stray response is dropped, as the general path
// drops what sipgo matches to no transaction.
func TestFastPathStrayResponses(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	// A branch Herald minted whose transaction is gone (a branch it did not mint matches nothing and
	// is dropped: TestForgedBranchDropped): a plain call the callee rejects, forgotten at Timer D.
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.nextNot100(t, "forwarded INVITE").data)
	callee.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", "b1", false, "", ""))
	busy := parseFP(t, "486", caller.nextNot100(t, "486").data)
	caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, busy.one(t, "486", "To"), nil))
	for deadline := time.Now().Add(100 * testT1); fpTxCount(r) != 0; time.Sleep(testT1) {
		if time.Now().After(deadline) {
			t.Fatalf("%d fast transactions left after Timer D", fpTxCount(r))
		}
	}
	callee.drain(0) // the hop-by-hop ACK of the 486
	caller.drain(0)
	hv := fwd.all("Via")[0]
	stray := func(status, cseq, next string) []byte {
		return fmt.Appendf(nil, "SIP/2.0 %s\r\nVia: %s\r\nVia: %s\r\nFrom: <%s>;tag=s1\r\nTo: <%s>;tag=s2\r\n"+
			"Call-ID: stray-%016x@127.0.0.1\r\nCSeq: %s\r\nContact: <sip:dave@%s>\r\nContent-Length: 0\r\n\r\n",
			status, hv, next, erin, dave, rand.Uint64(), cseq, callee.addr())
	}
	// received and rport win over sent-by, which names the discard port.
	ok1 := stray("200 OK", "1 INVITE", "SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKs1;rport="+caller.port()+";received=127.0.0.1")
	callee.send(t, r.addr, ok1)
	if got := caller.next(t, "stray 200 by received/rport").data; !bytes.Equal(got, fpWithoutVia(t, ok1, hv)) {
		t.Fatalf("stray 200 relayed as\n%s\nwant\n%s", got, fpWithoutVia(t, ok1, hv))
	}
	ok2 := stray("200 OK", "1 INVITE", "SIP/2.0/UDP "+caller.addr()+";branch=z9hG4bKs2")
	callee.send(t, r.addr, ok2)
	if got := caller.next(t, "stray 200 by sent-by").data; !bytes.Equal(got, fpWithoutVia(t, ok2, hv)) {
		t.Fatalf("stray 200 relayed as\n%s\nwant\n%s", got, fpWithoutVia(t, ok2, hv))
	}
	callee.send(t, r.addr, stray("180 Ringing", "1 INVITE", "SIP/2.0/UDP "+caller.addr()+";branch=z9hG4bKs3"))
	callee.send(t, r.addr, stray("200 OK", "2 BYE", "SIP/2.0/UDP "+caller.addr()+";branch=z9hG4bKs4"))
	fpCount(t, "Fast.Stray", &r.sig.Stats.Fast.Stray, 4)
	caller.silent(t, "caller after the stray 180 and 200 to BYE", 3*testT1)
	callee.silent(t, "callee", 0)
	r.quiet(t)
}

// TestFastPathNonInviteTimeout proves the non-INVITE client transaction toward a silent callee (RFC
// 3261 §17.1.2.2) on an injected clock (T1 500 ms, T2 2 s as configured): the BYE is retransmitted
// at T1, 3·T1, 7·T1, then T2 apart (Timer E) and the caller gets 408 at 64·T1 (Timer F, §16.7 step
// 6), with its To unchanged (it has a tag); no BYE after it. A retransmitted BYE gets the 408 again
// (§17.2.2 "Completed"); nothing is retransmitted upstream (no Timer G for non-INVITE); Timer J
// forgets the transaction 64·T1 later.
func TestFastPathNonInviteTimeout(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	const t1, t2 = 500 * time.Millisecond, 2 * time.Second
	clk := new(wheel.Manual)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.Clock, o.T1, o.T2 = clk, t1, t2 })
	peers := fpPeers{"caller": caller, "callee": callee}
	c := newFPCall(caller, erin, dave)
	to := "<" + dave + ">;tag=nt"
	bye := c.request("BYE", "sip:dave@"+callee.addr(), c.branch, 2, to, []string{fpRoute(r)})
	caller.send(t, r.addr, bye)
	first := callee.next(t, "forwarded BYE").data
	fpForwarded(t, "BYE", parseFP(t, "BYE", bye), parseFP(t, "forwarded BYE", first), r, c.viaSeen(c.branch), nil, false)

	steps := []fpClockStep{{at: t1 - time.Millisecond}, {at: t1, sent: []string{"callee BYE"}}, {at: 3 * t1, sent: []string{"callee BYE"}}}
	at := 3 * t1
	for at+t2 < 64*t1 { // 4·T1 = T2: every later interval is T2
		at += t2
		steps = append(steps, fpClockStep{at: at - time.Millisecond}, fpClockStep{at: at, sent: []string{"callee BYE"}})
	}
	steps = append(steps, fpClockStep{at: 64*t1 - time.Millisecond},
		fpClockStep{at: 64 * t1, sent: []string{"caller SIP/2.0 408 Request Timeout"}},
		fpClockStep{at: 64*t1 + 4*t2})
	got := fpRunClock(t, r, clk, peers, steps)
	for _, d := range got["callee"] {
		if !bytes.Equal(d, first) {
			t.Fatalf("retransmitted BYE differs:\n%s\nwant\n%s", d, first)
		}
	}
	res408 := got["caller"][0]
	fpAnswer(t, "408", parseFP(t, "408", res408), c, "408 Request Timeout", c.viaSeen(c.branch), to, "2 BYE")

	caller.send(t, r.addr, bye)
	if again := caller.next(t, "408 for the retransmitted BYE").data; !bytes.Equal(again, res408) {
		t.Fatalf("answer to the retransmitted BYE:\n%s\nwant the 408 again", again)
	}
	s := &r.sig.Stats.Fast
	fpStat(t, "Fast.Timeouts", &s.Timeouts, 1)
	fpStat(t, "Fast.InDialog", &s.InDialog, 1)
	fpStat(t, "Fast.Absorbed", &s.Absorbed, 1)
	fpStat(t, "Fast.Retransmissions", &s.Retransmissions, uint64(len(got["callee"])))
	fpRunClock(t, r, clk, peers, []fpClockStep{{at: 128*t1 - time.Millisecond}})
	if n := fpTxCount(r); n != 1 {
		t.Fatalf("%d fast transactions before Timer J, want 1", n)
	}
	fpRunClock(t, r, clk, peers, []fpClockStep{{at: 128 * t1}})
	if n := fpTxCount(r); n != 0 {
		t.Fatalf("%d fast transactions after Timer J, want 0", n)
	}
	caller.silent(t, "caller after the 408", 0)
	callee.silent(t, "callee after Timer F", 0)
	r.quiet(t)
}

// TestFastPathTimerCAfter100 proves that Timer C runs from the moment the INVITE is forwarded (RFC
// 3261 §16.6 step 11), not only from the first provisional above 100, on an injected clock: a callee
// that answers 100 Trying (which stops Timers A and B, §17.1.1.2) and then nothing still ends at
// exactly Timer C with 408 upstream and CANCEL downstream (§16.8), and the call is released.
func TestFastPathTimerCAfter100(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	const timerC = 90 * time.Second
	clk := new(wheel.Manual)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.Clock, o.TimerC = clk, timerC })
	peers := fpPeers{"caller": caller, "callee": callee}
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	callee.send(t, r.addr, fpReply(t, fwd, 100, "Trying", "", false, "", ""))
	fpUntil(t, "the callee's 100 read", func() bool {
		return r.sig.Stats.Fast.Verdicts[sipfast.ReasonResponse].Load() == 1
	})
	got := fpRunClock(t, r, clk, peers, []fpClockStep{
		{at: 200 * time.Millisecond, sent: []string{"caller SIP/2.0 100 Trying"}},
		{at: 64 * testT1}, // Timer B would have been due: the 100 stopped it
		{at: timerC - time.Millisecond},
		{at: timerC, sent: []string{"caller SIP/2.0 408 Request Timeout", "callee CANCEL"}},
	})
	fpAnswer(t, "408", parseFP(t, "408", got["caller"][1]), c, "408 Request Timeout", c.viaSeen(c.branch), "<"+dave+">", "1 INVITE")
	fpHopRequest(t, "CANCEL", parseFP(t, "CANCEL", got["callee"][0]), fwd, "CANCEL", fwd.one(t, "INVITE", "To"))
	if n := r.sig.ActiveCalls(); n != 0 {
		t.Fatalf("ActiveCalls %d after Timer C", n)
	}
}

// TestFastPathAckOfGeneralFinal proves that the ACK for a non-2xx final response of the general path
// (here its 483, RFC 3261 §16.3 step 3) stays with sipgo's server transaction, which absorbs it
// (§17.2.1), even when its Route leads to an IP literal the fast path could forward to: it is a
// hop-by-hop ACK on the INVITE's branch (§17.1.1.3), not an ACK for a 2xx.
func TestFastPathAckOfGeneralFinal(t *testing.T) {

	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, dave)
	c.mf = "1"
	c.routes = []string{"<sip:" + callee.addr() + ";lr>"}
	caller.send(t, r.addr, c.invite())
	m := parseFP(t, "483", caller.nextNot100(t, "483").data)
	if m.start != "SIP/2.0 483 Too Many Hops" {
		t.Fatalf("caller got %q, want 483", m.start)
	}
	caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, m.one(t, "483", "To"), c.routes))
	callee.silent(t, "callee after the caller's ACK for the 483", 5*testT1)
	fpStat(t, "Fast.InDialog", &r.sig.Stats.Fast.InDialog, 0)
	r.quiet(t)
}

// TestFastPathAckOf482 proves that the ACK for the fast path's own 482 (RFC 3261 §16.3 step 4) is
// absorbed by Herald, which sent the 482 (§17.1.1.3: the ACK for a non-2xx goes no further than the
// element that generated the response), instead of being forwarded to the Request-URI.
func TestFastPathAckOf482(t *testing.T) {

	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, dave)
	c.ruri = "sip:dave@" + callee.addr()
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	callee.send(t, r.addr, fpReply(t, fwd, 180, "Ringing", "lp", false, "<sip:dave@"+callee.addr()+">", ""))
	caller.nextNot100(t, "relayed 180")

	loop := *c
	loop.branch = fpBranch()
	caller.send(t, r.addr, loop.invite())
	m := parseFP(t, "482", caller.next(t, "482").data)
	if m.start != "SIP/2.0 482 Loop Detected" {
		t.Fatalf("caller got %q, want 482", m.start)
	}
	caller.send(t, r.addr, loop.request("ACK", loop.ruri, loop.branch, 1, m.one(t, "482", "To"), nil))
	callee.silent(t, "callee after the caller's ACK for the 482", 5*testT1, fwd.raw)
	fpStat(t, "Fast.InDialog", &r.sig.Stats.Fast.InDialog, 0)

	callee.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", "lp", false, "", ""))
	callee.next(t, "ACK for the 486", fwd.raw)
	caller.next(t, "relayed 486")
	r.quiet(t)
}

// TestFastPathCancelBeforeProvisional: RFC 3261 §9.1, a CANCEL must not be sent before a provisional
// response came back. The caller's CANCEL is answered at once (200, and 487 for the INVITE, with one
// To tag, §9.2), but Herald's CANCEL waits for the callee's first provisional; until then the INVITE
// keeps being retransmitted (Timer A, stepped on an injected clock).
func TestFastPathCancelBeforeProvisional(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	clk := new(wheel.Manual)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.Clock = clk })
	peers := fpPeers{"caller": caller, "callee": callee}
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)

	caller.send(t, r.addr, c.request("CANCEL", c.ruri, c.branch, 1, "<"+dave+">", c.routes))
	tags := map[string]string{}
	for len(tags) < 2 {
		m := parseFP(t, "answer to CANCEL", caller.next(t, "answers to the CANCEL").data)
		if strings.HasPrefix(m.start, "SIP/2.0 100 ") {
			continue
		}
		to := m.one(t, "answer", "To")
		_, tag, ok := strings.Cut(to, ";tag=")
		if !ok {
			t.Fatalf("%s without a To tag", m.start)
		}
		tags[m.one(t, "answer", "CSeq")] = tag
	}
	if tags["1 CANCEL"] != tags["1 INVITE"] {
		t.Fatalf("200 (CANCEL) tag %q, 487 tag %q: want one tag (RFC 3261 §9.2)", tags["1 CANCEL"], tags["1 INVITE"])
	}
	// Only copies of the INVITE reach the callee while it has not answered (Timer A goes on); the
	// caller, which has not ACKed the 487, gets it again (Timer G).
	g := "caller SIP/2.0 487 Request Terminated"
	got := fpRunClock(t, r, clk, peers, []fpClockStep{
		{at: testT1, sent: []string{"callee INVITE", g}},
		{at: 3 * testT1, sent: []string{"callee INVITE", g}},
	})
	for _, d := range got["callee"] {
		if !bytes.Equal(d, fwd.raw) {
			t.Fatalf("while the CANCEL waits the callee got\n%s\nwant the INVITE again", d)
		}
	}
	callee.send(t, r.addr, fpReply(t, fwd, 180, "Ringing", "cb", false, "<sip:dave@"+callee.addr()+">", ""))
	fpCancelDown(t, "CANCEL after the 180", r, callee, fwd, "cb")
	fpStat(t, "Cancels", &r.sig.Stats.Cancels, 1)
	r.quiet(t)
}

// TestFastPathLate2xxAfterTimerB: a 2xx that arrives after Herald answered 408 for an INVITE nothing
// answered (Timer B, stepped to on an injected clock) is still relayed upstream (RFC 3261 §16.7
// step 5: every 2xx to an INVITE is forwarded), as the general path relays it.
func TestFastPathLate2xxAfterTimerB(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	clk := new(wheel.Manual)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.Clock, o.TimerC = clk, time.Hour })
	peers := fpPeers{"caller": caller, "callee": callee}
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	// Straight to Timer B in one step: one INVITE retransmission and the 408 (the 100 Trying is not
	// owed once the 408 went).
	clk.Set(int64(64 * testT1))
	var res408 []byte
	for _, d := range slices.Clone(r.sig.fast.Tick(nil)) {
		if bytes.HasPrefix(d.B, []byte("SIP/2.0 408 ")) {
			res408 = d.B
		}
	}
	if res408 == nil {
		t.Fatal("no 408 at Timer B")
	}
	to := parseFP(t, "408", res408).one(t, "408", "To")
	if d := caller.next(t, "408 at Timer B").data; !bytes.Equal(d, res408) {
		t.Fatalf("caller got\n%s\nwant the 408", d)
	}
	ok := fpReply(t, fwd, 200, "OK", "late", false, "<sip:dave@"+callee.addr()+">", fpSDPAnswer)
	callee.send(t, r.addr, ok)
	if d := caller.next(t, "the late 200").data; !bytes.Equal(d, fpWithoutVia(t, ok, fwd.all("Via")[0])) {
		t.Fatalf("late 200 relayed as\n%s\nwant\n%s", d, fpWithoutVia(t, ok, fwd.all("Via")[0]))
	}
	caller.send(t, r.addr, c.request("ACK", c.ruri, c.branch, 1, to, c.routes)) // ends Timer G
	fpCount(t, "Fast.Absorbed", &r.sig.Stats.Fast.Absorbed, 1)
	fpRunClock(t, r, clk, peers, []fpClockStep{{at: 80 * testT1}}) // no Timer G after the ACK
	fpStat(t, "Fast.Timeouts", &r.sig.Stats.Fast.Timeouts, 1)
	r.quiet(t)
}

// TestFastPathReinviteAckGoesToSipgo: after a fast-path call is answered, a re-INVITE in its dialog
// is the general path's (it has a To tag), and so is the ACK of its non-2xx (here 491, RFC 3261
// §14.1): that ACK has the dialog's tags but a higher CSeq than the INVITE whose 2xx the fast path
// relayed, so the fast path leaves it to sipgo's server transaction (§17.2.1) and does not forward it.
func TestFastPathReinviteAckGoesToSipgo(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), nil)
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	callee.send(t, r.addr, fpReply(t, fwd, 200, "OK", "ri", false, "<sip:dave@"+callee.addr()+">", fpSDPAnswer))
	caller.nextNot100(t, "relayed 200")
	to := "<" + dave + ">;tag=ri"
	target := "sip:dave@" + callee.addr()
	routes := []string{fpRoute(r)}
	caller.send(t, r.addr, c.request("ACK", target, fpBranch(), 1, to, routes))
	callee.next(t, "ACK for the 200", fwd.raw)
	fpStat(t, "Fast.InDialog", &r.sig.Stats.Fast.InDialog, 1)

	reBranch := fpBranch()
	caller.send(t, r.addr, c.request("INVITE", target, reBranch, 2, to, routes))
	re := parseFP(t, "forwarded re-INVITE", callee.next(t, "forwarded re-INVITE").data)
	if v := re.all("Via")[0]; strings.Contains(v, sipfast.BranchPrefix) {
		t.Fatalf("re-INVITE forwarded on the fast path: Via %q", v)
	}
	callee.send(t, r.addr, fpReply(t, re, 491, "Request Pending", "", false, "", ""))
	for {
		d := parseFP(t, "answer to the re-INVITE", caller.next(t, "relayed 491").data)
		if strings.HasPrefix(d.start, "SIP/2.0 491 ") {
			break
		}
	}
	caller.send(t, r.addr, c.request("ACK", target, reBranch, 2, to, routes))
	for _, d := range callee.drain(5 * testT1) {
		m := parseFP(t, "datagram to the callee", d.data)
		if strings.HasPrefix(m.start, "ACK ") && strings.Contains(m.all("Via")[0], sipfast.BranchPrefix) {
			t.Fatalf("the fast path forwarded the ACK of a 491:\n%s", d.data)
		}
	}
	fpStat(t, "Fast.InDialog", &r.sig.Stats.Fast.InDialog, 1)
	r.quiet(t)
}

// TestFastPathTransactionLimit: the transactions the fast path holds are bounded at sipfast.MaxTxFactor ×
// MaxCalls (each is kept 64·T1 after its answer); a BYE or an INVITE beyond the limit is answered
// 503 without state and counted, and nothing is forwarded for it.
func TestFastPathTransactionLimit(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	r := startHerald(t, st, callee.addr(), func(o *Options) { o.MaxCalls = 1 })
	c := newFPCall(caller, erin, dave)
	to := "<" + dave + ">;tag=lim"
	target := "sip:dave@" + callee.addr()
	limit := sipfast.MaxTxFactor * 1
	for i := range limit {
		caller.send(t, r.addr, c.request("BYE", target, fpBranch(), 2+i, to, []string{fpRoute(r)}))
		if m := parseFP(t, "forwarded BYE", callee.next(t, "forwarded BYE").data); !strings.HasPrefix(m.start, "BYE ") {
			t.Fatalf("callee got %q", m.start)
		}
	}
	over := c.request("BYE", target, fpBranch(), 2+limit, to, []string{fpRoute(r)})
	caller.send(t, r.addr, over)
	m := parseFP(t, "answer", caller.next(t, "503 above the limit").data)
	if m.start != "SIP/2.0 503 Service Unavailable" || m.one(t, "503", "CSeq") != strconv.Itoa(2+limit)+" BYE" {
		t.Fatalf("above the limit: %s (CSeq %s), want 503 for the last BYE", m.start, m.one(t, "503", "CSeq"))
	}
	fpStat(t, "Fast.Overload", &r.sig.Stats.Fast.Overload, 1)
	fpStat(t, "Fast.InDialog", &r.sig.Stats.Fast.InDialog, uint64(limit))
	inv := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, inv.invite())
	m = parseFP(t, "answer", caller.next(t, "503 for an INVITE above the limit").data)
	if m.start != "SIP/2.0 503 Service Unavailable" || m.one(t, "503", "Retry-After") != "5" {
		t.Fatalf("INVITE above the limit: %s", m.raw)
	}
	fpStat(t, "Fast.Overload", &r.sig.Stats.Fast.Overload, 2)
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 0)
	for _, d := range callee.drain(3 * testT1) {
		if bytes.Contains(d.data, []byte("CSeq: "+strconv.Itoa(2+limit)+" BYE")) {
			t.Fatalf("the refused BYE was forwarded:\n%s", d.data)
		}
	}
}

// fpCancelDown reads Herald's CANCEL downstream for the forwarded INVITE fwd (RFC 3261 §9.1: its
// branch, Route set, From, To, Call-ID, CSeq number), answers it as the callee with tag (200, then
// 487 for the INVITE) and checks Herald's ACK for the 487 (§17.1.1.3). It returns the CANCEL.
func fpCancelDown(t *testing.T, what string, r *rig, callee *fpPeer, fwd fpMsg, tag string) []byte {
	t.Helper()
	cd := callee.next(t, what, fwd.raw)
	cancel := parseFP(t, "CANCEL", cd.data)
	fpHopRequest(t, "CANCEL downstream", cancel, fwd, "CANCEL", fwd.one(t, "INVITE", "To"))
	callee.send(t, r.addr, fpReply(t, cancel, 200, "OK", tag, false, "", ""))
	callee.send(t, r.addr, fpReply(t, fwd, 487, "Request Terminated", tag, false, "", ""))
	var ack fpMsg
	for ack.raw == nil {
		// CANCEL retransmissions (its Timer E) may cross the callee's 200.
		if d := callee.next(t, "ACK for the 487", fwd.raw); !bytes.Equal(d.data, cd.data) {
			ack = parseFP(t, "ACK", d.data)
		}
	}
	fpHopRequest(t, "ACK for the 487", ack, fwd, "ACK", "<"+dave+">;tag="+tag)
	return cd.data
}

// TestFastConnReaches: the engine originates Herald's UPDATE from a socket of the caller's address
// family (sipfast.Reacher): an IPv4 socket reaches IPv4 addresses (mapped ones included), an IPv6
// socket bound to an address only IPv6 ones, a wildcard IPv6 socket both.
func TestFastConnReaches(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")
	mapped := netip.MustParseAddr("::ffff:192.0.2.7")
	for _, tc := range []struct {
		network, addr string
		want4, want6  bool
	}{{"udp4", "127.0.0.1:0", true, false}, {"udp6", "[::1]:0", false, true}, {"udp", "[::]:0", true, true}} {
		pc, err := net.ListenPacket(tc.network, tc.addr)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.network, tc.addr, err)
		}
		c := (&Server{}).addFastConn(pc, nil)
		if c.Reaches(v4) != tc.want4 || c.Reaches(mapped) != tc.want4 || c.Reaches(v6) != tc.want6 {
			t.Errorf("%s: reaches IPv4 %t, mapped %t, IPv6 %t; want %t, %t, %t", tc.addr, c.Reaches(v4), c.Reaches(mapped),
				c.Reaches(v6), tc.want4, tc.want4, tc.want6)
		}
		pc.Close()
	}
}
