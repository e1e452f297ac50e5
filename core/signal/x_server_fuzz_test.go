package signal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/safe"
)

// FuzzServer drives the SIP plane of two real Servers over real sockets on loopback: one with the
// fast path (its own UDP scanner and transaction table) and one without (sipgo's general path),
// both record-routing toward next hops that are raw UDP sockets. An input is a sequence of messages,
// each from a caller over UDP to either server or over TCP, or from the next hop that last received a
// request: INVITE, CANCEL, ACK, BYE, PRACK, UPDATE and responses, mutated. Placeholders tie a
// sequence to live state ($H Herald, $C caller, $BRn a branch of this input, $ID this input's
// Call-ID and tags, $HTAG and $RSEQ of Herald's own reliable 183, $VIA $FROM $TO $CALLID $CSEQ of
// the request the next hop received last, $N the next hop, $LEN the body's length). A next hop also
// serves TCP: a request Herald forwards to it over TCP (a Route ;transport=tcp) is answered on that
// connection, which from the second such call on carries the fast path over TCP.
//
// After every input: no panic was recovered on the SIP plane (safe.Count). After the seeds, and
// every fuzzCheckEvery inputs when fuzzing: both servers go quiet, a valid call completes through
// each, and goroutines and descriptors are back to where they were. The servers live across inputs
// (built once), so an input costs milliseconds.
//
//	go test -run '^$' -fuzz FuzzServer -fuzztime 30s ./core/signal/

// fuzzCheckEvery is how often, in inputs, the fuzzing run checks quiet, a valid call and leaks.
const fuzzCheckEvery = 64

// fuzzSep starts a message in an input; the byte after it names its channel (u: caller UDP to the
// fast-path server, g: caller UDP to the general-path server, t: caller TCP to the fast-path
// server, n: the next hop that received a request last, to the server that sent it).
const fuzzSep = "~~~"

// fuzzMaxMessages bounds the messages of one input.
const fuzzMaxMessages = 12

var errNoNet = errors.New("fuzz harness: no DNS and no connection off the machine")

// fzPeer is a raw UDP socket (a caller, or a next hop) that keeps the last datagram it received; a
// next hop also accepts TCP on its port and keeps the last message read from a connection, and the
// connection (answers to it go back on it).
type fzPeer struct {
	conn *net.UDPConn
	ln   net.Listener // next hops only
	act  chan struct{}
	mu   sync.Mutex
	last []byte
	from *net.UDPAddr
	tcp  net.Conn     // the connection last came on, nil when it came over UDP
	open atomic.Int64 // TCP connections open from Herald (each is two descriptors and two readers here)
	htag string       // callers: the To tag and RSeq of Herald's own reliable 183
	rseq string
	n    atomic.Int64 // datagrams received
	done chan struct{}
}

var (
	fzOwnTag = regexp.MustCompile(`(?m)^To:[^\r\n]*;tag=([^;\r\n>]+)`)
	fzRSeq   = regexp.MustCompile(`(?m)^RSeq: *([0-9]+)`)
	fzIPv4   = regexp.MustCompile(`(^|[^0-9.])([0-9]{1,3})\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}`)
)

func newFzPeer(tb testing.TB, act chan struct{}) *fzPeer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	p := &fzPeer{conn: c, act: act, done: make(chan struct{})}
	go p.readUDP()
	tb.Cleanup(func() {
		_ = c.Close()
		<-p.done
	})
	return p
}

// newFzNextHop is a peer that also serves TCP on its UDP port, as Herald's next hop does.
func newFzNextHop(tb testing.TB, act chan struct{}) *fzPeer {
	for range 20 {
		p := newFzPeer(tb, act)
		ln, err := net.Listen("tcp", p.addr())
		if err != nil {
			continue
		}
		p.ln = ln
		var wg sync.WaitGroup
		tb.Cleanup(func() { _ = ln.Close(); wg.Wait() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c)
				p.open.Add(1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer p.open.Add(-1)
					p.readTCP(c)
					_ = c.Close()
				}()
			}
		}()
		return p
	}
	tb.Fatal("no free UDP+TCP port pair on 127.0.0.1")
	return nil
}

