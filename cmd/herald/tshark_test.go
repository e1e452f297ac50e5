package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/netio/freeport"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/profile"
)

// TestDemoCallMSRPDecodesInTshark captures the demo call's MSRP traffic on loopback with tshark and
// checks it with tshark's own dissectors:
//
//   - the capture as it was on the wire has no malformed packet and no expert error;
//   - tshark's TCP reassembly of each MSRP connection (follow,tcp,raw) splits, with core/msrp's Parser,
//     into whole frames and nothing else;
//   - those exact bytes, re-segmented one MSRP frame per TCP segment (see tsResegment for why), are
//     dissected by tshark frame by frame, in agreement with core/msrp, and show per session a bodiless
//     SEND, its 200, the page in SEND chunks whose Byte-Range runs 1-N/N in order, a 200 per chunk
//     and a REPORT "000 200";
//   - the pages put together from tshark's decoded msrp.data are byte-identical to the seed pages and
//     to what the simulated terminals received.
//
// The one error tolerated is a known tshark bug (tsContentTypeBug) that throws on valid chunks whose
// body has a ';' in its first bytes; those frames must draw exactly that error, their headers are
// still checked against tshark's decode, and their bodies come from core/msrp's parse of tshark's
// TCP reassembly.
func TestDemoCallMSRPDecodesInTshark(t *testing.T) {
	tshark := tsharkPath(t)
	if testing.Short() {
		t.Skip("tshark capture skipped in -short")
	}
	callerCard := tsSeedPage(t, "sip:alice@home1.net", true)
	calleeCard := tsSeedPage(t, "tel:+1-212-555-2222", false)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	if keep := os.Getenv("HERALD_TSHARK_KEEP"); keep != "" { // debugging aid: keep the captures of a failed run
		t.Cleanup(func() {
			if !t.Failed() {
				return
			}
			for _, name := range []string{"cap.pcapng", "frames.pcap"} {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
					_ = os.WriteFile(filepath.Join(keep, name), b, 0o600)
				}
			}
			t.Logf("captures kept in %s", keep)
		})
	}
	capFile := filepath.Join(dir, "cap.pcapng")

	// The MSRP port is chosen before the call so that the capture filter can name it. Another
	// process may take it in between (bind, close, rebind): then try another port.
	var (
		dc   *demoCall
		port int
	)
	for attempt := 1; ; attempt++ {
		port = tsFreePort(t)
		capt := tsStartCapture(ctx, t, tshark, port, capFile)
		var err error
		dc, err = runDemoCall(ctx, demoOptions{
			From: "sip:alice@home1.net",
			To:   "tel:+1-212-555-2222",
			Configure: func(o *config.Options) {
				o.MSRP.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			},
		})
		capt.stop(ctx, t)
		if err != nil && attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("msrp port %d taken before Herald bound it, retrying: %v", port, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if dc.Caller.Final != 200 {
		t.Fatalf("call ended with %d, want 200", dc.Caller.Final)
	}
	if _, hp := dc.Herald.msrp.Addr(); hp != port {
		t.Fatalf("Herald's MSRP port %d, want the pinned %d", hp, port)
	}
	atCallee := dc.Callee.Page
	atCaller := dc.Caller.Pages[uesim.CalleeCard]
	if dc.Callee.PageErr != nil || !bytes.Equal(atCallee, callerCard) {
		t.Fatalf("caller card at the callee's terminal: %v, %d bytes want %d", dc.Callee.PageErr, len(atCallee), len(callerCard))
	}
	if err := dc.Caller.PageErrors[uesim.CalleeCard]; err != nil || !bytes.Equal(atCaller, calleeCard) {
		t.Fatalf("callee card at the caller's terminal: %v, %d bytes want %d", err, len(atCaller), len(calleeCard))
	}

	sessions := tsMSRPSessions(ctx, t, tshark, capFile, dir, port, 2)
	want := map[string]struct {
		label          string
		page, terminal []byte
		chunks         int
	}{
		dc.Callee.Fetch.MessageID: {"caller card (alice's) to bob's terminal", callerCard, atCallee,
			dc.Callee.Fetch.Chunks},
		dc.Caller.Fetches[uesim.CalleeCard].MessageID: {"callee card (bob's) to alice's terminal", calleeCard, atCaller,
			dc.Caller.Fetches[uesim.CalleeCard].Chunks},
	}
	if len(want) != 2 {
		t.Fatalf("the terminals report message ids %q and %q", dc.Callee.Fetch.MessageID, dc.Caller.Fetches[uesim.CalleeCard].MessageID)
	}
	seen := map[string]bool{}
	for _, ss := range sessions {
		w, ok := want[ss.msgID]
		if !ok {
			t.Fatalf("connection from port %d carries Message-ID %q, which no terminal fetched", ss.termPort, ss.msgID)
		}
		seen[ss.msgID] = true
		if !bytes.Equal(ss.page, w.page) {
			t.Fatalf("%s: tshark's decoded msrp.data makes %d bytes, not the seed page's %d (first difference at %d)",
				w.label, len(ss.page), len(w.page), tsFirstDiff(ss.page, w.page))
		}
		if !bytes.Equal(ss.page, w.terminal) {
			t.Fatalf("%s: tshark's decoded page differs from the terminal's at byte %d", w.label, tsFirstDiff(ss.page, w.terminal))
		}
		if ss.chunks != w.chunks {
			t.Fatalf("%s: %d chunk SENDs on the wire, the terminal counted %d", w.label, ss.chunks, w.chunks)
		}
		t.Logf("%s: %d bytes in %d chunks, identical; tshark dissected every frame, %d chunk bodies taken from core/msrp's parse of tshark's reassembly because of tshark's Content-Type bug",
			w.label, len(ss.page), ss.chunks, ss.fromParser)
	}
	if len(seen) != 2 {
		t.Fatalf("pages seen on the wire: %v, want both", seen)
	}
}

// tsharkPath returns tshark's path, or skips (fails with HERALD_REQUIRE_PEERS=1) when it is absent.
func tsharkPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatal("tshark not installed and HERALD_REQUIRE_PEERS=1")
		}
		t.Skip("tshark not installed")
	}
	return path
}

