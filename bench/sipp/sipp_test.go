package sipp

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// requirePeer skips the test when tool is not installed, or fails it when HERALD_REQUIRE_PEERS=1.
func requirePeer(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s not installed and HERALD_REQUIRE_PEERS=1: %v", tool, err)
		}
		t.Skipf("%s not installed (Debian package %s); set HERALD_REQUIRE_PEERS=1 to make this a failure", tool,
			map[string]string{"sipp": "sip-tester", "kamailio": "kamailio", "tshark": "tshark"}[tool])
	}
}

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// heraldBinary builds cmd/herald once per test binary, or takes $HERALD_BIN when set (a binary
// built beforehand, e.g. while the tree is mid-edit).
func heraldBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HERALD_BIN"); p != "" {
		return p
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "herald-sipp-bin-")
		if built.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		built.path, built.err = BuildHerald(ctx, built.dir)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// flow is one SIPp callee and caller pair for a handful of calls.
type flow struct {
	uac, uas   string // scenario files
	calls      int
	rate       float64
	ring       time.Duration // the callee's <pause/> between 180 and 200
	hold       time.Duration // the caller's <pause/> between ACK and BYE (uac_plain.xml)
	uasTCP     bool          // the callee listens on TCP (Herald sends the grown INVITE over TCP)
	wantUASErr bool          // the callee's checks are expected to fail (a negative test)
}

// stopOnCleanup stops p when the test ends, logging its output tail on failure.
func stopOnCleanup(t *testing.T, p *Proc) {
	t.Cleanup(func() {
		p.Stop(3 * time.Second)
		if t.Failed() && (p.Name == "herald" || p.Name == "kamailio") {
			t.Logf("%s log tail:\n%s", p.Name, p.Tail(3000))
		}
	})
}

// runFlow starts the callee, builds the path to it (Herald, or Kamailio then Herald), runs the
// caller against the first hop and checks both SIPp exit codes.
//
// firstHop returns the caller's target and regular expressions the callee's message log must match
// (proof that the path was the one intended).
func runFlow(t *testing.T, f flow, firstHop func(t *testing.T, dir string, uasPort int) (string, []string)) {
	t.Helper()
	requirePeer(t, "sipp")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	uasPort := freePort(t)
	uasRun := Run{Name: "uas", Scenario: f.uas, Port: uasPort, TCP: f.uasTCP, Calls: f.calls, Pause: f.ring,
		Timeout: 20 * time.Second, Recv: 5 * time.Second, TraceMsg: true}
	uas, err := StartSIPp(ctx, dir, uasRun)
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, uas)

	target, uasMust := firstHop(t, dir, uasPort)

	uacRun := Run{Name: "uac", Scenario: f.uac, Port: freePort(t), Remote: target, Calls: f.calls, Rate: f.rate, Pause: f.hold,
		Timeout: 15 * time.Second, Recv: 5 * time.Second, Stats: true}
	code := runCaller(ctx, t, dir, uacRun)
	wctx, wcancel := context.WithTimeout(ctx, 8*time.Second)
	defer wcancel()
	uasCode, err := uas.Wait(wctx)
	if err != nil {
		t.Fatalf("callee did not finish: %v", err)
	}
	if f.wantUASErr {
		if uasCode == 0 {
			t.Fatalf("callee exit 0, want its regular-expression checks to fail")
		}
		if e := uasRun.Errors(dir, 4000); e == "" {
			t.Fatalf("callee failed (exit %d) without an error log", uasCode)
		}
		return
	}
	if code != 0 {
		t.Errorf("caller exit %d, want 0 (every call successful, every check matched)\n%s", code, uacRun.Errors(dir, 4000))
	}
	if uasCode != 0 {
		t.Errorf("callee exit %d, want 0\n%s", uasCode, uasRun.Errors(dir, 4000))
	}
	msgs, err := os.ReadFile(uasRun.MessageLog(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range uasMust {
		if !regexp.MustCompile(re).Match(msgs) {
			t.Errorf("callee's messages do not match %q", re)
		}
	}
	st, err := ReadStats(dir + "/uac_stat.csv")
	if err != nil {
		t.Fatal(err)
	}
	if st.Successful != f.calls || st.Failed != 0 {
		t.Errorf("caller stats: %d successful, %d failed; want %d and 0", st.Successful, st.Failed, f.calls)
	}
}

// runCaller runs the caller r to its end and returns its exit code.
func runCaller(ctx context.Context, t *testing.T, dir string, r Run) int {
	t.Helper()
	p, err := StartSIPp(ctx, dir, r)
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, p)
	code, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("caller %s did not finish: %v", r.Name, err)
	}
	return code
}

// viaHerald starts Herald with its next hop at next and returns Herald's address.
func viaHerald(t *testing.T, dir string, next string) string {
	t.Helper()
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	h, err := StartHerald(ctx, dir, heraldBinary(t), HeraldConfig{Port: port, NextHop: next})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, h)
	return addr(port)
}

func heraldToUAS(t *testing.T, dir string, uasPort int) (string, []string) {
	h := viaHerald(t, dir, addr(uasPort))
	return h, []string{`Record-Route: <sip:` + regexp.QuoteMeta(h) + `;lr>`}
}

// heraldGeneralToUAS is heraldToUAS for a call the general path carries (a push call): Herald's
// Record-Route names that stack (;herald=general, core/signal route.go), so that the dialog's
// in-dialog requests stay on it.
func heraldGeneralToUAS(t *testing.T, dir string, uasPort int) (string, []string) {
	h := viaHerald(t, dir, addr(uasPort))
	return h, []string{`Record-Route: <sip:` + regexp.QuoteMeta(h) + `;lr;herald=general>`}
}

