package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// newLean finishes New with uesim's Lean pair as the terminals (Options.Terminals "lean"). The RTP
// receiver still runs (the sampler sweeps it) but no call uses it: mix ringback is refused.
func (g *Generator) newLean(host string, ring time.Duration) (*Generator, error) {
	o := g.o
	var err error
	if g.rtp, err = newRTPReceiver(host, o.LateAfter); err != nil {
		return nil, fmt.Errorf("loadgen: rtp: %w", err)
	}
	if g.lean, err = uesim.NewLean(uesim.LeanOptions{Callee: o.Callee, RingTime: ring, HoldTime: o.Talk,
		FetchTimeout: o.FetchTimeout, RTPPort: g.rtp.Port()}); err != nil {
		g.Close()
		return nil, err
	}
	if g.o.Herald == "direct" {
		g.o.Herald = g.lean.CalleeAddr()
	}
	return g, nil
}

// leanCall places one call of kind through the Lean pair and classifies it as call does.
func (g *Generator) leanCall(kind string, idx int) *outcome {
	ctx, cancel := context.WithTimeout(g.ctx, g.o.Hold+g.o.Talk+g.o.CallTimeout)
	defer cancel()
	r := g.lean.Call(ctx, g.o.Herald, CallerURI(kind, idx), CalleeURI(kind, idx))
	res := r.Caller
	o := &outcome{pdd: res.Timings.FirstProvisional}
	answered := res.Final >= 200 && res.Final < 300
	if answered {
		o.setup = res.Timings.Final
	}
	o.cause = classify(kind, res, r.Err, r.Callee, nil)
	if o.cause != "" {
		o.detail = detail(res, r.Err, r.Callee)
	}
	if answered {
		if f, ok := res.Fetches[uesim.CalleeCard]; ok && res.PageErrors[uesim.CalleeCard] == nil {
			o.pages = append(o.pages, pageTime(f))
		}
		if ce := r.Callee; ce != nil && ce.PageErr == nil && pageIn(ce) {
			o.pages = append(o.pages, pageTime(ce.Fetch))
		}
	}
	return o
}
