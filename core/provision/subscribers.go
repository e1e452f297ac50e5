package provision

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/profile"
)

// MaxIdentities caps the identities of one subscriber.
const MaxIdentities = 16

// subscriberIn is the body of POST /v1/subscribers and PUT /v1/subscribers/{id}.
type subscriberIn struct {
	Identities  []string `json:"identities"`
	PushCapable bool     `json:"push_capable"`
}

// subscriberOut is a subscriber as the API shows it.
type subscriberOut struct {
	Key         string   `json:"key"`
	Identities  []string `json:"identities"`
	PushCapable bool     `json:"push_capable"`
	CallerCard  *cardOut `json:"caller_card"`
	CalleeCard  *cardOut `json:"callee_card"`
	Ringback    string   `json:"ringback"`
	ETag        string   `json:"etag"`
}

// cardOut describes a stored card.
type cardOut struct {
	Version string `json:"version"` // hex SHA-1 of the sanitised bytes: the content address
	SHA1    string `json:"sha1"`    // the same, as RFC 5547 §6 a=file-selector writes it
	Bytes   int    `json:"bytes"`
	Href    string `json:"href"`
}

// listOut is the body of GET /v1/subscribers.
type listOut struct {
	Subscribers []subscriberOut `json:"subscribers"`
	NextCursor  string          `json:"next_cursor"` // "" on the last page
}

func toOut(p *profile.Profile) subscriberOut {
	ids := append([]string{p.Key}, p.Identities...)
	s := subscriberOut{Key: p.Key, Identities: ids, PushCapable: p.PushCapable, Ringback: p.Ringback, ETag: subscriberETag(p)}
	s.CallerCard = toCardOut(p, "caller", p.CallerCard)
	s.CalleeCard = toCardOut(p, "callee", p.CalleeCard)
	return s
}

func toCardOut(p *profile.Profile, kind string, pg *content.Page) *cardOut {
	if pg == nil {
		return nil
	}
	return &cardOut{Version: pg.Version, SHA1: pg.HashSelector(), Bytes: len(pg.Body), Href: cardPath(p.Key, kind)}
}

func subscriberPath(key string) string { return "/v1/subscribers/" + url.PathEscape(key) }

func cardPath(key, kind string) string { return subscriberPath(key) + "/cards/" + kind }

// canonical canonicalises an identity as the SIP plane does (core/profile.Canonical).
func canonical(id string) (string, *apiError) {
	k, err := profile.Canonical(id)
	if err != nil {
		return "", fail(CodeInvalidIdentity, err.Error())
	}
	return k, nil
}

// lookup finds the subscriber named by the {id} path value, by any of its identities.
func (a *API) lookup(r *http.Request) (*profile.Profile, *apiError) {
	key, e := canonical(r.PathValue("id"))
	if e != nil {
		return nil, e
	}
	p, ok := a.o.Store.Lookup(key)
	if !ok {
		return nil, fail(CodeUnknownSubscriber, "no subscriber has the identity "+strconv.Quote(key))
	}
	return p, nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	p, e := a.lookup(r)
	if e != nil {
		return e
	}
	out := toOut(p)
	w.Header().Set("ETag", out.ETag)
	writeJSON(w, http.StatusOK, out)
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
	after := ""
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		k, ok := strings.CutPrefix(string(b), "k:")
		if err != nil || !ok || k == "" {
			return fail(CodeBadCursor, "cursor is not one this server issued")
		}
		after = k
	}
	ps, err := a.o.Store.List(after, limit+1)
	if err != nil {
		a.log.Error("store list", "error", err)
		return fail(CodeInternal, "the store could not list subscribers; retry later")
	}
	out := listOut{Subscribers: make([]subscriberOut, 0, min(len(ps), limit))}
	for i, p := range ps {
		if i == limit {
			out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("k:" + ps[i-1].Key))
			break
		}
		out.Subscribers = append(out.Subscribers, toOut(p))
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
	p := &profile.Profile{Key: ids[0], Identities: ids[1:], PushCapable: in.PushCapable}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	for _, k := range ids {
		if _, taken := a.o.Store.Lookup(k); taken {
			return fail(CodeIdentityTaken, "the identity "+strconv.Quote(k)+" belongs to another subscriber")
		}
	}
	if err := a.o.Store.Put(nil, p); err != nil {
		return a.storeError(err)
	}
	a.stats.writes.WithLabelValues("create").Inc()
	out := toOut(p)
	w.Header().Set("Location", subscriberPath(p.Key))
	w.Header().Set("ETag", out.ETag)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	in, ids, e := a.readSubscriber(w, r)
	if e != nil {
		return e
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	old, e := a.lookup(r)
	if e != nil {
		return e
	}
	if e := preconditions(r, subscriberETag(old)); e != nil {
		return e
	}
	for _, k := range ids {
		if q, taken := a.o.Store.Lookup(k); taken && q != old {
			return fail(CodeIdentityTaken, "the identity "+strconv.Quote(k)+" belongs to another subscriber")
		}
	}
	p := *old
	p.Key, p.Identities, p.PushCapable = ids[0], ids[1:], in.PushCapable
	if subscriberETag(&p) == subscriberETag(old) { // nothing changes: the repeated PUT
		return a.answerSubscriber(w, old)
	}
	if err := a.o.Store.Put(old, &p); err != nil {
		return a.storeError(err)
	}
	a.stats.writes.WithLabelValues("update").Inc()
	return a.answerSubscriber(w, &p)
}

func (a *API) answerSubscriber(w http.ResponseWriter, p *profile.Profile) *apiError {
	out := toOut(p)
	w.Header().Set("ETag", out.ETag)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	old, e := a.lookup(r)
	if e != nil {
		return e
	}
	if e := preconditions(r, subscriberETag(old)); e != nil {
		return e
	}
	if err := a.o.Store.Delete(old); err != nil {
		return a.storeError(err)
	}
	a.stats.writes.WithLabelValues("delete").Inc()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// preconditions enforces the API's rule for writes to an existing resource whose current ETag is
// etag ("" when the resource does not exist): the request must carry If-Match (RFC 9110 §13.1.1),
// or If-None-Match: * to create only (§13.1.2). Without either it answers 428 (RFC 6585 §3), so a
// portal cannot overwrite a change it has not seen; with a validator that does not hold, 412.
// If-Match: * means "whatever is there", an explicit overwrite.
func preconditions(r *http.Request, etag string) *apiError {
	im, inm := r.Header.Values("If-Match"), r.Header.Values("If-None-Match")
	switch {
	case len(im) > 0:
		if etag == "" || !matchList(im, etag) {
			return fail(CodePreconditionFailed, "If-Match does not name the current version (it is "+orNone(etag)+")")
		}
	case len(inm) > 0:
		if !matchList(inm, "*") || strings.TrimSpace(strings.Join(inm, ",")) != "*" {
			return fail(CodeInvalidRequest, "If-None-Match on a write may only be *")
		}
		if etag != "" {
			return fail(CodePreconditionFailed, "If-None-Match: * but the resource exists (version "+etag+")")
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
