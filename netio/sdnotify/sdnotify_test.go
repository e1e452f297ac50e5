package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a unixgram socket as systemd does and points NOTIFY_SOCKET at it.
func listen(t *testing.T, abstract bool) *net.UnixConn {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify")
	env := name
	if abstract {
		name = "\x00herald-sdnotify-test-" + strconv.Itoa(os.Getpid())
		env = "@" + name[1:]
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Setenv("NOTIFY_SOCKET", env)
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestSendReachesSocket(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		c := listen(t, abstract)
		sent, err := Send("READY=1\nSTATUS=serving")
		if !sent || err != nil {
			t.Fatalf("abstract=%v: Send = %v, %v", abstract, sent, err)
		}
		if got := recv(t, c); got != "READY=1\nSTATUS=serving" {
			t.Fatalf("abstract=%v: got %q", abstract, got)
		}
	}
}

func TestSendWithoutSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Send("READY=1"); sent || err != nil {
		t.Fatalf("Send = %v, %v; want false, nil", sent, err)
	}
}

func TestSendToMissingSocketFails(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	if sent, err := Send("READY=1"); !sent || err == nil {
		t.Fatalf("Send = %v, %v; want true and an error", sent, err)
	}
}

func TestReloadingCarriesMonotonicTime(t *testing.T) {
	s := Reloading()
	lines := strings.Split(s, "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("Reloading() = %q", s)
	}
	us, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
	if err != nil || us <= 0 {
		t.Fatalf("MONOTONIC_USEC = %q (%v)", lines[1], err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"30000000", "", 15 * time.Second},
		{"30000000", pid, 15 * time.Second},
		{"30000000", "1", 0}, // meant for another process
		{"junk", "", 0},
		{"-5", "", 0},
	} {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		if got := WatchdogInterval(); got != c.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
}
