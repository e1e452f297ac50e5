//go:build linux

package msrp

import "golang.org/x/sys/unix"

// sockUnacked is the number of bytes in the TCP socket fd's send queue, not yet sent or not yet
// acknowledged by the peer, including a FIN (SIOCOUTQ, tcp(7)); -1 when the ioctl fails.
func sockUnacked(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	if err != nil {
		return -1
	}
	return n
}

// notSentLowat bounds the bytes a connection's socket holds not yet sent (TCP_NOTSENT_LOWAT, tcp(7)):
// the kernel takes more only below it, and the rest of a page waits in Herald's own queue
// (MaxOutbound), chunk by chunk. Without it Linux grows the send buffer with the congestion window
// (tcp_wmem up to 4 MiB), and on a thin link an abort's '#' chunk (RFC 4975 §7.1) waited behind
// 150 KB and more of earlier chunks: tens of seconds at radio rates, longer than any bounded
// lingering close or drain (TestLingerSlowReaderGetsHash). 32 KiB keeps a fast link busy and takes
// a 16 KiB page with its chunk heads in one write (BenchmarkDeliver16KiB: no change measured; 16 KiB
// split it and cost about 8%).
const notSentLowat = 32 << 10

// sockLowat sets notSentLowat on the TCP socket fd; best effort.
func sockLowat(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSentLowat)
}

// sockDiscard reads and drops what the non-blocking socket fd holds unread, at most 64 KiB.
func sockDiscard(fd int) {
	var b [4096]byte
	for range 16 {
		if n, err := unix.Read(fd, b[:]); n <= 0 || err != nil {
			return
		}
	}
}
