package provision

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/herald-ims/herald/core/store"
)

// clipTypes maps the Content-Type of a ringback upload to its source kind.
var clipTypes = map[string]string{
	"audio/wav":         store.KindWAV,
	"audio/x-wav":       store.KindWAV,
	"audio/wave":        store.KindWAV,
	"audio/vnd.wave":    store.KindWAV,
	"audio/amr-wb":      store.KindAWB, // RFC 4867 §10.2
	"video/h264":        store.KindH264,
	"video/h264-annexb": store.KindH264,
}

// kindTypes is the Content-Type a stored source is served with.
var kindTypes = map[string]string{store.KindWAV: "audio/wav", store.KindAWB: "audio/AMR-WB", store.KindH264: "video/H264"}

// clipOutcome is the body of a ringback upload's answer.
type clipOutcome struct {
	Ref   string `json:"ref"`  // the stored clip version: the subscriber's ringback
	ETag  string `json:"etag"` // the ringback's new ETag: the quoted ref
	Kind  string `json:"kind"` // wav, awb or h264
	Bytes int    `json:"bytes"`
	Href  string `json:"href"`
}

func ringbackField(s *store.Subscriber) *string { return &s.Ringback }

func ringbackPath(id string) string { return subscriberPath(id) + "/ringback" }

// getRingback answers the stored source of the subscriber's ringback clip: the one of ?kind=, or the
// first of wav, awb, h264 it has, with its Content-Type.
func (a *API) getRingback(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	sub, e := a.find(r.Context(), r.PathValue("id"))
	if e != nil {
		return e
	}
	if sub.Ringback == "" {
		return fail(CodeNoCard, "the subscriber has no ringback")
	}
	c, err := a.o.Store.GetClip(r.Context(), sub.Ringback)
	if err != nil {
		// Not a stored version: the name of a clip built into the binary.
		return fail(CodeNoCard, "the ringback "+strconv.Quote(sub.Ringback)+" is built in, not a stored clip")
	}
	want := r.URL.Query().Get("kind")
	for _, k := range []string{store.KindWAV, store.KindAWB, store.KindH264} {
		b := c.Parts[k]
		if b == nil || (want != "" && want != k) {
			continue
		}
		h := w.Header()
		h.Set("Content-Type", kindTypes[k])
		h.Set("Content-Length", strconv.Itoa(len(b)))
		h.Set("ETag", cardETag(sub.Ringback))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Disposition", `attachment; filename="ringback.`+k+`"`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		return nil
	}
	return fail(CodeNotAcceptable, "the ringback has no "+strconv.Quote(want)+" source")
}

// putRingback stores an uploaded clip source (checked with Options.CheckClip) as a clip version and
// makes it the subscriber's ringback.
func (a *API) putRingback(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	kind := clipTypes[strings.ToLower(mt)]
	if err != nil || kind == "" {
		return fail(CodeUnsupportedMedia, "Content-Type must be audio/wav, audio/AMR-WB or video/H264")
	}
	body, e := readBody(w, r, a.o.MaxClipBytes)
	if e != nil {
		return e
	}
	check := func(cur string) *apiError { return preconditions(r, cardETag(cur)) }
	sub, e := a.find(r.Context(), r.PathValue("id"))
	if e != nil {
		return e
	}
	if e := check(sub.Ringback); e != nil {
		return e
	}
	if err := a.o.CheckClip(kind, body); err != nil {
		a.stats.rejected.inc(string(CodeInvalidClip))
		return fail(CodeInvalidClip, err.Error())
	}
	ref, err := a.o.Store.PutClip(r.Context(), store.Clip{Name: sub.ID, Parts: map[string][]byte{kind: body}})
	if err != nil {
		return a.storeError(err)
	}
	sub, created, e := a.setRef(r.Context(), sub.ID, ringbackField, ref, check)
	if e != nil {
		return e
	}
	w.Header().Set("ETag", cardETag(ref))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, clipOutcome{Ref: ref, ETag: cardETag(ref), Kind: kind, Bytes: len(body), Href: ringbackPath(sub.ID)})
	return nil
}

func (a *API) deleteRingback(w http.ResponseWriter, r *http.Request, _ role) *apiError {
	return a.clearRef(w, r, ringbackField, "the subscriber has no ringback")
}
