package sipp

import "errors"

var (
	// ErrNoTool is returned when a peer program (sipp, kamailio, go) is not installed.
	ErrNoTool = errors.New("sipp: tool not installed")
	// ErrNotReady is returned when a started peer never became reachable.
	ErrNotReady = errors.New("sipp: peer not ready")
	// ErrFailed is returned when a SIPp run exits non-zero (failed calls or regex checks).
	ErrFailed = errors.New("sipp: run failed")
	// ErrStats is returned when a SIPp statistics file cannot be read.
	ErrStats = errors.New("sipp: bad statistics file")
	// ErrProc is returned when a process' CPU time cannot be read from /proc.
	ErrProc = errors.New("sipp: cannot read process cpu time")
)