// kamailioTo starts Kamailio (the S-CSCF stand-in), stopped when the test ends, with its initial
// requests going to target (a SIP URI), and returns its port.
func kamailioTo(t *testing.T, dir, target string) int {
	t.Helper()
	requirePeer(t, "kamailio")
	kport := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	k, err := StartKamailio(ctx, dir, KamailioConfig{Port: kport, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, k)
	return kport
}

// kamailioThenUAS puts Kamailio (the callee's S-CSCF) between Herald and the callee.
func kamailioThenUAS(uasTCP bool) func(t *testing.T, dir string, uasPort int) (string, []string) {
	return func(t *testing.T, dir string, uasPort int) (string, []string) {
		t.Helper()
		tr := "udp"
		if uasTCP {
			tr = "tcp"
		}
		kport := kamailioTo(t, dir, fmt.Sprintf("sip:%s;transport=%s", addr(uasPort), tr))
		h := viaHerald(t, dir, addr(kport))
		// Both proxies are on the path: Kamailio's Via and Record-Route above Herald's.
		kp := regexp.QuoteMeta(addr(kport))
		// Herald's own Via: a plain call over UDP is proxied on the fast path (core/sipfast,
		// branch z9hG4bKhrld<id>), a push call by sipgo (branch z9hG4bK.<random>).
		heraldBranch, heraldRR := `z9hG4bKhrld[0-9a-f]+`, `;lr>`
		if uasTCP {
			heraldBranch, heraldRR = `z9hG4bK\.`, `;lr;herald=general>` // the general path's dialog (route.go)
		}
		return h, []string{
			`(?i)Via: SIP/2.0/` + tr + ` ` + kp + `;branch=`,
			`Record-Route: <sip:` + kp + `[^>]*;lr[^>]*>`,
			`Record-Route: <sip:` + regexp.QuoteMeta(h) + heraldRR,
			`Via: SIP/2.0/(UDP|TCP) 127\.0\.0\.1:[0-9]+;branch=` + heraldBranch,
		}
	}
}

// TestSIPpPlain: dave calls dave (no cards) through Herald: the INVITE reaches the callee untouched
// with Herald's Record-Route, and ACK/BYE come back through Herald.
func TestSIPpPlain(t *testing.T) {
	runFlow(t, flow{uac: "uac_plain.xml", uas: "uas_plain.xml", calls: 10, rate: 20, hold: 20 * time.Millisecond}, heraldToUAS)
}

// TestSIPpPlainTel: the same to a tel: Request-URI (RFC 3966), which Herald's fast path forwards
// to its next hop with the Request-URI as it came (the callee's scenario checks the rest as above).
func TestSIPpPlainTel(t *testing.T) {
	runFlow(t, flow{uac: "uac_plain_tel.xml", uas: "uas_plain.xml", calls: 10, rate: 20, hold: 20 * time.Millisecond}, heraldToUAS)
}

// TestSIPpPush: alice calls bob through Herald: the caller card as an early-session part of the
// INVITE (checked by the callee, which Herald reaches over TCP since the INVITE outgrows UDP), the
// callee's early-session answer stripped from the relayed 180, Herald's reliable 183 PRACKed, the
// callee card's UPDATE answered, 199, 200, ACK, BYE (checked by the caller).
func TestSIPpPush(t *testing.T) {
	runFlow(t, flow{uac: "uac_push.xml", uas: "uas_early.xml", calls: 5, rate: 10, ring: 800 * time.Millisecond,
		uasTCP: true}, heraldGeneralToUAS)
}

// TestSIPpKamailioPush is TestSIPpPush with Kamailio as the callee's S-CSCF between Herald and the
// callee: the multipart INVITE and the 18x Herald strips must survive a real proxy, and in-dialog
// requests must follow both Record-Routes.
func TestSIPpKamailioPush(t *testing.T) {
	runFlow(t, flow{uac: "uac_push.xml", uas: "uas_early.xml", calls: 5, rate: 10, ring: 800 * time.Millisecond,
		uasTCP: true}, kamailioThenUAS(true))
}

// TestSIPpKamailioPlain: plain forwarding with Kamailio behind Herald (UDP all the way).
func TestSIPpKamailioPlain(t *testing.T) {
	runFlow(t, flow{uac: "uac_plain.xml", uas: "uas_plain.xml", calls: 10, rate: 20, hold: 20 * time.Millisecond}, kamailioThenUAS(false))
}

// TestSIPpKamailioAlone: the benchmark's anchor, Kamailio alone as the record-routing proxy for the
// plain scenario, works with the same SIPp files.
func TestSIPpKamailioAlone(t *testing.T) {
	runFlow(t, flow{uac: "uac_plain.xml", uas: "uas_plain.xml", calls: 10, rate: 20, hold: 20 * time.Millisecond},
		func(t *testing.T, dir string, uasPort int) (string, []string) {
			kport := kamailioTo(t, dir, "sip:"+addr(uasPort)+";transport=udp")
			return addr(kport), []string{`Record-Route: <sip:` + regexp.QuoteMeta(addr(kport)) + `;lr[^>]*>`}
		})
}

// TestSIPpPushChecksBite shows the callee's checks can fail: a plain INVITE (dave calls dave, no
// caller card) offered to uas_early.xml must fail its early-session regular expressions.
func TestSIPpPushChecksBite(t *testing.T) {
	runFlow(t, flow{uac: "uac_plain.xml", uas: "uas_early.xml", calls: 1, rate: 10, wantUASErr: true}, heraldToUAS)
}
