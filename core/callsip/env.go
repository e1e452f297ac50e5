package callsip

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/core/overload"
	"github.com/herald-ims/herald/core/profile"
	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/sipstats"
)

// Env is what the calls of one server share: its settings, the planes the calls drive, its
// counters, and the server itself (Host). The server builds it once; it is not changed afterwards
// (Faults excepted: tests).
type Env struct {
	// Host is the server: routing and sending (core/signal).
	Host Host
	// Stripped notes the calls whose 2xx went upstream without the callee's early-session answer
	// (nil: none noted).
	Stripped *Stripped
	// Log is the server's logger: a call writes its one info line there, and its warnings.
	Log *slog.Logger
	// Trace, when set, receives one line per step a call takes (the demo prints them).
	Trace func(line string)
	// T1 is RFC 3261 T1 for Herald's own reliable provisionals; TimerC the proxy INVITE timer
	// (RFC 3261 §16.6 step 11); SessionTTL the lifetime of a push session's a=path.
	T1, TimerC, SessionTTL time.Duration
	// OfferTLS offers every push over msrps when the MSRP plane has a TLS listener.
	OfferTLS bool
	// Probe sends the caller card's early-session part to callees of unknown capability too
	// (capability.go).
	Probe bool
	// MSRP is the push plane; Web, when set, publishes pages for the Call-Info fallback; Ringback,
	// when set, plays the callee's ringback clip on Herald's early dialog (claims 2, 6).
	MSRP     push.Plane
	Web      Publisher
	Ringback Ringback
	// Capabilities is the cache of learned terminal capabilities (profile.CapCache).
	Capabilities *profile.CapCache
	// Shed, when set, picks the calls that would get cards but go plain because Herald is
	// overloaded (core/overload); nil: none.
	Shed *overload.Shedder
	// Stats are the server's counters; Hist its call-setup histograms (nil: none observed).
	Stats *sipstats.Stats
	Hist  *sipstats.Hists
	// Faults are for tests only.
	Faults Faults
}

// Host is the server as a call needs it (core/signal implements it): the lookups, routing, the
// transactions a call's requests go on, and the recovery net.
type Host interface {
	// Parties looks up the caller (its asserted identity) and the callee (the Request-URI): the
	// INVITE's one lookup per party.
	Parties(caller, callee string) (cr, ce LookedUp)
	// Forward is the caller's INVITE req as Herald forwards it: its own Route popped (or the next
	// hop set) and its Record-Route; req itself is left untouched.
	Forward(req *sip.Request) *sip.Request
	// Invite sends fwd, a Forward result, toward its next hop on a new INVITE client transaction.
	Invite(ctx context.Context, fwd *sip.Request, callID string) (sip.ClientTransaction, error)
	// DownAt marks where req, sent toward a name, went down (the address it was sent to), and
	// reports whether the name answers another target (RFC 3263 §4.3; sipfast.Names.DownAt).
	DownAt(req *sip.Request) bool
	// Originate sends a request Herald originates toward a terminal (the UPDATE on its early
	// dialog) and waits for its final response.
	Originate(ctx context.Context, req *sip.Request) (*sip.Response, error)
	// OriginateOwn sends req like Originate, but on the fast path's engine when it can carry it (a
	// UDP peer at an IP literal): done gets the final response's status and body (408 and none at
	// Timer F) once, from the engine, and must neither block nor call back into it. False: nothing
	// was sent, Originate must.
	OriginateOwn(req *sip.Request, done func(code int, body []byte)) bool
	// Cancel sends cr, the CANCEL of a forwarded INVITE (CancelRequest), as it is built and waits
	// for its response.
	Cancel(ctx context.Context, cr *sip.Request) error
	// Relay sends res, a response of the forwarded INVITE, upstream on tx, the server transaction
	// of req, without Herald's Via. It takes res over.
	Relay(tx sip.ServerTransaction, req *sip.Request, res *sip.Response)
	// BadResponse reports (and counts) a response the call must drop rather than act on.
	BadResponse(res *sip.Response) bool
	// AckAndBye confirms (ACK) and ends (BYE) the dialog that res, a 2xx to inv, created.
	AckAndBye(inv *sip.Request, res *sip.Response)
	// Contact is Herald's Contact for a dialog with a peer over transport.
	Contact(transport string) *sip.ContactHeader
	// Recovered reports r, what recover() returned at a boundary: false when there was no panic,
	// otherwise it is counted and logged and true.
	Recovered(r any) bool
}

// LookedUp is one party of an INVITE as the server looked it up: its canonical identity ("" when
// the URI has none, and then nothing was looked up) and its profile (nil: none).
type LookedUp struct {
	Key     string
	Profile *profile.Profile
}

// Faults are test-only injection points: a test stores a function that panics, to prove a boundary
// holds, or one that watches. Production code never sets them; a nil pointer costs one atomic load.
type Faults struct {
	Controller atomic.Pointer[func(*sip.Request)]  // in the call controller, before run
	Response   atomic.Pointer[func(*sip.Response)] // in the controller, for each response of its INVITE
	// Helper is in sipgo's OnCancel callback ("oncancel"), the CANCEL ("cancel") and UPDATE
	// ("update") goroutines.
	Helper atomic.Pointer[func(string)]
	// End sees each call's controller once it ended (its machine's trail).
	End atomic.Pointer[func(*Call)]
}

func fire[T any](h *atomic.Pointer[func(T)], v T) {
	if f := h.Load(); f != nil {
		(*f)(v)
	}
}

// Allow are the methods Herald takes (the Allow of its own 183 and of the server's OPTIONS answer).
const Allow = "INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, INFO, OPTIONS"

// Ringback is the RTP plane as a call needs it (netio/rtp, through an adapter).
type Ringback interface {
	// Clip returns the pre-framed clip of that name, nil if there is none.
	Clip(name string) *media.Clip
	// Allocate reserves an RTP/RTCP port pair for one m-line, before the SDP that names it is sent.
	Allocate() (RingStream, error)
	// Addr is the IP put in c= of the ringback SDP.
	Addr() string
}

// RingStream is one ringback stream; Stop releases it whether or not it played.
type RingStream interface {
	// Port is the stream's RTP port, named in the 183's SDP answer.
	Port() int
	// Play sends track to dst.
	Play(dst netip.AddrPort, t media.Track) error
	// Stop stops the stream and releases its ports.
	Stop()
}

// Publisher makes a page fetchable over HTTP(S) for one call (core/web implements it).
type Publisher interface {
	// Publish makes page fetchable for the call callID and returns its URL and token.
	Publish(page *content.Page, callID string) (url, token string, err error)
	// RevokeCall withdraws every page published for callID and returns how many there were.
	RevokeCall(callID string) int
}

// tracing reports whether Trace is set. Callers whose trace arguments cost something to build
// (String() of URIs, boxing into ...any: a string, or a number above 255, is put on the heap to be
// passed, Trace or not) check it first: the plain path then builds nothing.
func (e *Env) tracing() bool { return e.Trace != nil }

func (e *Env) trace(format string, args ...any) {
	if e.Trace != nil {
		e.Trace(fmt.Sprintf(format, args...))
	}
}
