package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/config"
)

const apiTestToken = "cmd-test-rw-token-0123456789"

// newAPIRig is a storeRig whose Herald serves the provisioning API with a read-write token.
func newAPIRig(t *testing.T) *storeRig {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	callee, err := uesim.NewCallee(uesim.CalleeOptions{Listen: "127.0.0.1:0", Logger: quiet, RingTime: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { callee.Close() })
	o, err := demoConfig(callee.Addr())
	if err != nil {
		t.Fatal(err)
	}
	o.HTTP.API = config.APIOptions{ReadWriteTokens: []string{apiTestToken}}
	in, err := newInstance(o, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.start(t.Context()); err != nil {
		in.stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { in.stop(context.Background()) })
	caller, err := uesim.NewCaller(uesim.CallerOptions{Listen: "127.0.0.1:0", Logger: quiet, HoldTime: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caller.Close() })
	return &storeRig{in: in, callee: callee, caller: caller}
}

// apiDo sends one request to base+path and returns status, headers and body.
func apiDo(t *testing.T, method, url string, body []byte, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// TestAPIRuntimeUpdateWholeCall: on a running `herald serve` instance, alice's caller card is replaced
// through the provisioning API on the admin listener (HTTP, bearer token, If-Match), with a script in
// it; the next whole call, with no restart, pushes the new card to bob, sanitised: byte-equal to what
// the API's preview answers and without the script. The page listener does not serve the API.
func TestAPIRuntimeUpdateWholeCall(t *testing.T) {
	r := newAPIRig(t)
	admin, page := "http://"+r.in.web.AdminAddr(), "http://"+r.in.web.Addr()
	auth := "Authorization: Bearer " + apiTestToken
	if code, _, _ := apiDo(t, "GET", page+"/v1/subscribers", nil, auth); code != 404 {
		t.Fatalf("page listener /v1/subscribers: %d, want 404", code)
	}
	if code, _, _ := apiDo(t, "GET", admin+"/v1/subscribers", nil); code != 401 {
		t.Fatalf("admin /v1/subscribers without a token: %d, want 401", code)
	}
	before, _ := r.call(t)
	card := admin + "/v1/subscribers/sip:alice@home1.net/cards/caller"
	code, hdr, _ := apiDo(t, "GET", card, nil, auth)
	if code != 200 || hdr.Get("ETag") == "" {
		t.Fatalf("GET alice's card: %d %v", code, hdr)
	}
	html := "<!DOCTYPE html><html><head><title>Alice v2</title></head><body><h1>Alice, provisioned at run time</h1>" +
		"<script>document.title='PWNED'</script><p>" + strings.Repeat("Call me back. ", 300) + "</p></body></html>"
	code, _, body := apiDo(t, "PUT", card, []byte(html), auth, "Content-Type: text/html; charset=utf-8", "If-Match: "+hdr.Get("ETag"))
	if code != 200 {
		t.Fatalf("PUT alice's card: %d %s", code, body)
	}
	var up struct {
		Removed []json.RawMessage `json:"removed"`
	}
	if err := json.Unmarshal(body, &up); err != nil || len(up.Removed) == 0 {
		t.Fatalf("upload answer lists no removal: %s", body)
	}
	_, _, preview := apiDo(t, "GET", card+"/preview", nil, auth)
	got, hash := r.call(t)
	if bytes.Equal(got, before) {
		t.Fatal("the call after the update pushed the old card")
	}
	if !bytes.Equal(got, preview) || hash != selectorOf(preview) {
		t.Fatalf("bob got %d bytes (hash %s), the preview is %d bytes (hash %s)", len(got), hash, len(preview), selectorOf(preview))
	}
	if !bytes.Contains(got, []byte("Alice, provisioned at run time")) || bytes.Contains(got, []byte("<script")) {
		t.Fatalf("pushed card:\n%.400s", got)
	}
}

// TestServeAdminTLS: http.admin_tls_cert/key make `herald serve`'s admin listener HTTPS: the API
// answers there with a token, the page listener keeps serving /healthz and never the API.
func TestServeAdminTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	in := startInstance(t, "admintls.yaml", loopbackYAML(`  admin_tls_cert: "`+certFile+`"
  admin_tls_key: "`+keyFile+`"
  api:
    read_only_tokens: [`+apiTestToken+`]
`))
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} // #nosec G402 -- self-signed test certificate
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	req, _ := http.NewRequest("GET", "https://"+in.web.AdminAddr()+"/v1/subscribers/sip:alice@home1.net", nil)
	req.Header.Set("Authorization", "Bearer "+apiTestToken)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(b, []byte(`"key":"alice@home1.net"`)) {
		t.Fatalf("https admin API: %d %s", res.StatusCode, b)
	}
	if code, _, _ := apiDo(t, "GET", "http://"+in.web.Addr()+"/v1/subscribers", nil, "Authorization: Bearer "+apiTestToken); code != 404 {
		t.Fatalf("page listener /v1: %d", code)
	}
	if code, _, _ := apiDo(t, "GET", "http://"+in.web.Addr()+"/healthz", nil); code != 200 {
		t.Fatalf("page listener /healthz: %d", code)
	}
}

// TestReloadRotatesAPITokens: a reload reads http.api.tokens_file again and swaps the accepted
// tokens at once (the old token gets 401, the new one 200), ending operator page sessions; a tokens
// file that does not parse rejects the reload and the running tokens stay.
func TestReloadRotatesAPITokens(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "api-tokens")
	const oldTok, newTok = "old-rw-token-0123456789", "new-rw-token-0123456789"
	if err := os.WriteFile(tokens, []byte("rw "+oldTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := loopbackYAML(`  api:
    tokens_file: "` + tokens + `"
`)
	path := writeFile(t, src)
	in := startInstance(t, path, src)
	cur, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + in.web.AdminAddr() + "/v1/subscribers/sip:alice@home1.net"
	status := func(tok string) int {
		code, _, _ := apiDo(t, "GET", url, nil, "Authorization: Bearer "+tok)
		return code
	}
	if status(oldTok) != 200 || status(newTok) != 401 {
		t.Fatalf("before the reload: old %d, new %d", status(oldTok), status(newTok))
	}
	if err := os.WriteFile(tokens, []byte("rw "+newTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	next := in.reload(cur, path)
	if next == cur {
		t.Fatal("reload with a rotated tokens file rejected")
	}
	if status(oldTok) != 401 || status(newTok) != 200 {
		t.Fatalf("after the reload: old %d, new %d", status(oldTok), status(newTok))
	}
	if err := os.WriteFile(tokens, []byte("admin "+oldTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := in.reload(next, path); got != next {
		t.Fatal("reload with a bad tokens file applied")
	}
	if status(newTok) != 200 || status(oldTok) != 401 {
		t.Fatalf("after the rejected reload: old %d, new %d", status(oldTok), status(newTok))
	}
}
