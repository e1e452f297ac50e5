//go:build linux

package cpu

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// startSet is the main thread's mask during package initialisation, when the runtime keeps the main
// goroutine locked to the main thread and nothing has pinned anything yet.
var startSet, startErr = affinity(0)

// maxCPU is the number of CPU ids a unix.CPUSet holds.
const maxCPU = len(unix.CPUSet{}) * 64

// Available returns the CPUs the process may run on, sorted (its affinity mask at start). It is
// empty only if sched_getaffinity failed.
func Available() []int { return slices.Clone(startSet) }

// Pin sets the calling thread's affinity to exactly cpus and returns a function that puts back the
// mask the thread had before. The calling goroutine must be locked to its thread
// (runtime.LockOSThread) for as long as the pin should hold, and must call restore before unlocking
// (or exit locked). CPUs outside Available give ErrNotAllowed and change nothing.
func Pin(cpus []int) (restore func() error, err error) {
	if err := Check(cpus); err != nil {
		return nil, err
	}
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("netio/cpu: sched_getaffinity: %w", err)
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("netio/cpu: sched_setaffinity %s: %w", Format(cpus), err)
	}
	restore = func() error {
		if err := unix.SchedSetaffinity(0, &old); err != nil {
			return fmt.Errorf("netio/cpu: restore affinity: %w", err)
		}
		return nil
	}
	// The kernel silently intersects the mask with the thread's cpuset: make sure we got all of it.
	var got unix.CPUSet
	if err := unix.SchedGetaffinity(0, &got); err != nil || got != set {
		_ = restore()
		if err != nil {
			return nil, fmt.Errorf("netio/cpu: sched_getaffinity: %w", err)
		}
		return nil, fmt.Errorf("%w: asked %s, kernel applied %s", ErrNotAllowed, Format(cpus), Format(list(&got)))
	}
	return restore, nil
}

// Affinity returns the CPUs thread tid may run on (0 = the calling thread), sorted.
func Affinity(tid int) ([]int, error) { return affinity(tid) }

// Tid returns the calling thread's id (gettid(2)).
func Tid() int { return unix.Gettid() }

func affinity(tid int) ([]int, error) {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &s); err != nil {
		return nil, fmt.Errorf("netio/cpu: sched_getaffinity %d: %w", tid, err)
	}
	return list(&s), nil
}

func list(s *unix.CPUSet) []int {
	var out []int
	for c := range maxCPU {
		if s.IsSet(c) {
			out = append(out, c)
		}
	}
	return out
}
