package rtp

import (
	"context"
	"encoding/binary"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-ims/herald/core/safe"
	"github.com/herald-ims/herald/netio/cpu"
)

// Wheel geometry: 1 ms slots, 256 of them (a stream whose next packet is further away than 256 ms
// is revisited once per turn until it is due).
const (
	slotNs    = int64(time.Millisecond)
	wheelSize = 256
	wheelMask = wheelSize - 1
	// maxBatch bounds the messages collected before a flush inside one slot.
	maxBatch = 1024
	// Lateness histogram: 100 µs buckets up to 100 ms, then one overflow bucket.
	lateBucketNs = int64(100 * time.Microsecond)
	lateBuckets  = 1001
	lateBoundNs  = int64(10 * time.Millisecond) // "late" for Stats.Late
	// Latching probes: an unlatched stream's RTP socket is read (non-blocking) every probeNs, its
	// RTCP socket every rtcpProbeEvery-th probe. See shard.probe for why not epoll.
	probeNs        = int64(200 * time.Millisecond)
	rtcpProbeEvery = 5
	// probeDrain bounds the datagrams one probe reads from a socket.
	probeDrain = 16
)

// command is a request from a caller goroutine to a shard: play (s is new) or stop.
type command struct {
	s    *Stream
	play bool
}

// pending is one datagram collected in a slot, sent at the slot's flush.
type pending struct {
	s       *Stream
	fd      int
	name    *sockaddr
	hdr     [12]byte
	payload []byte
	due     int64
	rtcp    bool
}

// shard is one timing wheel: one goroutine that owns its streams, their sockets and their state.
type shard struct {
	p  *Plane
	id int

	mu     sync.Mutex // guards inbox and closed
	inbox  []command
	closed bool
	wake   chan struct{} // buffered 1: post wakes a shard idling with no stream

	// Loop-owned.
	poll  *poller
	slots [wheelSize][]*Stream
	spare []*Stream
	cur   int64 // next slot to run, in ms since base
	live  map[*Stream]struct{}
	cmds  []command
	pend  []pending
	msgs  []mmsghdr
	iovs  []iovec
	rbuf  []byte

	// Counters, written by the loop, read by Stats.
	sent    atomic.Uint64
	octets  atomic.Uint64
	late    atomic.Uint64
	dropped atomic.Uint64
	rtcpOut atomic.Uint64
	playing atomic.Int64
	hist    [lateBuckets]atomic.Uint64

	tid    atomic.Int64 // the shard's OS thread once pinned (Options.CPUs), for tests
	locked bool         // the loop runs on its own locked, pinned OS thread (loop-owned)
}

func newShard(p *Plane, id int) (*shard, error) {
	pl, err := newPoller()
	if err != nil {
		return nil, err
	}
	return &shard{p: p, id: id, poll: pl, live: map[*Stream]struct{}{}, wake: make(chan struct{}, 1),
		rbuf: make([]byte, 2048)}, nil
}

// post hands a command to the loop; false when the shard has closed (its streams are then ended).
func (sh *shard) post(c command) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return false
	}
	sh.inbox = append(sh.inbox, c)
	select {
	case sh.wake <- struct{}{}:
	default:
	}
	return true
}

// pin locks the shard goroutine to its OS thread and pins the thread to CPU c. It returns the unpin
// to defer: it puts the thread's old mask back and unlocks; if that fails the goroutine stays locked
// and the runtime retires the thread when it exits, so a one-CPU thread never serves other
// goroutines. A pin failure (a cpuset narrowed since New checked the CPUs) is logged and the shard
// runs unpinned.
func (sh *shard) pin(c int) (unpin func()) {
	runtime.LockOSThread()
	restore, err := cpu.Pin([]int{c})
	if err != nil {
		sh.p.log.Warn("rtp shard runs unpinned", "shard", sh.id, "cpu", c, "error", err)
		return runtime.UnlockOSThread
	}
	sh.tid.Store(int64(cpu.Tid()))
	sh.locked = true
	return func() {
		sh.locked = false
		if err := restore(); err != nil {
			sh.p.log.Warn("rtp shard thread retired", "shard", sh.id, "error", err)
			return
		}
		runtime.UnlockOSThread()
	}
}

// run is the shard goroutine: run due slots, flush their packets, then sleep until the next slot.
func (sh *shard) run(ctx context.Context) {
	defer sh.shutdown()
	sh.cur = sh.p.now() / slotNs
	for ctx.Err() == nil && !sh.p.stopping.Load() {
		sh.step(ctx)
	}
}

