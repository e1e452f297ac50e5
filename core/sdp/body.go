package sdp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Content types and dispositions used in SIP bodies.
const (
	TypeSDP       = "application/sdp"
	TypeMultipart = "multipart/mixed"

	DispSession      = "session"       // RFC 3261 §20.11, default for application/sdp
	DispEarlySession = "early-session" // RFC 3959 §3

	// EarlySessionOptional is the Content-Disposition AddEarlySession gives
	// the early-session part, so that a UA that does not support it ignores
	// the part (RFC 3204 §4.2 handling parameter).
	EarlySessionOptional = "early-session;handling=optional"
)

// DefaultBoundary is the boundary AddEarlySession uses when given none.
const DefaultBoundary = "herald-es"

// maxBoundary is the longest boundary RFC 2046 §5.1.1 allows (1 to 70 characters).
const maxBoundary = 70

// freshBoundary returns boundary when neither body nor early contains its delimiter line, else
// boundary (cut to fit) with a random 16-hex-digit suffix that neither contains; a few tries are
// enough unless the bodies were built to collide, which fails with ErrMultipart. A boundary above
// maxBoundary fails too: peers may refuse it, and the scan of a body for it must stay bounded.
func freshBoundary(boundary string, body, early []byte) (string, error) {
	if len(boundary) > maxBoundary {
		return "", fmt.Errorf("%w: boundary of %d characters (RFC 2046 §5.1.1: at most %d)", ErrMultipart,
			len(boundary), maxBoundary)
	}
	clash := func(b string) bool {
		d := []byte("--" + b)
		return bytes.Contains(body, d) || bytes.Contains(early, d)
	}
	if !clash(boundary) {
		return boundary, nil
	}
	base := boundary[:min(len(boundary), maxBoundary-17)]
	for range 8 {
		b := base + "-" + strconv.FormatUint(rand.Uint64()|1<<63, 16)
		if !clash(b) {
			return b, nil
		}
	}
	return "", fmt.Errorf("%w: the bodies contain every boundary tried", ErrMultipart)
}

// ParseDisposition splits a Content-Disposition value:
// "early-session;handling=optional" gives "early-session" and
// {"handling": "optional"}. The type and parameter names are lower-cased;
// params is nil when there are none.
func ParseDisposition(v string) (typ string, params map[string]string) {
	return parseParams(v)
}

