package signal

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// malformedCase is an INVITE with one mandatory header missing or not parsing (RFC 3261 §8.1.1),
// and what Herald's 400 must name.
type malformedCase struct {
	name   string
	header string // the header line changed: "Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"
	value  string // its new value; "" drops the line
	raw    string // when set, the whole line replacing it (a line that is not a header at all)
	reason string // the reason phrase must contain it
}

var malformedCases = []malformedCase{
	{name: "no To", header: "To", reason: "missing To"},
	{name: "no From", header: "From", reason: "missing From"},
	{name: "no CSeq", header: "CSeq", reason: "missing CSeq"},
	{name: "no Call-ID", header: "Call-ID", reason: "missing Call-ID"},
	{name: "no Via", header: "Via", reason: "missing Via"},
	{name: "bad To", header: "To", value: "garbage<<", reason: "malformed To"},
	{name: "bad From", header: "From", value: "<<sip:dave", reason: "malformed From"},
	{name: "bad CSeq", header: "CSeq", value: "one INVITE", reason: "malformed CSeq"},
	{name: "bad Call-ID", header: "Call-ID", value: " ", reason: "malformed Call-ID"},
	{name: "bad Via", header: "Via", value: "garbage", reason: "malformed Via"},
	{name: "bad Max-Forwards", header: "Max-Forwards", value: "many", reason: "malformed Max-Forwards"},
	// The INVITE: its To line is garbage (a header named "To <sip"), so the request has no To.
	{name: "garbage To line", header: "To", raw: "To <sip:erin@home1.net>", reason: "missing To"},
	// A line that is no header at all (no colon): sipgo would drop the INVITE unanswered.
	{name: "line without colon", header: "To", raw: "To erin", reason: "malformed header line"},
}

// malformedRequest is a request of a call from dave to erin over transport tp (UDP or TCP) from
// addr, with c applied: an INVITE, or its CANCEL (same branch, RFC 3261 §9.1).
func malformedRequest(c malformedCase, method, tp, addr, branch, callID string) []byte {
	body := fpSDP
	cseq := "1 " + method
	lines := []struct{ name, value string }{
		{"Via", "SIP/2.0/" + tp + " " + addr + ";branch=" + branch + ";rport"},
		{"Max-Forwards", "70"},
		{"From", "<" + dave + ">;tag=mf" + callID[:6]},
		{"To", "<" + erin + ">"},
		{"Call-ID", callID},
		{"CSeq", cseq},
		{"Contact", "<sip:dave@" + addr + ">"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, erin)
	for _, l := range lines {
		switch {
		case l.name != c.header:
			fmt.Fprintf(&b, "%s: %s\r\n", l.name, l.value)
		case c.raw != "":
			b.WriteString(c.raw + "\r\n")
		case c.value != "":
			fmt.Fprintf(&b, "%s: %s\r\n", l.name, c.value)
		}
	}
	if method == "INVITE" {
		fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	} else {
		b.WriteString("Content-Length: 0\r\n\r\n")
	}
	return []byte(b.String())
}

// sipStream reads SIP messages from a TCP connection (RFC 3261 §18.3: framed by Content-Length).
type sipStream struct {
	c net.Conn
	r *bufio.Reader
}

func (s *sipStream) next(t *testing.T, what string) string {
	t.Helper()
	_ = s.c.SetReadDeadline(time.Now().Add(fpWait))
	var head strings.Builder
	cl := 0
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v after %q", what, err, head.String())
		}
		if line == "\r\n" && head.Len() == 0 {
			continue // keep-alive
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "content-length") {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, cl)
	if _, err := s.r.Read(body); cl > 0 && err != nil {
		t.Fatalf("%s: body: %v", what, err)
	}
	return head.String() + string(body)
}

// nextFinal skips provisional responses.
func (s *sipStream) nextFinal(t *testing.T, what string) string {
	t.Helper()
	for {
		if m := s.next(t, what); !strings.HasPrefix(m, "SIP/2.0 1") {
			return m
		}
	}
}

