package main

// The lab for TestRealPhones: real softphones (baresip, linphonec) as separate processes on loopback,
// driven through their command consoles, and a tshark capture of everything they send and receive,
// which is the test's witness of what reached them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/netio/freeport"

	"github.com/herald-ims/herald/configs"
)

// peerPath returns the path of a peer program, or skips the test (fails it with
// HERALD_REQUIRE_PEERS=1) when it is not installed.
func peerPath(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s (Debian %s) not installed and HERALD_REQUIRE_PEERS=1", name, pkg)
		}
		t.Skipf("%s not installed (Debian %s); set HERALD_REQUIRE_PEERS=1 to make this a failure", name, pkg)
	}
	return path
}

// freeSIPPort returns a port of host (127.0.0.1 or ::1) free for both UDP and TCP, with the next one
// free too (the phones listen on both at the same port; baresip adds SIP over TLS on the next), leased
// to this process below the ephemeral range (netio/freeport), so no other socket takes it before the
// phone binds.
func freeSIPPort(t *testing.T, host string) int {
	t.Helper()
	return freeport.MustBlock(t, host, 2)
}

// udpPortTaken reports whether something has bound UDP port on host.
func udpPortTaken(host string, port int) bool {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host), Port: port})
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	u.Close()
	return false
}

// phone is one softphone process and its console.
type phone struct {
	kind   string // "baresip" or "linphone"
	role   string // "caller" or "callee"
	user   string // user part of its identity sip:user@host
	host   string // the loopback address it listens on: 127.0.0.1, or ::1 for calls over IPv6
	port   int    // SIP, UDP and TCP
	rtpMin int    // first port of its RTP range
	rtpMax int
	wav    string // what it plays into calls

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}

	mu      sync.Mutex
	log     []string
	prompts int           // linphonec prompts printed so far
	changed chan struct{} // closed and replaced on each prompt
}

func (p *phone) String() string { return p.kind + " " + p.role }

// aor is the phone's identity.
func (p *phone) aor() string { return "sip:" + p.user + "@" + uriHost(p.host) }

// uriHost is host as a SIP URI writes it: an IPv6 address in brackets (RFC 3261 §25.1, IPv6reference).
func uriHost(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// sipURI is sip:user@host:port, host bracketed when IPv6.
func sipURI(user, host string, port int) string {
	return "sip:" + user + "@" + net.JoinHostPort(host, strconv.Itoa(port))
}

// send types one console command. linphonec reads its console in one read and keeps one line of
// it: a command sent before it has shown its next prompt is lost. So each command to linphonec waits
// for the prompt that follows it (it prints one per command read).
func (p *phone) send(t *testing.T, line string) {
	t.Helper()
	p.mu.Lock()
	before, changed := p.prompts, p.changed
	p.mu.Unlock()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Errorf("%s: console %q: %v", p, line, err)
		return
	}
	if p.kind != "linphone" {
		return
	}
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-changed:
		case <-deadline.C:
			t.Errorf("%s: no prompt after %q:\n%s", p, line, p.tail(10))
			return
		case <-p.exited:
			t.Errorf("%s exited after %q:\n%s", p, line, p.tail(10))
			return
		}
		p.mu.Lock()
		n := p.prompts
		changed = p.changed
		p.mu.Unlock()
		if n > before {
			return
		}
	}
}

func (p *phone) promptCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.prompts
}

// linphonePrompt is what linphonec prints before it reads a command.
const linphonePrompt = "linphonec> "

// phoneOut is the phone's stdout and stderr: lines to its log, and linphonec's prompts counted.
type phoneOut struct {
	p     *phone
	lines tsLines
	last  []byte // the end of the output so far, for a prompt split across writes
}

func (w *phoneOut) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	tail := append(w.last, b...)
	if n := strings.Count(string(tail), linphonePrompt) - strings.Count(string(w.last), linphonePrompt); n > 0 {
		w.p.prompts += n
		close(w.p.changed)
		w.p.changed = make(chan struct{})
	}
	w.last = append(w.last[:0], tail[max(0, len(tail)-len(linphonePrompt)+1):]...)
	w.p.mu.Unlock()
	return w.lines.Write(b)
}

// dial, answer, play and hangup in the phone's console language.
func (p *phone) dial(t *testing.T, uri string) {
	if p.kind == "baresip" {
		p.send(t, "/dial "+uri)
	} else {
		p.send(t, "call "+uri)
	}
}

