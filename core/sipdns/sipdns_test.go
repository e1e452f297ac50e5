package sipdns

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/herald-ims/herald/core/sipfast"
	"github.com/herald-ims/herald/netio/dnstest"
)

// Names over a real resolver asking a DNS server on loopback: SRV for a domain without a port
// (RFC 3263 §4.2), A/AAAA at the default port for one without SRV records, and the lookup
// override (no DNS at all) answering A/AAAA alone.
func TestNames(t *testing.T) {
	d := dnstest.New(t)
	d.SetAddr("scscf1.herald.test", netip.MustParseAddr("127.0.0.1"))
	d.SetAddr("plain.herald.test", netip.MustParseAddr("127.0.0.2"))
	d.SetSRV("_sip._tcp.scscf.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5071, Priority: 1, Weight: 1})
	n := Names(d.Resolver(), nil, &sipfast.Stats{}, nil)
	defer n.Close()
	ctx := context.Background()
	for _, tc := range []struct{ tp, host, want string }{
		{"tcp", "scscf.herald.test", "127.0.0.1:5071"},
		{"udp", "plain.herald.test", "127.0.0.2:5060"},
	} {
		if ap, err := n.Resolve(ctx, tc.tp, tc.host, 0); err != nil || ap.String() != tc.want {
			t.Errorf("%s %s: %v %v, want %s", tc.tp, tc.host, ap, err, tc.want)
		}
	}
	fixed := Names(nil, nil, &sipfast.Stats{}, func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("192.0.2.9")}, nil
	})
	defer fixed.Close()
	if ap, err := fixed.Resolve(ctx, "udp", "scscf.herald.test", 0); err != nil || ap.String() != "192.0.2.9:5060" {
		t.Errorf("with the lookup override: %v %v", ap, err)
	}
}

