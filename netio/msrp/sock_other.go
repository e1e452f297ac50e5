//go:build !linux

package msrp

// sockUnacked: the send queue is unknown here; a lingering close then ends after lingerTimeout.
func sockUnacked(int) int { return -1 }

// sockDiscard: nothing is read here before a close.
func sockDiscard(int) {}

// sockLowat: the kernel's own send buffer sizing applies here.
func sockLowat(int) {}
