package rtp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/herald-ims/herald/core/media"
)

// Stream states, changed under Stream.mu by the caller side and by the shard when it ends a stream.
const (
	stateAllocated = iota // ports held, not yet playing; owned by the caller
	statePlaying          // handed to its shard
	stateDone             // sockets closed, ports freed
)

// Stream is one ringback RTP stream: a reserved port pair that plays a track once Play is called.
//
// Port and Done are safe from any goroutine. Play and Stop may be called from any goroutine; every
// other field is owned by the stream's shard from Play on (a stream's state changes only on its
// wheel shard).
type Stream struct {
	p      *Plane
	sh     *shard
	port   int
	rtpFD  int // the stream's receiving sockets: unconnected, probed for latching
	rtcpFD int
	txRTP  int // the connected RTP sender (openSender); -1 sends from rtpFD with an address. RTCP,
	// one compound packet per 5 s, always goes from rtcpFD with an address: a connected sender
	// for it would cost a descriptor per stream for nothing.
	done chan struct{}

	mu    sync.Mutex
	state int
	err   error // end reason, set before done is closed

	// Shard-owned from Play on.
	pk          *media.Packets
	pt          uint8
	ssrc        uint32
	seq         uint16
	ts0         uint32
	idx         int    // next frame
	loop        uint64 // loops completed
	due         int64  // send time of frame idx, ns since the plane's base
	start       int64  // ns since base of the first packet
	deadline    int64
	nextSR      int64
	nextProbe   int64 // next latching probe (shard.probe); MaxInt64 once both sockets latched
	probes      uint32
	first       bool
	dead        bool
	latchedRTP  bool
	latchedRTCP bool
	dst         sockaddr
	rtcpDst     sockaddr
	rtcpOK      bool // rtcpDst is usable
	packets     uint32
	octets      uint32
	rtcp        []byte
}

// Port returns the stream's local RTP port (RTCP is Port()+1), for the SDP answer.
func (s *Stream) Port() int { return s.port }

// Done is closed when the stream has ended: stopped, at its maximum duration, or with the plane.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Err returns why the stream ended: nil after Stop, ErrMaxDuration, ErrClosed, or ErrInternal (a
// recovered panic in its tick). It is nil while the stream runs.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Play starts sending track to dst (the address from the caller's SDP) with random SSRC, sequence
// number and timestamp starts. The first RTP packet that arrives on the stream's socket moves the
// destination to its source address (symmetric RTP); likewise RTCP, which otherwise goes to dst's
// port + 1. The track's packets are shared and never written.
func (s *Stream) Play(dst netip.AddrPort, track media.Track) error {
	pk := track.Packets
	if pk == nil || len(pk.Frames) == 0 || pk.Length == 0 || pk.ClockRate == 0 || track.PayloadType > 127 {
		return fmt.Errorf("%w: %d frames, payload type %d", ErrBadTrack, framesOf(pk), track.PayloadType)
	}
	if !dst.IsValid() || dst.Port() == 0 || dst.Addr().Unmap().Is4() != s.p.ip.Is4() {
		return fmt.Errorf("%w: %s for a plane on %s", ErrBadAddr, dst, s.p.ip)
	}
	if !s.p.running.Load() {
		return ErrNotStarted
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateAllocated {
		return ErrStreamState
	}
	s.pk, s.pt = pk, track.PayloadType
	s.ssrc, s.seq, s.ts0 = rand.Uint32(), uint16(rand.Uint32()), rand.Uint32()
	s.first = true
	s.dst.set(dst)
	if dst.Port() < 65535 {
		s.rtcpDst, s.rtcpOK = s.dst.withPort(int(dst.Port())+1), true
	}
	s.rtcp = buildRTCP(s.ssrc, s.p.opts.CNAME)
	s.txRTP = s.sender(&s.dst)
	if !s.sh.post(command{s: s, play: true}) {
		s.closeSender()
		return ErrClosed
	}
	s.state = statePlaying
	return nil
}

func framesOf(p *media.Packets) int {
	if p == nil {
		return 0
	}
	return len(p.Frames)
}

// Stop ends the stream and returns once its sockets are closed and its ports freed: for a playing
// stream that is at the shard's next 1 ms slot, so no packet leaves after Stop returns and at most one
// leaves after Stop is called. Stop is idempotent and safe to call on a stream that never played.
func (s *Stream) Stop() {
	s.mu.Lock()
	switch s.state {
	case stateAllocated:
		s.state = stateDone
		s.mu.Unlock()
		s.release(nil)
		return
	case statePlaying:
		s.mu.Unlock()
		s.sh.post(command{s: s})
		<-s.done
		return
	}
	s.mu.Unlock()
	<-s.done
}

// sender opens a connected RTP sender toward dst, or returns -1: the stream then sends from its
// receiving socket with an address on every datagram (correct, only dearer), and the plane counts it.
func (s *Stream) sender(dst *sockaddr) int {
	fd, err := openSender(s.p.ip, s.port, s.p.ports.tos, dst)
	if err != nil {
		s.unconnected(err)
		return -1
	}
	return fd
}

// unconnected counts and logs that s sends from its receiving socket, its sender having failed.
func (s *Stream) unconnected(err error) {
	s.p.unconnected.Add(1)
	s.p.log.Debug("rtp stream sends unconnected", "port", s.port, "error", err)
}

func (s *Stream) closeSender() {
	if s.txRTP >= 0 {
		closeFD(s.txRTP)
		s.txRTP = -1
	}
}

// release closes the sockets, frees the ports and closes done. Called once, by the owner.
func (s *Stream) release(reason error) {
	s.closeSender()
	closeFD(s.rtpFD)
	closeFD(s.rtcpFD)
	s.p.ports.put(s.port)
	s.p.streams.Add(-1)
	s.mu.Lock()
	s.state, s.err = stateDone, reason
	s.mu.Unlock()
	close(s.done)
}