// step is one turn of the shard loop: apply commands, then run the next slot if it is due or sleep
// until it is. It is the shard's outer recovery boundary (core/safe): a panic that runSlot did not
// attribute to a stream (in drain or a flush) is counted and logged, the datagrams collected so far
// are dropped and the wheel goes on with the next turn.
func (sh *shard) step(ctx context.Context) {
	defer func() {
		if r := recover(); safe.Recovered(safe.RTP, sh.p.log, r) {
			clear(sh.pend)
			sh.pend = sh.pend[:0]
		}
	}()
	hookPanic(sh, nil)
	// Commands are applied before every slot, so Stop takes effect within one slot even
	// when an overloaded shard is catching up on many late slots.
	now := sh.p.now()
	sh.drain(now)
	if len(sh.live) == 0 && sh.idle(ctx) {
		// Nothing plays: the shard slept until a command came (no wake-ups on an idle node);
		// the wheel resumes from now, its skipped slots hold only dead entries.
		sh.cur = sh.p.now() / slotNs
		return
	}
	if sh.cur*slotNs <= now {
		sh.runSlot(sh.cur)
		sh.cur++
		return
	}
	sh.sleep(sh.cur*slotNs - now)
}

// sleep waits d ns for the next slot. An unpinned shard parks in the Go scheduler (time.Sleep), which
// frees its P for other goroutines and costs one timer wake-up; a blocking epoll_wait instead would
// be a long syscall, which the runtime's sysmon answers by handing the P to another thread every
// time (measured: twice the context switches and ~13% more CPU at 5,000 streams). A pinned shard
// owns its OS thread, so there the thread itself sleeps in epoll_wait (time.Sleep on a locked
// thread would need another thread to hand the goroutine back).
func (sh *shard) sleep(d int64) {
	if sh.locked {
		sh.poll.sleep(int((d + slotNs - 1) / slotNs))
		return
	}
	time.Sleep(time.Duration(d))
}

// idle blocks while the shard has no stream and no command, until post wakes it or ctx ends. It
// reports whether it blocked.
func (sh *shard) idle(ctx context.Context) bool {
	sh.mu.Lock()
	pending := len(sh.inbox) > 0
	sh.mu.Unlock()
	if pending {
		return false
	}
	select {
	case <-sh.wake:
	case <-ctx.Done():
	}
	return true
}

// drain applies queued commands: new streams enter the wheel now, stopped ones leave it now.
func (sh *shard) drain(now int64) {
	sh.mu.Lock()
	sh.cmds, sh.inbox = sh.inbox, sh.cmds[:0]
	sh.mu.Unlock()
	for _, c := range sh.cmds {
		s := c.s
		if c.play {
			s.start, s.due = now, now
			s.deadline = now + int64(sh.p.opts.MaxDuration)
			s.nextSR = now + int64(sh.p.opts.RTCPInterval)
			s.nextProbe = now + probeNs
			sh.live[s] = struct{}{}
			sh.playing.Add(1)
			sh.insert(s)
			continue
		}
		if !s.dead {
			sh.end(s, nil)
		}
	}
	clear(sh.cmds)
}

func (sh *shard) insert(s *Stream) {
	slot := max(s.due/slotNs, sh.cur)
	sh.slots[slot&wheelMask] = append(sh.slots[slot&wheelMask], s)
}

// end removes s: it stays in its wheel slot as a dead entry that the slot drops when it runs.
func (sh *shard) end(s *Stream, reason error) {
	s.dead = true
	delete(sh.live, s)
	sh.playing.Add(-1)
	s.release(reason)
}

// runSlot sends every packet due before the end of slot t.
func (sh *shard) runSlot(t int64) {
	i := t & wheelMask
	list := sh.slots[i]
	sh.slots[i] = sh.spare[:0]
	limit := (t + 1) * slotNs
	now := sh.p.now()
	for k := 0; k < len(list); {
		k = sh.runStreams(list, k, limit, now)
	}
	clear(list)
	sh.spare = list[:0]
	sh.flush()
}

