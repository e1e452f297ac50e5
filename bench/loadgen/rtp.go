package loadgen

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// rtpReceiver takes the ringback RTP of every call on one UDP socket, read by one goroutine in
// batches (recvmmsg), and keeps per-stream accounting. Streams are told apart by their source
// (Herald gives every stream its own port, RFC 3550 §8.2 SSRC as well) and claimed by the call
// at its end through the source named in Herald's SDP answer. Arrival times are the kernel's
// receive timestamps (SO_TIMESTAMPNS), so a reader that falls behind does not make packets look
// late; without them (kernel or socket refused) the time of the read is used.
type rtpReceiver struct {
	pc        *net.UDPConn
	bc        *ipv4.PacketConn
	lateAfter time.Duration
	kernelTS  bool // SO_TIMESTAMPNS is on

	mu      sync.Mutex
	streams map[netip.AddrPort][]*rtpStream // by source; several when a port was reused
	orphans int64                           // streams dropped unclaimed (swept)
	badPkts int64                           // datagrams that are not RTP version 2

	done chan struct{}
}

// rtpStream is one SSRC from one source: RFC 3550 §A.1-style extended sequence numbers, unique
// packets counted through a bitmap (duplicates are not received packets), and the lateness of
// every packet against the first one's arrival and its RTP timestamp.
type rtpStream struct {
	ssrc       uint32
	clock      int // Hz, from the payload type
	first      time.Time
	last       time.Time
	ts0        uint32
	minExt     int64
	maxExt     int64
	base       int64    // bit 0 of seen is extended sequence number base
	seen       []uint64 // bitmap of received extended sequence numbers
	received   int64
	duplicates int64
	late       int64
	lateness   []uint32 // per packet lateness in µs (capped length: maxLateness)
}

// maxLateness bounds the lateness samples kept per stream (60 s of 20 ms packets).
const maxLateness = 3000

// rtpResult is a claimed stream's accounting.
type rtpResult struct {
	expected, received, lost, late, duplicates int64
	lateness                                   []uint32 // µs
}

func newRTPReceiver(ip string, lateAfter time.Duration) (*rtpReceiver, error) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		return nil, err
	}
	_ = pc.SetReadBuffer(8 << 20)
	r := &rtpReceiver{pc: pc, bc: ipv4.NewPacketConn(pc), lateAfter: lateAfter,
		streams: map[netip.AddrPort][]*rtpStream{}, done: make(chan struct{})}
	if rc, err := pc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			r.kernelTS = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
		})
	}
	go r.read()
	return r, nil
}

// Port is the local port the callers offer in their SDP.
func (r *rtpReceiver) Port() int { return r.pc.LocalAddr().(*net.UDPAddr).Port }

func (r *rtpReceiver) Close() error {
	err := r.pc.Close()
	<-r.done
	return err
}

func (r *rtpReceiver) read() {
	defer close(r.done)
	const batch = 64
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
		msgs[i].OOB = make([]byte, 64)
	}
	for {
		n, err := r.bc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		r.mu.Lock()
		for i := 0; i < n; i++ {
			ua, ok := msgs[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			at := now
			if r.kernelTS {
				if ts, ok := rxTimestamp(msgs[i].OOB[:msgs[i].NN]); ok {
					at = ts
				}
			}
			r.packet(ua.AddrPort(), msgs[i].Buffers[0][:msgs[i].N], at)
		}
		r.mu.Unlock()
		if n < batch && r.kernelTS {
			// The kernel stamped every datagram on arrival: let a few milliseconds of them queue
			// and take them in one batch, rather than one wake-up and one syscall per packet.
			time.Sleep(readPause)
		}
	}
}

// readPause is how long the reader lets datagrams queue after a short batch (at 64 per batch
// and 8 MB of receive buffer, 5 ms covers up to about 12,000 packets/s per batch and far more
// in the buffer).
const readPause = 5 * time.Millisecond

// rxTimestamp finds the SCM_TIMESTAMPNS control message of a datagram (socket(7)).
func rxTimestamp(oob []byte) (time.Time, bool) {
	for len(oob) > 0 {
		h, d, rest, err := unix.ParseOneSocketControlMessage(oob) // no allocation, unlike ParseSocketControlMessage
		if err != nil {
			return time.Time{}, false
		}
		oob = rest
		if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS {
			continue
		}
		switch { // struct timespec: two longs
		case len(d) >= 16:
			return time.Unix(int64(binary.NativeEndian.Uint64(d)), int64(binary.NativeEndian.Uint64(d[8:]))), true
		case len(d) >= 8:
			return time.Unix(int64(int32(binary.NativeEndian.Uint32(d))), int64(int32(binary.NativeEndian.Uint32(d[4:])))), true
		}
	}
	return time.Time{}, false
}

