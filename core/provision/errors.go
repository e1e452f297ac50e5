package provision

import (
	"errors"
	"net/http"
)

// Sentinel errors returned by [New].
var (
	// ErrBadOptions is returned by [New] for unusable options.
	ErrBadOptions = errors.New("provision: bad options")
)

// Code is a stable error code: the "code" member of every error body. Clients branch on it; the
// "reason" beside it is for people and may change.
type Code string

// The error codes, with the HTTP status each is sent with (codeStatus). The list is part of the API
// and is repeated in openapi.yaml (components.schemas.Error.properties.code.enum); a test checks that
// the two agree.
const (
	CodeUnauthorized         Code = "unauthorized"           // 401: no bearer token, or an unknown one
	CodeForbidden            Code = "forbidden"              // 403: a read-only token attempted a write
	CodeNotFound             Code = "not_found"              // 404: no such route
	CodeUnknownSubscriber    Code = "unknown_subscriber"     // 404: no subscriber has this identity
	CodeNoCard               Code = "no_card"                // 404: the subscriber has no such card or clip
	CodeMethodNotAllowed     Code = "method_not_allowed"     // 405: see the Allow header
	CodeNotAcceptable        Code = "not_acceptable"         // 406: no representation the client accepts
	CodeIdentityTaken        Code = "identity_taken"         // 409: an identity belongs to another subscriber
	CodePreconditionFailed   Code = "precondition_failed"    // 412: If-Match or If-None-Match did not hold
	CodeBodyTooLarge         Code = "body_too_large"         // 413: the body exceeds the route's limit
	CodeUnsupportedMedia     Code = "unsupported_media_type" // 415: wrong Content-Type for the route
	CodeBadJSON              Code = "bad_json"               // 400: not one well-formed JSON object
	CodeUnknownField         Code = "unknown_field"          // 400: a member the schema does not define
	CodeInvalidIdentity      Code = "invalid_identity"       // 400: an identity core/profile.Canonical refuses
	CodeInvalidRequest       Code = "invalid_request"        // 400: a well-formed request with a bad value
	CodeBadCursor            Code = "bad_cursor"             // 400: a list cursor this server did not issue
	CodeInvalidUTF8          Code = "invalid_utf8"           // 422: a card that is not UTF-8
	CodeInvalidHTML          Code = "invalid_html"           // 422: a card that is not a well-formed HTML document
	CodeEmptyCard            Code = "empty_card"             // 422: a card with nothing left after sanitising
	CodeInvalidClip          Code = "invalid_clip"           // 422: a ringback clip that cannot be decoded
	CodePreconditionRequired Code = "precondition_required"  // 428: a write without If-Match or If-None-Match
	CodeInternal             Code = "internal"               // 500: the store failed; the request may be retried
	CodeStoreUnavailable     Code = "store_unavailable"      // 503: the shared store (Redis) cannot be reached; retry later
)

// codeStatus maps each code to its HTTP status: the one table of that mapping.
var codeStatus = map[Code]int{
	CodeUnauthorized:         http.StatusUnauthorized,
	CodeForbidden:            http.StatusForbidden,
	CodeNotFound:             http.StatusNotFound,
	CodeUnknownSubscriber:    http.StatusNotFound,
	CodeNoCard:               http.StatusNotFound,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeNotAcceptable:        http.StatusNotAcceptable,
	CodeIdentityTaken:        http.StatusConflict,
	CodePreconditionFailed:   http.StatusPreconditionFailed,
	CodeBodyTooLarge:         http.StatusRequestEntityTooLarge,
	CodeUnsupportedMedia:     http.StatusUnsupportedMediaType,
	CodeBadJSON:              http.StatusBadRequest,
	CodeUnknownField:         http.StatusBadRequest,
	CodeInvalidIdentity:      http.StatusBadRequest,
	CodeInvalidRequest:       http.StatusBadRequest,
	CodeBadCursor:            http.StatusBadRequest,
	CodeInvalidUTF8:          http.StatusUnprocessableEntity,
	CodeInvalidHTML:          http.StatusUnprocessableEntity,
	CodeEmptyCard:            http.StatusUnprocessableEntity,
	CodeInvalidClip:          http.StatusUnprocessableEntity,
	CodePreconditionRequired: http.StatusPreconditionRequired,
	CodeInternal:             http.StatusInternalServerError,
	CodeStoreUnavailable:     http.StatusServiceUnavailable,
}

// apiError is an answer the handlers return instead of writing it themselves.
type apiError struct {
	code   Code
	reason string
}

func (e *apiError) Error() string { return string(e.code) + ": " + e.reason }

func fail(code Code, reason string) *apiError { return &apiError{code: code, reason: reason} }

// Codes returns every error code, in no particular order.
func Codes() []Code {
	out := make([]Code, 0, len(codeStatus))
	for c := range codeStatus {
		out = append(out, c)
	}
	return out
}

// Status returns the HTTP status code c is sent with (500 for an unknown code).
func (c Code) Status() int {
	if s, ok := codeStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}
