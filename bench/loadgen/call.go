package loadgen

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/sdp"
)

// CallerURI and CalleeURI name subscriber i of a mix kind: the identities WriteHeraldConfig
// provisions and Run calls.
func CallerURI(kind string, i int) string {
	return "sip:lg-" + kind + "-" + strconv.Itoa(i) + "@caller.load"
}

// CalleeURI is the callee of CallerURI's call (see there).
func CalleeURI(kind string, i int) string {
	return "sip:lg-" + kind + "-" + strconv.Itoa(i) + "@callee.load"
}

func expectsCallerCard(kind string) bool { return kind != MixPlain }
func expectsCalleeCard(kind string) bool { return kind == MixBoth || kind == MixRingback }

// outcome is what one call produced: its cause ("" when it completed) and its timings.
type outcome struct {
	cause      string
	detail     string // the error behind cause, for Step.FailedExample
	setup, pdd time.Duration
	pages      []time.Duration
	rtp        *rtpResult
}

// calleeBoard hands the callee side's view of each call (uesim's OnDone, keyed by Call-ID) to the
// goroutine running the caller side, whichever comes first. Entries nobody takes are swept.
type calleeBoard struct {
	mu    sync.Mutex
	slots map[string]*calleeSlot
}

type calleeSlot struct {
	ch    chan uesim.CalleeCall // buffered 1
	added time.Time
}

func (b *calleeBoard) slot(id string) *calleeSlot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.slots[id]
	if s == nil {
		s = &calleeSlot{ch: make(chan uesim.CalleeCall, 1), added: time.Now()}
		b.slots[id] = s
	}
	return s
}

func (b *calleeBoard) put(cc uesim.CalleeCall) {
	s := b.slot(cc.CallID)
	select {
	case s.ch <- cc:
	default: // a second report for one Call-ID (a retransmitted INVITE after the call): keep the first
	}
}

// take waits up to wait for the callee's view of call id and forgets the slot.
func (b *calleeBoard) take(id string, wait time.Duration) (uesim.CalleeCall, bool) {
	s := b.slot(id)
	defer func() {
		b.mu.Lock()
		delete(b.slots, id)
		b.mu.Unlock()
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case cc := <-s.ch:
		return cc, true
	case <-t.C:
		return uesim.CalleeCall{}, false
	}
}

func (b *calleeBoard) sweep(now time.Time, age time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, s := range b.slots {
		if now.Sub(s.added) > age {
			delete(b.slots, id)
		}
	}
}

func (b *calleeBoard) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.slots)
}

// call places one call of kind to subscriber idx and classifies it.
func (g *Generator) call(kind string, idx int, caller *uesim.Caller) *outcome {
	ctx, cancel := context.WithTimeout(g.ctx, g.o.Hold+g.o.Talk+g.o.CallTimeout)
	defer cancel()
	res, err := caller.Call(ctx, g.o.Herald, CallerURI(kind, idx), CalleeURI(kind, idx))
	o := &outcome{}
	if res == nil { // the URIs did not parse: cannot happen with CallerURI/CalleeURI
		o.cause = CauseProtocol
		return o
	}
	o.pdd = res.Timings.FirstProvisional
	answered := res.Final >= 200 && res.Final < 300
	var ce *uesim.CalleeCall
	if answered {
		o.setup = res.Timings.Final
		// The callee reports once the BYE is in and its fetch is over: by now, or very soon.
		if cc, ok := g.board.take(res.CallID, g.o.FetchTimeout+2*time.Second); ok {
			ce = &cc
		}
		if kind == MixRingback {
			o.rtp = g.claimRTP(res)
		}
	}
	o.cause = classify(kind, res, err, ce, o.rtp)
	if o.cause != "" {
		o.detail = detail(res, err, ce)
	}
	if answered {
		if f, ok := res.Fetches[uesim.CalleeCard]; ok && res.PageErrors[uesim.CalleeCard] == nil {
			o.pages = append(o.pages, pageTime(f))
		}
		if ce != nil && ce.PageErr == nil && pageIn(ce) {
			o.pages = append(o.pages, pageTime(ce.Fetch))
		}
	}
	return o
}

