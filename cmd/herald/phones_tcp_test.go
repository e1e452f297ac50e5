package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/sipfast"
	"go.yaml.in/yaml/v3"
)

// tcpLab is the lab of TestRealPhonesOverTCP and TestRealPhonesMixedTransports: TestRealPhones'
// four phones (callees bob on baresip and erin on linphone, callers carol on baresip and dan on
// linphone) and, leased before the capture starts so that it watches them, the SIP ports (UDP and
// TCP alike) of the test's Herald instances. Over TCP a caller's messages to Herald leave from an
// ephemeral port of the caller's: only Herald's own port puts them in the capture.
type tcpLab struct {
	*phoneLab
	heraldPorts []int
}

// startTCPLab starts the lab under a context that ends after timeout (in -short the test is skipped,
// as newPhoneTest does; a missing phone or tshark skips it, or fails it with HERALD_REQUIRE_PEERS=1).
func startTCPLab(t *testing.T, timeout time.Duration, heralds int) (context.Context, *tcpLab) {
	t.Helper()
	if testing.Short() {
		t.Skip("real phones skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	tsharkPath(t)
	const host = "127.0.0.1"
	wav := phoneWAV(t, t.TempDir())
	lab := &tcpLab{phoneLab: &phoneLab{host: host, callers: map[string]*phone{}, callees: map[string]*phone{}}}
	for i, id := range []string{"baresip callee bob", "linphone callee erin", "baresip caller carol", "linphone caller dan"} {
		f := strings.Fields(id)
		rtp := phonesRTPBase + 100*i
		ph := startPhone(ctx, t, host, f[0], f[1], f[2], rtp, rtp+98, wav)
		if f[1] == "callee" {
			lab.callees[f[0]] = ph
		} else {
			lab.callers[f[0]] = ph
		}
		lab.sipPorts = append(lab.sipPorts, ph.port)
	}
	for range heralds {
		lab.heraldPorts = append(lab.heraldPorts, freeSIPPort(t, host))
	}
	lab.sipPorts = append(lab.sipPorts, lab.heraldPorts...)
	file := filepath.Join(t.TempDir(), "phones-tcp.pcapng")
	lab.capture = startPhoneCapture(ctx, t, file, lab.sipPorts, 0, [][2]int{{phonesRTPBase, phonesRTPEnd}, {heraldRTPMin, heraldRTPMax}})
	return ctx, lab
}

// startTCPHerald starts Herald in-process (startInstance) on the lab's port port (UDP and TCP), its
// next hop the callee phone over hop, "tcp" or "udp" (sip:127.0.0.1:port;transport=hop), its
// subscribers those of seed, its ringback streams in the lab's range for them.
func startTCPHerald(t *testing.T, lab *tcpLab, port int, callee *phone, seed, hop string) *instance {
	t.Helper()
	next := net.JoinHostPort(lab.host, strconv.Itoa(callee.port))
	o, err := demoConfig(next)
	if err != nil {
		t.Fatal(err)
	}
	at := net.JoinHostPort(lab.host, strconv.Itoa(port))
	o.SIP.Listen = []config.Listener{{Transport: "udp", Addr: at}, {Transport: "tcp", Addr: at}}
	o.SIP.NextHop = "sip:" + next + ";transport=" + hop
	o.Seed, o.DataDir = seed, t.TempDir() // (startInstance then keeps the store in a temporary directory of its own)
	o.RTP.PortMin, o.RTP.PortMax = heraldRTPMin, heraldRTPMax
	y, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	in := startInstance(t, "herald-tcp.yaml", string(y))
	if got := in.sip.PortFor("tcp"); got != port {
		t.Fatalf("Herald's SIP over TCP is on port %d, want %d", got, port)
	}
	return in
}

// tcpCall is one call of TestRealPhonesOverTCP or TestRealPhonesMixedTransports.
type tcpCall struct {
	phoneCase
	in       *instance
	port     int  // Herald's SIP port (UDP and TCP)
	wantFast bool // the fast path must carry it (Herald has its connection to the callee already)
	// The caller's leg (caller and Herald) and the callee's leg (Herald and callee) over UDP instead
	// of TCP; at most one of them. Herald's next hop must be over the callee's leg's transport.
	udpCaller, udpCallee bool
}

// legs is the call's transports, caller's leg first: "tcp_to_udp", ...
func (c tcpCall) legs() string {
	return transportName(c.udpCaller) + "_to_" + transportName(c.udpCallee)
}

// transportName is "udp" or "tcp".
func transportName(udp bool) string {
	if udp {
		return "udp"
	}
	return "tcp"
}

func (c tcpCall) name() string {
	n := c.phoneCase.name()
	switch {
	case c.udpCaller || c.udpCallee:
		n += "/" + c.legs()
	case !c.callerCard && !c.calleeCard:
		n += map[bool]string{true: "/fast_path", false: "/general_path_opens_connection"}[c.wantFast]
	}
	return n
}

// runTCPCall places call c: the caller dials Herald's port over TCP (a Request-URI with
// ;transport=tcp) or, with c.udpCaller, over UDP (no transport parameter), Herald forwards to the
// callee phone over its next hop's transport, and the test follows the call on the capture. Over
// TCP a phone's end of a connection it opens is an ephemeral port, and the phones do not keep to the
// connection a request came over: linphone answers a request on a connection of its own to the top
// Via's sent-by, Herald's port (RFC 3261 §18.2.2 asks for the request's connection while it is
// open), and baresip sends its BYE on a new connection to Herald's Record-Route. Over UDP a phone
// sends from its listening port and Herald from its own. So a message is known by its direction,
// toward Herald or from it (Herald's port, or a phone's listening port, at the other end), and by
// what it is (only the callee answers an INVITE, only Herald sends the caller a response to one,
// ...). The call must be answered, media flow both ways, the BYE be answered once, every SIP
// message of the call cross its leg's transport (the UDP leg's messages are those with that phone's
// port at one end), every message Herald sent over TCP carry a Content-Length (RFC 3261 §18.3), the
// cards (when the case has them) reach the phones as Call-Info links, and the fast path carry
// exactly the calls it should: a call across transports takes the general path (verdict route: the
// fast path keeps a call on one transport).
func runTCPCall(ctx context.Context, t *testing.T, lab *tcpLab, c tcpCall) (r phoneResult, callID string) {
	r = phoneResult{name: c.name(), callerLink: "none", calleeLink: "none", path: "general"}
	capt, in, caller, callee, hport := lab.capture, c.in, c.caller, c.callee, c.port
	fail := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		r.failures = append(r.failures, msg)
		t.Error(msg)
	}
	fast := &in.sip.Stats.Fast
	mixed, plain := c.udpCaller || c.udpCallee, !c.callerCard && !c.calleeCard
	calls0, noConn0 := fast.Calls.Load(), fast.Verdicts[sipfast.ReasonNoConnection].Load()
	route0 := fast.Verdicts[sipfast.ReasonRoute].Load()
	from := capt.mark(ctx, t, "tcp-call")
	defer func() {
		caller.hangup(t)
		callee.hangup(t)
		if fast.Calls.Load() > calls0 {
			r.path = "fast"
		}
		noConn := fast.Verdicts[sipfast.ReasonNoConnection].Load() - noConn0
		route := fast.Verdicts[sipfast.ReasonRoute].Load() - route0
		switch {
		case c.wantFast && r.path != "fast":
			fail("the call took the general path (%d no_connection verdicts), want the fast path", noConn)
		case !c.wantFast && r.path == "fast":
			fail("the call took the fast path, want the general path")
		case mixed && route == 0:
			fail("the call %s got no route verdict from the fast path (%d no_connection)", c.legs(), noConn)
		case !mixed && !c.wantFast && plain && noConn == 0:
			fail("the first plain call over TCP got no no_connection verdict")
		}
		if n := fast.Unreadable.Load(); n != 0 {
			fail("the fast path could not read %d responses", n)
		}
		if len(r.failures) > 0 {
			r.completed = false
			for _, ph := range []*phone{caller, callee} {
				t.Logf("%s log:\n%s", ph, ph.tail(40))
			}
		}
		capt.mark(ctx, t, "tcp-call-end")
	}()
	phonePort := func(port int) bool { return port == caller.port || port == callee.port }
	toHerald := func(p capPkt) bool { return p.dst == hport || phonePort(p.src) }
	fromHerald := func(p capPkt) bool { return p.src == hport || phonePort(p.dst) }

	// The transport a SIP message of the call must cross: UDP when the UDP leg's phone's port is at
	// one end, else TCP (a phone's or Herald's ephemeral port is a TCP connection's).
	wantTCP := func(p capPkt) bool {
		for _, leg := range []struct {
			ph  *phone
			udp bool
		}{{caller, c.udpCaller}, {callee, c.udpCallee}} {
			if p.src == leg.ph.port || p.dst == leg.ph.port {
				return !leg.udp
			}
		}
		return true
	}
	uri := sipURI(callee.user, lab.host, hport)
	if !c.udpCaller {
		uri += ";transport=tcp"
	}
	caller.dial(t, uri)
	inv0, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool { return p.dst == hport && p.method == "INVITE" }, nil)
	if err != nil {
		fail("%s sent no INVITE to Herald's port %d: %v", caller, hport, err)
		return r, ""
	}
	if inv0.tcp == c.udpCaller {
		fail("%s's INVITE reached Herald over the wrong transport: %s", caller, inv0)
	}
	callID = inv0.callID
	callerRTP := audioPort(inv0)
	mine := func(p capPkt) bool { return p.callID == callID }
	broken := func(p capPkt) bool {
		return mine(p) && (p.cseq == "INVITE" && p.status >= 300 || p.method == "BYE")
	}
	// expect waits for the call's first message from from on that ok accepts; false (and the test
	// failed) when it does not come or the call breaks first.
	expect := func(what string, ok func(capPkt) bool) (capPkt, bool) {
		t.Helper()
		p, _, err := capt.wait(ctx, from, 10*time.Second, func(p capPkt) bool { return mine(p) && ok(p) }, broken)
		if err != nil {
			fail("%s: %v", what, err)
		}
		return p, err == nil
	}
	invResp := func(p capPkt, lo, hi int) bool { return p.cseq == "INVITE" && p.status >= lo && p.status <= hi }

	inv, ok := expect("INVITE at "+callee.String(), func(p capPkt) bool { return p.method == "INVITE" && fromHerald(p) })
	if !ok {
		return r, callID
	}
	if earlySession(inv) || !strings.HasPrefix(strings.ToLower(inv.ctype), "application/sdp") {
		fail("INVITE at %s carries %s %v, want application/sdp without m=message", callee, inv.ctype, inv.media)
	}
	if inv.tcp == c.udpCallee {
		fail("the INVITE reached %s over the wrong transport: %s", callee, inv)
	}
	page := tcpCardPages(t, c.phoneCase)
	r.calleeLink = checkCardLink(inv.callInfo, page[0], fmt.Sprintf("caller card at %s", callee), fail)
	if _, ok := expect(callee.String()+" rings", func(p capPkt) bool { return toHerald(p) && invResp(p, 101, 199) }); !ok {
		return r, callID
	}
	if _, ok := expect("180 at "+caller.String(), func(p capPkt) bool { return fromHerald(p) && invResp(p, 180, 180) }); !ok {
		return r, callID
	}
	if c.calleeCard {
		// The callee card: a Call-Info link on a provisional Herald sends the caller.
		p, ok := expect("provisional with Call-Info at "+caller.String(), func(p capPkt) bool {
			return fromHerald(p) && invResp(p, 101, 199) && p.callInfo != ""
		})
		r.callerLink = "no Call-Info on a provisional"
		if ok {
			r.callerLink = checkCardLink(p.callInfo, page[1], fmt.Sprintf("callee card at %s", caller), fail)
		}
		if caller.kind == "linphone" {
			// A 100rel caller hears Herald's ringback (its reliable 183 with SDP) before the answer
			// and PRACKs the 183 over TCP, which Herald answers.
			if _, ok := expect("PRACK from "+caller.String(), func(p capPkt) bool { return p.method == "PRACK" && toHerald(p) }); ok {
				expect("200 for the PRACK at "+caller.String(), func(p capPkt) bool {
					return p.cseq == "PRACK" && p.status == 200 && fromHerald(p)
				})
			}
			if h, ok := expect("ringback 183 at "+caller.String(), func(p capPkt) bool {
				return fromHerald(p) && invResp(p, 183, 183) && audioPort(p) != 0
			}); ok {
				hrtp := audioPort(h)
				n, err := capt.waitCount(ctx, from, 10, 3*time.Second, func(p capPkt) bool {
					return !p.sip() && p.src == hrtp && p.dst == callerRTP
				})
				if r.ringb = n; err != nil {
					fail("ringback RTP from Herald :%d to %s :%d: %v", hrtp, caller, callerRTP, err)
				}
			}
		}
	}

	callee.answer(t)
	ok200, ok := expect("200 for the INVITE at "+caller.String(), func(p capPkt) bool { return fromHerald(p) && invResp(p, 200, 200) })
	if !ok {
		return r, callID
	}
	calleeRTP := audioPort(ok200)
	if calleeRTP == 0 || callerRTP == 0 || earlySession(ok200) {
		fail("200 at %s: audio port %d (offer %d), %s %v", caller, calleeRTP, callerRTP, ok200.ctype, ok200.media)
		return r, callID
	}
	if _, ok := expect("ACK at "+callee.String(), func(p capPkt) bool { return p.method == "ACK" && fromHerald(p) }); !ok {
		return r, callID
	}
	caller.startMedia(t)
	callee.startMedia(t)
	answered := len(capt.since(0))
	for _, d := range []struct {
		from, to   *phone
		sport, dpt int
		n          *int
	}{{caller, callee, callerRTP, calleeRTP, &r.rtpUp}, {callee, caller, calleeRTP, callerRTP, &r.rtpDown}} {
		rtp := func(p capPkt) bool { return !p.sip() && p.src == d.sport && p.dst == d.dpt }
		n, err := capt.waitCount(ctx, answered, 25, 10*time.Second, rtp)
		if *d.n = n; err != nil {
			fail("RTP %s :%d → %s :%d: %v", d.from, d.sport, d.to, d.dpt, err)
		}
	}

	// One party hangs up: its BYE goes to Herald's Record-Route (;transport=tcp toward a TCP leg),
	// Herald relays it to the other party's Contact, and the 200 comes back the same way, once.
	ender := caller
	if c.calleeHangsUp {
		ender = callee
	}
	broken = func(p capPkt) bool { return mine(p) && p.status >= 300 }
	ender.hangup(t)
	if _, ok := expect("BYE from "+ender.String()+" at Herald", func(p capPkt) bool { return p.method == "BYE" && toHerald(p) }); !ok {
		return r, callID
	}
	if _, ok := expect("BYE from "+ender.String()+" relayed", func(p capPkt) bool { return p.method == "BYE" && fromHerald(p) }); !ok {
		return r, callID
	}
	byeOK := func(p capPkt) bool { return mine(p) && p.cseq == "BYE" && p.status == 200 && fromHerald(p) }
	if _, ok := expect("200 for the BYE at "+ender.String(), byeOK); !ok {
		return r, callID
	}
	if n := capt.count(from, byeOK); n != 1 {
		fail("%d 200s for the BYE reached %s, want 1", n, ender)
	}
	// Every SIP message of the call crossed its leg's transport, and every one Herald sent over TCP
	// has a Content-Length; no error response, early-session part or unexpected Call-Info reached a
	// phone.
	for _, p := range capt.since(from) {
		switch {
		case !mine(p) || !p.sip():
		case p.tcp != wantTCP(p):
			fail("SIP over the wrong transport (%s): %s", c.legs(), p)
		case p.tcp && fromHerald(p) && p.clen == "":
			fail("no Content-Length on a message Herald sent over TCP (RFC 3261 §18.3): %s", p)
		case p.status >= 300:
			fail("error response %s", p)
		case earlySession(p) && fromHerald(p):
			fail("early-session part or m=message reached a phone: %s", p)
		case p.callInfo != "" && fromHerald(p) && p.status != 0 && !c.calleeCard:
			fail("Call-Info at %s but the callee has no card: %s", caller, p)
		}
	}
	r.completed = len(r.failures) == 0
	return r, callID
}

