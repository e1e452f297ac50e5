package callsip

import (
	"runtime"
	"sync"
	"testing"
)

// TestGrowStack proves that growStack leaves a fresh goroutine with a stack of at least 16 KB:
// a thousand goroutines parked after it hold 16 KB of stack each, against the runtime's starting
// stack (2 KB in a test binary) without it, measured in the same run.
func TestGrowStack(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes frame and stack sizes")
	}
	perGoroutine := func(grow bool) float64 {
		const n = 1000
		var started, release, exited sync.WaitGroup
		release.Add(1)
		started.Add(n)
		exited.Add(n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			go func() {
				if grow {
					growStack()
				}
				started.Done()
				release.Wait()
				exited.Done()
			}()
		}
		started.Wait()
		runtime.ReadMemStats(&after)
		release.Done()
		exited.Wait()
		return float64(int64(after.StackInuse)-int64(before.StackInuse)) / n
	}
	plain, grown := perGoroutine(false), perGoroutine(true)
	t.Logf("stack per parked goroutine: %.0f bytes fresh, %.0f after growStack", plain, grown)
	if grown < 15<<10 {
		t.Fatalf("after growStack a goroutine holds %.0f bytes of stack, want at least 16 KB", grown)
	}
	if grown < 1.5*plain {
		t.Fatalf("growStack did not grow the stack: %.0f bytes against %.0f fresh", grown, plain)
	}
}
