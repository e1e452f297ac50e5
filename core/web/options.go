package web

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by [New] to zero fields.
const (
	DefaultTokenTTL          = 120 * time.Second
	DefaultMaxTokens         = 100000
	DefaultMaxConns          = 4096 // page listener connections (Options.MaxConns)
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	// DefaultWriteTimeout leaves room for the default 30 s CPU profile of /debug/pprof/profile.
	DefaultWriteTimeout   = 65 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultMaxHeaderBytes = 16 << 10
)

// Options configure a [Server]. The zero value of every field but BaseURL is usable.
type Options struct {
	// Listen is the page listener's address, "host:port"; port 0 picks one (see [Server.Addr]).
	// Empty means "127.0.0.1:0".
	Listen string
	// AdminListen, when set, serves /varz, /metrics, /debug/pprof/ and API on a second listener
	// and no longer on Listen. /healthz answers on both.
	AdminListen string
	// PagesOnly, when AdminListen is empty, serves no admin endpoints at all (only pages and
	// /healthz), for a node whose operator wants none.
	PagesOnly bool
	// API, when set, serves /v1/... and /ui/... (the provisioning API and operator page of package
	// core/provision) beside the other admin endpoints.
	API http.Handler
	// BaseURL is the absolute http(s) URL under which terminals reach Listen, ending in "/".
	// Its path is the mount point: pages are served at BaseURL's path + "h/<token>.html", so a
	// reverse proxy in front must not strip it.
	BaseURL string
	// TLSConfig, when set, makes the page listener serve HTTPS (it must carry a certificate).
	TLSConfig *tls.Config
	// AdminTLSConfig, when set, makes the admin listener (AdminListen) serve HTTPS.
	AdminTLSConfig *tls.Config
	// AdminAuth, when set, guards /metrics, /varz and /debug/pprof/: it says whether a request is
	// authorized and whether it presented credentials at all. A refused request gets 401 with
	// WWW-Authenticate: Bearer (RFC 6750 §3; error="invalid_token" when it presented one) and is
	// counted (Stats.AdminUnauthorized). /healthz and /readyz stay open; the provisioning API
	// checks its own tokens. cmd/herald sets it from http.admin_token_file (provision.Bearer).
	AdminAuth func(*http.Request) (authorized, presented bool)
	// TokenTTL is how long a published page stays fetchable. Default 120 s.
	TokenTTL time.Duration
	// MaxTokens caps live tokens; Publish returns ErrFull beyond it. Default 100000.
	MaxTokens int
	// SweepInterval is how often expired tokens are dropped. Default TokenTTL/4 within [1 s, 30 s].
	SweepInterval time.Duration
	// Registry receives the package's metrics and is what /metrics exposes. Nil disables both.
	Registry *prometheus.Registry
	// Varz returns the snapshot /varz encodes as JSON. Nil serves the server's own [Stats].
	Varz func() any
	// Ready reports whether the process takes new work, for /readyz: nil when it does, else why
	// not (listeners not up yet, store not open, draining). Nil Ready: /readyz follows /healthz.
	Ready func() error
	// Logger is the base logger; the server adds component=core/web. Nil discards.
	Logger *slog.Logger

	// HTTP server limits; zero takes the Default* constant.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// MaxConns caps the page listener's open connections (terminals fetching Call-Info pages):
	// beyond it new ones wait in the kernel's accept queue instead of each holding a goroutine and
	// buffers until IdleTimeout. Default DefaultMaxConns.
	MaxConns int
}

// withDefaults validates o and returns a copy with defaults filled in, and the page path prefix.
func (o Options) withDefaults() (Options, string, error) {
	u, err := url.Parse(o.BaseURL)
	switch {
	case err != nil:
		return o, "", fmt.Errorf("%w: base url: %w", ErrBadOptions, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.Opaque != "", u.User != nil:
		return o, "", fmt.Errorf("%w: base url %q is not an absolute http(s) url", ErrBadOptions, o.BaseURL)
	case u.RawQuery != "" || u.Fragment != "" || strings.Contains(o.BaseURL, "#") || strings.Contains(o.BaseURL, "?"):
		return o, "", fmt.Errorf("%w: base url %q has a query or fragment", ErrBadOptions, o.BaseURL)
	case !strings.HasSuffix(u.Path, "/") || !strings.HasSuffix(o.BaseURL, "/"):
		return o, "", fmt.Errorf("%w: base url %q does not end in \"/\"", ErrBadOptions, o.BaseURL)
	case u.RawPath != "":
		return o, "", fmt.Errorf("%w: base url %q has an escaped path", ErrBadOptions, o.BaseURL)
	}
	if o.TokenTTL < 0 || o.MaxTokens < 0 || o.MaxConns < 0 || o.SweepInterval < 0 || o.ReadHeaderTimeout < 0 ||
		o.ReadTimeout < 0 || o.WriteTimeout < 0 || o.IdleTimeout < 0 || o.MaxHeaderBytes < 0 {
		return o, "", fmt.Errorf("%w: negative limit", ErrBadOptions)
	}
	for _, c := range []*tls.Config{o.TLSConfig, o.AdminTLSConfig} {
		if c != nil && len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
			return o, "", fmt.Errorf("%w: tls config has no certificate", ErrBadOptions)
		}
	}
	if o.AdminTLSConfig != nil && o.AdminListen == "" {
		return o, "", fmt.Errorf("%w: admin tls config without an admin listener", ErrBadOptions)
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = min(max(o.TokenTTL/4, time.Second), 30*time.Second)
	}
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, u.Path + "h/", nil
}
