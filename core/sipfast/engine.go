package sipfast

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-ims/herald/core/wheel"
)

// MaxTxFactor bounds the transactions the engine holds at this many times Host.MaxCalls. A
// finished transaction is kept 64·T1 (32 s) to absorb retransmissions, so the table grows with the
// call rate, not with the calls in progress: with the default 10,000 calls the bound is 640,000
// transactions (about 0.14 GB: 0.44 KB per finished call, compacted by retained.go,
// BenchmarkRetainedPerCall), enough for 10,000 calls/s sustained (an INVITE and a BYE each). Above
// it new INVITEs and in-dialog requests are answered 503 without state and counted.
const MaxTxFactor = 64

// BranchPrefix starts the branch of every request the engine sends (RFC 3261 §8.1.1.7: after the
// magic cookie z9hG4bK); the rest is the transaction's id in hex. sipgo's branches are z9hG4bK.
// followed by random letters, so the two never collide.
const BranchPrefix = "z9hG4bKhrld"

// DialogParam is the Record-Route URI parameter by which the general path marks the dialogs it
// owns (;herald=general): a request routed by such an entry is the general path's.
const DialogParam = "herald"

// DrainRetryAfter is the Retry-After (seconds) of the 503 to an INVITE that arrives during a drain:
// long enough that the previous hop picks another instance, short enough for a restart.
const DrainRetryAfter = "10"

// timer100 is when the server transaction of an INVITE sends 100 Trying if nothing else went
// upstream (RFC 3261 §17.2.1: 200 ms).
const timer100 = 200 * time.Millisecond

// Transaction states.
const (
	fsCalling    = iota // forwarded, nothing back yet
	fsProceeding        // a provisional came back
	fsCompleted         // a final non-2xx went upstream (INVITE: until the ACK; non-INVITE: Timer J)
	fsAccepted          // a 2xx went upstream (RFC 6026): absorbs INVITE retransmissions, relays 2xx ones
)

// Tx is one transaction of the engine: the server transaction toward the upstream peer and the
// client transaction toward the next hop, as one object (RFC 3261 §16: a transaction-stateful
// proxy). Its fields are the engine's, guarded by its lock; the host only keeps the pointer (its
// admission table names the call's owner by it).
type Tx struct {
	id     uint64
	branch string // upstream branch (key of Engine.inv / nonInv)
	callID string // INVITE: admitted under it until the call ends
	up     netip.AddrPort
	conn   Conn
	last   []byte // the response last sent upstream (answers a retransmitted request; Timer G)

	okTag    string // To tag of the 2xx relayed upstream: the dialog whose ACKs the engine forwards
	tag      string // To tag of Herald's own final response (487 and the CANCEL's 200 share it)
	final    int    // status of the final response sent upstream, 0 before
	cseq     uint32 // the INVITE's CSeq number (its 2xx's ACK has the same)
	state    uint8  // fsCalling, ...
	invite   bool
	canceled bool // the caller cancelled, or Timer C fired: Herald sent CANCEL downstream
	// own: a request on Herald's own early dialog, answered by the host (own.go); lv.fwd is then
	// the header lines every answer to it copies
	own bool
	// host: the INVITE of a call the host runs (hostinvite.go): a client transaction only, whose
	// responses go to lv.sink
	host bool
	// tcp: the transaction came in and goes on over TCP (Stream): nothing is retransmitted on a
	// timer (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1: Timers A, E and G are for unreliable
	// transports only)
	tcp   bool
	ended bool // the call was counted done
	// compacted: the transaction is in Engine.ret (retained.go) and in no table or wheel any more
	compacted bool
	end       int64  // when the transaction is forgotten (Timers D, H, J; RFC 6026 Timer L); 0 = not set
	rkey      uint64 // its key in Engine.ret (retained.key)

	// lv is what the transaction needs until it is only kept for retransmissions (an INVITE
	// answered 2xx, RFC 6026's accepted state; a BYE or INFO answered, RFC 3261 Timer J): then
	// the transaction is compacted into a record of bytes (Engine.compact, retained.go) and the Tx
	// dropped, or, when it cannot be, lv alone is dropped (retain), since at a sustained call rate R
	// the engine keeps R × 64·T1 finished transactions (BenchmarkRetainedPerCall).
	lv *txLive

	wn wheel.Node[*Tx] // in Engine.w at due()
}

