package rtp

import (
	"fmt"
	"net"
	"testing"

	"github.com/herald-ims/herald/core/media"
)

// benchShard returns a plane (not started: the benchmark drives the shard itself) with n streams of
// a PCMU clip queued on shard 0, all sending to one drained sink.
func benchShard(b *testing.B, n int) (*Plane, *shard) {
	b.Helper()
	p, err := New(Options{ListenIP: "127.0.0.1", PortMin: portBase, PortMax: portBase + 3999, Shards: 1, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	p.running.Store(true)
	track := media.Track{Packets: pcmuClip(150)}
	for range n {
		s, err := p.Allocate()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Play(addrOf(sink), track); err != nil {
			b.Fatal(err)
		}
	}
	sh := p.shards[0]
	sh.drain(p.now())
	b.Cleanup(func() {
		sink.Close()
		sh.shutdown()
	})
	return p, sh
}

// BenchmarkQueue: writing one stream's 12-byte header over the shared payload (no syscall).
func BenchmarkQueue(b *testing.B) {
	_, sh := benchShard(b, 1)
	var s *Stream
	for st := range sh.live {
		s = st
	}
	b.ReportAllocs()
	for b.Loop() {
		sh.queue(s)
		sh.pend = sh.pend[:0]
	}
}

// BenchmarkSlot: one wheel slot sending one packet for each of n streams (sendmmsg per stream
// socket, loopback delivery into a drained sink). ns/op is per packet.
func BenchmarkSlot(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			p, sh := benchShard(b, n)
			var list []*Stream
			for s := range sh.live {
				list = append(list, s)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s := list[i%len(list)]
				sh.queue(s)
				i++
				if len(sh.pend) == len(list) {
					sh.flush()
				}
			}
			sh.flush()
			if st := p.Stats(); st.Dropped != 0 {
				b.Errorf("dropped %d", st.Dropped)
			}
		})
	}
}
