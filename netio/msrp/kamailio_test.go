package msrp

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/netio/freeport"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// kamailioRelayCfg is an RFC 4976 relay on Kamailio's msrp module (Kamailio needs tcp_rd_buf_size=65536
// for frames up to 8 KB). A terminal AUTHs and gets a Use-Path with a session-id of the relay, which remembers the
// terminal's connection (htable, as the module's README example 1.17). A SEND or REPORT that arrives on
// the terminal's own connection goes on to the next hop of its To-Path (here Herald, dialled by the
// relay); one that arrives from elsewhere goes to the terminal's connection. The relay answers SENDs 200
// itself (hop by hop) and relays every response.
//
// The README's example 1.18 (msrp_cmap_*) decides by "$msrp(nexthops)>1", which assumes a relay on both
// sides; with Herald reached directly, a terminal's SEND has one next hop, like a frame for the terminal,
// so that rule sends the terminal's bind back to the terminal. Hence the source-connection rule.
const kamailioRelayCfg = `#!KAMAILIO
debug=2
log_stderror=yes
auto_aliases=no
children=1
tcp_children=2
tcp_accept_no_cl=yes
tcp_rd_buf_size=65536
listen=tcp:127.0.0.1:%[1]d
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "htable.so"
loadmodule "cfgutils.so"
loadmodule "msrp.so"
modparam("htable", "htable", "msrp=>size=8;autoexpire=600;")
request_route { sl_send_reply("403", "No SIP Here"); exit; }
reply_route { drop; }
event_route[msrp:frame-in] {
	msrp_reply_flags("1");
	if (msrp_is_reply()) { msrp_relay(); exit; }
	if ($msrp(method)=="AUTH") {
		if ($msrp(nexthops)>0) { msrp_relay(); exit; }
		$var(sessid) = "r" + $RANDOM;
		$sht(msrp=>$var(sessid)::srcaddr) = $msrp(srcaddr);
		$sht(msrp=>$var(sessid)::srcsock) = $msrp(srcsock);
		$var(headers) = "Use-Path: msrp://127.0.0.1:%[1]d/" + $var(sessid) + ";tcp\r\nExpires: 600\r\n";
		msrp_reply("200", "OK", "$var(headers)");
		exit;
	}
	if ($msrp(method)=="SEND" || $msrp(method)=="REPORT") {
		$var(sessid) = $msrp(sessid);
		if ($sht(msrp=>$var(sessid)::srcaddr) == $null) {
			if ($msrp(method)!="REPORT") { msrp_reply("481", "Session-does-not-exist"); }
			exit;
		}
		if ($msrp(method)!="REPORT") { msrp_reply("200", "OK"); }
		if ($msrp(srcaddr) == $sht(msrp=>$var(sessid)::srcaddr)) {
			msrp_relay(); # from the terminal: on to the next hop of the To-Path
			exit;
		}
		msrp_relay_flags("1");
		msrp_set_dst("$sht(msrp=>$var(sessid)::srcaddr)", "$sht(msrp=>$var(sessid)::srcsock)");
		msrp_relay();
		exit;
	}
	msrp_reply("501", "Request-method-not-understood");
}
`

// freePort returns a port of 127.0.0.1 for Kamailio to bind, leased to this process below the
// ephemeral range (netio/freeport).
func freePort(t *testing.T) int {
	t.Helper()
	return freeport.Must(t, "127.0.0.1")
}

// startKamailio runs the relay in the foreground in its own process group and kills it (by that group's
// id) when the test ends. It returns the relay's address.
func startKamailio(t *testing.T) string {
	t.Helper()
	bin := requirePeer(t, "kamailio")
	dir := t.TempDir()
	port := freePort(t)
	cfg := dir + "/kamailio.cfg"
	if err := os.WriteFile(cfg, fmt.Appendf(nil, kamailioRelayCfg, port), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(dir + "/kamailio.log")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	cmd := exec.CommandContext(ctx, bin, "-f", cfg, "-DD", "-E", "-Y", dir, "-m", "64", "-M", "8")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("kamailio: %v", err)
	}
	pgid := cmd.Process.Pid
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		cancel()
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(dir + "/kamailio.log")
			t.Logf("kamailio log:\n%s", b)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return addr
		}
		select {
		case <-done:
			t.Fatal("kamailio exited at start")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio does not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKamailioRelay: a terminal behind Kamailio's RFC 4976 relay fetches the page. Herald receives the
// bind with a two-hop From-Path, answers the relay (the previous hop), sends the chunks back along the
// reversed path through the relay, and the REPORT that comes through the relay delivers the session.
func TestKamailioRelay(t *testing.T) {
	relay := startKamailio(t)
	s := startServer(t, testOptions())
	page := htmlPage(t, 18432)
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
	herald := s.PathURI(sess.ID)

	conn, err := net.DialTimeout("tcp", relay, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, path: "msrp://127.0.0.1:9/" + push.NewID(6) + ";tcp", rd: make([]byte, 64<<10)}
	c.p.Limits = msrp.Limits{MaxHeaderBytes: 16 << 10, MaxBodyBytes: 1 << 20}
	t.Cleanup(func() { _ = conn.Close() })

	// AUTH to the relay: its Use-Path is the hop to put before Herald's URI.
	tid := msrp.NewTID()
	c.write([]byte("MSRP " + tid + " AUTH\r\nTo-Path: msrp://" + relay + ";tcp\r\nFrom-Path: " + c.path +
		"\r\n-------" + tid + "$\r\n"))
	f := c.mustNext(3 * time.Second)
	if f.Status != 200 {
		t.Fatalf("AUTH answer %+v", f)
	}
	// copyFrame keeps no Use-Path: read it from the raw header of the parsed message.
	usePath := string(c.m.Header("Use-Path"))
	if !strings.HasPrefix(usePath, "msrp://"+relay+"/") {
		t.Fatalf("Use-Path %q", usePath)
	}

	c.bind(usePath + " " + herald)
	var chunks []*frame
	var body []byte
	for {
		f := c.mustNext(3 * time.Second)
		if f.Method == "" { // the relay's 200, and Herald's relayed back: progress only
			if f.Status != 200 {
				t.Fatalf("response %+v", f)
			}
			continue
		}
		if f.Method != "SEND" {
			t.Fatalf("unexpected %+v", f)
		}
		if f.BR.Start != int64(len(body))+1 {
			t.Fatalf("chunk at %d after %d bytes", f.BR.Start, len(body))
		}
		if last := msrp.LastURI([]byte(f.FromPath)); string(last) != herald {
			t.Fatalf("chunk From-Path %q does not end with Herald's %q", f.FromPath, herald)
		}
		if f.ToPath != c.path {
			t.Fatalf("chunk To-Path %q, want the terminal's %q", f.ToPath, c.path)
		}
		chunks = append(chunks, f)
		body = append(body, f.Body...)
		c.write(msrp.AppendResponse(nil, f.TID, 200, "OK", msrp.FirstURI([]byte(f.FromPath)), []byte(c.path)))
		if f.Flag == msrp.FlagEnd {
			break
		}
	}
	if string(body) != string(page.Body) {
		t.Fatalf("page differs: %d bytes", len(body))
	}
	last := chunks[len(chunks)-1]
	n := int64(len(body))
	c.report(last.FromPath, last.MessageID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200)
	if res := waitResult(t, sess, 3*time.Second); res.Outcome != push.Delivered || res.Bytes != n {
		t.Fatalf("result %+v", res)
	}
	t.Logf("%d chunks through the relay; chunk From-Path %q", len(chunks), last.FromPath)
}