// NAPTR records (RFC 3403) from a DNS server on loopback choose the transport and, through their
// replacement's SRV records, the targets (RFC 3263 §4.1); a domain without them is resolved by SRV
// per transport; each NAPTR question is asked once per name.
func TestNamesNAPTR(t *testing.T) {
	d := dnstest.New(t)
	d.SetAddr("scscf1.herald.test", netip.MustParseAddr("127.0.0.1"))
	d.SetNAPTR("scscf.herald.test",
		dnstest.NAPTR{Order: 10, Preference: 10, Flags: "s", Service: "SIP+D2T", Replacement: "_sip._tcp.pool.herald.test."},
		dnstest.NAPTR{Order: 20, Preference: 10, Flags: "s", Service: "SIP+D2U", Replacement: "_sip._udp.scscf.herald.test."})
	d.SetSRV("_sip._tcp.pool.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5071, Priority: 1, Weight: 1})
	d.SetSRV("_sip._udp.scscf.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5070, Priority: 1, Weight: 1})
	d.SetSRV("_sip._tcp.tcponly.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5081, Priority: 1, Weight: 1})
	st := &sipfast.Stats{}
	n := Names(d.Resolver(), nil, st, nil)
	defer n.Close()
	ctx := context.Background()
	for _, tc := range []struct{ host, want string }{
		{"scscf.herald.test", "TCP 127.0.0.1:5071"},
		{"tcponly.herald.test", "TCP 127.0.0.1:5081"},
	} {
		tp := n.Transport(ctx, tc.host)
		ap, err := n.Resolve(ctx, tp, tc.host, 0)
		if got := tp + " " + ap.String(); err != nil || got != tc.want {
			t.Errorf("%s: %s %v, want %s", tc.host, got, err, tc.want)
		}
		n.Transport(ctx, tc.host) // cached: no question
		if q := d.Asked("NAPTR", tc.host); q != 1 {
			t.Errorf("%s: %d NAPTR questions, want 1", tc.host, q)
		}
	}
	if st.DNSNAPTR.Load() != 1 || st.DNSLookups.Load() != 2 {
		t.Errorf("NAPTR %d, lookups %d; want 1 and 2", st.DNSNAPTR.Load(), st.DNSLookups.Load())
	}
}

// With no server to ask (a resolv.conf without nameservers, or none at all) a NAPTR lookup fails
// with a clear error, and the cache goes on to SRV (which Go's resolver answers from its own
// configuration).
func TestNAPTRNoServer(t *testing.T) {
	dir := t.TempDir()
	empty := dir + "/resolv.conf"
	if err := os.WriteFile(empty, []byte("search herald.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{empty: "no DNS server", dir + "/none": "no such file"} {
		_, err := naptrLookup(nil, file)(context.Background(), "scscf.herald.test")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", file, err, want)
		}
	}
}

// A server that never answers NAPTR questions costs the lookup its NAPTR budget, not the whole
// lookup: §4.1 goes on to SRV per transport within the same fill, and the name resolves.
func TestNamesNAPTRDropped(t *testing.T) {
	d := dnstest.New(t)
	d.Drop("NAPTR")
	d.SetAddr("scscf1.herald.test", netip.MustParseAddr("127.0.0.1"))
	d.SetSRV("_sip._tcp.scscf.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5071, Priority: 1, Weight: 1})
	st := &sipfast.Stats{}
	n := Names(d.Resolver(), nil, st, nil)
	defer n.Close()
	start := time.Now()
	tp := n.Transport(context.Background(), "scscf.herald.test")
	ap, err := n.Resolve(context.Background(), tp, "scscf.herald.test", 0)
	if took := time.Since(start); tp != "TCP" || err != nil || ap.Port() != 5071 || took > 4*time.Second {
		t.Fatalf("%s %v %v after %v; want TCP to 5071 (_sip._tcp) within the NAPTR budget", tp, ap, err, took)
	}
	if d.Asked("NAPTR", "scscf.herald.test") < 1 || st.DNSFailures.Load() != 0 {
		t.Fatalf("NAPTR asked %d times, %d failures; want at least once, none", d.Asked("NAPTR", "scscf.herald.test"), st.DNSFailures.Load())
	}
}

// A NAPTR answer too big for UDP comes truncated (the TC bit, no records): the lookup asks again
// over TCP (RFC 1035 §4.2.2), where the records are, and they choose the transport.
func TestNamesNAPTRTruncated(t *testing.T) {
	d := dnstest.New(t)
	d.Truncate("NAPTR")
	d.SetAddr("scscf1.herald.test", netip.MustParseAddr("127.0.0.1"))
	d.SetNAPTR("scscf.herald.test", dnstest.NAPTR{Order: 10, Preference: 10, Flags: "s", Service: "SIP+D2T", Replacement: "_sip._tcp.pool.herald.test."})
	d.SetSRV("_sip._tcp.pool.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5071, Priority: 1, Weight: 1})
	d.SetSRV("_sip._udp.scscf.herald.test", net.SRV{Target: "scscf1.herald.test", Port: 5070, Priority: 1, Weight: 1})
	st := &sipfast.Stats{}
	n := Names(d.Resolver(), nil, st, nil)
	defer n.Close()
	tp := n.Transport(context.Background(), "scscf.herald.test")
	ap, err := n.Resolve(context.Background(), tp, "scscf.herald.test", 0)
	if tp != "TCP" || err != nil || ap.Port() != 5071 || st.DNSNAPTR.Load() != 1 {
		t.Fatalf("%s %v %v, NAPTR counted %d; want TCP to 5071, chosen by the NAPTR record read over TCP", tp, ap, err, st.DNSNAPTR.Load())
	}
	if q := d.Asked("NAPTR", "scscf.herald.test"); q != 2 {
		t.Fatalf("NAPTR asked %d times, want 2 (UDP, truncated; then TCP)", q)
	}
}

// rawDNS is a DNS server on loopback for t answering each query with answer's reply (miekg/dns
// messages: what dnstest cannot say, CNAME chains), sending every query it reads on the channel; a
// resolver whose Dial reaches it.
func rawDNS(t *testing.T, answer func(q *dns.Msg) *dns.Msg) (*net.Resolver, chan *dns.Msg) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	got := make(chan *dns.Msg, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			select {
			case got <- q:
			default:
			}
			b, _ := answer(q).Pack()
			_, _ = pc.WriteTo(b, from)
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, pc.LocalAddr().String())
	}}, got
}

// A NAPTR question carries EDNS0 (RFC 6891) with 1,232 bytes, as Go's resolver's do: a domain's
// few NAPTR records pass 512 bytes, beyond which a server without it truncates or cuts the answer.
// No domain asks nothing.
func TestNAPTREDNS0(t *testing.T) {
	r, got := rawDNS(t, func(q *dns.Msg) *dns.Msg { return new(dns.Msg).SetRcode(q, dns.RcodeNameError) })
	lookup := naptrLookup(r, "")
	if recs, err := lookup(context.Background(), "scscf.herald.test"); err != nil || len(recs) != 0 {
		t.Fatalf("NXDOMAIN: %v %v, want no records, no error", recs, err)
	}
	q := <-got
	if opt := q.IsEdns0(); opt == nil || opt.UDPSize() != 1232 {
		t.Fatalf("NAPTR question without EDNS0 of 1232 bytes: %v", q)
	}
	for _, name := range []string{"", "."} {
		if recs, err := lookup(context.Background(), name); err != nil || len(recs) != 0 {
			t.Fatalf("%q: %v %v", name, recs, err)
		}
	}
	select {
	case q := <-got:
		t.Fatalf("asked %v for no domain", q.Question)
	default:
	}
}

// NAPTR records at the end of a CNAME chain (RFC 1034 §3.6.2: a recursive server answers the
// chain and the records at its end) are the domain's; a record of another owner in the answer is
// not.
func TestNAPTRThroughCNAME(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r, _ := rawDNS(t, func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg).SetReply(q)
		m.Answer = []dns.RR{
			rr("scscf.herald.test. 60 IN CNAME alias.herald.test."),
			rr("alias.herald.test. 60 IN CNAME pool.herald.test."),
			rr(`other.herald.test. 60 IN NAPTR 5 10 "s" "SIP+D2U" "" _sip._udp.other.herald.test.`),
			rr(`pool.herald.test. 60 IN NAPTR 10 10 "s" "SIP+D2T" "" _sip._tcp.pool.herald.test.`),
		}
		return m
	})
	recs, err := naptrLookup(r, "")(context.Background(), "scscf.herald.test")
	if err != nil || len(recs) != 1 || recs[0].Service != "SIP+D2T" || recs[0].Replacement != "_sip._tcp.pool.herald.test." {
		t.Fatalf("%+v %v, want pool.herald.test's SIP+D2T record alone", recs, err)
	}
}
