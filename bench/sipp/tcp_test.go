package sipp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Plain calls over TCP on both legs (RFC 3261 §18.3) through a real Herald binary, SIPp on both
// sides (-t t1: one connection each), the next hop named ;transport=tcp. Herald's fast path
// (core/sipfast) forwards over a connection sipgo already has: the first call toward the next hop
// goes the general way, which opens the connection (verdict reason no_connection), and every later
// call takes the fast path. The test places that first call alone (a warm-up caller of one call),
// so that the counts after it are exact, then tcpCalls calls at tcpRate calls/s, and checks SIPp's
// statistics, Herald's /metrics and tshark's dissection of the capture.

const (
	tcpCalls = 200
	tcpRate  = 50
)

// tcpHop is the path runTCPFlow's callers reach the callee by.
type tcpHop struct {
	herald int    // Herald's SIP port (the caller's target)
	admin  string // Herald's admin HTTP address (/metrics)
	next   int    // the port of Herald's next hop (the callee, or Kamailio)
	ports  []int  // the SIP ports of the servers on the path, to capture (the callee's is added)
	trying int    // 1 when the next hop answers an INVITE with 100 Trying (Kamailio, RFC 3261 §16.2)
	// uasMust are regular expressions the callee's message log must match.
	uasMust []string
}

// heraldTCP starts Herald with its next hop at next over TCP (;transport=tcp) and its admin HTTP
// listener on, and returns its SIP port and admin address.
func heraldTCP(t *testing.T, dir string, next int) (port int, admin string) {
	t.Helper()
	port, aport := freePort(t), freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	h, err := StartHerald(ctx, dir, heraldBinary(t), HeraldConfig{Port: port, NextHop: addr(next), NextHopTransport: "tcp",
		HTTPListen: addr(aport)})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, h)
	return port, addr(aport)
}

// heraldTCPToUAS: Herald's next hop is the callee itself.
func heraldTCPToUAS(t *testing.T, dir string, uasPort int) tcpHop {
	h, admin := heraldTCP(t, dir, uasPort)
	hp := regexp.QuoteMeta(addr(h))
	return tcpHop{herald: h, admin: admin, next: uasPort, ports: []int{h},
		uasMust: []string{
			// Herald's Via over TCP with the fast path's branch (z9hG4bKhrld<id>), and its
			// Record-Route naming TCP (both legs on one transport: one entry, RFC 5658 §3.2).
			`Via: SIP/2.0/TCP ` + hp + `;branch=z9hG4bKhrld[0-9a-f]+`,
			`Record-Route: <sip:` + hp + `;transport=tcp;lr>`,
		}}
}

// kamailioTCPThenUAS puts Kamailio (the callee's S-CSCF) between Herald and the callee, TCP on
// both of its sides.
func kamailioTCPThenUAS(t *testing.T, dir string, uasPort int) tcpHop {
	t.Helper()
	kport := kamailioTo(t, dir, "sip:"+addr(uasPort)+";transport=tcp")
	h, admin := heraldTCP(t, dir, kport)
	hp, kp := regexp.QuoteMeta(addr(h)), regexp.QuoteMeta(addr(kport))
	return tcpHop{herald: h, admin: admin, next: kport, ports: []int{h, kport}, trying: 1,
		uasMust: []string{
			`Via: SIP/2.0/TCP ` + kp + `;branch=`,
			`Via: SIP/2.0/TCP ` + hp + `;branch=z9hG4bKhrld[0-9a-f]+`,
			`Record-Route: <sip:` + kp + `;transport=tcp;lr[^>]*>`,
			`Record-Route: <sip:` + hp + `;transport=tcp;lr>`,
		}}
}

// TestSIPpPlainTCP: dave calls dave through Herald, both legs over TCP: a warm-up call the general
// path carries (it opens Herald's connection to the callee), then tcpCalls calls that all take the
// fast path, none retransmitted, none failed; every SIP message on the wire is TCP and well formed.
func TestSIPpPlainTCP(t *testing.T) {
	runTCPFlow(t, heraldTCPToUAS)
}

// TestSIPpKamailioPlainTCP is TestSIPpPlainTCP with Kamailio 5.6 as the callee's S-CSCF between
// Herald and the callee, TCP on every hop: Herald's fast path forwards to Kamailio over the
// connection its first call opened, and the ACKs and BYEs follow Kamailio's Record-Route over TCP.
func TestSIPpKamailioPlainTCP(t *testing.T) {
	runTCPFlow(t, kamailioTCPThenUAS)
}

