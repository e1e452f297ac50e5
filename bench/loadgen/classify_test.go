package loadgen

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/herald-ims/herald/bench/uesim"
)

// TestClassify: every cause is reached by the outcome it names, and a call with every check
// passed has none.
func TestClassify(t *testing.T) {
	okCallee := func() *uesim.CalleeCall {
		return &uesim.CalleeCall{Final: 200, EarlyOffered: true, EarlyAnswered: true, Page: []byte("p")}
	}
	okCaller := func() *uesim.CallResult {
		return &uesim.CallResult{Final: 200, Fetches: map[uesim.Role]uesim.FetchResult{uesim.CalleeCard: {}},
			PageErrors: map[uesim.Role]error{}}
	}
	rtpOK := &rtpResult{expected: 10, received: 10}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := map[string]struct {
		kind string
		res  *uesim.CallResult
		err  error
		ce   *uesim.CalleeCall
		rtp  *rtpResult
		want string
	}{
		"complete ringback call": {kind: MixRingback, res: okCaller(), ce: okCallee(), rtp: rtpOK},
		"complete plain call":    {kind: MixPlain, res: &uesim.CallResult{Final: 200}, ce: &uesim.CalleeCall{Final: 200}},
		"cancelled at deadline":  {kind: MixPlain, res: &uesim.CallResult{Final: 487, Canceled: true}, want: CauseTimeout},
		"no answer at all": {kind: MixPlain, res: &uesim.CallResult{},
			err: fmt.Errorf("%w: invite", uesim.ErrTimeout), want: CauseTimeout},
		"transport error": {kind: MixPlain, res: &uesim.CallResult{}, err: errors.New("send failed"), want: CauseTransport},
		"302":             {kind: MixPlain, res: &uesim.CallResult{Final: 302}, want: CauseSIP3xx},
		"486":             {kind: MixBoth, res: &uesim.CallResult{Final: 486}, want: CauseSIP4xx},
		"503":             {kind: MixBoth, res: &uesim.CallResult{Final: 503}, want: CauseSIP5xx},
		"603":             {kind: MixBoth, res: &uesim.CallResult{Final: 603}, want: CauseSIP6xx},
		"callee card hash": {kind: MixBoth, want: CausePageMismatch, ce: okCallee(), res: func() *uesim.CallResult {
			r := okCaller()
			r.PageErrors[uesim.CalleeCard] = fmt.Errorf("%w: x", uesim.ErrPageHash)
			return r
		}()},
		"caller card size": {kind: MixCaller, res: &uesim.CallResult{Final: 200}, want: CausePageMismatch,
			ce: &uesim.CalleeCall{EarlyOffered: true, EarlyAnswered: true, PageErr: fmt.Errorf("%w: x", uesim.ErrPageSize)}},
		"mismatch wins over a stall": {kind: MixBoth, want: CausePageMismatch,
			ce: &uesim.CalleeCall{EarlyOffered: true, EarlyAnswered: true, PageErr: fmt.Errorf("%w: x", uesim.ErrPageHash)},
			res: func() *uesim.CallResult {
				r := okCaller()
				r.PageErrors[uesim.CalleeCard] = fmt.Errorf("%w: x", uesim.ErrTimeout)
				return r
			}()},
		"transfer stalled (no REPORT)": {kind: MixCaller, res: &uesim.CallResult{Final: 200}, want: CausePageIncomplete,
			ce: &uesim.CalleeCall{EarlyOffered: true, EarlyAnswered: true, PageErr: fmt.Errorf("%w: msrp fetch", uesim.ErrTimeout)}},
		"transfer aborted": {kind: MixCaller, res: &uesim.CallResult{Final: 200}, want: CausePageIncomplete,
			ce: &uesim.CalleeCall{EarlyOffered: true, EarlyAnswered: true, PageErr: uesim.ErrAborted}},
		"offered, not fetched when answered": {kind: MixCaller, res: &uesim.CallResult{Final: 200}, want: CausePageIncomplete,
			ce: &uesim.CalleeCall{EarlyOffered: true, EarlyAnswered: true}},
		"msrp refused": {kind: MixCaller, res: &uesim.CallResult{Final: 200}, want: CauseMSRPError,
			ce: &uesim.CalleeCall{EarlyOffered: true, EarlyAnswered: true, PageErr: fmt.Errorf("uesim: msrp dial: %w", dial)}},
		"acquisition refused": {kind: MixCaller, res: &uesim.CallResult{Final: 200}, want: CauseMSRPError,
			ce: &uesim.CalleeCall{EarlyOffered: true, EarlyAnswered: true, PageErr: fmt.Errorf("%w: 481", uesim.ErrMSRPStatus)}},
		"no caller card offer": {kind: MixCaller, res: &uesim.CallResult{Final: 200}, ce: &uesim.CalleeCall{Final: 200},
			want: CauseNoPush},
		"no callee card offer": {kind: MixBoth, res: &uesim.CallResult{Final: 200}, ce: okCallee(), want: CauseNoPush},
		"callee card fetch outlived the call": {kind: MixBoth, res: &uesim.CallResult{Final: 200}, ce: okCallee(),
			err: fmt.Errorf("%w: page fetch still running", uesim.ErrTimeout), want: CausePageIncomplete},
		"no ringback stream": {kind: MixRingback, res: okCaller(), ce: okCallee(), want: CauseNoRingback},
		"ringback stream empty": {kind: MixRingback, res: okCaller(), ce: okCallee(), rtp: &rtpResult{},
			want: CauseNoRingback},
		"callee never reported": {kind: MixPlain, res: &uesim.CallResult{Final: 200}, want: CauseCallee},
		"callee saw no ACK": {kind: MixPlain, res: &uesim.CallResult{Final: 200}, want: CauseCallee,
			ce: &uesim.CalleeCall{Final: 200, Err: fmt.Errorf("%w: no ACK for 200", uesim.ErrTimeout)}},
		"BYE refused": {kind: MixPlain, res: &uesim.CallResult{Final: 200}, ce: &uesim.CalleeCall{Final: 200},
			err: fmt.Errorf("%w: BYE answered 481", uesim.ErrProtocol), want: CauseProtocol},
	}
	seen := map[string]bool{}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := classify(tc.kind, tc.res, tc.err, tc.ce, tc.rtp); got != tc.want {
				t.Errorf("cause %q, want %q", got, tc.want)
			}
		})
		seen[tc.want] = true
	}
	for _, c := range Causes {
		if !seen[c] && c != CauseGenOverload { // gen_overload is decided before a call exists (TestOpenLoop...)
			t.Errorf("cause %s has no case", c)
		}
	}
}
