package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/store"
)

// MaxIdentities caps the identities of one subscriber.
const MaxIdentities = 16

// subscriberIn is the body of POST /v1/subscribers and PUT /v1/subscribers/{id}.
type subscriberIn struct {
	ID          string   `json:"id"` // POST only: the record's ID; "" lets the store choose
	Identities  []string `json:"identities"`
	PushCapable bool     `json:"push_capable"`
	// Ringback is "" (none), the name of a built-in clip ("ringback") or a clip reference from
	// PUT .../ringback. Nil keeps the current one on PUT.
	Ringback *string `json:"ringback"`
}

// subscriberOut is a subscriber as the API shows it.
type subscriberOut struct {
	ID          string   `json:"id"`
	Key         string   `json:"key"` // the primary canonical identity
	Identities  []string `json:"identities"`
	PushCapable bool     `json:"push_capable"`
	CallerCard  *cardRef `json:"caller_card"`
	CalleeCard  *cardRef `json:"callee_card"`
	Ringback    string   `json:"ringback"`
	Revision    uint64   `json:"revision"`
	ETag        string   `json:"etag"`
}

// cardRef names a stored card version.
type cardRef struct {
	Ref  string `json:"ref"` // the content address in the store; the card's ETag is its quoted form
	Href string `json:"href"`
}

// listOut is the body of GET /v1/subscribers.
type listOut struct {
	Subscribers []subscriberOut `json:"subscribers"`
	NextCursor  string          `json:"next_cursor"` // "" on the last page
}

func toOut(s store.Subscriber) subscriberOut {
	out := subscriberOut{ID: s.ID, Identities: s.Identities, PushCapable: s.PushCapable, Ringback: s.Ringback,
		Revision: s.Revision, ETag: subscriberETag(s)}
	if len(s.Identities) > 0 {
		out.Key = s.Identities[0]
	}
	if s.CallerCard != "" {
		out.CallerCard = &cardRef{Ref: s.CallerCard, Href: cardPath(s.ID, "caller")}
	}
	if s.CalleeCard != "" {
		out.CalleeCard = &cardRef{Ref: s.CalleeCard, Href: cardPath(s.ID, "callee")}
	}
	return out
}

func subscriberPath(id string) string { return "/v1/subscribers/" + url.PathEscape(id) }

func cardPath(id, kind string) string { return subscriberPath(id) + "/cards/" + kind }

// canonical canonicalises an identity as the SIP plane does (core/profile.Canonical).
func canonical(id string) (string, *apiError) {
	k, err := profile.Canonical(id)
	if err != nil {
		return "", fail(CodeInvalidIdentity, err.Error())
	}
	return k, nil
}

// find returns the subscriber that ref names: one of its identities in any form the SIP plane
// accepts (canonicalised with core/profile.Canonical), else its store ID.
func (a *API) find(ctx context.Context, ref string) (store.Subscriber, *apiError) {
	_, cerr := profile.Canonical(ref)
	if cerr == nil {
		sub, err := a.o.Store.Resolve(ctx, ref)
		if err == nil {
			return sub, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return sub, a.storeError(err)
		}
	}
	if store.ValidID(ref) {
		sub, err := a.o.Store.Get(ctx, ref)
		if err == nil {
			return sub, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return sub, a.storeError(err)
		}
	}
	if cerr != nil {
		return store.Subscriber{}, fail(CodeInvalidIdentity, "neither a subscriber ID nor an identity: "+cerr.Error())
	}
	return store.Subscriber{}, fail(CodeUnknownSubscriber, "no subscriber has the identity or ID "+strconv.Quote(ref))
}

func (a *API) get(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	sub, e := a.find(r.Context(), r.PathValue("id"))
	if e != nil {
		return e
	}
	return a.answerSubscriber(w, http.StatusOK, sub)
}