// readTCP keeps each message read from c (framed by Content-Length, RFC 3261 §18.3) until c ends.
func (p *fzPeer) readTCP(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		var head bytes.Buffer
		cl := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" && head.Len() == 0 {
				continue
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(strings.TrimSpace(k), "content-length") || strings.TrimSpace(k) == "l") {
				cl, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, max(cl, 0))
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		p.keep(append(head.Bytes(), body...), nil, c)
	}
}

func (p *fzPeer) readUDP() {
	defer close(p.done)
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		p.keep(bytes.Clone(buf[:n]), from, nil)
	}
}

// keep records b, received from from (UDP) or on tcp.
func (p *fzPeer) keep(b []byte, from *net.UDPAddr, tcp net.Conn) {
	p.mu.Lock()
	p.last, p.from, p.tcp = b, from, tcp
	if bytes.Contains(b, []byte("Contact: <sip:herald@")) && bytes.Contains(b, []byte("\r\nRSeq:")) {
		if m := fzOwnTag.FindSubmatch(b); m != nil {
			p.htag = string(m[1])
		}
		if m := fzRSeq.FindSubmatch(b); m != nil {
			p.rseq = string(m[1])
		}
	}
	p.mu.Unlock()
	p.n.Add(1)
	select {
	case p.act <- struct{}{}:
	default:
	}
}

func (p *fzPeer) addr() string { return p.conn.LocalAddr().String() }

func (p *fzPeer) snapshot() (last []byte, from *net.UDPAddr, htag, rseq string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.from, p.htag, p.rseq
}

// lastConn is the TCP connection the last message came on, nil when it came over UDP.
func (p *fzPeer) lastConn() net.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tcp
}

// serverWorld is what FuzzServer drives; built once per process.
type serverWorld struct {
	srv    [2]*rig    // fast path on, off
	next   [2]*fzPeer // their next hops
	caller *fzPeer
	callee *uesim.Callee // answers the valid calls (reached by Route)
	act    chan struct{}
	lastN  atomic.Int32 // the next hop that received a request last (0, 1)
	inputs atomic.Int64
	baseG  int
	baseFD int
}

func loopDialer(laddr net.Addr) net.Dialer {
	return net.Dialer{Timeout: time.Second, LocalAddr: laddr, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return errNoNet
		}
		return nil
	}}
}

func newServerWorld(tb testing.TB) *serverWorld {
	w := &serverWorld{act: make(chan struct{}, 1)}
	st, _ := testStore(tb)
	w.callee = newCallee(tb, uesim.CalleeOptions{RingTime: -1, AnswerWithoutPage: true})
	w.caller = newFzPeer(tb, w.act)
	noDNS := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) { return nil, errNoNet }}
	defer func() { testUA, testTransport, testLookup = nil, nil, nil }()
	for i := range w.srv {
		w.next[i] = newFzNextHop(tb, w.act)
		// Set before New reads them: no DNS, TCP and TLS only to loopback (UDP datagrams off the
		// machine are dropped by the rig's tapConn).
		testUA = []sipgo.UserAgentOption{sipgo.WithUserAgentDNSResolver(noDNS)}
		testLookup = func(context.Context, string) ([]netip.Addr, error) { return nil, errNoNet }
		testTransport = []sip.TransportLayerOption{sip.WithTransportLayerTransports(sip.TransportsConfig{
			TCP: &sip.TransportTCP{DialerCreate: loopDialer},
			TLS: &sip.TransportTLS{TransportTCP: &sip.TransportTCP{DialerCreate: loopDialer}},
		})}
		w.srv[i] = startHerald(tb, st, w.next[i].addr(), func(o *Options) {
			o.DisableFastPath = i == 1
			// The suite's T1 (Timer B 1.28 s); Timer C 1 s: a call an input leaves ringing ends
			// within about 2.3 s, well inside quiet's 5 s.
			o.T1, o.T2, o.TimerC = testT1, 8*testT1, time.Second
			o.SessionTTL = 2 * time.Second
		})
	}
	// Warm up (sipgo's client sockets, the MSRP plane), then take the baseline.
	for i := range w.srv {
		w.validCall(tb, i)
	}
	w.quiet(tb)
	w.baseG, w.baseFD = runtime.NumGoroutine(), fdCount()
	return w
}

