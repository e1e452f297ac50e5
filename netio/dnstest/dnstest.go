// Package dnstest is a DNS server on loopback for tests and bench runs: it answers A, AAAA, SRV and
// NAPTR questions (RFC 1035, RFC 2782, RFC 3403) from a table the caller changes while it runs, answers NXDOMAIN for
// any other name, and counts the questions it gets, so a test can show how often Herald asks DNS.
// Resolver is a net.Resolver that asks it and nothing else.
package dnstest

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers over UDP and TCP (RFC 1035 §4.2) on one port of 127.0.0.1.
type Server struct {
	pc   net.PacketConn
	ln   net.Listener
	mu   sync.Mutex
	addr map[string][]netip.Addr // by lower-case name, no trailing dot
	srv  map[string][]net.SRV    // by "_service._proto.name"
	nap  map[string][]NAPTR      // by name
	asks map[string]int          // questions by "TYPE name"
	drop map[string]bool         // question types never answered (a server or middlebox that drops them)
	tc   map[string]bool         // question types answered over UDP truncated, empty (TC): TCP has the answer
	done chan struct{}
	wg   sync.WaitGroup // the TCP side
}

// Start serves on a free loopback port until Close.
func Start() (*Server, error) {
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for range 8 { // the UDP port's TCP twin may be taken: another port then
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return nil, err
	}
	s := &Server{pc: pc, ln: ln, addr: map[string][]netip.Addr{}, srv: map[string][]net.SRV{}, nap: map[string][]NAPTR{},
		drop: map[string]bool{}, tc: map[string]bool{}, asks: map[string]int{}, done: make(chan struct{})}
	go s.serve()
	s.wg.Add(1)
	go s.serveTCP()
	return s, nil
}

// New is Start for a test: the server is closed when tb ends, and a failure to start fails tb.
func New(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// serveTCP answers each connection's queries, each with its two-byte length (RFC 1035 §4.2.2).
func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			for {
				var n [2]byte
				if _, err := io.ReadFull(c, n[:]); err != nil {
					return
				}
				q := make([]byte, int(n[0])<<8|int(n[1]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				out := s.answer(q, true)
				if out == nil {
					return
				}
				if _, err := c.Write(append([]byte{byte(len(out) >> 8), byte(len(out))}, out...)); err != nil {
					return
				}
			}
		}()
	}
}

// Truncate makes the server answer questions of type typ over UDP with the TC bit and no records
// (RFC 1035 §4.1.1: the answer did not fit), so that the client asks again over TCP, which answers.
func (s *Server) Truncate(typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tc[typ] = true
}

// Addr is the server's address.
func (s *Server) Addr() string { return s.pc.LocalAddr().String() }

// Close stops the server.
func (s *Server) Close() {
	s.pc.Close()
	s.ln.Close()
	<-s.done
	s.wg.Wait()
}

func canon(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// SetAddr sets name's A and AAAA records (none: the name has none).
func (s *Server) SetAddr(name string, addrs ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addr[canon(name)] = addrs
}

// SetSRV sets the SRV records of "_service._proto.name" (none: it has none).
func (s *Server) SetSRV(name string, recs ...net.SRV) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv[canon(name)] = recs
}

// NAPTR is one NAPTR record (RFC 3403 §4.1).
type NAPTR struct {
	Order, Preference     uint16
	Flags, Service, Regex string
	Replacement           string
}

// SetNAPTR sets name's NAPTR records (none: it has none).
func (s *Server) SetNAPTR(name string, recs ...NAPTR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nap[canon(name)] = recs
}

// Drop makes the server leave questions of type typ ("NAPTR", ...) unanswered, still counted.
func (s *Server) Drop(typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop[typ] = true
}

// Asked is how many questions of type typ ("A", "AAAA", "SRV", "NAPTR") for name the server got.
func (s *Server) Asked(typ, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asks[typ+" "+canon(name)]
}

// Questions is every question the server got.
func (s *Server) Questions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.asks {
		n += c
	}
	return n
}

// Resolver asks s alone (Go's resolver; /etc/hosts is still read first, as for any lookup).
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		if strings.HasPrefix(network, "tcp") {
			return d.DialContext(ctx, "tcp", s.Addr())
		}
		return d.DialContext(ctx, "udp", s.Addr())
	}}
}

func (s *Server) serve() {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if out := s.answer(buf[:n], false); out != nil {
			s.pc.WriteTo(out, from)
		}
	}
}

// answer is the reply to one query, nil for what is not a query.
func (s *Server) answer(q []byte, overTCP bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil || h.Response {
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil
	}
	question := qs[0]
	name := canon(question.Name.String())
	s.mu.Lock()
	typ := strings.TrimPrefix(question.Type.String(), "Type")
	if question.Type == typeNAPTR {
		typ = "NAPTR"
	}
	s.asks[typ+" "+name]++
	if s.drop[typ] {
		s.mu.Unlock()
		return nil
	}
	addrs, hasAddr := s.addr[name]
	srvs, hasSRV := s.srv[name]
	naps, hasNAPTR := s.nap[name]
	truncated := !overTCP && s.tc[typ]
	s.mu.Unlock()

	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, Truncated: truncated}
	if truncated {
		addrs, srvs, naps = nil, nil, nil
	}
	if !hasAddr && !hasSRV && !hasNAPTR {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	res := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60}
	switch question.Type {
	case dnsmessage.TypeA, dnsmessage.TypeAAAA:
		for _, a := range addrs {
			switch {
			case a.Is4() && question.Type == dnsmessage.TypeA:
				b.AResource(res, dnsmessage.AResource{A: a.As4()})
			case a.Is6() && !a.Is4In6() && question.Type == dnsmessage.TypeAAAA:
				b.AAAAResource(res, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
		}
	case dnsmessage.TypeSRV:
		for _, r := range srvs {
			target, err := dnsmessage.NewName(strings.TrimSuffix(r.Target, ".") + ".")
			if err != nil {
				continue
			}
			b.SRVResource(res, dnsmessage.SRVResource{Priority: r.Priority, Weight: r.Weight, Port: r.Port, Target: target})
		}
	case typeNAPTR:
		for _, r := range naps {
			b.UnknownResource(res, dnsmessage.UnknownResource{Type: typeNAPTR, Data: naptrData(r)})
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

const typeNAPTR dnsmessage.Type = 35 // RFC 3403 §4

// naptrData is r's RDATA (RFC 3403 §4.1): order, preference, three character-strings, and the
// replacement as an uncompressed domain name.
func naptrData(r NAPTR) []byte {
	b := []byte{byte(r.Order >> 8), byte(r.Order), byte(r.Preference >> 8), byte(r.Preference)}
	for _, cs := range []string{r.Flags, r.Service, r.Regex} {
		b = append(append(b, byte(len(cs))), cs...)
	}
	if rep := strings.TrimSuffix(r.Replacement, "."); rep != "" {
		for _, label := range strings.Split(rep, ".") {
			b = append(append(b, byte(len(label))), label...)
		}
	}
	return append(b, 0)
}