// runTCPFlow runs the warm-up call and the tcpCalls calls along hop and checks them.
func runTCPFlow(t *testing.T, hop func(t *testing.T, dir string, uasPort int) tcpHop) {
	requirePeer(t, "sipp")
	requirePeer(t, "tshark")
	dir := t.TempDir()
	// Generous: the peers may start slowly while CI's race-enabled suite loads the machine; the
	// calls themselves take about 5 s.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	uasPort := freePort(t)
	uasRun := Run{Name: "uas", Scenario: "uas_plain.xml", Port: uasPort, TCP: true, Calls: 1 + tcpCalls,
		Timeout: 75 * time.Second, Recv: 5 * time.Second, TraceMsg: true}
	uas, err := StartSIPp(ctx, dir, uasRun)
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, uas)
	p := hop(t, dir, uasPort)
	ports := append([]int{uasPort}, p.ports...)
	capt := startSIPCapture(ctx, t, filepath.Join(dir, "sip.pcapng"), ports)

	// The warm-up call, the general path's: Herald has no connection to its next hop yet. Its six
	// messages (the next hop's 100 Trying a seventh) are each offered to the fast path and handed
	// over: the INVITE for want of a connection, the ACK of the 2xx (no fast transaction), the BYE
	// (a general call's) and the responses to sipgo's branches.
	before := scrapeMetrics(ctx, t, p.admin)
	heraldLog := filepath.Join(dir, "herald.log")
	logFrom := fileSize(t, heraldLog)
	warmPort, uacPort := freePort(t), freePort(t)
	tcpCaller(ctx, t, dir, "warmup", warmPort, addr(p.herald), 1)
	warm := scrapeMetrics(ctx, t, p.admin).sub(before)
	t.Logf("the warm-up call: %s", warm.fastPath())
	wantCounts(t, "the warm-up call", warm, map[string]float64{
		"herald_sip_invites_total":                   1,
		"herald_sip_fast_path_calls_total":           0,
		"herald_sip_fast_path_fallbacks_total":       1,
		"herald_sip_fast_path_retransmissions_total": 0,
		"herald_sip_fast_path_send_errors_total":     0,
		"herald_sip_forward_errors_total":            0,
	})
	wantVerdicts(t, "the warm-up call", warm, map[string]float64{
		fpVerdict("general", "no_connection"):  1,
		fpVerdict("general", "no_transaction"): 1,
		fpVerdict("general", "general_call"):   1,
		fpVerdict("general", "sipgo_branch"):   float64(3 + p.trying),
	})

	// The calls: every one on the fast path, every message of theirs too.
	start := time.Now()
	st := tcpCaller(ctx, t, dir, "uac", uacPort, addr(p.herald), tcpCalls)
	elapsed := time.Since(start)
	after := scrapeMetrics(ctx, t, p.admin)
	run := after.sub(before).sub(warm)
	t.Logf("%d calls at %d calls/s in %v (SIPp: mean call length %v); Herald: %s", tcpCalls, tcpRate, elapsed.Round(time.Millisecond),
		st.CallLength, run.fastPath())
	wantCounts(t, "the calls after the warm-up", run, map[string]float64{
		"herald_sip_invites_total":                   tcpCalls,
		"herald_sip_fast_path_calls_total":           tcpCalls,
		"herald_sip_fast_path_fallbacks_total":       0,
		"herald_sip_fast_path_in_dialog_total":       2 * tcpCalls, // each call's ACK and BYE
		"herald_sip_fast_path_retransmissions_total": 0,
		"herald_sip_fast_path_send_errors_total":     0,
		"herald_sip_fast_path_timeouts_total":        0,
		"herald_sip_fast_path_absorbed_total":        0,
		"herald_sip_fast_path_stray_total":           0,
		"herald_sip_fast_path_overload_total":        0,
		"herald_sip_forward_errors_total":            0,
	})
	wantVerdicts(t, "the calls after the warm-up", run, map[string]float64{
		fpVerdict("fast", "forwarded"): 3 * tcpCalls,                       // INVITE, ACK, BYE
		fpVerdict("fast", "response"):  float64((3 + p.trying) * tcpCalls), // 180, 200, the BYE's 200 (and 100)
	})
	// Every call, the warm-up's included: one general INVITE, the first.
	if inv, fast := after.get("herald_sip_invites_total"), after.get("herald_sip_fast_path_calls_total"); inv != 1+tcpCalls || inv-fast != 1 {
		t.Errorf("%v INVITEs, %v on the fast path: want %d, all but the first (the warm-up call)", inv, fast, 1+tcpCalls)
	}
	// Herald logged nothing (at warn level or above) while the calls ran. sipgo used to warn "TCP ref
	// went negative" when a caller hung up before the server transaction of its last BYE let go of
	// the connection (the warm-up call's: the general path's); the connection's hard close now ends
	// its references (netio/sipgo HERALD.md, TestHeraldTCPTryCloseAfterClose).
	endFlow(ctx, t, dir, heraldLog, logFrom, uas, uasRun, p.uasMust)

	capt.stop()
	checkSIPCapture(ctx, t, capt, p, uasPort)
}

