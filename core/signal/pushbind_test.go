package signal

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/push"
	msrpnet "github.com/herald-ims/herald/netio/msrp"
)

// racingPlane is the MSRP plane with a terminal of the test's that binds to one card's session at
// a chosen moment: when the session opens (onOpen), or just before the call closes it (onClose:
// the plane answers 200 and starts the page, then the close comes; the binding reaches the call's
// machine after its close).
type racingPlane struct {
	*msrpnet.Server
	card            push.Role
	onOpen, onClose bool
	mu              sync.Mutex
	roles           map[string]push.Role
	raced           bool
	conn            net.Conn
	got             chan string // what the plane answered the binding
}

func newRacingPlane(ms *msrpnet.Server, card push.Role) *racingPlane {
	return &racingPlane{Server: ms, card: card, roles: map[string]push.Role{}, got: make(chan string, 1)}
}

// race reports whether the test's terminal binds to session id now (its card's, once).
func (p *racingPlane) race(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	race := !p.raced && p.roles[id] == p.card
	p.raced = p.raced || race
	return race
}

func (p *racingPlane) Open(ps *push.Session) error {
	if err := p.Server.Open(ps); err != nil {
		return err
	}
	p.mu.Lock()
	p.roles[ps.ID] = ps.Role
	p.mu.Unlock()
	if p.onOpen && p.race(ps.ID) {
		p.bind(ps.ID)
	}
	return nil
}

func (p *racingPlane) Close(id string) {
	if p.onClose && p.race(id) {
		p.bind(id)
	}
	p.Server.Close(id)
}

// bind is the terminal's acquisition request (RFC 4975 §5.4: a bodiless SEND To-Path the session's
// a=path); it waits for the plane's answer.
func (p *racingPlane) bind(id string) {
	host, port := p.Addr()
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		p.got <- "dial: " + err.Error()
		return
	}
	p.conn = c
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "MSRP rbindlate1 SEND\r\nTo-Path: " + p.PathURI(id) + "\r\nFrom-Path: msrp://127.0.0.1:9/late;tcp\r\n" +
		"Message-ID: late1\r\nByte-Range: 1-0/0\r\n-------rbindlate1$\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		p.got <- "write: " + err.Error()
		return
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		p.got <- "read: " + err.Error()
		return
	}
	p.got <- strings.TrimSpace(line)
}

// TestLateBindRefused proves that a terminal's binding is an event of the call's machine (claim 4:
// the MSRP-TCP connection with the calling terminal): a binding that raced the close of the callee
// card's session (the caller refused the UPDATE, RFC 3311 §5.1) reaches the machine after it closed
// the session; the machine refuses it (the glue closes it again: the plane ends that connection)
// and counts it (herald_sip_push_late_binds_total), while the call goes on to its answer.
func TestLateBindRefused(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	gate := make(chan struct{})
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond, AnswerGate: gate})
	caller := newCaller(t, uesim.CallerOptions{RefuseUpdate: 504})
	var rp *racingPlane
	r := startHeraldPlane(t, st, callee.Addr(), nil, nil, func(ms *msrpnet.Server) push.Plane {
		rp = newRacingPlane(ms, push.CalleeCard)
		rp.onClose = true
		return rp
	})
	t.Cleanup(func() {
		if rp.conn != nil {
			_ = rp.conn.Close()
		}
	})
	go func() {
		defer close(gate) // the callee answers once the machine counted the late binding (or 5 s)
		deadline := time.Now().Add(5 * time.Second)
		for r.sig.Stats.PushLateBinds.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	res := r.mustCall(t, caller, erin, carol)
	if len(res.Pages[uesim.CalleeCard]) != 0 {
		t.Fatal("the refusing caller fetched the callee card")
	}
	select {
	case got := <-rp.got:
		if !strings.HasPrefix(got, "MSRP rbindlate1 200") {
			t.Fatalf("the racing binding got %q, want the plane's 200 (it bound before the close)", got)
		}
	default:
		t.Fatal("no binding raced the callee card's close")
	}
	if n := r.sig.Stats.PushLateBinds.Load(); n != 1 {
		t.Fatalf("PushLateBinds = %d, want 1", n)
	}
	if n := r.sig.Snapshot().PushLateBinds; n != 1 {
		t.Fatalf("snapshot push_late_binds = %d, want 1", n)
	}
	if _, ok := r.trace.find("bound after the call closed it: refused"); !ok {
		t.Fatal("no trace of the refused binding")
	}
	// The plane ends the bound connection: Herald closes it.
	_ = rp.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := rp.conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the refused binding's connection still open after 5 s")
			}
			break
		}
	}
	r.quiet(t)
}

