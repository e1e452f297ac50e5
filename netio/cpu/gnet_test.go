//go:build linux

package cpu

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

type quietLog struct{}

func (quietLog) Debugf(string, ...any) {}
func (quietLog) Infof(string, ...any)  {}
func (quietLog) Warnf(string, ...any)  {}
func (quietLog) Errorf(string, ...any) {}
func (quietLog) Fatalf(string, ...any) {}

// pinHandler is what netio/msrp's handler does: pin the loop thread at the top of OnOpen.
type pinHandler struct {
	gnet.BuiltinEventEngine
	pin    *LoopPinner
	booted chan gnet.Engine

	mu    sync.Mutex
	masks map[int][]int // loop thread → its mask seen from the loop after Pin
}

func (h *pinHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.booted <- eng
	return gnet.None
}

func (h *pinHandler) OnOpen(gnet.Conn) ([]byte, gnet.Action) {
	err := h.pin.Pin()
	m, _ := Affinity(0)
	h.mu.Lock()
	h.masks[Tid()] = m
	h.mu.Unlock()
	if err != nil {
		return nil, gnet.Close
	}
	return []byte("ok"), gnet.None
}

// The recipe for gnet: with WithLockOSThread and LoopPinner.Pin in OnOpen, each of two loops runs on
// its own thread pinned to its own CPU, and once the engine stops the pinned threads are gone (gnet's
// own UnlockOSThread does not hand them back to the scheduler).
func TestLoopPinnerGnet(t *testing.T) {
	a := Available()
	pin, err := NewLoopPinner(a)
	if err != nil {
		t.Fatal(err)
	}
	h := &pinHandler{pin: pin, booted: make(chan gnet.Engine, 1), masks: map[int][]int{}}
	ran := make(chan error, 1)
	go func() {
		ran <- gnet.Run(h, "tcp://127.0.0.1:0", gnet.WithNumEventLoop(2), gnet.WithLockOSThread(true),
			gnet.WithLoadBalancing(gnet.RoundRobin), gnet.WithLogger(quietLog{}))
	}()
	var eng gnet.Engine
	select {
	case eng = <-h.booted:
	case err := <-ran:
		t.Fatalf("gnet.Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("engine did not boot")
	}
	addr, err := boundAddr(eng) // port 0: no window for another process to take the port
	if err != nil {
		t.Fatal(err)
	}
	// Round robin: four connections visit both loops twice.
	for range 4 {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2)
		if _, err := c.Read(buf); err != nil || string(buf) != "ok" {
			t.Fatalf("read %q: %v", buf, err)
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}

	pinned := pin.Pinned()
	if len(pinned) != 2 {
		t.Fatalf("pinned %v, want the 2 loop threads", pinned)
	}
	var cpus []int
	for tid, c := range pinned {
		if !slices.Equal(h.masks[tid], []int{c}) {
			t.Errorf("loop thread %d: mask %v, want [%d]", tid, h.masks[tid], c)
		}
		cpus = append(cpus, c)
		if !retired(tid, 2*time.Second) {
			t.Errorf("pinned loop thread %d survived the engine", tid)
		}
	}
	slices.Sort(cpus)
	if want := []int{a[0], a[1%len(a)]}; !slices.Equal(cpus, want) && len(a) > 1 {
		t.Errorf("loops on CPUs %v, want %v", cpus, want)
	}
}

// boundAddr is the engine's listening address (gnet has bound it before OnBoot).
func boundAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", err
	}
	a, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return "", fmt.Errorf("listener address %T", sa)
	}
	return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String(), nil
}
