package sip

// Herald's test of its resolver patch (HERALD.md, WithTransportLayerResolver): not upstream's.

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestHeraldResolver proves that with a Resolver every name a request's destination holds goes
// through it, with the port as the destination names it (0: none, so RFC 3263 SRV may pick one),
// and sipgo asks DNS nothing itself: the request reaches the address the Resolver answered (the
// resolver given to the layer fails every lookup); the answer's port 0 means the transport's
// default; the name stays the connection's host name (what TLS verifies); an IP destination is
// not offered to the Resolver; its error fails the send.
func TestHeraldResolver(t *testing.T) {
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peerAP := netip.MustParseAddrPort(peer.LocalAddr().String())

	type ask struct {
		network, host string
		port          int
	}
	var asked []ask
	failing := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("sipgo asked DNS itself")
	}}
	tpl := NewTransportLayer(failing, NewParser(), nil, WithTransportLayerResolver(func(_ context.Context, network, host string, port int) (netip.AddrPort, error) {
		asked = append(asked, ask{network, host, port})
		if host == "nowhere.home1.net" {
			return netip.AddrPort{}, errors.New("no such name")
		}
		return peerAP, nil
	}))
	t.Cleanup(func() { tpl.Close() })
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close() // an IP destination (nobody reads it)

	send := func(dest string) error {
		req := NewRequest(OPTIONS, Uri{Scheme: "sip", Host: "scscf.home1.net"})
		params := NewParams()
		params.Add("branch", GenerateBranch())
		req.AppendHeader(&ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060, Params: params})
		req.SetTransport("UDP")
		req.SetDestination(dest)
		if at := req.SentTo(); at.IsValid() {
			t.Errorf("%s: SentTo %v before the request was sent", dest, at)
		}
		if err := tpl.WriteMsg(req); err != nil {
			return err
		}
		if req.raddr.Hostname != strings.Split(dest, ":")[0] {
			t.Errorf("%s: connection host name %q, want the name", dest, req.raddr.Hostname)
		}
		if at := req.SentTo(); !at.IsValid() || (strings.HasPrefix(dest, "scscf.") && at != peerAP) {
			t.Errorf("%s: SentTo %v, want the address the request went to (%v for the name)", dest, at, peerAP)
		}
		return nil
	}
	for _, dest := range []string{"scscf.home1.net:0", "scscf.home1.net:5070"} {
		if err := send(dest); err != nil {
			t.Fatalf("send to %s: %v", dest, err)
		}
		buf := make([]byte, 2048)
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := peer.ReadFrom(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), "OPTIONS ") {
			t.Fatalf("send to %s: the resolved address got %q, %v", dest, buf[:n], err)
		}
	}
	if err := send(pc.LocalAddr().String()); err != nil {
		t.Fatalf("send to an IP: %v", err)
	}
	if err := send("nowhere.home1.net:0"); err == nil {
		t.Fatal("a name the Resolver fails was sent to")
	}
	want := []ask{{"udp", "scscf.home1.net", 0}, {"udp", "scscf.home1.net", 5070}, {"udp", "nowhere.home1.net", 0}}
	if len(asked) != len(want) {
		t.Fatalf("Resolver asked %v, want %v", asked, want)
	}
	for i := range want {
		if asked[i] != want[i] {
			t.Fatalf("Resolver asked %v, want %v", asked, want)
		}
	}

	// The answer's port 0: the transport's default.
	var raddr Addr
	tpl.resolve = func(context.Context, string, string, int) (netip.AddrPort, error) {
		return netip.AddrPortFrom(peerAP.Addr(), 0), nil
	}
	if err := tpl.resolveRemoteAddr(context.Background(), "tls", "scscf.home1.net", 0, "sips", &raddr); err != nil || raddr.Port != DefaultTlsPort || raddr.Hostname != "scscf.home1.net" {
		t.Fatalf("port 0 answered: %+v, %v; want port %d, the name kept", raddr, err, DefaultTlsPort)
	}
}
