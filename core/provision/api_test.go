package provision_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.yaml.in/yaml/v3"

	"github.com/herald-ims/herald/core/provision"
)

// TestOpenAPIMatchesRoutes: every route the API serves is in openapi.yaml with exactly its methods,
// and every path of openapi.yaml is served; the documented error codes are exactly the package's.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI    string                          `yaml:"openapi"`
		Paths      map[string]map[string]any       `yaml:"paths"`
		Components map[string]map[string]yaml.Node `yaml:"components"`
	}
	if err := yaml.Unmarshal(provision.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %q, want 3.x", doc.OpenAPI)
	}
	verbs := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true, "trace": true}
	documented := map[string][]string{}
	for path, item := range doc.Paths {
		for k := range item {
			if verbs[k] {
				documented[path] = append(documented[path], strings.ToUpper(k))
			}
		}
		slices.Sort(documented[path])
	}
	served := map[string][]string{}
	for _, r := range provision.Routes() {
		served[r.Pattern] = slices.Sorted(slices.Values(r.Methods))
	}
	for p, m := range served {
		if !slices.Equal(documented[p], m) {
			t.Errorf("route %s serves %v, openapi.yaml documents %v", p, m, documented[p])
		}
	}
	for p, m := range documented {
		if _, ok := served[p]; !ok {
			t.Errorf("openapi.yaml documents %s %v, which is not served", p, m)
		}
	}
	if len(served) < 5 {
		t.Fatalf("only %d routes served", len(served))
	}

	var schema struct {
		Properties struct {
			Code struct {
				Enum []string `yaml:"enum"`
			} `yaml:"code"`
		} `yaml:"properties"`
	}
	n := doc.Components["schemas"]["Error"]
	if err := n.Decode(&schema); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, c := range provision.Codes() {
		codes = append(codes, string(c))
	}
	slices.Sort(codes)
	enum := slices.Sorted(slices.Values(schema.Properties.Code.Enum))
	if !slices.Equal(codes, enum) {
		t.Errorf("error codes %v, openapi.yaml enum %v", codes, enum)
	}

	// The document is served, to any valid token.
	g := newRig(t, nil)
	r := g.req(t, "GET", "/v1/openapi.yaml", nil, authRO)
	if r.code != 200 || !bytes.Equal(r.body, provision.OpenAPI()) {
		t.Fatalf("GET /v1/openapi.yaml: %d, %d bytes", r.code, len(r.body))
	}
}

// TestAPIAuth: no token and unknown tokens get 401 with WWW-Authenticate (RFC 6750 §3), a read-only
// token reads but every write it attempts gets 403, a read-write token writes.
func TestAPIAuth(t *testing.T) {
	g := newRig(t, nil)
	s := g.create(t, "sip:alice@home1.net")
	body := []byte(`{"identities":["sip:bob@home1.net"]}`)
	for _, tc := range []struct {
		name, auth string
	}{
		{"missing", ""},
		{"wrong", "Authorization: Bearer rw-token-0123456789abcdeX"},
		{"basic scheme", "Authorization: Basic " + rwToken},
		{"empty bearer", "Authorization: Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.auth != "" {
				h = append(h, tc.auth)
			}
			r := g.req(t, "GET", "/v1/subscribers", nil, h...)
			wantError(t, r, 401, provision.CodeUnauthorized)
			if !strings.HasPrefix(r.hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", r.hdr.Get("WWW-Authenticate"))
			}
			// Unauthenticated, even a method the route refuses says 401, not 405.
			wantError(t, g.req(t, "PATCH", "/v1/subscribers", nil, h...), 401, provision.CodeUnauthorized)
		})
	}
	if r := g.req(t, "GET", "/v1/subscribers/alice@home1.net", nil, authRO); r.code != 200 {
		t.Fatalf("read-only GET: %d %s", r.code, r.body)
	}
	sub := "/v1/subscribers/" + url.PathEscape("sip:alice@home1.net")
	writes := []struct{ method, path, ct string }{
		{"POST", "/v1/subscribers", ctJSON},
		{"PUT", sub, ctJSON},
		{"DELETE", sub, ""},
		{"PUT", sub + "/cards/caller", ctHTML},
		{"DELETE", sub + "/cards/caller", ""},
		{"PUT", sub + "/ringback", "Content-Type: audio/wav"},
		{"DELETE", sub + "/ringback", ""},
	}
	for _, w := range writes {
		r := g.req(t, w.method, w.path, body, authRO, w.ct, "If-Match: "+s.ETag)
		wantError(t, r, 403, provision.CodeForbidden)
	}
	if _, ok := g.store.lookup("bob@home1.net"); ok {
		t.Fatal("a read-only token created a subscriber")
	}
	if r := g.req(t, "POST", "/v1/subscribers", body, authRW, ctJSON); r.code != 201 {
		t.Fatalf("read-write POST: %d %s", r.code, r.body)
	}
}

