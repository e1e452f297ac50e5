package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// adminGet GETs path on the admin listener addr with the bearer token tok ("" none) and returns
// the status, the challenge and the body.
func adminGet(t *testing.T, addr, path, tok string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil) //nolint:noctx // loopback test
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// TestAdminTokenRotatesOnSIGHUP runs "herald serve" with http.admin_token_file: /metrics, /varz
// and pprof (cmdline included) answer 401 with a Bearer challenge without a token and with a wrong
// one, 200 with a listed one; /healthz and /readyz stay open; the refusals are counted on
// /metrics. Rewriting the file and sending SIGHUP rotates the tokens (the old one refused, the new
// one taken); a file without a token is then rejected by the reload and the running tokens kept.
func TestAdminTokenRotatesOnSIGHUP(t *testing.T) {
	callee := newCallee(t, uesim.CalleeOptions{RingTime: -1})
	o := lifecycleConfig(t, callee.Addr())
	o.Log.Format, o.DataDir = "json", t.TempDir()
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "admin-tokens")
	const oldTok, newTok = "scrape-token-old-0123456789", "scrape-token-new-0123456789"
	writeTokens := func(body string) {
		t.Helper()
		if err := os.WriteFile(tokFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeTokens("# Prometheus\nro " + oldTok + "\n")
	o.HTTP.AdminTokenFile = tokFile
	path := filepath.Join(dir, "herald.yaml")
	writeOptions(t, path, o)
	h := startServeFile(t, path)
	l := h.logs(msgIs("herald serving"))
	admin, _ := l[0]["admin"].(string)
	if admin == "" {
		t.Fatalf("no admin address in %v", l[0])
	}

	guarded := []string{"/metrics", "/varz", "/debug/pprof/", "/debug/pprof/cmdline"}
	want := func(tok string, code int) {
		t.Helper()
		for _, p := range guarded {
			if got, ch, _ := adminGet(t, admin, p, tok); got != code || (code == 401 && !strings.HasPrefix(ch, "Bearer ")) {
				t.Errorf("%s with token %q: %d %q, want %d", p, tok, got, ch, code)
			}
		}
	}
	want("", 401)
	want("wrong-token-0123456789abc", 401)
	want(oldTok, 200)
	for _, p := range []string{"/healthz", "/readyz"} {
		if got, _, _ := adminGet(t, admin, p, ""); got != 200 {
			t.Errorf("%s without a token: %d, want 200", p, got)
		}
	}
	if _, _, body := adminGet(t, admin, "/metrics", oldTok); !strings.Contains(body, "herald_web_admin_unauthorized_total 8\n") {
		t.Errorf("/metrics does not count the 8 refusals:\n%s", grepLines(body, "unauthorized"))
	}

	// Rotation: the file rewritten, SIGHUP.
	writeTokens("ro " + newTok + "\n")
	h.signal(syscall.SIGHUP)
	h.waitLog(5*time.Second, msgIs("config reloaded"))
	want(oldTok, 401)
	want(newTok, 200)

	// A file that holds no token: the reload is rejected with its reason, the new token still works.
	rejected := len(h.logs(msgIs("reload rejected: running config kept")))
	writeTokens("# emptied by mistake\n")
	h.signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the empty token file rejected", func() bool {
		return len(h.logs(msgIs("reload rejected: running config kept"))) > rejected
	})
	if p, _ := h.logs(msgIs("reload rejected: running config kept"))[rejected]["problem"].(string); !strings.Contains(p, "http.admin_token_file") {
		t.Errorf("rejection %q does not name http.admin_token_file", p)
	}
	want(newTok, 200)
	h.signal(syscall.SIGTERM)
	if code := h.exit(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestCheckAdminTokenFile: herald check reports an admin token file that is missing, malformed or
// empty, and one set without an admin listener, each at its key.
func TestCheckAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("ro short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ http, want string }{
		"missing":  {`{listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", admin_token_file: "` + filepath.Join(dir, "nope") + `"}`, "no such file"},
		"bad line": {`{listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", admin_token_file: "` + bad + `"}`, ":1: "},
		"empty":    {`{listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", admin_token_file: "` + empty + `"}`, "no bearer token"},
		"no admin": {`{listen: "127.0.0.1:0", admin_listen: "", admin_token_file: "` + empty + `"}`, "no admin listener"},
	} {
		path := writeFile(t, "data_dir: "+dir+"\nhttp: "+c.http+"\n")
		code, _, stderr := runCmd("check", "-c", path)
		if code != 1 || !strings.Contains(stderr, "http.admin_token_file") || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: check exit %d, stderr %q: want 1 naming http.admin_token_file and %q", name, code, stderr, c.want)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
