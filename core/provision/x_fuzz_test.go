package provision_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/herald-ims/herald/core/provision"
)

// FuzzAPIRequest sends arbitrary requests (method, path, headers, body) to the API with a
// read-write token, against the real store: no panic, never a 5xx, and every error is the JSON
// {"code","reason"} with a documented code and its status.
func FuzzAPIRequest(f *testing.F) {
	f.Add(uint8(0), "/v1/subscribers", "application/json", "", `{"identities":["sip:a@b"]}`)
	f.Add(uint8(1), "/v1/subscribers/sip:alice@home1.net", "application/json", "*", `{"identities":["sip:alice@home1.net","tel:+1"]}`)
	f.Add(uint8(1), "/v1/subscribers/alice@home1.net/cards/caller", "text/html", "*", "<html><body><script>x</script></body></html>")
	f.Add(uint8(2), "/v1/subscribers/%2B12125551111/cards/callee/preview?accept=application/zstd", "", "", "")
	f.Add(uint8(3), "/v1/subscribers/alice@home1.net/ringback", "audio/wav", `"r1"`, "RIFF\x00\x00\x00\x00WAVE")
	f.Add(uint8(0), "/v1/subscribers?limit=2&cursor=%ff", "application/json; charset=latin1", "", "{\"identities\":[\"\xff\"]}")
	g := newRig(f, nil)
	h := g.api
	g.createT(f, "sip:alice@home1.net", "tel:+12125551111")
	methods := []string{"POST", "PUT", "GET", "DELETE", "PATCH", "HEAD"}
	codes := map[string]int{}
	for _, c := range provision.Codes() {
		codes[string(c)] = c.Status()
	}
	f.Fuzz(func(t *testing.T, m uint8, path, ctype, ifMatch, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(methods[int(m)%len(methods)], "http://admin"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		req.Header.Set("Authorization", "Bearer "+rwToken)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, path, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && strings.HasPrefix(path, "/v1") {
			var e struct{ Code, Reason string }
			dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
			if err := dec.Decode(&e); err != nil || e.Reason == "" || codes[e.Code] != rec.Code {
				t.Fatalf("%s %s: %d %q is not a documented JSON error", req.Method, path, rec.Code, rec.Body)
			}
		}
	})
}
