package msrp

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// listeners counts the IPv4 TCP sockets listening on port (from /proc/net/tcp).
func listeners(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	suffix := fmt.Sprintf(":%04X", port)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], suffix) && f[3] == "0A" {
			n++
		}
	}
	return n
}

// TestEveryLoopListensOnThePort: with SO_REUSEPORT each event loop has its own listening socket, and
// port 0 is resolved once (reservePort) so that all of them share the advertised port; the reservation
// itself is released and never listens.
func TestEveryLoopListensOnThePort(t *testing.T) {
	for _, loops := range []int{1, 3} {
		t.Run(fmt.Sprint(loops), func(t *testing.T) {
			o := testOptions()
			o.Loops = loops
			s := startServer(t, o)
			_, port := s.Addr()
			// gnet calls OnBoot (Start returns) before the loops other than the first bind theirs.
			waitFor(t, "one listening socket per loop", func() bool { return listeners(t, port) == loops })
			time.Sleep(50 * time.Millisecond)
			if got := listeners(t, port); got != loops {
				t.Fatalf("%d sockets listen on port %d, want one per loop (%d)", got, port, loops)
			}
		})
	}
}
