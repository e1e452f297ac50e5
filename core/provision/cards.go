package provision

import (
	_ "embed"
	"net/http"
	"strconv"
	"strings"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
)

// openAPI is the API's description, served at /v1/openapi.yaml.
//
//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3 description of the API (shared; do not modify).
func OpenAPI() []byte { return openAPI }

func (a *API) getOpenAPI(w http.ResponseWriter, _ *http.Request, _ role) *apiError {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
	_, _ = w.Write(openAPI)
	return nil
}

// cardCSP is sent with every card the API or the operator page serves: cards are third-party HTML,
// shown to an operator's browser. It is the Call-Info listener's policy plus sandbox, which puts the
// document in a unique origin with scripts, forms and popups disabled even where CSP script rules
// would not reach (CSP Level 3 §6.3.2.1).
const cardCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

// cardKind returns the card the {kind} path value names.
func cardKind(r *http.Request, p *profile.Profile) (kind string, pg **content.Page, e *apiError) {
	switch kind = r.PathValue("kind"); kind {
	case "caller":
		return kind, &p.CallerCard, nil
	case "callee":
		return kind, &p.CalleeCard, nil
	}
	return "", nil, fail(CodeNotFound, "card kind must be caller or callee")
}

func (a *API) getCard(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	p, e := a.lookup(r)
	if e != nil {
		return e
	}
	kind, pg, e := cardKind(r, p)
	if e != nil {
		return e
	}
	if *pg == nil {
		return fail(CodeNoCard, "the subscriber has no "+kind+" card")
	}
	serveCard(w, r, *pg, content.ContentTypeHTML, (*pg).Body, "")
	return nil
}

// preview answers the card exactly as a phone receives it over MSRP (RFC 4975): the bytes and the
// Content-Type that [content.Page.Variant] picks for the terminal's a=accept-types, given as
// repeated or comma-separated accept query values. Without accept, the identity text/html a
// browser can show.
func (a *API) preview(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	p, e := a.lookup(r)
	if e != nil {
		return e
	}
	kind, pg, e := cardKind(r, p)
	if e != nil {
		return e
	}
	if *pg == nil {
		return fail(CodeNoCard, "the subscriber has no "+kind+" card")
	}
	var accept []string
	for _, v := range r.URL.Query()["accept"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				accept = append(accept, t)
			}
		}
	}
	ctype, body := (*pg).Variant(accept)
	suffix := ""
	if ctype != content.ContentTypeHTML {
		suffix = "-" + strings.TrimPrefix(ctype, "application/")
	}
	serveCard(w, r, *pg, ctype, body, suffix)
	return nil
}

// serveCard writes one representation of pg with its strong ETag (RFC 9110 §8.8.3; suffix tells
// representations apart) and answers If-None-Match with 304.
func serveCard(w http.ResponseWriter, r *http.Request, pg *content.Page, ctype string, body []byte, suffix string) {
	h := w.Header()
	etag := `"` + pg.Version + suffix + `"`
	h.Set("ETag", etag)
	h.Set("Content-Security-Policy", cardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 && matchList(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// cardOutcome is the body of a card upload's answer.
type cardOutcome struct {
	cardOut
	Removed []Removed `json:"removed"` // what the sanitiser took out; [] when nothing
	ETag    string    `json:"etag"`    // the card's new ETag
}

func (a *API) putCard(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	if e := needType(r, "text/html"); e != nil {
		return e
	}
	body, e := readBody(w, r, a.o.MaxCardBytes)
	if e != nil {
		return e
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	old, e := a.lookup(r)
	if e != nil {
		return e
	}
	kind, cur, e := cardKind(r, old)
	if e != nil {
		return e
	}
	etag := ""
	if *cur != nil {
		etag = cardETag(*cur)
	}
	if e := preconditions(r, etag); e != nil {
		return e
	}
	out, created, e := a.storeCard(old, kind, body)
	if e != nil {
		return e
	}
	w.Header().Set("ETag", out.ETag)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
	return nil
}

// storeCard sanitises body and stores it as old's kind card. Called with a.wmu held.
func (a *API) storeCard(old *profile.Profile, kind string, body []byte) (cardOutcome, bool, *apiError) {
	pg, removed, err := a.o.Sanitize(old.Key+"-"+kind+".html", body)
	if err != nil {
		code := CodeInvalidHTML
		if a.o.Classify != nil {
			if c := a.o.Classify(err); c != "" {
				code = c
			}
		}
		a.stats.rejected.WithLabelValues(string(code)).Inc()
		return cardOutcome{}, false, fail(code, err.Error())
	}
	if removed == nil {
		removed = []Removed{}
	}
	p := *old
	slot := &p.CallerCard
	if kind == "callee" {
		slot = &p.CalleeCard
	}
	created := *slot == nil
	*slot = pg
	if pageVersion(old.CallerCard) != pageVersion(p.CallerCard) || pageVersion(old.CalleeCard) != pageVersion(p.CalleeCard) {
		if err := a.o.Store.Put(old, &p); err != nil {
			return cardOutcome{}, false, a.storeError(err)
		}
		a.stats.writes.WithLabelValues("card").Inc()
	}
	return cardOutcome{cardOut: *toCardOut(&p, kind, pg), Removed: removed, ETag: cardETag(pg)}, created, nil
}

func (a *API) deleteCard(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	old, e := a.lookup(r)
	if e != nil {
		return e
	}
	kind, cur, e := cardKind(r, old)
	if e != nil {
		return e
	}
	if *cur == nil {
		return fail(CodeNoCard, "the subscriber has no "+kind+" card")
	}
	if e := preconditions(r, cardETag(*cur)); e != nil {
		return e
	}
	p := *old
	if kind == "caller" {
		p.CallerCard = nil
	} else {
		p.CalleeCard = nil
	}
	if err := a.o.Store.Put(old, &p); err != nil {
		return a.storeError(err)
	}
	a.stats.writes.WithLabelValues("card_delete").Inc()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
