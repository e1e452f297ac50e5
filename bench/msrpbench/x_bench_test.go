package msrpbench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/push"
)

// BenchmarkDeliver16KiB measures one whole page push per op (session Open, TCP connect, acquisition SEND,
// 8 chunks of 2048 bytes answered with 200, success REPORT, close), with 32 terminals in parallel, in
// this process: client and server share the CPUs, so ns/op is the cost of both. cmd/msrpbench measures
// the server alone in a child process.
func BenchmarkDeliver16KiB(b *testing.B) {
	for name, start := range map[string]func(testing.TB) plane{"herald": startHerald, "baseline": startBaseline} {
		b.Run("server="+name, func(b *testing.B) {
			p := start(b)
			page := mustPage(b, 16<<10)
			var id atomic.Int64
			b.ReportAllocs()
			b.SetBytes(int64(len(page.Body)))
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				t := NewTerminal(p.addr, page.Body, int(id.Add(1)))
				for pb.Next() {
					s := push.NewSession("bench", push.CallerCard, page, time.Minute)
					if err := p.Open(s); err != nil {
						b.Error(err)
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := t.Fetch(ctx, p.PathURI(s.ID), nil, nil)
					cancel()
					if err != nil {
						b.Error(err)
						return
					}
					if r := <-s.Done; r.Outcome != push.Delivered {
						b.Errorf("result %+v", r)
						return
					}
				}
			})
		})
	}
}
