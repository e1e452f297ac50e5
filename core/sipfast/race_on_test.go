//go:build race

package sipfast

// raceEnabled: the race detector's instrumentation moves buffers to the heap, so allocation counts
// are checked only without it.
const raceEnabled = true
