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

// newShedder is the overload shedder limits.shed_latency asks for; nil when it is 0 (off).
func newShedder(o *config.Options) *overload.Shedder {
	if o.Limits.ShedLatency.D() <= 0 {
		return nil
	}
	return overload.New(overload.Options{Target: o.Limits.ShedLatency.D(), Window: shedWindow})
}

// watchOverload runs the shedder's monitor until the instance stops (a closer ends it) or ctx
// ends; nothing without a shedder.
func (in *instance) watchOverload(ctx context.Context) {
	if in.shed == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	in.closers = append(in.closers, stopFunc(cancel))
	m := overload.NewMonitor(in.shed)
	in.wg.Go(func() { m.Run(ctx) })
}

// stopFunc is a cancel function as an io.Closer (instance.closers).
type stopFunc func()

func (f stopFunc) Close() error { f(); return nil }
