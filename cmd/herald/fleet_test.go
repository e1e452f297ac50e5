package main

// The fleet tests: Herald nodes as separate `herald serve` processes on their own loopback
// addresses (127.0.0.2, 127.0.0.3), their subscribers in a real redis-server, and a real Kamailio
// running configs/kamailio/dispatcher.cfg in front of them; uesim terminals are the phones.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/netio/freeport"

	"github.com/emiago/sipgo/sip"
	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/herald-ims/herald/bench/sipp"
	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/config"
)

const fleetToken = "fleet-test-token-0123456789abcdef"

// freeLoopbackPort returns a port of ip free for both UDP and TCP, leased to this process below the
// ephemeral range (netio/freeport): a child process can bind it later without racing other sockets.
func freeLoopbackPort(t testing.TB, ip string) int {
	t.Helper()
	return freeport.Must(t, ip)
}

// needPeer is peerPath for tests and benchmarks: it skips (fails with HERALD_REQUIRE_PEERS=1)
// when the program is not installed.
func needPeer(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s (Debian %s) not installed and HERALD_REQUIRE_PEERS=1", name, pkg)
		}
		t.Skipf("%s not installed (Debian %s); set HERALD_REQUIRE_PEERS=1 to make this a failure", name, pkg)
	}
}

// redisServer is a redis-server of the test's own: 127.0.0.1 on an ephemeral port, its own
// directory, append-only file fsync'd on every write (so a stop and start keeps the data).
type redisServer struct {
	t    testing.TB
	dir  string
	port int
	p    *sipp.Proc
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	needPeer(t, "redis-server", "redis-server")
	r := &redisServer{t: t, dir: t.TempDir(), port: freeLoopbackPort(t, "127.0.0.1")}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

func (r *redisServer) start() {
	r.t.Helper()
	p, err := sipp.Start(r.dir, "redis", "redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no")
	if err != nil {
		r.t.Fatal(err)
	}
	r.p = p
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server not answering:\n%s", p.Tail(2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) stop() {
	if r.p != nil {
		r.p.Stop(5 * time.Second)
		r.p = nil
	}
}

// fleetNode is the configuration of one node: SIP, MSRP, RTP and HTTP on ip, subscribers in Redis,
// calls to callee.
func fleetNode(t testing.TB, name, ip, redisAddr, callee string) *config.Options {
	t.Helper()
	o, err := demoConfig(callee)
	if err != nil {
		t.Fatal(err)
	}
	o.SIP.RecordRoute = false // the dispatcher record-routes; Herald leaves the dialog at the final response
	o.Log.Level = "info"
	o.Node.Name = name
	sipAddr := net.JoinHostPort(ip, strconv.Itoa(freeLoopbackPort(t, ip)))
	o.SIP.Listen = []config.Listener{{Transport: "udp", Addr: sipAddr}, {Transport: "tcp", Addr: sipAddr}}
	o.SIP.Advertise = sipAddr
	o.MSRP.Listen, o.MSRP.Advertise, o.MSRP.AdvertiseAddr = ip+":0", ip, ip
	o.RTP.Listen, o.RTP.AdvertiseAddr = ip, ip
	hp := strconv.Itoa(freeLoopbackPort(t, ip))
	o.HTTP.Listen, o.HTTP.BaseURL = ip+":"+hp, "http://"+ip+":"+hp+"/"
	o.HTTP.AdminListen = net.JoinHostPort(ip, strconv.Itoa(freeLoopbackPort(t, ip)))
	o.HTTP.API.ReadWriteTokens = []string{fleetToken}
	o.Store.Redis.Addrs = []string{redisAddr}
	o.Store.Redis.Timeout = config.Duration(300 * time.Millisecond)
	return o
}

// nodeOf is the node that forwarded a call to the callee: the host of the top Via of the INVITE
// the callee received (each node advertises its own address).
func nodeOf(cc uesim.CalleeCall) string {
	if cc.Invite == nil || cc.Invite.Via() == nil {
		return ""
	}
	return cc.Invite.Via().Host
}

// fleetCall places one call from alice to bob through target and returns the node that took it,
// after checking that it succeeded with both pages: bob's callee card at the caller (want, when
// not nil), alice's caller card at the callee, fetched from the MSRP address of the node that took
// the call (the a=path of its offer).
func fleetCall(t *testing.T, caller *uesim.Caller, callee *uesim.Callee, target string, wantCallee []byte) (string, *uesim.CallResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := caller.Call(ctx, target, "sip:alice@home1.net", "tel:+1-212-555-2222")
	if err != nil || res.Final != 200 {
		t.Fatalf("call through %s: final %d, %v", target, res.Final, err)
	}
	cc, err := callee.WaitCall(ctx, res.CallID)
	if err != nil {
		t.Fatalf("call %s at the callee: %v", res.CallID, err)
	}
	alice := seedProfile(t, "sip:alice@home1.net")
	if string(cc.Page) != string(alice.CallerCard.Body) {
		t.Fatalf("call %s via %s: caller card %d bytes at the callee (%v)", res.CallID, nodeOf(cc), len(cc.Page), cc.PageErr)
	}
	// MSRP is node-local: the push offered to the callee names the node that took the call.
	if n := nodeOf(cc); !bytes.Contains(cc.InviteRaw, []byte("a=path:msrp://"+n+":")) {
		t.Fatalf("call %s via %s: the INVITE's a=path does not name the node:\n%s", res.CallID, n, cc.InviteRaw)
	}
	got := res.Pages[uesim.CalleeCard]
	if len(got) == 0 || wantCallee != nil && !bytes.Contains(got, wantCallee) {
		t.Fatalf("call %s via %s: callee card %d bytes (%v), want one holding %q", res.CallID, nodeOf(cc), len(got), res.PageErrors[uesim.CalleeCard], wantCallee)
	}
	return nodeOf(cc), res
}

// putCalleeCard replaces bob's callee card through a node's provisioning API and returns the
// status and body.
func putCalleeCard(t *testing.T, admin, html string) (int, []byte) {
	t.Helper()
	card := "http://" + admin + "/v1/subscribers/tel:+1-212-555-2222/cards/callee"
	auth := "Authorization: Bearer " + fleetToken
	code, hdr, body := apiDo(t, "GET", card, nil, auth)
	if code != 200 {
		return code, body
	}
	code, _, body = apiDo(t, "PUT", card, []byte(html), auth, "Content-Type: text/html; charset=utf-8", "If-Match: "+hdr.Get("ETag"))
	return code, body
}

// tombstone listens on a dead node's SIP address and counts the INVITEs sent there (it answers
// nothing, so the dispatcher's keepalives keep failing).
type tombstone struct {
	pc      net.PacketConn
	invites atomic.Int64
}

func newTombstone(t *testing.T, addr string) *tombstone {
	t.Helper()
	var pc net.PacketConn
	var err error
	waitFor(t, 5*time.Second, "the dead node's SIP port free", func() bool {
		pc, err = net.ListenPacket("udp", addr)
		return err == nil
	})
	ts := &tombstone{pc: pc}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if bytes.HasPrefix(buf[:n], []byte("INVITE ")) {
				ts.invites.Add(1)
			}
		}
	}()
	t.Cleanup(func() { _ = pc.Close() })
	return ts
}

