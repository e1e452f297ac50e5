package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/config"
)

// notifySocket is the unixgram socket systemd opens for a Type=notify service; the test points the
// child's NOTIFY_SOCKET at it and reads the states it sends, in order.
type notifySocket struct {
	t    *testing.T
	conn *net.UnixConn
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "hn") // short: a socket path must fit in sun_path (108 bytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	name := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return &notifySocket{t: t, conn: c}
}

// next returns the next state whose first line is not WATCHDOG=1 (unless want is WATCHDOG=1),
// failing after d.
func (n *notifySocket) next(d time.Duration, want string) string {
	n.t.Helper()
	deadline := time.Now().Add(d)
	b := make([]byte, 4096)
	for {
		_ = n.conn.SetReadDeadline(deadline)
		k, err := n.conn.Read(b)
		if err != nil {
			n.t.Fatalf("waiting for %s: %v", want, err)
		}
		s := string(b[:k])
		if strings.HasPrefix(s, want) {
			return s
		}
		if !strings.HasPrefix(s, "WATCHDOG=1") {
			n.t.Fatalf("got state %q while waiting for %s", s, want)
		}
	}
}

// TestSdNotifyLifecycle runs "herald serve" as systemd runs a Type=notify unit with a watchdog:
// READY=1 comes once the listeners are up (/readyz answers 200 at once) (the first state, before any WATCHDOG=1), WATCHDOG=1
// repeats at half WATCHDOG_USEC, SIGHUP is framed by RELOADING=1 (with MONOTONIC_USEC) and READY=1,
// and SIGTERM sends STOPPING=1 before the drain, then exits 0.
func TestSdNotifyLifecycle(t *testing.T) {
	ns := newNotifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000") // 0.2 s: WATCHDOG=1 every 0.1 s
	t.Setenv("WATCHDOG_PID", "")
	o := lifecycleConfig(t, "127.0.0.1:5070")
	o.Shutdown.DrainTimeout = config.Duration(2 * time.Second)
	c := startServe(t, o)

	// The first datagram is READY=1, and by then SIP and HTTP answer.
	_ = ns.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 4096)
	k, err := ns.conn.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b[:k]); !strings.HasPrefix(s, "READY=1") {
		t.Fatalf("first state %q, want READY=1", s)
	}
	if code := c.readyz(); code != 200 { // listeners up, store open, not draining
		t.Fatalf("/readyz after READY=1 = %d", code)
	}

	// The watchdog: at least three pings within 2 s (one every 0.1 s).
	for i := 0; i < 3; i++ {
		ns.next(2*time.Second, "WATCHDOG=1")
	}

	c.signal(syscall.SIGHUP)
	if s := ns.next(5*time.Second, "RELOADING=1"); !strings.Contains(s, "\nMONOTONIC_USEC=") {
		t.Fatalf("reload state %q lacks MONOTONIC_USEC", s)
	}
	ns.next(5*time.Second, "READY=1")

	c.signal(syscall.SIGTERM)
	ns.next(5*time.Second, "STOPPING=1")
	if code := c.exit(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
