package msrp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const emfileChildEnv = "HERALD_MSRP_EMFILE_CHILD"

// TestEngineRestartsAfterEMFILE: gnet shuts its engine down when accept fails (EMFILE); the server must
// restart it on the same port. The server runs in a child process with a tiny RLIMIT_NOFILE so that the
// test process's own descriptors are not at risk.
func TestEngineRestartsAfterEMFILE(t *testing.T) {
	if os.Getenv(emfileChildEnv) == "1" {
		emfileChild()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEngineRestartsAfterEMFILE$")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	expect := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(l, prefix))
			}
		}
		_ = cmd.Wait()
		t.Fatalf("child ended before %q; stderr:\n%s", prefix, stderr.String())
		return ""
	}
	addr := "127.0.0.1:" + expect("READY")

	// Hold more connections than the child has descriptors: its accept fails with EMFILE.
	var held []net.Conn
	for range 12 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			held = append(held, c)
		}
	}
	restarts := expect("RESTARTED")
	for _, c := range held {
		_ = c.Close()
	}
	n, _ := strconv.Atoi(restarts)
	if n < 1 {
		t.Fatalf("restarts = %d", n)
	}

	// The restarted engine serves on the same port.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := probe481(addr); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("restarted server does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = stdin.Close() // tells the child to stop
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
}

// probe481 binds an unknown session and expects 481.
func probe481(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	msg := "MSRP probe1234 SEND\r\nTo-Path: msrp://127.0.0.1:1/nosuchsession;tcp\r\n" +
		"From-Path: msrp://127.0.0.1:9/probe;tcp\r\nMessage-ID: p1\r\n-------probe1234$\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "MSRP probe1234 481") {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}

// emfileChild runs the server under a small descriptor limit until stdin closes.
func emfileChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	o := testOptions()
	o.Loops = 1
	s, err := New(o)
	if err != nil {
		fail(err)
	}
	if err := s.Start(context.Background()); err != nil {
		fail(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fail(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		fail(err)
	}
	low := old
	low.Cur = uint64(len(fds) + 3)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		fail(err)
	}
	_, port := s.Addr()
	fmt.Printf("READY %d\n", port)

	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().EngineRestarts < 1 {
		if time.Now().After(deadline) {
			fail(fmt.Errorf("no restart: %+v", s.Stats()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		fail(err)
	}
	fmt.Printf("RESTARTED %d\n", s.Stats().EngineRestarts)
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		fail(err)
	}
	os.Exit(0)
}
