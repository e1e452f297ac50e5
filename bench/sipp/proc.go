package sipp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herald-ims/herald/netio/freeport"
)

// Proc is one peer process started by this package. Its output goes to a log file.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // path of the combined stdout/stderr

	done chan struct{}
	err  error
	once sync.Once
}

// Start runs argv[0] with the rest of argv in dir, output to dir/name.log.
func Start(dir, name string, argv ...string) (*Proc, error) {
	return start(dir, name, nil, argv)
}

// start is Start with the child's environment (nil: this process's).
func start(dir, name string, env []string, argv []string) (*Proc, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoTool, argv[0], err)
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("sipp: %w", err)
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = dir, f, f, env
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sipp: start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// withoutGCEnv is this process's environment without GOGC and GOMEMLIMIT: Herald runs with the
// collector settings of its configuration (limits.gc_percent, limits.memory_limit_mb), never with
// whatever the shell that started the benchmark had.
func withoutGCEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	return env
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit or ctx to end (then it is stopped) and returns its exit code
// (-1 when it did not exit by itself).
func (p *Proc) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Stop(2 * time.Second)
		return -1, ctx.Err()
	}
	return p.ExitCode(), nil
}

// ExitCode is the exit status once Done is closed (-1 for a signal).
func (p *Proc) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

// Stop sends SIGTERM to this process (only), then SIGKILL after grace, and waits for the exit.
func (p *Proc) Stop(grace time.Duration) {
	p.once.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
	})
}

// Tail is the last n bytes of the process' log.
func (p *Proc) Tail(n int) string { return tailFile(p.Log, n) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// CPUTime is user+system CPU time of pid and, with children, of its live direct children (Kamailio's
// workers), from /proc/<pid>/stat.
func CPUTime(pid int, children bool) (time.Duration, error) {
	total, _, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	if !children {
		return total, nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	for _, e := range ents {
		cp, err := strconv.Atoi(e.Name())
		if err != nil || cp == pid {
			continue
		}
		t, ppid, err := procStat(cp)
		if err == nil && ppid == pid {
			total += t
		}
	}
	return total, nil
}

// clockTick is USER_HZ, 100 on every Linux this runs on (getconf CLK_TCK).
const clockTick = 100

// procStat reads utime+stime and the parent pid of pid.
func procStat(pid int) (cpu time.Duration, ppid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	return parseStat(b)
}

// parseStat parses a /proc/<pid>/stat line: "pid (comm) state ppid ... utime stime ...". comm may
// hold spaces and parentheses, so fields are counted after the last ')'.
func parseStat(b []byte) (time.Duration, int, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%w: no comm", ErrProc)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("%w: %d fields", ErrProc, len(f)+2)
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseUint(f[11], 10, 64)
	st, err3 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	return time.Duration(ut+st) * time.Second / clockTick, ppid, nil
}

// FreePort returns a port of 127.0.0.1 free for both UDP and TCP, leased to this process below the
// kernel's ephemeral range (netio/freeport), so a SIPp or Herald started later binds it without racing
// other sockets.
func FreePort() (int, error) {
	p, err := freeport.Port("127.0.0.1")
	if err != nil {
		return 0, fmt.Errorf("sipp: %w", err)
	}
	return p, nil
}

// WaitListening waits until something listens on 127.0.0.1:port for transport "udp" or "tcp"
// (from /proc/net/udp or /proc/net/tcp: probing by binding would race the peer's own bind).
func WaitListening(ctx context.Context, transport string, port int) error {
	file := "/proc/net/udp"
	if transport == "tcp" {
		file = "/proc/net/tcp"
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for {
		if b, err := os.ReadFile(file); err == nil {
			for _, line := range strings.Split(string(b), "\n")[1:] {
				f := strings.Fields(line)
				if len(f) > 3 && f[1] == want && (transport == "udp" || f[3] == "0A") {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s port %d: %w", ErrNotReady, transport, port, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ping sends SIP OPTIONS over UDP to addr until a 200 comes back or ctx ends.
func Ping(ctx context.Context, addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("sipp: %w", err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	buf := make([]byte, 4096)
	for i := 0; ; i++ {
		msg := "OPTIONS sip:ping@" + addr + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + la + ";branch=z9hG4bK-ping-" + strconv.Itoa(i) + "-" + strconv.Itoa(os.Getpid()) + "\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:ping@" + la + ">;tag=p" + strconv.Itoa(i) + "\r\n" +
			"To: <sip:ping@" + addr + ">\r\nCall-ID: ping-" + strconv.Itoa(i) + "-" + la + "\r\n" +
			"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
		if _, err := c.Write([]byte(msg)); err == nil {
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n, err := c.Read(buf); err == nil && bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200")) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %w", ErrNotReady, addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// moduleRoot is the directory of this module's go.mod (two levels above this file).
// A binary built with -trimpath has no source paths: it finds the module from $HERALD_MODULE_ROOT
// (bench/run sets it).
func moduleRoot() string {
	if d := os.Getenv("HERALD_MODULE_ROOT"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ScenarioDir is the directory holding the SIPp scenarios.
func ScenarioDir() string { return filepath.Join(moduleRoot(), "bench", "sipp") }