// TestAPISubscriberLifecycle: create, read by every form of every identity, update with If-Match
// (repeatable), refuse writes without or with a stale validator, delete.
func TestAPISubscriberLifecycle(t *testing.T) {
	g := newRig(t, nil)
	s := g.create(t, "\"Bob\" <sip:bob@HOME1.net;transport=tcp>", "tel:+1-212-555-2222")
	if s.Key != "bob@home1.net" || !slices.Equal(s.Identities, []string{"bob@home1.net", "+12125552222"}) || !s.PushCapable {
		t.Fatalf("created %+v", s)
	}
	if s.ETag == "" || s.CallerCard != nil || s.CalleeCard != nil {
		t.Fatalf("created %+v", s)
	}
	for _, id := range []string{"sip:bob@home1.net", "bob@home1.net", "tel:+12125552222", "+1 212 555 2222",
		"sip:+1-212-555-2222@ims.home1.net;user=phone", "<sips:bob@home1.net:5061>"} {
		r := g.req(t, "GET", "/v1/subscribers/"+url.PathEscape(id), nil, authRO)
		if r.code != 200 || r.hdr.Get("ETag") != s.ETag {
			t.Fatalf("GET %s: %d %s (ETag %q)", id, r.code, r.body, r.hdr.Get("ETag"))
		}
		if got := decodeInto[subscriber](t, r.body); got.Key != s.Key {
			t.Fatalf("GET %s found %s", id, got.Key)
		}
	}
	path := "/v1/subscribers/bob@home1.net"
	upd := []byte(`{"identities":["sip:bob@home1.net","tel:+12125552222","tel:+12125559999"],"push_capable":false}`)
	wantError(t, g.req(t, "PUT", path, upd, authRW, ctJSON), 428, provision.CodePreconditionRequired)
	wantError(t, g.req(t, "PUT", path, upd, authRW, ctJSON, `If-Match: "s-000000"`), 412, provision.CodePreconditionFailed)
	wantError(t, g.req(t, "PUT", path, upd, authRW, ctJSON, `If-Match: W/`+s.ETag), 412, provision.CodePreconditionFailed)
	r := g.req(t, "PUT", path, upd, authRW, ctJSON, "If-Match: "+s.ETag)
	if r.code != 200 {
		t.Fatalf("PUT: %d %s", r.code, r.body)
	}
	s2 := decodeInto[subscriber](t, r.body)
	if s2.ETag == s.ETag || s2.PushCapable || len(s2.Identities) != 3 || r.hdr.Get("ETag") != s2.ETag {
		t.Fatalf("updated %+v", s2)
	}
	// Idempotent: the same PUT based on the same ETag succeeds again with the same result.
	puts := g.store.writes()
	r = g.req(t, "PUT", path, upd, authRW, ctJSON, "If-Match: "+s.ETag)
	// The first ETag no longer matches, but the state the PUT asks for is the current one... no:
	// RFC 9110 §13.1.1 evaluates If-Match first, so the stale ETag fails and says so.
	wantError(t, r, 412, provision.CodePreconditionFailed)
	r = g.req(t, "PUT", path, upd, authRW, ctJSON, "If-Match: "+s2.ETag)
	if r.code != 200 || r.hdr.Get("ETag") != s2.ETag || g.store.writes() != puts {
		t.Fatalf("repeated PUT: %d %s, ETag %q want %q, %d store writes", r.code, r.body, r.hdr.Get("ETag"), s2.ETag, g.store.writes()-puts)
	}
	if _, ok := g.store.lookup("+12125559999"); !ok {
		t.Fatal("the added identity is not in the store")
	}
	// Another subscriber cannot take bob's identity, by create or update.
	alice := g.create(t, "sip:alice@home1.net")
	wantError(t, g.req(t, "POST", "/v1/subscribers", []byte(`{"identities":["tel:+12125559999"]}`), authRW, ctJSON),
		409, provision.CodeIdentityTaken)
	wantError(t, g.req(t, "PUT", "/v1/subscribers/alice@home1.net", []byte(`{"identities":["alice@home1.net","+12125552222"]}`),
		authRW, ctJSON, "If-Match: "+alice.ETag), 409, provision.CodeIdentityTaken)

	wantError(t, g.req(t, "DELETE", path, nil, authRW), 428, provision.CodePreconditionRequired)
	wantError(t, g.req(t, "DELETE", path, nil, authRW, "If-Match: "+s.ETag), 412, provision.CodePreconditionFailed)
	if r := g.req(t, "DELETE", "/v1/subscribers/+12125559999", nil, authRW, "If-Match: "+s2.ETag); r.code != 204 {
		t.Fatalf("DELETE: %d %s", r.code, r.body)
	}
	for _, id := range []string{"bob@home1.net", "+12125552222", "+12125559999"} {
		if _, ok := g.store.lookup(id); ok {
			t.Fatalf("%s still in the store", id)
		}
	}
	wantError(t, g.req(t, "GET", path, nil, authRO), 404, provision.CodeUnknownSubscriber)
	wantError(t, g.req(t, "DELETE", path, nil, authRW, "If-Match: *"), 404, provision.CodeUnknownSubscriber)
}

