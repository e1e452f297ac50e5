package uesim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Lean is a pair of simulated terminals for load generation without sipgo: a caller side and a
// callee side (the next hop after Herald, S-CSCF and terminal in one UA), each one UDP socket
// read by one goroutine that acts on every datagram at once, with the SIP the push flows use
// written and read by hand (leanmsg.go). It speaks the flow Caller and Callee speak (see the
// package doc): 100rel with PRACK and RSeq/RAck (RFC 3262), the UPDATE's answer (RFC 3311), the
// early-session answer in a reliable 183 (RFC 3959), ACK and BYE, CANCEL on timeout; it
// retransmits its requests, reliable provisionals and 2xx (RFC 3261 §17.1.1.2, §17.1.2.2,
// §13.3.1.4, RFC 3262 §3) and answers retransmitted requests with the response it already sent.
// Pages are fetched and verified as Fetch does.
//
// What it leaves out, next to Caller and Callee: TCP, the message record and the trace, the fault
// options, forking beyond one dialog per To-tag, ringback's RTP accounting. A second INVITE in one
// Call-ID after the first exchange ended (Herald's resend without the caller card's part after a
// broken answer) is a new call for the callee side; the call's callee report stays the first's.
//
// It exists because on one box the generator's CPU is taken from Herald's: with sipgo's
// transactions (a goroutine, channels and timers per transaction) the terminals cost more CPU per
// call than Herald and fell behind their own schedule near 900 push calls/s
// (bench/results/sip-push.md, sessions 10 and 11).
type Lean struct {
	o                  LeanOptions
	caller, callee     *net.UDPConn
	callerAP, calleeAP netip.AddrPort
	host               string
	callerURI          string // the caller side's Contact URI
	calleeURI          string

	shards [16]leanShard
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Refused counts datagrams the lean parser refused (dropped); Unmatched counts requests for
	// calls neither side knows (answered 481) and responses no call waits for (dropped).
	Refused, Unmatched atomic.Int64
}

// LeanOptions configure a Lean pair. Zero values take the defaults named on each field.
type LeanOptions struct {
	// Callee is the callee side's UDP address (Herald's next hop); default "127.0.0.1:0".
	Callee string
	// RingTime is how long the callee rings, from the INVITE, before its 200 (which also waits for
	// the caller card's fetch); 0 means DefaultRingTime, negative answers at once.
	RingTime time.Duration
	// HoldTime is how long the call stays up between ACK and BYE; 0 or negative: BYE at once.
	HoldTime time.Duration
	// FetchTimeout bounds each MSRP page fetch; default 10 s.
	FetchTimeout time.Duration
	// T1 is the round-trip estimate of every retransmission timer (RFC 3261 §17.1.1.1); default
	// 500 ms. T2 is 4 s.
	T1 time.Duration
	// RTPPort is the first (fake) RTP port of the caller's SDP offers and answers; default 30000.
	// CalleeRTPPort is the callee side's; default 40000.
	RTPPort, CalleeRTPPort int
}

const leanT2 = 4 * time.Second

type leanShard struct {
	mu    sync.Mutex
	calls map[string]*leanCall
}

// NewLean opens both sockets and starts their readers.
func NewLean(o LeanOptions) (*Lean, error) {
	if o.Callee == "" {
		o.Callee = "127.0.0.1:0"
	}
	if o.RingTime == 0 {
		o.RingTime = DefaultRingTime
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 10 * time.Second
	}
	if o.T1 <= 0 {
		o.T1 = 500 * time.Millisecond
	}
	if o.RTPPort == 0 {
		o.RTPPort = 30000
	}
	if o.CalleeRTPPort == 0 {
		o.CalleeRTPPort = 40000
	}
	l := &Lean{o: o}
	for i := range l.shards {
		l.shards[i].calls = map[string]*leanCall{}
	}
	ce, err := net.ResolveUDPAddr("udp", o.Callee)
	if err != nil {
		return nil, fmt.Errorf("uesim: lean callee %q: %w", o.Callee, err)
	}
	if l.callee, err = net.ListenUDP("udp", ce); err != nil {
		return nil, fmt.Errorf("uesim: lean callee: %w", err)
	}
	l.calleeAP = l.callee.LocalAddr().(*net.UDPAddr).AddrPort()
	if l.caller, err = net.ListenUDP("udp", &net.UDPAddr{IP: ce.IP}); err != nil {
		l.callee.Close()
		return nil, fmt.Errorf("uesim: lean caller: %w", err)
	}
	l.callerAP = l.caller.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, s := range []*net.UDPConn{l.caller, l.callee} {
		_ = s.SetReadBuffer(4 << 20) // as Herald's sockets: a burst must not overflow the default
		_ = s.SetWriteBuffer(4 << 20)
	}
	l.host = l.calleeAP.Addr().String()
	l.callerURI = "sip:caller@" + l.callerAP.String()
	l.calleeURI = "sip:callee@" + l.calleeAP.String()
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.wg.Add(2)
	go l.serve(l.caller, false)
	go l.serve(l.callee, true)
	return l, nil
}

