package loadgen

import "errors"

// Sentinel errors.
var (
	// ErrOptions means the options cannot describe a run (bad mix, rate, transport...).
	ErrOptions = errors.New("loadgen: bad options")
)
