// Package sipudp reads Herald's SIP UDP sockets. One or more goroutines per socket take datagrams in
// batches (recvmmsg, through golang.org/x/net/ipv4 and ipv6), offer each one to a fast handler (the
// SIP layer's fast path, core/signal), and queue the rest for the general SIP stack (sipgo), which
// reads them through a net.PacketConn of its own (General) and writes through it to the real socket.
//
// Why not let sipgo read the socket: its reader reads one datagram per system call, allocates an
// address and its string form for each, and hands each to a goroutine of its own.
//
// Readers per socket: the default is one. Parallelism comes from the SO_REUSEPORT sockets
// (sip.udp_readers). With SO_REUSEPORT the kernel spreads peers over sockets by flow, so two busy
// peers can land on one socket, which a second reader goroutine would share. Measured on the 2-vCPU
// reference box with SIPp (bench/results/history/sip-plane.md, session 3), two goroutines per socket cost
// 8-10% more CPU per call (futex wake-ups between them), and reached no higher rate.
package sipudp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// MaxDatagram is the largest SIP datagram read (RFC 3261 §18.1.1 caps requests over UDP far
// below; a larger datagram is truncated to this size and then refused by the parsers).
const MaxDatagram = 65535

// Defaults.
const (
	DefaultReaders = 1
	DefaultBatch   = 16
	DefaultQueue   = 4096
)

// Options configure a Socket.
type Options struct {
	// Fast is offered every datagram (b is valid only during the call) and returns true when it took
	// it; the others go to the general stack. nil: every datagram goes there.
	Fast func(b []byte, from netip.AddrPort) bool
	// Readers is the goroutines reading the socket (default 1): reads are serialised by the socket,
	// handling is not.
	Readers int
	// Batch is the datagrams one read may return (recvmmsg; default 16).
	Batch int
	// Queue bounds the datagrams waiting for the general stack (default 4096); above it they are
	// dropped and counted, as the kernel drops them when a socket's buffer is full.
	Queue int
}

// Stats count what a Socket read.
type Stats struct {
	Datagrams atomic.Uint64 // datagrams read
	Reads     atomic.Uint64 // read system calls that returned datagrams
	General   atomic.Uint64 // datagrams queued for the general stack
	Dropped   atomic.Uint64 // datagrams dropped because that queue was full
}

type packet struct {
	b    []byte
	buf  *[]byte // b's pooled backing array, returned once the general stack copied b out; nil if b is its own
	from net.Addr
}

// pooledSize bounds the datagrams whose copy for the general stack comes from packetBufs: every
// SIP message that fits an Ethernet MTU (RFC 3261 §18.1.1) and most that do not; larger ones get
// a buffer of their own.
const pooledSize = 2048

var packetBufs = sync.Pool{New: func() any { b := make([]byte, pooledSize); return &b }}

// queued copies b for the general stack (the read buffer is reused by the next batch).
func queued(b []byte, from net.Addr) packet {
	if len(b) > pooledSize {
		return packet{b: append([]byte(nil), b...), from: from}
	}
	buf := packetBufs.Get().(*[]byte)
	return packet{b: (*buf)[:copy(*buf, b)], buf: buf, from: from}
}

// release returns the packet's buffer to the pool.
func (pk packet) release() {
	if pk.buf != nil {
		packetBufs.Put(pk.buf)
	}
}

// Socket is one served UDP socket.
type Socket struct {
	pc    net.PacketConn
	batch batchConn // nil when pc is not a *net.UDPConn: one datagram per read
	opts  Options
	q     chan packet
	once  sync.Once
	Stats Stats
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// New wraps pc. Serve must run for anything to be read.
func New(pc net.PacketConn, o Options) *Socket {
	if o.Readers <= 0 {
		o.Readers = DefaultReaders
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	s := &Socket{pc: pc, opts: o, q: make(chan packet, o.Queue)}
	if uc, ok := pc.(*net.UDPConn); ok {
		if a, ok := uc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil && !a.IP.IsUnspecified() {
			s.batch = ipv6.NewPacketConn(uc)
		} else {
			s.batch = ipv4.NewPacketConn(uc)
		}
	}
	return s
}

// Serve reads until the socket is closed (by Close, General().Close or the owner), then ends the
// general stack's reads with net.ErrClosed. It returns nil after a close, the read error otherwise.
func (s *Socket) Serve() error {
	var wg sync.WaitGroup
	errs := make([]error, s.opts.Readers)
	for i := range s.opts.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.batch != nil {
				errs[i] = s.readBatches()
			} else {
				errs[i] = s.readOne()
			}
			_ = s.Close() // one reader failing stops them all
		}()
	}
	wg.Wait()
	close(s.q)
	for _, err := range errs {
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	}
	return nil
}