func (a *API) answerSubscriber(w http.ResponseWriter, status int, sub store.Subscriber) *apiError {
	out := toOut(sub)
	w.Header().Set("ETag", out.ETag)
	writeJSON(w, status, out)
	return nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	q := r.URL.Query()
	limit := DefaultPageLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageLimit {
			return fail(CodeInvalidRequest, "limit must be an integer from 1 to "+strconv.Itoa(MaxPageLimit))
		}
		limit = n
	}
	subs, next, err := a.o.Store.List(r.Context(), q.Get("cursor"), limit)
	if errors.Is(err, store.ErrInvalid) {
		return fail(CodeBadCursor, "cursor is not one this server issued")
	}
	if err != nil {
		return a.storeError(err)
	}
	out := listOut{Subscribers: make([]subscriberOut, 0, len(subs)), NextCursor: next}
	for _, s := range subs {
		out.Subscribers = append(out.Subscribers, toOut(s))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// readSubscriber decodes and checks a subscriberIn; it returns the canonical identities.
func (a *API) readSubscriber(w http.ResponseWriter, r *http.Request) (subscriberIn, []string, *apiError) {
	var in subscriberIn
	if e := a.decodeJSON(w, r, &in); e != nil {
		return in, nil, e
	}
	if len(in.Identities) == 0 || len(in.Identities) > MaxIdentities {
		return in, nil, fail(CodeInvalidRequest, "identities must list 1 to "+strconv.Itoa(MaxIdentities)+" identities")
	}
	var ids []string
	for _, id := range in.Identities {
		k, e := canonical(id)
		if e != nil {
			return in, nil, e
		}
		if !contains(ids, k) {
			ids = append(ids, k)
		}
	}
	return in, ids, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (a *API) create(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	in, ids, e := a.readSubscriber(w, r)
	if e != nil {
		return e
	}
	if in.ID != "" && !store.ValidID(in.ID) {
		return fail(CodeInvalidRequest, "id must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'")
	}
	sub := store.Subscriber{ID: in.ID, Identities: ids, PushCapable: in.PushCapable}
	if in.Ringback != nil {
		sub.Ringback = *in.Ringback
	}
	// IfNoneMatch: a POST never replaces a record, even one whose ID the client chose.
	sub, err := a.o.Store.Put(r.Context(), sub, store.Precondition{IfNoneMatch: true})
	if errors.Is(err, store.ErrConflict) {
		return fail(CodeIdentityTaken, "a subscriber with the ID "+strconv.Quote(in.ID)+" exists")
	}
	if err != nil {
		return a.storeError(err)
	}
	a.stats.writes.inc("create")
	w.Header().Set("Location", subscriberPath(sub.ID))
	return a.answerSubscriber(w, http.StatusCreated, sub)
}

func (a *API) update(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	in, ids, e := a.readSubscriber(w, r)
	if e != nil {
		return e
	}
	if in.ID != "" {
		return fail(CodeInvalidRequest, "id cannot be changed; it is the path's subscriber")
	}
	cur, e := a.find(r.Context(), r.PathValue("id"))
	if e != nil {
		return e
	}
	if e := preconditions(r, subscriberETag(cur)); e != nil {
		return e
	}
	next := cur
	next.Identities, next.PushCapable = ids, in.PushCapable
	if in.Ringback != nil {
		next.Ringback = *in.Ringback
	}
	if sameSubscriber(cur, next) { // nothing changes: a repeated PUT answers the state it asked for
		return a.answerSubscriber(w, http.StatusOK, cur)
	}
	sub, err := a.o.Store.Put(r.Context(), next, store.Precondition{IfMatch: cur.Revision})
	if err != nil {
		return a.storeError(err)
	}
	a.stats.writes.inc("update")
	return a.answerSubscriber(w, http.StatusOK, sub)
}

func sameSubscriber(a, b store.Subscriber) bool {
	if len(a.Identities) != len(b.Identities) {
		return false
	}
	for i := range a.Identities {
		if a.Identities[i] != b.Identities[i] {
			return false
		}
	}
	return a.PushCapable == b.PushCapable && a.Ringback == b.Ringback && a.CallerCard == b.CallerCard && a.CalleeCard == b.CalleeCard
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	cur, e := a.find(r.Context(), r.PathValue("id"))
	if e != nil {
		return e
	}
	if e := preconditions(r, subscriberETag(cur)); e != nil {
		return e
	}
	if err := a.o.Store.Delete(r.Context(), cur.ID, store.Precondition{IfMatch: cur.Revision}); err != nil {
		return a.storeError(err)
	}
	a.stats.writes.inc("delete")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// preconditions enforces the API's rule for writes whose target's current ETag is etag ("" when it
// does not exist): the request must carry If-Match (RFC 9110 §13.1.1), or If-None-Match: * to create
// only (§13.1.2). Without either it answers 428 (RFC 6585 §3), so a portal cannot overwrite a change
// it has not seen; with a validator that does not hold, 412. If-Match: * means "whatever is there",
// an explicit overwrite. The store checks the revision read again when it writes.
func preconditions(r *http.Request, etag string) *apiError {
	im, inm := r.Header.Values("If-Match"), r.Header.Values("If-None-Match")
	switch {
	case len(im) > 0:
		if etag == "" || !matchList(im, etag) {
			return fail(CodePreconditionFailed, "If-Match does not name the current version (it is "+orNone(etag)+")")
		}
	case len(inm) > 0:
		if strings.TrimSpace(strings.Join(inm, ",")) != "*" {
			return fail(CodeInvalidRequest, "If-None-Match on a write may only be *")
		}
		if etag != "" {
			return fail(CodePreconditionFailed, "If-None-Match: * but it exists (version "+etag+")")
		}
	default:
		return fail(CodePreconditionRequired, "writes need If-Match with the current ETag (or *), or If-None-Match: * to create")
	}
	return nil
}

func orNone(etag string) string {
	if etag == "" {
		return "absent"
	}
	return etag
}

// matchList reports whether a list of entity-tags (RFC 9110 §8.8.3) names etag under strong
// comparison, or is "*". Weak tags never match strongly.
func matchList(values []string, etag string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || (t == etag && etag != "*") {
				return true
			}
		}
	}
	return false
}

// decodeJSON reads one JSON object of at most MaxJSONBytes into v, refusing unknown members.
func (a *API) decodeJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	if e := needType(r, "application/json"); e != nil {
		return e
	}
	body, e := readBody(w, r, a.o.MaxJSONBytes)
	if e != nil {
		return e
	}
	if !utf8.Valid(body) {
		return fail(CodeBadJSON, "the body is not UTF-8 (RFC 8259 §8.1)")
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fail(CodeBadJSON, "the body must be one JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fail(CodeUnknownField, "unknown member "+f)
		}
		return fail(CodeBadJSON, err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(CodeBadJSON, "data after the JSON object")
	}
	return nil
}

// readBody reads r's body, at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	if r.ContentLength > limit {
		return nil, fail(CodeBodyTooLarge, "the body is "+strconv.FormatInt(r.ContentLength, 10)+" bytes; the limit is "+strconv.FormatInt(limit, 10))
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fail(CodeBodyTooLarge, "the body exceeds the limit of "+strconv.FormatInt(limit, 10)+" bytes")
		}
		return nil, fail(CodeInvalidRequest, "reading the body: "+err.Error())
	}
	return b, nil
}

// needType answers 415 unless r's Content-Type is one of types (parameters aside; a charset, if
// given, must be utf-8).
func needType(r *http.Request, types ...string) *apiError {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		cs, has := params["charset"]
		for _, t := range types {
			if mt == t && (!has || strings.EqualFold(cs, "utf-8")) {
				return nil
			}
		}
	}
	return fail(CodeUnsupportedMedia, "Content-Type "+strconv.Quote(ct)+" is not "+strings.Join(types, " or ")+" (charset utf-8)")
}
