package main

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/config"
)

func closeSockets(ss []sipSocket) {
	for _, s := range ss {
		if s.pc != nil {
			_ = s.pc.Close()
		} else {
			_ = s.ln.Close()
		}
	}
}

// TestBindSIPReaders: sip.udp_readers sockets share the UDP address (first one first), TCP gets the
// same kernel-chosen port, datagrams from many peers reach more than one reader, and a second
// Herald on the same port is refused (the reuseport group is not open to a plain bind).
func TestBindSIPReaders(t *testing.T) {
	tests := map[string]struct {
		readers, wantUDP int
	}{
		"one reader":    {readers: 1, wantUDP: 1},
		"three readers": {readers: 3, wantUDP: 3},
		"zero is one":   {readers: 0, wantUDP: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ls := []config.Listener{{Transport: "udp", Addr: "127.0.0.1:0"}, {Transport: "tcp", Addr: "127.0.0.1:0"}}
			socks, err := bindSIP(ls, tc.readers)
			if err != nil {
				t.Fatal(err)
			}
			defer closeSockets(socks)
			if len(socks) != tc.wantUDP+1 {
				t.Fatalf("got %d sockets, want %d", len(socks), tc.wantUDP+1)
			}
			addr := socks[0].pc.LocalAddr().String()
			for i, s := range socks[:tc.wantUDP] {
				if s.pc == nil || s.pc.LocalAddr().String() != addr {
					t.Fatalf("socket %d is not a UDP reader on %s: %+v", i, addr, s)
				}
			}
			tcp := socks[tc.wantUDP].ln
			if tcp == nil || tcp.Addr().(*net.TCPAddr).Port != socks[0].pc.LocalAddr().(*net.UDPAddr).Port {
				t.Fatalf("tcp listener %v not on the udp port %s", tcp, addr)
			}
			// A plain bind of the same port must fail: no foreign socket joins the group.
			if pc, err := net.ListenPacket("udp", addr); err == nil {
				_ = pc.Close()
				t.Fatal("a second plain UDP bind of the port succeeded")
			}
			if _, err := bindSIP([]config.Listener{{Transport: "udp", Addr: addr}}, tc.readers); !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("second bindSIP on %s: %v, want EADDRINUSE", addr, err)
			}

			got := make(chan int, 64)
			for i, s := range socks[:tc.wantUDP] {
				go func() {
					buf := make([]byte, 16)
					for {
						if _, _, err := s.pc.ReadFrom(buf); err != nil {
							return
						}
						got <- i
					}
				}()
			}
			const peers = 48
			for range peers {
				c, err := net.Dial("udp", addr)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = c.Write([]byte("x"))
				_ = c.Close()
			}
			seen := map[int]bool{}
			timeout := time.After(2 * time.Second)
			for range peers {
				select {
				case i := <-got:
					seen[i] = true
				case <-timeout:
					t.Fatalf("datagrams lost; readers seen %v", seen)
				}
			}
			// With 48 peers hashed over 3 sockets, all landing on one has probability 3^-47.
			if tc.wantUDP > 1 && len(seen) < 2 {
				t.Fatalf("every datagram reached reader(s) %v of %d", seen, tc.wantUDP)
			}
		})
	}
}