// endFlow checks the end of a flow: Herald logged nothing (at warn level or above) in heraldLog
// from logFrom on, the callee (uas, run as uasRun in dir) exits 0, and its messages match every
// pattern of must.
func endFlow(ctx context.Context, t *testing.T, dir, heraldLog string, logFrom int64, uas *Proc, uasRun Run, must []string) {
	t.Helper()
	b, err := os.ReadFile(heraldLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b[logFrom:]), "\n") {
		if l != "" {
			t.Errorf("Herald logged: %s", l)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 8*time.Second)
	defer wcancel()
	if code, err := uas.Wait(wctx); err != nil || code != 0 {
		t.Errorf("callee exit %d (%v), want 0\n%s", code, err, uasRun.Errors(dir, 4000))
	}
	msgs, err := os.ReadFile(uasRun.MessageLog(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range must {
		if !regexp.MustCompile(re).Match(msgs) {
			t.Errorf("callee's messages do not match %q", re)
		}
	}
}

// fileSize is the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// tcpCaller runs uac_plain.xml over TCP from port against target for calls calls and checks that
// every call succeeded, nothing retransmitted.
func tcpCaller(ctx context.Context, t *testing.T, dir, name string, port int, target string, calls int) Stats {
	t.Helper()
	r := Run{Name: name, Scenario: "uac_plain.xml", Port: port, Remote: target, TCP: true, Calls: calls, Rate: tcpRate,
		Pause: 20 * time.Millisecond, Timeout: 20 * time.Second, Recv: 5 * time.Second, Stats: true}
	code := runCaller(ctx, t, dir, r)
	st, err := ReadStats(filepath.Join(dir, name+"_stat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || st.Successful != calls || st.Failed != 0 || st.Retrans != 0 {
		t.Fatalf("%s: exit %d, %d successful, %d failed, %d retransmissions; want 0, %d, 0, 0\n%s", name, code, st.Successful,
			st.Failed, st.Retrans, calls, r.Errors(dir, 4000))
	}
	return st
}

// metrics is one scrape of Prometheus text: each series (name{k="v",...}, labels sorted) to its
// value.
type metrics map[string]float64

// scrapeMetrics reads Herald's /metrics at admin (retrying briefly: the admin listener may start
// after the SIP one answers).
func scrapeMetrics(ctx context.Context, t *testing.T, admin string) metrics {
	t.Helper()
	var last error
	for range 50 {
		m, err := getMetrics(ctx, "http://"+admin+"/metrics")
		if err == nil {
			return m
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("Herald's /metrics: %v", last)
	return nil
}

func getMetrics(ctx context.Context, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", res.Status, b)
	}
	return parseMetrics(string(b))
}

// parseMetrics parses the Prometheus text format's samples (no timestamps, as Herald writes them).
func parseMetrics(text string) (metrics, error) {
	m := metrics{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		series := line[:i]
		if name, labels, ok := strings.Cut(series, "{"); ok {
			series = seriesKey(name, strings.Split(strings.TrimSuffix(labels, "}"), ",")...)
		}
		m[series] = v
	}
	return m, nil
}

// seriesKey is a series' map key: its labels (k="v") sorted.
func seriesKey(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	labels = slices.Clone(labels)
	slices.Sort(labels)
	return name + "{" + strings.Join(labels, ",") + "}"
}

// fpVerdict is the series of herald_sip_fast_path_datagrams_total for a verdict and reason.
func fpVerdict(verdict, reason string) string {
	return seriesKey("herald_sip_fast_path_datagrams_total", `verdict="`+verdict+`"`, `reason="`+reason+`"`)
}

func (m metrics) get(series string) float64 { return m[series] }

// sub is m minus the earlier scrape o, series by series.
func (m metrics) sub(o metrics) metrics {
	d := metrics{}
	for k, v := range m {
		d[k] = v - o[k]
	}
	return d
}

// fastPath is the non-zero fast-path counters of m, for the log.
func (m metrics) fastPath() string {
	var s []string
	for k, v := range m {
		if v != 0 && (strings.HasPrefix(k, "herald_sip_fast_path_") || k == "herald_sip_invites_total") &&
			!strings.HasPrefix(k, "herald_sip_fast_path_transactions") {
			s = append(s, fmt.Sprintf("%s %v", k, v))
		}
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// wantVerdicts checks every series of herald_sip_fast_path_datagrams_total in m: those of want
// equal, the others 0 but reason "method": an OPTIONS of the readiness probe (Ping) may still be on
// its way when the first scrape is taken, and the calls have none.
func wantVerdicts(t *testing.T, what string, m metrics, want map[string]float64) {
	t.Helper()
	wantCounts(t, what, m, want)
	for k, v := range m {
		if _, ok := want[k]; !ok && v != 0 && strings.HasPrefix(k, "herald_sip_fast_path_datagrams_total{") && k != fpVerdict("general", "method") {
			t.Errorf("%s: %s %v, want 0", what, k, v)
		}
	}
}

func wantCounts(t *testing.T, what string, m metrics, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if _, ok := m[k]; !ok && w != 0 {
			t.Errorf("%s: no series %s in Herald's /metrics", what, k)
			continue
		}
		if g := m[k]; g != w {
			t.Errorf("%s: %s %v, want %v", what, k, g, w)
		}
	}
}

// sipCapture is a running `tshark -i lo` capture of SIP ports into a file.
type sipCapture struct {
	file   string
	ports  []int
	cmd    *exec.Cmd
	cancel context.CancelFunc // ends the capture: SIGINT (cmd.Cancel), SIGKILL WaitDelay later
	done   chan struct{}      // closed once tshark has exited and been waited for
	stderr bytes.Buffer       // read once tshark has exited (done)
	sent   *net.UDPConn       // the sentinel datagrams' socket, whose port is captured too
}

// startSIPCapture starts tshark on lo capturing everything to or from ports (and a sentinel port
// of its own) into file, and returns once tshark has captured a first sentinel datagram: nothing
// sent afterwards is missed.
func startSIPCapture(ctx context.Context, t *testing.T, file string, ports []int) *sipCapture {
	t.Helper()
	sent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sent.Close() })
	c := &sipCapture{file: file, ports: ports, done: make(chan struct{}), sent: sent}
	filter := []string{"udp port " + strconv.Itoa(sent.LocalAddr().(*net.UDPAddr).Port)}
	for _, p := range ports {
		filter = append(filter, "port "+strconv.Itoa(p))
	}
	cctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	// -P -T fields -e udp.payload: tshark prints each captured datagram's payload (hex), which is
	// how the sentinel is seen.
	c.cmd = exec.CommandContext(cctx, "tshark", "-i", "lo", "-f", strings.Join(filter, " or "), "-w", file, //nolint:gosec // the test's own peer
		"-P", "-l", "-T", "fields", "-e", "udp.payload")
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(os.Interrupt) } // tshark writes out its file
	c.cmd.WaitDelay = 5 * time.Second
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("tshark: %v", err)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- strings.TrimSpace(sc.Text()):
			default: // nobody waits for a sentinel: dropped
			}
		}
		close(lines)
	}()
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.stop)
	c.sentinel(ctx, t, lines)
	return c
}