// dispositionType is ParseDisposition's type alone, without building the parameters' map: what the
// body scans of every call ask of each part.
func dispositionType(v string) string {
	t, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// MediaType returns the lower-cased type/subtype of a Content-Type value,
// without parameters.
func MediaType(contentType string) string {
	t, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// SplitBody returns the session SDP (an application/sdp part with
// disposition session or none) and the early-session SDP (RFC 3959) of a SIP
// message body. A plain application/sdp body is the session SDP. An empty
// body with no Content-Type gives two nil slices. Other content types fail
// with ErrContentType; malformed multipart bodies as ParseMultipart. Only
// the first part of each kind counts; nested multiparts are not searched.
//
// The returned slices alias body.
func SplitBody(contentType string, body []byte) (session, early []byte, err error) {
	mt := MediaType(contentType)
	switch {
	case mt == "" && len(body) == 0:
		return nil, nil, nil
	case mt == TypeSDP:
		return body, nil, nil
	case !strings.HasPrefix(mt, "multipart/"):
		return nil, nil, fmt.Errorf("%w: %q", ErrContentType, mt)
	}
	parts, err := ParseMultipart(contentType, body)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range parts {
		if MediaType(p.ContentType) != TypeSDP {
			continue
		}
		switch dispositionType(p.Disposition) {
		case "", DispSession:
			if session == nil {
				session = p.Body
			}
		case DispEarlySession:
			if early == nil {
				early = p.Body
			}
		}
	}
	return session, early, nil
}

func isEarly(p *Part) bool {
	return dispositionType(p.Disposition) == DispEarlySession
}

// StripEarlySession removes every early-session part from a multipart body,
// keeping the other parts, the preamble and the epilogue byte-for-byte. When
// a single application/sdp part remains, it returns that part's
// Content-Type and body as a plain body; when no part remains, it returns
// "" and nil. A body that is not multipart, or has no early-session part,
// is returned unchanged with stripped false.
//
// newBody may alias body.
func StripEarlySession(contentType string, body []byte) (newCT string, newBody []byte, stripped bool, err error) {
	if !strings.HasPrefix(MediaType(contentType), "multipart/") {
		return contentType, body, false, nil
	}
	sc, err := scanMultipart(contentType, body)
	if err != nil {
		return contentType, body, false, err
	}
	var keep []int
	for i := range sc.parts {
		if !isEarly(&sc.parts[i]) {
			keep = append(keep, i)
		}
	}
	switch {
	case len(keep) == len(sc.parts):
		return contentType, body, false, nil
	case len(keep) == 0:
		return "", nil, true, nil
	case len(keep) == 1 && MediaType(sc.parts[keep[0]].ContentType) == TypeSDP:
		p := sc.parts[keep[0]]
		return p.ContentType, p.Body, true, nil
	}
	out := make([]byte, 0, len(body))
	out = append(out, body[:sc.raw[0].lineStart]...) // preamble
	for n, i := range keep {
		r := sc.raw[i]
		if n == 0 {
			out = append(out, body[r.lineStart:r.end]...)
		} else {
			out = append(out, body[r.dStart:r.end]...)
		}
	}
	out = append(out, body[sc.closeStart:]...)
	return contentType, out, true, nil
}

// AddEarlySession adds early as an early-session part (Content-Disposition
// early-session;handling=optional, RFC 3959) to a SIP body.
//
// For a plain application/sdp body it returns multipart/mixed with two
// parts: the body byte-for-byte as the session part (its own Content-Type,
// Content-Disposition: session) and the early part. boundary is used when
// it occurs in neither SDP (else it gets a random suffix, freshBoundary;
// empty means DefaultBoundary; above 70 characters fails with ErrMultipart).
//
// For a multipart body it inserts the early part before the close
// delimiter and keeps every other byte and the existing boundary (boundary
// is then ignored). It fails with ErrHasEarlySession when the body already
// has an early-session part, and with ErrMultipart when early contains the
// existing delimiter.
//
// Any other body (including an empty one) fails with ErrContentType.
// StripEarlySession undoes AddEarlySession exactly.
func AddEarlySession(contentType string, body []byte, early []byte, boundary string) (newCT string, newBody []byte, err error) {
	contentType = strings.TrimSpace(contentType)
	mt := MediaType(contentType)
	switch {
	case len(body) == 0:
		return "", nil, fmt.Errorf("%w: no session body to add an early-session to", ErrContentType)
	case mt == TypeSDP:
		if boundary == "" {
			boundary = DefaultBoundary
		}
		boundary, err = freshBoundary(boundary, body, early)
		if err != nil {
			return "", nil, err
		}
		b := BuildMultipart(boundary, []Part{
			{ContentType: contentType, Disposition: DispSession, Body: body},
			{ContentType: TypeSDP, Disposition: EarlySessionOptional, Body: early},
		})
		return TypeMultipart + ";boundary=" + quoteParam(boundary), b, nil
	case !strings.HasPrefix(mt, "multipart/"):
		return "", nil, fmt.Errorf("%w: %q", ErrContentType, mt)
	}
	sc, err := scanMultipart(contentType, body)
	if err != nil {
		return "", nil, err
	}
	for i := range sc.parts {
		if isEarly(&sc.parts[i]) {
			return "", nil, ErrHasEarlySession
		}
	}
	if bytes.Contains(early, []byte("--"+sc.boundary)) {
		return "", nil, fmt.Errorf("%w: early-session body contains the boundary", ErrMultipart)
	}
	ins := "\r\n--" + sc.boundary + "\r\nContent-Type: " + TypeSDP +
		"\r\nContent-Disposition: " + EarlySessionOptional + "\r\n\r\n"
	out := make([]byte, 0, len(body)+len(ins)+len(early))
	out = append(out, body[:sc.closeStart]...)
	out = append(out, ins...)
	out = append(out, early...)
	out = append(out, body[sc.closeStart:]...)
	return contentType, out, nil
}
