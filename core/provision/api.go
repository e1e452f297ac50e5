package provision

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/herald-ims/herald/core/store"
)

// API serves the provisioning API under /v1/ and the operator page under /ui/. Create it with [New]
// and mount it on the admin listener; it is safe for concurrent use.
type API struct {
	o      Options
	log    *slog.Logger
	tokens atomic.Pointer[tokens] // replaced whole by SetTokens
	mux    *http.ServeMux         // /v1/ routes: paths only; methods are dispatched by route.serve
	ui     *ui
	stats  *metrics
}

// Writes are optimistic: a handler reads the subscriber, checks the request's If-Match against it and
// writes with store.Precondition{IfMatch: the revision it read}, so the store refuses the write
// atomically if anything wrote the subscriber in between (on any node). Two portals racing for one
// subscriber are ordered by the store; the loser gets 412, never a silent overwrite.

// Route is one path of the API with the methods it answers. Routes lists them; the mux is built
// from this table and a test checks it against openapi.yaml.
type Route struct {
	Pattern string   // net/http.ServeMux pattern without a method
	Methods []string // GET implies HEAD
}

type route struct {
	Route
	a        *API
	handlers map[string]handlerFunc
	write    map[string]bool // methods that need a read-write token
}

// handlerFunc answers one request; a non-nil error is written as the JSON error body.
type handlerFunc func(w http.ResponseWriter, r *http.Request, role role) *apiError

// New validates o and builds the API.
func New(o Options) (*API, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &API{o: o, log: o.Logger.With("component", "core/provision")}
	a.tokens.Store(newTokens(o.ReadWriteTokens, o.ReadOnlyTokens))
	if a.stats, err = newMetrics(a, o.Registry); err != nil {
		return nil, err
	}
	a.mux = http.NewServeMux()
	for _, rt := range a.routes() {
		a.mux.Handle(rt.Pattern, rt)
	}
	a.ui = newUI(a)
	return a, nil
}

// SetTokens replaces the accepted bearer tokens (a configuration reload: tokens are rotated without
// a restart). Requests already authenticated finish; the next ones see the new set. When the set
// changes, every operator page session ends (a session must not outlive the token that opened it).
func (a *API) SetTokens(rw, ro []string) error {
	for _, t := range append(append([]string(nil), rw...), ro...) {
		if err := checkToken(t); err != nil {
			return fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
	}
	next := newTokens(rw, ro)
	if prev := a.tokens.Swap(next); !prev.equal(next) {
		a.ui.endSessions()
	}
	return nil
}

// Routes returns the API's routes (paths and methods), as served.
func Routes() []Route {
	var out []Route
	for _, rt := range (&API{}).routes() {
		out = append(out, rt.Route)
	}
	return out
}

func (a *API) routes() []*route {
	mk := func(pattern string, h map[string]handlerFunc, writes ...string) *route {
		rt := &route{Route: Route{Pattern: pattern}, a: a, handlers: h, write: map[string]bool{}}
		for m := range h {
			rt.Methods = append(rt.Methods, m)
		}
		slices.Sort(rt.Methods)
		for _, m := range writes {
			rt.write[m] = true
		}
		return rt
	}
	return []*route{
		mk("/v1/openapi.yaml", map[string]handlerFunc{http.MethodGet: a.getOpenAPI}),
		mk("/v1/subscribers", map[string]handlerFunc{http.MethodGet: a.list, http.MethodPost: a.create}, http.MethodPost),
		mk("/v1/subscribers/{id}", map[string]handlerFunc{
			http.MethodGet: a.get, http.MethodPut: a.update, http.MethodDelete: a.delete,
		}, http.MethodPut, http.MethodDelete),
		mk("/v1/subscribers/{id}/cards/{kind}", map[string]handlerFunc{
			http.MethodGet: a.getCard, http.MethodPut: a.putCard, http.MethodDelete: a.deleteCard,
		}, http.MethodPut, http.MethodDelete),
		mk("/v1/subscribers/{id}/cards/{kind}/preview", map[string]handlerFunc{http.MethodGet: a.preview}),
		mk("/v1/subscribers/{id}/ringback", map[string]handlerFunc{
			http.MethodGet: a.getRingback, http.MethodPut: a.putRingback, http.MethodDelete: a.deleteRingback,
		}, http.MethodPut, http.MethodDelete),
	}
}

// ServeHTTP serves /v1/... and /ui/...; anything else answers 404 not_found.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p == "/ui" || len(p) >= 4 && p[:4] == "/ui/" {
		a.ui.ServeHTTP(w, r)
		return
	}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		a.writeError(w, fail(CodeNotFound, "no such route: "+r.URL.Path))
		return
	}
	a.mux.ServeHTTP(w, r) // sets the path values the handlers read

}

