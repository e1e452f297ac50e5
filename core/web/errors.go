package web

import "errors"

// Sentinel errors. Callers branch on them with [errors.Is].
var (
	// ErrFull is returned by [Server.Publish] when Options.MaxTokens tokens are live.
	ErrFull = errors.New("web: token table full")
	// ErrBadPage is returned by [Server.Publish] for a nil page, one with no body, or one that
	// core/content did not sanitise.
	ErrBadPage = errors.New("web: bad page")
	// ErrBadOptions is returned by [New] for unusable options.
	ErrBadOptions = errors.New("web: bad options")
	// ErrStarted is returned by [Server.Start] when the server was already started.
	ErrStarted = errors.New("web: already started")
	// ErrClosed is returned by [Server.Start] and [Server.Publish] after [Server.Stop].
	ErrClosed = errors.New("web: server stopped")
)
