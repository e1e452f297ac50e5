//go:build linux

package rtp

import (
	"testing"

	"golang.org/x/sys/unix"
)

// recvBufSize is the kernel's SO_RCVBUF of s's RTP socket.
func recvBufSize(t *testing.T, s *Stream) int {
	t.Helper()
	n, err := unix.GetsockoptInt(s.rtpFD, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