// startDispatcher runs Kamailio with configs/kamailio/dispatcher.cfg on 127.0.0.1 (an ephemeral
// port) over the given nodes, and waits until it answers OPTIONS.
func startDispatcher(t testing.TB, nodes ...string) (string, *sipp.Proc) {
	t.Helper()
	needPeer(t, "kamailio", "kamailio")
	dir := t.TempDir()
	cfg, err := filepath.Abs(filepath.Join("..", "..", "configs", "kamailio", "dispatcher.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var list strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&list, "1 sip:%s 0 0 node=%c\n", n, 'a'+i)
	}
	lf := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(lf, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freeLoopbackPort(t, "127.0.0.1")))
	p, err := sipp.Start(dir, "kamailio", "kamailio", "-f", cfg, "-DD", "-E", "-m", "256", "-M", "16", "-x", "tlsf",
		"-Y", filepath.Join(dir, "run"), "-A", "LISTEN=udp:"+addr, "-A", `DS_LIST="`+lf+`"`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(3 * time.Second)
		if t.Failed() {
			t.Logf("kamailio log:\n%s", p.Tail(6000))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sipp.Ping(ctx, addr); err != nil {
		t.Fatalf("kamailio: %v\n%s", err, p.Tail(3000))
	}
	return addr, p
}

// TestFleetDispatcher (issue 16 acceptance): two Herald nodes on 127.0.0.2 and 127.0.0.3 share
// their subscribers in redis-server behind Kamailio's dispatcher (configs/kamailio/dispatcher.cfg).
//   - calls through Kamailio land on both nodes and deliver both pages (each node serves MSRP on its
//     own address: the phones fetch from the node that took the call);
//   - bob's callee card replaced through node A's API is pushed by node B on its next call;
//   - node A killed with SIGKILL: calls placed meanwhile still succeed (the dispatcher fails them
//     over to B after fr_timer), and once the detection time has passed no INVITE reaches A's
//     address (a listener there counts them) and every call goes to B;
//   - node A restarted rejoins: calls land on it again.
func TestFleetDispatcher(t *testing.T) {
	rs := startRedis(t)
	callee := newCallee(t, uesim.CalleeOptions{})
	oa := fleetNode(t, "herald-a", "127.0.0.2", rs.addr(), callee.Addr())
	ob := fleetNode(t, "herald-b", "127.0.0.3", rs.addr(), callee.Addr())
	a := startServe(t, oa)
	b := startServe(t, ob)
	kam, _ := startDispatcher(t, oa.SIP.Advertise, ob.SIP.Advertise)
	caller := newCaller(t, uesim.CallerOptions{})

	seen := map[string]int{}
	for i := 0; len(seen) < 2 || i < 4; i++ {
		if i == 12 {
			t.Fatalf("calls through the dispatcher reached %v only", seen)
		}
		n, _ := fleetCall(t, caller, callee, kam, nil)
		seen[n]++
	}
	if seen["127.0.0.2"] == 0 || seen["127.0.0.3"] == 0 {
		t.Fatalf("nodes that took calls: %v", seen)
	}

	// A write through A, pushed by B on its next call (and by A on its own).
	const marker = "Bob, provisioned through node A"
	if code, body := putCalleeCard(t, oa.HTTP.AdminListen, "<!DOCTYPE html><html><body><h1>"+marker+"</h1></body></html>"); code != 200 {
		t.Fatalf("PUT through A: %d %s", code, body)
	}
	onB := false
	for i := 0; !onB; i++ {
		if i == 6 {
			t.Fatal("no call reached node B after the update")
		}
		n, _ := fleetCall(t, caller, callee, kam, []byte(marker))
		onB = n == "127.0.0.3"
	}

	// SIGKILL node A; calls meanwhile fail over; after the detection time none goes to A.
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
	killed := time.Now()
	tomb := newTombstone(t, oa.SIP.Advertise)
	for time.Since(killed) < 2*time.Second {
		if n, _ := fleetCall(t, caller, callee, kam, []byte(marker)); n != "127.0.0.3" {
			t.Fatalf("a call went through %s after node A died", n)
		}
	}
	// Detection: ds_ping_interval 1 s × ds_probing_threshold 2 + fr_timer 1 s, plus a margin.
	if d := 5*time.Second - time.Since(killed); d > 0 {
		time.Sleep(d)
	}
	before := tomb.invites.Load()
	for range 6 {
		if n, _ := fleetCall(t, caller, callee, kam, []byte(marker)); n != "127.0.0.3" {
			t.Fatalf("a call went through %s after node A died", n)
		}
	}
	if n := tomb.invites.Load(); n != before {
		t.Fatalf("%d INVITEs sent to dead node A after the detection time", n-before)
	}
	t.Logf("INVITEs sent to dead node A before detection: %d", before)

	// A restarted rejoins the set once it answers the keepalives.
	_ = tomb.pc.Close()
	a = startServe(t, oa)
	if code := a.readyz(); code != http.StatusOK {
		t.Fatalf("restarted A /readyz %d", code)
	}
	rejoined := time.Now()
	for n := ""; n != "127.0.0.2"; {
		if time.Since(rejoined) > 10*time.Second {
			t.Fatal("restarted node A took no call within 10 s")
		}
		n, _ = fleetCall(t, caller, callee, kam, []byte(marker))
	}
	_ = b
}

// TestFleetRedisOutage (issue 16 acceptance): redis-server stopped mid-run under a serving node:
// /readyz turns 503, calls go on from the cache with both pages, an API write answers 503
// {"code":"store_unavailable"}; redis-server started again (same data, append-only file): the node
// notices by itself, /readyz is 200 again, a write succeeds and the next call pushes it.
func TestFleetRedisOutage(t *testing.T) {
	rs := startRedis(t)
	callee := newCallee(t, uesim.CalleeOptions{})
	o := fleetNode(t, "herald-a", "127.0.0.2", rs.addr(), callee.Addr())
	h := startServe(t, o)
	caller := newCaller(t, uesim.CallerOptions{})
	fleetCall(t, caller, callee, o.SIP.Advertise, nil)

	rs.stop()
	waitFor(t, 10*time.Second, "/readyz 503 without Redis", func() bool { return h.readyz() == http.StatusServiceUnavailable })
	for range 3 {
		fleetCall(t, caller, callee, o.SIP.Advertise, nil)
	}
	const marker = "Bob, written after Redis came back"
	html := "<!DOCTYPE html><html><body><h1>" + marker + "</h1></body></html>"
	card := "http://" + o.HTTP.AdminListen + "/v1/subscribers/tel:+1-212-555-2222/cards/callee"
	code, _, body := apiDo(t, "PUT", card, []byte(html), "Authorization: Bearer "+fleetToken, "Content-Type: text/html", "If-Match: *")
	var e struct{ Code, Reason string }
	if code != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || e.Code != "store_unavailable" || e.Reason == "" {
		t.Fatalf("write without Redis: %d %s", code, body)
	}
	var v struct {
		Redis struct {
			Up bool `json:"up"`
		} `json:"redis"`
		Node string `json:"node"`
	}
	_, _, vb := apiDo(t, "GET", "http://"+o.HTTP.AdminListen+"/varz", nil, "Authorization: Bearer "+fleetToken)
	if err := json.Unmarshal(vb, &v); err != nil || v.Redis.Up || v.Node != "herald-a" {
		t.Fatalf("/varz without Redis: %s", vb)
	}

	rs.start()
	waitFor(t, 10*time.Second, "/readyz 200 with Redis back", func() bool { return h.readyz() == http.StatusOK })
	if code, body := putCalleeCard(t, o.HTTP.AdminListen, html); code != 200 {
		t.Fatalf("write after Redis came back: %d %s", code, body)
	}
	fleetCall(t, caller, callee, o.SIP.Advertise, []byte(marker))
}

// varzInvites is a node's sip.invites from /varz on its admin listener.
func varzInvites(t *testing.T, admin string) uint64 {
	t.Helper()
	_, _, b := apiDo(t, "GET", "http://"+admin+"/varz", nil, "Authorization: Bearer "+fleetToken)
	var v struct {
		SIP struct {
			Invites uint64 `json:"invites"`
		} `json:"sip"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("/varz: %v: %s", err, b)
	}
	return v.SIP.Invites
}

// TestFleetDrainLeavesSet (issue 16 acceptance): SIGTERM on node B with a call ringing there: B
// answers the dispatcher's keepalives 503 and leaves the set (a call placed at once still
// succeeds: a 503 to its INVITE is failed over to A), after two ping intervals no INVITE reaches B
// and every call goes to A, while B's ringing call goes on and is answered; B then exits 0.
func TestFleetDrainLeavesSet(t *testing.T) {
	rs := startRedis(t)
	gate := make(chan struct{})
	calleeA := newCallee(t, uesim.CalleeOptions{})
	calleeB := newCallee(t, uesim.CalleeOptions{AnswerGate: gate})
	oa := fleetNode(t, "herald-a", "127.0.0.2", rs.addr(), calleeA.Addr())
	ob := fleetNode(t, "herald-b", "127.0.0.3", rs.addr(), calleeB.Addr())
	startServe(t, oa)
	b := startServe(t, ob)
	kam, _ := startDispatcher(t, oa.SIP.Advertise, ob.SIP.Advertise)
	caller := newCaller(t, uesim.CallerOptions{})

	// Calls until one rings at B (held there by the gate); those taken by A complete.
	held := make(chan callOutcome, 1)
	for i := 0; ringing(calleeB) == 0; i++ {
		if i == 6 {
			t.Fatal("no call reached node B")
		}
		done := make(chan callOutcome, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := caller.Call(ctx, kam, "sip:alice@home1.net", "tel:+1-212-555-2222")
			done <- callOutcome{res, err}
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if ringing(calleeB) > 0 {
				go func() { held <- <-done }()
				break
			}
			select {
			case oc := <-done:
				if oc.err != nil || oc.res.Final != 200 {
					t.Fatalf("call via A: final %d, %v", oc.res.Final, oc.err)
				}
			case <-time.After(10 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("call neither rang at B nor ended")
				}
				continue
			}
			break
		}
	}

	b.signal(syscall.SIGTERM)
	b.waitLog(5*time.Second, msgIs("draining: new calls refused, ringing calls go on"))
	drained := time.Now()
	if n, _ := fleetCall(t, caller, calleeA, kam, nil); n != "127.0.0.2" {
		t.Fatalf("call during B's drain went through %s", n)
	}
	// Two keepalives (1 s apart) answered 503 take B out; a margin for the loaded machine.
	if d := 3500*time.Millisecond - time.Since(drained); d > 0 {
		time.Sleep(d)
	}
	before := varzInvites(t, ob.HTTP.AdminListen)
	for range 4 {
		if n, _ := fleetCall(t, caller, calleeA, kam, nil); n != "127.0.0.2" {
			t.Fatalf("call after B left the set went through %s", n)
		}
	}
	if after := varzInvites(t, ob.HTTP.AdminListen); after != before {
		t.Fatalf("%d INVITEs reached draining node B after it left the set", after-before)
	}
	if b.exited() || ringing(calleeB) != 1 {
		t.Fatalf("B's ringing call cut by the drain: exited %t, ringing %d", b.exited(), ringing(calleeB))
	}
	close(gate)
	oc := <-held
	if oc.err != nil || oc.res.Final != 200 || len(oc.res.Pages[uesim.CalleeCard]) == 0 {
		t.Fatalf("B's held call: final %d, %v", oc.res.Final, oc.err)
	}
	if code := b.exit(15 * time.Second); code != 0 {
		t.Fatalf("B exit code %d after the drain", code)
	}
}

// startNode runs `herald serve` with o as a child process (this test binary, TestServeChild) and
// waits until its /readyz answers 200: for the benchmark, which cannot use startServe's *testing.T.
func startNode(tb testing.TB, o *config.Options) {
	tb.Helper()
	o.Log.Format, o.Log.Level, o.DataDir = "json", "error", tb.TempDir()
	path := filepath.Join(tb.TempDir(), "herald.yaml")
	y, err := yaml.Marshal(o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, y, 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$") //nolint:gosec // this test binary
	cmd.Env = append(os.Environ(), serveChildEnv+"="+path)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get("http://" + o.HTTP.Listen + "/readyz"); err == nil { //nolint:noctx // loopback
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("node %s not ready", o.Node.Name)
		}
	}
}

// BenchmarkFleetCalls is the whole-call rate through Kamailio's dispatcher to one Herald node, then
// to two (separate processes on 127.0.0.2 and 127.0.0.3, subscribers in redis-server): every call
// is alice → bob with both pages pushed over MSRP and fetched by the uesim terminals, answered at
// once, hung up at once. 16 callers keep 16 calls in flight. calls/s is b.N over the wall time;
// failed counts calls that did not end 200; callee_cards/call is the share of calls whose caller
// got bob's callee card in whole (the callee answers as soon as it has alice's caller card, and
// Herald ends its pushes at the final response, so a large callee card can lose that race). On a machine whose cores are
// shared by the terminals, Kamailio, Redis and the nodes, this measures the whole lab, not a
// node's capacity.
func BenchmarkFleetCalls(b *testing.B) {
	// The terminals' sipgo logs an INFO line for each late 199 (the early dialog Herald ended):
	// not the benchmark's output.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	for _, nodes := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			rs := startRedis(b)
			callee, err := uesim.NewCallee(uesim.CalleeOptions{Listen: "127.0.0.1:0", RingTime: -1, NoRecord: true, Forget: true})
			if err != nil {
				b.Fatal(err)
			}
			defer callee.Close()
			var addrs []string
			for i := range nodes {
				o := fleetNode(b, fmt.Sprintf("herald-%c", 'a'+i), fmt.Sprintf("127.0.0.%d", 2+i), rs.addr(), callee.Addr())
				startNode(b, o)
				addrs = append(addrs, o.SIP.Advertise)
			}
			kam, _ := startDispatcher(b, addrs...)
			const workers = 16
			callers := make([]*uesim.Caller, workers)
			for i := range callers {
				if callers[i], err = uesim.NewCaller(uesim.CallerOptions{Listen: "127.0.0.1:0", HoldTime: -1, NoRecord: true}); err != nil {
					b.Fatal(err)
				}
				defer callers[i].Close()
			}
			var cards atomic.Int64
			call := func(c *uesim.Caller) bool {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				res, err := c.Call(ctx, kam, "sip:alice@home1.net", "tel:+1-212-555-2222")
				if res == nil || res.Final != 200 {
					b.Logf("call failed: %v", err)
					return false
				}
				// err may be the caller's late fetch of the callee card (481 once the push ended).
				if len(res.Pages[uesim.CalleeCard]) > 0 {
					cards.Add(1)
				}
				return true
			}
			for i := range 2 * nodes { // warm every node's cache and connections
				call(callers[i])
			}
			var failed atomic.Int64
			next := atomic.Int64{}
			cards.Store(0)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, c := range callers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if !call(c) {
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "calls/s")
			b.ReportMetric(float64(failed.Load()), "failed")
			b.ReportMetric(float64(cards.Load())/float64(b.N), "callee_cards/call")
		})
	}
}
