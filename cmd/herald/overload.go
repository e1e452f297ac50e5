package main

import (
	"context"
	"time"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/overload"
)

// shedWindow is how often the overload monitor reads the scheduler: a 99th percentile over a
// second of a loaded node's scheduling events (thousands) is steady where a shorter window's
// swings with each collection.
const shedWindow = time.Second

// newShedder is the overload shedder limits.shed_latency asks for. With it 0 (off, the default)
// the shedder sheds nothing but its monitor still runs, so that herald_overload_sched_latency_ms
// shows what a threshold would be compared with (one runtime/metrics read a second).
func newShedder(o *config.Options) *overload.Shedder {
	return overload.New(overload.Options{Target: o.Limits.ShedLatency.D(), Window: shedWindow})
}

// watchOverload runs the shedder's monitor until the instance stops (a closer ends it) or ctx
// ends.
func (in *instance) watchOverload(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	in.closers = append(in.closers, stopFunc(cancel))
	m := overload.NewMonitor(in.shed)
	in.wg.Go(func() { m.Run(ctx) })
}

// stopFunc is a cancel function as an io.Closer (instance.closers).
type stopFunc func()

func (f stopFunc) Close() error { f(); return nil }
