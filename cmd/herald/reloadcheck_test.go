package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// TestReloadRunsCheck: a SIGHUP reload runs what "herald check" runs, not only the file's rules. A
// config whose syntax and rules are fine but that check refuses (a CPU this host does not have, a
// seed directory without profiles.yaml, a tokens file that does not exist) is rejected by the
// reload with exactly the problems check prints for the same file, each at its file:line:col; the
// running config stays (its log level too: no debug line appears) and calls keep being served.
func TestReloadRunsCheck(t *testing.T) {
	callee := newCallee(t, uesim.CalleeOptions{RingTime: -1})
	o := lifecycleConfig(t, callee.Addr())
	o.SIP.Trusted = []string{"127.0.0.0/8"}
	o.Log.Format, o.DataDir = "json", t.TempDir()
	dir := t.TempDir()
	path := filepath.Join(dir, "herald.yaml")
	writeOptions(t, path, o)
	h := startServeFile(t, path)

	seed := filepath.Join(dir, "seed")
	if err := os.MkdirAll(seed, 0o750); err != nil {
		t.Fatal(err)
	}
	bad := *o
	bad.Log.Level = "debug"
	bad.CPU.RTPShards = []int{200}
	bad.RTP.Shards = 1
	bad.Seed = seed
	bad.HTTP.API.TokensFile = filepath.Join(dir, "no-such-tokens")
	writeOptions(t, path, &bad)
	code, _, stderr := runCmd("check", "-c", path)
	if code != 1 {
		t.Fatalf("check exit %d on the bad config, stderr %s", code, stderr)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, path+":") && !strings.HasSuffix(l, "problem(s)") {
			want = append(want, l)
		}
	}
	if len(want) != 3 {
		t.Fatalf("check found %d problems, want 3 (cpu, seed, tokens file):\n%s", len(want), stderr)
	}

	rejected := func() []map[string]any { return h.logs(msgIs("reload rejected: running config kept")) }
	h.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the reload rejected", func() bool { return len(rejected()) >= len(want) })
	if f := inviteAnswer(t, h.sip); f.Status() != 200 {
		t.Fatalf("call after the rejected reload answered %d", f.Status())
	}
	var got []string // after the call: one reload logs its reasons together, any extra one is in

	for _, l := range rejected() {
		p, _ := l["problem"].(string)
		got = append(got, p)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("reload rejected with\n%s\nherald check says\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(h.logs(msgIs("config reloaded"))); n != 0 {
		t.Fatalf("%d reloads applied", n)
	}
	if n := len(h.logs(func(l map[string]any) bool { return l["level"] == "DEBUG" })); n != 0 {
		t.Fatalf("%d debug lines: the rejected config's log level was applied", n)
	}
	h.signal(syscall.SIGTERM)
	if code := h.exit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
