package msrp

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/netio/cpu"
)

// TestPinnedLoops: with Options.CPUs the event loop threads are pinned, one CPU each, once they open a
// connection, and deliveries work as usual.
func TestPinnedLoops(t *testing.T) {
	avail := cpu.Available()
	if len(avail) == 0 {
		t.Skip("no CPU affinity on this platform")
	}
	s := startServer(t, Options{Listen: "127.0.0.1:0", CPUs: avail[:1]})
	page := htmlPage(t, 4096)
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second, "text/html")
	c := dial(t, s)
	c.bind(s.PathURI(sess.ID))
	if f := c.mustNext(2 * time.Second); f.Status != 200 {
		t.Fatalf("bind answer %+v", f)
	}
	c.receivePage(2*time.Second, true)
	if s.opts.Loops != 1 {
		t.Fatalf("loops %d, want len(CPUs)", s.opts.Loops)
	}
	var pinned map[int]int
	for _, h := range []*handler{s.currentHandler()} {
		if h == nil || h.pin == nil {
			t.Fatal("engine runs without a pinner")
		}
		pinned = h.pin.Pinned()
	}
	if len(pinned) != 1 {
		t.Fatalf("pinned threads %v, want the one loop", pinned)
	}
	for tid, want := range pinned {
		b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "Cpus_allowed_list:\t"+strconv.Itoa(want)+"\n") {
			t.Fatalf("loop thread %d not pinned to cpu %d", tid, want)
		}
	}
}

func TestPinnedLoopsRefused(t *testing.T) {
	_, err := New(Options{Listen: "127.0.0.1:0", CPUs: []int{4095}})
	if !errors.Is(err, ErrBadOptions) || !errors.Is(err, cpu.ErrNotAllowed) {
		t.Fatalf("err %v, want ErrBadOptions wrapping cpu.ErrNotAllowed", err)
	}
}