// tsSeedPage returns the caller card (caller true) or callee card of the seed subscriber id.
func tsSeedPage(t *testing.T, id string, caller bool) []byte {
	t.Helper()
	st, err := profile.LoadSeed(configs.Seed)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := profile.LookupURI(st, id)
	if !ok {
		t.Fatalf("no seed profile for %s", id)
	}
	card := p.CalleeCard
	if caller {
		card = p.CallerCard
	}
	if card == nil || len(card.Body) == 0 {
		t.Fatalf("seed profile %s has no such card", id)
	}
	return card.Body
}

// tsFreePort returns a port of 127.0.0.1 leased to this process below the ephemeral range
// (netio/freeport).
func tsFreePort(t *testing.T) int {
	t.Helper()
	return freeport.Must(t, "127.0.0.1")
}

// tsRun runs tshark to completion and returns its stdout; any failure fails the test with stderr.
func tsRun(ctx context.Context, t *testing.T, tshark string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tshark, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// tsLines is an io.Writer that hands each complete line to fn.
type tsLines struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *tsLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.fn(string(bytes.TrimRight(w.buf[:i], "\r")))
		w.buf = w.buf[i+1:]
	}
}

// tsCapture is a running `tshark -i lo` capture of one port.
type tsCapture struct {
	cmd    *exec.Cmd
	port   int
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, valid after exited

	mu      sync.Mutex
	stderr  strings.Builder
	ready   chan struct{}            // closed on "Capturing on"
	waiting map[string]chan struct{} // sentinel payload (hex) -> closed when tshark printed it
	printed map[string]bool
}

// tsStartCapture starts tshark capturing TCP and UDP on port of lo into file, and returns once tshark
// has said it is capturing and has seen a first sentinel datagram (so nothing sent afterwards is lost).
// tshark also prints each captured UDP payload (-P -T fields), which is how sentinels are noticed.
func tsStartCapture(ctx context.Context, t *testing.T, tshark string, port int, file string) *tsCapture {
	t.Helper()
	c := &tsCapture{port: port, exited: make(chan struct{}), ready: make(chan struct{}),
		waiting: map[string]chan struct{}{}, printed: map[string]bool{}}
	c.cmd = exec.CommandContext(ctx, tshark, "-i", "lo", "-f", "port "+strconv.Itoa(port), "-w", file,
		"-P", "-l", "-T", "fields", "-e", "udp.payload")
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
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	select {
	case <-c.ready:
	case <-c.exited:
		msg := c.stderrText()
		if strings.Contains(strings.ToLower(msg), "permission") && os.Getenv("HERALD_REQUIRE_PEERS") != "1" {
			// Capturing needs root or dumpcap's capabilities (setcap cap_net_raw,cap_net_admin+eip).
			t.Skipf("tshark cannot capture on lo here: %s", msg)
		}
		t.Fatalf("tshark exited before capturing: %v\n%s", c.err, msg)
	case <-ctx.Done():
		t.Fatalf("tshark did not start capturing: %v\n%s", ctx.Err(), c.stderrText())
	}
	c.sentinel(ctx, t, "start")
	return c
}