// packet accounts one datagram; r.mu held.
func (r *rtpReceiver) packet(src netip.AddrPort, b []byte, at time.Time) {
	if len(b) < 12 || b[0]>>6 != 2 {
		r.badPkts++
		return
	}
	pt := int(b[1] & 0x7f)
	if pt >= 72 && pt <= 76 { // RTCP on the RTP port (RFC 5761 ranges): not media
		return
	}
	seq := binary.BigEndian.Uint16(b[2:])
	ts := binary.BigEndian.Uint32(b[4:])
	ssrc := binary.BigEndian.Uint32(b[8:])
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	list := r.streams[src]
	var s *rtpStream
	for _, x := range list {
		if x.ssrc == ssrc {
			s = x
			break
		}
	}
	if s == nil {
		s = &rtpStream{ssrc: ssrc, clock: clockOf(pt), first: at, ts0: ts, minExt: int64(seq), maxExt: int64(seq),
			base: int64(seq) - 4096}
		r.streams[src] = append(list, s)
	}
	s.add(seq, ts, at, r.lateAfter)
}

func clockOf(pt int) int {
	switch pt {
	case 0, 8, 3, 4, 5, 9, 18, 13: // G.711, GSM, G.723, DVI4, G.722 (8000 by RFC 3551), G.729, CN
		return 8000
	}
	// Dynamic types: the generator offers none but telephone-event (8000); AMR-WB and EVS would be
	// 16000. 8000 is right for every clock the offer allows.
	return 8000
}

func (s *rtpStream) add(seq uint16, ts uint32, at time.Time, lateAfter time.Duration) {
	// Extended sequence number closest to the highest one seen (handles wrap and reordering).
	ext := s.maxExt + int64(int16(seq-uint16(s.maxExt)))
	if ext < s.base {
		return // far older than the stream's start: ignore
	}
	idx := ext - s.base
	w := int(idx / 64)
	if w >= len(s.seen) {
		if w > 1<<16 { // 4 M packets: not a ringback
			return
		}
		s.seen = append(s.seen, make([]uint64, w+1-len(s.seen))...)
	}
	bit := uint64(1) << (idx % 64)
	if s.seen[w]&bit != 0 {
		s.duplicates++
		return
	}
	s.seen[w] |= bit
	s.received++
	s.minExt = min(s.minExt, ext)
	s.maxExt = max(s.maxExt, ext)
	s.last = at
	// Due time: the first packet's arrival plus the media time between the two timestamps.
	due := s.first.Add(time.Duration(int64(int32(ts-s.ts0))) * time.Second / time.Duration(s.clock))
	late := at.Sub(due)
	if late < 0 {
		late = 0
	}
	if late > lateAfter {
		s.late++
	}
	if len(s.lateness) < maxLateness {
		s.lateness = append(s.lateness, uint32(min(late, time.Hour).Microseconds()))
	}
}

// claim removes and returns the accounting of the stream from src that started at or after
// since (the call's INVITE): the first such, by start. ok is false when none did.
func (r *rtpReceiver) claim(src netip.AddrPort, since time.Time) (rtpResult, bool) {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.streams[src]
	pick := -1
	for i, s := range list {
		if !s.first.Before(since) && (pick < 0 || s.first.Before(list[pick].first)) {
			pick = i
		}
	}
	if pick < 0 {
		return rtpResult{}, false
	}
	s := list[pick]
	list = append(list[:pick], list[pick+1:]...)
	if len(list) == 0 {
		delete(r.streams, src)
	} else {
		r.streams[src] = list
	}
	exp := s.maxExt - s.minExt + 1
	return rtpResult{expected: exp, received: s.received, lost: exp - s.received, late: s.late,
		duplicates: s.duplicates, lateness: s.lateness}, true
}

// sweep drops streams that got nothing for idle (their call ended without claiming them).
func (r *rtpReceiver) sweep(now time.Time, idle time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for src, list := range r.streams {
		keep := list[:0]
		for _, s := range list {
			if now.Sub(s.last) < idle {
				keep = append(keep, s)
			} else {
				r.orphans++
			}
		}
		if len(keep) == 0 {
			delete(r.streams, src)
		} else {
			r.streams[src] = keep
		}
	}
}
