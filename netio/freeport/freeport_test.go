package freeport

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// releaseRange gives back this process' leases of ports in [lo, hi).
func releaseRange(lo, hi int) {
	mu.Lock()
	defer mu.Unlock()
	for p := range leased {
		if lo <= p && p < hi {
			release([]int{p})
		}
	}
}

// TestPortBelowEphemeral: every port handed out lies below the kernel's ephemeral range, so no
// port-0 bind or outgoing connection elsewhere on the host can be given it.
func TestPortBelowEphemeral(t *testing.T) {
	lo, hi := Range()
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		eph, _ := strconv.Atoi(strings.Fields(string(b))[0])
		if hi != eph {
			t.Fatalf("range ends at %d, the ephemeral range starts at %d", hi, eph)
		}
	}
	for range 20 {
		p := Must(t, "127.0.0.1")
		if p < lo || p >= hi {
			t.Fatalf("port %d outside [%d, %d)", p, lo, hi)
		}
	}
}

// TestNeverTwice: one process never gets the same port twice.
func TestNeverTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := Must(t, "127.0.0.1")
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

// TestBoundPortSkipped: a port someone has bound (TCP or UDP only) is not handed out.
func TestBoundPortSkipped(t *testing.T) {
	t.Setenv("HERALD_FREEPORT_RANGE", "20000-20200")
	lo, hi := Range()
	var held []net.Listener
	var heldU []net.PacketConn
	defer func() {
		for _, l := range held {
			l.Close()
		}
		for _, u := range heldU {
			u.Close()
		}
	}()
	// Bind TCP on the even ports and UDP on the odd ones of the whole range; whatever binds, the
	// port handed out must be bindable for both.
	for p := lo; p < hi; p++ {
		a := "127.0.0.1:" + strconv.Itoa(p)
		if p%2 == 0 {
			if l, err := net.Listen("tcp", a); err == nil {
				held = append(held, l)
			}
		} else if u, err := net.ListenPacket("udp", a); err == nil {
			heldU = append(heldU, u)
		}
	}
	if len(held)+len(heldU) < (hi-lo)*3/4 {
		t.Fatalf("bound only %d of %d ports: the test proves nothing", len(held)+len(heldU), hi-lo)
	}
	if p, err := Port("127.0.0.1"); err == nil {
		t.Fatalf("handed out port %d while every port in range was bound for TCP or UDP", p)
	}
}

// TestBlock: a block is n consecutive ports, each bindable for TCP and UDP.
func TestBlock(t *testing.T) {
	p := MustBlock(t, "127.0.0.1", 3)
	for q := p; q < p+3; q++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
		if err != nil {
			t.Fatalf("port %d of the block: %v", q, err)
		}
		l.Close()
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(q))
		if err != nil {
			t.Fatalf("port %d of the block (udp): %v", q, err)
		}
		u.Close()
	}
	if _, err := Block("127.0.0.1", 0); err == nil {
		t.Fatal("a block of 0 ports was accepted")
	}
	if _, err := Port("localhost"); err == nil {
		t.Fatal("a host name was accepted as an IP address")
	}
}

// TestLeaseAcrossProcesses: ports leased by another process (a parallel test binary) are never
// handed out here. In a range of 100 ports, the child leases 50, prints them and waits; this
// process then takes the other 50 (at least 40: a parallel test binary may hold a few) and none of
// the child's, and then finds the range exhausted.
func TestLeaseAcrossProcesses(t *testing.T) {
	t.Setenv("HERALD_FREEPORT_RANGE", "20300-20400")
	releaseRange(20300, 20400) // leases this process took from the default range in other tests
	t.Cleanup(func() { releaseRange(20300, 20400) })
	if os.Getenv("FREEPORT_CHILD") == "1" {
		for range 50 {
			p, err := Port("127.0.0.1")
			if err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println(p)
		}
		fmt.Println("done")
		os.Stdin.Read(make([]byte, 1)) // hold the leases until the parent closes stdin
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaseAcrossProcesses$")
	cmd.Env = append(os.Environ(), "FREEPORT_CHILD=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); cmd.Wait() }()
	child := map[int]bool{}
	var buf []byte
	tmp := make([]byte, 4096)
	for !strings.Contains(string(buf), "done") {
		n, err := out.Read(tmp)
		if err != nil {
			t.Fatalf("child: %v (%q)", err, buf)
		}
		buf = append(buf, tmp[:n]...)
	}
	for _, f := range strings.Fields(string(buf)) {
		if p, err := strconv.Atoi(f); err == nil {
			child[p] = true
		}
	}
	if len(child) != 50 {
		t.Fatalf("child leased %d ports, want 50: %q", len(child), buf)
	}
	// The child's ports are free to bind (it holds leases, not sockets): only the lease keeps them.
	// Take ports until the range runs out: none may be the child's. The other 50 are this process's
	// to take unless a parallel test binary binds or leases one meanwhile (RTP port ranges of other
	// tests overlap this one), so most, not necessarily all, must be handed out.
	got := 0
	for {
		p, err := Port("127.0.0.1")
		if err != nil {
			break
		}
		if child[p] {
			t.Fatalf("port %d leased by the child process was handed out here", p)
		}
		if got++; got > 50 {
			t.Fatalf("%d ports handed out from a range of 100 with 50 leased by the child", got)
		}
	}
	if got < 40 {
		t.Fatalf("only %d of the 50 ports the child does not hold were handed out", got)
	}
}
