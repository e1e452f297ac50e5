package sipp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/netio/dnstest"
)

// Plain calls through a real Herald binary to Kamailio 5.6 as the callee's S-CSCF, which Herald
// finds only through DNS SRV (RFC 3263 §4.2): Herald's next hop is sip:scscf.herald.test, a domain
// without a port, and sip.dns_server points Herald at a DNS server the test runs on loopback
// (netio/dnstest). Its records: _sip._udp (or _sip._tcp) .scscf.herald.test names
// kamailio.herald.test at Kamailio's port, kamailio.herald.test has the A record 127.0.0.1, and
// scscf.herald.test itself has the A record 127.0.0.254, where nothing listens: a call that works
// went by the SRV record, not by A/AAAA at 5060 (RFC 3263's fallback without SRV records).
//
// The first call toward the name waits on the general path for the one lookup the fast path
// started (verdict reason route); the test places it alone (a warm-up caller of one call), then
// srvCalls calls at srvRate calls/s, which must all take the fast path without asking DNS again:
// Herald's /metrics around them, the DNS server's count of questions, SIPp's statistics, the
// callee's messages and tshark's dissection of the capture.

const (
	srvCalls  = 200
	srvRate   = 50
	srvDomain = "scscf.herald.test"    // Herald's next hop: no port, so SRV
	srvTarget = "kamailio.herald.test" // the SRV record's target: Kamailio
	// srvDecoy is srvDomain's own A record: nothing listens there (RFC 3263's A/AAAA fallback at
	// 5060 would end there, and the calls would fail).
	srvDecoy = "127.0.0.254"
)

// TestSIPpKamailioSRV: dave calls dave through Herald and Kamailio, UDP on every hop, Herald's next
// hop found through _sip._udp.scscf.herald.test.
func TestSIPpKamailioSRV(t *testing.T) {
	runSRVFlow(t, false, false)
}

// TestSIPpKamailioSRVTCP is TestSIPpKamailioSRV over TCP on every hop (as TestSIPpKamailioPlainTCP):
// Herald's next hop is sip:scscf.herald.test;transport=tcp, found through
// _sip._tcp.scscf.herald.test; the warm-up call's general path both resolves the name and opens
// the connection the fast path then forwards over.
func TestSIPpKamailioSRVTCP(t *testing.T) {
	runSRVFlow(t, true, false)
}

// TestSIPpKamailioNAPTR is TestSIPpKamailioSRVTCP with the transport chosen by DNS (RFC 3263 §4.1):
// Herald's next hop is sip:scscf.herald.test, naming no transport, and the domain's NAPTR records
// prefer SIP+D2T, whose replacement, _sip._tcp.pool.herald.test, names Kamailio; a SIP+D2U record
// of a higher order is not used, and the domain has no _sip._udp records. Only a proxy that reads
// the NAPTR records finds Kamailio, and over TCP.
func TestSIPpKamailioNAPTR(t *testing.T) {
	runSRVFlow(t, true, true)
}

// TestHeraldConfigDNSServer: the generated configuration with DNSServer and a next hop naming a
// domain without a port passes Herald's own loader without warnings, and without DNSServer it has
// no sip.dns_server.
func TestHeraldConfigDNSServer(t *testing.T) {
	o := loadHeraldConfig(t, HeraldConfig{Port: 15060, NextHop: srvDomain, NextHopTransport: "tcp", DNSServer: "127.0.0.1:15353"})
	if o.SIP.NextHop != "sip:"+srvDomain+";transport=tcp" || o.SIP.DNSServer != "127.0.0.1:15353" {
		t.Errorf("loaded next_hop %q, dns_server %q", o.SIP.NextHop, o.SIP.DNSServer)
	}
	if y := (HeraldConfig{Port: 15060, NextHop: "127.0.0.1:15070"}).YAML("/tmp/d"); strings.Contains(y, "dns_server") {
		t.Errorf("DNSServer empty:\n%s", y)
	}
}

// srvPath is what runSRVFlow set up.
type srvPath struct {
	tcp                   bool
	herald, kam, uas      int    // SIP ports
	admin                 string // Herald's admin HTTP address (/metrics)
	srvName, otherSRV     string // the SRV name Herald must ask, and the other transport's
	naptr                 bool   // the transport is chosen by NAPTR records (srvName their replacement)
	heraldLog             string
	transport, transport2 string // "udp"/"UDP" or "tcp"/"TCP"
}

