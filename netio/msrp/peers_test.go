package msrp

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requirePeer returns the path of an outside tool, or skips the test naming it; with
// HERALD_REQUIRE_PEERS=1 a missing tool fails the test instead.
func requirePeer(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s is required (HERALD_REQUIRE_PEERS=1) but not installed: %v", tool, err)
		}
		t.Skipf("%s not installed", tool)
	}
	return p
}

// capture is a running tshark capture on lo.
type capture struct {
	cmd     *exec.Cmd
	file    string
	done    chan error
	stopped bool
}

// startCapture starts tshark on lo with a capture filter and returns once it captures.
func startCapture(t *testing.T, filter string) *capture {
	t.Helper()
	bin := requirePeer(t, "tshark")
	file := t.TempDir() + "/cap.pcapng"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := exec.CommandContext(ctx, bin, "-i", "lo", "-f", filter, "-w", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("tshark: %v", err)
	}
	c := &capture{cmd: cmd, file: file, done: make(chan error, 1)}
	ready := make(chan struct{})
	var (
		mu    sync.Mutex
		lines []string
	)
	seen := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(lines) }
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if strings.Contains(sc.Text(), "Capturing on") {
				close(ready)
				break
			}
		}
		for sc.Scan() { // drain
		}
		c.done <- cmd.Wait()
		cancel()
	}()
	t.Cleanup(func() { c.stop(t) })
	select {
	case <-ready:
		time.Sleep(200 * time.Millisecond) // "Capturing on" precedes the first packet slightly
	case err := <-c.done:
		t.Fatalf("tshark exited before capturing: %v %q", err, seen())
	case <-time.After(25 * time.Second): // tshark's start (dumpcap, dissector tables) takes seconds on a loaded box
		t.Fatalf("tshark did not start capturing: %q", seen())
	}
	return c
}

// stop ends the capture (SIGINT, as an operator would) and waits for the file to be complete.
func (c *capture) stop(t *testing.T) {
	if c.stopped {
		return
	}
	c.stopped = true
	time.Sleep(300 * time.Millisecond) // let the last packets reach the capture
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Errorf("tshark did not stop on SIGINT")
	}
}

// tsharkRead runs tshark on a capture file with args and returns its stdout.
func tsharkRead(t *testing.T, file string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tshark", append([]string{"-r", file}, args...)...).Output()
	if err != nil {
		t.Fatalf("tshark -r %v: %v", args, err)
	}
	return string(out)
}