// runStreams runs the streams list[k:] of a slot and returns len(list). It is the per-stream recovery
// boundary (core/safe): when one stream's tick panics, that stream is stopped (ErrInternal) and its
// collected datagrams are dropped, the panic is counted in herald_panics_total{plane="rtp"} and
// logged, and runStreams returns the index after it, so that runSlot goes on with the others. One
// deferred call per slot, not per stream.
func (sh *shard) runStreams(list []*Stream, k int, limit, now int64) (next int) {
	defer func() {
		if r := recover(); safe.Recovered(safe.RTP, sh.p.log, r) {
			sh.drop(list[next])
			next++
		}
	}()
	for next = k; next < len(list); next++ {
		s := list[next]
		if s.dead {
			continue
		}
		hookPanic(sh, s)
		if now >= s.deadline {
			sh.end(s, ErrMaxDuration)
			continue
		}
		if s.due >= limit {
			sh.insert(s) // not this turn
			continue
		}
		for s.due < limit {
			sh.queue(s)
			if len(sh.pend) >= maxBatch {
				sh.flush()
			}
		}
		if s.rtcpOK && now >= s.nextSR {
			sh.queueSR(s, now)
		}
		if now >= s.nextProbe {
			sh.probe(s, now)
		}
		sh.insert(s)
	}
	return next
}

// drop stops s after a panic in its tick: its collected datagrams are removed (its sockets are about
// to close, and a descriptor number may be reused at once) and it ends with ErrInternal.
func (sh *shard) drop(s *Stream) {
	kept := sh.pend[:0]
	for _, d := range sh.pend {
		if d.s != s {
			kept = append(kept, d)
		}
	}
	clear(sh.pend[len(kept):])
	sh.pend = kept
	if !s.dead {
		sh.end(s, ErrInternal)
	}
}

// panicHook, set only by tests, is called at each recovery boundary of a shard: per stream tick (s
// set) and per loop turn (s nil); a test panics in it. Nil in production: one atomic load each.
var panicHook atomic.Pointer[func(sh *shard, s *Stream)]

func hookPanic(sh *shard, s *Stream) {
	if h := panicHook.Load(); h != nil {
		(*h)(sh, s)
	}
}

// queue collects the packet of frame s.idx and advances s to its next frame.
func (sh *shard) queue(s *Stream) {
	pk := s.pk
	f := &pk.Frames[s.idx]
	ticks := s.loop*uint64(pk.Length) + uint64(f.Offset)
	marker := f.Marker || (s.first && pk.MarkFirst)
	d := pending{s: s, fd: s.txRTP, payload: f.Payload, due: s.due}
	if d.fd < 0 {
		d.fd, d.name = s.rtpFD, &s.dst
	}
	sh.pend = append(sh.pend, d)
	h := &sh.pend[len(sh.pend)-1].hdr
	h[0] = 0x80 // V=2, no padding, extension or CSRC
	h[1] = s.pt
	if marker {
		h[1] |= 0x80
	}
	binary.BigEndian.PutUint16(h[2:], s.seq)
	binary.BigEndian.PutUint32(h[4:], s.ts0+uint32(ticks))
	binary.BigEndian.PutUint32(h[8:], s.ssrc)
	s.seq++
	s.first = false
	s.packets++
	s.octets += uint32(len(f.Payload))
	s.idx++
	if s.idx == len(pk.Frames) {
		s.idx = 0
		s.loop++
	}
	next := s.loop*uint64(pk.Length) + uint64(pk.Frames[s.idx].Offset)
	s.due = s.start + int64(pk.At(next))
}

// queueSR collects an RTCP SR+SDES for s.
func (sh *shard) queueSR(s *Stream, now int64) {
	s.nextSR = now + int64(sh.p.opts.RTCPInterval)
	elapsed := uint64(now - s.start)
	ts := s.ts0 + uint32(elapsed*uint64(s.pk.ClockRate)/uint64(time.Second))
	putSR(s.rtcp, sh.p.wall(now), ts, s.packets, s.octets)
	sh.pend = append(sh.pend, pending{s: s, fd: s.rtcpFD, name: &s.rtcpDst, payload: s.rtcp, due: now, rtcp: true})
}