// txLive is the part of a transaction used only while it is in progress (or, for an INVITE
// answered with a non-2xx or cancelled, until it ends: the ACK, Timer G, the CANCEL, a late 2xx).
type txLive struct {
	down netip.AddrPort
	name *dnsEntry        // the name answer down came from (nil: an address), where an INVITE fails over
	t    [numTimers]int64 // deadlines on the engine's clock; 0 = off

	fwd []byte // the request as forwarded (retransmissions; CANCEL and ACK are built from it)
	// done receives the final response (its status and body) of a request Herald originated
	// (Engine.Originate; 408 and no body at Timer F); nil for a forwarded one.
	done func(code int, body []byte)
	// sink receives the responses to the INVITE of a call the host runs (Engine.ForwardInvite);
	// nil once the host let go of it (EndInvite)
	sink func(res []byte)
	ack  []byte // the ACK sent downstream for a non-2xx (sent again for a retransmitted final)
	cncl []byte // Herald's CANCEL downstream while unanswered

	sentUp    bool  // a response (100 included) went upstream
	gotProv   bool  // a provisional came back from downstream (a CANCEL may go, RFC 3261 §9.1)
	born      int64 // INVITE: f.now() when it arrived (call-setup histogram, call line)
	ivRetrans int64
	ivFinal   int64
	ivCancel  int64
}

// retain drops the in-progress part of tx, which from now on only absorbs retransmissions until
// Timer J or L (Tx.end). Under f.mu.
func (tx *Tx) retain() { tx.lv = nil }

// Conn is a UDP socket the host serves: the engine answers and forwards from the socket a
// datagram came in on. A Stream is the host's TCP transport as one Conn.
type Conn interface {
	Send(b []byte, to netip.AddrPort) error
}

// Stream is the host's SIP over TCP (RFC 3261 §18) as the engine sends on it: Send writes a whole
// message on the connection open to or from the address, and fails when there is none. The engine
// takes a message read from a TCP connection (Engine.Take with the Stream as the Conn, from the
// peer's address) when its top Via says TCP, answers it over the connection it came on (§18.2.2),
// and forwards it only over TCP, to a next hop named ;transport=tcp that Connected reports a
// connection to: opening one is the general path's (sipgo's), whose connections the Stream shares,
// so the first request toward a new next hop goes that way and the next ones take the fast path.
//
// Open is Send for an INVITE the engine sends on to a name's next target (RFC 3263 §4.3), which no
// call may have reached: it opens a connection when none is open (off the caller's goroutine).
type Stream interface {
	Conn
	Connected(to netip.AddrPort) bool
	Open(b []byte, to netip.AddrPort) error
}

// opener is a Stream whose Send opens a connection when none is open (Stream.Open).
type opener struct{ s Stream }

func (o opener) Send(b []byte, to netip.AddrPort) error { return o.s.Open(b, to) }

// Datagram is a datagram the engine sends (queued under its lock, sent once it is released).
type Datagram struct {
	Conn Conn
	B    []byte
	To   netip.AddrPort
}

// AdmitResult is the admission's answer to a new call.
type AdmitResult uint8

const (
	AdmitOK   AdmitResult = iota
	AdmitLoop             // the Call-ID is in progress: a loop or a spiral (482, RFC 3261 §16.3 step 4)
	AdmitFull             // max calls in progress (503)
)

