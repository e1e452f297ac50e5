package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// handler serves one listener: pages, admin endpoints, or both. /healthz answers everywhere.
type handler struct {
	s     *Server
	pages bool
	admin bool
}

// Header values shared by every response: full slice expressions keep cap == len, so a later
// Header.Add copies instead of appending into the shared array.
var (
	hvHTML      = []string{"text/html; charset=utf-8"}[:1:1]
	hvJSON      = []string{"application/json"}[:1:1]
	hvText      = []string{"text/plain; charset=utf-8"}[:1:1]
	hvNosniff   = []string{"nosniff"}[:1:1]
	hvVary      = []string{"Accept-Encoding"}[:1:1]
	hvNoStore   = []string{"no-store"}[:1:1]
	hvNoRanges  = []string{"none"}[:1:1]
	hvNoReferer = []string{"no-referrer"}[:1:1]
	hvAllow     = []string{"GET, HEAD"}[:1:1]
	hvEncoding  = [numCodings][]string{nil, []string{"gzip"}[:1:1], []string{"zstd"}[:1:1]}
	// hvCSP locks third-party HTML down: no scripts, fetches, frames, plugins, forms or <base>;
	// only inline styles and data: images render. frame-ancestors stops clickjacking by framing.
	hvCSP = []string{"default-src 'none'; style-src 'unsafe-inline'; img-src data:; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}[:1:1]
)

// etagSuffix distinguishes the representations' strong validators (RFC 9110 §8.8.3).
var etagSuffix = [numCodings]string{"", "-gzip", "-zstd"}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	rt := h.route(rec, r)
	code := rec.code
	if code == 0 {
		code = http.StatusOK
	}
	h.s.stats.countRequest(rt, code)
}

// route dispatches r and returns its metrics label.
func (h *handler) route(w http.ResponseWriter, r *http.Request) route {
	p := r.URL.Path
	switch {
	case h.pages && strings.HasPrefix(p, h.s.pagePrefix):
		h.s.servePage(w, r, p[len(h.s.pagePrefix):])
		return routePage
	case p == "/healthz":
		if allowGet(w, r) {
			w.Header()["Content-Type"] = hvText
			w.Header()["Cache-Control"] = hvNoStore
			_, _ = w.Write([]byte("ok"))
		}
		return routeHealthz
	case p == "/readyz":
		// Readiness, beside liveness (/healthz): a load balancer or orchestrator stops sending new
		// work while it answers 503, during start-up and a drain.
		if allowGet(w, r) {
			if err := h.s.ready(); err != nil {
				writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			} else {
				w.Header()["Content-Type"] = hvText
				w.Header()["Cache-Control"] = hvNoStore
				_, _ = w.Write([]byte("ready"))
			}
		}
		return routeHealthz
	case h.admin && p == "/varz":
		if h.s.authorized(w, r) && allowGet(w, r) {
			h.s.serveVarz(w)
		}
		return routeVarz
	case h.admin && p == "/metrics":
		switch {
		case !h.s.authorized(w, r):
		case h.s.metrics == nil:
			writeError(w, http.StatusNotFound, "metrics disabled")
		case allowGet(w, r):
			h.s.metrics.ServeHTTP(w, r)
		}
		return routeMetrics
	case h.admin && (p == "/debug/pprof" || strings.HasPrefix(p, "/debug/pprof/")):
		if h.s.authorized(w, r) {
			h.s.adminMux.ServeHTTP(w, r)
		}
		return routePprof
	case h.admin && h.s.opts.API != nil && (p == "/v1" || strings.HasPrefix(p, "/v1/") || p == "/ui" || strings.HasPrefix(p, "/ui/")):
		h.s.opts.API.ServeHTTP(w, r)
		return routeAPI
	}
	writeError(w, http.StatusNotFound, "not found")
	return routeOther
}

// Bearer challenges of the admin endpoints (RFC 6750 §3): without credentials, and with a wrong
// token (§3.1 invalid_token).
var (
	hvChallenge        = []string{`Bearer realm="herald-admin"`}[:1:1]
	hvChallengeInvalid = []string{`Bearer realm="herald-admin", error="invalid_token"`}[:1:1]
)