// tcpCardPages are the case's caller card and callee card (nil where the case has none).
func tcpCardPages(t *testing.T, c phoneCase) [2]*content.Page {
	t.Helper()
	var pages [2]*content.Page
	if !c.callerCard && !c.calleeCard {
		return pages
	}
	store, err := profile.LoadSeed(os.DirFS(phoneSeed(t, c)))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := profile.LookupURI(store, c.caller.aor()); ok && c.callerCard {
		pages[0] = p.CallerCard
	}
	if p, ok := profile.LookupURI(store, c.callee.aor()); ok && c.calleeCard {
		pages[1] = p.CalleeCard
	}
	return pages
}

// checkCardLink checks a Call-Info value against the card page the party should get: fetched and
// equal to it (fetchCard), or absent when page is nil. It returns the report's "ok", "none" or what
// went wrong.
func checkCardLink(callInfo string, page *content.Page, what string, fail func(string, ...any)) string {
	switch {
	case page == nil && callInfo == "":
		return "none"
	case page == nil:
		fail("%s: Call-Info %s but no card was expected", what, callInfo)
		return "unexpected " + callInfo
	}
	link := fetchCard(callInfo, page)
	if link != "ok" {
		fail("%s: %s", what, link)
	}
	return link
}

// tcpWire reads the capture file (after the capture has stopped) and returns, by Call-ID, the top
// Via branch of each INVITE that reached a callee phone's port, and the number of SIP messages to or
// from each of Herald's ports. Unless udp (a test with legs over UDP, whose transports runTCPCall
// checks call by call), it fails the test for every SIP message on the lab's ports that crossed UDP.
func tcpWire(ctx context.Context, t *testing.T, lab *tcpLab, udp bool) (branches map[string]string, onHerald map[int]int) {
	t.Helper()
	var ports []string
	args := []string{"-r", lab.capture.file}
	for _, p := range lab.sipPorts {
		ps := strconv.Itoa(p)
		ports = append(ports, ps)
		args = append(args, "-d", "udp.port=="+ps+",sip", "-d", "tcp.port=="+ps+",sip")
	}
	set := "{" + strings.Join(ports, ", ") + "}"
	args = append(args, "-Y", "sip && (udp.port in "+set+" || tcp.port in "+set+")", "-T", "fields", "-E", "separator=/t",
		"-E", "occurrence=f")
	fields := []string{"frame.number", "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport", "sip.Method", "sip.Call-ID",
		"sip.Via.branch", "_ws.col.Info"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out := tsRun(ctx, t, tsharkPath(t), args...)
	callee := map[string]bool{}
	for _, ph := range lab.callees {
		callee[strconv.Itoa(ph.port)] = true
	}
	branches, onHerald = map[string]string{}, map[int]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != len(fields) {
			continue
		}
		src, dst := f[3], f[4]
		if f[1] != "" {
			if !udp {
				t.Errorf("SIP over UDP: frame %s, ports %s→%s: %s", f[0], f[1], f[2], f[8])
				continue
			}
			src, dst = f[1], f[2]
		}
		if f[5] == "INVITE" && callee[dst] {
			branches[f[6]] = f[7]
		}
		for _, hp := range lab.heraldPorts {
			if src == strconv.Itoa(hp) || dst == strconv.Itoa(hp) {
				onHerald[hp]++
			}
		}
	}
	return branches, onHerald
}