func (p *phone) answer(t *testing.T) {
	if p.kind == "baresip" {
		p.send(t, "/accept")
	} else {
		p.send(t, "answer")
	}
}

// startMedia makes the phone send audio in the established call: linphonec with the file sound card
// sends RTP only once it is given a file to play; baresip plays its aufile source on its own.
func (p *phone) startMedia(t *testing.T) {
	if p.kind == "linphone" {
		p.send(t, "play "+p.wav)
	}
}

func (p *phone) hangup(t *testing.T) {
	if p.kind == "baresip" {
		p.send(t, "/hangup")
	} else {
		p.send(t, "terminate all")
	}
}

// tail returns the last n lines the phone printed.
func (p *phone) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log[max(0, len(p.log)-n):], "\n")
}

func (p *phone) addLine(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.log) < 20000 {
		p.log = append(p.log, s)
	}
}

// phoneWAV writes the 8 kHz ringback clip the phones play as their microphone.
func phoneWAV(t *testing.T, dir string) string {
	t.Helper()
	b, err := fs.ReadFile(configs.Clips, "ringback-8k.wav")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mic.wav")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startPhone starts a baresip or linphonec on a fresh SIP port of host (127.0.0.1 or ::1) with its own
// scratch directory and RTP range, and returns once it holds its SIP port. The process is stopped
// (quit, then SIGKILL by PID) when the test ends.
func startPhone(ctx context.Context, t *testing.T, host, kind, role, user string, rtpMin, rtpMax int, wav string) *phone {
	t.Helper()
	p := &phone{kind: kind, role: role, user: user, host: host, rtpMin: rtpMin, rtpMax: rtpMax, wav: wav, exited: make(chan struct{}),
		changed: make(chan struct{})}
	dir := t.TempDir()
	var args []string
	var env []string
	for attempt := 1; ; attempt++ {
		p.port = freeSIPPort(t, host)
		switch kind {
		case "baresip":
			bin := peerPath(t, "baresip", "baresip")
			// A config of its own: SIP on host (UDP and TCP), G.711 only, the clip as microphone,
			// no sound device; the console (stdio) reads commands from stdin. One account: baresip
			// takes a call only for a Request-URI whose user part is an account's.
			cfg := fmt.Sprintf(`poll_method epoll
sip_listen %s
sip_trans_def udp
audio_player aubridge,nil
audio_source aufile,%s
audio_alert aubridge,nil
audio_srate 8000
audio_channels 1
rtp_ports %d-%d
rtp_stats yes
module_path /usr/lib/baresip/modules
module stdio.so
module g711.so
module aufile.so
module aubridge.so
module_app account.so
module_app menu.so
`, net.JoinHostPort(host, strconv.Itoa(p.port)), wav, rtpMin, rtpMax)
			account := fmt.Sprintf("<%s>;regint=0;answermode=manual;audio_codecs=pcmu,pcma\n", p.aor())
			if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600); err != nil {
				t.Fatal(err)
			}
			args = []string{bin, "-f", dir, "-v"}
			if strings.Contains(host, ":") {
				// IPv6 only (-6): sip_listen alone does not make baresip's media IPv6; it offers
				// c=IN IP4 with its first interface's address whatever the call's family.
				args = append(args, "-6")
			}
		case "linphone":
			bin := peerPath(t, "linphonec", "linphone-cli")
			// 100rel_support_level=1: linphone then offers 100rel, PRACKs reliable provisionals and
			// takes UPDATE (RFC 3262, RFC 3311). Bound to host, IPv6 on only for ::1, no registration.
			ipv6 := 0
			if strings.Contains(host, ":") {
				ipv6 = 1
			}
			rc := fmt.Sprintf(`[sip]
sip_port=%d
sip_tcp_port=%d
sip_tls_port=0
bind_address=%s
use_ipv6=%d
guess_hostname=0
contact="%s" <%s>
100rel_support_level=1
register_only_when_network_is_up=0
[rtp]
audio_rtp_port=%d-%d
[sound]
echocancellation=0
[video]
enabled=0
capture=0
display=0
[misc]
max_calls=2
`, p.port, p.port, host, ipv6, user, p.aor(), rtpMin, rtpMax)
			if err := os.MkdirAll(filepath.Join(dir, ".local", "share", "linphone"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "linphonerc"), []byte(rc), 0o600); err != nil {
				t.Fatal(err)
			}
			args = []string{bin, "--pipe", "-c", filepath.Join(dir, "linphonerc")}
			env = append(env, "HOME="+dir) // linphonec keeps its database and logs under $HOME
		default:
			t.Fatalf("unknown phone %q", kind)
		}
		if sb, err := exec.LookPath("stdbuf"); err == nil {
			args = append([]string{sb, "-oL", "-eL"}, args...) // line by line, for the failure logs
		}
		p.cmd = exec.Command(args[0], args[1:]...) //nolint:gosec // the test's own peer
		p.cmd.Dir = dir
		p.cmd.Env = append(os.Environ(), env...)
		var err error
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out := &phoneOut{p: p, lines: tsLines{fn: p.addLine}}
		p.cmd.Stdout, p.cmd.Stderr = out, out
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		go func() {
			_ = p.cmd.Wait()
			close(p.exited)
		}()
		if p.waitListening(ctx) {
			break
		}
		p.kill()
		if attempt == 5 {
			t.Fatalf("%s did not take SIP port %d:\n%s", p, p.port, p.tail(30))
		}
		p.exited = make(chan struct{})
	}
	t.Cleanup(func() { p.stop() })
	if kind == "linphone" {
		// Without a sound card linphonec needs the file "card"; it sends RTP from the file given by
		// 'play' (startMedia). The console's ipv6 setting as well as the rc's: with use_ipv6=0 alone
		// linphonec still offers its IPv6 address in SDP, which Herald's ringback (on 127.0.0.1)
		// cannot reach.
		deadline := time.Now().Add(10 * time.Second)
		for p.promptCount() == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		p.send(t, "soundcard use files")
		if strings.Contains(host, ":") {
			p.send(t, "ipv6 enable")
		} else {
			p.send(t, "ipv6 disable")
		}
	}
	return p
}

