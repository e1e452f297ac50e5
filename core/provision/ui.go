package provision

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/herald-ims/herald/core/content"
)

// The operator page: server-rendered HTML under /ui/, no JavaScript at all (see the package doc).
//
// Login: the operator pastes a bearer token into the login form (POST /ui/login). A valid token, read-
// only or read-write, opens a session: a random 128-bit id in an HttpOnly, SameSite=Strict cookie
// scoped to /ui/ (Secure when the request came over TLS), held in memory for Options.UISessionTTL.
// The token itself is never stored in the browser. Read-only sessions see cards but no upload form,
// and their uploads are refused with 403.
//
// CSRF: every state-changing form (upload, logout) carries the session's own random CSRF token in a
// hidden field, compared in constant time; the cookie is SameSite=Strict; and a POST whose Origin
// header names another origin is refused, the login form included.
//
// Cards are shown in <iframe sandbox> elements whose source (/ui/card) is served with the sandbox
// Content-Security-Policy of the API's preview; the page itself runs under a CSP with no script source.

//go:embed ui.html
var uiFS embed.FS

var uiTemplate = template.Must(template.ParseFS(uiFS, "ui.html"))

const (
	uiCookie      = "herald_ui"
	uiMaxSessions = 1024
	// uiCSP: the operator page runs no script, frames only its own card URLs and posts only to itself.
	uiCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

type uiSession struct {
	role    role
	csrf    string
	expires time.Time
}

type ui struct {
	a   *API
	now func() time.Time

	mu       sync.Mutex
	sessions map[string]*uiSession
}

func newUI(a *API) *ui { return &ui{a: a, now: time.Now, sessions: make(map[string]*uiSession)} }

// endSessions logs every operator out.
func (u *ui) endSessions() {
	u.mu.Lock()
	clear(u.sessions)
	u.mu.Unlock()
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// session returns r's live session, or nil.
func (u *ui) session(r *http.Request) *uiSession {
	c, err := r.Cookie(uiCookie)
	if err != nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.sessions[c.Value]
	if s == nil || !u.now().Before(s.expires) {
		delete(u.sessions, c.Value)
		return nil
	}
	return s
}

func (u *ui) newSession(rl role) (string, *uiSession) {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	if len(u.sessions) >= uiMaxSessions {
		for id, s := range u.sessions {
			if !now.Before(s.expires) {
				delete(u.sessions, id)
			}
		}
		for id := range u.sessions { // still full: drop an arbitrary one
			if len(u.sessions) < uiMaxSessions {
				break
			}
			delete(u.sessions, id)
		}
	}
	id := randomID()
	s := &uiSession{role: rl, csrf: randomID(), expires: now.Add(u.a.o.UISessionTTL)}
	u.sessions[id] = s
	return id, s
}

// pageData is what ui.html renders.
type pageData struct {
	LoggedIn bool
	CanWrite bool
	CSRF     string
	Query    string
	Error    string
	Notice   string
	Removed  []Removed
	Sub      *subscriberOut
	Cards    []cardView
}

type cardView struct {
	Kind  string
	Label string
	Ref   string // "" for none
	Src   string // the iframe source
	ETag  string // for the upload form's If-Match
}

func (u *ui) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	path := r.URL.Path
	if r.Method == http.MethodPost && !sameOrigin(r) {
		u.render(w, http.StatusForbidden, pageData{Error: "cross-origin form post refused"})
		return
	}
	switch {
	case path == "/ui": // the session cookie is scoped to /ui/
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	case path == "/ui/":
		if !methodIs(w, r, http.MethodGet) {
			return
		}
		u.home(w, r)
	case path == "/ui/login":
		if methodIs(w, r, http.MethodPost) {
			u.login(w, r)
		}
	case path == "/ui/logout":
		if methodIs(w, r, http.MethodPost) {
			u.logout(w, r)
		}
	case path == "/ui/card":
		if methodIs(w, r, http.MethodGet) {
			u.card(w, r)
		}
	case path == "/ui/upload":
		if methodIs(w, r, http.MethodPost) {
			u.upload(w, r)
		}
	default:
		u.render(w, http.StatusNotFound, pageData{Error: "no such page"})
	}
}

func methodIs(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	if m == http.MethodGet {
		m += ", HEAD"
	}
	w.Header().Set("Allow", m)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// sameOrigin reports whether a POST's Origin (RFC 6454 §7), when present, is this server.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	ou, err := url.Parse(o)
	return err == nil && ou.Host == r.Host
}

func (u *ui) render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := uiTemplate.Execute(w, d); err != nil {
		u.a.log.Warn("ui render", "error", err)
	}
}