// checkEngineBranches checks the top Via branch of each call's INVITE at the callee (tcpWire's
// branches) against want, by Call-ID: whether it must have the engine's prefix
// (sipfast.BranchPrefix: the fast path's call, or a general-path INVITE on the engine's client
// transaction).
func checkEngineBranches(t *testing.T, branches map[string]string, want map[string]bool) {
	t.Helper()
	for callID, engine := range want {
		br, ok := branches[callID]
		switch {
		case !ok:
			t.Errorf("call %s: no INVITE at the callee in the capture file", callID)
		case engine != strings.HasPrefix(br, sipfast.BranchPrefix):
			t.Errorf("call %s: the callee's INVITE has Herald's branch %s, want the engine's prefix %s: %t", callID, br,
				sipfast.BranchPrefix, engine)
		}
	}
}

// TestRealPhonesOverTCP: real phones (baresip 1.0, linphonec 5.1) calling each other over TCP
// through Herald, whose next hop is the callee phone over TCP (sip.next_hop ;transport=tcp). The
// callers dial Herald's TCP port (Request-URI ;transport=tcp); Herald record-routes with
// ;transport=tcp, so the ACK and BYE come back over TCP too. The phones need nothing else: each
// listens on TCP as on UDP (startPhone) and takes the transport its Request-URI or route names.
// On a tshark capture of the phones' and Herald's SIP ports and the RTP:
//
//   - plain calls (no card on either side), baresip to linphone and linphone to baresip, three each
//     through one Herald per callee: the first opens Herald's connection to the callee on the general
//     path (sipgo; verdict no_connection), the other two take the fast path over TCP
//     (herald_sip_fast_path_calls_total on /metrics, and the callee's INVITE carries the fast path's
//     branch prefix z9hG4bKhrld in the capture file, the first call's not); each is answered, RTP
//     flows both ways, the BYE is answered once; the third call of each direction is hung up by the
//     callee (linphone's BYE toward the baresip caller's Contact, to which Herald has no connection
//     yet, goes the general way, which opens one);
//   - calls with both cards over TCP (the general path), linphone to baresip (Herald's ringback on its
//     reliable 183, PRACKed over TCP) and baresip to linphone: the caller card reaches the callee as
//     the INVITE's Call-Info link and the callee card the caller as a provisional's, both fetched
//     during the call and compared with the page; the call completes;
//   - every SIP message of every call crossed TCP (none over UDP on Herald's ports or the phones'),
//     tshark finds no malformed SIP or SDP frame (checkWire), and Herald holds no call, push session
//     or MSRP connection after each call (waitQuiet).
func TestRealPhonesOverTCP(t *testing.T) {
	ctx, lab := startTCPLab(t, 90*time.Second, 4)
	start := time.Now()
	bob, erin := lab.callees["baresip"], lab.callees["linphone"]
	carol, dan := lab.callers["baresip"], lab.callers["linphone"]
	plain := func(caller, callee *phone) []phoneCase {
		return []phoneCase{{caller: caller, callee: callee}, {caller: caller, callee: callee},
			{caller: caller, callee: callee, calleeHangsUp: true}}
	}
	cards := func(caller, callee *phone) []phoneCase {
		return []phoneCase{{caller: caller, callee: callee, callerCard: true, calleeCard: true}}
	}
	// One Herald per group, its next hop the group's callee; a group's calls share Herald's
	// connection to the callee.
	groups := []struct {
		calls    []phoneCase
		fastWant int // calls the fast path must carry
		in       *instance
	}{{calls: plain(carol, erin), fastWant: 2}, {calls: plain(dan, bob), fastWant: 2}, {calls: cards(dan, bob)}, {calls: cards(carol, erin)}}
	var results []phoneResult
	fastCall := map[string]bool{} // Call-ID: whether the fast path must have carried it
	for i := range groups {
		g := &groups[i]
		g.in = startTCPHerald(t, lab, lab.heraldPorts[i], g.calls[0].callee, phoneSeed(t, g.calls[0]), "tcp")
		for j, pc := range g.calls {
			plainCall := !pc.callerCard && !pc.calleeCard
			c := tcpCall{phoneCase: pc, in: g.in, port: lab.heraldPorts[i], wantFast: plainCall && j > 0}
			t.Run(c.name(), func(t *testing.T) {
				r, callID := runTCPCall(ctx, t, lab, c)
				results = append(results, r)
				if callID != "" && plainCall {
					fastCall[callID] = c.wantFast
				}
				waitQuiet(t, g.in) // Herald ends the call quiet: no call, push session or MSRP connection
			})
		}
		// The same on the admin listener's /metrics: the fast path's calls, and the first call's
		// INVITE handed to the general path for want of a connection.
		m := scrape(t, g.in)
		calls := m["herald_sip_fast_path_calls_total"]
		noConn := m[`herald_sip_fast_path_datagrams_total{reason="no_connection",verdict="general"}`]
		if calls != float64(g.fastWant) || g.fastWant > 0 && noConn < 1 {
			t.Errorf("Herald %d /metrics: herald_sip_fast_path_calls_total %v (want %d), no_connection verdicts %v", i, calls,
				g.fastWant, noConn)
		}
		t.Logf("Herald %d (port %d, next hop %s over TCP): herald_sip_fast_path_calls_total %v, no_connection verdicts %v", i,
			lab.heraldPorts[i], g.calls[0].callee, calls, noConn)
	}
	lab.checkWire(ctx, t) // stops the capture: no malformed SIP or SDP frame
	branches, onHerald := tcpWire(ctx, t, lab, false)
	checkEngineBranches(t, branches, fastCall)
	for i, hp := range lab.heraldPorts {
		if onHerald[hp] == 0 {
			t.Errorf("Herald %d: no SIP over TCP on its port %d", i, hp)
		}
	}
	t.Logf("SIP messages over TCP on Herald's ports %v: %v", lab.heraldPorts, onHerald)
	logPhoneResults(t, results, time.Since(start))
}