// Host is what the engine asks of the proxy it serves (core/signal): who the proxy is, whom it
// trusts, which calls are plain, which calls are in progress on either path, and the few things only
// a full parser can do. Its methods may be called with the engine's lock held: they must not call
// the engine.
type Host interface {
	// Self reports whether host:port names this proxy (RFC 3261 §16.4 for a Route, §16.5 for the
	// Request-URI); defPort is the URI transport's default port, for a URI without one.
	Self(host []byte, port, defPort int) bool
	// Trusted reports whether ip may start calls.
	Trusted(ip netip.Addr) bool
	// Plain reports whether the call callID from caller to callee (URIs as in the request) is to be
	// forwarded plain: no card either way and no ringback, given whether the caller supports
	// reliable provisional responses (RFC 3262), or the host sheds its cards under overload (every
	// copy of the INVITE must get the same answer).
	Plain(callID, caller, callee []byte, reliable1xx bool) bool
	// NextHop is where an INVITE without a Route goes, and the transport its URI names: "" (none:
	// UDP, or TCP for a request too big for UDP), "udp" or "tcp"; ok is false when it is TLS, or a
	// name to resolve by NAPTR/SRV.
	NextHop() (host []byte, port int, transport []byte, ok bool)
	// Draining reports whether new calls are refused (503 with Retry-After).
	Draining() bool
	// MaxCalls is the limit of calls in progress on both paths.
	MaxCalls() int
	// Admit records callID as the engine's call tx, unless that Call-ID is in progress on either
	// path (AdmitLoop) or MaxCalls are (AdmitFull); Release ends it if tx still holds it.
	Admit(callID string, tx *Tx) AdmitResult
	Release(callID string, tx *Tx)
	// General reports whether the general path carries the call callID; Calls is the calls in
	// progress on both paths.
	General(callID string) bool
	Calls() int
	// Reject is the host's answer to a request the scanner refused that the general path could not
	// key a transaction by (no usable Via or CSeq), nil to hand it to the general path.
	Reject(data []byte) []byte
	// Normalize is a response the scanner refused as the general path's parser reads and prints it,
	// nil when that parser cannot read it either.
	Normalize(data []byte) []byte
	// Late2xx hands the 2xx that crossed Herald's CANCEL (RFC 3261 §15) to the general path, which
	// ACKs and BYEs it; fwd is the INVITE as forwarded.
	Late2xx(fwd, res []byte)
	// Own hands the host a request on Herald's own early dialog, when the call callID has one with
	// To tag toTag (a PRACK for Herald's reliable 183, RFC 3262 §3), and reports whether it took it;
	// the host answers it once, later and from any goroutine, with Engine.AnswerOwn. False hands the
	// request to the general path (it belongs to some other dialog). Called without the engine's
	// lock; req is the host's.
	Own(callID, toTag []byte, req OwnRequest) bool
	// Recovered reports r, what recover() returned at one of the engine's boundaries: false when
	// there was no panic, otherwise the host counts and logs it and it is true.
	Recovered(r any) bool
}

// Counters are the proxy's own counters the engine adds to (each may be nil).
type Counters struct {
	Invites, Forwarded, Rejected503, BadRequests, Cancels, CallsDone, ForwardErrors, DrainAborted *atomic.Uint64
	// Active is the calls in progress whose INVITE has no final response.
	Active *atomic.Int64
}

// Config configures an Engine.
type Config struct {
	// ViaHost is the host the engine puts in its Via and Record-Route; ViaPort the UDP port and
	// TCPPort the TCP one, read per request (the host may learn them after the engine is built).
	ViaHost string
	ViaPort func() int
	TCPPort func() int
	// RecordRoute keeps the proxy in the path of the dialogs it forwards (RFC 3261 §16.6 step 4).
	RecordRoute bool
	// T1, T2 and TimerC are RFC 3261's (§17.1.1.1, §16.6 step 11): defaults 500 ms, 8·T1, 180 s.
	T1, T2, TimerC time.Duration
	// MaxRequest is the largest request forwarded over UDP (RFC 3261 §18.1.1); a larger one goes to
	// the general path, which sends it over TCP. Default 1300.
	MaxRequest int
	// Clock is every instant of the engine (timers, call durations); nil is the monotonic clock. With
	// a *wheel.Manual the engine runs no ticker: its owner steps the clock and calls Tick.
	Clock wheel.Clock
	// Lookup resolves a name to its addresses (A/AAAA) for the name cache (dns.go); nil: names are
	// never resolved and take the general path.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// LookupSRV finds a name's SRV records for a URI without a port (RFC 3263 §4.2), ordered by
	// priority, then weight (net.Resolver.LookupSRV's order); nil: such a name is taken to have none
	// (A/AAAA at the default port).
	LookupSRV func(ctx context.Context, service, proto, name string) ([]SRV, error)
	// Names, when set, is the name cache the engine shares with its host (Lookup and LookupSRV are
	// then not used): the host's general path resolves through the same answers.
	Names *Names
	// Log receives warnings and each call's one info line; nil discards them.
	Log *slog.Logger
	// Trace, when set, receives one line per step (the demo prints them).
	Trace func(line string)
	// FinalLatency, when set, receives the time from each INVITE to its final response upstream.
	FinalLatency func(d time.Duration)
	// Stray2xx, when set, is what a 2xx without a transaction (msg, Herald's Via off) becomes before
	// it is relayed statelessly: the host strips the callee's early-session answer from a card
	// call's 2xx retransmissions, as its controller did from the first (callsip.Stripped).
	Stray2xx func(callID, msg []byte) []byte
	// Stats are the engine's counters; Counters the proxy's it adds to.
	Stats    *Stats
	Counters Counters
}

