package msrpbench

import "errors"

var (
	// ErrMismatch is returned by the load generator when a page arrived with bytes, ranges or framing
	// other than the page expected.
	ErrMismatch = errors.New("msrpbench: page mismatch")
	// ErrProtocol is returned by the load generator when the server answered or framed something the
	// protocol does not allow (a non-200 to the acquisition request, an unexpected frame).
	ErrProtocol = errors.New("msrpbench: protocol error")
	// ErrChild is returned when the server child process misbehaves on its control channel.
	ErrChild = errors.New("msrpbench: server child")
	// ErrClosed is returned by Baseline operations after Stop.
	ErrClosed = errors.New("msrpbench: baseline stopped")

	errFailureReport = errors.New("failure report")
	errTransferTO    = errors.New("transfer timeout")
	errDisconnected  = errors.New("terminal disconnected")
	errAborted       = errors.New("session closed")
)