// detail is the first error a failed call saw: a page fetch's (named by its card), the callee
// side's, the caller's.
func detail(res *uesim.CallResult, err error, ce *uesim.CalleeCall) string {
	if ce != nil && ce.PageErr != nil {
		return "caller card, fetched by the callee: " + ce.PageErr.Error()
	}
	if e := res.PageErrors[uesim.CalleeCard]; e != nil {
		return "callee card, fetched by the caller: " + e.Error()
	}
	if ce != nil && ce.Err != nil {
		return "callee side: " + ce.Err.Error()
	}
	if err != nil {
		return err.Error()
	}
	if res.Final >= 300 {
		return "final response " + strconv.Itoa(res.Final) + " " + res.Reason
	}
	return ""
}

// pageIn says the callee fetched the caller card and it matched its file-selector: its bytes,
// or with CalleeOptions.DropPages (the generator's terminals) the fetch's verdict.
func pageIn(ce *uesim.CalleeCall) bool {
	return ce.Page != nil || (ce.PageErr == nil && ce.Fetch.Verified)
}

// pageTime is the acquisition SEND to the REPORT, or to the last chunk when no REPORT was asked.
func pageTime(f uesim.FetchResult) time.Duration {
	if f.Reported > 0 {
		return f.Reported
	}
	return f.Done
}

// claimRTP takes the accounting of the ringback stream of Herald's early dialog (the one whose
// P-Early-Media says sendonly, RFC 5009), found by the source its SDP answer names.
func (g *Generator) claimRTP(res *uesim.CallResult) *rtpResult {
	for _, d := range res.Dialogs {
		if d.SDP == nil || !strings.Contains(strings.ToLower(d.PEarlyMedia), "sendonly") {
			continue
		}
		src, ok := rtpSource(d.SDP)
		if !ok {
			continue
		}
		if r, ok := g.rtp.claim(src, res.Timings.Start); ok {
			return &r
		}
	}
	return nil
}

// rtpSource is the address and port of the first audio line of an SDP answer.
func rtpSource(body []byte) (netip.AddrPort, bool) {
	s, err := sdp.Parse(body)
	if err != nil {
		return netip.AddrPort{}, false
	}
	for _, m := range s.Media {
		if !strings.EqualFold(m.Type, "audio") || m.Port == 0 {
			continue
		}
		a, err := netip.ParseAddr(sdp.ConnAddr(s.ConnOf(m)))
		if err != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(a, uint16(m.Port)), true
	}
	return netip.AddrPort{}, false
}

// classify returns the cause of a failed call, "" for a completed one: the first that applies
// in the order of Causes.
func classify(kind string, res *uesim.CallResult, err error, ce *uesim.CalleeCall, rtp *rtpResult) string {
	switch {
	case res.Canceled || (res.Final == 0 && errors.Is(err, uesim.ErrTimeout)):
		return CauseTimeout // only a call past its deadline is cancelled
	case res.Final == 0:
		return CauseTransport
	case res.Final >= 600:
		return CauseSIP6xx
	case res.Final >= 500:
		return CauseSIP5xx
	case res.Final >= 400:
		return CauseSIP4xx
	case res.Final >= 300:
		return CauseSIP3xx
	}
	var pageErrs []error
	if e := res.PageErrors[uesim.CalleeCard]; e != nil {
		pageErrs = append(pageErrs, e)
	}
	if ce != nil && ce.PageErr != nil {
		pageErrs = append(pageErrs, ce.PageErr)
	}
	for _, e := range pageErrs {
		if errors.Is(e, uesim.ErrPageHash) || errors.Is(e, uesim.ErrPageSize) {
			return CausePageMismatch
		}
	}
	for _, e := range pageErrs {
		var op *net.OpError
		if errors.Is(e, uesim.ErrMSRPStatus) || (errors.As(e, &op) && op.Op == "dial") {
			return CauseMSRPError
		}
	}
	if len(pageErrs) > 0 {
		return CausePageIncomplete
	}
	if expectsCalleeCard(kind) {
		if _, ok := res.Fetches[uesim.CalleeCard]; !ok {
			if errors.Is(err, uesim.ErrTimeout) { // offered, but the fetch outlived the call's wait
				return CausePageIncomplete
			}
			return CauseNoPush
		}
	}
	if ce == nil {
		return CauseCallee
	}
	if expectsCallerCard(kind) && (!ce.EarlyOffered || !ce.EarlyAnswered) {
		return CauseNoPush
	}
	if expectsCallerCard(kind) && !pageIn(ce) {
		return CausePageIncomplete
	}
	if kind == MixRingback && (rtp == nil || rtp.received == 0) {
		return CauseNoRingback
	}
	if ce.Err != nil {
		return CauseCallee
	}
	if err != nil {
		return CauseProtocol
	}
	return ""
}