// TestRealPhonesMixedTransports: TestRealPhonesOverTCP's phones calling each other through Herald
// with the two legs of a call on different transports (Herald forwards over the transport its next
// hop names and double record-routes, RFC 5658):
//
//   - caller on TCP, callee on UDP (sip.next_hop ;transport=udp): baresip to linphone, caller hangs
//     up, the call that failed before cf22318 (linphone's 180 over UDP without Content-Length, legal
//     there, went on to baresip over TCP without one, where it frames the message, RFC 3261 §18.3:
//     baresip dropped the connection); linphone to baresip, callee hangs up;
//   - caller on UDP (Request-URI without ;transport), callee on TCP (next hop ;transport=tcp):
//     baresip to linphone, caller hangs up; linphone to baresip, callee hangs up (linphone's 200 for
//     the BYE, over UDP without Content-Length, goes on to baresip over TCP);
//   - both cards, baresip on TCP to linphone on UDP: the caller card reaches the callee as the
//     INVITE's Call-Info link and the callee card the caller as a provisional's, both fetched during
//     the call and compared with the page.
//
// One Herald per call, its next hop the callee (runTCPCall). Each call is answered, RTP flows both
// ways (≥ 25 packets each), the BYE is answered once; on the capture, the caller's INVITE reached
// Herald and Herald's reached the callee over their legs' transports and every SIP message of the
// call crossed its leg's (the UDP phone's messages over UDP, the rest over TCP), and every message
// Herald sent over TCP has a Content-Length. These calls take the general path, as the fast path
// keeps a call on one transport: a route verdict per call and herald_sip_fast_path_calls_total 0 on
// /metrics. The general path's INVITE toward a callee over UDP rides the engine's client
// transaction all the same (callsip.EngineInvite): herald_sip_fast_path_host_invites_total 1 and
// the engine's branch (z9hG4bKhrld) on the callee's INVITE in the capture file; toward a callee
// over TCP it is sipgo's (0, and another branch). Herald holds no call, push session or MSRP
// connection after each call (waitQuiet), and tshark finds no malformed SIP or SDP frame
// (checkWire). linphone must have sent Herald at least one message over UDP without
// Content-Length, or the test would not exercise what it is for.
func TestRealPhonesMixedTransports(t *testing.T) {
	ctx, lab := startTCPLab(t, 75*time.Second, 5)
	start := time.Now()
	bob, erin := lab.callees["baresip"], lab.callees["linphone"]
	carol, dan := lab.callers["baresip"], lab.callers["linphone"]
	calls := []tcpCall{
		{phoneCase: phoneCase{caller: carol, callee: erin}, udpCallee: true},
		{phoneCase: phoneCase{caller: dan, callee: bob, calleeHangsUp: true}, udpCallee: true},
		{phoneCase: phoneCase{caller: carol, callee: erin}, udpCaller: true},
		{phoneCase: phoneCase{caller: dan, callee: bob, calleeHangsUp: true}, udpCaller: true},
		{phoneCase: phoneCase{caller: carol, callee: erin, callerCard: true, calleeCard: true}, udpCallee: true},
	}
	var results []phoneResult
	engineBranch := map[string]bool{} // Call-ID: whether the callee's INVITE has the engine's branch
	bare := 0                         // SIP messages without Content-Length that reached Herald over UDP
	for i, c := range calls {
		c.port = lab.heraldPorts[i]
		c.in = startTCPHerald(t, lab, c.port, c.callee, phoneSeed(t, c.phoneCase), transportName(c.udpCallee))
		t.Run(c.name(), func(t *testing.T) {
			r, callID := runTCPCall(ctx, t, lab, c)
			results = append(results, r)
			if callID != "" {
				engineBranch[callID] = c.udpCallee
				t.Logf("Call-ID %s", callID)
				var msgs []string
				for _, p := range lab.capture.since(0) {
					if p.callID == callID && p.sip() && !p.tcp && p.clen == "" {
						msgs = append(msgs, p.String())
					}
				}
				bare += len(msgs)
				t.Logf("SIP messages of the call over UDP without Content-Length: %d (%s)", len(msgs), strings.Join(msgs, "; "))
			}
			waitQuiet(t, c.in)
		})
		m := scrape(t, c.in)
		fastCalls, hostInvites := m["herald_sip_fast_path_calls_total"], m["herald_sip_fast_path_host_invites_total"]
		route := m[`herald_sip_fast_path_datagrams_total{reason="route",verdict="general"}`]
		wantHost := map[bool]float64{false: 0, true: 1}[c.udpCallee]
		if fastCalls != 0 || route < 1 || hostInvites != wantHost {
			t.Errorf("Herald %d /metrics: herald_sip_fast_path_calls_total %v (want 0), route verdicts %v (want ≥ 1), "+
				"herald_sip_fast_path_host_invites_total %v (want %v)", i, fastCalls, route, hostInvites, wantHost)
		}
		t.Logf("Herald %d (port %d, next hop %s over %s): herald_sip_fast_path_calls_total %v, route verdicts %v, host invites %v", i,
			c.port, c.callee, transportName(c.udpCallee), fastCalls, route, hostInvites)
	}
	if bare == 0 {
		t.Error("no SIP message without Content-Length reached Herald over UDP: the test does not exercise the relay to TCP")
	}
	lab.checkWire(ctx, t) // stops the capture: no malformed SIP or SDP frame
	branches, onHerald := tcpWire(ctx, t, lab, true)
	checkEngineBranches(t, branches, engineBranch)
	t.Logf("SIP messages on Herald's ports %v: %v", lab.heraldPorts, onHerald)
	logPhoneResults(t, results, time.Since(start))
}