// authorized applies Options.AdminAuth to an admin endpoint's request: true to serve it, false when
// it has been answered 401 (and counted).
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.AdminAuth == nil {
		return true
	}
	ok, presented := s.opts.AdminAuth(r)
	if ok {
		return true
	}
	s.stats.adminDeny.Add(1)
	if presented {
		w.Header()["Www-Authenticate"] = hvChallengeInvalid
	} else {
		w.Header()["Www-Authenticate"] = hvChallenge
	}
	writeError(w, http.StatusUnauthorized, "a bearer token is required (http.admin_token_file)")
	return false
}

// ready is Options.Ready, nil when there is none.
func (s *Server) ready() error {
	if s.opts.Ready == nil {
		return nil
	}
	return s.opts.Ready()
}

// allowGet answers 405 unless r is GET or HEAD.
func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header()["Allow"] = hvAllow
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

// servePage serves name ("<token>.html", the path after the page prefix).
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, name string) {
	tok, ok := strings.CutSuffix(name, ".html")
	if !ok || !validToken(tok) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if !allowGet(w, r) { // before the lookup: the method never tells whether a token is live
		return
	}
	now := s.now()
	e := s.tokens.get(tok, now)
	if e == nil {
		writeError(w, http.StatusNotFound, "unknown or expired page")
		return
	}
	hdr := w.Header()
	hdr["Vary"] = hvVary
	hdr["X-Content-Type-Options"] = hvNosniff
	hdr["Content-Security-Policy"] = hvCSP
	hdr["Referrer-Policy"] = hvNoReferer

	p := e.page
	bodies := [numCodings][]byte{p.Body, p.Gzip, p.Zstd}
	enc, ok := parseAcceptEncoding(r.Header.Values("Accept-Encoding")).
		choose([numCodings]int{len(p.Body), len(p.Gzip), len(p.Zstd)})
	if !ok {
		writeError(w, http.StatusNotAcceptable, "no acceptable content coding")
		return
	}
	// Browsers may keep the page until the token dies, not after.
	hdr["Cache-Control"] = []string{"private, no-transform, max-age=" + strconv.Itoa(int(e.expires.Sub(now).Seconds()))}
	if e.hdr.etag[enc] != nil {
		hdr["Etag"] = e.hdr.etag[enc]
		if etagMatch(r.Header.Values("If-None-Match"), e.hdr.etag[enc][0]) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	hdr["Content-Type"] = hvHTML
	hdr["Content-Length"] = e.hdr.length[enc]
	hdr["Accept-Ranges"] = hvNoRanges
	if enc != codingIdentity {
		hdr["Content-Encoding"] = hvEncoding[enc]
	}
	w.WriteHeader(http.StatusOK)
	s.stats.pages[enc].Add(1)
	if r.Method != http.MethodHead {
		_, _ = w.Write(bodies[enc]) // a failed write means the client left; nothing to do
	}
}

// serveVarz encodes Options.Varz() (or Stats) as JSON.
func (s *Server) serveVarz(w http.ResponseWriter) {
	var v any
	if s.opts.Varz != nil {
		v = s.opts.Varz()
	} else {
		v = s.Stats()
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Warn("varz encode", "error", err)
		writeError(w, http.StatusInternalServerError, "varz: cannot encode snapshot")
		return
	}
	w.Header()["Content-Type"] = hvJSON
	w.Header()["Cache-Control"] = hvNoStore
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers code with {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg}) // a struct of one string always encodes
	hdr := w.Header()
	hdr["Content-Type"] = hvJSON
	hdr["X-Content-Type-Options"] = hvNosniff
	hdr["Cache-Control"] = hvNoStore
	hdr["Content-Length"] = []string{strconv.Itoa(len(b) + 1)}
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// newPprofMux registers net/http/pprof's handlers on a private mux. (Importing net/http/pprof also
// registers them on http.DefaultServeMux, which Herald never serves.)
func newPprofMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}

// newMetricsHandler serves the registry, or returns nil when there is none.
func (s *Server) newMetricsHandler() http.Handler {
	if s.opts.Registry == nil {
		return nil
	}
	return promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{s},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// slogPrinter adapts promhttp's error log to slog.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) {
	p.s.log.Warn("metrics gather", "error", strings.TrimSpace(fmt.Sprint(v...)))
}

// recorder remembers the status code for the request counter.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (pprof's profile and trace use deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