// Stats are the engine's counters.
type Stats struct {
	// Calls is the calls proxied by the engine; Fallbacks the new INVITEs it handed to the general
	// path (a card or ringback, TCP/TLS, DNS, size, trust, Max-Forwards, ...).
	Calls, Fallbacks atomic.Uint64
	// InDialog is the in-dialog requests (ACK for 2xx, BYE, INFO) it forwarded.
	InDialog atomic.Uint64
	// Retransmissions is the requests and responses it sent again on a timer (A, E, G) or for a
	// retransmitted request; Absorbed the retransmissions it answered without forwarding.
	Retransmissions, Absorbed atomic.Uint64
	// Timeouts is the transactions that ended without a final response downstream (Timer B, F, C).
	Timeouts atomic.Uint64
	// Stray is the responses to an engine branch that matched no transaction (a 2xx is relayed
	// statelessly, anything else dropped).
	Stray atomic.Uint64
	// SendErrors is the messages that could not be sent: a UDP socket refused them, or no TCP
	// connection to the peer was open any more (a response is not sent on a new connection to the
	// Via's sent-by, RFC 3261 §18.2.2, as the general path would).
	SendErrors atomic.Uint64
	// Unreadable is the responses naming an engine branch that neither the scanner nor the general
	// path's parser could read (left to the general path, which drops them).
	Unreadable atomic.Uint64
	// DNSLookups is the lookups of Route, next-hop and Via names (dns.go), DNSSRV those answered
	// through SRV records, DNSNAPTR those that NAPTR records led to (RFC 3263 §4.1); DNSFailures
	// those that failed; DNSFull the requests that took the general path because the name cache was
	// full.
	DNSLookups, DNSSRV, DNSNAPTR, DNSFailures, DNSFull atomic.Uint64
	// DNSDown is the destinations marked down after a request to them went unanswered (RFC 3263
	// §4.3 failover, dns.go); DNSDownFull the marks not kept because the list was full.
	DNSDown, DNSDownFull atomic.Uint64
	// DNSFailovers is the requests the general path sent again at once to their name's next target
	// after theirs refused them (Names.DownAt); DNSRetargets the INVITEs the engine sent on to the
	// next target when theirs let them go unanswered (retarget).
	DNSFailovers, DNSRetargets atomic.Uint64
	// Overload is the requests answered 503 because the engine held its limit of transactions
	// (MaxTxFactor × MaxCalls).
	Overload atomic.Uint64
	// Reconnects is the messages sent over TCP on a connection opened for them: responses whose
	// request's connection closed (RFC 3261 §18.2.2) and INVITEs sent on to a name's next target
	// (RFC 3263 §4.3; the host's Stream counts them); ReconnectFailed those that could not be (no
	// usable Via address, the connection failed, or too many being opened at once).
	Reconnects, ReconnectFailed atomic.Uint64
	// OwnUnanswered is the requests on Herald's own early dialog (own.go) the host did not answer
	// within 64·T1: the engine answered them 500.
	OwnUnanswered atomic.Uint64
	// Originated is the requests Herald originated on the engine (Engine.Originate: the UPDATE of
	// its own early dialog).
	Originated atomic.Uint64
	// HostInvites is the INVITEs of calls the host runs (calls with cards, and plain calls the
	// engine left to it, e.g. a caller over TCP toward a UDP next hop) the engine forwarded over UDP
	// on its client transactions (Engine.ForwardInvite).
	HostInvites atomic.Uint64
	// Verdicts counts every datagram offered to the engine by the reason of its verdict
	// (verdict.go): kept (fast), dropped, or handed to the general path.
	Verdicts [numReasons]atomic.Uint64
}