// CalleeAddr is the callee side's address ("127.0.0.1:port"): Herald's next hop.
func (l *Lean) CalleeAddr() string { return l.calleeAP.String() }

// Close stops both sides; calls in progress are abandoned.
func (l *Lean) Close() error {
	l.cancel()
	err := errors.Join(l.caller.Close(), l.callee.Close())
	l.wg.Wait()
	return err
}

func (l *Lean) shard(id []byte) *leanShard {
	h := uint32(2166136261)
	for _, c := range id {
		h = (h ^ uint32(c)) * 16777619
	}
	return &l.shards[h%uint32(len(l.shards))]
}

func (l *Lean) lookup(id []byte) *leanCall {
	s := l.shard(id)
	s.mu.Lock()
	c := s.calls[string(id)]
	s.mu.Unlock()
	return c
}

func (l *Lean) add(c *leanCall) bool {
	s := l.shard([]byte(c.id))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.calls[c.id]; dup {
		return false
	}
	s.calls[c.id] = c
	return true
}

// forget drops c after 64·T1, the longest a peer retransmits a request or a 2xx at it (RFC 3261
// §17.2.2 Timer J, §13.3.1.4).
func (l *Lean) forget(c *leanCall) {
	time.AfterFunc(64*l.o.T1, func() {
		s := l.shard([]byte(c.id))
		s.mu.Lock()
		if s.calls[c.id] == c {
			delete(s.calls, c.id)
		}
		s.mu.Unlock()
	})
}

// serve reads one socket and acts on every datagram on this goroutine.
func (l *Lean) serve(sock *net.UDPConn, callee bool) {
	defer l.wg.Done()
	buf := make([]byte, 65536)
	var m leanMsg
	for {
		n, from, err := sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			continue
		}
		if err := m.parse(buf[:n]); err != nil {
			l.Refused.Add(1)
			continue
		}
		c := l.lookup(m.callID)
		if m.isReq {
			from = leanReplyTo(&m, from) // where every response to it goes
		}
		switch {
		case callee && m.isReq:
			l.calleeRequest(c, &m, buf[:n], from)
		case m.isReq:
			l.callerRequest(c, &m, from)
		case c != nil && !callee:
			c.callerResponse(&m)
		default:
			l.Unmatched.Add(1)
		}
	}
}

func (l *Lean) send(sock *net.UDPConn, b []byte, to netip.AddrPort) {
	_, _ = sock.WriteToUDPAddrPort(b, to)
}

// reply answers req with a bodiless response from sock (RFC 3261 §18.2.2: to the source).
func (l *Lean) reply(sock *net.UDPConn, req *leanMsg, to netip.AddrPort, code int, reason, tag string) []byte {
	var w leanWriter
	w.response(req, code, reason, tag)
	b := w.body("", nil)
	l.send(sock, b, to)
	return b
}

// leanRetx retransmits msg with RFC 3261's T1 doubling, capped at T2 (capped at once for a
// non-INVITE request's E timer after the first), until stopped or 64·T1 have passed; then
// expired runs, with the call's lock held.
type leanRetx struct {
	c        *leanCall
	sock     *net.UDPConn
	msg      []byte
	to       netip.AddrPort
	iv       time.Duration
	deadline time.Time
	t        *time.Timer
	stopped  bool
	expired  func()
}

