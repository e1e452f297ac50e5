package rtp

import "errors"

var (
	// ErrNoPorts means every RTP/RTCP port pair of the configured range is in use.
	ErrNoPorts = errors.New("netio/rtp: no free rtp port pair")
	// ErrClosed means the plane is stopped (or was never started, for Play).
	ErrClosed = errors.New("netio/rtp: plane closed")
	// ErrNotStarted means Play was called before Start.
	ErrNotStarted = errors.New("netio/rtp: plane not started")
	// ErrStreamState means Play was called on a stream that is already playing or has ended.
	ErrStreamState = errors.New("netio/rtp: stream already playing or ended")
	// ErrMaxDuration is the end reason of a stream that reached Options.MaxDuration.
	ErrMaxDuration = errors.New("netio/rtp: maximum ringback duration reached")
	// ErrInternal is the end reason of a stream stopped because its tick panicked (a bug, recovered
	// and counted in herald_panics_total{plane="rtp"}); the other streams play on.
	ErrInternal = errors.New("netio/rtp: stream stopped by an internal error")
	// ErrBadTrack means the track has no packets or an invalid payload type.
	ErrBadTrack = errors.New("netio/rtp: bad track")
	// ErrBadAddr means the destination is invalid or of another address family than the plane.
	ErrBadAddr = errors.New("netio/rtp: bad destination address")
	// ErrOptions means the options are invalid.
	ErrOptions = errors.New("netio/rtp: invalid options")
	// ErrUnsupported means the platform has no sendmmsg/epoll (the plane is Linux only).
	ErrUnsupported = errors.New("netio/rtp: unsupported platform")
)
