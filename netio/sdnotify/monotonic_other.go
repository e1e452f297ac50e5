//go:build !linux

package sdnotify

// monotonicUsec is 0 off Linux: systemd, and so MONOTONIC_USEC, is Linux only.
func monotonicUsec() int64 { return 0 }
