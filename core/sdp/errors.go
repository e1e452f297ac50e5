package sdp

import "errors"

var (
	// ErrSyntax reports a malformed SDP line, m-line, attribute or file
	// selector. SDP errors name the 1-based line number after the sentinel.
	ErrSyntax = errors.New("sdp: syntax error")

	// ErrTooLarge reports a description over MaxSize bytes, with more than
	// MaxMedia m-lines, or a multipart body with more than MaxParts parts.
	ErrTooLarge = errors.New("sdp: too large")

	// ErrNotMSRP reports that Media.MSRP was called on an m-line that is not
	// m=message with proto TCP/MSRP or TCP/TLS/MSRP.
	ErrNotMSRP = errors.New("sdp: not an msrp media line")

	// ErrNoPath reports an MSRP m-line without an a=path attribute
	// (RFC 4975 §8.2 requires one).
	ErrNoPath = errors.New("sdp: msrp media line has no path")

	// ErrNoBoundary reports a multipart Content-Type without a usable
	// boundary parameter.
	ErrNoBoundary = errors.New("sdp: multipart without boundary")

	// ErrMultipart reports a malformed multipart body: no delimiter, no
	// close delimiter (truncated), or a malformed part header.
	ErrMultipart = errors.New("sdp: malformed multipart body")

	// ErrContentType reports a body whose Content-Type is neither
	// application/sdp nor multipart/mixed where one of them is required.
	ErrContentType = errors.New("sdp: unsupported content type")

	// ErrHasEarlySession reports that AddEarlySession was given a body that
	// already carries an early-session part.
	ErrHasEarlySession = errors.New("sdp: body already has an early-session part")
)
