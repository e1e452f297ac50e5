package uesim

import (
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Link is how a simulated terminal reaches the network, for tests that put something between the
// terminal and Herald (a relay that loses and duplicates datagrams, a stream that arrives in
// pieces). The zero value is a direct link: requests go where SIP routing sends them, Via and
// Contact name the listening address, MSRP connections are used as dialled.
type Link struct {
	// Outbound, if set, is the UDP address every SIP datagram the terminal sends goes to, whatever
	// its destination (requests and responses alike): the terminal's only way out, like its
	// P-CSCF, or a test's lossy relay in front of Herald. It applies to SIP over UDP only.
	Outbound string
	// Advertise, if set, is the host:port the terminal names in its Via sent-by and Contact instead
	// of its listening address: where the network delivers to it (with Outbound, the far side of
	// the relay).
	Advertise string
	// MSRPConn, if set, wraps every MSRP connection the terminal opens, before its first byte is
	// written (see Splitter).
	MSRPConn func(net.Conn) net.Conn
	// MSRPControl, if set, runs on every MSRP socket the terminal dials before it connects
	// (net.Dialer.Control): socket options that must precede the handshake, such as a small
	// SO_RCVBUF or TCP_MAXSEG for a terminal on a thin link.
	MSRPControl func(network, address string, c syscall.RawConn) error
}

// outboundConn sends every datagram to one address (Link.Outbound); reads are untouched.
type outboundConn struct {
	net.PacketConn
	to net.Addr
}

func (c outboundConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(b, c.to)
	if err != nil {
		return n, fmt.Errorf("uesim: outbound %s: %w", c.to, err)
	}
	return n, nil
}

// Splitter cuts every write of a connection into pieces, each written on its own with Gap between
// them and TCP_NODELAY set, so that each piece leaves as its own segment and the peer's reads see
// the frames the way a network may deliver a stream: a byte at a time, or split anywhere. It
// counts what it did. Use Wrap as Link.MSRPConn.
type Splitter struct {
	next func(left int) int
	gap  time.Duration

	// Writes counts the writes the terminal made; Pieces the writes that reached the socket.
	Writes, Pieces atomic.Int64
}

// Dribble is a Splitter that writes one byte at a time, gap apart.
func Dribble(gap time.Duration) *Splitter {
	return &Splitter{next: func(int) int { return 1 }, gap: gap}
}

// RandomSplits is a Splitter that cuts writes at random points (pieces of 1 to maxPiece bytes,
// uniformly), gap apart; the same seed cuts the same sequence of writes the same way.
func RandomSplits(seed uint64, maxPiece int, gap time.Duration) *Splitter {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // test traffic shape, not secrets
	maxPiece = max(maxPiece, 1)
	return &Splitter{gap: gap, next: func(left int) int {
		mu.Lock()
		defer mu.Unlock()
		return 1 + rng.IntN(min(left, maxPiece))
	}}
}

// Wrap returns c with its writes split; it sets TCP_NODELAY when c is a TCP connection.
func (s *Splitter) Wrap(c net.Conn) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &splitConn{Conn: c, s: s}
}

type splitConn struct {
	net.Conn
	s       *Splitter
	mu      sync.Mutex // one write at a time: pieces of two writes must not interleave
	written bool       // a piece went out: the next one waits the gap first
}

func (c *splitConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Writes.Add(1)
	done := 0
	for done < len(b) {
		if c.written && c.s.gap > 0 {
			pause(c.s.gap) // pacing the pieces is the point: each should be its own read
		}
		c.written = true
		n := min(max(c.s.next(len(b)-done), 1), len(b)-done)
		k, err := c.Conn.Write(b[done : done+n])
		done += k
		c.s.Pieces.Add(1)
		if err != nil {
			return done, err //nolint:wrapcheck // the connection's own error, as an unwrapped Conn returns it
		}
	}
	return done, nil
}

// pause waits d. Below a millisecond it yields in a loop instead of sleeping: time.Sleep rounds
// short waits up to the timer slack (about 1 ms on Linux), which would make a dribbled page fetch
// take seconds.
func pause(d time.Duration) {
	if d >= time.Millisecond {
		time.Sleep(d)
		return
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		runtime.Gosched()
	}
}
