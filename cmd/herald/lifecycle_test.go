package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.yaml.in/yaml/v3"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/profile"
)

// The lifecycle tests run "herald serve" in a child process (this test binary, re-executed into
// TestServeChild) and drive it with real signals: SIGTERM drains, SIGHUP reloads, and the exit
// code is the process's own.

// serveChildEnv names the config file the child serves.
const serveChildEnv = "HERALD_SERVE_CHILD"

// TestServeChild is "herald serve -c $HERALD_SERVE_CHILD" for the lifecycle tests; it skips when
// run on its own.
func TestServeChild(t *testing.T) {
	path := os.Getenv(serveChildEnv)
	if path == "" {
		t.Skip("the child process of the lifecycle tests (HERALD_SERVE_CHILD unset)")
	}
	os.Exit(run([]string{"serve", "-c", path}, os.Stdout, os.Stderr))
}

// serveChild is one "herald serve" process and its JSON log.
type serveChild struct {
	t    *testing.T
	cmd  *exec.Cmd
	sip  string // the UDP address SIP listens on
	http string // the page listener (/readyz)

	mu    sync.Mutex
	lines []map[string]any
	more  chan struct{} // closed and replaced on every line

	done chan struct{} // the process exited; code is its exit code
	code int
}

// startServe writes o as a config file and starts a child serving it, with JSON logs at o's level.
func startServe(t *testing.T, o *config.Options) *serveChild {
	t.Helper()
	o.Log.Format = "json"
	o.DataDir = t.TempDir()
	path := filepath.Join(t.TempDir(), "herald.yaml")
	writeOptions(t, path, o)
	return startServeFile(t, path)
}

// writeOptions writes o to path as YAML.
func writeOptions(t *testing.T, path string, o *config.Options) {
	t.Helper()
	b, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func startServeFile(t *testing.T, path string) *serveChild {
	t.Helper()
	c := &serveChild{t: t, more: make(chan struct{}), done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestServeChild$") //nolint:gosec // this test binary
	c.cmd.Env = append(os.Environ(), serveChildEnv+"="+path)
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go c.read(stderr)
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			c.mu.Lock()
			for _, l := range c.lines {
				t.Logf("herald: %v", l)
			}
			c.mu.Unlock()
		}
	})
	l := c.waitLog(20*time.Second, func(l map[string]any) bool { return l["msg"] == "herald serving" })
	c.sip, _ = l["sip"].(string)
	c.http, _ = l["http"].(string)
	return c
}

// read collects the child's log lines until it exits, then records its exit code.
func (c *serveChild) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := map[string]any{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			m = map[string]any{"msg": "(not JSON) " + sc.Text()}
		}
		c.mu.Lock()
		c.lines = append(c.lines, m)
		close(c.more)
		c.more = make(chan struct{})
		c.mu.Unlock()
	}
	err := c.cmd.Wait()
	c.code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		c.code = ee.ExitCode()
	} else if err != nil {
		c.code = -1
	}
	close(c.done)
}

// waitLog returns the first log line that pred accepts, failing the test after d.
func (c *serveChild) waitLog(d time.Duration, pred func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(d)
	seen := 0
	for {
		c.mu.Lock()
		lines, more := c.lines[seen:], c.more
		c.mu.Unlock()
		for _, l := range lines {
			seen++
			if pred(l) {
				return l
			}
		}
		select {
		case <-more:
		case <-c.done:
			c.mu.Lock()
			n := len(c.lines)
			c.mu.Unlock()
			if n == seen {
				c.t.Fatalf("herald exited (code %d) before the awaited log line", c.code)
			}
		case <-deadline:
			c.t.Fatalf("no awaited log line within %s", d)
		}
	}
}

// logs returns the lines logged so far that pred accepts.
func (c *serveChild) logs(pred func(map[string]any) bool) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, l := range c.lines {
		if pred(l) {
			out = append(out, l)
		}
	}
	return out
}

func (c *serveChild) signal(sig os.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
}

// exit waits at most d for the process to end and returns its exit code.
func (c *serveChild) exit(d time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(d):
		c.t.Fatalf("herald still running %s after the stop signal", d)
		return -1
	}
}

