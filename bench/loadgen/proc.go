package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's utime and stime: 100 on every Linux
// architecture Go supports (the kernel exports that value whatever CONFIG_HZ is).
const clockTicks = 100

// procCPU returns the user+system CPU time of process pid (/proc/<pid>/stat fields 14 and 15).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("loadgen: %w", err)
	}
	// The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("loadgen: /proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // f[0] is field 3 (state): utime is f[11], stime f[12]
		return 0, fmt.Errorf("loadgen: /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("loadgen: /proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procRSS returns the resident set size of pid in bytes (/proc/<pid>/status VmRSS).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("loadgen: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("loadgen: /proc/%d/status: no VmRSS", pid)
}

// procFDs counts the open descriptors of pid.
func procFDs(pid int) (int, error) {
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, fmt.Errorf("loadgen: %w", err)
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(1024)
		n += len(names)
		if err != nil {
			if err == io.EOF {
				return n, nil
			}
			return n, fmt.Errorf("loadgen: /proc/%d/fd: %w", pid, err)
		}
	}
}

// selfCPU is the generator's own user+system CPU time (getrusage(RUSAGE_SELF)).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// kernelCounters are the host's drop counters at one moment.
type kernelCounters struct {
	udpRcvbuf, udpSndbuf, listenDrops int64
}

func (a kernelCounters) sub(b kernelCounters) Kernel {
	return Kernel{UDPRcvbufErrors: a.udpRcvbuf - b.udpRcvbuf, UDPSndbufErrors: a.udpSndbuf - b.udpSndbuf,
		TCPListenDrops: a.listenDrops - b.listenDrops}
}

// readKernel reads Udp RcvbufErrors/SndbufErrors from /proc/net/snmp and TcpExt ListenDrops from
// /proc/net/netstat (both: a header line of names, then a line of values, per protocol). Missing
// files or fields read as 0.
func readKernel() kernelCounters {
	var k kernelCounters
	if v := procNetTable("/proc/net/snmp", "Udp:"); v != nil {
		k.udpRcvbuf, k.udpSndbuf = v["RcvbufErrors"], v["SndbufErrors"]
	}
	if v := procNetTable("/proc/net/netstat", "TcpExt:"); v != nil {
		k.listenDrops = v["ListenDrops"]
	}
	return k
}

func procNetTable(path, prefix string) map[string]int64 {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var names []string
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fields := strings.Fields(line[len(prefix):])
		if names == nil {
			names = fields
			continue
		}
		out := make(map[string]int64, len(names))
		for i, n := range names {
			if i < len(fields) {
				v, _ := strconv.ParseInt(fields[i], 10, 64)
				out[n] = v
			}
		}
		return out
	}
	return nil
}

// varzGoroutines reads Herald's goroutine count from url: a JSON document with a numeric
// "goroutines" key at any depth, or Prometheus text with go_goroutines (/metrics). A JSON page
// without the key (Herald's /varz has none) is followed by the same server's /metrics.
func varzGoroutines(ctx context.Context, c *http.Client, url string) (int, error) {
	n, err := readGoroutines(ctx, c, url)
	if errors.Is(err, errNoGoroutines) {
		if u, perr := neturl.Parse(url); perr == nil && u.Path != "/metrics" {
			u.Path, u.RawQuery = "/metrics", ""
			return readGoroutines(ctx, c, u.String())
		}
	}
	return n, err
}

var errNoGoroutines = errors.New("loadgen: varz: no goroutine count")

func readGoroutines(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("loadgen: varz: %w", err)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("loadgen: varz: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return 0, fmt.Errorf("loadgen: varz: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("loadgen: varz: %s", res.Status)
	}
	var doc any
	if json.Unmarshal(b, &doc) == nil {
		if n, ok := findNumber(doc, "goroutines"); ok {
			return n, nil
		}
		return 0, fmt.Errorf("%w in %s", errNoGoroutines, url)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(f), nil
			}
		}
	}
	return 0, fmt.Errorf("%w in %s", errNoGoroutines, url)
}

func findNumber(v any, key string) (int, bool) {
	switch x := v.(type) {
	case map[string]any:
		if n, ok := x[key].(float64); ok {
			return int(n), true
		}
		for _, c := range x {
			if n, ok := findNumber(c, key); ok {
				return n, true
			}
		}
	case []any:
		for _, c := range x {
			if n, ok := findNumber(c, key); ok {
				return n, true
			}
		}
	}
	return 0, false
}
