package msrpbench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// controlTimeout bounds one control command (opening 10,000 sessions and a forced GC included).
const controlTimeout = 20 * time.Second

// ServerProc is a server child process started by [StartChild], driven over its stdin and stdout.
type ServerProc struct {
	Kind string
	Host string
	Port int

	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan error
}

// Usage is a getrusage snapshot of a process. MaxRSSKiB is ru_maxrss; for a child started with os/exec
// it includes the parent's peak at exec time, so use ServerProc.HWM for the server's peak.
type Usage struct {
	User, Sys time.Duration
	MaxRSSKiB int64
}

// CPU is user plus system time.
func (u Usage) CPU() time.Duration { return u.User + u.Sys }

// StartChild re-executes exe with ChildEnv=kind and waits for the child's address line. The child's
// stderr goes to ours.
func StartChild(exe, kind string) (*ServerProc, error) {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ChildEnv+"="+kind)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChild, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChild, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrChild, exe, err)
	}
	p := &ServerProc{Kind: kind, cmd: cmd, in: in, lines: make(chan string, 4), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() { p.done <- cmd.Wait() }()
	line, err := p.read()
	if err == nil {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "addr" {
			err = fmt.Errorf("%w: first line %q", ErrChild, line)
		} else {
			p.Host = f[1]
			p.Port, err = strconv.Atoi(f[2])
		}
	}
	if err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// Pid is the child's process id.
func (p *ServerProc) Pid() int { return p.cmd.Process.Pid }

// Addr is the child server's "host:port".
func (p *ServerProc) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// PathURI is the a=path URI of session id on the child server.
func (p *ServerProc) PathURI(id string) string {
	return "msrp://" + p.Addr() + "/" + id + ";tcp"
}

func (p *ServerProc) read() (string, error) {
	select {
	case l, ok := <-p.lines:
		if !ok {
			return "", fmt.Errorf("%w: %s exited", ErrChild, p.Kind)
		}
		return l, nil
	case <-time.After(controlTimeout):
		return "", fmt.Errorf("%w: %s did not answer within %s", ErrChild, p.Kind, controlTimeout)
	}
}

// Call sends one command line and returns the answer's fields; an "err" answer is an error.
func (p *ServerProc) Call(cmd string) ([]string, error) {
	if _, err := io.WriteString(p.in, cmd+"\n"); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrChild, cmd, err)
	}
	l, err := p.read()
	if err != nil {
		return nil, err
	}
	f := strings.Fields(l)
	if len(f) == 0 || f[0] == "err" {
		return nil, fmt.Errorf("%w: %s: %s", ErrChild, cmd, l)
	}
	return f, nil
}

// Usage asks the child for its getrusage(RUSAGE_SELF).
func (p *ServerProc) Usage() (Usage, error) {
	f, err := p.Call("usage")
	if err != nil {
		return Usage{}, err
	}
	if len(f) != 4 {
		return Usage{}, fmt.Errorf("%w: usage answer %q", ErrChild, f)
	}
	var v [3]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return Usage{}, fmt.Errorf("%w: usage answer %q", ErrChild, f)
		}
	}
	return Usage{User: time.Duration(v[0]) * time.Microsecond, Sys: time.Duration(v[1]) * time.Microsecond, MaxRSSKiB: v[2]}, nil
}

// Results returns how many sessions the child saw Delivered and how many ended otherwise.
func (p *ServerProc) Results() (delivered, other int64, err error) {
	f, err := p.Call("results")
	if err != nil {
		return 0, 0, err
	}
	if len(f) != 3 {
		return 0, 0, fmt.Errorf("%w: results answer %q", ErrChild, f)
	}
	delivered, err1 := strconv.ParseInt(f[1], 10, 64)
	other, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%w: results answer %q", ErrChild, f)
	}
	return delivered, other, nil
}

// RSS reads VmRSS of the child from /proc/<pid>/status, in bytes.
func (p *ServerProc) RSS() (int64, error) { return VmRSS(p.Pid()) }

// Quit asks the child to stop and waits for it (killing it after a grace period).
func (p *ServerProc) Quit() error {
	_, _ = io.WriteString(p.in, "quit\n")
	_ = p.in.Close()
	select {
	case err := <-p.done:
		return err
	case <-time.After(15 * time.Second):
		p.kill()
		return fmt.Errorf("%w: %s did not exit, killed", ErrChild, p.Kind)
	}
}

func (p *ServerProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// HWM reads VmHWM (peak resident set size) of the child from /proc/<pid>/status, in bytes. Unlike
// getrusage's ru_maxrss, which a child started by vfork+exec inherits from its parent's address space,
// VmHWM belongs to the child's own mm.
func (p *ServerProc) HWM() (int64, error) { return procStatus(p.Pid(), "VmHWM:") }

// VmRSS returns the resident set size of process pid from /proc/<pid>/status, in bytes.
func VmRSS(pid int) (int64, error) { return procStatus(pid, "VmRSS:") }

// procStatus returns a "kB" field of /proc/<pid>/status in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("msrpbench: %w", err)
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := strings.Fields(string(rest))
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("msrpbench: no %s in /proc/%d/status", field, pid)
}

// SelfUsage is getrusage(RUSAGE_SELF) of this process.
func SelfUsage() (Usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, fmt.Errorf("msrpbench: getrusage: %w", err)
	}
	return Usage{
		User: time.Duration(tvMicros(ru.Utime)) * time.Microsecond, Sys: time.Duration(tvMicros(ru.Stime)) * time.Microsecond,
		MaxRSSKiB: ru.Maxrss,
	}, nil
}

// RaiseNoFile raises RLIMIT_NOFILE to its hard limit (an explicit Setrlimit also makes os/exec children
// inherit the raised limit) and returns the new soft limit.
func RaiseNoFile() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("msrpbench: getrlimit: %w", err)
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("msrpbench: setrlimit: %w", err)
	}
	return rl.Cur, nil
}
