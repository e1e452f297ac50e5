package sipfast

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/wheel"
)

// The engine's tests run it without sockets or wall clock: fakeHost answers its questions from
// fields the test sets, recConn records what it sends, and the clock is a *wheel.Manual the test
// steps before calling Tick.

// fakeHost is a Host: Herald is selfHost:5060, everyone is trusted unless untrusted, a call is plain
// unless its callee is in cards, the next hop is next (over nextTransport).
type fakeHost struct {
	mu        sync.Mutex
	selfHost  string
	untrusted netip.Addr
	cards     map[string]bool // callee Request-URIs with a card: not plain
	next      netip.AddrPort
	// nextTransport is the next hop URI's transport parameter: "" (UDP, or TCP for a big request),
	// "udp" or "tcp"
	nextTransport string
	draining      bool
	maxCalls      int
	calls         map[string]*Tx // admitted on the engine
	general       map[string]bool
	late          int // Late2xx calls
	normalize     func([]byte) []byte
	panics        int // Recovered with a panic
	// own are the calls with an early dialog of Herald's, Call-ID to Herald's To tag; ownReqs the
	// requests Own took.
	own     map[string]string
	ownReqs []OwnRequest
}

func newFakeHost() *fakeHost {
	return &fakeHost{selfHost: "127.0.0.1", cards: map[string]bool{}, next: netip.MustParseAddrPort("127.0.0.1:5070"),
		maxCalls: 100, calls: map[string]*Tx{}, general: map[string]bool{}, own: map[string]string{}}
}

func (h *fakeHost) Self(host []byte, port, defPort int) bool {
	if port == 0 {
		port = defPort
	}
	return string(host) == h.selfHost && port == 5060
}
func (h *fakeHost) Trusted(ip netip.Addr) bool { return ip != h.untrusted }
func (h *fakeHost) Plain(_, _, callee []byte, _ bool) bool {
	return !h.cards[string(callee)]
}
func (h *fakeHost) NextHop() ([]byte, int, []byte, bool) {
	return []byte(h.next.Addr().String()), int(h.next.Port()), []byte(h.nextTransport), h.next.IsValid()
}
func (h *fakeHost) Draining() bool { return h.draining }
func (h *fakeHost) MaxCalls() int  { return h.maxCalls }
func (h *fakeHost) Admit(callID string, tx *Tx) AdmitResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls[callID] != nil || h.general[callID] {
		return AdmitLoop
	}
	if len(h.calls)+len(h.general) >= h.maxCalls {
		return AdmitFull
	}
	h.calls[callID] = tx
	return AdmitOK
}
func (h *fakeHost) Release(callID string, tx *Tx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.calls[callID] == tx {
		delete(h.calls, callID)
	}
}
func (h *fakeHost) General(callID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.general[callID]
}
func (h *fakeHost) Calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls) + len(h.general)
}

// Reject answers 400 a request whose text has no Via at all (the host's parser's business).
func (h *fakeHost) Reject(data []byte) []byte {
	if bytes.HasPrefix(data, []byte("SIP/")) || bytes.Contains(data, []byte("\r\nVia:")) || !bytes.Contains(data, []byte(" SIP/2.0\r\n")) {
		return nil
	}
	return []byte("SIP/2.0 400 Bad Request (missing Via)\r\nContent-Length: 0\r\n\r\n")
}
func (h *fakeHost) Normalize(b []byte) []byte {
	if h.normalize == nil {
		return nil
	}
	return h.normalize(b)
}
func (h *fakeHost) Own(callID, toTag []byte, req OwnRequest) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if tag, ok := h.own[string(callID)]; !ok || tag != string(toTag) {
		return false
	}
	h.ownReqs = append(h.ownReqs, req)
	return true
}
func (h *fakeHost) Late2xx(_, _ []byte) {
	h.mu.Lock()
	h.late++
	h.mu.Unlock()
}
func (h *fakeHost) Recovered(r any) bool {
	if r == nil {
		return false
	}
	h.mu.Lock()
	h.panics++
	h.mu.Unlock()
	return true
}

// recConn records every datagram sent, in order.
type recConn struct {
	mu   sync.Mutex
	sent []Datagram
}

func (c *recConn) Send(b []byte, to netip.AddrPort) error {
	c.mu.Lock()
	c.sent = append(c.sent, Datagram{c, bytes.Clone(b), to})
	c.mu.Unlock()
	return nil
}

// take returns and forgets what was sent.
func (c *recConn) take() []Datagram {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.sent
	c.sent = nil
	return out
}

// harness is one engine on a manual clock, a caller and a callee.
type harness struct {
	t              *testing.T
	e              *Engine
	h              *fakeHost
	c              *recConn
	clk            *wheel.Manual
	st             *Stats
	ctr            Counters
	caller, callee netip.AddrPort
	// conn is what the peers' messages come in on: c, or a Stream over it (tcp_test.go)
	conn Conn
	// what each peer got last, by the start line's first word ("INVITE", "CANCEL", "SIP/2.0", ...)
	last map[string][]byte
}

