package msrp

import "errors"

var (
	// ErrBadOptions is returned by New for invalid Options; every bad field is listed.
	ErrBadOptions = errors.New("netio/msrp: bad options")
	// ErrStarted is returned by Start on a server that is already running.
	ErrStarted = errors.New("netio/msrp: already started")
	// ErrStopped is returned by Start after Stop, and by Open on a stopped server.
	ErrStopped = errors.New("netio/msrp: stopped")
	// ErrBadSession is returned by Open for a session without an id, page or Done channel.
	ErrBadSession = errors.New("netio/msrp: bad session")
	// ErrUnknownSession is returned by Connect for a session that is not open (never, or finished).
	ErrUnknownSession = errors.New("netio/msrp: unknown session")
	// ErrAlreadyBound is returned by Connect for a session bound to a connection or being dialled.
	ErrAlreadyBound = errors.New("netio/msrp: session already bound or connecting")
	// ErrBadPeer is returned by Connect for an unusable peer path or address, or a path whose scheme is
	// not the session's transport (msrps:// only for a Secure session, msrp:// only for a plain one).
	ErrBadPeer = errors.New("netio/msrp: bad peer path or address")
	// ErrDialBusy is returned by Connect when MaxDials connections are being dialled already.
	ErrDialBusy = errors.New("netio/msrp: too many outgoing connections in progress")
	// ErrNoTLS is returned by Open for a Secure session when the server has no TLS listener.
	ErrNoTLS = errors.New("netio/msrp: no msrps listener")
)

// Reasons a session ends other than delivery; they travel in push.Result.Err.
var (
	errBindTimeout     = errors.New("netio/msrp: session expired before a terminal bound it")
	errTransferTimeout = errors.New("netio/msrp: transfer not confirmed in time")
	errIdleTimeout     = errors.New("netio/msrp: connection idle")
	errFailureReport   = errors.New("netio/msrp: failure report")
	errFailureResponse = errors.New("netio/msrp: error response")
	errClosed          = errors.New("netio/msrp: session closed")
	errDisconnected    = errors.New("netio/msrp: connection closed by peer")
	errProtocol        = errors.New("netio/msrp: protocol error from peer")
	errShutdown        = errors.New("netio/msrp: plane stopped")
	errInternal        = errors.New("netio/msrp: internal error (recovered panic, counted in herald_panics_total)")
	errDial            = errors.New("netio/msrp: dialling the terminal failed")
	errHandshake       = errors.New("netio/msrp: tls handshake with the terminal failed")
	errFingerprint     = errors.New("netio/msrp: terminal certificate does not match its a=fingerprint")
	errFingerprintHash = errors.New("netio/msrp: no a=fingerprint with a supported hash function")
)

func joinErrs(errs []error) error { return errors.Join(errs...) }
