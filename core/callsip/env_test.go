package callsip

import (
	"log/slog"
	"time"

	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sipstats"
)

// testEnv is what a controller built without a server needs to run its own code on plane: a
// logger, counters, a push session's lifetime. It has no Host: a test that reaches the server
// fails on a nil Host.
func testEnv(plane push.Plane) *Env {
	return &Env{Log: slog.New(slog.DiscardHandler), MSRP: plane, Stats: &sipstats.Stats{}, SessionTTL: time.Minute}
}
