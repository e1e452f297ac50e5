package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/signal"
	"github.com/herald-ims/herald/netio/sdnotify"
)

// Process lifecycle of "herald serve", after nats-server's lame-duck mode and CoreDNS's lameduck:
//
//	SIGTERM, SIGINT  drain (shutdown.drain_timeout), then exit 0; a second one stops at once
//	SIGHUP           reload the config file: validated first, applied only whole (reload below)
//
// A drain: /readyz turns 503, new INVITEs get 503 with Retry-After (both SIP paths), calls still
// ringing keep their pushes and ringback until they end or drain_timeout passes; the rest then get
// 487 upstream, CANCEL downstream and '#' on a half-sent page (RFC 4975 §7.1.1), and Herald waits
// for those pages' connections to end (abortWait: the terminal took the '#' and closed, or
// msrp.linger_max passed). With sip.record_route true, Herald then keeps relaying the in-dialog
// requests of answered calls for shutdown.dialog_grace before it closes its sockets; with the
// default (false) answered calls never pass Herald again and nothing is waited for.

// abortWait bounds the wait, after AbortCalls, for the callees' answers to the CANCELs and for the
// MSRP connections of the aborted pages to end. Each of those lingers while its terminal still takes
// the bytes queued toward it, the '#' chunk last, and is closed at the latest lingerMax (the running
// plane's msrp.linger_max) after its abort; abortSlack covers the aborts themselves (queued on the
// connections' loops) and the plane's timer granularity. What is left then is cut when the sockets
// close, which cannot happen unless the plane's own cap failed.
func abortWait(lingerMax time.Duration) time.Duration { return lingerMax + abortSlack }

const abortSlack = time.Second

// ready is the /readyz check: listeners up, subscriber store open, not draining.
func (in *instance) ready() error {
	switch {
	case !in.up.Load():
		return errors.New("listeners not up")
	case in.store == nil:
		return errors.New("subscriber store not open")
	case in.sip.Draining():
		return errors.New("draining")
	case in.redis != nil && !in.redis.Available():
		return errors.New("subscriber store (redis) unreachable: calls served from the cache, writes refused")
	}
	return nil
}

// drain runs the graceful stop and returns when the sockets may close: all ringing calls ended,
// or drain_timeout passed and the rest were aborted, plus the dialog grace. A second SIGTERM or
// SIGINT on sigs ends it at once (false).
func (in *instance) drain(o *config.Options, sigs <-chan os.Signal) bool {
	log := in.log
	in.sip.Drain()
	log.Info("draining: new calls refused, ringing calls go on", "calls", in.sip.ActiveCalls(),
		"drain_timeout", o.Shutdown.DrainTimeout.D().Seconds())
	// wait polls cond until it holds, the deadline passes (true either way) or a second stop
	// signal comes (false). SIGHUP is ignored during a drain.
	wait := func(d time.Duration, cond func() bool) bool {
		deadline := time.NewTimer(d)
		defer deadline.Stop()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !cond() {
			select {
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					log.Warn("reload ignored: draining")
					continue
				}
				log.Warn("second stop signal: stopping at once", "signal", sig.String(), "calls", in.sip.ActiveCalls())
				return false
			case <-deadline.C:
				return true
			case <-tick.C:
			}
		}
		return true
	}
	idle := func() bool { return in.sip.ActiveCalls() == 0 }
	if !wait(o.Shutdown.DrainTimeout.D(), idle) {
		return false
	}
	if n := in.sip.ActiveCalls(); n > 0 {
		log.Warn("drain timeout: ending the calls still ringing (487 to the caller, CANCEL to the callee)", "calls", n)
		in.sip.AbortCalls()
		flushed := func() bool {
			st := in.msrp.Stats()
			return idle() && st.SessionsOpen == 0 && st.ConnsOpen == 0
		}
		if !wait(abortWait(in.msrp.LingerMax()), flushed) {
			return false
		}
		st := in.msrp.Stats()
		log.Info("aborted calls ended", "msrp_conns_open", st.ConnsOpen,
			"msrp_linger_closed_by_peer", st.LingerClosedByPeer, "msrp_linger_flushed", st.LingerFlushed,
			"msrp_linger_stalled", st.LingerStalled, "msrp_linger_capped", st.LingerCapped)
	}
	if g := o.Shutdown.DialogGrace.D(); g > 0 && o.SIP.RecordRoute {
		log.Info("no call rings: relaying in-dialog requests of answered calls until the grace ends",
			"dialog_grace", g.Seconds())
		if !wait(g, func() bool { return false }) {
			return false
		}
	}
	log.Info("drained")
	return true
}

// certSlot is one certificate and key pair a TLS listener serves; a reload replaces it in place
// (the listener's tls.Config reads it for every handshake).
type certSlot struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

func newCertSlot(certFile, keyFile string) (*certSlot, error) {
	c := &certSlot{certFile: certFile, keyFile: keyFile}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c.cur.Store(&cert)
	return c, nil
}

func (c *certSlot) serverConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }}
}

