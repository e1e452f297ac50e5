package signal

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sipmsg"
)

// Transport-aware Record-Route (issue 4 items 3 and 4; RFC 3261 §16.6 step 4, RFC 5658): when the
// INVITE comes in over one transport and leaves over another, Herald record-routes twice, each entry
// naming its listening port and transport for that leg, so that in-dialog requests come back to it
// over the transport of the leg they come from, and pops both when they do. The peers here are
// sipgo user agents on UDP, TCP or TLS sockets of 127.0.0.1; Herald serves UDP and TCP on one port
// (startHerald) and TLS on another.

// rrPeer is a SIP user agent on one transport of 127.0.0.1: as the callee it answers INVITE 200 with
// a Contact on its socket; either side answers BYE 200. It records every request it receives.
type rrPeer struct {
	name      string
	transport string // UDP, TCP or TLS
	port      int
	cli       *sipgo.Client

	mu    sync.Mutex
	reqs  []*sip.Request
	toTag string // of the 200 the callee sent
}

func newRRPeer(t *testing.T, name, transport string, ca *testCA) *rrPeer {
	t.Helper()
	p := &rrPeer{name: name, transport: strings.ToUpper(transport)}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgenTLSConfig(&tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	if p.cli, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		p.record(req)
		res := sip.NewResponseFromRequest(req, 200, "OK", []byte("v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\n"+
			"s=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
		res.AppendHeader(ctHeader("application/sdp"))
		res.AppendHeader(p.contact())
		tag, _ := res.To().Params.Get("tag")
		p.mu.Lock()
		p.toTag = tag
		p.mu.Unlock()
		_ = tx.Respond(res)
	})
	srv.OnAck(func(req *sip.Request, _ sip.ServerTransaction) { p.record(req) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		p.record(req)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	var serve func() error
	var closer func() error
	switch p.transport {
	case "UDP":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.port, closer = pc.LocalAddr().(*net.UDPAddr).Port, pc.Close
		serve = func() error { return srv.ServeUDP(pc) }
	case "TCP", "TLS":
		var ln net.Listener
		if p.transport == "TCP" {
			ln, err = net.Listen("tcp", "127.0.0.1:0")
		} else {
			conf := &tls.Config{Certificates: []tls.Certificate{issue(t, ca, name, "127.0.0.1").tls}, MinVersion: tls.VersionTLS12}
			ln, err = tls.Listen("tcp", "127.0.0.1:0", conf)
		}
		if err != nil {
			t.Fatal(err)
		}
		p.port, closer = ln.Addr().(*net.TCPAddr).Port, ln.Close
		if p.transport == "TCP" {
			serve = func() error { return srv.ServeTCP(ln) }
		} else {
			serve = func() error { return srv.ServeTLS(ln) }
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = serve() }()
	t.Cleanup(func() {
		_ = closer()
		<-done
		_ = ua.Close()
	})
	return p
}

func (p *rrPeer) record(req *sip.Request) {
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	p.mu.Unlock()
}

func (p *rrPeer) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *rrPeer) contact() *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: p.name, Host: "127.0.0.1", Port: p.port}
	if p.transport != "UDP" {
		u.UriParams = sip.HeaderParams{{K: "transport", V: strings.ToLower(p.transport)}}
	}
	return &sip.ContactHeader{Address: u}
}

// wait returns the first request of that method the peer received (5 s at most).
func (p *rrPeer) wait(t *testing.T, method sip.RequestMethod) *sip.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		for _, r := range p.reqs {
			if r.Method == method {
				p.mu.Unlock()
				return r
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("%s received no %s", p.name, method)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inDialog builds an in-dialog request along routes (in the order they are to be visited) to target,
// sent toward the first route over the transport it names (RFC 3261 §12.2.1.1).
func inDialog(m sip.RequestMethod, target sip.Uri, routes []sip.Uri, from *sip.FromHeader, to *sip.ToHeader,
	callID *sip.CallIDHeader, seq uint32) *sip.Request {
	r := sip.NewRequest(m, target)
	for _, u := range routes {
		r.AppendHeader(&sip.RouteHeader{Address: u})
	}
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.AppendHeader(from)
	r.AppendHeader(to)
	r.AppendHeader(callID)
	r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
	r.SetBody(nil)
	next := &target
	if len(routes) > 0 {
		next = &routes[0]
	}
	tp := sipmsg.URITransport(next)
	r.SetTransport(tp)
	port := next.Port
	if port == 0 {
		port = sip.DefaultPort(tp)
	}
	r.SetDestination(next.Host + ":" + strconv.Itoa(port))
	return r
}

func recordRoutes(m sip.Message) []sip.Uri {
	var out []sip.Uri
	for _, h := range m.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			out = append(out, rr.Address)
		}
	}
	return out
}

// serveHeraldTLS serves SIP over TLS for h on a new 127.0.0.1 port, with a certificate from ca
// for 127.0.0.1, and returns the port.
func serveHeraldTLS(t *testing.T, h *rig, ca *testCA) int {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{issue(t, ca, "herald", "127.0.0.1").tls}, MinVersion: tls.VersionTLS12}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	h.sig.ListeningTLS(ln.Addr())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.sig.ServeTLS(ln) }()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestItem4DoubleRecordRoute proves transport-aware record-routing (RFC 3261 §16.6 step 4, RFC 5658):
// a caller on one transport calls a callee Herald reaches over another. The callee sees Herald's
// two Record-Routes, its own leg's on top (Herald's port and transport for that leg), or exactly one
// when both legs share Herald's URI; Herald's Via names its listening port for the outbound
// transport (RFC 3261 §18.2.2), not the connection's ephemeral one. The caller's ACK and the
// callee's BYE carry both of Herald's Routes; Herald pops both, the BYE reaches Herald over the
// callee's transport (the callee's Via under Herald's says so) and the caller over the caller's.
func TestItem4DoubleRecordRoute(t *testing.T) {
	const (
		rrUDP = "sip:127.0.0.1:%P;lr"
		rrTCP = "sip:127.0.0.1:%P;transport=tcp;lr"
		rrTLS = "sip:127.0.0.1:%T;transport=tls;lr"
	)
	cases := []struct {
		in, out string
		want    []string // Record-Route URIs the callee sees, topmost first
	}{
		{"udp", "tls", []string{rrTLS, rrUDP}},
		{"tcp", "udp", []string{rrUDP, rrTCP}},
		{"tls", "tcp", []string{rrTCP, rrTLS}},
		{"udp", "tcp", []string{rrTCP, rrUDP}},
		{"udp", "udp", []string{rrUDP}},
		{"tcp", "tcp", []string{rrTCP}},
		{"tls", "tls", []string{rrTLS}},
	}
	for _, tc := range cases {
		t.Run(tc.in+" in "+tc.out+" out", func(t *testing.T) {
			leakCheck(t)
			ca := newTestCA(t, "Test Carrier CA")
			callee := newRRPeer(t, "callee", tc.out, ca)
			caller := newRRPeer(t, "caller", tc.in, ca)
			st, _ := testStore(t)
			h := startHerald(t, st, callee.addr(), func(o *Options) {
				o.NextHopTransport = tc.out
				o.TLSClient = clientTLSFor(t, ca, nil, false)
			})
			tlsPort := serveHeraldTLS(t, h, ca)
			udpPort, _ := strconv.Atoi(portOf(h.addr))
			heraldPort := map[string]int{"UDP": udpPort, "TCP": udpPort, "TLS": tlsPort}
			expand := strings.NewReplacer("%P", strconv.Itoa(udpPort), "%T", strconv.Itoa(tlsPort))

			// The caller's INVITE.
			var toURI, fromURI sip.Uri
			_ = sip.ParseUri(erin, &toURI)
			_ = sip.ParseUri(dave, &fromURI)
			inv := sip.NewRequest(sip.INVITE, toURI)
			from := &sip.FromHeader{Address: fromURI, Params: sip.HeaderParams{{K: "tag", V: "caller1"}}}
			inv.AppendHeader(from)
			inv.AppendHeader(&sip.ToHeader{Address: toURI})
			cid := sip.CallIDHeader("rr-" + tc.in + "-" + tc.out + "@test")
			inv.AppendHeader(&cid)
			inv.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
			mf := sip.MaxForwardsHeader(70)
			inv.AppendHeader(&mf)
			inv.AppendHeader(caller.contact())
			inv.AppendHeader(ctHeader("application/sdp"))
			inv.SetBody([]byte("v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
				"m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
			inv.SetTransport(caller.transport)
			inv.SetDestination("127.0.0.1:" + strconv.Itoa(heraldPort[caller.transport]))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tx, err := caller.cli.TransactionRequest(ctx, inv, sipgo.ClientRequestAddVia)
			if err != nil {
				t.Fatal(err)
			}
			var ok *sip.Response
			for ok == nil {
				select {
				case res := <-tx.Responses():
					if res.StatusCode >= 200 {
						ok = res
					}
				case <-tx.Done():
					t.Fatalf("INVITE transaction ended without a final response: %v", tx.Err())
				case <-ctx.Done():
					t.Fatal("no final response to the INVITE")
				}
			}
			tx.Terminate()
			if ok.StatusCode != 200 {
				t.Fatalf("INVITE answered %d", ok.StatusCode)
			}

			// What the callee received.
			cinv := callee.wait(t, sip.INVITE)
			if !strings.EqualFold(cinv.Transport(), tc.out) {
				t.Fatalf("callee received the INVITE over %s", cinv.Transport())
			}
			got := headerStrings(cinv, "Record-Route")
			var want []string
			for _, w := range tc.want {
				// Herald's Record-Route of a general-path dialog names that stack (route.go); a
				// plain call over UDP both ways is the fast path's, whose Record-Route does not.
				if tc.in == "udp" && tc.out == "udp" {
					want = append(want, "<"+expand.Replace(w)+">")
				} else {
					want = append(want, "<"+expand.Replace(w)+";herald=general>")
				}
			}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Fatalf("callee's Record-Route %q, want %q", got, want)
			}
			if v := cinv.Via(); v == nil || !strings.EqualFold(v.Transport, tc.out) || v.Host != "127.0.0.1" || v.Port != heraldPort[callee.transport] {
				t.Fatalf("Herald's Via %v, want SIP/2.0/%s 127.0.0.1:%d", v, strings.ToUpper(tc.out), heraldPort[callee.transport])
			}

			// The caller's ACK along the reversed route set, to the callee's Contact.
			rs := recordRoutes(ok)
			for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
				rs[i], rs[j] = rs[j], rs[i]
			}
			ack := inDialog(sip.ACK, ok.Contact().Address, rs, from, sip.HeaderClone(ok.To()).(*sip.ToHeader), &cid, 1)
			if err := caller.cli.WriteRequest(ack, sipgo.ClientRequestAddVia); err != nil {
				t.Fatal(err)
			}
			if a := callee.wait(t, sip.ACK); !strings.EqualFold(a.Transport(), tc.out) || len(a.GetHeaders("Route")) != 0 {
				t.Fatalf("callee's ACK over %s with Route %q", a.Transport(), headerStrings(a, "Route"))
			}

			// The callee hangs up along its route set (the Record-Routes in order).
			callee.mu.Lock()
			tag := callee.toTag
			callee.mu.Unlock()
			cfrom := &sip.FromHeader{Address: cinv.To().Address, Params: sip.HeaderParams{{K: "tag", V: tag}}}
			cto := &sip.ToHeader{Address: cinv.From().Address, Params: cinv.From().Params.Clone()}
			bye := inDialog(sip.BYE, cinv.Contact().Address, recordRoutes(cinv), cfrom, cto, &cid, 1)
			res, err := callee.cli.Do(ctx, bye, sipgo.ClientRequestAddVia)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("callee's BYE: %v, %v", res, err)
			}
			b := caller.wait(t, sip.BYE)
			if !strings.EqualFold(b.Transport(), tc.in) || len(b.GetHeaders("Route")) != 0 {
				t.Fatalf("caller's BYE over %s with Route %q", b.Transport(), headerStrings(b, "Route"))
			}
			vias := b.GetHeaders("Via")
			if len(vias) != 2 {
				t.Fatalf("caller's BYE Vias %q", headerStrings(b, "Via"))
			}
			if v := vias[0].(*sip.ViaHeader); !strings.EqualFold(v.Transport, tc.in) || v.Port != heraldPort[caller.transport] {
				t.Fatalf("Herald's Via on the BYE %v, want SIP/2.0/%s 127.0.0.1:%d", v, strings.ToUpper(tc.in), heraldPort[caller.transport])
			}
			if v := vias[1].(*sip.ViaHeader); !strings.EqualFold(v.Transport, tc.out) {
				t.Fatalf("the callee's BYE reached Herald over %s, want %s", v.Transport, tc.out)
			}
			h.quiet(t)
			if s := &h.sig.Stats; s.ForwardErrors.Load() != 0 {
				t.Fatalf("forward errors %d", s.ForwardErrors.Load())
			}
		})
	}
}