func (c *leanCall) retransmit(sock *net.UDPConn, msg []byte, to netip.AddrPort, expired func()) *leanRetx {
	t1 := c.l.o.T1
	r := &leanRetx{c: c, sock: sock, msg: msg, to: to, iv: t1, deadline: time.Now().Add(64 * t1), expired: expired}
	c.l.send(sock, msg, to)
	r.t = time.AfterFunc(t1, r.fire)
	return r
}

func (r *leanRetx) fire() {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.stopped {
		return
	}
	if !time.Now().Before(r.deadline) {
		r.stopped = true
		if r.expired != nil {
			r.expired()
		}
		return
	}
	c.l.send(r.sock, r.msg, r.to)
	r.iv = min(2*r.iv, leanT2)
	r.t.Reset(r.iv)
}

// stop ends the retransmissions; nil-safe. Called with the call's lock held.
func (r *leanRetx) stop() {
	if r != nil && !r.stopped {
		r.stopped = true
		r.t.Stop()
	}
}

// LeanResult is what one Lean call produced: the caller's view as Caller.Call returns it (with
// Messages and Dialogs empty) and, when the callee side saw the call and finished it within the
// wait, the callee's view as Callee's OnDone reports it.
type LeanResult struct {
	Caller *CallResult
	Err    error
	Callee *CalleeCall
}

// Call places one call to target (Herald's host:port) from from to to (SIP URIs) and returns when
// the caller side is over and the callee side has reported (or FetchTimeout + 2 s later).
// Cancelling ctx before the final response sends CANCEL (the result then says Canceled).
func (l *Lean) Call(ctx context.Context, target, from, to string) LeanResult {
	c := &leanCall{l: l, id: randHex(12) + "@lean", start: time.Now(), callerDone: make(chan struct{}),
		calleeDone: make(chan struct{}), dialogs: map[string]*leanDialog{}}
	c.res = CallResult{CallID: c.id, Pages: map[Role][]byte{}, PageErrors: map[Role]error{}, Fetches: map[Role]FetchResult{}}
	c.res.Timings.Start = c.start
	ap, err := netip.ParseAddrPort(target)
	if err != nil {
		return LeanResult{Caller: &c.res, Err: fmt.Errorf("%w: target %q: %w", ErrProtocol, target, err)}
	}
	c.target = ap
	if !l.add(c) {
		return LeanResult{Caller: &c.res, Err: fmt.Errorf("%w: Call-ID %s in use", ErrProtocol, c.id)}
	}
	defer l.forget(c)
	c.mu.Lock()
	c.sendInvite(from, to)
	c.mu.Unlock()

	select {
	case <-c.callerDone:
	case <-ctx.Done():
		c.mu.Lock()
		c.onDeadline()
		c.mu.Unlock()
		<-c.callerDone
	case <-l.ctx.Done():
		return LeanResult{Caller: &c.res, Err: ErrClosed}
	}
	c.fetches.Wait() // no fetch starts once the caller side is over
	c.mu.Lock()
	res, cerr := c.res, c.err
	res.Timings.End = time.Since(c.start)
	answered := res.Final >= 200 && res.Final < 300
	c.mu.Unlock()
	out := LeanResult{Caller: &res, Err: cerr}
	if !answered {
		return out
	}
	t := time.NewTimer(l.o.FetchTimeout + 2*time.Second)
	defer t.Stop()
	select {
	case <-c.calleeDone:
		c.mu.Lock()
		ce := c.ce
		if c.ceFirst != nil {
			ce = *c.ceFirst
		}
		c.mu.Unlock()
		out.Callee = &ce
	case <-t.C:
	case <-l.ctx.Done():
	}
	return out
}

func leanNow(start time.Time) time.Duration { return max(time.Since(start), time.Nanosecond) }

// leanDest is where a request toward uri goes: its literal host:port, or def.
func leanDest(uri []byte, def netip.AddrPort) netip.AddrPort {
	if hp, ok := leanHostPort(uri); ok {
		if ap, err := netip.ParseAddrPort(hp); err == nil {
			return ap
		}
	}
	return def
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