// flush sends the collected datagrams: one sendmmsg per socket run (the kernel batches per fd).
func (sh *shard) flush() {
	n := len(sh.pend)
	if n == 0 {
		return
	}
	if cap(sh.msgs) < n {
		c := max(n, 2*cap(sh.msgs))
		sh.msgs = make([]mmsghdr, c)
		sh.iovs = make([]iovec, 2*c)
	}
	msgs, iovs := sh.msgs[:n], sh.iovs[:2*n]
	for i := range sh.pend {
		d := &sh.pend[i]
		if d.rtcp {
			setIov(&iovs[2*i], d.payload)
			fillMsg(&msgs[i], d.name, iovs[2*i:2*i+1])
			continue
		}
		setIov(&iovs[2*i], d.hdr[:])
		setIov(&iovs[2*i+1], d.payload)
		fillMsg(&msgs[i], d.name, iovs[2*i:2*i+2])
	}
	for i := 0; i < n; {
		j := i + 1
		for j < n && sh.pend[j].fd == sh.pend[i].fd {
			j++
		}
		sent, err := sendmmsg(sh.pend[i].fd, msgs[i:j])
		now := sh.p.now()
		for k := i; k < j; k++ {
			d := &sh.pend[k]
			if k >= i+sent {
				sh.dropped.Add(1)
				continue
			}
			if d.rtcp {
				sh.rtcpOut.Add(1)
				continue
			}
			sh.sent.Add(1)
			sh.octets.Add(uint64(len(d.payload)))
			late := max(0, now-d.due)
			if late > lateBoundNs {
				sh.late.Add(1)
			}
			sh.hist[min(late/lateBucketNs, lateBuckets-1)].Add(1)
		}
		if err != nil && !isAgain(err) {
			sh.p.warnSend(err)
		}
		i = j
	}
	clear(sh.pend) // drop payload and stream references
	sh.pend = sh.pend[:0]
}

// probe looks for the caller's first RTP (and RTCP) on s's sockets and latches to its source. It
// is a non-blocking read every probeNs until the socket has latched, instead of an epoll set: a
// socket registered with epoll makes the kernel run the epoll wake-up callback every time one of
// its sent datagrams is freed (sock_wfree → write-space wake-up), a cost paid on every packet of
// every stream whose caller never sends, which in early media is most of them
// (bench/results/history/rtp-ringback.md measured it at about a tenth of the plane's CPU). A probe costs
// one syscall per socket per probe; a latch happens at most probeNs after the caller's first packet.
// Unread datagrams wait in the socket's small receive buffer (openUDP), bounded by the kernel.
func (sh *shard) probe(s *Stream, now int64) {
	s.probes++
	s.nextProbe = now + probeNs
	if !s.latchedRTP {
		sh.latch(s, false)
	}
	if !s.latchedRTCP && s.probes%rtcpProbeEvery == 0 {
		sh.latch(s, true)
	}
	if s.latchedRTP && s.latchedRTCP {
		s.nextProbe = math.MaxInt64 // never read again
	}
}

// latch reads s's RTP (or RTCP) socket: the first valid RTP (or RTCP) packet from the caller fixes
// the destination to its source address.
func (sh *shard) latch(s *Stream, rtcp bool) {
	fd := s.rtpFD
	if rtcp {
		fd = s.rtcpFD
	}
	for range probeDrain {
		n, from, err := recvFrom(fd, sh.rbuf)
		if err != nil {
			return // EAGAIN: drained
		}
		if n < 8 || sh.rbuf[0]>>6 != 2 || !from.IsValid() || from.Addr().Is4() != sh.p.ip.Is4() {
			continue
		}
		if !rtcp && n >= 12 {
			s.dst.set(from)
			s.latchedRTP = true
			sh.redirect(s)
			if !s.latchedRTCP && from.Port() < 65535 {
				s.rtcpDst, s.rtcpOK = s.dst.withPort(int(from.Port())+1), true
			}
		} else if rtcp {
			s.rtcpDst.set(from)
			s.rtcpOK, s.latchedRTCP = true, true
		} else {
			continue
		}
		sh.p.latched.Add(1)
		return
	}
}

// redirect points s's connected RTP sender at s.dst after a latch. If reconnecting fails the sender
// is closed and the stream sends from its receiving socket with s.dst on every datagram.
func (sh *shard) redirect(s *Stream) {
	if s.txRTP < 0 {
		return
	}
	if err := connectFD(s.txRTP, &s.dst); err != nil {
		s.closeSender()
		s.unconnected(err)
	}
}

// shutdown ends every stream of the shard, refuses further commands and closes the poller.
func (sh *shard) shutdown() {
	sh.mu.Lock()
	sh.closed = true
	cmds := sh.inbox
	sh.inbox = nil
	sh.mu.Unlock()
	for _, c := range cmds {
		if c.play {
			sh.live[c.s] = struct{}{}
			sh.playing.Add(1)
		}
	}
	for s := range sh.live {
		sh.end(s, ErrClosed)
	}
	sh.poll.close()
}
