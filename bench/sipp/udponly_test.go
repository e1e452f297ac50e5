package sipp

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// TestSIPpPushUDPOnlyCallee is a whole push call (alice calls bob, SIPp on both sides) whose callee
// terminal speaks only UDP: SIPp's uas with -t u1, no TCP listener on its port (issue 11 item 3).
// Herald's next_hop is that terminal, without a transport parameter (the INVITE's size sends it to
// TCP first, RFC 3261 §18.1.1; refused, it goes again over UDP) and with ;transport=udp (UDP at
// once, RFC 3263 §4.1). Either way the INVITE SIPp receives carries the caller card as its
// early-session part (the scenario's regular-expression checks, which fail the callee otherwise),
// and the test, as that terminal's MSRP side, fetches the page from the a=path SIPp received: the
// page Herald delivers over MSRP matches the offer's file-selector (size and SHA-1).
func TestSIPpPushUDPOnlyCallee(t *testing.T) {
	for _, tr := range []string{"", "udp"} {
		name := map[string]string{"": "next hop without transport", "udp": "next hop transport=udp"}[tr]
		t.Run(name, func(t *testing.T) {
			requirePeer(t, "sipp")
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
			defer cancel()
			uasPort := freePort(t)
			uasRun := Run{Name: "uas", Scenario: "uas_udp_card.xml", Port: uasPort, Calls: 1, Pause: 2 * time.Second,
				Timeout: 20 * time.Second, Recv: 8 * time.Second, TraceMsg: true}
			uas, err := StartSIPp(ctx, dir, uasRun)
			if err != nil {
				t.Fatal(err)
			}
			stopOnCleanup(t, uas)
			if c, err := net.DialTimeout("tcp", addr(uasPort), time.Second); err == nil {
				_ = c.Close()
				t.Fatalf("something accepts TCP on the callee's port %d: the test needs a UDP-only callee", uasPort)
			}
			hport := freePort(t)
			hctx, hcancel := context.WithTimeout(ctx, StartTimeout)
			defer hcancel()
			h, err := StartHerald(hctx, dir, heraldBinary(t), HeraldConfig{Port: hport, NextHop: addr(uasPort), NextHopTransport: tr})
			if err != nil {
				t.Fatal(err)
			}
			stopOnCleanup(t, h)
			uacRun := Run{Name: "uac", Scenario: "uac_push.xml", Port: freePort(t), Remote: addr(hport), Calls: 1,
				Timeout: 15 * time.Second, Recv: 8 * time.Second, Stats: true}
			uac, err := StartSIPp(ctx, dir, uacRun)
			if err != nil {
				t.Fatal(err)
			}
			stopOnCleanup(t, uac)

			// The terminal's MSRP side: what SIPp found in the INVITE's early-session part.
			path := waitFile(t, filepath.Join(dir, "caller_card_path.txt"))
			sel := waitFile(t, filepath.Join(dir, "caller_card_selector.txt"))
			u := regexp.MustCompile(`^msrp://([^/]+)/[^;]+;tcp$`).FindStringSubmatch(path)
			size := regexp.MustCompile(`size:([0-9]+)`).FindStringSubmatch(sel)
			hash := regexp.MustCompile(`hash:(sha-1:[0-9A-Fa-f:]+)`).FindStringSubmatch(sel)
			if u == nil || size == nil || hash == nil {
				t.Fatalf("a=path %q, a=file-selector %q", path, sel)
			}
			n, _ := strconv.ParseInt(size[1], 10, 64)
			fr, err := uesim.Fetch(ctx, uesim.FetchOptions{Addr: u[1], ToPath: path, FromPath: "msrp://127.0.0.1:9/sippcallee;tcp",
				Size: n, Hash: hash[1], Timeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("MSRP fetch of the caller card from %s: %v", path, err)
			}
			if int64(len(fr.Page)) != n || n == 0 || !strings.Contains(string(fr.Page), "<html") {
				t.Fatalf("fetched %d bytes (%q...), want the %d-byte card", len(fr.Page), fr.Page[:min(len(fr.Page), 40)], n)
			}

			code, err := uac.Wait(ctx)
			if err != nil {
				t.Fatalf("caller did not finish: %v", err)
			}
			uasCode, err := uas.Wait(ctx)
			if err != nil {
				t.Fatalf("callee did not finish: %v", err)
			}
			if code != 0 || uasCode != 0 {
				t.Fatalf("caller exit %d, callee exit %d (the callee's checks of the INVITE)\n%s\n%s", code, uasCode,
					uacRun.Errors(dir, 4000), uasRun.Errors(dir, 4000))
			}
			msgs, err := os.ReadFile(uasRun.MessageLog(dir))
			if err != nil {
				t.Fatal(err)
			}
			// The INVITE came over UDP, Herald's Via on top.
			if !regexp.MustCompile(`(?s)INVITE sip:.*?Via: SIP/2.0/UDP 127\.0\.0\.1:` + strconv.Itoa(hport) + `;branch=`).Match(msgs) {
				t.Fatalf("the callee's INVITE did not come from Herald over UDP:\n%.3000s", msgs)
			}
		})
	}
}

// waitFile waits for a non-empty file and returns its first line.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			line, _, _ := strings.Cut(string(b), "\n")
			return strings.TrimSpace(line)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written: did the callee get the early-session part?", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
