package web

import (
	"io"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestAdminAuth: with Options.AdminAuth, /metrics, /varz and every pprof path answer 401 with an
// RFC 6750 challenge (error="invalid_token" once a token was presented) and are counted, until the
// request carries the right token; /healthz and /readyz stay open; a refusal is on /metrics too.
func TestAdminAuth(t *testing.T) {
	const good = "Bearer right-token-0123456789"
	auth := func(r *http.Request) (bool, bool) {
		h := r.Header.Get("Authorization")
		return h == good, h != ""
	}
	s, _ := testServer(t, Options{AdminListen: "127.0.0.1:0", Registry: prometheus.NewRegistry(), AdminAuth: auth})
	c := client(t)
	get := func(path, authz string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+s.AdminAddr()+path, nil) //nolint:noctx // loopback test
		if err != nil {
			t.Fatal(err)
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	refused := 0
	for _, p := range []string{"/metrics", "/varz", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine"} {
		if code, ch := get(p, ""); code != http.StatusUnauthorized || ch != `Bearer realm="herald-admin"` {
			t.Errorf("%s without a token: %d %q", p, code, ch)
		}
		if code, ch := get(p, "Bearer wrong-token-0123456789"); code != http.StatusUnauthorized ||
			ch != `Bearer realm="herald-admin", error="invalid_token"` {
			t.Errorf("%s with a wrong token: %d %q", p, code, ch)
		}
		if code, ch := get(p, "Basic dXNlcjpwYXNz"); code != http.StatusUnauthorized || ch == "" {
			t.Errorf("%s with Basic credentials: %d %q", p, code, ch)
		}
		refused += 3
		if code, _ := get(p, good); code != http.StatusOK {
			t.Errorf("%s with the token: %d", p, code)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := get(p, ""); code != http.StatusOK {
			t.Errorf("%s without a token: %d, want 200", p, code)
		}
	}
	if got := s.Stats().AdminUnauthorized; got != uint64(refused) {
		t.Errorf("AdminUnauthorized = %d, want %d", got, refused)
	}
	if st := s.Stats(); st.Requests["metrics"]["4xx"] != 3 || st.Requests["pprof"]["4xx"] != 9 {
		t.Errorf("4xx by route: metrics %d pprof %d", st.Requests["metrics"]["4xx"], st.Requests["pprof"]["4xx"])
	}
}
