// Package push is the contract between the signalling side of a call and the MSRP plane.
//
// The SIP goroutine of a call creates a Session and Opens it on the Plane *before* it sends the SDP that
// advertises the session's a=path; the MSRP plane (netio/msrp) looks the session up by the session-id in
// the To-Path of the terminal's acquisition SEND, pushes the page and reports exactly one Result on the
// session's Done channel. When the session has a Bound channel, the plane first signals on it that a
// terminal's connection and acquisition request are bound to the session (or, Herald active, that the
// terminal's 200 answered Herald's binding SEND), before any result. The call never blocks the plane:
// Done and Bound are buffered, and Bound is signalled at most once.
package push

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/herald-ims/herald/core/content"
)

// Role says which card a session carries (and so which party fetches it).
type Role uint8

// Roles.
const (
	CallerCard Role = iota + 1 // caller-set page, fetched by the callee terminal (claim 1 first HTML)
	CalleeCard                 // callee-set page, fetched by the caller terminal (claims 1/5 second HTML)
)

func (r Role) String() string {
	switch r {
	case CallerCard:
		return "caller-card"
	case CalleeCard:
		return "callee-card"
	}
	return "unknown"
}

// Outcome of a push session.
type Outcome uint8

// Outcomes.
const (
	Delivered    Outcome = iota + 1 // the terminal's success REPORT covered the whole page
	Failed                          // a failure REPORT or a transaction error response
	TimedOut                        // no bind, no REPORT or no progress before the deadline
	Aborted                         // Close was called (answer, cancel, shutdown) before delivery
	Disconnected                    // the terminal closed or reset the connection mid-transfer
)

func (o Outcome) String() string {
	return [...]string{"", "delivered", "failed", "timed-out", "aborted", "disconnected"}[o]
}

// Result is what the plane reports once per session.
type Result struct {
	SessionID string
	Outcome   Outcome
	Code      int   // MSRP status from the REPORT or response, when there was one
	Bytes     int64 // body bytes acknowledged (success REPORT) or written
	Err       error
}

// Session is one page push: one call, one recipient, one page version.
// Fields are set before Open and not changed afterwards, except by the plane through Done.
type Session struct {
	ID         string // session-id in a=path; ≥128 bits from crypto/rand
	CallID     string // the SIP Call-ID it belongs to (for logs; never a lookup key from the wire)
	Role       Role   //
	Page       *content.Page
	Accept     []string  // the terminal's a=accept-types, when known before the bind
	TransferID string    // a=file-transfer-id
	Expires    time.Time // the session refuses binds after this instant
	Secure     bool      // offered over msrps (TLS): a=path is msrps://…;tcp and only TLS connections bind
	// Forkable says the offer went out in a request that may fork (the caller card in the forwarded
	// INVITE: a proxy forks it to every registered device, RFC 3261 §16.6, and each answers it in its
	// own early dialog, RFC 3959): after the first terminal, later terminals may bind too, each
	// getting its own transfer of the page, until Close or Expires. Only the first binding is
	// signalled and reported (Bound, Done, Notify): the call hears one result. False: one terminal
	// binds, as for every session that a request no proxy forks offered (the callee card in
	// Herald's own UPDATE).
	Forkable bool
	Done     chan Result
	// Bound, when not nil, is signalled once when a terminal binds to the session, before Done.
	Bound chan struct{}
	// Notify, when set, is told of the binding (bound, with a zero Result) and of the result instead
	// of Bound and Done, on the plane's goroutine: it must not block.
	Notify func(s *Session, bound bool, r Result)
}

// NotifyBound signals Bound (or Notify), if the session has one, without blocking (the plane calls
// it once).
func (s *Session) NotifyBound() {
	if s.Notify != nil {
		s.Notify(s, true, Result{})
		return
	}
	if s.Bound == nil {
		return
	}
	select {
	case s.Bound <- struct{}{}:
	default:
	}
}

// Report hands the session's one result to Notify, or to Done without blocking; false when Done
// was full (the plane counts a result it could not report).
func (s *Session) Report(r Result) bool {
	if s.Notify != nil {
		s.Notify(s, false, r)
		return true
	}
	select {
	case s.Done <- r:
		return true
	default:
		return false
	}
}

