//go:build linux

package cpu

import (
	"runtime"
	"testing"
)

// The per-callback cost once a loop thread is pinned (gettid plus a map hit under a mutex).
func BenchmarkLoopPinnerRepeat(b *testing.B) {
	l, err := NewLoopPinner(Available())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	onLockedThread(func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := l.Pin(); err != nil {
			b.Error(err) // not Fatal: this is not the benchmark goroutine
			return
		}
		for b.Loop() {
			_ = l.Pin()
		}
	})
}