// TestMalformedRequest400 sends INVITEs each missing one mandatory header of RFC 3261 §8.1.1, or
// with one that does not parse, then their CANCEL, over UDP (fast path on and off) and TCP. Each
// INVITE is answered 400 with a reason phrase naming the header (§16.3 step 1, §8.2.2), none is
// forwarded (Herald wrote nothing toward its next hop, counted nothing as forwarded), no panic was
// recovered, and a valid call completes afterwards (issue 11 item 2: the CANCEL of a To-less INVITE
// took the whole node down).
func TestMalformedRequest400(t *testing.T) {
	for _, mode := range []struct {
		name      string
		fast, tcp bool
	}{{"udp fast path", true, false}, {"udp general path", false, false}, {"tcp", true, true}} {
		t.Run(mode.name, func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 20 * time.Millisecond, AnswerWithoutPage: true})
			h := startHerald(t, st, callee.Addr(), func(o *Options) { o.DisableFastPath = !mode.fast })
			panics := h.sig.Stats.Panics.Load()
			// exchange sends a request and returns Herald's final response to it.
			var exchange func(msg []byte, what string) string
			var local string
			if mode.tcp {
				c, err := net.Dial("tcp", h.addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				s := &sipStream{c: c, r: bufio.NewReader(c)}
				local = c.LocalAddr().String()
				exchange = func(msg []byte, what string) string {
					if _, err := c.Write(msg); err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					return s.nextFinal(t, what)
				}
			} else {
				p := newFPPeer(t)
				local = p.addr()
				exchange = func(msg []byte, what string) string {
					p.send(t, h.addr, msg)
					return string(p.nextNot100(t, what).data)
				}
			}
			tp := map[bool]string{true: "TCP", false: "UDP"}[mode.tcp]
			for _, c := range malformedCases {
				branch, callID := fpBranch(), fmt.Sprintf("%016x@malformed", rand.Uint64())
				res := exchange(malformedRequest(c, "INVITE", tp, local, branch, callID), c.name)
				status, _, _ := strings.Cut(res, "\r\n")
				if want := "SIP/2.0 400 Bad Request (" + c.reason + ")"; status != want {
					t.Fatalf("%s: %q, want %q\n%s", c.name, status, want, res)
				}
				// Its CANCEL: whatever the answer (200 when it matches the answered INVITE, 400 when
				// it is as malformed, 481), an answer and no fault.
				res = exchange(malformedRequest(c, "CANCEL", tp, local, branch, callID), c.name+" CANCEL")
				if status, _, _ := strings.Cut(res, "\r\n"); status != "SIP/2.0 200 OK" && !strings.HasPrefix(status, "SIP/2.0 400 ") && !strings.HasPrefix(status, "SIP/2.0 481 ") {
					t.Fatalf("%s CANCEL: %q", c.name, status)
				}
			}
			out, _ := h.tap.sent(0)
			for _, d := range out {
				if d.to == callee.Addr() {
					t.Fatalf("Herald sent toward its next hop:\n%s", d.data)
				}
			}
			if n := h.sig.Stats.Forwarded.Load() + h.sig.Stats.Fast.Calls.Load(); n != 0 {
				t.Fatalf("%d INVITEs forwarded", n)
			}
			if got := h.sig.Stats.BadRequests.Load(); got < uint64(len(malformedCases)) {
				t.Fatalf("BadRequests %d, want at least %d", got, len(malformedCases))
			}
			if len(callee.Calls()) != 0 {
				t.Fatalf("the callee saw %d calls", len(callee.Calls()))
			}
			if got := h.sig.Stats.Panics.Load(); got != panics {
				t.Fatalf("%d panics recovered", got-panics)
			}
			h.mustCall(t, newCaller(t, uesim.CallerOptions{}), dave, erin)
			h.quiet(t)
		})
	}
}

// TestPrecheckConnFraming drives sipmsg.Listener (Herald's framing of a TCP stream before sipgo) the way
// networks deliver bytes: a keep-alive (RFC 5626 §3.5.1: answered with a CRLF pong), then a request
// without Via and a valid one coalesced in one write, then a valid one dribbled a byte per write.
// The first is answered 400 naming Via, the others 200, in order, on one connection.
func TestPrecheckConnFraming(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{})
	h := startHerald(t, st, callee.Addr(), nil)
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	local := c.LocalAddr().String()
	options := func(n int, via bool) string {
		v := ""
		if via {
			v = "Via: SIP/2.0/TCP " + local + ";branch=z9hG4bKframe" + strconv.Itoa(n) + "\r\n"
		}
		return "OPTIONS sip:127.0.0.1 SIP/2.0\r\n" + v + "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=f" + strconv.Itoa(n) +
			"\r\nTo: <sip:127.0.0.1>\r\nCall-ID: frame" + strconv.Itoa(n) + "@test\r\nCSeq: " + strconv.Itoa(n) + " OPTIONS\r\nContent-Length: 0\r\n\r\n"
	}
	if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(fpWait))
	pong := make([]byte, 2)
	if _, err := io.ReadFull(r, pong); err != nil || string(pong) != "\r\n" {
		t.Fatalf("keep-alive pong %q, %v", pong, err)
	}
	if _, err := c.Write([]byte(options(1, false) + options(2, true))); err != nil {
		t.Fatal(err)
	}
	for _, b := range []byte(options(3, true)) {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	s := &sipStream{c: c, r: r}
	for _, want := range []string{"SIP/2.0 400 Bad Request (missing Via)", "SIP/2.0 200 OK", "SIP/2.0 200 OK"} {
		m := s.next(t, want)
		if status, _, _ := strings.Cut(m, "\r\n"); status != want {
			t.Fatalf("%q, want %q\n%s", status, want, m)
		}
	}
	if n := h.sig.Stats.BadRequests.Load(); n != 1 {
		t.Fatalf("BadRequests %d, want 1", n)
	}
}