// TestAPIConcurrentWriters: two portals PUT the same subscriber with the same If-Match at once;
// exactly one wins, the other gets 412 and the store holds the winner's change.
func TestAPIConcurrentWriters(t *testing.T) {
	g := newRig(t, nil)
	s := g.create(t, "sip:carol@home1.net")
	for round := range 20 {
		cur := decodeInto[subscriber](t, g.req(t, "GET", "/v1/subscribers/carol@home1.net", nil, authRO).body)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := []byte(fmt.Sprintf(`{"identities":["carol@home1.net","+1555%03d%d"]}`, round, i))
				codes[i] = g.req(t, "PUT", "/v1/subscribers/carol@home1.net", b, authRW, ctJSON, "If-Match: "+cur.ETag).code
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if codes[0] != 200 || codes[1] != 412 {
			t.Fatalf("round %d: codes %v, want one 200 and one 412", round, codes)
		}
	}
	_ = s
}

// TestAPIList: cursor paging visits every subscriber once, in ID order; bad paging values are refused.
func TestAPIList(t *testing.T) {
	g := newRig(t, nil)
	var want []string
	for i := range 25 {
		id := "sip:u" + string(rune('a'+i)) + "@home1.net"
		want = append(want, g.create(t, id).Key)
	}
	slices.Sort(want)
	var got, ids []string
	cursor := ""
	pages := 0
	for {
		q := "/v1/subscribers?limit=10"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := g.req(t, "GET", q, nil, authRO)
		if r.code != 200 {
			t.Fatalf("list: %d %s", r.code, r.body)
		}
		var page struct {
			Subscribers []subscriber `json:"subscribers"`
			NextCursor  string       `json:"next_cursor"`
		}
		page = decodeInto[struct {
			Subscribers []subscriber `json:"subscribers"`
			NextCursor  string       `json:"next_cursor"`
		}](t, r.body)
		pages++
		for _, s := range page.Subscribers {
			got = append(got, s.Key)
			if len(ids) > 0 && s.ID <= ids[len(ids)-1] {
				t.Fatalf("ID %s after %s: not in ID order", s.ID, ids[len(ids)-1])
			}
			ids = append(ids, s.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	slices.Sort(got)
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, keys %v, want %v", pages, got, want)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
		wantError(t, g.req(t, "GET", "/v1/subscribers?"+q, nil, authRO), 400, provision.CodeInvalidRequest)
	}
	for _, c := range []string{"!!", "Lmhp", "az0"} {
		wantError(t, g.req(t, "GET", "/v1/subscribers?cursor="+c, nil, authRO), 400, provision.CodeBadCursor)
	}
}

// TestAPIBadRequests: every malformed request gets its stable code.
func TestAPIBadRequests(t *testing.T) {
	g := newRig(t, nil)
	s := g.create(t, "sip:alice@home1.net")
	big := []byte(`{"identities":["` + strings.Repeat("a", 70<<10) + `@home1.net"]}`)
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		headers      []string
		status       int
		code         provision.Code
	}{
		{"bad json", "POST", "/v1/subscribers", `{"identities":["a@b"`, []string{ctJSON}, 400, provision.CodeBadJSON},
		{"not an object", "POST", "/v1/subscribers", `["a@b"]`, []string{ctJSON}, 400, provision.CodeBadJSON},
		{"null", "POST", "/v1/subscribers", `null`, []string{ctJSON}, 400, provision.CodeBadJSON},
		{"trailing data", "POST", "/v1/subscribers", `{"identities":["a@b"]} {}`, []string{ctJSON}, 400, provision.CodeBadJSON},
		{"wrong type", "POST", "/v1/subscribers", `{"identities":"a@b"}`, []string{ctJSON}, 400, provision.CodeBadJSON},
		{"json not utf-8", "POST", "/v1/subscribers", "{\"identities\":[\"a\xff@b\"]}", []string{ctJSON}, 400, provision.CodeBadJSON},
		{"unknown field", "POST", "/v1/subscribers", `{"identities":["a@b"],"admin":true}`, []string{ctJSON}, 400, provision.CodeUnknownField},
		{"no content type", "POST", "/v1/subscribers", `{"identities":["a@b"]}`, nil, 415, provision.CodeUnsupportedMedia},
		{"text/plain", "POST", "/v1/subscribers", `{"identities":["a@b"]}`, []string{"Content-Type: text/plain"}, 415, provision.CodeUnsupportedMedia},
		{"latin-1 json", "POST", "/v1/subscribers", `{"identities":["a@b"]}`, []string{"Content-Type: application/json; charset=iso-8859-1"}, 415, provision.CodeUnsupportedMedia},
		{"oversized json", "POST", "/v1/subscribers", string(big), []string{ctJSON}, 413, provision.CodeBodyTooLarge},
		{"no identities", "POST", "/v1/subscribers", `{"identities":[]}`, []string{ctJSON}, 400, provision.CodeInvalidRequest},
		{"invalid identity", "POST", "/v1/subscribers", `{"identities":["mailto:a@b"]}`, []string{ctJSON}, 400, provision.CodeInvalidIdentity},
		{"invalid number", "POST", "/v1/subscribers", `{"identities":["tel:+1-800-FLOWERS"]}`, []string{ctJSON}, 400, provision.CodeInvalidIdentity},
		{"invalid path identity", "GET", "/v1/subscribers/" + url.PathEscape("http://x"), "", nil, 400, provision.CodeInvalidIdentity},
		{"unknown subscriber", "GET", "/v1/subscribers/nobody@home1.net", "", nil, 404, provision.CodeUnknownSubscriber},
		{"unknown subscriber card", "PUT", "/v1/subscribers/nobody@home1.net/cards/caller", "<html></html>", []string{ctHTML, "If-Match: *"}, 404, provision.CodeUnknownSubscriber},
		{"unknown subscriber preview", "GET", "/v1/subscribers/nobody@home1.net/cards/caller/preview", "", nil, 404, provision.CodeUnknownSubscriber},
		{"no card", "GET", "/v1/subscribers/alice@home1.net/cards/caller", "", nil, 404, provision.CodeNoCard},
		{"no card preview", "GET", "/v1/subscribers/alice@home1.net/cards/callee/preview", "", nil, 404, provision.CodeNoCard},
		{"no card delete", "DELETE", "/v1/subscribers/alice@home1.net/cards/callee", "", []string{"If-Match: *"}, 404, provision.CodeNoCard},
		{"bad card kind", "GET", "/v1/subscribers/alice@home1.net/cards/ringer", "", nil, 404, provision.CodeNotFound},
		{"unknown route", "GET", "/v1/nothing", "", nil, 404, provision.CodeNotFound},
		{"method not allowed", "PATCH", "/v1/subscribers/alice@home1.net", "", nil, 405, provision.CodeMethodNotAllowed},
		{"card wrong content type", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "<html></html>", []string{ctJSON, "If-None-Match: *"}, 415, provision.CodeUnsupportedMedia},
		{"card not utf-8", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "<html><body>caf\xe9</body></html>", []string{ctHTML, "If-None-Match: *"}, 422, provision.CodeInvalidUTF8},
		{"card not html", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "just text", []string{ctHTML, "If-None-Match: *"}, 422, provision.CodeInvalidHTML},
		{"card oversized", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "<html>" + strings.Repeat("x", 65<<10) + "</html>", []string{ctHTML, "If-None-Match: *"}, 413, provision.CodeBodyTooLarge},
		{"card empty", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "", []string{ctHTML, "If-None-Match: *"}, 422, provision.CodeEmptyCard},
		{"card malformed", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "<html><body><p>open <b>bold</p></i></body></html>", []string{ctHTML, "If-None-Match: *"}, 422, provision.CodeInvalidHTML},
		{"card no precondition", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "<html></html>", []string{ctHTML}, 428, provision.CodePreconditionRequired},
		{"card if-match absent card", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "<html></html>", []string{ctHTML, `If-Match: "abc"`}, 412, provision.CodePreconditionFailed},
		{"card if-none-match etag", "PUT", "/v1/subscribers/alice@home1.net/cards/caller", "<html></html>", []string{ctHTML, `If-None-Match: "abc"`}, 400, provision.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := g.req(t, tc.method, tc.path, body, append([]string{authRW}, tc.headers...)...)
			wantError(t, r, tc.status, tc.code)
			if tc.status == 405 && r.hdr.Get("Allow") != "DELETE, GET, PUT, HEAD" {
				t.Errorf("Allow %q", r.hdr.Get("Allow"))
			}
		})
	}
	// None of it changed alice.
	if r := g.req(t, "GET", "/v1/subscribers/alice@home1.net", nil, authRO); r.hdr.Get("ETag") != s.ETag {
		t.Fatalf("alice changed: %s", r.body)
	}
}

