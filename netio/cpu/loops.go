package cpu

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// LoopPinner pins event-loop threads one CPU each, in the order the threads first call Pin: the
// first thread gets cpus[0], the next cpus[1], and so on round the list. It is made for gnet, which has
// no affinity option: call Pin at the top of a callback that runs on the loop (OnOpen covers every
// accepted and dialled connection) and it pins that loop's thread once, deduplicated by thread id.
//
// Pin locks the calling goroutine to its thread one extra time and never unlocks it, so the pinned
// thread dies with the loop goroutine instead of returning to the Go scheduler with a one-CPU mask
// (gnet unlocks its loop threads on exit). If that thread is the main thread, the runtime parks it
// for good rather than ending it; either way it runs no other goroutine. Pin must therefore only be called on a goroutine that ends
// when its work ends, such as a gnet loop; use one LoopPinner per engine run, so a thread id reused by
// the kernel after a restart is not mistaken for a pinned thread. Safe for concurrent use.
type LoopPinner struct {
	cpus []int
	mu   sync.Mutex
	tids map[int]int // thread id → CPU it was given
	next int
}

// NewLoopPinner checks cpus against Available (ErrEmpty, ErrNotAllowed) and returns a pinner.
func NewLoopPinner(cpus []int) (*LoopPinner, error) {
	if err := Check(cpus); err != nil {
		return nil, err
	}
	return &LoopPinner{cpus: slices.Clone(cpus), tids: map[int]int{}}, nil
}

// Pin pins the calling thread to its CPU the first time the thread calls it and does nothing (no
// system call beyond gettid) afterwards. An error is returned once per thread; the thread then runs
// unpinned.
func (l *LoopPinner) Pin() error {
	tid := Tid()
	l.mu.Lock()
	if _, ok := l.tids[tid]; ok {
		l.mu.Unlock()
		return nil
	}
	c := l.cpus[l.next%len(l.cpus)]
	l.next++
	l.tids[tid] = c
	l.mu.Unlock()
	runtime.LockOSThread() // deliberately never unlocked: see the type comment
	if _, err := Pin([]int{c}); err != nil {
		return fmt.Errorf("netio/cpu: loop thread %d: %w", tid, err)
	}
	return nil
}

// Pinned returns the thread id → CPU assignments made so far (for logs, /varz and tests).
func (l *LoopPinner) Pinned() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int]int, len(l.tids))
	for t, c := range l.tids {
		out[t] = c
	}
	return out
}
