package msrp

import (
	"errors"
	"strconv"
)

// Sentinel errors. Callers branch on them with [errors.Is].
var (
	// ErrIncomplete means the buffer holds only a prefix of a frame: read more
	// bytes and call [Parser.Parse] again with the same buffer start. It is the
	// only error after which the stream may continue.
	ErrIncomplete = errors.New("msrp: incomplete frame")
	// ErrMalformed means the bytes are not a valid RFC 4975 frame (answer 400 if
	// the transaction id is known, then close the connection).
	ErrMalformed = errors.New("msrp: malformed frame")
	// ErrHeaderTooLarge means the start line and headers exceed
	// [Limits.MaxHeaderBytes].
	ErrHeaderTooLarge = errors.New("msrp: header too large")
	// ErrBodyTooLarge means a chunk body exceeds [Limits.MaxBodyBytes] (answer 413
	// if the transaction id is known).
	ErrBodyTooLarge = errors.New("msrp: body too large")
	// ErrBadURI means an MSRP URI does not follow RFC 4975 §9.
	ErrBadURI = errors.New("msrp: bad uri")
)

// FrameError is the error [Parser.Parse] returns for a malformed or oversized
// frame. It wraps one of [ErrMalformed], [ErrHeaderTooLarge] or [ErrBodyTooLarge]
// (use [errors.Is]) and carries the transaction id when the start line was parsed,
// so that the server can answer before closing the connection.
type FrameError struct {
	// TID is a copy of the transaction id, nil if the start line was not parsed.
	TID []byte
	// Request reports whether the frame is a request (only requests get answers).
	Request bool
	// Offset is the byte offset in the frame where the problem was detected.
	Offset int
	// Err is the wrapped error (a sentinel plus detail).
	Err error
}

// Error implements error.
func (e *FrameError) Error() string {
	s := e.Err.Error()
	if e.TID != nil {
		s += " (tid " + string(e.TID) + ", offset " + strconv.Itoa(e.Offset) + ")"
	}
	return s
}

// Unwrap returns the wrapped sentinel error.
func (e *FrameError) Unwrap() error { return e.Err }

// StatusCode returns the RFC 4975 §10 response code to answer this error with:
// 413 for an oversized body, 400 otherwise.
func (e *FrameError) StatusCode() int {
	if errors.Is(e.Err, ErrBodyTooLarge) {
		return 413
	}
	return 400
}
