package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Wire tracing (log.trace): every SIP message and MSRP frame Herald reads or writes, logged at
// debug level whatever log.level says, through a token bucket so that a flood cannot turn the log
// into the bottleneck. Frames over the budget are counted and the count is reported on the next
// line that gets through ("suppressed").
const (
	traceRate  = 200 // frames a second, sustained
	traceBurst = 400 // frames at once
)

type wireTrace struct {
	log *slog.Logger

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed uint64
}

func newWireTrace(log *slog.Logger) *wireTrace {
	// log.trace is a switch of its own: frames are debug records written whatever log.level is.
	l := slog.New(everyLevel{log.Handler()}).With("component", "wire")
	return &wireTrace{log: l, tokens: traceBurst, last: time.Now()}
}

// everyLevel is a handler that takes records of every level (slog.Logger asks Enabled before it
// builds a record; Handle itself does not filter).
type everyLevel struct{ slog.Handler }

func (everyLevel) Enabled(context.Context, slog.Level) bool { return true }

func (h everyLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return everyLevel{h.Handler.WithAttrs(as)}
}

func (h everyLevel) WithGroup(name string) slog.Handler { return everyLevel{h.Handler.WithGroup(name)} }

// take spends a token; it returns false (and counts the frame) when the bucket is empty, and the
// number of frames suppressed since the last one that got through.
func (t *wireTrace) take() (bool, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.tokens = min(traceBurst, t.tokens+now.Sub(t.last).Seconds()*traceRate)
	t.last = now
	if t.tokens < 1 {
		t.suppressed++
		return false, 0
	}
	t.tokens--
	n := t.suppressed
	t.suppressed = 0
	return true, n
}

func (t *wireTrace) emit(proto, dir, transport, peer, frame string) {
	ok, n := t.take()
	if !ok {
		return
	}
	args := []any{"proto", proto, "dir", dir, "transport", transport, "peer", peer, "frame", frame}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	t.log.Debug("wire", args...)
}

// sip is signal.Options.WireTrace (the fast path's datagrams).
func (t *wireTrace) sip(dir, transport, peer string, msg []byte) {
	t.emit("SIP", dir, transport, peer, string(msg))
}

// SIPTraceRead and SIPTraceWrite make t sipgo's tracer (sip.SIPDebugTracer): the general path.
func (t *wireTrace) SIPTraceRead(transport, _, raddr string, msg []byte) {
	t.emit("SIP", "recv", transport, raddr, string(msg))
}

func (t *wireTrace) SIPTraceWrite(transport, _, raddr string, msg []byte) {
	t.emit("SIP", "send", transport, raddr, string(msg))
}

// msrp is msrpnet.Options.Trace.
func (t *wireTrace) msrp(dir, peer, frame string) {
	t.emit("MSRP", dir, "TCP", peer, frame)
}

// sipgo's tracer is process-wide (sip.SIPDebug, sip.SIPDebugTracer): it is pointed once at
// sipgoTracer, which follows the wire tracer of the instance running with log.trace (none: a
// frame costs one atomic load).
var (
	sipgoTraceOnce sync.Once
	sipgoTraceCur  atomic.Pointer[wireTrace]
)

type sipgoTracer struct{}

func (sipgoTracer) SIPTraceRead(transport, laddr, raddr string, msg []byte) {
	if t := sipgoTraceCur.Load(); t != nil {
		t.SIPTraceRead(transport, laddr, raddr, msg)
	}
}

func (sipgoTracer) SIPTraceWrite(transport, laddr, raddr string, msg []byte) {
	if t := sipgoTraceCur.Load(); t != nil {
		t.SIPTraceWrite(transport, laddr, raddr, msg)
	}
}

// followSIPTrace makes t receive the messages sipgo reads and writes (the general path). Called
// before any socket is served.
func followSIPTrace(t *wireTrace) {
	sipgoTraceOnce.Do(func() {
		sip.SIPDebugTracer(sipgoTracer{})
		sip.SIPDebug = true
	})
	sipgoTraceCur.Store(t)
}

// unfollowSIPTrace stops t receiving sipgo's messages (if it still does).
func unfollowSIPTrace(t *wireTrace) { sipgoTraceCur.CompareAndSwap(t, nil) }
