package main

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // RFC 5547 file-selector hash
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/sdp"
)

// seedPages returns the seed's pages by identity, to compare what terminals received.
func seedProfile(t *testing.T, id string) *profile.Profile {
	t.Helper()
	st, err := profile.LoadSeed(configs.Seed)
	if err != nil {
		t.Fatal(err)
	}
	key, err := profile.Canonical(id)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := st.Lookup(key)
	if !ok {
		t.Fatalf("no seed profile for %s", id)
	}
	return p
}

func placeCall(t *testing.T, do demoOptions) *demoCall {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	do.KeepInstance = true
	dc, err := runDemoCall(ctx, do)
	if dc != nil && dc.Herald != nil {
		t.Cleanup(func() { dc.Herald.stop(context.Background()) })
	}
	if err != nil {
		if dc != nil && dc.Caller != nil {
			for _, m := range dc.Caller.Messages {
				t.Logf("caller %s", m)
			}
		}
		t.Fatal(err)
	}
	return dc
}

// messages returns the caller's recorded messages matching dir, method and status (0: requests).
func messages(res *uesim.CallResult, dir uesim.Direction, method string, status int) []uesim.Message {
	var out []uesim.Message
	for _, m := range res.Messages {
		if m.Dir == dir && m.Method() == method && m.Status() == status {
			out = append(out, m)
		}
	}
	return out
}