// sentinel sends datagrams from the sentinel port until tshark prints one back.
func (c *sipCapture) sentinel(ctx context.Context, t *testing.T, lines <-chan string) {
	t.Helper()
	payload := fmt.Sprintf("herald-sipp-sentinel-%d", time.Now().UnixNano())
	want := fmt.Sprintf("%x", payload)
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9} // discard: only tshark reads it
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		if _, err := c.sent.WriteToUDP([]byte(payload), to); err != nil {
			t.Fatal(err)
		}
		select {
		case l, ok := <-lines:
			if !ok {
				<-c.done
				if msg := c.stderr.String(); strings.Contains(strings.ToLower(msg), "permission") && os.Getenv("HERALD_REQUIRE_PEERS") != "1" {
					t.Skipf("tshark cannot capture on lo here: %s", msg)
				}
				t.Fatalf("tshark exited before capturing:\n%s", c.stderr.String())
			}
			if l == want {
				return
			}
		case <-tick.C:
		case <-deadline:
			c.stop()
			t.Fatalf("tshark did not capture the sentinel datagram:\n%s", c.stderr.String())
		case <-ctx.Done():
			c.stop()
			t.Fatalf("tshark: %v\n%s", ctx.Err(), c.stderr.String())
		}
	}
}

// stop ends the capture and waits for tshark to have written out its file.
func (c *sipCapture) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	time.Sleep(300 * time.Millisecond) // the last segments through the capture
	c.cancel()
	<-c.done
}