// NewSession makes a session with fresh random identifiers and buffered Done and Bound channels.
func NewSession(callID string, role Role, page *content.Page, ttl time.Duration) *Session {
	s := NewNotified(callID, role, page, ttl, nil)
	s.Done, s.Bound = make(chan Result, 1), make(chan struct{}, 1)
	return s
}

// NewNotified makes a session with fresh random identifiers whose binding and result go to notify
// (Session.Notify) instead of channels.
func NewNotified(callID string, role Role, page *content.Page, ttl time.Duration, notify func(*Session, bool, Result)) *Session {
	// Both ids in one string, each its own random bytes: one allocation instead of two.
	var buf [2 * maxEncoded]byte
	ids := string(AppendID(AppendID(buf[:0], sessionIDBytes), transferIDBytes))
	cut := base64.RawURLEncoding.EncodedLen(sessionIDBytes)
	return &Session{
		ID:         ids[:cut],
		CallID:     callID,
		Role:       role,
		Page:       page,
		TransferID: ids[cut:],
		Expires:    time.Now().Add(ttl),
		Notify:     notify,
	}
}

// A session's ids, in random bytes: the session-id ≥128 bits (Session.ID), the file-transfer-id.
const (
	sessionIDBytes  = 16
	transferIDBytes = 9
)

// NewID returns n random bytes from crypto/rand as unpadded URL-safe base64 (RFC 4975 session-id and
// transaction-id characters are a subset of unreserved; base64url's '-' and '_' are both allowed).
func NewID(n int) string {
	var enc [maxEncoded]byte
	return string(AppendID(enc[:0], n)) // the one allocation up to maxIDBytes: three per push session before
}

// AppendID appends NewID(n) to dst: an id inside a longer string (a MIME boundary) costs that
// string's allocation only.
func AppendID(dst []byte, n int) []byte {
	if n > maxIDBytes || n < 0 { // longer than any id Herald makes
		b := make([]byte, max(n, 0))
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.AppendEncode(dst, b)
	}
	var raw [maxIDBytes]byte
	b := raw[:n]
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error on Linux (Go ≥1.24 it panics instead)
	return base64.RawURLEncoding.AppendEncode(dst, b)
}

// maxIDBytes is the longest id NewID makes on the stack (session-ids are 16 bytes); maxEncoded its
// length in base64.
const (
	maxIDBytes = 32
	maxEncoded = (maxIDBytes*8 + 5) / 6
)

// ErrPlaneFull is returned by Open when the plane holds its configured maximum of sessions.
var ErrPlaneFull = errors.New("push: too many push sessions")

// ErrDuplicate is returned by Open when the session-id is already registered.
var ErrDuplicate = errors.New("push: duplicate session-id")

// Plane is implemented by the MSRP plane.
type Plane interface {
	// Open registers s so a terminal can bind to it until s.Expires.
	Open(s *Session) error
	// Close ends the session: an in-flight transfer (every one, for a Forkable session) is aborted
	// with '#', its connection closed, and Result{Outcome: Aborted} is reported unless a result was
	// already reported; no terminal binds it afterwards. Safe to call twice.
	Close(id string)
	// PathURI is the MSRP URI to advertise in a=path for a session-id.
	PathURI(id string) string
	// Addr is the host and port to put in c= and m= (CEMA: what the terminal actually connects to).
	Addr() (host string, port int)
}

// AcceptSetter is implemented by planes that take the terminal's a=accept-types after Open: the SDP
// answer carrying them arrives after the offer that advertised the session's a=path.
//
// Content negotiation: the offer always describes the HTML page (a=accept-types text/html, file-selector
// type:text/html and the HTML size); a pre-compressed variant (application/zstd, application/gzip) is sent
// instead only when accept lists that type by name ("*" does not count), and the SEND's Content-Type says
// which. SetAccept takes effect if it is called before the terminal binds; afterwards it is ignored.
type AcceptSetter interface {
	SetAccept(id string, accept []string)
}

// Connector is implemented by planes that can take the active role (RFC 6135): when the terminal answered
// a=setup:passive, the plane dials addr ("host:port" from the terminal's c=/m= or a=path), sends the
// bodiless binding SEND itself (To-Path = peerPath, the terminal's a=path; From-Path = PathURI(id)) and,
// on its 200, pushes the page as usual; the result arrives on the session's Done channel as always.
// Connect returns at once: it fails only when the session is unknown, finished or already bound.
type Connector interface {
	Connect(id string, peerPath string, addr string) error
}
