package main

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/sdp"
)

// TestWholeCallOverIPv6 proves claims 1 and 2 (and 4, the media request message) when every party
// is on IPv6, as VoLTE terminals on an IMS PDN connection usually are (3GPP TS 23.221 §5.1): the
// caller, Herald and the callee's next hop on ::1. Everything Herald writes names the address as
// the protocol requires: Via sent-by and Record-Route in brackets (RFC 3261 §25.1 IPv6reference),
// c=IN IP6 in every SDP it builds (RFC 8866 §5.7), the MSRP URIs of a=path with a bracketed host
// (RFC 4975 §9), and the Call-Info link as an http URL with one (RFC 3986 §3.2.2). The pages reach
// both terminals over MSRP on IPv6 and the ringback reaches the caller's IPv6 RTP port.
func TestWholeCallOverIPv6(t *testing.T) {
	alice, bob := seedProfile(t, "sip:alice@home1.net"), seedProfile(t, "tel:+1-212-555-2222")
	rtpSock, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer rtpSock.Close()
	rtp := countRTP(rtpSock, func(pkt []byte, from netip.AddrPort) bool {
		return len(pkt) == 12+160 && from.Addr().Is6() && !from.Addr().Is4In6()
	})
	dc := placeCall(t, demoOptions{From: "sip:alice@home1.net", To: "tel:+1-212-555-2222", Host: "::1",
		Caller: uesim.CallerOptions{RTPPort: rtpSock.LocalAddr().(*net.UDPAddr).Port}})
	cr, ce := dc.Caller, dc.Callee
	if cr.Final != 200 || !ce.Acked || !ce.Bye {
		t.Fatalf("final %d, callee saw ACK=%t BYE=%t", cr.Final, ce.Acked, ce.Bye)
	}

	// The forwarded INVITE: Herald's Via and Record-Route name [::1]; the early-session part offers
	// the caller card at IN IP6 ::1 and an msrp://[::1]:port/ path.
	inv := ce.Invite
	if v := inv.Via(); v == nil || v.Host != "::1" && v.Host != "[::1]" {
		t.Fatalf("forwarded INVITE's top Via %v", v)
	}
	if rr := inv.GetHeader("Record-Route"); rr == nil || !strings.Contains(rr.Value(), "[::1]") {
		t.Fatalf("forwarded INVITE's Record-Route %v", rr)
	}
	parts, err := sdp.ParseMultipart(inv.ContentType().Value(), inv.Body())
	if err != nil || len(parts) != 2 {
		t.Fatalf("multipart: %d parts, %v", len(parts), err)
	}
	early, err := sdp.Parse(parts[1].Body)
	if err != nil || len(early.Media) != 1 {
		t.Fatalf("early-session SDP: %v\n%s", err, parts[1].Body)
	}
	wantIP6(t, "early-session part", early, early.Media[0])
	ci := inv.GetHeader("Call-Info")
	if ci == nil || !strings.HasPrefix(ci.Value(), "<http://[::1]:") {
		t.Fatalf("Call-Info %v", ci)
	}

	// Herald's reliable 183 (ringback) and its UPDATE (the callee card), both at IN IP6 ::1.
	var heraldTag string
	for _, msg := range cr.Messages {
		res := msg.Response
		if msg.Dir != uesim.Received || res == nil || res.StatusCode != 183 || res.GetHeader("RSeq") == nil {
			continue
		}
		if !strings.Contains(res.Contact().Address.User, "herald") {
			continue
		}
		heraldTag, _ = res.To().Params.Get("tag")
		ans, err := sdp.Parse(res.Body())
		if err != nil {
			t.Fatal(err)
		}
		wantIP6(t, "183", ans, ans.Media[0])
	}
	if heraldTag == "" {
		t.Fatal("no reliable 183 from Herald")
	}
	var upd *sip.Request
	for _, msg := range messages(cr, uesim.Received, "UPDATE", 0) {
		upd = msg.Request
	}
	if upd == nil {
		t.Fatal("no UPDATE from Herald")
	}
	us, err := sdp.Parse(upd.Body())
	if err != nil {
		t.Fatal(err)
	}
	wantIP6(t, "UPDATE", us, us.Media[len(us.Media)-1])

	// Both pages over MSRP on IPv6, byte for byte; the ringback on the caller's IPv6 RTP port.
	if ce.PageErr != nil || !bytes.Equal(ce.Page, alice.CallerCard.Body) {
		t.Fatalf("caller card at the callee: %v, %d bytes", ce.PageErr, len(ce.Page))
	}
	if perr := cr.PageErrors[uesim.CalleeCard]; perr != nil || !bytes.Equal(cr.Pages[uesim.CalleeCard], bob.CalleeCard.Body) {
		t.Fatalf("callee card at the caller: %v", perr)
	}
	if n := <-rtp; n[1] < 5 || n[0] != n[1] {
		t.Fatalf("caller received %d RTP packets, %d of them ringback over IPv6", n[0], n[1])
	}
	if st := dc.Herald.msrp.Stats(); st.DeliveriesOK != 2 {
		t.Fatalf("msrp plane delivered %d pages, want 2 (%+v)", st.DeliveriesOK, st)
	}
	// The INVITE left on the fast path's engine (UDP to an IPv6 next hop), as over IPv4.
	if n := dc.Herald.sip.Stats.Fast.HostInvites.Load(); n != 1 {
		t.Fatalf("engine forwarded %d INVITEs with cards, want 1", n)
	}
	waitQuiet(t, dc.Herald)
}