func (c *serveChild) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// readyz is the status of GET /readyz.
func (c *serveChild) readyz() int {
	c.t.Helper()
	resp, err := http.Get("http://" + c.http + "/readyz") //nolint:noctx // the test's own loopback URL
	if err != nil {
		c.t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func msgIs(msg string) func(map[string]any) bool {
	return func(l map[string]any) bool { return l["msg"] == msg }
}

// slowReads throttles a terminal's MSRP reads (at most chunk bytes every gap, and a small receive
// buffer, so that the kernel does not take the whole page off Herald) so that a page stays in
// flight, until fast is set; the buffer is then enlarged again (a small one trickles the stream
// even to a fast reader: window-limited, on delayed ACKs). While stalled is set, nothing is read.
type slowReads struct {
	chunk   int
	gap     time.Duration
	fast    atomic.Bool
	stalled atomic.Bool
}

func (s *slowReads) wrap(c net.Conn) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(16 << 10)
	}
	return &slowConn{Conn: c, s: s}
}

type slowConn struct {
	net.Conn
	s      *slowReads
	opened bool
}

func (c *slowConn) Read(b []byte) (int, error) {
	for c.s.stalled.Load() {
		time.Sleep(c.s.gap)
	}
	if c.s.fast.Load() {
		if tc, ok := c.Conn.(*net.TCPConn); ok && !c.opened {
			c.opened = true
			_ = tc.SetReadBuffer(4 << 20) // the window opens again
		}
		return c.Conn.Read(b)
	}
	time.Sleep(c.s.gap)
	return c.Conn.Read(b[:min(len(b), c.s.chunk)])
}

// lifecycleConfig is the demo config toward callee, as the child serves it: Herald leaves the
// dialog at the final response (sip.record_route false, the default) unless a test says otherwise.
func lifecycleConfig(t *testing.T, callee string) *config.Options {
	t.Helper()
	o, err := demoConfig(callee)
	if err != nil {
		t.Fatal(err)
	}
	o.SIP.RecordRoute = false
	o.Log.Level = "info"
	return o
}

