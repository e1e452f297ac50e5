package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/stats"
)

// Server is the HTTP plane. Create it with [New], then [Server.Start] and finally [Server.Stop].
type Server struct {
	opts       Options
	pagePrefix string // BaseURL's path + "h/"
	log        *slog.Logger
	now        func() time.Time // time.Now; tests replace it before Start
	tokens     *table
	stats      counters
	adminMux   *http.ServeMux // pprof, registered here and never on http.DefaultServeMux
	metrics    http.Handler   // promhttp for Options.Registry; nil without one

	mu      sync.Mutex
	state   int // stateNew, stateRunning, stateStopped
	servers []*http.Server
	addrs   [2]string // page, admin
	done    chan struct{}
	wg      sync.WaitGroup
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// New validates o, fills in defaults and registers the metrics on o.Registry.
func New(o Options) (*Server, error) {
	o, prefix, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:       o,
		pagePrefix: prefix,
		log:        o.Logger.With("component", "core/web"),
		now:        time.Now,
		done:       make(chan struct{}),
	}
	s.tokens = newTable(o.MaxTokens, o.TokenTTL, &s.stats)
	s.adminMux = newPprofMux()
	s.metrics = s.newMetricsHandler()
	if o.Registry != nil {
		if err := o.Registry.Register(stats.NewCollector(s.Stats)); err != nil {
			return nil, fmt.Errorf("%w: register metrics: %w", ErrBadOptions, err)
		}
	}
	return s, nil
}

// Start binds the listeners and serves in the background; it returns once they are bound.
// ctx bounds only the binding.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateRunning:
		return ErrStarted
	case stateStopped:
		return ErrClosed
	}
	split := s.opts.AdminListen != ""
	var lc net.ListenConfig
	pageLn, err := lc.Listen(ctx, "tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("web: listen %s: %w", s.opts.Listen, err)
	}
	var adminLn net.Listener
	if split {
		if adminLn, err = lc.Listen(ctx, "tcp", s.opts.AdminListen); err != nil {
			_ = pageLn.Close()
			return fmt.Errorf("web: listen admin %s: %w", s.opts.AdminListen, err)
		}
	}
	s.state = stateRunning
	s.addrs[0] = pageLn.Addr().String()
	s.serve(newLimitListener(pageLn, s.opts.MaxConns), &handler{s: s, pages: true, admin: !split && !s.opts.PagesOnly}, s.opts.TLSConfig)
	if split {
		s.addrs[1] = adminLn.Addr().String()
		s.serve(adminLn, &handler{s: s, admin: true}, s.opts.AdminTLSConfig)
	}
	s.wg.Add(1)
	go s.sweeper()
	s.log.Info("web listening", "laddr", s.addrs[0], "admin_laddr", s.addrs[1], "tls", s.opts.TLSConfig != nil,
		"admin_tls", s.opts.AdminTLSConfig != nil)
	return nil
}

// serve runs one http.Server on ln, over TLS with tc when it is not nil, in a goroutine tracked by
// s.wg. Called with s.mu held.
func (s *Server) serve(ln net.Listener, h http.Handler, tc *tls.Config) {
	useTLS := tc != nil
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		// Client errors (TLS handshakes from scanners, malformed requests) are noise: Debug only.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if useTLS {
		srv.TLSConfig = tc.Clone()
	}
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var err error
		if useTLS {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("web server stopped", "laddr", ln.Addr().String(), "error", err)
		}
	}()
}

// sweeper drops expired tokens every SweepInterval until Stop.
func (s *Server) sweeper() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.tokens.sweep(s.now())
		}
	}
}

// Stop shuts the listeners down gracefully; when ctx ends first it closes the remaining connections.
// It drops every token and waits for the server's goroutines. Stop before Start only marks the
// server stopped.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.state == stateStopped {
		s.mu.Unlock()
		return nil
	}
	wasRunning := s.state == stateRunning
	s.state = stateStopped
	servers := s.servers
	s.mu.Unlock()

	s.tokens.close()
	if !wasRunning {
		return nil
	}
	close(s.done)
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = srv.Close()
		}
	}
	s.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("web: stop: %w", err)
	}
	return nil
}

// Addr returns the page listener's bound address ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[0]
}

// AdminAddr returns the admin listener's bound address ("" unless Options.AdminListen is set and
// the server started).
func (s *Server) AdminAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[1]
}

// Publish makes page fetchable at BaseURL + "h/" + token + ".html" for Options.TokenTTL and returns
// that absolute URL, for a `Call-Info: <url>;purpose=info` header (RFC 3261 §20.9), and the token.
// The token carries 128 random bits and is bound to callID (see [Server.RevokeCall]). The page is
// shared, never copied or modified. It returns [ErrFull] when Options.MaxTokens tokens are live.
// Publish works before Start (the URL answers once the server listens). A page not built by
// core/content (Prepare, NewPage, Restore: [content.Page.Sanitized]) is refused with [ErrBadPage]:
// only sanitised pages reach a phone, and the CSP the pages are served with stays as a second net.
func (s *Server) Publish(page *content.Page, callID string) (url, token string, err error) {
	if page == nil || len(page.Body) == 0 || !page.Sanitized() {
		return "", "", ErrBadPage
	}
	token, err = s.tokens.add(page, callID, s.now())
	if err != nil {
		return "", "", err
	}
	return s.opts.BaseURL + "h/" + token + ".html", token, nil
}

// Revoke makes token's page unfetchable now. Unknown tokens are ignored.
func (s *Server) Revoke(token string) { s.tokens.revoke(token) }

// RevokeCall revokes every token published for callID (at call teardown) and returns how many.
func (s *Server) RevokeCall(callID string) int { return s.tokens.revokeCall(callID) }