// runSRVFlow sets up the path (callee, Kamailio, the DNS records, Herald), runs the warm-up call and
// the srvCalls calls, over TCP when tcp, and checks them; with naptr, the next hop names no
// transport and NAPTR records choose TCP (TestSIPpKamailioNAPTR).
func runSRVFlow(t *testing.T, tcp, naptr bool) {
	requirePeer(t, "sipp")
	requirePeer(t, "kamailio")
	requirePeer(t, "tshark")
	dir := t.TempDir()
	// Generous, as runTCPFlow's: the peers may start slowly while CI's race-enabled suite loads the
	// machine; the calls themselves take about 5 s.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	p := srvPath{tcp: tcp, naptr: naptr, transport: "udp", transport2: "UDP"}
	if tcp {
		p.transport, p.transport2 = "tcp", "TCP"
	}
	p.srvName = "_sip._" + p.transport + "." + srvDomain
	p.otherSRV = "_sip._" + map[bool]string{false: "tcp", true: "udp"}[tcp] + "." + srvDomain
	if naptr {
		p.srvName = "_sip._tcp.pool." + srvDomain
	}

	// The callee, and Kamailio in front of it on the same transport.
	p.uas = freePort(t)
	uasRun := Run{Name: "uas", Scenario: "uas_plain.xml", Port: p.uas, TCP: tcp, Calls: 1 + srvCalls,
		Timeout: 75 * time.Second, Recv: 5 * time.Second, TraceMsg: true, Stats: true}
	uas, err := StartSIPp(ctx, dir, uasRun)
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, uas)
	p.kam = kamailioTo(t, dir, "sip:"+addr(p.uas)+";transport="+p.transport)

	// The DNS: Kamailio is found through the SRV record alone.
	d := dnstest.New(t)
	d.SetSRV(p.srvName, net.SRV{Target: srvTarget, Port: uint16(p.kam), Priority: 10, Weight: 1}) //nolint:gosec // a port
	d.SetAddr(srvTarget, netip.MustParseAddr("127.0.0.1"))
	d.SetAddr(srvDomain, netip.MustParseAddr(srvDecoy))
	if naptr {
		d.SetNAPTR(srvDomain,
			dnstest.NAPTR{Order: 20, Preference: 10, Flags: "s", Service: "SIP+D2U", Replacement: p.otherSRV + "."},
			dnstest.NAPTR{Order: 10, Preference: 10, Flags: "s", Service: "SIP+D2T", Replacement: p.srvName + "."})
	}

	// Herald, next hop the bare domain, its admin listener on for /metrics.
	p.herald = freePort(t)
	p.admin = addr(freePort(t))
	hc := HeraldConfig{Port: p.herald, NextHop: srvDomain, HTTPListen: p.admin, DNSServer: d.Addr()}
	if tcp && !naptr {
		hc.NextHopTransport = "tcp"
	}
	hctx, hcancel := context.WithTimeout(ctx, StartTimeout)
	h, err := StartHerald(hctx, dir, heraldBinary(t), hc)
	hcancel()
	if err != nil {
		t.Fatal(err)
	}
	stopOnCleanup(t, h)
	p.heraldLog = h.Log

	// Port 5060 is captured too: a call that went to the decoy A record would show there.
	capt := startSIPCapture(ctx, t, filepath.Join(dir, "sip.pcapng"), []int{p.uas, p.herald, p.kam, 5060})

	before := scrapeMetrics(ctx, t, p.admin)
	for _, k := range []string{"herald_sip_fast_path_dns_lookups_total", "herald_sip_fast_path_dns_srv_total",
		"herald_sip_fast_path_dns_failures_total"} {
		if _, ok := before[k]; !ok {
			t.Fatalf("no series %s in Herald's /metrics", k)
		}
	}
	asked0 := d.Questions()
	logFrom := fileSize(t, p.heraldLog)

	// The warm-up call: nothing cached yet. The fast path starts the lookup and hands the INVITE
	// over (reason route); the general path waits for that same lookup and sends the INVITE to the
	// SRV target (over TCP it also opens the connection to Kamailio). The ACK of the 2xx (no fast
	// transaction), the BYE (a general call's) and the responses to sipgo's branches (100, 180, 200,
	// the BYE's 200) go the general way too.
	warmSt := srvCaller(ctx, t, dir, "warmup", freePort(t), addr(p.herald), tcp, 1)
	warm := scrapeMetrics(ctx, t, p.admin).sub(before)
	askedWarm := d.Questions() - asked0
	t.Logf("the warm-up call: %d DNS questions; Herald: %s", askedWarm, warm.fastPath())
	if n := warm.get("herald_sip_fast_path_dns_naptr_total"); n != map[bool]float64{false: 0, true: 1}[naptr] {
		t.Errorf("the warm-up call: %v lookups through NAPTR records, want %d", n, map[bool]int{false: 0, true: 1}[naptr])
	}
	wantCounts(t, "the warm-up call", warm, map[string]float64{
		"herald_sip_invites_total":                1,
		"herald_sip_fast_path_calls_total":        0,
		"herald_sip_fast_path_fallbacks_total":    1,
		"herald_sip_fast_path_send_errors_total":  0,
		"herald_sip_forward_errors_total":         0,
		"herald_sip_fast_path_dns_lookups_total":  1, // the name, once, for both paths
		"herald_sip_fast_path_dns_srv_total":      1, // answered through the SRV record
		"herald_sip_fast_path_dns_failures_total": 0,
		"herald_sip_fast_path_dns_full_total":     0,
	})
	if quietRun(warm, warmSt) {
		want := map[string]float64{
			fpVerdict("general", "route"):          1,
			fpVerdict("general", "no_transaction"): 1,
			fpVerdict("general", "general_call"):   1,
			fpVerdict("general", "sipgo_branch"):   4,
		}
		if !tcp {
			// Over UDP the general path, once the lookup it waited for is in, sends the INVITE
			// on the engine's client transaction (host_invites): its 100, 180 and 200 are the
			// engine's; only the BYE's 200 is sipgo's.
			want[fpVerdict("general", "sipgo_branch")], want[fpVerdict("fast", "response")] = 1, 3
			wantCounts(t, "the warm-up call", warm, map[string]float64{"herald_sip_fast_path_host_invites_total": 1})
		}
		wantVerdicts(t, "the warm-up call", warm, want)
	}

	// The calls: every one on the fast path, toward the cached answer; DNS not asked again (a
	// refresh at most, should the 30 s the answer lives run out on a slow machine).
	start := time.Now()
	st := srvCaller(ctx, t, dir, "uac", freePort(t), addr(p.herald), tcp, srvCalls)
	elapsed := time.Since(start)
	after := scrapeMetrics(ctx, t, p.admin)
	run := after.sub(before).sub(warm)
	askedRun := d.Questions() - asked0 - askedWarm
	t.Logf("%d calls over %s at %d calls/s in %v (SIPp: mean call length %v, %d retransmissions); %d DNS questions; Herald: %s",
		srvCalls, p.transport2, srvRate, elapsed.Round(time.Millisecond), st.CallLength, st.Retrans, askedRun, run.fastPath())
	wantCounts(t, "the calls after the warm-up", run, map[string]float64{
		"herald_sip_invites_total":                srvCalls,
		"herald_sip_fast_path_calls_total":        srvCalls,
		"herald_sip_fast_path_fallbacks_total":    0,
		"herald_sip_fast_path_in_dialog_total":    2 * srvCalls, // each call's ACK and BYE
		"herald_sip_fast_path_send_errors_total":  0,
		"herald_sip_fast_path_timeouts_total":     0,
		"herald_sip_fast_path_overload_total":     0,
		"herald_sip_forward_errors_total":         0,
		"herald_sip_fast_path_dns_failures_total": 0,
		"herald_sip_fast_path_dns_full_total":     0,
	})
	if n := run.get("herald_sip_fast_path_dns_lookups_total"); n > 1 {
		t.Errorf("the calls after the warm-up: %v DNS lookups, want none (cached; one refresh at most)", n)
	}
	if n := run.get("herald_sip_fast_path_dns_srv_total"); n > 1 {
		t.Errorf("the calls after the warm-up: %v lookups through SRV, want none (one refresh at most)", n)
	}
	// A refresh asks SRV, then A and AAAA of the target: 3 questions.
	if askedRun > 3 {
		t.Errorf("the DNS server got %d questions during the %d calls, want none (one refresh at most: 3)", askedRun, srvCalls)
	}
	if quietRun(run, st) {
		// Nothing retransmitted anywhere: the datagrams exactly. Kamailio answers each INVITE with
		// 100 Trying (RFC 3261 §16.2), so four responses a call: 100, 180, 200, the BYE's 200.
		wantVerdicts(t, "the calls after the warm-up", run, map[string]float64{
			fpVerdict("fast", "forwarded"): 3 * srvCalls, // INVITE, ACK, BYE
			fpVerdict("fast", "response"):  4 * srvCalls,
		})
	} else {
		// Retransmissions (UDP on a loaded machine) add datagrams, but none of them may go the
		// general way.
		t.Logf("retransmissions on the path: exact datagram counts not checked")
		for k, v := range run {
			if v != 0 && strings.HasPrefix(k, "herald_sip_fast_path_datagrams_total{") && strings.Contains(k, `verdict="general"`) &&
				k != fpVerdict("general", "method") {
				t.Errorf("the calls after the warm-up: %s %v, want 0", k, v)
			}
		}
	}
	if inv, fast := after.get("herald_sip_invites_total"), after.get("herald_sip_fast_path_calls_total"); inv != 1+srvCalls || inv-fast != 1 {
		t.Errorf("%v INVITEs, %v on the fast path: want %d, all but the first (the warm-up call)", inv, fast, 1+srvCalls)
	}

	// The DNS server's side: the SRV question of the request's transport, asked once (twice with a
	// refresh), never per call; never the other transport's, never the domain's own A record.
	asked := map[string]int{}
	for _, q := range []struct{ typ, name string }{{"SRV", p.srvName}, {"SRV", p.otherSRV}, {"A", srvTarget},
		{"AAAA", srvTarget}, {"A", srvDomain}, {"AAAA", srvDomain}} {
		asked[q.typ+" "+q.name] = d.Asked(q.typ, q.name)
	}
	t.Logf("DNS questions in all: %d for %d calls: %v", d.Questions(), 1+srvCalls, asked)
	if n := asked["SRV "+p.srvName]; n < 1 || n > 2 {
		t.Errorf("the DNS server was asked SRV %s %d times, want 1 (2 with a refresh)", p.srvName, n)
	}
	if n := asked["A "+srvTarget]; n < 1 || n > 2 {
		t.Errorf("the DNS server was asked A %s %d times, want 1 (2 with a refresh)", srvTarget, n)
	}
	for _, k := range []string{"SRV " + p.otherSRV, "A " + srvDomain, "AAAA " + srvDomain} {
		if asked[k] != 0 {
			t.Errorf("the DNS server was asked %s %d times, want 0", k, asked[k])
		}
	}
	// NAPTR (every time: Herald asks it for a domain alone), SRV, A, AAAA, and one refresh.
	if n, most := d.Questions(), 2*(3+d.Asked("NAPTR", srvDomain)/2); n > most || naptr && d.Asked("NAPTR", srvDomain) < 1 {
		t.Errorf("the DNS server got %d questions in all (NAPTR %d), want at most %d", n, d.Asked("NAPTR", srvDomain), most)
	}

	// Herald logged nothing; both proxies on the callee's INVITEs: Kamailio's Via over Herald's
	// (the fast path's branch), both Record-Routes.
	hp, kp := regexp.QuoteMeta(addr(p.herald)), regexp.QuoteMeta(addr(p.kam))
	heraldRR := `;lr>`
	if tcp {
		heraldRR = `;transport=tcp;lr>`
	}
	endFlow(ctx, t, dir, p.heraldLog, logFrom, uas, uasRun, []string{
		`(?i)Via: SIP/2.0/` + p.transport + ` ` + kp + `;branch=`,
		`Via: SIP/2.0/` + p.transport2 + ` ` + hp + `;branch=z9hG4bKhrld[0-9a-f]+`,
		`Record-Route: <sip:` + kp + `[^>]*;lr[^>]*>`,
		`Record-Route: <sip:` + hp + heraldRR,
	})

	capt.stop()
	checkSRVCapture(ctx, t, capt, p)
}