func (c *certSlot) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// parseTrusted turns sip.trusted (CIDRs and bare IPs) into prefixes.
func parseTrusted(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, t := range list {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			a, err2 := netip.ParseAddr(t)
			if err2 != nil {
				return nil, fmt.Errorf("herald: trusted %q: %w", t, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

// sipReloadable is the part of o a running SIP layer takes (signal.Server.Reload).
func sipReloadable(o *config.Options) (signal.Reloadable, error) {
	trusted, err := parseTrusted(o.SIP.Trusted)
	if err != nil {
		return signal.Reloadable{}, err
	}
	nextHop, transport, err := hostPortOfURI(o.SIP.NextHop)
	if err != nil {
		return signal.Reloadable{}, err
	}
	return signal.Reloadable{Trusted: trusted, MaxCalls: o.Limits.MaxCalls, NextHop: nextHop,
		NextHopTransport: transport, NextHopPinned: namesUDP(o.SIP.NextHop)}, nil
}

// reload is SIGHUP: the file is checked as "herald check" checks it (checkConfig: rules, named
// files, seed, CPUs), then every part that can fail (trusted peers, next hop, certificates,
// tokens) is prepared; only when all of them
// succeed is the new config applied, at once. A rejected reload logs every reason and changes
// nothing. Keys outside config.Reloadable need a restart: changing one rejects the reload. It
// returns the options now running.
func (in *instance) reload(cur *config.Options, path string) *config.Options {
	log := in.log
	if path == "" {
		log.Warn("reload: serving the embedded default config, there is no file to read again")
		return cur
	}
	// The checks of "herald check" (checkConfig): the file's rules, then every file it names (certs,
	// keys, CAs, token files, the seed) and its CPU lists, so that a reload never takes a config that
	// check would refuse, and every reason is logged.
	o, probs, err := checkConfig(path, false)
	if err != nil {
		log.Error("reload rejected: running config kept", "error", err)
		return cur
	}
	if len(probs) > 0 {
		for _, p := range probs {
			log.Error("reload rejected: running config kept", "problem", p.String())
		}
		return cur
	}
	var reasons []string
	for _, k := range config.RestartKeys(cur, o) {
		reasons = append(reasons, k+": changed, needs a restart")
	}
	sr, err := sipReloadable(o)
	if err != nil {
		reasons = append(reasons, err.Error())
	}
	certs := make([]*tls.Certificate, len(in.certs))
	for i, c := range in.certs { // renewed in place: the same files, read again
		cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("certificate %s: %v", c.certFile, err))
			continue
		}
		certs[i] = &cert
	}
	var apiRW, apiRO []string
	if in.api != nil { // tokens rotate on reload: the listed ones and the tokens_file, read again
		if apiRW, apiRO, err = apiTokens(o); err != nil {
			reasons = append(reasons, err.Error())
		}
	}
	var adminToks []string
	switch { // the admin endpoints' tokens rotate too: the file read again
	case in.admin != nil && o.HTTP.AdminTokenFile == "":
		reasons = append(reasons, "http.admin_token_file: removed: opening /metrics, /varz and pprof needs a restart")
	case in.admin != nil:
		if adminToks, err = adminTokens(o); err != nil {
			reasons = append(reasons, err.Error())
		}
	case o.HTTP.AdminTokenFile != "":
		reasons = append(reasons, "http.admin_token_file: set, but the running admin listener has no token guard: needs a restart")
	}
	if len(reasons) > 0 {
		for _, r := range reasons {
			log.Error("reload rejected: running config kept", "problem", r)
		}
		return cur
	}
	// Everything is ready: apply.
	for _, w := range o.Warnings {
		log.Warn("config", "problem", w.String())
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(o.Log.Level)) // validated
	in.level.Set(lvl)
	in.sip.Reload(sr)
	if in.api != nil {
		_ = in.api.SetTokens(apiRW, apiRO) // validated by config.Load and ReadTokensFile
	}
	if in.admin != nil {
		_ = in.admin.Set(adminToks) // read and checked above
	}
	for i, c := range in.certs {
		c.cur.Store(certs[i])
	}
	if o.Limits.GCPercent != cur.Limits.GCPercent && o.Limits.GCPercent != 0 {
		debug.SetGCPercent(o.Limits.GCPercent)
	}
	if o.Limits.MemoryLimitMB != cur.Limits.MemoryLimitMB && o.Limits.MemoryLimitMB > 0 {
		debug.SetMemoryLimit(int64(o.Limits.MemoryLimitMB) << 20)
	}
	log.Info("config reloaded", "file", path, "changed", strings.Join(config.ChangedKeys(cur, o), " "),
		"log_level", o.Log.Level, "trusted", len(sr.Trusted), "next_hop", o.SIP.NextHop)
	return o
}

// notify sends a state to systemd's notification socket (sd_notify(3)); outside systemd it does
// nothing. A failed send is logged, never fatal: the service runs on and systemd's start timeout or
// watchdog acts on what it did not hear.
func notify(log *slog.Logger, state string) {
	if _, err := sdnotify.Send(state); err != nil {
		log.Warn("sd_notify", "state", strings.ReplaceAll(state, "\n", " "), "error", err)
	}
}

// watchdog sends WATCHDOG=1 every d (half of the unit's WatchdogSec) until ctx ends, also while
// draining (TimeoutStopSec bounds the drain). It proves the process and its scheduler are alive, so
// that systemd restarts a Herald that is wedged whole (stopped, or starved of CPU), not one whose
// single plane misbehaves: that is /readyz's and the alerts' job.
func watchdog(ctx context.Context, log *slog.Logger, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	notify(log, "WATCHDOG=1")
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			notify(log, "WATCHDOG=1")
		}
	}
}