func (u *ui) home(w http.ResponseWriter, r *http.Request) {
	s := u.session(r)
	if s == nil {
		u.render(w, http.StatusOK, pageData{})
		return
	}
	d := pageData{LoggedIn: true, CanWrite: s.role == roleWrite, CSRF: s.csrf, Query: r.URL.Query().Get("id")}
	status := http.StatusOK
	if d.Query != "" {
		if e := u.fill(r.Context(), &d, d.Query); e != nil {
			d.Error, status = e.reason, codeStatus[e.code]
		}
	}
	u.render(w, status, d)
}

// fill looks id up and adds the subscriber and its cards to d.
func (u *ui) fill(ctx context.Context, d *pageData, id string) *apiError {
	sub, e := u.a.find(ctx, id)
	if e != nil {
		return e
	}
	out := toOut(sub)
	d.Sub = &out
	for _, c := range []struct{ kind, label, ref string }{
		{"caller", "Caller card (shown to the people this subscriber calls)", sub.CallerCard},
		{"callee", "Callee card (shown to the people who call this subscriber)", sub.CalleeCard},
	} {
		v := cardView{Kind: c.kind, Label: c.label, Ref: c.ref}
		if c.ref != "" {
			v.Src = "/ui/card?" + url.Values{"id": {sub.ID}, "kind": {c.kind}, "v": {c.ref}}.Encode()
			v.ETag = cardETag(c.ref)
		}
		d.Cards = append(d.Cards, v)
	}
	return nil
}

