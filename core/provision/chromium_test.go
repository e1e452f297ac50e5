package provision_test

import (
	"context"
	"crypto/sha1"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/provision"
	"github.com/herald-ims/herald/core/store"
)

// chromiumPath returns a headless-capable Chromium, or skips (fails with HERALD_REQUIRE_PEERS=1,
// as CI sets: .ci/run installs Debian's chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HERALD_REQUIRE_PEERS") == "1" {
		t.Fatal("chromium (Debian chromium) not installed and HERALD_REQUIRE_PEERS=1")
	}
	t.Skip("chromium not installed (Debian chromium); set HERALD_REQUIRE_PEERS=1 to make this a failure")
	return ""
}

// dumpDOM loads u in headless Chromium and returns the DOM after load (scripts, had they been
// allowed to run, have run by then).
func dumpDOM(t *testing.T, bin, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=2000", "--dump-dom", u)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v", u, err)
	}
	return string(out)
}

// asOperator is a loopback proxy to the admin listener that adds what a logged-in operator's browser
// sends (the session cookie, or a bearer token for the API), since Chromium takes neither on its
// command line.
func asOperator(t *testing.T, admin string, headers ...string) string {
	t.Helper()
	target, _ := url.Parse(admin)
	rp := httputil.NewSingleHostReverseProxy(target)
	inner := rp.Director
	rp.Director = func(r *http.Request) {
		inner(r)
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ":")
			r.Header.Set(k, strings.TrimSpace(v))
		}
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestChromiumOperatorPage: headless Chromium renders the operator page of a subscriber whose caller
// card was uploaded with scripts and event handlers, and the card itself as the page's sandboxed
// iframe loads it; the card's text rendered, and no script ran (each would have set the title or
// replaced the body with PWNED).
func TestChromiumOperatorPage(t *testing.T) {
	bin := chromiumPath(t)
	g := newRig(t, nil)
	s := g.create(t, "sip:alice@home1.net")
	r := g.req(t, "PUT", "/v1/subscribers/alice@home1.net/cards/caller", []byte(scriptCard), authRW, ctHTML, "If-None-Match: *")
	if r.code != 201 {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	c := g.login(t, rwToken)
	base := asOperator(t, g.admin, "Cookie: "+c.Name+"="+c.Value)

	dom := dumpDOM(t, bin, base+"/ui/?id="+url.QueryEscape("sip:alice@home1.net"))
	for _, want := range []string{"<title>Herald operator: alice@home1.net</title>", `<h2 id="subscriber">alice@home1.net</h2>`,
		`<iframe sandbox=""`, `action="/ui/upload"`} {
		if !strings.Contains(dom, want) {
			t.Fatalf("operator page DOM lacks %q:\n%s", want, dom)
		}
	}
	card := dumpDOM(t, bin, base+"/ui/card?"+url.Values{"id": {s.ID}, "kind": {"caller"}}.Encode())
	if scriptRan(card) || strings.Contains(card, "PWNED") {
		t.Fatalf("card DOM (want title Alice, the name, no PWNED):\n%s", card)
	}
	// The API preview, as a browser would show it.
	api := asOperator(t, g.admin, authRO)
	prev := dumpDOM(t, bin, api+"/v1/subscribers/alice@home1.net/cards/caller/preview")
	if scriptRan(prev) || strings.Contains(prev, "PWNED") {
		t.Fatalf("preview DOM:\n%s", prev)
	}
}

// TestChromiumCardSandbox: defence in depth. With a sanitiser that lets everything through, the
// stored card keeps its scripts, yet Chromium runs none of them when the card is served by the
// preview or the operator page's iframe source (the sandbox CSP). The same bytes served without
// that policy do run (the control: this test can see a script run).
func TestChromiumCardSandbox(t *testing.T) {
	bin := chromiumPath(t)
	g := newRig(t, func(o *provision.Options) {
		// A page literal: no constructor (they all sanitise) touches the bytes.
		o.Sanitize = func(name string, body []byte) (*content.Page, []provision.Removed, error) {
			return &content.Page{Name: name, Body: body, Version: fmt.Sprintf("%x", sha1.Sum(body))}, nil, nil
		}
		// The store reads pages back through content.Restore, which refuses a script (the file
		// must not put one on a phone): keep the literal in memory for this test.
		o.Store = &rawPages{Store: o.Store, m: map[string]*content.Page{}}
	})
	g.create(t, "sip:alice@home1.net")
	if r := g.req(t, "PUT", "/v1/subscribers/alice@home1.net/cards/caller", []byte(scriptCard), authRW, ctHTML, "If-None-Match: *"); r.code != 201 {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	raw := g.req(t, "GET", "/v1/subscribers/alice@home1.net/cards/caller", nil, authRO)
	if !strings.Contains(string(raw.body), "<script>") {
		t.Fatal("the pass-through sanitiser removed the script; the test proves nothing")
	}
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(raw.body)
	}))
	defer control.Close()
	if dom := dumpDOM(t, bin, control.URL); !scriptRan(dom) {
		t.Fatalf("control: the script did not run without the policy, so its absence below would prove nothing:\n%s", dom)
	}

	api := asOperator(t, g.admin, authRO)
	c := g.login(t, roToken)
	ui := asOperator(t, g.admin, "Cookie: "+c.Name+"="+c.Value)
	for _, u := range []string{api + "/v1/subscribers/alice@home1.net/cards/caller/preview",
		api + "/v1/subscribers/alice@home1.net/cards/caller", ui + "/ui/card?id=alice%40home1.net&kind=caller"} {
		dom := dumpDOM(t, bin, u)
		if scriptRan(dom) {
			t.Fatalf("%s: a script ran or the card did not render:\n%s", u, dom)
		}
	}
}

// scriptRan reports whether a dumped DOM of scriptCard shows the work of one of its scripts: the
// title set to PWNED, or the body (with its h1) replaced. The card's text must have rendered.
func scriptRan(dom string) bool {
	return !strings.Contains(dom, "<title>Alice</title>") || !strings.Contains(dom, `<h1 id="name">Alice Ångström</h1>`)
}

// rawPages is a store that hands back the very Page literal it was given (TestChromiumCardSandbox).
type rawPages struct {
	store.Store
	mu sync.Mutex
	m  map[string]*content.Page
}

func (s *rawPages) PutPage(ctx context.Context, p *content.Page) (string, error) {
	ref, err := s.Store.PutPage(ctx, p)
	if err == nil {
		s.mu.Lock()
		s.m[ref] = p
		s.mu.Unlock()
	}
	return ref, err
}

func (s *rawPages) GetPage(ctx context.Context, ref string) (*content.Page, error) {
	s.mu.Lock()
	p, ok := s.m[ref]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	return s.Store.GetPage(ctx, ref)
}