// waitListening waits until the phone holds its SIP port; false if it exited or took too long.
func (p *phone) waitListening(ctx context.Context) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
		if udpPortTaken(p.host, p.port) {
			return true
		}
	}
	return false
}

// stop asks the phone to quit and kills it (by PID) if it has not exited in two seconds; linphonec
// often hangs in its quit.
func (p *phone) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	if p.kind == "baresip" {
		_, _ = io.WriteString(p.stdin, "/quit\n")
	} else {
		_, _ = io.WriteString(p.stdin, "quit\n")
	}
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.kill()
	}
}

func (p *phone) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// capPkt is one captured packet as tshark dissected it live.
type capPkt struct {
	n        int
	src, dst int // UDP or TCP ports
	tcp      bool
	method   string // request method, "" for a response or a non-SIP packet
	status   int    // response code, 0 for a request
	cseq     string // CSeq method
	callID   string
	ctype    string // Content-Type of the SIP message
	callInfo string
	media    []string // SDP m-line media types, in order (every body part)
	ports    []int    // their ports
	resend   bool     // tshark's SIP retransmission mark
	clen     string   // Content-Length as sent ("" when absent)
	payload  string   // UDP payload, hex (sentinels)
	ip6      bool     // carried over IPv6
	conn     []string // SDP c= lines as "IP4 addr" or "IP6 addr", in order (every body part)
}

func (c capPkt) sip() bool { return c.method != "" || c.status != 0 }

func (c capPkt) String() string {
	what := c.method
	if c.status != 0 {
		what = strconv.Itoa(c.status) + " (" + c.cseq + ")"
	}
	tr := "udp"
	if c.tcp {
		tr = "tcp"
	}
	s := fmt.Sprintf("#%d %s %d→%d %s", c.n, tr, c.src, c.dst, what)
	if c.ctype != "" {
		s += " [" + c.ctype + " " + strings.Join(c.media, ",") + "]"
	}
	if c.callInfo != "" {
		s += " Call-Info " + c.callInfo
	}
	if c.resend {
		s += " (retransmission)"
	}
	return s
}

