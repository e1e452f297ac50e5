// Package dnstest is a DNS server on loopback for tests and bench runs: it answers A, AAAA, SRV and
// NAPTR questions (RFC 1035, RFC 2782, RFC 3403) from a table the caller changes while it runs, answers NXDOMAIN for
// any other name, and counts the questions it gets, so a test can show how often Herald asks DNS.
// Resolver is a net.Resolver that asks it and nothing else.
package dnstest

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers over UDP on 127.0.0.1.
type Server struct {
	pc   net.PacketConn
	mu   sync.Mutex
	addr map[string][]netip.Addr // by lower-case name, no trailing dot
	srv  map[string][]net.SRV    // by "_service._proto.name"
	nap  map[string][]NAPTR      // by name
	asks map[string]int          // questions by "TYPE name"
	drop map[string]bool         // question types never answered (a server or middlebox that drops them)
	done chan struct{}
}

// Start serves on a free loopback port until Close.
func Start() (*Server, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{pc: pc, addr: map[string][]netip.Addr{}, srv: map[string][]net.SRV{}, nap: map[string][]NAPTR{}, drop: map[string]bool{}, asks: map[string]int{}, done: make(chan struct{})}
	go s.serve()
	return s, nil
}

// Addr is the server's address.
func (s *Server) Addr() string { return s.pc.LocalAddr().String() }

// Close stops the server.
func (s *Server) Close() {
	s.pc.Close()
	<-s.done
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
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
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
		if out := s.answer(buf[:n]); out != nil {
			s.pc.WriteTo(out, from)
		}
	}
}

// answer is the reply to one query, nil for what is not a query.
func (s *Server) answer(q []byte) []byte {
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
	s.mu.Unlock()

	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
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