// scriptCard is a caller card loaded with active content.
const scriptCard = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Alice</title>
<script>document.title = "PWNED"</script></head>
<body><h1 id="name">Alice Ångström</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" onerror="document.title='PWNED'" alt="logo">
<p onclick="alert(1)">Call me back</p>
<p><a href="javascript:document.title='PWNED'">my site</a></p>
<iframe src="https://tracker.example/pixel"></iframe>
<script>document.body.innerHTML = "PWNED"</script>
</body></html>`

// TestAPICards: a script-laden card is stored sanitised and the answer lists what was removed;
// GET returns the sanitised bytes; preview answers what MSRP would send for the given
// accept-types; If-Match/If-None-Match guard the card; the same upload twice is one version.
func TestAPICards(t *testing.T) {
	g := newRig(t, nil)
	g.create(t, "sip:alice@home1.net", "tel:+12125551111")
	path := "/v1/subscribers/" + url.PathEscape("tel:+1-212-555-1111") + "/cards/caller"
	r := g.req(t, "PUT", path, []byte(scriptCard), authRW, ctHTML, "If-None-Match: *")
	if r.code != 201 {
		t.Fatalf("PUT card: %d %s", r.code, r.body)
	}
	up := decodeInto[card](t, r.body)
	if up.Version == "" || up.ETag != `"`+up.Ref+`"` || r.hdr.Get("ETag") != up.ETag || !strings.HasPrefix(up.SHA1, "sha-1:") {
		t.Fatalf("upload answer %+v", up)
	}
	removed := map[string]int{}
	for _, x := range up.Removed {
		removed[x.Kind+" "+x.Name] = x.Count
	}
	for what, n := range map[string]int{"element script": 2, "attribute onerror": 1, "attribute onclick": 1, "url href": 1, "element iframe": 1} {
		if removed[what] != n {
			t.Errorf("removed %s ×%d, want ×%d (report %+v)", what, removed[what], n, up.Removed)
		}
	}
	r = g.req(t, "GET", path, nil, authRO)
	if r.code != 200 || r.hdr.Get("ETag") != up.ETag || len(r.body) != up.Bytes {
		t.Fatalf("GET card: %d, ETag %q, %d bytes", r.code, r.hdr.Get("ETag"), len(r.body))
	}
	for _, bad := range []string{"<script", "onerror", "onclick", "PWNED", "javascript:", "<iframe", "tracker.example"} {
		if bytes.Contains(r.body, []byte(bad)) {
			t.Fatalf("stored card still holds %q:\n%s", bad, r.body)
		}
	}
	if !bytes.Contains(r.body, []byte("Alice Ångström")) {
		t.Fatalf("stored card lost its content:\n%s", r.body)
	}
	if csp := r.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("card CSP %q", csp)
	}
	stored := r.body
	if r := g.req(t, "GET", path, nil, authRO, "If-None-Match: "+up.ETag); r.code != 304 {
		t.Fatalf("If-None-Match: %d", r.code)
	}

	// Preview: identity by default; zstd for a terminal that takes it, byte-equal once decoded.
	r = g.req(t, "GET", path+"/preview", nil, authRO)
	if r.code != 200 || r.hdr.Get("Content-Type") != "text/html;charset=utf-8" || !bytes.Equal(r.body, stored) {
		t.Fatalf("preview: %d %q", r.code, r.hdr.Get("Content-Type"))
	}
	r = g.req(t, "GET", path+"/preview?accept=text/html,application/zstd&accept=application/gzip", nil, authRO)
	if r.code != 200 || r.hdr.Get("Content-Type") != "application/zstd" {
		t.Fatalf("zstd preview: %d %q", r.code, r.hdr.Get("Content-Type"))
	}
	d, _ := zstd.NewReader(nil)
	defer d.Close()
	if plain, err := d.DecodeAll(r.body, nil); err != nil || !bytes.Equal(plain, stored) {
		t.Fatalf("zstd preview does not decode to the card: %v", err)
	}
	if r.hdr.Get("ETag") == up.ETag {
		t.Fatal("the zstd representation shares the identity ETag")
	}

	// The card is guarded like the subscriber.
	other := []byte("<html><body><p>Other</p></body></html>")
	wantError(t, g.req(t, "PUT", path, other, authRW, ctHTML, "If-None-Match: *"), 412, provision.CodePreconditionFailed)
	wantError(t, g.req(t, "PUT", path, other, authRW, ctHTML, `If-Match: "0000"`), 412, provision.CodePreconditionFailed)
	// Same bytes again: same version, 200, no new write.
	puts := g.store.writes()
	r = g.req(t, "PUT", path, []byte(scriptCard), authRW, ctHTML, "If-Match: "+up.ETag)
	if r.code != 200 || r.hdr.Get("ETag") != up.ETag || g.store.writes() != puts {
		t.Fatalf("repeated upload: %d %s, %d writes", r.code, r.body, g.store.writes()-puts)
	}
	// The subscriber shows the card; its ETag moved with it.
	s := decodeInto[subscriber](t, g.req(t, "GET", "/v1/subscribers/alice@home1.net", nil, authRO).body)
	if s.CallerCard == nil || s.CallerCard.Ref != up.Ref || s.CalleeCard != nil {
		t.Fatalf("subscriber %+v", s)
	}
	r = g.req(t, "PUT", path, other, authRW, ctHTML, "If-Match: *")
	if r.code != 200 {
		t.Fatalf("If-Match * overwrite: %d %s", r.code, r.body)
	}
	v2 := decodeInto[card](t, r.body)
	wantError(t, g.req(t, "DELETE", path, nil, authRW, "If-Match: "+up.ETag), 412, provision.CodePreconditionFailed)
	if r := g.req(t, "DELETE", path, nil, authRW, "If-Match: "+v2.ETag); r.code != 204 {
		t.Fatalf("DELETE card: %d %s", r.code, r.body)
	}
	wantError(t, g.req(t, "GET", path, nil, authRO), 404, provision.CodeNoCard)
}

// TestAdminRoutesAbsentFromPageListener: the page listener answers pages and /healthz only; the API,
// the operator page, metrics, varz and pprof are on the admin listener alone.
func TestAdminRoutesAbsentFromPageListener(t *testing.T) {
	g := newRig(t, nil)
	for _, p := range []string{"/v1/subscribers", "/v1/openapi.yaml", "/ui/", "/ui/login", "/varz", "/debug/pprof/", "/metrics"} {
		r := g.reqTo(t, g.page, "GET", p, nil, authRW)
		if r.code != 404 {
			t.Errorf("page listener %s: %d, want 404", p, r.code)
		}
		if bytes.Contains(r.body, []byte("subscribers")) {
			t.Errorf("page listener %s leaks: %s", p, r.body)
		}
	}
	for _, p := range []string{"/v1/subscribers", "/ui/", "/varz", "/debug/pprof/"} {
		if r := g.req(t, "GET", p, nil, authRW); r.code != 200 {
			t.Errorf("admin listener %s: %d", p, r.code)
		}
	}
	for _, base := range []string{g.page, g.admin} {
		if r := g.reqTo(t, base, "GET", "/healthz", nil); r.code != 200 {
			t.Errorf("%s/healthz: %d", base, r.code)
		}
	}
	var m map[string]any
	_ = json.Unmarshal(g.req(t, "GET", "/varz", nil).body, &m)
	if m == nil {
		t.Error("admin /varz is not JSON")
	}
}

// TestAPIRingback: a clip upload of each kind becomes the subscriber's ringback and is served back
// byte for byte; a clip that does not decode, a wrong type, an oversized body and a stale If-Match
// are refused; DELETE removes it.
func TestAPIRingback(t *testing.T) {
	g := newRig(t, func(o *provision.Options) { o.MaxClipBytes = 1 << 10 })
	g.create(t, "sip:bob@home1.net")
	path := "/v1/subscribers/bob@home1.net/ringback"
	wantError(t, g.req(t, "GET", path, nil, authRO), 404, provision.CodeNoCard)
	awb := append([]byte("#!AMR-WB\n"), bytes.Repeat([]byte{0x04, 1, 2, 3}, 20)...)
	r := g.req(t, "PUT", path, awb, authRW, "Content-Type: audio/AMR-WB", "If-None-Match: *")
	if r.code != 201 {
		t.Fatalf("PUT awb: %d %s", r.code, r.body)
	}
	up := decodeInto[struct {
		Ref   string `json:"ref"`
		ETag  string `json:"etag"`
		Kind  string `json:"kind"`
		Bytes int    `json:"bytes"`
		Href  string `json:"href"`
	}](t, r.body)
	if up.Kind != "awb" || up.Bytes != len(awb) || up.ETag != `"`+up.Ref+`"` {
		t.Fatalf("upload answer %+v", up)
	}
	if sub, _ := g.store.lookup("bob@home1.net"); sub.Ringback != up.Ref {
		t.Fatalf("stored ringback %q, want %q", sub.Ringback, up.Ref)
	}
	r = g.req(t, "GET", path, nil, authRO)
	if r.code != 200 || r.hdr.Get("Content-Type") != "audio/AMR-WB" || !bytes.Equal(r.body, awb) || r.hdr.Get("ETag") != up.ETag {
		t.Fatalf("GET ringback: %d %q %d bytes", r.code, r.hdr.Get("Content-Type"), len(r.body))
	}
	wantError(t, g.req(t, "GET", path+"?kind=wav", nil, authRO), 406, provision.CodeNotAcceptable)
	wav := append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 40)...)
	wantError(t, g.req(t, "PUT", path, wav, authRW, "Content-Type: audio/wav"), 428, provision.CodePreconditionRequired)
	wantError(t, g.req(t, "PUT", path, wav, authRW, "Content-Type: audio/wav", `If-Match: "old"`), 412, provision.CodePreconditionFailed)
	wantError(t, g.req(t, "PUT", path, []byte("RIFFjunk"), authRW, "Content-Type: audio/wav", "If-Match: *"), 422, provision.CodeInvalidClip)
	wantError(t, g.req(t, "PUT", path, wav, authRW, "Content-Type: audio/mpeg", "If-Match: *"), 415, provision.CodeUnsupportedMedia)
	wantError(t, g.req(t, "PUT", path, append(wav, make([]byte, 1<<10)...), authRW, "Content-Type: audio/wav", "If-Match: *"), 413, provision.CodeBodyTooLarge)
	r = g.req(t, "PUT", path, wav, authRW, "Content-Type: audio/x-wav", "If-Match: "+up.ETag)
	if r.code != 200 {
		t.Fatalf("PUT wav: %d %s", r.code, r.body)
	}
	if r := g.req(t, "GET", path, nil, authRO); r.hdr.Get("Content-Type") != "audio/wav" || !bytes.Equal(r.body, wav) {
		t.Fatalf("GET wav: %q", r.hdr.Get("Content-Type"))
	}
	etag := r.hdr.Get("ETag")
	wantError(t, g.req(t, "DELETE", path, nil, authRW), 428, provision.CodePreconditionRequired)
	if r := g.req(t, "DELETE", path, nil, authRW, "If-Match: "+etag); r.code != 204 {
		t.Fatalf("DELETE: %d %s", r.code, r.body)
	}
	wantError(t, g.req(t, "DELETE", path, nil, authRW, "If-Match: *"), 404, provision.CodeNoCard)
	// A built-in clip named in the subscriber is not served as a stored one.
	s := decodeInto[subscriber](t, g.req(t, "GET", "/v1/subscribers/bob@home1.net", nil, authRO).body)
	r = g.req(t, "PUT", "/v1/subscribers/bob@home1.net", []byte(`{"identities":["bob@home1.net"],"ringback":"ringback"}`), authRW, ctJSON, "If-Match: "+s.ETag)
	if r.code != 200 || decodeInto[subscriber](t, r.body).Ringback != "ringback" {
		t.Fatalf("set built-in ringback: %d %s", r.code, r.body)
	}
	wantError(t, g.req(t, "GET", path, nil, authRO), 404, provision.CodeNoCard)
}

// TestAPIStoreUnavailable: when a shared store's backend (Redis) cannot be reached, a write answers
// 503 store_unavailable in the API's JSON error body, and works again once it is back.
func TestAPIStoreUnavailable(t *testing.T) {
	g := newRig(t, nil)
	s := g.create(t, "sip:alice@home1.net")
	g.store.down.Store(true)
	wantError(t, g.req(t, "POST", "/v1/subscribers", []byte(`{"identities":["sip:bob@home1.net"]}`), authRW, ctJSON), 503, provision.CodeStoreUnavailable)
	wantError(t, g.req(t, "DELETE", "/v1/subscribers/alice@home1.net", nil, authRW, "If-Match: "+s.ETag), 503, provision.CodeStoreUnavailable)
	g.store.down.Store(false)
	if r := g.req(t, "DELETE", "/v1/subscribers/alice@home1.net", nil, authRW, "If-Match: "+s.ETag); r.code != 204 {
		t.Fatalf("after the store returned: %d %s", r.code, r.body)
	}
}

// TestAPIStoreFailure: when the store cannot write, every write answers 500 internal (retryable,
// nothing half-done) and reads still work.
func TestAPIStoreFailure(t *testing.T) {
	g := newRig(t, nil)
	s := g.create(t, "sip:alice@home1.net")
	g.store.broken.Store(true)
	wantError(t, g.req(t, "POST", "/v1/subscribers", []byte(`{"identities":["sip:bob@home1.net"]}`), authRW, ctJSON), 500, provision.CodeInternal)
	wantError(t, g.req(t, "PUT", "/v1/subscribers/alice@home1.net", []byte(`{"identities":["sip:alice@home1.net"],"push_capable":false}`),
		authRW, ctJSON, "If-Match: "+s.ETag), 500, provision.CodeInternal)
	wantError(t, g.req(t, "PUT", "/v1/subscribers/alice@home1.net/cards/callee", []byte("<html><body>x</body></html>"),
		authRW, ctHTML, "If-None-Match: *"), 500, provision.CodeInternal)
	wantError(t, g.req(t, "DELETE", "/v1/subscribers/alice@home1.net", nil, authRW, "If-Match: "+s.ETag), 500, provision.CodeInternal)
	r := g.req(t, "GET", "/v1/subscribers/alice@home1.net", nil, authRO)
	if r.code != 200 || r.hdr.Get("ETag") != s.ETag {
		t.Fatalf("read during the failure: %d %s", r.code, r.body)
	}
	g.store.broken.Store(false)
	if r := g.req(t, "DELETE", "/v1/subscribers/alice@home1.net", nil, authRW, "If-Match: "+s.ETag); r.code != 204 {
		t.Fatalf("retry after the failure: %d %s", r.code, r.body)
	}
}