func (s *Socket) readBatches() error {
	ms := make([]ipv4.Message, s.opts.Batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, MaxDatagram)}
	}
	for {
		n, err := s.batch.ReadBatch(ms, 0)
		if err != nil {
			return err
		}
		s.Stats.Reads.Add(1)
		s.Stats.Datagrams.Add(uint64(n))
		for i := range n {
			s.offer(ms[i].Buffers[0][:ms[i].N], ms[i].Addr)
		}
	}
}

func (s *Socket) readOne() error {
	buf := make([]byte, MaxDatagram)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		s.Stats.Reads.Add(1)
		s.Stats.Datagrams.Add(1)
		s.offer(buf[:n], from)
	}
}

func (s *Socket) offer(b []byte, from net.Addr) {
	if len(b) == 0 {
		return
	}
	if s.opts.Fast != nil {
		if ua, ok := from.(*net.UDPAddr); ok {
			ap := ua.AddrPort()
			if s.opts.Fast(b, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())) {
				return
			}
		}
	}
	pk := queued(b, from)
	select {
	case s.q <- pk:
		s.Stats.General.Add(1)
	default:
		pk.release()
		s.Stats.Dropped.Add(1)
	}
}

// Close closes the socket; Serve returns.
func (s *Socket) Close() error {
	var err error
	s.once.Do(func() { err = s.pc.Close() })
	return err
}

// General is the socket as the general SIP stack sees it: it reads the datagrams the fast handler
// did not take and writes to the real socket.
func (s *Socket) General() net.PacketConn { return general{s} }

// Counts are the Stats as plain numbers: datagrams read, reads that returned some, datagrams queued
// for the general stack, and datagrams dropped because that queue was full.
func (s *Socket) Counts() (datagrams, reads, general, dropped uint64) {
	return s.Stats.Datagrams.Load(), s.Stats.Reads.Load(), s.Stats.General.Load(), s.Stats.Dropped.Load()
}

type general struct{ s *Socket }

func (g general) ReadFrom(p []byte) (int, net.Addr, error) {
	pk, ok := <-g.s.q
	if !ok {
		return 0, nil, net.ErrClosed
	}
	n := copy(p, pk.b)
	pk.release()
	return n, pk.from, nil
}

func (g general) WriteTo(p []byte, a net.Addr) (int, error) { return g.s.pc.WriteTo(p, a) }

// WriteToUDPAddrPort sends p to a without allocating an address (sipgo's UDP writes take this way
// when the destination is an IP address and port: a Herald patch in netio/sipgo).
func (g general) WriteToUDPAddrPort(p []byte, a netip.AddrPort) (int, error) {
	if uc, ok := g.s.pc.(*net.UDPConn); ok {
		return uc.WriteToUDPAddrPort(p, a)
	}
	return g.s.pc.WriteTo(p, net.UDPAddrFromAddrPort(a))
}
func (g general) Close() error        { return g.s.Close() }
func (g general) LocalAddr() net.Addr { return g.s.pc.LocalAddr() }

// SetDeadline sets the write deadline only: reads are the Socket's.
func (g general) SetDeadline(t time.Time) error { return g.s.pc.SetWriteDeadline(t) }

// SetReadDeadline is not supported (the readers own the socket) and is ignored.
func (g general) SetReadDeadline(time.Time) error { return nil }

func (g general) SetWriteDeadline(t time.Time) error { return g.s.pc.SetWriteDeadline(t) }
