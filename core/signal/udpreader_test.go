package signal

import (
	"net"
	"net/netip"

	"github.com/herald-ims/herald/netio/sipudp"
)

// sipudpReader is Deps.UDP as the binary wires it (cmd/herald): netio/sipudp reads the socket.
func sipudpReader(pc net.PacketConn, fast func(b []byte, from netip.AddrPort) bool) UDPSocket {
	return sipudp.New(pc, sipudp.Options{Fast: fast})
}
