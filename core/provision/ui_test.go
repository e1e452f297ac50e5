package provision_test

import (
	"bytes"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/herald-ims/herald/core/provision"
)

var (
	reCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	reETag = regexp.MustCompile(`name="kind" value="caller">\s*<input type="hidden" name="etag" value="([^"]*)"`)
)

// login posts token to the operator page's login form and returns the session cookie.
func (g *rig) login(t *testing.T, token string) *http.Cookie {
	t.Helper()
	r := g.req(t, "POST", "/ui/login", []byte(url.Values{"token": {token}}.Encode()),
		"Content-Type: application/x-www-form-urlencoded")
	if r.code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	res := http.Response{Header: r.hdr}
	for _, c := range res.Cookies() {
		if c.Name == "herald_ui" {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/" {
				t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui/", c)
			}
			return c
		}
	}
	t.Fatalf("login set no session cookie: %v", r.hdr)
	return nil
}

// uploadForm builds the operator page's multipart upload.
func uploadForm(t *testing.T, fields map[string]string, file string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if file != "" {
		fw, err := mw.CreateFormFile("file", "card.html")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write([]byte(file))
	}
	_ = mw.Close()
	return b.Bytes(), "Content-Type: " + mw.FormDataContentType()
}

// TestOperatorPage drives the operator page over HTTP: login with a token (a bad one refused),
// lookup by any identity, an upload that needs the session's CSRF token and the version the page
// showed, a read-only session that sees but cannot upload, cross-origin posts refused, logout.
func TestOperatorPage(t *testing.T) {
	g := newRig(t, nil)
	s := g.create(t, "sip:alice@home1.net", "tel:+12125551111")

	if r := g.req(t, "GET", "/ui", nil); r.code != http.StatusMovedPermanently || r.hdr.Get("Location") != "/ui/" {
		t.Fatalf("/ui: %d %q", r.code, r.hdr.Get("Location"))
	}
	r := g.req(t, "GET", "/ui/", nil)
	if r.code != 200 || !bytes.Contains(r.body, []byte(`id="login"`)) || bytes.Contains(r.body, []byte("alice")) {
		t.Fatalf("anonymous /ui/: %d %s", r.code, r.body)
	}
	if csp := r.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Fatalf("operator page CSP %q", csp)
	}
	r = g.req(t, "POST", "/ui/login", []byte("token=nope-nope-nope-nope"), "Content-Type: application/x-www-form-urlencoded")
	if r.code != 401 || len(r.hdr.Values("Set-Cookie")) != 0 {
		t.Fatalf("bad token login: %d %v", r.code, r.hdr)
	}
	if r := g.req(t, "GET", "/ui/card?id=alice@home1.net&kind=caller", nil); r.code != 401 {
		t.Fatalf("anonymous card: %d", r.code)
	}

	rw := g.login(t, rwToken)
	cookie := "Cookie: " + rw.Name + "=" + rw.Value
	r = g.req(t, "GET", "/ui/?id="+url.QueryEscape("+1 (212) 555-1111"), nil, cookie)
	if r.code != 200 || !bytes.Contains(r.body, []byte(`<h2 id="subscriber">alice@home1.net</h2>`)) {
		t.Fatalf("lookup: %d %s", r.code, r.body)
	}
	m := reCSRF.FindSubmatch(r.body)
	e := reETag.FindSubmatch(r.body)
	if m == nil || e == nil || len(e[1]) != 0 {
		t.Fatalf("no CSRF token or caller etag in the page:\n%s", r.body)
	}
	csrf := string(m[1])
	fields := map[string]string{"id": s.ID, "kind": "caller", "etag": ""}

	body, ct := uploadForm(t, fields, scriptCard)
	if r := g.req(t, "POST", "/ui/upload", body, ct, cookie); r.code != 403 {
		t.Fatalf("upload without CSRF: %d", r.code)
	}
	fields["csrf"] = csrf
	body, ct = uploadForm(t, fields, scriptCard)
	if r := g.req(t, "POST", "/ui/upload", body, ct, cookie, "Origin: http://evil.example"); r.code != 403 {
		t.Fatalf("cross-origin upload: %d", r.code)
	}
	if r := g.req(t, "POST", "/ui/upload", body, ct); r.code != 403 {
		t.Fatalf("upload without a session: %d", r.code)
	}
	if sub, _ := g.store.lookup("alice@home1.net"); sub.CallerCard != "" {
		t.Fatal("a refused upload stored a card")
	}
	r = g.req(t, "POST", "/ui/upload", body, ct, cookie, "Origin: "+g.admin)
	if r.code != 200 || !bytes.Contains(r.body, []byte(`id="notice"`)) {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	if !bytes.Contains(r.body, []byte("element <code>script</code> (content) ×2")) {
		t.Fatalf("the page does not list the removed scripts:\n%s", r.body)
	}
	sub, _ := g.store.lookup("alice@home1.net")
	if sub.CallerCard == "" || !bytes.Contains(r.body, []byte(`<iframe sandbox="" src="/ui/card?`)) {
		t.Fatalf("card not stored or not shown: %+v\n%s", sub, r.body)
	}
	// The same form again (now stale: it showed no card) is refused.
	if r := g.req(t, "POST", "/ui/upload", body, ct, cookie); r.code != 412 {
		t.Fatalf("stale upload: %d %s", r.code, r.body)
	}
	// The card as the iframe loads it: sanitised, sandboxed.
	r = g.req(t, "GET", "/ui/card?"+url.Values{"id": {"tel:+12125551111"}, "kind": {"caller"}}.Encode(), nil, cookie)
	if r.code != 200 || bytes.Contains(r.body, []byte("<script")) || !strings.HasPrefix(r.hdr.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("card: %d %q %s", r.code, r.hdr.Get("Content-Security-Policy"), r.body)
	}

	ro := g.login(t, roToken)
	roCookie := "Cookie: " + ro.Name + "=" + ro.Value
	r = g.req(t, "GET", "/ui/?id=alice@home1.net", nil, roCookie)
	if r.code != 200 || bytes.Contains(r.body, []byte(`action="/ui/upload"`)) || !bytes.Contains(r.body, []byte("<iframe")) {
		t.Fatalf("read-only page: %d %s", r.code, r.body)
	}
	roCSRF := string(reCSRF.FindSubmatch(r.body)[1])
	fields["csrf"], fields["etag"] = roCSRF, `"`+sub.CallerCard+`"`
	body, ct = uploadForm(t, fields, "<html><body>ro</body></html>")
	if r := g.req(t, "POST", "/ui/upload", body, ct, roCookie); r.code != 403 {
		t.Fatalf("read-only upload: %d", r.code)
	}

	// Unknown identity: a clear message, not a crash.
	r = g.req(t, "GET", "/ui/?id=nobody@home1.net", nil, cookie)
	if r.code != 404 || !bytes.Contains(r.body, []byte(`id="error"`)) {
		t.Fatalf("unknown identity: %d %s", r.code, r.body)
	}
	if r := g.req(t, "POST", "/ui/logout", []byte("csrf="+url.QueryEscape(csrf)), "Content-Type: application/x-www-form-urlencoded", cookie); r.code != 303 {
		t.Fatalf("logout: %d", r.code)
	}
	r = g.req(t, "GET", "/ui/?id=alice@home1.net", nil, cookie)
	if !bytes.Contains(r.body, []byte(`id="login"`)) || bytes.Contains(r.body, []byte(html.EscapeString("alice@home1.net</h2>"))) {
		t.Fatalf("session still alive after logout: %s", r.body)
	}
}