func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		u.render(w, http.StatusBadRequest, pageData{Error: "unreadable login form"})
		return
	}
	rl := u.a.tokens.Load().check(strings.TrimSpace(r.PostForm.Get("token")))
	if rl == roleNone {
		u.a.stats.errors.inc(string(CodeUnauthorized))
		u.render(w, http.StatusUnauthorized, pageData{Error: "unknown token"})
		return
	}
	id, _ := u.newSession(rl)
	http.SetCookie(w, &http.Cookie{Name: uiCookie, Value: id, Path: "/ui/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(u.a.o.UISessionTTL.Seconds())})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// checkCSRF returns the session of a state-changing form post whose csrf field matches it.
func (u *ui) checkCSRF(r *http.Request) *uiSession {
	s := u.session(r)
	if s == nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) != 1 {
		return nil
	}
	return s
}

func (u *ui) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil || u.checkCSRF(r) == nil {
		u.render(w, http.StatusForbidden, pageData{Error: "bad or missing CSRF token"})
		return
	}
	if c, err := r.Cookie(uiCookie); err == nil {
		u.mu.Lock()
		delete(u.sessions, c.Value)
		u.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: uiCookie, Value: "", Path: "/ui/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// card serves a stored card for the operator page's sandboxed iframe, as the preview does.
func (u *ui) card(w http.ResponseWriter, r *http.Request) {
	if u.session(r) == nil {
		http.Error(w, "log in first", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	sub, e := u.a.find(r.Context(), q.Get("id"))
	if e != nil {
		http.Error(w, e.reason, codeStatus[e.code])
		return
	}
	ref := sub.CallerCard
	if q.Get("kind") == "callee" {
		ref = sub.CalleeCard
	}
	if ref == "" {
		http.Error(w, "no card", http.StatusNotFound)
		return
	}
	pg, err := u.a.o.Store.GetPage(r.Context(), ref)
	if err != nil {
		e := u.a.storeError(err)
		http.Error(w, e.reason, codeStatus[e.code])
		return
	}
	serveCard(w, r, ref, content.ContentTypeHTML, pg.Body, "")
}

func (u *ui) upload(w http.ResponseWriter, r *http.Request) {
	// No session, nothing read: the body (up to three times the card limit, spilling to temporary
	// files when multipart) is parsed only for a logged-in operator; the CSRF token is checked after.
	if u.session(r) == nil {
		u.render(w, http.StatusForbidden, pageData{Error: "bad or missing CSRF token"})
		return
	}
	// The form is multipart (a file) or urlencoded (a textarea); either way at most the card limit
	// plus room for the other fields and the encoding.
	r.Body = http.MaxBytesReader(w, r.Body, 3*u.a.o.MaxCardBytes+64<<10)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(u.a.o.MaxCardBytes + 64<<10)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		u.render(w, http.StatusRequestEntityTooLarge, pageData{Error: "unreadable or oversized upload form: " + err.Error()})
		return
	}
	s := u.checkCSRF(r)
	if s == nil {
		u.render(w, http.StatusForbidden, pageData{Error: "bad or missing CSRF token"})
		return
	}
	d := pageData{LoggedIn: true, CanWrite: s.role == roleWrite, CSRF: s.csrf, Query: r.PostForm.Get("id")}
	if s.role != roleWrite {
		u.a.stats.errors.inc(string(CodeForbidden))
		d.Error = "this session's token is read-only"
		u.render(w, http.StatusForbidden, d)
		return
	}
	body := []byte(r.PostForm.Get("html"))
	if r.MultipartForm != nil {
		if fh := r.MultipartForm.File["file"]; len(fh) == 1 && fh[0].Size > 0 {
			f, err := fh[0].Open()
			if err == nil {
				body, err = io.ReadAll(io.LimitReader(f, u.a.o.MaxCardBytes+1))
				_ = f.Close()
			}
			if err != nil {
				d.Error = "cannot read the uploaded file"
				u.render(w, http.StatusBadRequest, d)
				return
			}
		}
	}
	status, e := u.store(r.Context(), &d, r.PostForm.Get("kind"), r.PostForm.Get("etag"), body)
	if e != nil {
		d.Error = e.reason
		status = codeStatus[e.code]
		u.a.stats.errors.inc(string(e.code))
	}
	if d.Query != "" && d.Sub == nil {
		_ = u.fill(r.Context(), &d, d.Query)
	}
	u.render(w, status, d)
}

// store stores body as the kind card of the subscriber d.Query names, if its current card is still
// the version the form showed (etag, "" for none).
func (u *ui) store(ctx context.Context, d *pageData, kind, etag string, body []byte) (int, *apiError) {
	if kind != "caller" && kind != "callee" {
		return 0, fail(CodeInvalidRequest, "card kind must be caller or callee")
	}
	if int64(len(body)) > u.a.o.MaxCardBytes {
		return 0, fail(CodeBodyTooLarge, "the card exceeds the size limit")
	}
	check := func(cur string) *apiError {
		if cardETag(cur) != etag {
			return fail(CodePreconditionFailed, "the card changed since this page was loaded; reload and retry")
		}
		return nil
	}
	out, _, e := u.a.storeCard(ctx, d.Query, kind, body, check)
	if e != nil {
		return 0, e
	}
	d.Notice = "stored " + kind + " card version " + out.Version
	d.Removed = out.Removed
	if e := u.fill(ctx, d, d.Query); e != nil {
		return codeStatus[e.code], e
	}
	return http.StatusOK, nil
}
