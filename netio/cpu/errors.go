package cpu

import "errors"

var (
	// ErrNotAllowed means a CPU is not in the set the process may run on (see Available), or the
	// kernel applied a narrower mask than asked (a cpuset changed since start).
	ErrNotAllowed = errors.New("netio/cpu: cpu not in the allowed set")
	// ErrEmpty means no CPU was given.
	ErrEmpty = errors.New("netio/cpu: empty cpu list")
	// ErrUnsupported means the platform has no sched_setaffinity (the package is Linux only).
	ErrUnsupported = errors.New("netio/cpu: cpu pinning unsupported on this platform")
)
