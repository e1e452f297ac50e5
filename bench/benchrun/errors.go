package benchrun

import "errors"

var (
	// ErrNotLoopback is returned for a target address off the loopback network: the suite floods
	// what it targets and must never leave the host.
	ErrNotLoopback = errors.New("benchrun: not a loopback address")
	// ErrPlane is returned for an unknown plane name in Options.Only.
	ErrPlane = errors.New("benchrun: unknown plane")
	// ErrNoResults is returned by Report when the results directory holds no herald-bench/v1 file.
	ErrNoResults = errors.New("benchrun: no results")
	// ErrBudget is recorded for a plane stopped at its time cap.
	ErrBudget = errors.New("benchrun: plane stopped at its time cap")
)