// TestSetTokensEndsSessions: rotating the tokens ends every operator session and refuses the old
// token; setting the same tokens again (a reload that changed other keys) keeps them.
func TestSetTokensEndsSessions(t *testing.T) {
	g := newRig(t, nil)
	g.create(t, "sip:alice@home1.net")
	c := g.login(t, rwToken)
	cookie := "Cookie: " + c.Name + "=" + c.Value
	loggedIn := func() bool {
		r := g.req(t, "GET", "/ui/?id=alice@home1.net", nil, cookie)
		return bytes.Contains(r.body, []byte(`id="subscriber"`))
	}
	if err := g.api.SetTokens([]string{rwToken}, []string{roToken}); err != nil || !loggedIn() {
		t.Fatalf("same tokens: %v, logged in %v", err, loggedIn())
	}
	const fresh = "fresh-rw-token-0123456789"
	if err := g.api.SetTokens([]string{fresh}, nil); err != nil {
		t.Fatal(err)
	}
	if loggedIn() {
		t.Fatal("the session outlived the token rotation")
	}
	wantError(t, g.req(t, "GET", "/v1/subscribers", nil, authRW), 401, provision.CodeUnauthorized)
	if r := g.req(t, "GET", "/v1/subscribers", nil, "Authorization: Bearer "+fresh); r.code != 200 {
		t.Fatalf("new token: %d", r.code)
	}
	if err := g.api.SetTokens([]string{"short"}, nil); err == nil {
		t.Fatal("a short token accepted")
	}
}

// countingBody counts the bytes a handler reads of a request body.
type countingBody struct {
	r io.Reader
	n int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
func (c *countingBody) Close() error { return nil }

// An upload without a session is refused before any of its body is read: parsing it first let
// anyone who reaches the admin listener spend memory and temporary files on forms of three times
// the card limit, 403 only after.
func TestUploadWithoutSessionReadsNothing(t *testing.T) {
	g := newRig(t, nil)
	body, ct := uploadForm(t, map[string]string{"id": "x", "kind": "caller", "etag": ""}, strings.Repeat("<p>x</p>", 4000))
	cb := &countingBody{r: bytes.NewReader(body)}
	r := httptest.NewRequest("POST", "/ui/upload", cb)
	r.Header.Set("Content-Type", strings.TrimPrefix(ct, "Content-Type: "))
	w := httptest.NewRecorder()
	g.api.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || cb.n != 0 {
		t.Fatalf("upload without a session: %d, %d of %d body bytes read; want 403 and none", w.Code, cb.n, len(body))
	}
}
