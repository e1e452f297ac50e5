//go:build !linux

package cpu

// Pinning needs sched_setaffinity(2); on other platforms every call fails with ErrUnsupported.

var startErr = ErrUnsupported

// Available returns nil: no CPU can be pinned on this platform.
func Available() []int { return nil }

// Pin returns ErrUnsupported.
func Pin([]int) (func() error, error) { return nil, ErrUnsupported }

// Affinity returns ErrUnsupported.
func Affinity(int) ([]int, error) { return nil, ErrUnsupported }

// Tid returns 0.
func Tid() int { return 0 }
