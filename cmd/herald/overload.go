package main

import (
	"context"
	"runtime"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/overload"
)

// newShedder is the overload shedder limits.shed_queue asks for: that many runnable goroutines
// per CPU the process runs on. With it 0 (off) the shedder sheds nothing but its monitor still
// runs, so that herald_overload_run_queue shows the queue (one runtime/metrics read every 10 ms).
func newShedder(o *config.Options) *overload.Shedder {
	return overload.New(overload.Options{Target: o.Limits.ShedQueue * runtime.GOMAXPROCS(0)})
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
