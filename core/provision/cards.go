package provision

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/store"
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

// cardSlot returns the card reference the {kind} path value names in sub.
func cardSlot(kind string, sub *store.Subscriber) (*string, *apiError) {
	switch kind {
	case "caller":
		return &sub.CallerCard, nil
	case "callee":
		return &sub.CalleeCard, nil
	}
	return nil, fail(CodeNotFound, "card kind must be caller or callee")
}

// loadCard finds the subscriber and the page of the card the request names, with its reference.
func (a *API) loadCard(r *http.Request) (*content.Page, string, *apiError) {
	sub, e := a.find(r.Context(), r.PathValue("id"))
	if e != nil {
		return nil, "", e
	}
	kind := r.PathValue("kind")
	slot, e := cardSlot(kind, &sub)
	if e != nil {
		return nil, "", e
	}
	if *slot == "" {
		return nil, "", fail(CodeNoCard, "the subscriber has no "+kind+" card")
	}
	pg, err := a.o.Store.GetPage(r.Context(), *slot)
	if err != nil {
		return nil, "", a.storeError(err)
	}
	return pg, *slot, nil
}

func (a *API) getCard(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	pg, ref, e := a.loadCard(r)
	if e != nil {
		return e
	}
	serveCard(w, r, ref, content.ContentTypeHTML, pg.Body, "")
	return nil
}

// preview answers the card exactly as a phone receives it over MSRP (RFC 4975): the bytes and the
// Content-Type that [content.Page.Variant] picks for the terminal's a=accept-types, given as
// repeated or comma-separated accept query values. Without accept, the identity text/html a
// browser can show.
func (a *API) preview(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	pg, ref, e := a.loadCard(r)
	if e != nil {
		return e
	}
	var accept []string
	for _, v := range r.URL.Query()["accept"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				accept = append(accept, t)
			}
		}
	}
	ctype, body := pg.Variant(accept)
	suffix := ""
	if ctype != content.ContentTypeHTML {
		suffix = "-" + strings.TrimPrefix(ctype, "application/")
	}
	serveCard(w, r, ref, ctype, body, suffix)
	return nil
}

// serveCard writes one representation of the card stored as ref with a strong ETag (RFC 9110
// §8.8.3): the one If-Match takes for the card, plus suffix for a compressed representation. It
// answers If-None-Match with 304.
func serveCard(w http.ResponseWriter, r *http.Request, ref, ctype string, body []byte, suffix string) {
	h := w.Header()
	etag := `"` + ref + suffix + `"`
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
	Ref     string    `json:"ref"`     // the stored version's content address
	ETag    string    `json:"etag"`    // the card's new ETag: the quoted ref
	Version string    `json:"version"` // hex SHA-1 of the sanitised bytes
	SHA1    string    `json:"sha1"`    // the same as RFC 5547 §6 a=file-selector writes it
	Bytes   int       `json:"bytes"`
	Href    string    `json:"href"`
	Removed []Removed `json:"removed"` // what the sanitiser took out; [] when nothing
}

// setRef sets the reference field of subscriber id that field selects to val, if check (given
// the field's current value) allows. The write is conditional on the revision read; when it loses to
// a concurrent write it reads again and checks again, at most writeRetries times. created says the
// field was empty.
func (a *API) setRef(ctx context.Context, id string, field func(*store.Subscriber) *string, val string, check func(cur string) *apiError) (store.Subscriber, bool, *apiError) {
	for try := 0; ; try++ {
		sub, e := a.find(ctx, id)
		if e != nil {
			return sub, false, e
		}
		slot := field(&sub)
		if e := check(*slot); e != nil {
			return sub, false, e
		}
		created := *slot == ""
		if *slot == val {
			return sub, created, nil // already there: nothing to write
		}
		*slot = val
		out, err := a.o.Store.Put(ctx, sub, store.Precondition{IfMatch: sub.Revision})
		if errors.Is(err, store.ErrConflict) && try < writeRetries {
			continue
		}
		if err != nil {
			return sub, false, a.storeError(err)
		}
		a.stats.writes.inc("set_ref")
		return out, created, nil
	}
}

// writeRetries bounds the optimistic retries of a card write whose subscriber changed in between
// (another field written by someone else: the card's own precondition is checked again each time).
const writeRetries = 3

func (a *API) putCard(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	if e := needType(r, "text/html"); e != nil {
		return e
	}
	body, e := readBody(w, r, a.o.MaxCardBytes)
	if e != nil {
		return e
	}
	kind := r.PathValue("kind")
	if _, e := cardSlot(kind, &store.Subscriber{}); e != nil {
		return e
	}
	check := func(cur string) *apiError { return preconditions(r, cardETag(cur)) }
	out, created, e := a.storeCard(r.Context(), r.PathValue("id"), kind, body, check)
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

// storeCard sanitises body, stores the page and makes it ref's kind card, if check (given the
// current card reference) allows. The subscriber write is conditional on the revision read.
func (a *API) storeCard(ctx context.Context, ref, kind string, body []byte, check func(cur string) *apiError) (cardOutcome, bool, *apiError) {
	sub, e := a.find(ctx, ref)
	if e != nil {
		return cardOutcome{}, false, e
	}
	slot, _ := cardSlot(kind, &sub)
	if e := check(*slot); e != nil {
		return cardOutcome{}, false, e
	}
	pg, removed, err := a.o.Sanitize(kind+"-card.html", body)
	if err != nil {
		code := CodeInvalidHTML
		if a.o.Classify != nil {
			if c := a.o.Classify(err); c != "" {
				code = c
			}
		}
		a.stats.rejected.inc(string(code))
		return cardOutcome{}, false, fail(code, err.Error())
	}
	if removed == nil {
		removed = []Removed{}
	}
	pref, err := a.o.Store.PutPage(ctx, pg)
	if err != nil {
		return cardOutcome{}, false, a.storeError(err)
	}
	sub, created, e := a.setRef(ctx, sub.ID, func(s *store.Subscriber) *string { p, _ := cardSlot(kind, s); return p }, pref, check)
	if e != nil {
		return cardOutcome{}, false, e
	}
	return cardOutcome{Ref: pref, ETag: cardETag(pref), Version: pg.Version, SHA1: pg.HashSelector(), Bytes: len(pg.Body),
		Href: cardPath(sub.ID, kind), Removed: removed}, created, nil
}

func (a *API) deleteCard(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	kind := r.PathValue("kind")
	if _, e := cardSlot(kind, &store.Subscriber{}); e != nil {
		return e
	}
	field := func(s *store.Subscriber) *string { p, _ := cardSlot(kind, s); return p }
	return a.clearRef(w, r, field, "the subscriber has no "+kind+" card")
}

// clearRef empties the reference field selects (a card or the ringback) under the request's
// preconditions and answers 204.
func (a *API) clearRef(w http.ResponseWriter, r *http.Request, field func(*store.Subscriber) *string, none string) *apiError {
	check := func(cur string) *apiError {
		if cur == "" {
			return fail(CodeNoCard, none)
		}
		return preconditions(r, cardETag(cur))
	}
	if _, _, e := a.setRef(r.Context(), r.PathValue("id"), field, "", check); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
