package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// The wire: a private network namespace whose only way out is an ifb device that discards every
// packet handed to it. ifb (intermediate functional block) exists to receive packets redirected to
// it by tc; packets routed to it directly are counted as dropped and freed by its transmit routine,
// after the sender has paid the whole UDP and IP output path, the qdisc layer (noqueue here) and
// the driver call, just as it would toward a NIC. The dummy driver would do the same but is not
// built into every kernel; ifb is.
const (
	wireEnv     = "HERALD_RTPBENCH_WIRE" // set in the re-executed child, which runs inside the namespace
	wireDev     = "hw0"
	wireLocal   = "198.18.0.1"    // Herald's media address, on the wire device
	wireRemote  = "198.19.0.0/16" // where the callers are: routed out of the wire device
	wireGateway = "198.18.0.254"  // the next hop toward them
	wirePort    = 40000           // callers' RTP ports start here (even)
	maxCallers  = 250 * 255       // one address per stream, 198.19.0.1 – 198.19.249.255
)

// reexecInNamespace runs this binary again, with the same arguments, in a new network namespace, and
// returns its exit code. It needs CAP_SYS_ADMIN (root); without it the error says to use -net loopback.
func reexecInNamespace() int {
	self, err := os.Executable()
	if err != nil {
		fatal("wire", err)
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), wireEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fatal("wire: a network namespace needs root (or run with -net loopback)", err)
	}
	return 0
}

type wire struct{}

// setupWire builds the wire inside the (new, empty) namespace this process runs in.
func setupWire() (*wire, error) {
	steps := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", wireDev, "type", "ifb"},
		{"ip", "link", "set", wireDev, "up"},
		{"ip", "addr", "add", wireLocal + "/32", "dev", wireDev},
		// Through a gateway, as on a real network: one neighbour entry for every caller. (A direct
		// route would make one per caller, and past the neighbour table's gc_thresh3 (1024) the
		// kernel would create and destroy them on every packet: a cost no deployment has.)
		{"ip", "route", "add", wireRemote, "via", wireGateway, "dev", wireDev, "onlink", "src", wireLocal},
	}
	for _, st := range steps {
		if out, err := exec.Command(st[0], st[1:]...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %w: %s", strings.Join(st, " "), err, strings.TrimSpace(string(out)))
		}
	}
	// noqueue: the device is handed each packet directly, as a multi-queue NIC's lockless path
	// would be; without tc the default pfifo_fast (bypassed when empty) is nearly the same.
	_ = exec.Command("tc", "qdisc", "replace", "dev", wireDev, "root", "noqueue").Run()
	return &wire{}, nil
}

// callers returns n distinct caller addresses, one per stream, the way n calls come from n handsets.
func (*wire) callers(n int) []netip.AddrPort {
	if n > maxCallers {
		fatal("wire", fmt.Errorf("%d streams: at most %d callers", n, maxCallers))
	}
	out := make([]netip.AddrPort, n)
	for i := range n {
		ip := netip.AddrFrom4([4]byte{198, 19, byte(i / 255), byte(i%255 + 1)})
		out[i] = netip.AddrPortFrom(ip, uint16(wirePort+2*(i%1000)))
	}
	return out
}

// discarded is how many packets the wire device has taken and discarded (its receive-drop counter
// in /proc/net/dev, which is per network namespace, unlike /sys/class/net here).
func (*wire) discarded() uint64 {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		fatal("wire", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != wireDev {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 4 {
			break
		}
		// rx bytes, packets, errs, drop; ifb counts what it discards as rx drops.
		n, err := strconv.ParseUint(f[3], 10, 64)
		if err != nil {
			fatal("wire", err)
		}
		return n
	}
	fatal("wire", fmt.Errorf("%s not in /proc/net/dev", wireDev))
	return 0
}