// tsharkRead runs tshark over the capture, every captured port decoded as SIP, with a display
// filter, and returns its output lines.
func (c *sipCapture) tsharkRead(ctx context.Context, t *testing.T, filter string, fields ...string) []string {
	t.Helper()
	args := []string{"-r", c.file, "-Y", filter, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"}
	for _, p := range c.ports {
		args = append(args, "-d", "tcp.port=="+strconv.Itoa(p)+",sip", "-d", "udp.port=="+strconv.Itoa(p)+",sip")
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "tshark", args...) //nolint:gosec // the test's own peer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// checkSIPCapture: tshark finds no malformed frame and no expert error; every TCP payload on the
// path is SIP; no SIP over UDP; every Via says TCP; and each leg carries each call's INVITE, ACK
// and BYE exactly once (no retransmission, nothing lost).
func checkSIPCapture(ctx context.Context, t *testing.T, c *sipCapture, p tcpHop, uasPort int) {
	t.Helper()
	if bad := c.tsharkRead(ctx, t, "_ws.malformed || _ws.expert.severity >= error",
		"frame.number", "_ws.col.Info", "_ws.expert.message"); len(bad) > 0 {
		t.Errorf("tshark: %d malformed or erroneous frames, e.g.:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	if bad := c.tsharkRead(ctx, t, "tcp.len > 0 && !sip && !tcp.reassembled_in",
		"frame.number", "tcp.srcport", "tcp.dstport", "tcp.len"); len(bad) > 0 {
		t.Errorf("tshark: %d TCP segments with payload that is not SIP:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	if udp := c.tsharkRead(ctx, t, "sip && udp", "frame.number", "_ws.col.Info"); len(udp) > 0 {
		t.Errorf("tshark: %d SIP frames over UDP, want none:\n%s", len(udp), strings.Join(udp[:min(len(udp), 10)], "\n"))
	}
	// Per destination port: the requests' methods, and every Via's transport.
	rows := c.tsharkRead(ctx, t, "sip", "tcp.srcport", "tcp.dstport", "sip.Method", "sip.Via.transport")
	got := map[string]int{}
	var frames int
	for _, r := range rows {
		f := strings.Split(r, "\t")
		if len(f) < 4 {
			t.Fatalf("tshark row %q", r)
		}
		frames++
		for _, tr := range strings.Split(f[3], "|") {
			if tr != "TCP" {
				t.Errorf("tshark: a Via with transport %q in the frame %q", tr, r)
			}
		}
		if f[2] == "" {
			continue
		}
		for _, m := range strings.Split(f[2], "|") {
			got[f[1]+" "+m]++
		}
	}
	// Every call (the warm-up's too): into Herald from the caller, out of Herald to its next hop,
	// and (Kamailio) on to the callee.
	legs := []int{p.herald, p.next}
	if p.next != uasPort {
		legs = append(legs, uasPort)
	}
	for _, port := range legs {
		for _, m := range []string{"INVITE", "ACK", "BYE"} {
			if n := got[strconv.Itoa(port)+" "+m]; n != 1+tcpCalls {
				t.Errorf("tshark: %d %s requests to port %d over TCP, want %d (one per call)", n, m, port, 1+tcpCalls)
			}
		}
	}
	t.Logf("tshark: %d SIP frames, all TCP, none malformed; requests by destination port: %v", frames, got)
}