// TestRecordRouteURIs covers the URIs Herald record-routes with and recognises as its own: the
// advertised port (Options.Port, Options.TLSPort) replaces the listening port of the sockets that
// share the first socket's port; a transport Herald serves no socket for gets the primary URI; a
// SIPS request gets sips: on its TLS legs (RFC 3261 §16.6 step 4); popSelfRoute pops every
// consecutive Route of Herald's and stops at the first that is not.
func TestRecordRouteURIs(t *testing.T) {
	mk := func(o Options, udp, tcp, tls int) *Server {
		self, _ := sipmsg.NewSelf(o.Host, nil)
		s := &Server{opts: o, self: self}
		s.port.Store(int32(o.Port))
		if udp > 0 {
			s.Listening(net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(udp))))
		}
		if tcp > 0 {
			s.Listening(net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(tcp))))
		}
		if tls > 0 {
			s.ListeningTLS(net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(tls))))
		}
		return s
	}
	rr := func(s *Server, in, out string, sips bool) string {
		r := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "x"})
		s.recordRoute(r, in, out, sips)
		return strings.Join(headerStrings(r, "Record-Route"), ", ")
	}
	for _, tc := range []struct {
		name          string
		s             *Server
		in, out, want string
		sips          bool
	}{
		{"udp only", mk(Options{Host: "h"}, 5060, 0, 0), "UDP", "UDP", "<sip:h:5060;lr;herald=general>", false},
		{"tls out, no tls listener", mk(Options{Host: "h"}, 5060, 0, 0), "UDP", "TLS", "<sip:h:5060;lr;herald=general>", false},
		{"tcp out, no tcp listener", mk(Options{Host: "h"}, 5060, 0, 0), "UDP", "TCP", "<sip:h:5060;lr;herald=general>", false},
		{"udp in tls out", mk(Options{Host: "h"}, 5060, 5060, 5061), "UDP", "TLS", "<sip:h:5061;transport=tls;lr;herald=general>, <sip:h:5060;lr;herald=general>", false},
		{"tls in udp out", mk(Options{Host: "h"}, 5060, 5060, 5061), "TLS", "UDP", "<sip:h:5060;lr;herald=general>, <sip:h:5061;transport=tls;lr;herald=general>", false},
		{"sips", mk(Options{Host: "h"}, 5060, 5060, 5061), "TLS", "TLS", "<sips:h:5061;lr;herald=general>", true},
		{"sips, udp in", mk(Options{Host: "h"}, 5060, 5060, 5061), "UDP", "TLS", "<sips:h:5061;lr;herald=general>, <sip:h:5060;lr;herald=general>", true},
		{"advertised port", mk(Options{Host: "h", Port: 15060}, 5060, 5060, 5061), "TCP", "UDP", "<sip:h:15060;lr;herald=general>, <sip:h:15060;transport=tcp;lr;herald=general>", false},
		{"advertised tls port", mk(Options{Host: "h", Port: 15060, TLSPort: 15061}, 5060, 5060, 5061), "UDP", "TLS", "<sip:h:15061;transport=tls;lr;herald=general>, <sip:h:15060;lr;herald=general>", false},
		{"tcp on its own port", mk(Options{Host: "h"}, 5060, 5070, 0), "TCP", "UDP", "<sip:h:5060;lr;herald=general>, <sip:h:5070;transport=tcp;lr;herald=general>", false},
	} {
		if got := rr(tc.s, tc.in, tc.out, tc.sips); got != tc.want {
			t.Errorf("%s: Record-Route %q, want %q", tc.name, got, tc.want)
		}
	}

	s := mk(Options{Host: "h"}, 5060, 5060, 5061)
	for _, u := range []string{"sip:h;lr", "sip:h:5060;transport=tcp;lr", "sips:h;lr", "sip:h;transport=tls;lr", "sip:H:5061;lr"} {
		var uri sip.Uri
		if err := sip.ParseUri(u, &uri); err != nil {
			t.Fatal(err)
		}
		if !s.isSelf(uri) {
			t.Errorf("isSelf(%s) = false", u)
		}
	}
	for _, u := range []string{"sip:h:5062;lr", "sip:other:5060;lr", "sips:h:5062;lr"} {
		var uri sip.Uri
		_ = sip.ParseUri(u, &uri)
		if s.isSelf(uri) {
			t.Errorf("isSelf(%s) = true", u)
		}
	}
	req := sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", Host: "ue"})
	for _, r := range []string{"<sip:h:5061;transport=tls;lr>", "<sip:h:5060;lr>", "<sip:scscf:5060;lr>", "<sip:h:5060;lr>"} {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req = parseRoundTrip(t, req)
	if top := s.popSelfRoute(req); top == nil || top.Address.Host != "scscf" || len(req.GetHeaders("Route")) != 2 {
		t.Fatalf("popSelfRoute left %q", headerStrings(req, "Route"))
	}
}

// parseRoundTrip serialises and parses r, so that its headers are typed as on the wire.
func parseRoundTrip(t *testing.T, r *sip.Request) *sip.Request {
	t.Helper()
	r.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx"))
	r.AppendHeader(sip.NewHeader("From", "<sip:a@x>;tag=1"))
	r.AppendHeader(sip.NewHeader("To", "<sip:b@x>;tag=2"))
	r.AppendHeader(sip.NewHeader("Call-ID", "c"))
	r.AppendHeader(sip.NewHeader("CSeq", "1 BYE"))
	r.SetBody(nil)
	m, err := sip.NewParser().ParseSIP([]byte(r.String()))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}