// phoneFields are the fields tshark prints per packet, in this order.
var phoneFields = []string{"frame.number", "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport",
	"sip.Method", "sip.Status-Code", "sip.CSeq.method", "sip.Call-ID", "sip.Content-Type", "sip.Call-Info",
	"sdp.media.media", "sdp.media.port", "sip.resend", "sip.Content-Length", "udp.payload", "ipv6.src",
	"sdp.connection_info.address_type", "sdp.connection_info.address"}

// phoneCapture is a live tshark capture on lo of the phones' SIP ports, Herald's MSRP port and the RTP
// ranges, over IPv4 and IPv6 alike (a pcap "port" primitive matches both), written to a file and
// dissected as it runs.
type phoneCapture struct {
	cmd      *exec.Cmd
	file     string
	exited   chan struct{}
	sentinel *net.UDPConn

	mu      sync.Mutex
	stderr  strings.Builder
	ready   chan struct{}
	pkts    []capPkt
	changed chan struct{} // closed and replaced on each packet
}

// startPhoneCapture captures on lo everything to or from sipPorts (UDP and TCP, dissected as SIP),
// TCP port msrpPort (Herald's MSRP listener, when not 0) and the UDP port ranges, and returns once
// tshark has shown a first sentinel datagram.
func startPhoneCapture(ctx context.Context, t *testing.T, file string, sipPorts []int, msrpPort int, ranges [][2]int) *phoneCapture {
	t.Helper()
	tshark := tsharkPath(t)
	sent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sent.Close() })
	c := &phoneCapture{file: file, exited: make(chan struct{}), ready: make(chan struct{}), changed: make(chan struct{}), sentinel: sent}
	filter := []string{"udp port " + strconv.Itoa(sent.LocalAddr().(*net.UDPAddr).Port)}
	args := []string{"-i", "lo", "-w", file, "-P", "-l", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"}
	for _, p := range sipPorts {
		ps := strconv.Itoa(p)
		filter = append(filter, "port "+ps)
		args = append(args, "-d", "udp.port=="+ps+",sip", "-d", "tcp.port=="+ps+",sip")
	}
	if msrpPort != 0 {
		filter = append(filter, "tcp port "+strconv.Itoa(msrpPort))
	}
	for _, r := range ranges {
		filter = append(filter, fmt.Sprintf("udp portrange %d-%d", r[0], r[1]))
	}
	args = append(args, "-f", strings.Join(filter, " or "))
	for _, f := range phoneFields {
		args = append(args, "-e", f)
	}
	c.cmd = exec.CommandContext(ctx, tshark, args...) //nolint:gosec // the test's own peer
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(os.Interrupt) }
	c.cmd.WaitDelay = 3 * time.Second
	c.cmd.Stdout = &tsLines{fn: c.line}
	c.cmd.Stderr = &tsLines{fn: func(s string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.stderr.WriteString(s + "\n")
		if strings.Contains(s, "Capturing on") {
			select {
			case <-c.ready:
			default:
				close(c.ready)
			}
		}
	}}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("tshark: %v", err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(c.stop)
	select {
	case <-c.ready:
	case <-c.exited:
		t.Fatalf("tshark exited before capturing:\n%s", c.stderrText())
	case <-ctx.Done():
		t.Fatalf("tshark did not start capturing:\n%s", c.stderrText())
	}
	c.mark(ctx, t, "start")
	return c
}

// stop ends the capture (SIGINT: tshark flushes its file) and waits for it.
func (c *phoneCapture) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

func (c *phoneCapture) stderrText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

