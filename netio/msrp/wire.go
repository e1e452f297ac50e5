package msrp

import (
	"context"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// wire is what the shared connection logic (connState) needs from a transport. Every method but wake and
// execute is called only by the connection's owner (its event loop for gnet, the holder of its mutex for
// TLS); wake and execute are safe from any goroutine.
type wire interface {
	// write and writev send or queue all of b; an error closes the connection (and runs onClosed).
	// writev may use iov (room for len(v) entries) as scratch and may modify the elements of v.
	write(b []byte)
	writev(v [][]byte, iov []unix.Iovec)
	// outbound is the number of bytes queued and not yet taken by the socket.
	outbound() int
	// unacked is the number of bytes in the socket's send queue, not yet sent or not yet acknowledged
	// by the peer (SIOCOUTQ); -1 when unknown.
	unacked() int
	// discardInput reads and drops what the socket holds unread, just before Herald closes it, so
	// that the close sends a FIN and not a reset. Best effort, non-blocking.
	discardInput()
	// shutdownWrite half-closes: SHUT_WR for TCP, close_notify and SHUT_WR for TLS.
	shutdownWrite()
	// closeNow closes the connection; onClosed has run when it returns.
	closeNow()
	// wake makes the owner run afterInput soon (resume a paused transfer or a pending half-close).
	wake()
	// execute runs r on the owner soon; an error means it never will (the connection is gone).
	execute(r gnet.Runnable) error
}

// gnetWire is the gnet transport: the owner is the connection's event loop.
type gnetWire struct{ c gnet.Conn }

func (g gnetWire) write(b []byte) { _, _ = g.c.Write(b) } // gnet copies what the socket does not take
func (g gnetWire) outbound() int  { return g.c.OutboundBuffered() }
func (g gnetWire) unacked() int   { return sockUnacked(g.c.Fd()) }
func (g gnetWire) discardInput()  { sockDiscard(g.c.Fd()) }
func (g gnetWire) shutdownWrite() { _ = unix.Shutdown(g.c.Fd(), unix.SHUT_WR) }
func (g gnetWire) closeNow()      { _ = g.c.EventLoop().Close(g.c) }
func (g gnetWire) wake()          { _ = g.c.Wake(nil) } // OnTraffic with nothing new to read
func (g gnetWire) execute(r gnet.Runnable) error {
	return g.c.EventLoop().Execute(context.Background(), r)
}

// writev makes the writev system call itself, with the caller's iovec scratch, when nothing is queued
// (the usual case): gnet's Conn.Writev goes through x/sys/unix.Writev, which allocates and grows an
// iovec slice on every call (2 allocations and ~0.8 KB per delivery of a 16 KiB page). Whatever the
// socket does not take at once, and any error, is handed to gnet's Writev, which queues the rest and
// arms EPOLLOUT, or closes the connection on a hard error, exactly as when it makes the first call (it
// tries the socket once more first: one extra system call, only when the socket buffer is full).
func (g gnetWire) writev(v [][]byte, iov []unix.Iovec) {
	if g.c.OutboundBuffered() > 0 || len(v) > cap(iov) {
		_, _ = g.c.Writev(v)
		return
	}
	iov = iov[:0]
	total := 0
	for _, b := range v {
		if len(b) > 0 {
			iov = append(iov, unix.Iovec{Base: &b[0]})
			iov[len(iov)-1].SetLen(len(b))
			total += len(b)
		}
	}
	if total == 0 {
		return
	}
	r, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(g.c.Fd()), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	clear(iov) // drop the references to the page and the scratch
	n := int(r)
	if errno == 0 && n == total {
		return
	}
	if errno != 0 {
		n = 0
	}
	for len(v) > 0 && n >= len(v[0]) { // skip what the socket took
		n -= len(v[0])
		v = v[1:]
	}
	if len(v) > 0 {
		v[0] = v[0][n:]
	}
	_, _ = g.c.Writev(v)
}