// validCall places a plain call through server i to the uesim callee (by Route: the next hop is the
// fuzz peer) and requires it to complete.
func (w *serverWorld) validCall(tb testing.TB, i int) {
	tb.Helper()
	route := "<sip:" + w.srv[i].addr + ";lr>, <sip:" + w.callee.Addr() + ";lr>"
	c, err := uesim.NewCaller(uesim.CallerOptions{Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		HoldTime: time.Millisecond, FetchTimeout: time.Second, Rewrite: func(r *sip.Request) {
			r.AppendHeader(sip.NewHeader("Route", route))
		}})
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Call(ctx, w.srv[i].addr, dave, erin)
	if err != nil || res == nil || res.Final != 200 {
		final := 0
		if res != nil {
			final = res.Final
		}
		tb.Fatalf("valid call through server %d: final %d, %v", i, final, err)
	}
}

func (w *serverWorld) quiet(tb testing.TB) {
	tb.Helper()
	for _, r := range w.srv {
		r.quiet(tb)
	}
}

// check is the heavy check: quiet, a valid call through each server, no goroutine or descriptor
// left beyond the baseline.
func (w *serverWorld) check(t *testing.T) {
	t.Helper()
	w.quiet(t)
	for i := range w.srv {
		w.validCall(t, i)
	}
	w.quiet(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, fd := runtime.NumGoroutine(), fdCount()
		// Herald keeps its TCP connections to a next hop open (sipgo's pool) for the next request:
		// each is two descriptors here (both ends) and two readers.
		conns := int(w.next[0].open.Load() + w.next[1].open.Load())
		if g <= w.baseG+8+2*conns && fd <= w.baseFD+4+2*conns {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("leak: %d goroutines (baseline %d), %d descriptors (baseline %d)\n%s", g, w.baseG, fd, w.baseFD,
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fdCount is the number of open descriptors of this process (Linux; 0 elsewhere).
func fdCount() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(es)
}

// settle waits until the caller or next, the next hop of the server the message went to, received
// something new (an answer, the forwarded request: the next hop's answer can then name it), or a
// little while (a message Herald dropped).
func (w *serverWorld) settle(next *fzPeer, seenCaller, seenNext int64) {
	deadline := time.After(15 * time.Millisecond)
	for {
		select {
		case <-w.act:
			if w.caller.n.Load() != seenCaller || next.n.Load() != seenNext {
				return
			}
		case <-deadline:
			return
		}
	}
}

// allowed keeps the harness on the machine: no IP literal outside 127/8, no IPv6 literal, no
// WebSocket transport (sipgo dials those itself).
func allowed(msg []byte) bool {
	if bytes.IndexByte(msg, '[') >= 0 || bytes.Contains(bytes.ToLower(msg), []byte("transport=w")) {
		return false
	}
	for _, m := range fzIPv4.FindAllSubmatch(msg, -1) {
		if string(m[2]) != "127" {
			return false
		}
	}
	return true
}

// lastRequest reads the header values of the request the next hop received last.
func lastRequest(raw []byte) (via, from, to, callID, cseq string) {
	if bytes.HasPrefix(raw, []byte("SIP/2.0 ")) {
		return
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	var vias []string
	for _, l := range strings.Split(string(head), "\r\n")[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "via", "v":
			vias = append(vias, "Via: "+v)
		case "from", "f":
			from = v
		case "to", "t":
			to = v
		case "call-id", "i":
			callID = v
		case "cseq":
			cseq = v
		}
	}
	return strings.Join(vias, "\r\n"), from, to, callID, cseq
}

// run sends the messages of one input.
func (w *serverWorld) run(t *testing.T, data []byte) {
	id := strconv.FormatInt(w.inputs.Add(1), 10)
	var tcp net.Conn
	var tcpDone chan struct{}
	defer func() {
		if tcp != nil {
			_ = tcp.Close()
			<-tcpDone
		}
	}()
	chunks := bytes.Split(data, []byte(fuzzSep))
	if len(chunks) > 0 {
		chunks = chunks[1:] // text before the first message is ignored
	}
	for n, ch := range chunks {
		if n == fuzzMaxMessages || len(ch) < 2 {
			break
		}
		channel, msg := ch[0], bytes.TrimPrefix(ch[1:], []byte("\n"))
		srv := 0
		switch channel {
		case 'g':
			srv = 1
		case 'n':
			srv = int(w.lastN.Load())
		case 'u', 't':
		default:
			continue
		}
		r := w.srv[srv]
		_, _, htag, rseq := w.caller.snapshot()
		last, from, _, _ := w.next[srv].snapshot()
		via, fromV, toV, callID, cseq := lastRequest(last)
		caller := w.caller.addr()
		if tcp != nil {
			caller = tcp.LocalAddr().String()
		}
		// Longer names first: the replacer tries them in this order at each position.
		msg = []byte(strings.NewReplacer(
			"$HTAG", htag, "$RSEQ", rseq, "$VIA", via, "$FROM", fromV, "$TO", toV, "$CALLID", callID, "$CSEQ", cseq,
			"$BR", "z9hG4bKfz"+id+"x", "$ID", "fz"+id, "$H", r.addr, "$N", w.next[srv].addr(), "$C", caller,
		).Replace(string(msg)))
		if _, body, ok := bytes.Cut(msg, []byte("\r\n\r\n")); ok {
			msg = bytes.Replace(msg, []byte("$LEN"), []byte(strconv.Itoa(len(body))), 1)
		}
		if !allowed(msg) {
			continue
		}
		next := w.next[srv]
		seenCaller, seenNext := w.caller.n.Load(), next.n.Load()
		switch channel {
		case 'u', 'g':
			_, _ = w.caller.conn.WriteToUDP(msg, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(r.addr)))
		case 't':
			if tcp == nil {
				c, err := net.Dial("tcp", r.addr)
				if err != nil {
					t.Fatal(err)
				}
				tcp, tcpDone = c, make(chan struct{})
				go func() {
					defer close(tcpDone)
					buf := make([]byte, 64<<10)
					for {
						if _, err := c.Read(buf); err != nil {
							return
						}
						select {
						case w.act <- struct{}{}:
						default:
						}
					}
				}()
			}
			_ = tcp.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = tcp.Write(msg)
		case 'n':
			if c := w.next[srv].lastConn(); c != nil {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(msg) // on the connection the request came on (RFC 3261 §18.2.2)
			} else if from != nil {
				_, _ = w.next[srv].conn.WriteToUDP(msg, from)
			}
		}
		w.settle(next, seenCaller, seenNext)
		for i := range w.next {
			if l, _, _, _ := w.next[i].snapshot(); l != nil && !bytes.HasPrefix(l, []byte("SIP/2.0 ")) && !bytes.Equal(l, last) {
				w.lastN.Store(int32(i))
			}
		}
	}
}

func FuzzServer(f *testing.F) {
	for _, s := range serverSeeds() {
		f.Add([]byte(s))
	}
	fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
	// A live server's coverage is not a function of the input alone (timers of earlier inputs fire,
	// goroutines interleave), so nearly every input looks new, and minimizing each (60 s by default)
	// would spend the whole run re-running one input. Unless the command line says otherwise,
	// minimization gets 16 executions.
	if mf := flag.Lookup("test.fuzzminimizetime"); fuzzing && mf != nil && mf.Value.String() == mf.DefValue {
		_ = mf.Value.Set("16x")
	}
	// Built here, not inside the fuzz function (which may not call f's methods): the servers live
	// across inputs, and f's cleanup stops them.
	w := newServerWorld(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		before := safe.Count(safe.SIP)
		w.run(t, data)
		if got := safe.Count(safe.SIP); got != before {
			t.Fatalf("%d panics recovered on the SIP plane for this input", got-before)
		}
		if !fuzzing || w.inputs.Load()%fuzzCheckEvery == 1 {
			w.check(t)
		}
	})
}

// serverSeeds are whole sequences: plain and push calls through each path, answered, cancelled,
// with PRACK and UPDATE on Herald's own dialog, and the malformed requests of TestMalformedRequest400.
func serverSeeds() map[string]string {
	sdp := "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	invite := func(tp, from, to, extra string) string {
		return "INVITE " + to + " SIP/2.0\r\nVia: SIP/2.0/" + tp + " $C;branch=$BR1;rport\r\nMax-Forwards: 70\r\n" +
			"From: <" + from + ">;tag=$ID\r\nTo: <" + to + ">\r\nCall-ID: $ID@fuzz\r\nCSeq: 1 INVITE\r\n" +
			"Contact: <sip:caller@$C>\r\nSupported: 100rel, early-session, 199\r\nAllow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE\r\n" +
			extra + "Content-Type: application/sdp\r\nContent-Length: $LEN\r\n\r\n" + sdp
	}
	req := func(tp, method, ruri, br string, cseq int, to, extra string) string {
		return fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/%s $C;branch=$BR%s;rport\r\nMax-Forwards: 70\r\n%s"+
			"From: <sip:dave@home1.net>;tag=$ID\r\nTo: %s\r\nCall-ID: $ID@fuzz\r\nCSeq: %d %s\r\nContent-Length: $LEN\r\n\r\n",
			method, ruri, tp, br, extra, to, cseq, method)
	}
	resp := func(code int, reason, tag, body string) string {
		ct := ""
		if body != "" {
			ct = "Content-Type: application/sdp\r\n"
		}
		return fmt.Sprintf("SIP/2.0 %d %s\r\n$VIA\r\nFrom: $FROM\r\nTo: $TO;tag=%s\r\nCall-ID: $CALLID\r\nCSeq: $CSEQ\r\n"+
			"Contact: <sip:callee@127.0.0.1:5099>\r\nRecord-Route: <sip:$H;lr>\r\n%sContent-Length: $LEN\r\n\r\n%s", code, reason, tag, ct, body)
	}
	m := func(ch byte, s string) string { return fuzzSep + string(ch) + "\n" + s }
	erinTo, erinTagged := "<sip:erin@home1.net>", "<sip:erin@home1.net>;tag=callee1"
	route := "Route: <sip:$H;lr>\r\n"
	seeds := map[string]string{}
	for _, ch := range []byte{'u', 'g', 't'} {
		tp := map[byte]string{'u': "UDP", 'g': "UDP", 't': "TCP"}[ch]
		c := string(ch)
		seeds["plain-answered-"+c] = m(ch, invite(tp, dave, erin, "")) + m('n', resp(180, "Ringing", "callee1", "")) +
			m('n', resp(200, "OK", "callee1", sdp)) + m(ch, req(tp, "ACK", "sip:callee@127.0.0.1:5099", "2", 1, erinTagged, route)) +
			m(ch, req(tp, "BYE", "sip:callee@127.0.0.1:5099", "3", 2, erinTagged, route)) + m('n', resp(200, "OK", "callee1", ""))
		seeds["plain-cancelled-"+c] = m(ch, invite(tp, dave, erin, "")) + m('n', resp(180, "Ringing", "callee1", "")) +
			m(ch, req(tp, "CANCEL", erin, "1", 1, erinTo, "")) + m('n', resp(200, "OK", "callee1", "")) +
			m('n', resp(487, "Request Terminated", "callee1", "")) + m(ch, req(tp, "ACK", erin, "1", 1, erinTagged, ""))
		seeds["push-prack-update-"+c] = m(ch, invite(tp, alice, bob, "P-Asserted-Identity: <sip:alice@home1.net>\r\n")) +
			m('n', resp(183, "Session Progress", "callee1", sdp)) +
			m(ch, req(tp, "PRACK", "sip:herald@$H", "4", 2, "<"+bob+">;tag=$HTAG", "RAck: $RSEQ 1 INVITE\r\n")) +
			m(ch, req(tp, "UPDATE", "sip:herald@$H", "5", 3, "<"+bob+">;tag=$HTAG", "")) +
			m(ch, req(tp, "CANCEL", bob, "1", 1, "<"+bob+">", "")) + m('n', resp(487, "Request Terminated", "callee1", ""))
		// A tel: Request-URI (RFC 3966), which the fast path takes since session 18.
		seeds["plain-tel-answered-"+c] = m(ch, invite(tp, dave, "tel:+12125554444", "")) + m('n', resp(180, "Ringing", "callee1", "")) +
			m('n', resp(200, "OK", "callee1", sdp)) + m(ch, req(tp, "ACK", "sip:callee@127.0.0.1:5099", "2", 1, erinTagged, route))
		// The callee's network authorising its own early media (RFC 5009): Herald's ringback yields.
		seeds["push-callee-early-media-"+c] = m(ch, invite(tp, alice, bob, "P-Early-Media: supported\r\n")) +
			m('n', strings.Replace(resp(183, "Session Progress", "callee1", sdp), "Contact:", "P-Early-Media: sendonly\r\nContact:", 1)) +
			m(ch, req(tp, "PRACK", "sip:herald@$H", "4", 2, "<"+bob+">;tag=$HTAG", "RAck: $RSEQ 1 INVITE\r\n")) +
			m('n', resp(200, "OK", "callee1", sdp))
		for _, c2 := range malformedCases {
			seeds["malformed-"+strings.ReplaceAll(c2.name, " ", "-")+"-"+c] =
				m(ch, string(malformedRequest(c2, "INVITE", tp, "$C", "$BR1", "fuzz$ID"))) +
					m(ch, string(malformedRequest(c2, "CANCEL", tp, "$C", "$BR1", "fuzz$ID")))
		}
	}
	// Both legs over TCP (RFC 3261 §18.3): the first call opens Herald's connection to the next hop
	// on the general path, later ones take the fast path over it.
	tcpRoute := "Route: <sip:$N;transport=tcp;lr>\r\n"
	for _, name := range []string{"plain-tcp-next-answered", "plain-tcp-next-again"} {
		seeds[name] = m('t', invite("TCP", dave, erin, tcpRoute)) + m('n', resp(180, "Ringing", "callee1", "")) +
			m('n', resp(200, "OK", "callee1", sdp)) +
			m('t', req("TCP", "ACK", "sip:callee@$N;transport=tcp", "2", 1, erinTagged, "Route: <sip:$H;transport=tcp;lr>\r\n")) +
			m('t', req("TCP", "BYE", "sip:callee@$N;transport=tcp", "3", 2, erinTagged, "Route: <sip:$H;transport=tcp;lr>\r\n")) +
			m('n', resp(200, "OK", "callee1", ""))
	}
	seeds["plain-tcp-next-cancelled"] = m('t', invite("TCP", dave, erin, tcpRoute)) + m('n', resp(180, "Ringing", "callee1", "")) +
		m('t', req("TCP", "CANCEL", erin, "1", 1, erinTo, tcpRoute)) + m('n', resp(200, "OK", "callee1", "")) +
		m('n', resp(487, "Request Terminated", "callee1", "")) + m('t', req("TCP", "ACK", erin, "1", 1, erinTagged, tcpRoute))
	seeds["bad-responses"] = m('u', invite("UDP", alice, bob, "")) + m('n', strings.Replace(resp(180, "Ringing", "x", ""), "To: $TO;tag=x", "To: garbage<<", 1)) +
		m('n', strings.Replace(resp(200, "OK", "x", sdp), "$VIA\r\n", "", 1)) + m('n', resp(503, "Service Unavailable", "x", ""))
	return seeds
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz")

// TestServerSeedCorpus keeps testdata/fuzz/FuzzServer in step with serverSeeds:
// go test -run TestServerSeedCorpus -update-corpus.
func TestServerSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzServer")
	for name, s := range serverSeeds() {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		path := filepath.Join(dir, name)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o600); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("seed %s out of date (%v): run go test -run TestServerSeedCorpus -update-corpus", name, err)
		}
	}
}
