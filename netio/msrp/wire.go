package msrp

import (
	"context"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// wire is what the shared connection logic (connState) needs from a transport. Every method but wake and
// execute is called only by the connection's owner (its event loop for gnet, the holder of its mutex for
// TLS); wake and execute are safe from any goroutine.
type wire interface {
	// write and writev send or queue all of b; an error closes the connection (and runs onClosed).
	write(b []byte)
	writev(v [][]byte)
	// outbound is the number of bytes queued and not yet taken by the socket.
	outbound() int
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

func (g gnetWire) write(b []byte)    { _, _ = g.c.Write(b) } // gnet copies what the socket does not take
func (g gnetWire) writev(v [][]byte) { _, _ = g.c.Writev(v) }
func (g gnetWire) outbound() int     { return g.c.OutboundBuffered() }
func (g gnetWire) shutdownWrite()    { _ = unix.Shutdown(g.c.Fd(), unix.SHUT_WR) }
func (g gnetWire) closeNow()         { _ = g.c.EventLoop().Close(g.c) }
func (g gnetWire) wake()             { _ = g.c.Wake(nil) } // OnTraffic with nothing new to read
func (g gnetWire) execute(r gnet.Runnable) error {
	return g.c.EventLoop().Execute(context.Background(), r)
}
