package signal

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/sipmsg"
)

// Hot-path benchmarks of plain forwarding (bench/results/history/sip-plane.md):
//
//	go test -run '^$' -bench . -benchmem ./core/signal/

// BenchmarkRequestSize compares pickTransport's size check before (len(r.String())) and after
// (requestSize) on the INVITE Herald forwards in the SIPp plain scenario.
func BenchmarkRequestSize(b *testing.B) {
	r := parseRequest(b, []byte(benchInvite))
	b.Run("String", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(r.String()) == 0 {
				b.Fatal("empty")
			}
		}
	})
	b.Run("requestSize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if sipmsg.RequestSize(r) == 0 {
				b.Fatal("empty")
			}
		}
	})
}

// BenchmarkPickTransport is the whole per-request transport choice for a UDP request under the limit.
func BenchmarkPickTransport(b *testing.B) {
	s := &Server{opts: Options{UDPMaxRequest: 1300}}
	s.udpLocal.Store(&sip.Addr{Hostname: "127.0.0.1", Port: 15060})
	r := parseRequest(b, []byte(benchInvite))
	b.ReportAllocs()
	for b.Loop() {
		r.SetTransport("UDP")
		if err := s.pickTransport(nil, r); err != nil {
			b.Fatal(err)
		}
	}
	if r.Transport() != "UDP" {
		b.Fatalf("transport %s, want UDP", r.Transport())
	}
}

// BenchmarkForwardCopy compares the copy of a forwarded request before (req.Clone, a deep copy of
// every header) and after (forwardCopy, shared header values) on the SIPp plain INVITE.
func BenchmarkForwardCopy(b *testing.B) {
	r := parseRequest(b, []byte(benchInvite))
	b.Run("Clone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Clone()
		}
	})
	b.Run("forwardCopy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = forwardCopy(r)
		}
	})
}

// BenchmarkParse compares sipgo's default header parsers with sipmsg.HeaderParsers (Contact on demand).
func BenchmarkParse(b *testing.B) {
	for name, p := range map[string]*sip.Parser{
		"default":       sip.NewParser(),
		"headerParsers": sip.NewParser(sip.WithHeadersParsers(sipmsg.HeaderParsers())),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.ParseSIP([]byte(benchInvite)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
