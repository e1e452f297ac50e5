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

// racingPlane is the MSRP plane with a terminal that binds to the callee card's session just
// before the call closes it: its Close first binds a connection to the session (the plane answers
// 200 and starts the page), then closes. The binding reaches the call's machine after its close.
type racingPlane struct {
	*msrpnet.Server
	t     testing.TB
	mu    sync.Mutex
	roles map[string]push.Role
	raced bool
	conn  net.Conn
	got   chan string // what the plane answered the binding
}

func (p *racingPlane) Open(ps *push.Session) error {
	p.mu.Lock()
	p.roles[ps.ID] = ps.Role
	p.mu.Unlock()
	return p.Server.Open(ps)
}

func (p *racingPlane) Close(id string) {
	p.mu.Lock()
	race := !p.raced && p.roles[id] == push.CalleeCard
	p.raced = p.raced || race
	p.mu.Unlock()
	if race {
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
		rp = &racingPlane{Server: ms, t: t, roles: map[string]push.Role{}, got: make(chan string, 1)}
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