// waitQuiet waits until Herald holds no call, push session or MSRP connection.
func waitQuiet(t *testing.T, in *instance) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := in.msrp.Stats()
		if in.sip.ActiveCalls() == 0 && st.SessionsOpen == 0 && st.ConnsOpen == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("call state survived: calls=%d sessions=%d conns=%d", in.sip.ActiveCalls(), st.SessionsOpen, st.ConnsOpen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClaim1WholeCallOnTheWire drives the whole claim-1 call over real sockets (caller card to the
// callee in the INVITE's early-session part, callee card to the caller in an UPDATE on Herald's own
// reliable early dialog) and checks every wire artifact of the contract.
func TestClaim1WholeCallOnTheWire(t *testing.T) {
	before := runtime.NumGoroutine()
	alice, bob := seedProfile(t, "sip:alice@home1.net"), seedProfile(t, "tel:+1-212-555-2222")
	// While the call rings, fetch the Call-Info link Herald publishes (it is revoked at call end).
	var linkPage []byte
	var linkStatus int
	trace := func(line string) {
		i := strings.Index(line, "Call-Info <")
		if i < 0 || linkStatus != 0 {
			return
		}
		u := line[i+len("Call-Info <"):]
		u = u[:strings.IndexByte(u, '>')]
		resp, err := http.Get(u) //nolint:gosec,noctx // the test's own loopback URL
		if err != nil {
			t.Error(err)
			return
		}
		linkPage, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		linkStatus = resp.StatusCode
	}
	// The caller terminal's RTP port: Herald's ringback arrives here (claim 2).
	rtpSock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtpSock.Close()
	rtpCount := countRTP(rtpSock, func(pkt []byte, _ netip.AddrPort) bool { // PCMU packets with 160-byte payloads
		return len(pkt) == 12+160 && pkt[0]>>6 == 2 && pkt[1]&0x7f == 0
	})
	dc := placeCall(t, demoOptions{From: "sip:alice@home1.net", To: "tel:+1-212-555-2222", Trace: trace,
		Caller: uesim.CallerOptions{RTPPort: rtpSock.LocalAddr().(*net.UDPAddr).Port}})
	cr, ce := dc.Caller, dc.Callee

	// Claim 1/3: the forwarded INVITE carries the caller's SDP untouched plus the early-session part.
	inv := ce.Invite
	ct := inv.ContentType().Value()
	if !strings.HasPrefix(ct, "multipart/mixed") {
		t.Fatalf("forwarded INVITE Content-Type %q, want multipart/mixed", ct)
	}
	parts, err := sdp.ParseMultipart(ct, inv.Body())
	if err != nil || len(parts) != 2 {
		t.Fatalf("multipart: %d parts, %v", len(parts), err)
	}
	sent := messages(dc.Caller, uesim.Sent, "INVITE", 0)
	if len(sent) == 0 {
		t.Fatal("caller sent no INVITE")
	}
	if !bytes.Equal(parts[0].Body, sent[0].Request.Body()) || parts[0].Disposition != "session" {
		t.Fatalf("session part changed or mis-disposed (%q):\n%s\nwant\n%s", parts[0].Disposition, parts[0].Body, sent[0].Request.Body())
	}
	if !strings.HasPrefix(parts[1].Disposition, "early-session") || !strings.Contains(parts[1].Disposition, "handling=optional") {
		t.Fatalf("second part disposition %q", parts[1].Disposition)
	}
	early, err := sdp.Parse(parts[1].Body)
	if err != nil || len(early.Media) != 1 {
		t.Fatalf("early-session SDP: %v", err)
	}
	m := early.Media[0]
	if m.Type != "message" || m.Proto != "TCP/MSRP" || m.Direction() != "sendonly" {
		t.Fatalf("m-line %s %s %s", m.Type, m.Proto, m.Direction())
	}
	info, err := m.MSRP()
	if err != nil {
		t.Fatal(err)
	}
	if info.Setup != "actpass" || !info.CEMA || info.FileSelector == nil || info.TransferID == "" {
		t.Fatalf("msrp info %+v", info)
	}
	if want := alice.CallerCard.HashSelector(); !strings.EqualFold(info.FileSelector.Hash, want) ||
		info.FileSelector.Size != int64(len(alice.CallerCard.Body)) || info.FileSelector.Type != "text/html" {
		t.Fatalf("file-selector %+v, want hash %s size %d", info.FileSelector, want, len(alice.CallerCard.Body))
	}
	if d, _ := m.Attr("file-disposition"); d != "render" {
		t.Fatalf("file-disposition %q", d)
	}
	if !strings.HasPrefix(info.Path[0], "msrp://") || !strings.HasSuffix(info.Path[0], ";tcp") {
		t.Fatalf("a=path %q", info.Path[0])
	}
	if inv.GetHeader("Record-Route") == nil {
		t.Fatal("forwarded INVITE has no Record-Route")
	}
	// The HTTP fallback: Call-Info: <http://…/h/token.html>;purpose=info serving the same page.
	ci := inv.GetHeader("Call-Info")
	if ci == nil || !strings.HasSuffix(ci.Value(), ">;purpose=info") {
		t.Fatalf("forwarded INVITE Call-Info %v", ci)
	}
	if linkStatus != 200 || !bytes.Equal(linkPage, alice.CallerCard.Body) {
		t.Fatalf("Call-Info page during the call: %d, %d bytes", linkStatus, len(linkPage))
	}
	link := strings.TrimSuffix(strings.TrimPrefix(ci.Value(), "<"), ">;purpose=info")
	resp, err := http.Get(link) //nolint:gosec,noctx // the test's own loopback URL
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("Call-Info page after the call: %d, want 404 (revoked with the call)", resp.StatusCode)
	}

	// Claim 1: the callee terminal fetched the caller card over MSRP and it is byte-identical.
	if ce.PageErr != nil || !bytes.Equal(ce.Page, alice.CallerCard.Body) {
		t.Fatalf("caller card at the callee: err %v, %d bytes want %d", ce.PageErr, len(ce.Page), len(alice.CallerCard.Body))
	}
	if want := (len(alice.CallerCard.Body) + 2047) / 2048; ce.Fetch.Chunks != want {
		t.Fatalf("caller card came in %d chunks, want %d of ≤2048 bytes", ce.Fetch.Chunks, want)
	}

	// The callee's 18x reached the caller without the early-session part.
	var calleeTag, heraldTag string
	for _, msg := range cr.Messages {
		res := msg.Response
		if msg.Dir != uesim.Received || res == nil || res.StatusCode < 180 || res.StatusCode >= 200 {
			continue
		}
		tag, _ := res.To().Params.Get("tag")
		if res.GetHeader("RSeq") != nil && res.GetHeader("P-Early-Media") != nil || strings.Contains(res.Contact().Address.User, "herald") {
			heraldTag = tag
			continue
		}
		calleeTag = tag
		if bytes.Contains(res.Body(), []byte("early-session")) || bytes.Contains(res.Body(), []byte("m=message")) {
			t.Fatalf("callee's %d relayed with its early-session answer:\n%s", res.StatusCode, res.Body())
		}
		if c := res.ContentType(); c != nil && len(res.Body()) > 0 && !strings.HasPrefix(c.Value(), "application/sdp") {
			t.Fatalf("callee's %d relayed as %s", res.StatusCode, c.Value())
		}
	}
	if calleeTag == "" || heraldTag == "" || calleeTag == heraldTag {
		t.Fatalf("early dialogs: callee tag %q, herald tag %q", calleeTag, heraldTag)
	}

	// Herald's own reliable 183: Require: 100rel, RSeq, answered by PRACK with the matching RAck.
	var rseq string
	for _, msg := range cr.Messages {
		if msg.Response != nil && msg.Status() == 183 {
			if tag, _ := msg.Response.To().Params.Get("tag"); tag == heraldTag {
				if !strings.Contains(msg.Response.GetHeader("Require").Value(), "100rel") {
					t.Fatal("Herald's 183 lacks Require: 100rel")
				}
				rseq = msg.Response.GetHeader("RSeq").Value()
			}
		}
	}
	pracks := messages(cr, uesim.Sent, "PRACK", 0)
	var acked bool
	for _, p := range pracks {
		if tag, _ := p.Request.To().Params.Get("tag"); tag == heraldTag {
			rack := p.Request.GetHeader("RAck").Value()
			if want := rseq + " " + strconv.Itoa(int(sent[0].Request.CSeq().SeqNo)) + " INVITE"; rack != want {
				t.Fatalf("RAck %q, want %q", rack, want)
			}
			acked = true
		}
	}
	if rseq == "" || !acked {
		t.Fatalf("no reliable 183 from Herald (RSeq %q) or no PRACK for it", rseq)
	}

	// Claim 2: bob subscribes to a ringback: Herald's 183 answers the audio line sendonly in a codec
	// the caller offered, with P-Early-Media: sendonly, and RTP reaches the caller before the callee
	// card goes out; it stops with the answer.
	for _, msg := range cr.Messages {
		if msg.Response == nil || msg.Status() != 183 {
			continue
		}
		if tag, _ := msg.Response.To().Params.Get("tag"); tag != heraldTag {
			continue
		}
		if pem := msg.Response.GetHeader("P-Early-Media"); pem == nil || pem.Value() != "sendonly" {
			t.Fatalf("Herald's 183 P-Early-Media %v, want sendonly", pem)
		}
		ans, err := sdp.Parse(msg.Response.Body())
		if err != nil {
			t.Fatal(err)
		}
		a := ans.Media[0]
		if a.Type != "audio" || a.Port == 0 || a.Direction() != "sendonly" || len(a.Formats) != 1 || a.Formats[0] != "0" {
			t.Fatalf("ringback answer m-line: %s %d %v %s", a.Type, a.Port, a.Formats, a.Direction())
		}
	}
	got := <-rtpCount
	if got[1] < 5 || got[0] != got[1] {
		t.Fatalf("caller received %d RTP packets, %d of them 20 ms PCMU: want ringback", got[0], got[1])
	}

	// Claim 1/4: the UPDATE (media request message) offers the callee card on Herald's dialog.
	var upd *sip.Request
	for _, msg := range messages(cr, uesim.Received, "UPDATE", 0) {
		upd = msg.Request
	}
	if upd == nil {
		t.Fatal("no UPDATE from Herald")
	}
	if tag, _ := upd.From().Params.Get("tag"); tag != heraldTag {
		t.Fatalf("UPDATE on dialog %q, want Herald's %q", tag, heraldTag)
	}
	us, err := sdp.Parse(upd.Body())
	if err != nil {
		t.Fatal(err)
	}
	last := us.Media[len(us.Media)-1]
	ui, err := last.MSRP()
	if err != nil || last.Direction() != "sendonly" || ui.FileSelector == nil ||
		!strings.EqualFold(ui.FileSelector.Hash, bob.CalleeCard.HashSelector()) {
		t.Fatalf("UPDATE m=message: %+v %v", ui, err)
	}
	if len(messages(cr, uesim.Received, "UPDATE", 200)) != 0 || len(messages(cr, uesim.Sent, "UPDATE", 200)) != 1 {
		t.Fatal("caller did not answer the UPDATE with 200")
	}
	// Claim 1: the caller terminal fetched the callee card.
	if perr := cr.PageErrors[uesim.CalleeCard]; perr != nil || !bytes.Equal(cr.Pages[uesim.CalleeCard], bob.CalleeCard.Body) {
		t.Fatalf("callee card at the caller: %v", perr)
	}
	sum := sha1.Sum(cr.Pages[uesim.CalleeCard]) //nolint:gosec // file-selector hash
	if !bytes.Equal(sum[:], bob.CalleeCard.SHA1[:]) {
		t.Fatal("callee card hash mismatch")
	}

	// The callee's 200 OK reached the caller, and ACK/BYE went through Herald to the callee.
	if cr.Final != 200 {
		t.Fatalf("final %d", cr.Final)
	}
	if !ce.Acked || !ce.Bye {
		t.Fatalf("callee saw ACK=%t BYE=%t", ce.Acked, ce.Bye)
	}
	st := dc.Herald.msrp.Stats()
	if st.DeliveriesOK != 2 {
		t.Fatalf("msrp plane delivered %d pages, want 2 (%+v)", st.DeliveriesOK, st)
	}
	waitQuiet(t, dc.Herald)
	dc.Herald.stop(context.Background())
	waitGoroutines(t, before)
}

// countRTP reads conn until the call's ringback ends and sends the number of packets it read and
// of those match accepted. The first packet may take the whole call setup (Herald's start, the
// INVITE, its 183, the PRACK): 10 s, for a machine loaded by the race-enabled suite (1.5 s once ran
// out in CI before the first packet); then the stream ends at 1.5 s of silence.
func countRTP(conn *net.UDPConn, match func(pkt []byte, from netip.AddrPort) bool) <-chan [2]int {
	out := make(chan [2]int, 1)
	go func() {
		var n, ok int
		buf := make([]byte, 2048)
		for {
			wait := 1500 * time.Millisecond
			if n == 0 {
				wait = 10 * time.Second
			}
			_ = conn.SetReadDeadline(time.Now().Add(wait))
			k, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				out <- [2]int{n, ok}
				return
			}
			n++
			if match(buf[:k], from) {
				ok++
			}
		}
	}()
	return out
}

func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