func (c *phoneCapture) line(s string) {
	f := strings.Split(s, "\t")
	if len(f) != len(phoneFields) {
		return
	}
	atoi := func(s string) int {
		s, _, _ = strings.Cut(s, "|")
		n, _ := strconv.Atoi(s)
		return n
	}
	first := func(s string) string {
		s, _, _ = strings.Cut(s, "|")
		return s
	}
	p := capPkt{n: atoi(f[0]), src: atoi(f[1]), dst: atoi(f[2]), method: first(f[5]), status: atoi(f[6]),
		cseq: first(f[7]), callID: first(f[8]), ctype: first(f[9]), callInfo: f[10], resend: first(f[13]) == "1" || first(f[13]) == "True",
		clen: f[14], payload: f[15], ip6: f[16] != ""}
	if p.src == 0 && p.dst == 0 {
		p.src, p.dst, p.tcp = atoi(f[3]), atoi(f[4]), true
	}
	if f[11] != "" {
		p.media = strings.Split(f[11], "|")
	}
	if f[12] != "" {
		for _, s := range strings.Split(f[12], "|") {
			n, _ := strconv.Atoi(s)
			p.ports = append(p.ports, n)
		}
	}
	if f[17] != "" {
		types, addrs := strings.Split(f[17], "|"), strings.Split(f[18], "|")
		for i, typ := range types {
			if i < len(addrs) {
				p.conn = append(p.conn, typ+" "+addrs[i])
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, p)
	close(c.changed)
	c.changed = make(chan struct{})
}

// mark sends a sentinel datagram and waits until tshark has shown it: everything sent before is in
// the capture. It returns the number of packets captured so far.
func (c *phoneCapture) mark(ctx context.Context, t *testing.T, name string) int {
	t.Helper()
	payload := "herald-phones-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	want := hex.EncodeToString([]byte(payload))
	// Resent until seen: a datagram sent while the capture is still being set up may go uncaptured.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := c.sentinel.WriteToUDP([]byte(payload), c.sentinel.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
		_, i, err := c.wait(ctx, 0, 200*time.Millisecond, func(p capPkt) bool { return p.payload == want }, nil)
		if err == nil {
			return i + 1
		}
		if time.Now().After(deadline) {
			t.Fatalf("capture sentinel %s: %v\n%s", name, err, c.stderrText())
		}
	}
}

// wait returns the first packet from index from on that matches ok. A packet matching fail first
// ends the wait with an error naming it; so does the timeout.
func (c *phoneCapture) wait(ctx context.Context, from int, timeout time.Duration, ok, fail func(capPkt) bool) (capPkt, int, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for i := from; ; {
		c.mu.Lock()
		pkts, changed := c.pkts, c.changed
		c.mu.Unlock()
		for ; i < len(pkts); i++ {
			if fail != nil && fail(pkts[i]) {
				return pkts[i], i, fmt.Errorf("got %s", pkts[i])
			}
			if ok(pkts[i]) {
				return pkts[i], i, nil
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			return capPkt{}, i, fmt.Errorf("not seen within %v", timeout)
		case <-ctx.Done():
			return capPkt{}, i, ctx.Err()
		case <-c.exited:
			return capPkt{}, i, errors.New("tshark exited")
		}
	}
}

// since returns the packets captured from index from on.
func (c *phoneCapture) since(from int) []capPkt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]capPkt(nil), c.pkts[min(from, len(c.pkts)):]...)
}

// count counts the packets from index from on that match ok.
func (c *phoneCapture) count(from int, ok func(capPkt) bool) int {
	n := 0
	for _, p := range c.since(from) {
		if ok(p) {
			n++
		}
	}
	return n
}

// waitCount waits until at least n packets from index from on match ok.
func (c *phoneCapture) waitCount(ctx context.Context, from, n int, timeout time.Duration, ok func(capPkt) bool) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		got := c.count(from, ok)
		if got >= n {
			return got, nil
		}
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-time.After(time.Until(deadline)):
			return c.count(from, ok), fmt.Errorf("%d of %d packets within %v", c.count(from, ok), n, timeout)
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
}

// sipErrors returns what tshark flags in the SIP and SDP of the capture file (malformed packets,
// expert errors), one line each; call it after stop.
func sipErrors(ctx context.Context, t *testing.T, file string, sipPorts []int) []string {
	t.Helper()
	args := []string{"-r", file}
	for _, p := range sipPorts {
		ps := strconv.Itoa(p)
		args = append(args, "-d", "udp.port=="+ps+",sip", "-d", "tcp.port=="+ps+",sip")
	}
	// Only the phones' own SIP: the RTP ranges are ephemeral ports too, where other tests' hostile
	// SIP may pass while this one runs.
	var ports []string
	for _, p := range sipPorts {
		ports = append(ports, strconv.Itoa(p))
	}
	set := "{" + strings.Join(ports, ", ") + "}"
	args = append(args, "-Y", "(udp.port in "+set+" || tcp.port in "+set+") && (sip || sdp) && (_ws.malformed || _ws.expert.severity >= error)", "-T", "fields",
		"-e", "frame.number", "-e", "_ws.col.Info", "-e", "_ws.expert.message")
	out := tsRun(ctx, t, tsharkPath(t), args...)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
