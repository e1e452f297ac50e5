package sipudp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// wrapped hides *net.UDPConn, so the Socket reads one datagram per call.
type wrapped struct{ net.PacketConn }

func listen(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("%s %s: %v", network, addr, err)
	}
	return pc.(*net.UDPConn)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Every datagram is offered to the fast handler with its sender; those it declines reach the general
// stack through General, byte for byte and with the sender, and its writes leave from the socket.
func TestFastAndGeneralSplit(t *testing.T) {
	for _, tc := range []struct {
		name, network, addr string
		wrap                bool
	}{
		{"ipv4 batched", "udp4", "127.0.0.1:0", false},
		{"ipv6 batched", "udp6", "[::1]:0", false},
		{"one per read", "udp4", "127.0.0.1:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uc := listen(t, tc.network, tc.addr)
			var pc net.PacketConn = uc
			if tc.wrap {
				pc = wrapped{uc}
			}
			peer := listen(t, tc.network, tc.addr)
			defer peer.Close()
			peerAP := peer.LocalAddr().(*net.UDPAddr).AddrPort()

			var mu sync.Mutex
			var fast []string
			s := New(pc, Options{Fast: func(b []byte, from netip.AddrPort) bool {
				if from != peerAP {
					t.Errorf("fast handler: from %v, want %v", from, peerAP)
				}
				if !bytes.HasPrefix(b, []byte("fast")) {
					return false
				}
				mu.Lock()
				fast = append(fast, string(b))
				mu.Unlock()
				return true
			}})
			served := make(chan error, 1)
			go func() { served <- s.Serve() }()

			const n = 200
			for i := range n {
				kind := "fast"
				if i%4 == 0 {
					kind = "slow"
				}
				if _, err := peer.WriteTo([]byte(fmt.Sprintf("%s %d", kind, i)), uc.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
			g := s.General()
			buf := make([]byte, 100)
			for i := 0; i < n; i += 4 {
				k, from, err := g.ReadFrom(buf)
				if err != nil {
					t.Fatal(err)
				}
				if from.(*net.UDPAddr).AddrPort() != peerAP {
					t.Errorf("general: from %v, want %v", from, peerAP)
				}
				if !bytes.HasPrefix(buf[:k], []byte("slow ")) {
					t.Errorf("general got %q", buf[:k])
				}
			}
			// Datagrams counts a batch when it is read, General once a datagram is queued (the
			// general stack may have read it just before): wait for both ends.
			waitFor(t, "every datagram handled", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return s.Stats.Datagrams.Load() == n && len(fast) == n*3/4 && s.Stats.General.Load() == n/4
			})
			if got := s.Stats.General.Load(); got != n/4 {
				t.Errorf("Stats.General = %d, want %d", got, n/4)
			}
			if r := s.Stats.Reads.Load(); tc.wrap && r != n || r > n {
				t.Errorf("Stats.Reads = %d for %d datagrams", r, n)
			}
			// The general stack writes through the real socket.
			if _, err := g.WriteTo([]byte("reply"), peer.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
			k, from, err := peer.ReadFrom(buf)
			if err != nil || string(buf[:k]) != "reply" || from.(*net.UDPAddr).Port != uc.LocalAddr().(*net.UDPAddr).Port {
				t.Fatalf("peer read %q from %v (%v)", buf[:k], from, err)
			}

			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-served:
				if err != nil {
					t.Fatalf("Serve after Close: %v", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Serve did not return after Close")
			}
			if _, _, err := g.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("General read after close: %v, want net.ErrClosed", err)
			}
		})
	}
}

// The general stack's queue is a limit a peer can fill: beyond it datagrams are dropped and counted,
// and nothing blocks the readers (the fast handler keeps getting datagrams).
func TestGeneralQueueFullDropsAndCounts(t *testing.T) {
	uc := listen(t, "udp4", "127.0.0.1:0")
	peer := listen(t, "udp4", "127.0.0.1:0")
	defer peer.Close()
	var fast sync.WaitGroup
	fast.Add(1)
	s := New(uc, Options{Queue: 3, Fast: func(b []byte, _ netip.AddrPort) bool {
		if string(b) == "fast" {
			fast.Done()
			return true
		}
		return false
	}})
	go func() { _ = s.Serve() }()
	defer s.Close()
	for range 10 {
		if _, err := peer.WriteTo([]byte("slow"), uc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "ten datagrams queued or dropped", func() bool { return s.Stats.General.Load()+s.Stats.Dropped.Load() == 10 })
	if q, d := s.Stats.General.Load(), s.Stats.Dropped.Load(); q != 3 || d != 7 {
		t.Fatalf("queued %d dropped %d, want 3 and 7", q, d)
	}
	if _, err := peer.WriteTo([]byte("fast"), uc.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	fast.Wait()
}

// A read error other than a close ends Serve with that error and the general stack's reads.
func TestServeEndsWhenOwnerCloses(t *testing.T) {
	uc := listen(t, "udp4", "127.0.0.1:0")
	s := New(uc, Options{Readers: 3})
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	time.Sleep(10 * time.Millisecond)
	_ = uc.Close() // the owner closes the socket under the Socket
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v, want nil after a close", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, _, err := s.General().ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("General read: %v", err)
	}
}

// BenchmarkReadBatch is datagrams per second through one Socket with a fast handler that takes
// everything, batched (recvmmsg) against one datagram per read.
func BenchmarkReadBatch(b *testing.B) {
	for _, wrap := range []bool{false, true} {
		name := "recvmmsg"
		if wrap {
			name = "readfrom"
		}
		b.Run(name, func(b *testing.B) {
			uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			var pc net.PacketConn = uc
			if wrap {
				pc = wrapped{uc}
			}
			peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer peer.Close()
			got := make(chan struct{}, 1<<16)
			s := New(pc, Options{Readers: 1, Fast: func([]byte, netip.AddrPort) bool { got <- struct{}{}; return true }})
			go func() { _ = s.Serve() }()
			defer s.Close()
			msg := bytes.Repeat([]byte("x"), 600)
			dst := uc.LocalAddr().(*net.UDPAddr).AddrPort()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := peer.WriteToUDPAddrPort(msg, dst); err != nil {
					b.Fatal(err)
				}
				if i%64 == 63 {
					for range 64 {
						<-got
					}
				}
			}
			for range b.N % 64 {
				<-got
			}
		})
	}
}

// The copies queued for the general stack come from a pool and go back to it once read: every
// datagram still reaches the general stack byte for byte, whatever its size around the pooled
// buffer's (a recycled buffer must never show an earlier datagram's bytes), and many queued at once
// do not share a buffer.
func TestGeneralPooledCopies(t *testing.T) {
	uc := listen(t, "udp4", "127.0.0.1:0")
	peer := listen(t, "udp4", "127.0.0.1:0")
	defer peer.Close()
	s := New(uc, Options{Fast: func([]byte, netip.AddrPort) bool { return false }})
	go func() { _ = s.Serve() }()
	defer s.Close()

	sizes := []int{1, 100, pooledSize - 1, pooledSize, pooledSize + 1, 9000, 30, pooledSize}
	var want [][]byte
	for round := range 5 {
		for i, n := range sizes {
			b := bytes.Repeat([]byte{byte('a' + (round*len(sizes)+i)%26)}, n)
			b[0] = byte(i) // distinguishes a datagram from a recycled buffer's tail
			want = append(want, b)
		}
	}
	// All sent before any is read: they sit in the queue together, each in its own buffer.
	for _, b := range want {
		if _, err := peer.WriteTo(b, uc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	g := s.General()
	buf := make([]byte, 65535)
	for i, w := range want {
		k, _, err := g.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:k], w) {
			t.Fatalf("datagram %d (%d bytes): got %d bytes starting %q, want %q…", i, len(w), k, buf[:min(k, 8)], w[:min(len(w), 8)])
		}
	}
	if d := s.Stats.Dropped.Load(); d != 0 {
		t.Fatalf("%d dropped", d)
	}
}

// TestGeneralWriteToUDPAddrPort: what the general stack sends to a netip.AddrPort (sipgo's UDP
// writes to an address, a Herald patch in netio/sipgo) leaves from the socket whole, whether the
// socket is a *net.UDPConn (no address allocated) or another PacketConn.
func TestGeneralWriteToUDPAddrPort(t *testing.T) {
	recv := listen(t, "udp4", "127.0.0.1:0")
	defer recv.Close()
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, tc := range []struct {
		name string
		wrap bool
	}{{"udp conn", false}, {"other packet conn", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var pc net.PacketConn = listen(t, "udp4", "127.0.0.1:0")
			defer pc.Close()
			if tc.wrap {
				pc = wrapped{pc}
			}
			g := New(pc, Options{}).General().(interface {
				WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
			})
			msg := []byte("SIP/2.0 180 Ringing\r\n\r\n")
			if n, err := g.WriteToUDPAddrPort(msg, to); err != nil || n != len(msg) {
				t.Fatalf("wrote %d, %v", n, err)
			}
			buf := make([]byte, 64)
			_ = recv.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, from, err := recv.ReadFrom(buf)
			if err != nil || !bytes.Equal(buf[:n], msg) || from.String() != pc.LocalAddr().String() {
				t.Fatalf("received %q from %v (%v), want %q from %v", buf[:n], from, err, msg, pc.LocalAddr())
			}
		})
	}
}