func (c *tsCapture) stderrText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

func (c *tsCapture) line(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.printed[s] = true
	if ch, ok := c.waiting[s]; ok {
		close(ch)
		delete(c.waiting, s)
	}
}

// sentinel sends a UDP datagram to the captured port and waits until tshark has printed it: every
// packet sent on lo before it is then in tshark's hands.
func (c *tsCapture) sentinel(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	payload := fmt.Sprintf("herald-tshark-sentinel-%s-%d", name, time.Now().UnixNano())
	key := hex.EncodeToString([]byte(payload))
	seen := make(chan struct{})
	c.mu.Lock()
	if c.printed[key] {
		close(seen)
	} else {
		c.waiting[key] = seen
	}
	c.mu.Unlock()
	// Unconnected, so that the ICMP port unreachable each datagram draws does not fail the next send.
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.port}
	// Resent until seen: a datagram sent while the capture is still being set up may go uncaptured.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for sent := 1; ; sent++ {
		if _, err := conn.WriteTo([]byte(payload), to); err != nil {
			t.Fatal(err)
		}
		select {
		case <-seen:
			if sent > 1 {
				t.Logf("tshark saw the %s sentinel after %d sends", name, sent)
			}
			return
		case <-tick.C:
		case <-c.exited:
			t.Fatalf("tshark exited before it saw the %s sentinel: %v\n%s", name, c.err, c.stderrText())
		case <-ctx.Done():
			t.Fatalf("tshark never printed the %s sentinel: %v\n%s", name, ctx.Err(), c.stderrText())
		}
	}
}

// stop waits for tshark to have captured everything sent so far, then stops it (SIGINT) so that it
// closes the capture file.
func (c *tsCapture) stop(ctx context.Context, t *testing.T) {
	t.Helper()
	c.sentinel(ctx, t, "end")
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("tshark: %v", err)
	}
	select {
	case <-c.exited:
	case <-ctx.Done():
		t.Fatalf("tshark did not stop: %v", ctx.Err())
	}
	if c.err != nil {
		t.Fatalf("tshark: %v\n%s", c.err, c.stderrText())
	}
}

// The follow parser splits several streams' blocks, keeps segment direction and stream numbers,
// skips streams that do not exist and rejects output that is not a connection to port.
func TestTsharkFollowParse(t *testing.T) {
	block := func(n int, node0, node1, data string) string {
		return "\n=====\nFollow: tcp,raw\nFilter: tcp.stream eq " + strconv.Itoa(n) + "\nNode 0: " + node0 +
			"\nNode 1: " + node1 + "\n" + data + "=====\n"
	}
	client := block(0, "127.0.0.1:40000", "127.0.0.1:2855", "6869\n\t6f6b\n")
	server := block(1, "127.0.0.1:2855", "127.0.0.1:40001", "6869\n\t6f6b\n")
	absent := block(2, ":0", ":0", "")
	type want struct {
		index, termPort int
		segs            []tsSegment
	}
	tests := map[string]struct {
		in      string
		port    int
		wantErr bool
		want    []want
	}{
		"client first": {in: client, port: 2855,
			want: []want{{0, 40000, []tsSegment{{false, []byte("hi")}, {true, []byte("ok")}}}}},
		"server first": {in: server, port: 2855,
			want: []want{{1, 40001, []tsSegment{{true, []byte("hi")}, {false, []byte("ok")}}}}},
		"several, absent skipped": {in: absent + server + client, port: 2855,
			want: []want{{1, 40001, nil}, {0, 40000, nil}}},
		"only absent":   {in: absent, port: 2855},
		"other port":    {in: client, port: 9, wantErr: true},
		"bad hex":       {in: strings.Replace(client, "6869", "68zz", 1), port: 2855, wantErr: true},
		"no nodes":      {in: "\n=====\nFollow: tcp,raw\nFilter: tcp.stream eq 0\n6869\n=====\n", port: 2855, wantErr: true},
		"no filter":     {in: strings.Replace(client, "Filter: tcp.stream eq 0\n", "", 1), port: 2855, wantErr: true},
		"bad address":   {in: strings.Replace(client, "127.0.0.1:40000", "nowhere", 1), port: 2855, wantErr: true},
		"absent w/data": {in: block(2, ":0", ":0", "6869\n"), port: 2855, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got []*tsStream
			var err error
			for _, b := range tsFollowBlocks([]byte(tt.in)) {
				var s *tsStream
				if s, err = tsParseFollow(b, tt.port); err != nil {
					break
				}
				if s != nil {
					got = append(got, s)
				}
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d streams, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				s := got[i]
				if s.index != w.index || s.termPort != w.termPort {
					t.Fatalf("stream %d: index %d port %d, want %d %d", i, s.index, s.termPort, w.index, w.termPort)
				}
				if w.segs == nil {
					continue
				}
				if len(s.segments) != len(w.segs) {
					t.Fatalf("stream %d: %d segments, want %d", i, len(s.segments), len(w.segs))
				}
				for j, seg := range s.segments {
					if seg.fromHerald != w.segs[j].fromHerald || !bytes.Equal(seg.data, w.segs[j].data) {
						t.Fatalf("segment %d %+v, want %+v", j, seg, w.segs[j])
					}
				}
			}
		})
	}
}