// Faults are test-only injection points: a test stores a function that panics, to prove a boundary
// holds. Production code never sets them; a nil pointer costs one atomic load.
type Faults struct {
	Take   atomic.Pointer[func([]byte)]   // in Take, before the scan
	Tick   atomic.Pointer[func(struct{})] // in Tick, under the lock
	Locked atomic.Pointer[func([]byte)]   // in the handling of an INVITE, under the lock
	Fire   atomic.Pointer[func(*Tx)]      // in Tick, for each transaction due
}

func fire[T any](h *atomic.Pointer[func(T)], v T) {
	if f := h.Load(); f != nil {
		(*f)(v)
	}
}

// Engine is the fast path's SIP engine: a transaction-stateful proxy for plain calls over UDP or
// TCP (Stream).
type Engine struct {
	cfg   Config
	host  Host
	st    *Stats
	ctr   Counters
	t1    int64
	t2    int64
	tick  int64
	clock wheel.Clock
	seed  maphash.Seed
	bkey  [2]uint64 // the key of the branches' MAC (branchOf), random per engine
	log   *slog.Logger

	// Faults are for tests only.
	Faults Faults

	dns   *hostCache // names.c
	names *Names

	conns  atomic.Pointer[[]Conn]
	stream atomic.Pointer[streamRef] // the host's TCP (AddConn with a Stream), nil without one

	mu     sync.Mutex
	inv    map[string]*Tx // INVITE transactions by upstream branch
	nonInv map[string]*Tx // BYE/INFO transactions by upstream branch
	out    map[uint64]*Tx // every transaction by Herald's branch id
	// dialogs are the calls answered 2xx in the last 64·T1, by Call-ID: the ACKs for their 2xx
	// (same Call-ID, the 2xx's To tag) are forwarded here; any other ACK without a transaction
	// goes to the general path, whose server transaction may be waiting for it (the ACK of a
	// non-2xx it sent).
	dialogs map[string]*Tx
	// own482 are the transaction keys of the 482s the engine answered without state, two
	// generations of 64·T1: the caller's ACK for one ends here.
	own482   [2]map[string]struct{}
	own482At int64
	// ret holds the finished transactions compacted (retained.go), which are in none of the
	// tables above.
	ret    retained
	w      *wheel.Wheel[*Tx]
	due    []*wheel.Node[*Tx]
	firing int // the index in due Tick fires (its recovery links those after it again)
	// timedOut are the sinks of host INVITEs Timer B ended during a Tick (ForwardInvite), told
	// once the lock is released.
	timedOut []func([]byte)

	nextID atomic.Uint64
	active atomic.Int64
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

var discardLog = slog.New(slog.DiscardHandler)

// New builds an engine serving host. Unless cfg.Clock is a *wheel.Manual it runs its timers on a
// goroutine of its own, every tick (T1/4, at most 10 ms), until Close.
func New(cfg Config, host Host) *Engine {
	if cfg.T1 <= 0 {
		cfg.T1 = 500 * time.Millisecond
	}
	if cfg.T2 <= 0 {
		cfg.T2 = 8 * cfg.T1 // RFC 3261: T2 4 s with T1 500 ms
	}
	if cfg.TimerC <= 0 {
		cfg.TimerC = 180 * time.Second
	}
	if cfg.MaxRequest <= 0 {
		cfg.MaxRequest = 1300
	}
	if cfg.ViaPort == nil {
		cfg.ViaPort = func() int { return 0 }
	}
	if cfg.TCPPort == nil {
		cfg.TCPPort = func() int { return 0 }
	}
	if cfg.Clock == nil {
		cfg.Clock = wheel.NewMono()
	}
	if cfg.Stats == nil {
		cfg.Stats = new(Stats)
	}
	f := &Engine{
		cfg: cfg, host: host, st: cfg.Stats, ctr: cfg.Counters, t1: int64(cfg.T1), t2: int64(cfg.T2),
		clock: cfg.Clock, seed: maphash.MakeSeed(), log: cfg.Log,
		inv: map[string]*Tx{}, nonInv: map[string]*Tx{}, out: map[uint64]*Tx{},
		dialogs: map[string]*Tx{}, own482: [2]map[string]struct{}{{}, {}},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	f.ret = newRetained(f.seed)
	if f.log == nil {
		f.log = discardLog
	}
	f.nextID.Store(rand.Uint64() >> 16)
	f.bkey = [2]uint64{cryptoUint64(), cryptoUint64()}
	f.tick = int64(10 * time.Millisecond)
	if q := f.t1 / 4; q < f.tick {
		f.tick = max(q, int64(time.Millisecond))
	}
	f.w = wheel.New[*Tx](time.Duration(f.tick), wheelSlots, f.now())
	if f.names = cfg.Names; f.names == nil {
		f.names = NewNames(cfg.Lookup, cfg.LookupSRV, f.clock, f.st)
	}
	f.dns = f.names.c
	f.dns.mu.Lock()
	f.dns.strict = true // the engine sends only to the family of its sockets (AddConn)
	f.dns.mu.Unlock()
	if _, stepped := f.clock.(*wheel.Manual); stepped {
		close(f.done) // a stepped clock's owner runs the timers (Tick) after each step
	} else {
		go f.run()
	}
	return f
}

// Close stops the timers and, when the engine made its own name cache, closes it (Names.Close);
// a Config.Names is its owner's to close.
func (f *Engine) Close() {
	f.once.Do(func() { close(f.stop) })
	<-f.done
	if f.cfg.Names == nil {
		f.names.Close()
	}
}

// Transactions is the number of transactions the engine holds (calls in progress, and finished
// ones kept 64·T1 for retransmissions).
func (f *Engine) Transactions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.txCount()
}

// txCount is Transactions under f.mu.
func (f *Engine) txCount() int { return len(f.out) + f.ret.n }

// Calls is the calls in progress the engine carries (INVITE without a final response upstream).
func (f *Engine) Calls() int { return int(f.active.Load()) }

// add adds one to a proxy counter, if the host gave it.
func add(c *atomic.Uint64) {
	if c != nil {
		c.Add(1)
	}
}

func (f *Engine) tracing() bool { return f.cfg.Trace != nil }

func (f *Engine) trace(format string, args ...any) {
	if f.cfg.Trace != nil {
		f.cfg.Trace(fmt.Sprintf(format, args...))
	}
}

// target is the UDP (tcp false) or TCP destination a URI names: its IP literal, or its name's
// cached answer (RFC 3263 §4.2: A/AAAA with the URI's port, SRV for the transport without one). ok
// is false for another transport or a name not cached yet: the general path sends those. A URI
// naming a name and neither port nor transport goes over the transport DNS names (§4.1, NAPTR,
// else SRV per transport; UDP without any), on the fast path only when it is the one the request
// came over; over TCP, too, when DNS named UDP but the request is too big for it (big: RFC 3261
// §18.1.1, as the general path does).
func (f *Engine) target(u sipURI, tcp, big bool) (netip.AddrPort, *dnsEntry, bool) {
	name := !maybeIP(u.host) // not parsed as an address then (a failed parse allocates its error)
	var ip netip.Addr
	if !name {
		var err error
		ip, err = netip.ParseAddr(string(u.host))
		name = err != nil
	}
	if name && u.port == 0 && len(u.transport) == 0 {
		ap, e, overTCP, ok := f.dns.getAnswer(u.host, dnsSIPAuto, 0)
		if ok && overTCP == tcp {
			return ap, e, f.dns.sendable(ap)
		}
		if !ok || !tcp || !big {
			return netip.AddrPort{}, nil, false // not cached yet, or the other transport: the general path
		}
	}
	switch {
	case tcp && (equalFold(u.transport, "tcp") || big && len(u.transport) == 0):
	case !tcp && (len(u.transport) == 0 || equalFold(u.transport, "udp")):
	default:
		return netip.AddrPort{}, nil, false
	}
	port := u.port
	if !name {
		if ip.Zone() != "" {
			return netip.AddrPort{}, nil, false
		}
		if port == 0 {
			port = 5060
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil, true
	}
	tp := "udp"
	if tcp {
		tp = "tcp"
	}
	ap, e, ok := f.dns.get(u.host, kindFor(tp, port), port)
	return ap, e, ok && f.dns.sendable(ap)
}

func (f *Engine) now() int64 { return f.clock.Now() }

// streamRef holds the host's Stream (an atomic.Pointer needs a concrete type).
type streamRef struct{ s Stream }

// AddConn registers a socket the host serves (the first one sends the 2xx relayed without a
// transaction); ipv6Only says its names resolve to IPv6 addresses. A Stream is the host's TCP: one
// at most, never chosen by connToward.
func (f *Engine) AddConn(c Conn, ipv6Only bool) {
	if s, ok := c.(Stream); ok {
		f.stream.Store(&streamRef{s})
	}
	if ipv6Only {
		f.dns.v6.Store(true)
	}
	for {
		old := f.conns.Load()
		var next []Conn
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, c)
		if f.conns.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Conns are the sockets AddConn registered.
func (f *Engine) Conns() []Conn {
	if cs := f.conns.Load(); cs != nil {
		return *cs
	}
	return nil
}

// Reacher is a Conn that says which destinations its socket can send to (an IPv4 socket no IPv6
// address, an IPv6-only socket no IPv4 one); a Conn that does not implement it is taken to reach
// every address.
type Reacher interface {
	Reaches(ip netip.Addr) bool
}

// connToward is the first UDP socket that reaches ip, nil when none does: what Herald originates
// (Originate) and what it relays by a UDP Via alone (relayStateless) leaves from it.
func (f *Engine) connToward(ip netip.Addr) Conn {
	for _, c := range f.Conns() {
		if _, tcp := c.(Stream); tcp {
			continue
		}
		if r, ok := c.(Reacher); !ok || r.Reaches(ip) {
			return c
		}
	}
	return nil
}

// streamTo is the host's Stream when it has a connection to dst, nil otherwise.
func (f *Engine) streamTo(dst netip.AddrPort) Stream {
	if r := f.stream.Load(); r != nil && r.s.Connected(dst) {
		return r.s
	}
	return nil
}

// isStream reports whether c is the host's TCP.
func isStream(c Conn) bool {
	_, ok := c.(Stream)
	return ok
}

// Take offers the engine a datagram read from c's socket from src; data is the caller's until
// Take returns. It reports whether the engine kept it (verdict fast or drop); false hands it to
// the general path. Every datagram's reason is counted (Stats.Verdicts). A panic is recovered here
// (Host.Recovered), the lock released if the panicking code held it, and a request other than ACK
// answered 500 statelessly from c.
func (f *Engine) Take(data []byte, src netip.AddrPort, c Conn) (took bool) {
	var m fmsg
	defer func() {
		if r := recover(); f.host.Recovered(r) {
			if m.locked {
				m.locked = false
				f.mu.Unlock()
			}
			took = f.verdictOf(ReasonFault)
			var q fmsg
			if c != nil && q.scan(data) && q.isReq && q.method != mACK {
				res := appendAnswer(make([]byte, 0, len(data)/2+128), &q, src, false, 500, "Server Internal Error", "Retry-After: 5\r\n", "")
				if err := c.Send(res, src); err != nil {
					f.st.SendErrors.Add(1)
				}
			}
		}
	}()
	fire(&f.Faults.Take, data)
	return f.verdictOf(f.take(&m, data, src, c))
}

// take is Take without the recovery net and the count: the reason the datagram gets.
func (f *Engine) take(m *fmsg, data []byte, src netip.AddrPort, c Conn) Reason {
	if !m.scan(data) {
		// A response to one of the engine's requests must reach its transaction even when the
		// next hop formats it in a way the scanner refuses (folded lines, compact oddities): read
		// it with the general path's parser, print it canonically and scan that.
		if !bytes.HasPrefix(data, []byte("SIP/2.0 ")) {
			return f.rejectEarly(data, src, c)
		}
		if !bytes.Contains(data, []byte(BranchPrefix)) {
			return ReasonUnscanned
		}
		norm := f.host.Normalize(data)
		if norm == nil || !m.scan(norm) {
			if norm != nil && f.hostLoose(m, norm) {
				return ReasonResponse
			}
			f.st.Unreadable.Add(1)
			return ReasonUnreadable
		}
	}
	if m.isReq && m.n > maxHeaderLines-maxAddedLines {
		// What the engine forwards or answers from it must scan too: Herald's Via and
		// Record-Route could take its copy past the bound (its CANCEL, ACK and 408 then built
		// from nothing). The general path takes it.
		return ReasonUnscanned
	}
	return f.handle(m, src, c)
}

// rejectEarly answers from c a request the general path could not key a transaction by
// (Host.Reject) (ReasonAnswered); the general path gets the others.
func (f *Engine) rejectEarly(data []byte, src netip.AddrPort, c Conn) Reason {
	res := f.host.Reject(data)
	if res == nil || c == nil {
		return ReasonUnscanned
	}
	add(f.ctr.BadRequests)
	if err := c.Send(res, src); err != nil {
		f.st.SendErrors.Add(1)
	}
	return ReasonAnswered
}

// lock takes f.mu for the handling of m; m remembers it, so that Take can release it after a
// panic.
func (f *Engine) lock(m *fmsg) {
	f.mu.Lock()
	m.locked = true
}

func (f *Engine) unlock(m *fmsg) {
	m.locked = false
	f.mu.Unlock()
}

// tagOf is the tag parameter of a To (or From) value, nil when it has none.
func tagOf(v []byte) []byte {
	_, params, ok := nameAddr(v)
	if !ok {
		return nil
	}
	for len(params) > 0 {
		i := bytes.IndexByte(params, ';')
		if i < 0 {
			return nil
		}
		params = params[i+1:]
		p := params
		if e := bytes.IndexByte(p, ';'); e >= 0 {
			p = p[:e]
		}
		if k, v, ok := bytes.Cut(trimBlanks(p), []byte("=")); ok && equalFold(trimBlanks(k), "tag") {
			return trimBlanks(v)
		}
	}
	return nil
}

func (f *Engine) handle(m *fmsg, src netip.AddrPort, c Conn) Reason {
	if !m.isReq {
		return f.onResponse(m)
	}
	if m.viaTCP != isStream(c) {
		return ReasonTransport // a Via naming another transport than the request came over
	}
	switch m.method {
	case mINVITE:
		if m.toTag {
			return ReasonMethod // re-INVITE: the general path
		}
		return f.onInvite(m, src, c)
	case mACK:
		return f.onAck(m, src, c)
	case mCANCEL:
		return f.onCancel(m, src, c)
	case mBYE, mINFO:
		if !m.toTag {
			return ReasonOutOfDialog
		}
		return f.onInDialog(m, src, c)
	case mPRACK:
		if !m.toTag {
			return ReasonMethod // out of any dialog: the general path answers it
		}
		return f.onOwn(m, src, c)
	}
	return ReasonMethod
}

// flush sends what was queued under the lock.
func (f *Engine) flush(q []Datagram) {
	for _, d := range q {
		if len(d.B) == 0 {
			continue
		}
		if err := d.Conn.Send(d.B, d.To); err != nil {
			f.st.SendErrors.Add(1)
			f.log.Debug("fast path send", "to", d.To.String(), "error", err)
		}
	}
}