// TestPlainCallOverIPv6: a call without cards over IPv6 is proxied on the fast path (RFC 3261 §16)
// end to end, Record-Route naming [::1], and the dialog's ACK and BYE come back through Herald.
func TestPlainCallOverIPv6(t *testing.T) {
	dc := placeCall(t, demoOptions{From: "sip:erin@home1.net", To: "sip:dave@home1.net", Host: "::1"})
	cr, ce := dc.Caller, dc.Callee
	if cr.Final != 200 || !ce.Acked || !ce.Bye {
		t.Fatalf("final %d, callee saw ACK=%t BYE=%t", cr.Final, ce.Acked, ce.Bye)
	}
	inv := ce.Invite
	if rr := inv.GetHeader("Record-Route"); rr == nil || !strings.Contains(rr.Value(), "[::1]") {
		t.Fatalf("forwarded INVITE's Record-Route %v", rr)
	}
	if ct := inv.ContentType(); ct == nil || ct.Value() != "application/sdp" {
		t.Fatalf("plain call's INVITE changed: Content-Type %v", ct)
	}
	if n := dc.Herald.sip.Stats.Fast.Calls.Load(); n != 1 {
		t.Fatalf("fast path carried %d plain calls, want 1: %+v", n, dc.Herald.sip.Stats.Fast.Snapshot(0))
	}
	waitQuiet(t, dc.Herald)
}

// wantIP6 fails unless sess's connection address for m is IN IP6 ::1 and, for an MSRP line, its
// a=path names [::1].
func wantIP6(t *testing.T, what string, sess *sdp.Session, m *sdp.Media) {
	t.Helper()
	c := sess.ConnOf(m)
	if f := strings.Fields(c); len(f) != 3 || f[0] != "IN" || f[1] != "IP6" {
		t.Fatalf("%s: c=%s, want IN IP6", what, c)
	} else if a, err := netip.ParseAddr(f[2]); err != nil || a != netip.IPv6Loopback() {
		t.Fatalf("%s: c=%s, want ::1", what, c)
	}
	if m.Type != "message" {
		return
	}
	info, err := m.MSRP()
	if err != nil || len(info.Path) == 0 || !strings.HasPrefix(info.Path[0], "msrp://[::1]:") {
		t.Fatalf("%s: a=path %v (%v)", what, info.Path, err)
	}
}