const (
	testT1     = 100 * time.Millisecond
	testTimerC = 3 * time.Minute
)

func newHarness(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	x := &harness{t: t, h: newFakeHost(), c: &recConn{}, clk: new(wheel.Manual), st: new(Stats),
		caller: netip.MustParseAddrPort("127.0.0.1:5061"), callee: netip.MustParseAddrPort("127.0.0.1:5070"),
		last: map[string][]byte{}}
	x.ctr = newCounters()
	cfg := Config{ViaHost: "127.0.0.1", ViaPort: func() int { return 5060 }, RecordRoute: true, T1: testT1,
		TimerC: testTimerC, Clock: x.clk, Stats: x.st, Counters: x.ctr}
	if edit != nil {
		edit(&cfg)
	}
	x.e = New(cfg, x.h)
	x.e.AddConn(x.c, false)
	x.conn = x.c
	t.Cleanup(x.e.Close)
	return x
}

type (
	atomicU = atomic.Uint64
	atomicI = atomic.Int64
)

func newCounters() Counters {
	return Counters{Invites: new(atomicU), Forwarded: new(atomicU), Rejected503: new(atomicU), BadRequests: new(atomicU),
		Cancels: new(atomicU), CallsDone: new(atomicU), ForwardErrors: new(atomicU), DrainAborted: new(atomicU), Active: new(atomicI)}
}

// name is who addr is in the test.
func (x *harness) name(addr netip.AddrPort) string {
	switch addr {
	case x.caller:
		return "caller"
	case x.callee:
		return "callee"
	}
	return addr.String()
}

// lines are the datagrams as "<peer> <start line>" (a request by its method only), remembering
// each peer's last datagram of each kind.
func (x *harness) lines(ds []Datagram) []string {
	var out []string
	for _, d := range ds {
		line, _, _ := bytes.Cut(d.B, []byte("\r\n"))
		if sp := bytes.IndexByte(line, ' '); sp > 0 && !bytes.HasPrefix(line, []byte("SIP/2.0")) {
			line = line[:sp]
		}
		who := x.name(d.To)
		out = append(out, who+" "+string(line))
		key, _, _ := bytes.Cut(line, []byte(" "))
		x.last[who+" "+string(key)] = d.B
	}
	return out
}

// in offers msg from addr and returns the reason and what the engine sent for it.
func (x *harness) in(from netip.AddrPort, msg []byte) (Reason, []string) {
	before := x.verdicts()
	x.e.Take(msg, from, x.conn)
	after := x.verdicts()
	r := Reason(255)
	for i := range numReasons {
		if after[i] != before[i] {
			if r != 255 {
				x.t.Fatalf("two reasons counted for one datagram")
			}
			r = i
		}
	}
	return r, x.lines(x.c.take())
}

func (x *harness) verdicts() (v [numReasons]uint64) {
	for i := range numReasons {
		v[i] = x.st.Verdicts[i].Load()
	}
	return v
}

// at sets the clock to d after the start and runs the due timers; it returns what they sent (also
// checking that Tick's return is what went out).
func (x *harness) at(d time.Duration) []string {
	x.clk.Set(int64(d))
	ret := x.e.Tick(nil)
	sent := x.c.take()
	if len(ret) != len(sent) {
		x.t.Fatalf("Tick returned %d datagrams, %d sent", len(ret), len(sent))
	}
	return x.lines(sent)
}

// invite is a plain INVITE from the caller.
func invite(branch, callID, ruri string, extra ...string) []byte {
	return []byte(fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:erin@home1.net>;tag=f\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:erin@127.0.0.1:5061>\r\n%sContent-Length: 0\r\n\r\n", ruri, branch, ruri, callID, strings.Join(extra, "")))
}

// request is an in-dialog or CANCEL/ACK request from the caller toward the callee.
func request(method, branch, callID, to string, cseq int, extra ...string) []byte {
	return []byte(fmt.Sprintf("%s sip:dave@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=%s\r\nMax-Forwards: 70\r\n"+
		"%sFrom: <sip:erin@home1.net>;tag=f\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n",
		method, branch, strings.Join(extra, ""), to, callID, cseq, method))
}

// reply is the callee's response to req (every Via, From, To with tag when given, Call-ID, CSeq).
func reply(req []byte, status, tag string) []byte {
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\r\n")
	head, _, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	for _, l := range strings.Split(string(head), "\r\n")[1:] {
		name, _, _ := strings.Cut(l, ":")
		switch strings.ToLower(name) {
		case "via", "from", "call-id", "cseq":
			b.WriteString(l + "\r\n")
		case "to":
			if tag != "" && !strings.Contains(l, ";tag=") {
				l += ";tag=" + tag
			}
			b.WriteString(l + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}