// srvCaller runs uac_plain.xml from port against target (over TCP when tcp) for calls calls and
// checks that every call succeeded.
func srvCaller(ctx context.Context, t *testing.T, dir, name string, port int, target string, tcp bool, calls int) Stats {
	t.Helper()
	r := Run{Name: name, Scenario: "uac_plain.xml", Port: port, Remote: target, TCP: tcp, Calls: calls, Rate: srvRate,
		Pause: 20 * time.Millisecond, Timeout: 20 * time.Second, Recv: 5 * time.Second, Stats: true}
	code := runCaller(ctx, t, dir, r)
	st, err := ReadStats(filepath.Join(dir, name+"_stat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || st.Successful != calls || st.Failed != 0 {
		t.Fatalf("%s: exit %d, %d successful, %d failed; want 0, %d, 0\n%s", name, code, st.Successful, st.Failed, calls,
			r.Errors(dir, 4000))
	}
	if tcp && st.Retrans != 0 {
		t.Errorf("%s: %d retransmissions over TCP, want 0", name, st.Retrans)
	}
	return st
}

// quietRun reports whether nothing was retransmitted on the path during a run whose Herald
// counters are m and whose caller's statistics are st: then every datagram can be counted exactly.
func quietRun(m metrics, st Stats) bool {
	return st.Retrans == 0 && m.get("herald_sip_fast_path_retransmissions_total") == 0 &&
		m.get(fpVerdict("fast", "absorbed")) == 0 && m.get(fpVerdict("drop", "stray")) == 0 &&
		m.get(fpVerdict("fast", "stray_2xx")) == 0
}

// checkSRVCapture: tshark finds no malformed frame and no expert error; nothing went to the decoy
// address; every SIP message is on the test's transport, every Via names it; and each leg (into
// Herald, into Kamailio, into the callee) carries each call's INVITE, ACK and BYE, every call's
// once (exactly once over TCP; over UDP a retransmission is logged).
func checkSRVCapture(ctx context.Context, t *testing.T, c *sipCapture, p srvPath) {
	t.Helper()
	// Port 5060 is captured for the decoy only: whatever else on this machine uses 127.0.0.1:5060
	// (another package's test) is left out.
	ours := "!(ip.addr == 127.0.0.1 && (udp.port == 5060 || tcp.port == 5060))"
	if decoy := c.tsharkRead(ctx, t, "ip.addr == "+srvDecoy, "frame.number", "_ws.col.Info"); len(decoy) > 0 {
		t.Errorf("tshark: %d frames to or from %s (the domain's A record), want none:\n%s", len(decoy), srvDecoy,
			strings.Join(decoy[:min(len(decoy), 10)], "\n"))
	}
	if bad := c.tsharkRead(ctx, t, ours+" && (_ws.malformed || _ws.expert.severity >= error)",
		"frame.number", "_ws.col.Info", "_ws.expert.message"); len(bad) > 0 {
		t.Errorf("tshark: %d malformed or erroneous frames, e.g.:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	other := map[bool]string{false: "tcp", true: "udp"}[p.tcp]
	if wrong := c.tsharkRead(ctx, t, ours+" && sip && "+other, "frame.number", "_ws.col.Info"); len(wrong) > 0 {
		t.Errorf("tshark: %d SIP frames over %s, want none:\n%s", len(wrong), strings.ToUpper(other),
			strings.Join(wrong[:min(len(wrong), 10)], "\n"))
	}
	if p.tcp {
		if bad := c.tsharkRead(ctx, t, ours+" && tcp.len > 0 && !sip && !tcp.reassembled_in",
			"frame.number", "tcp.srcport", "tcp.dstport", "tcp.len"); len(bad) > 0 {
			t.Errorf("tshark: %d TCP segments with payload that is not SIP:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
		}
	}
	rows := c.tsharkRead(ctx, t, ours+" && sip", p.transport+".dstport", "sip.Method", "sip.Call-ID", "sip.Via.transport")
	total := map[string]int{}
	calls := map[string]map[string]bool{}
	for _, r := range rows {
		f := strings.Split(r, "\t")
		if len(f) < 4 {
			t.Fatalf("tshark row %q", r)
		}
		for _, tr := range strings.Split(f[3], "|") {
			if !strings.EqualFold(tr, p.transport) {
				t.Errorf("tshark: a Via with transport %q in the frame %q", tr, r)
			}
		}
		if f[1] == "" {
			continue
		}
		for _, m := range strings.Split(f[1], "|") {
			k := f[0] + " " + m
			total[k]++
			if calls[k] == nil {
				calls[k] = map[string]bool{}
			}
			calls[k][f[2]] = true
		}
	}
	var resent []string
	for _, port := range []int{p.herald, p.kam, p.uas} {
		for _, m := range []string{"INVITE", "ACK", "BYE"} {
			k := strconv.Itoa(port) + " " + m
			if n := len(calls[k]); n != 1+srvCalls {
				t.Errorf("tshark: %s requests of %d calls to port %d, want %d (every call's)", m, n, port, 1+srvCalls)
			}
			if extra := total[k] - len(calls[k]); extra != 0 {
				resent = append(resent, fmt.Sprintf("%d %s to port %d", extra, m, port))
			}
		}
	}
	if len(resent) > 0 {
		slices.Sort(resent)
		if p.tcp {
			t.Errorf("tshark: requests sent twice over TCP: %s", strings.Join(resent, ", "))
		} else {
			t.Logf("tshark: UDP retransmissions: %s", strings.Join(resent, ", "))
		}
	}
	t.Logf("tshark: %d SIP frames, all %s, none malformed, none to %s; requests by destination port: %v", len(rows),
		p.transport2, srvDecoy, total)
}