// TestPushFailedCounted proves a push's outcome is an event of the call's machine (claim 1: the
// caller card over the MSRP-TCP connection with the called terminal): a terminal that binds to the
// caller card's session and resets the connection mid-page ends the push (Disconnected, RFC 4975
// §7.1: the page was never reported delivered); the machine counts it as failed
// (herald_sip_push_failed_total) and the call goes on to its answer, its other push (the callee
// card at the caller) delivered.
func TestPushFailedCounted(t *testing.T) {
	leakCheck(t)
	st, pages := testStore(t)
	gate := make(chan struct{})
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond, AnswerGate: gate, NoEarlySession: true})
	caller := newCaller(t, uesim.CallerOptions{})
	var rp *racingPlane
	r := startHeraldPlane(t, st, callee.Addr(), nil, nil, func(ms *msrpnet.Server) push.Plane {
		rp = newRacingPlane(ms, push.CallerCard)
		rp.onOpen = true
		return rp
	})
	go func() {
		defer close(gate) // the callee answers once the machine counted the failed push (or 5 s)
		deadline := time.Now().Add(5 * time.Second)
		for r.sig.Stats.PushFailed.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() {
		// The test's terminal: bound, it reads a little of the page, then resets the connection.
		if got := <-rp.got; !strings.HasPrefix(got, "MSRP rbindlate1 200") {
			t.Errorf("the terminal's binding got %q, want 200", got)
			return
		}
		_, _ = rp.conn.Read(make([]byte, 512))
		if tc, ok := rp.conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST
		}
		_ = rp.conn.Close()
	}()
	res := r.mustCall(t, caller, alice, bob)
	if res.Final != 200 {
		t.Fatalf("final %d, want the call answered", res.Final)
	}
	if string(res.Pages[uesim.CalleeCard]) != string(pages["bob-callee.html"].Body) {
		t.Fatalf("callee card at the caller: %d bytes, %v", len(res.Pages[uesim.CalleeCard]), res.PageErrors)
	}
	if n := r.sig.Stats.PushFailed.Load(); n != 1 {
		t.Fatalf("PushFailed = %d, want 1 (the caller card's)", n)
	}
	if n := r.sig.Snapshot().PushFailed; n != 1 {
		t.Fatalf("snapshot push_failed = %d, want 1", n)
	}
	if _, ok := r.trace.find("caller-card push"); !ok {
		t.Fatal("no trace of the caller card's push")
	}
	if _, ok := r.trace.find(": disconnected ("); !ok {
		t.Fatal("no trace of the disconnected push")
	}
	r.quiet(t)
}

// TestBindAfterTheCallRefused: a terminal binding to the caller card's session once the call is
// answered or cancelled (claim 1: the push belongs to the call's early dialog) is refused by the
// MSRP plane (481, RFC 4975 §7.3: no such session; herald_msrp_binds_total{result=unknown_481}),
// the session having been closed by the call's machine at the answer or the CANCEL; the machine,
// done, hears of no binding (no late bind counted).
func TestBindAfterTheCallRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		caller uesim.CallerOptions
		final  int
	}{
		{"answered", uesim.CallerOptions{}, 200},
		{"cancelled", uesim.CallerOptions{CancelAfter: 100 * time.Millisecond}, 487},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			st, _ := testStore(t)
			// The callee ignores the early-session offer: nobody binds to the caller card during the call.
			callee := newCallee(t, uesim.CalleeOptions{RingTime: 300 * time.Millisecond, NoEarlySession: true})
			caller := newCaller(t, tc.caller)
			var rp *racingPlane
			var ms *msrpnet.Server
			r := startHeraldPlane(t, st, callee.Addr(), nil, nil, func(s *msrpnet.Server) push.Plane {
				ms, rp = s, newRacingPlane(s, push.CallerCard)
				return rp
			})
			t.Cleanup(func() {
				if rp.conn != nil {
					_ = rp.conn.Close()
				}
			})
			res, _ := r.call(t, caller, alice, bob)
			if res.Final != tc.final {
				t.Fatalf("final %d, want %d", res.Final, tc.final)
			}
			var id string
			rp.mu.Lock()
			for sid, role := range rp.roles {
				if role == push.CallerCard {
					id = sid
				}
			}
			rp.mu.Unlock()
			if id == "" {
				t.Fatal("no caller card session opened")
			}
			// The call is over once its machine has closed its sessions: for a CANCEL, sipgo's
			// transaction answers the 487 (RFC 3261 §9.2) before the controller takes the CANCEL
			// and closes them, so the 487 alone does not say the session is gone (a binding in
			// between is answered 200 and then refused by the machine: TestLateBindRefused).
			r.quiet(t)
			before := ms.Stats().BindUnknown481
			rp.bind(id)
			if got := <-rp.got; !strings.HasPrefix(got, "MSRP rbindlate1 481") {
				t.Fatalf("a binding after the call got %q, want 481", got)
			}
			if n := ms.Stats().BindUnknown481 - before; n != 1 {
				t.Fatalf("plane counted %d unknown-session binds, want 1", n)
			}
			if n := r.sig.Stats.PushLateBinds.Load(); n != 0 {
				t.Fatalf("PushLateBinds = %d, want 0 (the machine was done)", n)
			}
			_ = rp.conn.Close() // the plane keeps a refused connection open for another try (bind timeout)
			r.quiet(t)
		})
	}
}
