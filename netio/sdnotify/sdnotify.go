// Package sdnotify is the service side of systemd's notification protocol (sd_notify(3)): state
// lines such as READY=1, STOPPING=1, RELOADING=1 and WATCHDOG=1 sent as one datagram to the
// AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET. It is the 30 lines of it Herald needs, in
// place of a dependency (coreos/go-systemd is not served to this build).
//
// Outside systemd (no NOTIFY_SOCKET) every call is a no-op, so "herald serve" behaves the same
// from a shell, a container or a Type=simple unit.
package sdnotify

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Send sends state (newline-separated KEY=VALUE assignments) to $NOTIFY_SOCKET. It reports
// whether a socket was named; an error is a failed send to a named socket. A name starting with
// '@' is an abstract socket (sd_notify(3)).
func Send(state string) (bool, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return true, err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return true, err
}

// Reloading is the RELOADING=1 state of a Type=notify-reload service: systemd wants the
// CLOCK_MONOTONIC time of the reload's start with it, in microseconds (MONOTONIC_USEC).
func Reloading() string {
	return "RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10)
}

// WatchdogInterval is how often WATCHDOG=1 should be sent: half of $WATCHDOG_USEC, as
// sd_watchdog_enabled(3) recommends, or 0 when no watchdog is set for this process
// ($WATCHDOG_PID, when set, must be this process's id).
func WatchdogInterval() time.Duration {
	us := os.Getenv("WATCHDOG_USEC")
	if us == "" {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && strings.TrimSpace(pid) != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Microsecond / 2
}
