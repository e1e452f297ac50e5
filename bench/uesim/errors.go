package uesim

import "errors"

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrClosed means the simulator was closed.
	ErrClosed = errors.New("uesim: closed")
	// ErrTimeout means an expected message (PRACK, ACK, final response, MSRP frame) did not arrive in time.
	ErrTimeout = errors.New("uesim: timeout")
	// ErrCallFailed means the INVITE got a final non-2xx response.
	ErrCallFailed = errors.New("uesim: call failed")
	// ErrProtocol means the peer sent something the simulator cannot follow (bad SDP, unexpected MSRP frame).
	ErrProtocol = errors.New("uesim: protocol error")
	// ErrPageSize means the fetched page does not have the size announced in the file-selector.
	ErrPageSize = errors.New("uesim: page size mismatch")
	// ErrPageHash means the fetched page does not have the SHA-1 announced in the file-selector.
	ErrPageHash = errors.New("uesim: page hash mismatch")
	// ErrAborted means the sender aborted the MSRP message (end-line flag '#').
	ErrAborted = errors.New("uesim: transfer aborted")
	// ErrMSRPStatus means an MSRP transaction got a non-200 response.
	ErrMSRPStatus = errors.New("uesim: msrp error response")
)