// The synthesized packets carry valid IPv4 and TCP checksums (a packet with its checksum folded in
// sums to zero), so tshark's checksum validation, when on, finds nothing to flag.
func TestTsharkIPv4TCPChecksums(t *testing.T) {
	for name, payload := range map[string][]byte{"empty": nil, "even": []byte("MSRP"), "odd": []byte("MSRP a")} {
		t.Run(name, func(t *testing.T) {
			p := tsIPv4TCP(40000, 2855, 1, 2, 0x18, payload)
			if c := tsChecksum(0, p[:20]); c != 0 {
				t.Fatalf("ip checksum residue %#x", c)
			}
			pseudo := append(append([]byte{}, p[12:20]...), 0, 6, byte((len(p)-20)>>8), byte(len(p)-20))
			if c := tsChecksum(tsSum(0, pseudo), p[20:]); c != 0 {
				t.Fatalf("tcp checksum residue %#x", c)
			}
			if !bytes.Equal(p[40:], payload) || int(binary.BigEndian.Uint16(p[2:])) != len(p) {
				t.Fatalf("packet %x", p)
			}
		})
	}
}

// tsContentTypeBug predicts tshark's exception from the bytes it searches for ';' past the
// Content-Type line: the rest of the line plus CRLF CRLF and the first bytes of the body.
func TestTsharkContentTypeBugPredicate(t *testing.T) {
	frame := func(ctype, body string) []byte {
		return []byte("MSRP a1b2c3d4 SEND\r\nTo-Path: msrp://h:9/s;tcp\r\nFrom-Path: msrp://h:2855/t;tcp\r\n" +
			"Message-ID: m\r\nByte-Range: 1-" + strconv.Itoa(len(body)) + "/" + strconv.Itoa(len(body)) + "\r\n" +
			"Content-Type: " + ctype + "\r\n\r\n" + body + "\r\n-------a1b2c3d4$\r\n")
	}
	tests := map[string]struct {
		raw  []byte
		want bool
	}{
		"semicolon first body byte":    {frame("text/html", ";x"), true},
		"semicolon at body byte 9":     {frame("text/html", "012345678;"), true}, // checked against tshark 4.0.17
		"semicolon at body byte 10":    {frame("text/html", "0123456789;"), false},
		"no semicolon":                 {frame("text/html", "<!DOCTYPE html>"), false},
		"content-type with parameters": {frame("text/html;charset=utf-8", ";x"), false},
		"bodiless":                     {[]byte("MSRP a1b2c3d4 SEND\r\nTo-Path: x\r\nFrom-Path: y\r\n-------a1b2c3d4$\r\n"), false},
		"response":                     {[]byte("MSRP a1b2c3d4 200 OK\r\nTo-Path: x\r\nFrom-Path: y\r\n-------a1b2c3d4$\r\n"), false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tsContentTypeBug(tt.raw); got != tt.want {
				t.Fatalf("tsContentTypeBug = %v, want %v", got, tt.want)
			}
		})
	}
}