// newCaller is a caller terminal on loopback, its RTP port rtpPort (0: a fake one).
func newCaller(t *testing.T, o uesim.CallerOptions) *uesim.Caller {
	t.Helper()
	o.Listen, o.Logger = "127.0.0.1:0", slog.New(slog.DiscardHandler)
	c, err := uesim.NewCaller(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newCallee(t *testing.T, o uesim.CalleeOptions) *uesim.Callee {
	t.Helper()
	o.Listen, o.Logger = "127.0.0.1:0", slog.New(slog.DiscardHandler)
	c, err := uesim.NewCallee(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond every 10 ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ringing counts the callee's calls that got their page fetch under way: INVITE answered 183 and
// PRACKed, so pushes and ringback run.
func ringing(callee *uesim.Callee) int {
	n := 0
	for _, c := range callee.Calls() {
		if c.Pracked && c.Final == 0 {
			n++
		}
	}
	return n
}

type callOutcome struct {
	res *uesim.CallResult
	err error
}

// placeCalls starts n calls from alice to to (bob when "") through herald, one caller terminal each,
// and returns where their outcomes arrive. Each caller's RTP port is a socket of rtp (ringback
// counted there).
func placeCalls(t *testing.T, herald string, n int, o uesim.CallerOptions, rtp []*net.UDPConn, to ...string) chan callOutcome {
	callee := "tel:+1-212-555-2222"
	if len(to) > 0 {
		callee = to[0]
	}
	t.Helper()
	out := make(chan callOutcome, n)
	for i := range n {
		co := o
		if rtp != nil {
			co.RTPPort = rtp[i].LocalAddr().(*net.UDPAddr).Port
		}
		cr := newCaller(t, co)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := cr.Call(ctx, herald, "sip:alice@home1.net", callee)
			out <- callOutcome{res, err}
		}()
	}
	return out
}

// inviteAnswer places one call and returns the final response Herald (or the callee) sent.
func inviteAnswer(t *testing.T, herald string) *uesim.Message {
	t.Helper()
	cr := newCaller(t, uesim.CallerOptions{HoldTime: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, _ := cr.Call(ctx, herald, "sip:alice@home1.net", "tel:+1-212-555-2222")
	if res == nil {
		t.Fatal("no call result")
	}
	for i := range res.Messages {
		m := &res.Messages[i]
		if m.Dir == uesim.Received && m.Method() == "INVITE" && m.Status() >= 200 {
			return m
		}
	}
	t.Fatalf("no final response to the INVITE (final %d)", res.Final)
	return nil
}

// rtpCounter counts the datagrams each socket receives.
func rtpCounter(t *testing.T, n int) ([]*net.UDPConn, []*atomic.Int64) {
	t.Helper()
	socks := make([]*net.UDPConn, n)
	counts := make([]*atomic.Int64, n)
	for i := range n {
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		socks[i], counts[i] = pc, new(atomic.Int64)
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
				counts[i].Add(1)
			}
		}()
	}
	return socks, counts
}

// TestDrainFinishesRingingCalls: three calls ring with their pages in flight (slow MSRP reads) and
// ringback playing; SIGTERM turns /readyz to 503 and a new INVITE is answered 503 with
// Retry-After, while the three calls go on: ringback keeps flowing, both pages of each arrive
// whole, the callees answer, and the process exits 0 once they have, within drain_timeout. Their
// ACK and BYE go between the terminals (no Record-Route) and succeed after Herald is gone.
func TestDrainFinishesRingingCalls(t *testing.T) {
	gate := make(chan struct{})
	slow := &slowReads{chunk: 256, gap: 40 * time.Millisecond} // ~6 KB/s: seconds per page
	callee := newCallee(t, uesim.CalleeOptions{RingTime: -1, AnswerGate: gate,
		Link: uesim.Link{MSRPConn: slow.wrap}, MaxCallTime: 30 * time.Second})
	o := lifecycleConfig(t, callee.Addr())
	o.Shutdown.DrainTimeout = config.Duration(20 * time.Second)
	h := startServe(t, o)
	if code := h.readyz(); code != http.StatusOK {
		t.Fatalf("/readyz while serving = %d", code)
	}

	rtp, counts := rtpCounter(t, 3)
	var reports atomic.Int64 // success REPORTs the callers sent: callee cards in whole
	outcomes := placeCalls(t, h.sip, 3, uesim.CallerOptions{HoldTime: 500 * time.Millisecond,
		Link: uesim.Link{MSRPConn: slow.wrap}, Trace: func(_, proto, summary string) {
			if proto == "MSRP" && strings.HasPrefix(summary, "REPORT Status: 000 200") {
				reports.Add(1)
			}
		}}, rtp)
	waitFor(t, 10*time.Second, "three calls ringing", func() bool { return ringing(callee) == 3 })
	waitFor(t, 5*time.Second, "ringback on every call", func() bool {
		return counts[0].Load() > 0 && counts[1].Load() > 0 && counts[2].Load() > 0
	})

	if n := reports.Load(); n == 3 {
		t.Fatal("every callee card was in before SIGTERM: nothing in flight to drain")
	}
	stopAt := time.Now()
	h.signal(syscall.SIGTERM)
	h.waitLog(5*time.Second, msgIs("draining: new calls refused, ringing calls go on"))
	if code := h.readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining = %d, want 503", code)
	}
	fin := inviteAnswer(t, h.sip)
	if fin.Status() != 503 || fin.Response.GetHeader("Retry-After") == nil {
		t.Fatalf("new INVITE during the drain answered %d (Retry-After %v), want 503 with Retry-After",
			fin.Status(), fin.Response.GetHeader("Retry-After"))
	}
	// The ringing calls are untouched: ringback still flows and Herald is still up.
	before := []int64{counts[0].Load(), counts[1].Load(), counts[2].Load()}
	waitFor(t, 5*time.Second, "ringback during the drain", func() bool {
		return counts[0].Load() > before[0] && counts[1].Load() > before[1] && counts[2].Load() > before[2]
	})
	if h.exited() || ringing(callee) != 3 {
		t.Fatalf("drain cut the ringing calls: exited %t, ringing %d", h.exited(), ringing(callee))
	}

	// Pushes end at the final response: the callees answer once both pages of every call are in
	// (a callee waits for its own fetch; the callers' are counted by their REPORTs).
	waitFor(t, 10*time.Second, "callee cards delivered during the drain", func() bool { return reports.Load() == 3 })
	close(gate)
	if code := h.exit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after the drain, want 0", code)
	}
	if d := time.Since(stopAt); d > o.Shutdown.DrainTimeout.D() {
		t.Fatalf("drain took %s, above drain_timeout %s", d, o.Shutdown.DrainTimeout.D())
	}
	bob, alice := seedProfile(t, "tel:+1-212-555-2222"), seedProfile(t, "sip:alice@home1.net")
	for range 3 {
		oc := <-outcomes
		if oc.err != nil || oc.res.Final != 200 {
			t.Fatalf("call %s: final %d, %v", oc.res.CallID, oc.res.Final, oc.err)
		}
		if got := oc.res.Pages[uesim.CalleeCard]; string(got) != string(bob.CalleeCard.Body) {
			t.Fatalf("call %s: callee card %d bytes, %v", oc.res.CallID, len(got), oc.res.PageErrors[uesim.CalleeCard])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cc, err := callee.WaitCall(ctx, oc.res.CallID)
		cancel()
		if err != nil || string(cc.Page) != string(alice.CallerCard.Body) || !cc.Bye {
			t.Fatalf("call %s at the callee: caller card %d bytes (%v), BYE %t, %v", oc.res.CallID, len(cc.Page), cc.PageErr, cc.Bye, err)
		}
	}
	if l := h.logs(msgIs("drained")); len(l) != 1 {
		t.Fatalf("%d \"drained\" lines", len(l))
	}
}

// bigSeed is the embedded seed in a directory, with alice's caller card replaced by a page of
// about 900 KB that does not compress: at a slow terminal's pace it stays in flight for many
// seconds.
func bigSeed(t *testing.T) string {
	t.Helper()
	return seedWithCard(t, 450<<10)
}

// seedWithCard is the embedded seed with alice's caller card replaced by an incompressible page
// of about 2×n bytes (n random bytes, hex-encoded).
func seedWithCard(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(configs.Seed, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, p), 0o750)
		}
		b, err := fs.ReadFile(configs.Seed, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, n)
	_, _ = rand.Read(noise)
	page := "<!DOCTYPE html>\n<html><head><title>Alice</title></head><body><p>" + hex.EncodeToString(noise) + "</p></body></html>\n"
	if err := os.WriteFile(filepath.Join(dir, "pages", "alice-card.html"), []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDrainTimeoutEndsRingingCalls: with a drain_timeout shorter than the calls, three calls still
// ringing when it passes each end cleanly: the caller gets 487, the callee a CANCEL; the page still
// in flight to each callee (about 900 KB, read slowly) ends as a whole message or with a chunk
// closed by '#' (RFC 4975 §7.1.1), never cut off; then the process exits 0.
//
// Over loopback the kernel takes a page of up to 1 MB (content.MaxPageBytes) off Herald at once
// (loopback's 64 KB MSS makes the send buffer large from the first segment), so here Herald has
// usually written the last chunk when the drain ends and the terminal reads a whole page; the '#'
// of a transfer cut mid-page is netio/msrp's TestCloseMidTransfer. What this test holds is that the
// drain never leaves a terminal with a message that neither ends nor is aborted.
func TestDrainTimeoutEndsRingingCalls(t *testing.T) {
	slow := &slowReads{chunk: 512, gap: 20 * time.Millisecond} // ~25 KB/s
	var lastChunk sync.Map                                     // call's MSRP connection → time its message ended ($ or #)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: -1, AnswerGate: make(chan struct{}),
		Link: uesim.Link{MSRPConn: slow.wrap}, FetchTimeout: 30 * time.Second, MaxCallTime: 30 * time.Second,
		Trace: func(dir, proto, summary string) {
			if proto == "MSRP" && strings.HasPrefix(summary, "SEND chunk") && !strings.HasSuffix(summary, ", more)") {
				lastChunk.Store(summary, time.Now())
			}
		}})
	o := lifecycleConfig(t, callee.Addr())
	o.Seed = bigSeed(t)
	o.MSRP.MaxOutbound = 2 * o.MSRP.ChunkSize // Herald's own queue holds two chunks
	o.Shutdown.DrainTimeout = config.Duration(time.Second)
	h := startServe(t, o)

	outcomes := placeCalls(t, h.sip, 3, uesim.CallerOptions{HoldTime: -1}, nil)
	waitFor(t, 10*time.Second, "three calls ringing", func() bool { return ringing(callee) == 3 })
	stopAt := time.Now()
	h.signal(syscall.SIGTERM)
	h.waitLog(5*time.Second, msgIs("drain timeout: ending the calls still ringing (487 to the caller, CANCEL to the callee)"))
	abortAt := time.Now()
	if d := abortAt.Sub(stopAt); d < o.Shutdown.DrainTimeout.D() {
		t.Fatalf("calls ended %s after SIGTERM, before drain_timeout %s", d, o.Shutdown.DrainTimeout.D())
	}
	ended := 0
	lastChunk.Range(func(_, v any) bool {
		if v.(time.Time).Before(stopAt) {
			ended++
		}
		return true
	})
	if ended > 0 {
		t.Fatalf("%d pages were in before SIGTERM: nothing in flight", ended)
	}
	slow.fast.Store(true) // the terminals now read what is queued, up to the end-line
	if code := h.exit(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if d := time.Since(stopAt); d > o.Shutdown.DrainTimeout.D()+abortWait(o.MSRP.LingerMax.D())+5*time.Second {
		t.Fatalf("stop took %s", d)
	}
	alice := seedProfileFrom(t, o.Seed, "sip:alice@home1.net")
	for range 3 {
		oc := <-outcomes
		if oc.res == nil || oc.res.Final != 487 {
			t.Fatalf("caller: %+v, %v; want a 487 final response", oc.res, oc.err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cc, err := callee.WaitCall(ctx, oc.res.CallID)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !cc.Canceled || cc.Final != 487 {
			t.Fatalf("callee of %s: canceled %t, final %d; want a CANCEL (and its 487)", oc.res.CallID, cc.Canceled, cc.Final)
		}
		whole := cc.PageErr == nil && string(cc.Page) == string(alice.CallerCard.Body)
		if !whole && !errors.Is(cc.PageErr, uesim.ErrAborted) {
			t.Fatalf("callee of %s: page %d bytes, %v; want it whole or ended by '#'", oc.res.CallID, len(cc.Page), cc.PageErr)
		}
	}
}

// seedProfileFrom is seedProfile for the seed in directory dir.
func seedProfileFrom(t *testing.T, dir, id string) *profile.Profile {
	t.Helper()
	st, err := loadSeed(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := profile.Canonical(id)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := st.Lookup(key)
	if !ok {
		t.Fatalf("no profile for %s in %s", id, dir)
	}
	return p
}

// TestDrainKeepsAnsweredCalls: a drain breaks no call answered before it. With the default
// sip.record_route false the ACK and BYE never pass Herald, so the BYE of a call answered before
// SIGTERM succeeds after Herald has exited. With record_route true, Herald relays the BYE during
// shutdown.dialog_grace and exits 0 after it.
func TestDrainKeepsAnsweredCalls(t *testing.T) {
	answered := func(t *testing.T, callee *uesim.Callee) {
		t.Helper()
		waitFor(t, 10*time.Second, "call answered and ACKed", func() bool {
			cs := callee.Calls()
			return len(cs) == 1 && cs[0].Final == 200 && cs[0].Acked
		})
	}
	byeOf := func(res *uesim.CallResult) *sip.Request {
		for _, m := range res.Messages {
			if m.Dir == uesim.Sent && m.Request != nil && m.Request.Method == sip.BYE {
				return m.Request
			}
		}
		return nil
	}
	// Calls to dave: alice's caller card goes to his terminal, which answers once it has it; dave
	// has no callee card, so no push is cut by the answer.
	const dave = "sip:dave@home1.net"
	t.Run("record_route=false", func(t *testing.T) {
		callee := newCallee(t, uesim.CalleeOptions{RingTime: -1})
		h := startServe(t, lifecycleConfig(t, callee.Addr()))
		outcomes := placeCalls(t, h.sip, 1, uesim.CallerOptions{HoldTime: 3 * time.Second}, nil, dave)
		answered(t, callee)
		h.signal(syscall.SIGTERM)
		if code := h.exit(10 * time.Second); code != 0 { // no call rings: nothing to wait for (10 s: a loaded machine)
			t.Fatalf("exit code %d", code)
		}
		oc := <-outcomes // the BYE goes after the hold, Herald gone
		if oc.err != nil || oc.res.Final != 200 {
			t.Fatalf("call answered before the drain: final %d, %v", oc.res.Final, oc.err)
		}
		if bye := byeOf(oc.res); bye == nil || bye.Route() != nil {
			t.Fatalf("BYE %v: want one sent straight to the callee (no Route)", bye)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if cc, err := callee.WaitCall(ctx, oc.res.CallID); err != nil || !cc.Bye {
			t.Fatalf("callee: BYE %t, %v", cc.Bye, err)
		}
	})
	t.Run("record_route=true", func(t *testing.T) {
		callee := newCallee(t, uesim.CalleeOptions{RingTime: -1})
		o := lifecycleConfig(t, callee.Addr())
		o.SIP.RecordRoute = true
		o.Shutdown.DialogGrace = config.Duration(4 * time.Second)
		h := startServe(t, o)
		outcomes := placeCalls(t, h.sip, 1, uesim.CallerOptions{HoldTime: 1500 * time.Millisecond}, nil, dave)
		answered(t, callee)
		stopAt := time.Now()
		h.signal(syscall.SIGTERM)
		h.waitLog(5*time.Second, msgIs("no call rings: relaying in-dialog requests of answered calls until the grace ends"))
		if code := h.readyz(); code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz during the dialog grace = %d", code)
		}
		oc := <-outcomes
		if oc.err != nil || oc.res.Final != 200 {
			t.Fatalf("call answered before the drain: final %d, %v", oc.res.Final, oc.err)
		}
		if bye := byeOf(oc.res); bye == nil || bye.Route() == nil {
			t.Fatalf("BYE %v: want it routed through Herald (Record-Route)", bye)
		}
		if h.exited() {
			t.Fatal("Herald exited before the BYE it had to relay")
		}
		if code := h.exit(o.Shutdown.DialogGrace.D() + 10*time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if d := time.Since(stopAt); d < o.Shutdown.DialogGrace.D() {
			t.Fatalf("exited %s after SIGTERM, within dialog_grace %s", d, o.Shutdown.DialogGrace.D())
		}
	})
}

// TestReloadOnSIGHUP: SIGHUP applies a good new config live (log level and trusted peers: a source
// refused 403 before is served after), rejects a broken one with every reason logged and the
// running config kept (calls keep working, under the same level and peers), rejects a change of a
// key that needs a restart, and never ends the process; SIGTERM then exits 0.
func TestReloadOnSIGHUP(t *testing.T) {
	callee := newCallee(t, uesim.CalleeOptions{RingTime: -1})
	o := lifecycleConfig(t, callee.Addr())
	o.SIP.Trusted = []string{"192.0.2.1"} // not the test's terminals on 127.0.0.1
	o.Log.Format, o.DataDir = "json", t.TempDir()
	path := filepath.Join(t.TempDir(), "herald.yaml")
	writeOptions(t, path, o)
	h := startServeFile(t, path)
	debugLines := func() int {
		return len(h.logs(func(l map[string]any) bool { return l["level"] == "DEBUG" }))
	}
	if f := inviteAnswer(t, h.sip); f.Status() != 403 {
		t.Fatalf("INVITE from an untrusted peer answered %d, want 403", f.Status())
	}
	if n := debugLines(); n != 0 {
		t.Fatalf("%d debug lines at level info", n)
	}
	call := func(what string) {
		t.Helper()
		if f := inviteAnswer(t, h.sip); f.Status() != 200 {
			t.Fatalf("%s: call answered %d, want 200", what, f.Status())
		}
	}
	reloaded := func(n int) int { return len(h.logs(msgIs("config reloaded"))) - n }

	// A good config: trusted peers and log level change live.
	good := *o
	good.SIP.Trusted = []string{"127.0.0.0/8"}
	good.Log.Level = "debug"
	writeOptions(t, path, &good)
	h.signal(syscall.SIGHUP)
	h.waitLog(5*time.Second, msgIs("config reloaded"))
	call("after the reload")
	if debugLines() == 0 {
		t.Fatal("no debug line after the reload to level debug")
	}

	// A config that fails validation: every reason logged, nothing applied.
	rejected := func() int { return len(h.logs(msgIs("reload rejected: running config kept"))) }
	before := rejected()
	broken := good
	broken.Limits.MaxCalls = -1
	broken.Log.Level = "loud"
	broken.SIP.Trusted = []string{"192.0.2.1"}
	writeOptions(t, path, &broken)
	h.signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the broken config rejected", func() bool { return rejected() >= before+2 })
	var reasons []string
	for _, l := range h.logs(msgIs("reload rejected: running config kept"))[before:] {
		reasons = append(reasons, l["problem"].(string))
	}
	if len(reasons) != 2 || !strings.Contains(strings.Join(reasons, "\n"), "limits.max_calls") ||
		!strings.Contains(strings.Join(reasons, "\n"), "log.level") {
		t.Fatalf("rejection reasons %q: want limits.max_calls and log.level, each with its position", reasons)
	}
	debugBefore := debugLines()
	call("after a rejected reload") // still trusted, still served
	if debugLines() == debugBefore {
		t.Fatal("the rejected reload changed the log level")
	}

	// A key that needs a restart: rejected by name.
	before = rejected()
	restart := good
	restart.SIP.T1 = config.Duration(250 * time.Millisecond)
	writeOptions(t, path, &restart)
	h.signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the restart-only change rejected", func() bool { return rejected() > before })
	if p := h.logs(msgIs("reload rejected: running config kept"))[before]["problem"]; p != "sip.t1: changed, needs a restart" {
		t.Fatalf("rejection %q", p)
	}
	call("after a rejected restart-only change")
	if n := reloaded(0); n != 1 {
		t.Fatalf("%d reloads applied, want 1", n)
	}
	if h.exited() {
		t.Fatal("SIGHUP ended the process")
	}
	h.signal(syscall.SIGTERM)
	if code := h.exit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestReadyzFollowsLifecycle: /readyz is 503 until every listener is bound (the page listener
// starts before the SIP sockets), 200 while serving, 503 once draining; /healthz stays 200.
func TestReadyzFollowsLifecycle(t *testing.T) {
	o, err := demoConfig("127.0.0.1:5070")
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInstance(o, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.ready(); err == nil || !strings.Contains(err.Error(), "listeners not up") {
		t.Fatalf("ready before start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := in.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer in.stop(context.Background())
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get("http://" + in.httpAddr() + path) //nolint:noctx // the test's own loopback URL
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("/readyz"); c != http.StatusOK {
		t.Fatalf("/readyz serving = %d", c)
	}
	in.sip.Drain()
	if c := get("/readyz"); c != http.StatusServiceUnavailable {
		t.Fatalf("/readyz draining = %d", c)
	}
	if c := get("/healthz"); c != http.StatusOK {
		t.Fatalf("/healthz draining = %d", c)
	}
}

// TestSecondSignalStopsAtOnce: a SIGINT during the drain ends it at once, with calls still ringing
// and a long drain_timeout, and the process still exits 0.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	callee := newCallee(t, uesim.CalleeOptions{RingTime: -1, AnswerGate: make(chan struct{}), MaxCallTime: 30 * time.Second})
	o := lifecycleConfig(t, callee.Addr())
	o.Shutdown.DrainTimeout = config.Duration(time.Minute)
	h := startServe(t, o)
	placeCalls(t, h.sip, 1, uesim.CallerOptions{HoldTime: -1}, nil)
	waitFor(t, 10*time.Second, "a call ringing", func() bool { return ringing(callee) == 1 })
	h.signal(syscall.SIGTERM)
	h.waitLog(5*time.Second, msgIs("draining: new calls refused, ringing calls go on"))
	stopAt := time.Now()
	h.signal(syscall.SIGINT)
	if code := h.exit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if l := h.logs(msgIs("second stop signal: stopping at once")); len(l) != 1 || l[0]["calls"] != 1.0 {
		t.Fatalf("second-signal log lines %v: want one, naming the 1 call still ringing", l)
	}
	if d := time.Since(stopAt); d > 10*time.Second { // far below the 1 min drain_timeout
		t.Fatalf("stopped %s after the second signal", d)
	}
}

// TestReloadRenewsCertificates: a reload reads the TLS listeners' certificate files again (SIP over
// TLS and msrps): a handshake after it presents the renewed certificate, one before it the old; a
// key file that no longer matches its certificate is rejected and the running one kept.
func TestReloadRenewsCertificates(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	src := `
sip:
  listen:
    - {transport: udp, addr: "127.0.0.1:0"}
    - {transport: tls, addr: "127.0.0.1:0", cert: "` + certFile + `", key: "` + keyFile + `"}
  advertise: 127.0.0.1
  next_hop: "sip:127.0.0.1:5070"
  trusted: ["127.0.0.0/8"]
msrp:
  listen: "127.0.0.1:0"
  advertise: 127.0.0.1
  tls_listen: "127.0.0.1:0"
  tls_cert: "` + certFile + `"
  tls_key: "` + keyFile + `"
http:
  listen: ""
`
	path := writeFile(t, src)
	in := startInstance(t, path, src)
	cur, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, msrpsPort := in.msrp.TLSAddr()
	addrs := map[string]string{
		"sip tls": "127.0.0.1:" + itoa(in.sip.PortFor("tls")),
		"msrps":   "127.0.0.1:" + itoa(msrpsPort),
	}
	presented := func(addr string) []byte {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) // #nosec G402 -- self-signed test certificate
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	fileCert := func() []byte {
		t.Helper()
		kp, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return kp.Certificate[0]
	}
	old := fileCert()
	for name, a := range addrs {
		if !bytes.Equal(presented(a), old) {
			t.Fatalf("%s: not the configured certificate", name)
		}
	}
	selfSigned(t, dir) // renewed in place
	renewed := fileCert()
	for name, a := range addrs {
		if !bytes.Equal(presented(a), old) {
			t.Fatalf("%s: the renewed certificate served before the reload", name)
		}
	}
	if in.reload(cur, path) == cur {
		t.Fatal("reload with renewed certificates rejected")
	}
	for name, a := range addrs {
		if !bytes.Equal(presented(a), renewed) {
			t.Fatalf("%s: the old certificate served after the reload", name)
		}
	}

	// A key that does not match: rejected, the renewed certificate stays.
	otherDir := t.TempDir()
	_, otherKey := selfSigned(t, otherDir)
	b, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := in.reload(cur, path); got != cur {
		t.Fatal("reload with a mismatched key applied")
	}
	for name, a := range addrs {
		if !bytes.Equal(presented(a), renewed) {
			t.Fatalf("%s: a rejected reload changed the certificate", name)
		}
	}
}

// TestServeSetsSIPTimers: herald serve gives sip.t1 to sipgo's transaction timers (process-wide,
// set once at start): toward a next hop that never answers, the forwarded INVITE's Timer B
// (64·T1, RFC 3261 §17.1.1.2) ends the call with 408 after 64 × 40 ms, not after sipgo's default
// 32 s.
func TestServeSetsSIPTimers(t *testing.T) {
	hole, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // reads, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := hole.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	o := lifecycleConfig(t, hole.LocalAddr().String())
	o.SIP.T1, o.SIP.T2 = config.Duration(40*time.Millisecond), config.Duration(320*time.Millisecond)
	h := startServe(t, o)
	start := time.Now()
	fin := inviteAnswer(t, h.sip) // alice's caller card: the general path, sipgo's client transaction
	if d := time.Since(start); fin.Status() != 408 || d > 10*time.Second {
		t.Fatalf("INVITE toward a silent next hop: %d after %s, want 408 after about 64 × 40 ms", fin.Status(), d)
	}
	h.signal(syscall.SIGTERM)
	if code := h.exit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
