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
		var buf dashBuf
		d := buf.dash(b)
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
	// Each part is read in place: SplitBody runs on the bodies of every call.
	_, _, err = scanMultipart(contentType, body, func(c []byte, _ rawPart) error {
		p, err := viewPart(c)
		if err != nil || !typeIs(p.ctype, TypeSDP) {
			return err
		}
		switch {
		case typeIs(p.disp, "") || typeIs(p.disp, DispSession):
			if session == nil {
				session = p.body
			}
		case typeIs(p.disp, DispEarlySession):
			if early == nil {
				early = p.body
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return session, early, nil
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
	// The parts kept, in order: every one but the early-session parts. A SIP body has two or three,
	// held on the stack.
	var kb [4]keptPart
	keep := kb[:0]
	n, preamble := 0, 0
	_, closeStart, err := scanMultipart(contentType, body, func(c []byte, r rawPart) error {
		p, err := viewPart(c)
		if err != nil {
			return err
		}
		if n == 0 {
			preamble = r.lineStart
		}
		n++
		if !typeIs(p.disp, DispEarlySession) {
			keep = append(keep, keptPart{r: r, ctype: p.ctype, body: p.body})
		}
		return nil
	})
	if err != nil {
		return contentType, body, false, err
	}
	switch {
	case len(keep) == n:
		return contentType, body, false, nil
	case len(keep) == 0:
		return "", nil, true, nil
	case len(keep) == 1 && typeIs(keep[0].ctype, TypeSDP):
		return headerString(keep[0].ctype), keep[0].body, true, nil
	}
	out := make([]byte, 0, len(body))
	out = append(out, body[:preamble]...)
	for i, k := range keep {
		if i == 0 {
			out = append(out, body[k.r.lineStart:k.r.end]...)
		} else {
			out = append(out, body[k.r.dStart:k.r.end]...)
		}
	}
	out = append(out, body[closeStart:]...)
	return contentType, out, true, nil
}

// keptPart is a part StripEarlySession keeps: where it sits, its Content-Type and its body.
type keptPart struct {
	r           rawPart
	ctype, body []byte
}

// headerString returns a header value read in place as a string; the usual "application/sdp" is
// the constant, not a copy.
func headerString(v []byte) string {
	if string(v) == TypeSDP {
		return TypeSDP
	}
	return string(v)
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
	hasEarly := false
	boundary, closeStart, err := scanMultipart(contentType, body, func(c []byte, _ rawPart) error {
		p, err := viewPart(c)
		hasEarly = hasEarly || err == nil && typeIs(p.disp, DispEarlySession)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	if hasEarly {
		return "", nil, ErrHasEarlySession
	}
	var buf dashBuf
	if bytes.Contains(early, buf.dash(boundary)) {
		return "", nil, fmt.Errorf("%w: early-session body contains the boundary", ErrMultipart)
	}
	// The early part's delimiter and headers (head: their length but the boundary's), written where
	// the close delimiter was.
	const head = len("\r\n--\r\nContent-Type: " + TypeSDP + "\r\nContent-Disposition: " + EarlySessionOptional + "\r\n\r\n")
	out := make([]byte, 0, len(body)+head+len(boundary)+len(early))
	out = append(out, body[:closeStart]...)
	out = append(out, "\r\n--"...)
	out = append(out, boundary...)
	out = append(out, "\r\n"...)
	out = header(out, "Content-Type", TypeSDP)
	out = header(out, "Content-Disposition", EarlySessionOptional)
	out = append(out, "\r\n"...)
	out = append(out, early...)
	out = append(out, body[closeStart:]...)
	return contentType, out, nil
}
