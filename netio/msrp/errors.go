package msrp

import (
	"bytes"
	"errors"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

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
	errAnswersUnread   = errors.New("netio/msrp: the peer left MaxOutbound of answers unread")
	errShutdown        = errors.New("netio/msrp: plane stopped")
	errInternal        = errors.New("netio/msrp: internal error (recovered panic, counted in herald_panics_total)")
	errDial            = errors.New("netio/msrp: dialling the terminal failed")
	errHandshake       = errors.New("netio/msrp: tls handshake with the terminal failed")
	errFingerprint     = errors.New("netio/msrp: terminal certificate does not match its a=fingerprint")
	errFingerprintHash = errors.New("netio/msrp: no a=fingerprint with a supported hash function")
)

func joinErrs(errs []error) error { return errors.Join(errs...) }

// frameError answers a malformed (400) or oversized (413) request when its transaction id is known, then
// ends the connection. buf is the unparsed input, used to find the paths the answer must carry.
func (cs *connState) frameError(err error, buf []byte) {
	s := cs.s
	code := 400
	if errors.Is(err, msrp.ErrHeaderTooLarge) || errors.Is(err, msrp.ErrBodyTooLarge) {
		code = 413
		s.st.tooLarge.Add(1)
	} else {
		s.st.malformed.Add(1)
	}
	var fe *msrp.FrameError
	if errors.As(err, &fe) && fe.TID != nil && fe.Request {
		to, from := rawPaths(buf[:min(len(buf), s.opts.MaxHeaderBytes)])
		switch {
		case len(from) > 0:
			to, from = msrp.FirstURI(from), msrp.LastURI(to)
		case len(cs.peer) > 0:
			to, from = msrp.FirstURI(cs.peer), msrp.LastURI(cs.local)
		default:
			to, from = nil, msrp.LastURI(to)
		}
		if len(to) == 0 {
			to = []byte(s.PathURI("-"))
		}
		if len(from) == 0 {
			from = []byte(s.PathURI("-"))
		}
		cs.appendOut(func(b []byte) []byte {
			return msrp.AppendResponse(b, bstr(fe.TID), code, msrp.StatusText(code), to, from)
		})
	}
	cs.end(push.Result{Outcome: push.Failed, Code: code, Bytes: cs.x.sent, Err: errors.Join(errProtocol, err)})
}

// rawPaths finds the To-Path and From-Path values in the head of a frame the parser rejected, so that
// the 400/413 answer can be addressed (RFC 4975 §7.2: responses carry both). It copies nothing: the
// result aliases head and is used before Discard.
func rawPaths(head []byte) (to, from []byte) {
	for len(head) > 0 {
		nl := bytes.IndexByte(head, '\n')
		line := head
		if nl >= 0 {
			line, head = head[:nl], head[nl+1:]
		} else {
			head = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("To-Path")) && to == nil:
			to = value
		case bytes.EqualFold(name, []byte("From-Path")) && from == nil:
			from = value
		}
	}
	return to, from
}