// ServeHTTP authenticates, checks the method and runs the route's handler. Authentication comes
// first, so that without a token nothing (not even which methods a path takes) is learnt.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := rt.a
	tok, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
		a.writeError(w, fail(CodeUnauthorized, "an Authorization: Bearer token is required"))
		return
	}
	role := a.tokens.Load().check(tok)
	if role == roleNone {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald", error="invalid_token"`)
		a.writeError(w, fail(CodeUnauthorized, "unknown bearer token"))
		return
	}
	m := r.Method
	if m == http.MethodHead {
		m = http.MethodGet
	}
	h := rt.handlers[m]
	if h == nil {
		allow := slices.Clone(rt.Methods)
		if rt.handlers[http.MethodGet] != nil {
			allow = append(allow, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		a.writeError(w, fail(CodeMethodNotAllowed, r.Method+" is not allowed on "+rt.Pattern))
		return
	}
	if rt.write[m] && role != roleWrite {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald", error="insufficient_scope"`)
		a.writeError(w, fail(CodeForbidden, "this token is read-only"))
		return
	}
	if err := h(w, r, role); err != nil {
		a.writeError(w, err)
	}
}

// writeError answers with err's status and {"code": ..., "reason": ...}.
func (a *API) writeError(w http.ResponseWriter, err *apiError) {
	status, ok := codeStatus[err.code]
	if !ok {
		status = http.StatusInternalServerError
	}
	a.stats.errors.inc(string(err.code))
	writeJSON(w, status, errorBody{Code: err.code, Reason: err.reason})
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Code   Code   `json:"code"`
	Reason string `json:"reason"`
}

// writeJSON answers status with v as JSON. v is one of the package's own types, which always encode.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","reason":"cannot encode the response"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// storeError maps a store error to its answer.
func (a *API) storeError(err error) *apiError {
	switch {
	case errors.Is(err, store.ErrIdentityTaken):
		return fail(CodeIdentityTaken, err.Error())
	case errors.Is(err, store.ErrConflict):
		return fail(CodePreconditionFailed, "the subscriber changed meanwhile: "+err.Error())
	case errors.Is(err, store.ErrNotFound):
		return fail(CodeUnknownSubscriber, "the subscriber was deleted meanwhile")
	case errors.Is(err, store.ErrInvalid):
		return fail(CodeInvalidRequest, err.Error())
	case errors.Is(err, store.ErrUnavailable):
		a.log.Warn("store unavailable", "error", err)
		return fail(CodeStoreUnavailable, "the subscriber store cannot be reached: nothing was written; retry later")
	}
	a.log.Error("store", "error", err)
	return fail(CodeInternal, "the store failed; retry later")
}

// subscriberETag is the strong validator of a subscriber (RFC 9110 §8.8.3): its store revision,
// which every write changes and which is never reused, even after a delete.
func subscriberETag(s store.Subscriber) string {
	return `"r` + strconv.FormatUint(s.Revision, 10) + `"`
}

// cardETag is a card's strong validator: its content address in the store ("" for no card).
func cardETag(ref string) string {
	if ref == "" {
		return ""
	}
	return `"` + ref + `"`
}
