package callsip

// growFrame is the frame growStack takes: with the little a call's goroutine has used when Run
// starts, 8 KB more fits a 16 KB stack and not an 8 KB one, and 16 KB is what the call's goroutine
// grows to anyway (Herald's goroutine stacks average 16.5 KB at 3,000 push calls/s).
const growFrame = 8 << 10

// growSink keeps growStack's frame from being optimized away.
var growSink byte

// growStack grows the calling goroutine's stack to 16 KB while it is shallow. A call's controller
// runs on the goroutine sipgo starts for its INVITE, with the runtime's starting stack (2 KB, or
// the average of the stacks the collector last scanned), and outgrew it deep inside the first
// response it relayed (sipgo's FSM, the UDP write): the runtime
// then copied the stack and adjusted every frame's pointers, 7 µs per call, 3.5% of Herald's CPU
// at 3,000 push calls/s (bench/results/sip-push.md, "Session 17"). Grown at Run's first line the
// copy has a handful of frames to adjust. CockroachDB's util/growstack does the same for its RPC
// handlers.
//
//go:noinline
func growStack() {
	var buf [growFrame]byte
	if growSink != 0 {
		growSink = buf[growSink]
	}
}
