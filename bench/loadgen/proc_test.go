package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// TestProcReaders reads this test process: CPU grows with work, RSS and descriptors are
// positive; the kernel counters parse (the files exist on Linux).
func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	c0, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Spin until /proc shows more CPU (it counts in 10 ms ticks); a reader stuck at one value fails.
	spins, deadline := 0, time.Now().Add(5*time.Second)
	c1 := c0
	for c1 <= c0 && time.Now().Before(deadline) {
		for end := time.Now().Add(10 * time.Millisecond); time.Now().Before(end); {
			spins++
		}
		c1, _ = procCPU(pid)
	}
	if c1 <= c0 {
		t.Errorf("cpu %v then %v after 5 s of spinning (%d turns)", c0, c1, spins)
	}
	if rss, err := procRSS(pid); err != nil || rss < 1<<20 {
		t.Errorf("rss %d, %v", rss, err)
	}
	if n, err := procFDs(pid); err != nil || n < 3 {
		t.Errorf("fds %d, %v", n, err)
	}
	if selfCPU() <= 0 {
		t.Error("getrusage gave no CPU")
	}
	if procNetTable("/proc/net/snmp", "Udp:") == nil {
		t.Error("no Udp table in /proc/net/snmp")
	}
}

// TestVarzGoroutines: a goroutines key in JSON, go_goroutines in Prometheus text, and a JSON
// page without the key followed to the server's /metrics (Herald's /varz has none).
func TestVarzGoroutines(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			fmt.Fprint(w, `{"sip":{"calls":3},"runtime":{"goroutines":42}}`)
		case "/varz":
			fmt.Fprint(w, `{"sip":{"calls":3}}`)
		case "/metrics":
			fmt.Fprint(w, "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 17\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for path, want := range map[string]int{"/json": 42, "/metrics": 17, "/varz": 17} {
		n, err := varzGoroutines(context.Background(), srv.Client(), srv.URL+path)
		if err != nil || n != want {
			t.Errorf("%s: %d, %v; want %d", path, n, err, want)
		}
	}
	if _, err := varzGoroutines(context.Background(), srv.Client(), srv.URL+"/nope"); err == nil {
		t.Error("a 404 gave a count")
	}
}
