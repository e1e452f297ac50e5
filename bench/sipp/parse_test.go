package sipp

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/config"
)

// statHeader and statLine are a real SIPp 3.6.1 -trace_stat header and line, cut after the columns
// ParseStats reads.
const (
	statHeader = "StartTime;LastResetTime;CurrentTime;ElapsedTime(P);ElapsedTime(C);TargetRate;CallRate(P);CallRate(C);" +
		"IncomingCall(P);IncomingCall(C);OutgoingCall(P);OutgoingCall(C);TotalCallCreated;CurrentCall;" +
		"SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C);Retransmissions(P);Retransmissions(C);" +
		"CallLength(P);CallLength(C)"
	statLine = "2026-11-26\t11:49:35.679875\t1795693775.679875;2026-11-26\t11:49:35.787551\t1795693775.787551;" +
		"2026-11-26\t11:49:40.929875\t1795693780.929875;00:00:00;00:00:05;50;0;46.729;0;0;0;250;250;0;0;249;0;1;0;3;" +
		"00:00:00:000000;00:00:00:250000"
)

func TestParseStats(t *testing.T) {
	tests := map[string]struct {
		text    string
		want    Stats
		wantErr error
	}{
		"final line": {
			text: statHeader + "\n" + "ignored;periodic;line\n" + statLine + "\n",
			want: Stats{Elapsed: 5250 * time.Millisecond, Created: 250, Successful: 249, Failed: 1, Retrans: 3,
				CallLength: 250 * time.Millisecond},
		},
		"header only":    {text: statHeader + "\n", wantErr: ErrStats},
		"missing column": {text: "StartTime;CurrentTime\n1;2\n", wantErr: ErrStats},
		"bad number": {
			text: statHeader + "\n" + statLine[:len(statLine)-len("00:00:00:250000")] + "xx:00:00:250000\n", wantErr: ErrStats,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseStats(tc.text)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got.Elapsed.Round(time.Millisecond) != tc.want.Elapsed {
				t.Errorf("elapsed %v, want %v", got.Elapsed, tc.want.Elapsed)
			}
			got.Elapsed = tc.want.Elapsed
			got.Sustained = 0
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSustained(t *testing.T) {
	// Three periodic lines: 1000 calls in 1.0 s, 1000 in 1.0 s, then a partial 200 (left out).
	line := func(now string, out int) string {
		return "d\tt\t100.000000;x;d\tt\t" + now + ";;;;;;;;;" + strconv.Itoa(out)
	}
	text := "StartTime;LastResetTime;CurrentTime;a;b;c;d;e;f;g;h;OutgoingCall(P)\n" +
		line("101.000000", 1000) + "\n" + line("102.000000", 1000) + "\n" + line("102.500000", 200) + "\n"
	lines := strings.Split(strings.TrimSpace(text), "\n")
	head := strings.Split(lines[0], ";")
	row := func(n int) map[string]string {
		m := map[string]string{}
		for i, v := range strings.Split(lines[n], ";") {
			m[head[i]] = v
		}
		return m
	}
	if got := sustained(lines, row); got < 999.9 || got > 1000.1 {
		t.Fatalf("sustained %.2f calls/s, want 1000", got)
	}
	if got := sustained(lines[:1], row); got != 0 {
		t.Fatalf("no periodic line: sustained %v, want 0", got)
	}
}

func TestParseProcStat(t *testing.T) {
	tests := map[string]struct {
		line    string
		cpu     time.Duration
		ppid    int
		wantErr error
	}{
		"comm with spaces and parens": {
			line: "4242 (kam (ai) lio) S 4200 4242 4242 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 1 0 100 0 0",
			cpu:  1750 * time.Millisecond, ppid: 4200,
		},
		"no comm":   {line: "4242 kamailio S 1 2 3", wantErr: ErrProc},
		"truncated": {line: "4242 (x) S 1 2 3", wantErr: ErrProc},
		"not a number": {
			line: "4242 (x) S 1 4242 4242 0 -1 4194560 1 0 0 0 ab 25 0", wantErr: ErrProc,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cpu, ppid, err := parseStat([]byte(tc.line))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (cpu != tc.cpu || ppid != tc.ppid) {
				t.Fatalf("cpu %v ppid %d, want %v %d", cpu, ppid, tc.cpu, tc.ppid)
			}
		})
	}
}

func TestCPUTimeOfSelf(t *testing.T) {
	before, err := CPUTime(os.Getpid(), true)
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for start := time.Now(); time.Since(start) < 150*time.Millisecond; { //nolint:revive // burn CPU
	}
	after, err := CPUTime(os.Getpid(), false)
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("cpu time grew %v after 150ms of spinning", after-before)
	}
	if _, err := CPUTime(1<<30, false); !errors.Is(err, ErrProc) {
		t.Fatalf("missing pid: err = %v, want ErrProc", err)
	}
}

// loadHeraldConfig writes c's config to a file and loads it with Herald's own loader, which must
// find nothing to warn of.
func loadHeraldConfig(t *testing.T, c HeraldConfig) *config.Options {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(path, []byte(c.YAML(filepath.Join(dir, "data"))), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Warnings) > 0 {
		t.Errorf("warnings: %v", o.Warnings)
	}
	return o
}

// TestHeraldConfigLoads: the generated config passes Herald's own loader without warnings.
func TestHeraldConfigLoads(t *testing.T) {
	o := loadHeraldConfig(t, HeraldConfig{Port: 15060, NextHop: "127.0.0.1:15070", MaxCalls: 5000})
	if len(o.SIP.Listen) != 2 || o.SIP.Listen[0].Addr != "127.0.0.1:15060" || o.SIP.NextHop != "sip:127.0.0.1:15070" ||
		o.Limits.MaxCalls != 5000 || !o.SIP.RecordRoute || o.HTTP.Listen != "" {
		t.Errorf("loaded %+v %+v %+v", o.SIP, o.Limits, o.HTTP)
	}
}

// TestKamailioConfigChecks: kamailio -c accepts the generated configuration.
func TestKamailioConfigChecks(t *testing.T) {
	requirePeer(t, "kamailio")
	path := filepath.Join(t.TempDir(), "kamailio.cfg")
	for _, k := range []KamailioConfig{
		{Port: 15090, Target: "sip:127.0.0.1:15070;transport=udp", Children: 1},
		{Port: 15090, Target: "sip:127.0.0.1:15070;transport=udp", Children: 1,
			Fork: []string{"sip:callee@127.0.0.1:15071", "sip:callee@127.0.0.1:15072"}},
	} {
		if err := os.WriteFile(path, []byte(k.Cfg()), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, "kamailio", "-c", "-f", path).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("kamailio -c (fork %v): %v\n%s", k.Fork, err, out)
		}
	}
}

// TestHeraldConfigHTTP: with HTTPListen the generated configuration serves the admin endpoints
// (/debug/pprof) there, on http.admin_listen, the only listener that serves them; without it HTTP
// is off.
func TestHeraldConfigHTTP(t *testing.T) {
	on := HeraldConfig{Port: 5060, NextHop: "127.0.0.1:5070", HTTPListen: "127.0.0.1:9999"}.YAML("/tmp/d")
	if !strings.Contains(on, `http: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:9999"}`) {
		t.Errorf("HTTPListen set:\n%s", on)
	}
	off := HeraldConfig{Port: 5060, NextHop: "127.0.0.1:5070"}.YAML("/tmp/d")
	if !strings.Contains(off, `http: {listen: ""}`) || strings.Contains(off, "admin_listen") {
		t.Errorf("HTTPListen empty:\n%s", off)
	}
}
