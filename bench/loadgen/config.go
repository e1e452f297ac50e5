package loadgen

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/herald-ims/herald/netio/freeport"

	"github.com/herald-ims/herald/configs"
)

// DefaultSubscribers is how many subscribers of each mix kind a bench config holds and a run
// cycles through.
const DefaultSubscribers = 100

// Card files of the bench seed: the seed's caller card (9 KB: five 2048-byte chunks) and its large
// callee card (about 18 KB: nine 2048-byte chunks), so that chunking is part of every push.
const (
	callerCardFile = "alice-card.html"
	calleeCardFile = "bob-callee.html"
)

// ConfigOptions describe the Herald a bench run talks to (WriteHeraldConfig).
type ConfigOptions struct {
	// Dir receives herald.yaml, seed/ (profiles.yaml and pages/) and data/ (Herald's store).
	Dir string
	// Callee is the generator's callee side, Herald's next hop (host:port).
	Callee string
	// Transport is the next hop's transport, "udp" (default) or "tcp": the run's -transport.
	Transport string
	// Subscribers of each mix kind; default DefaultSubscribers.
	Subscribers int
	// SIP is Herald's SIP address (UDP and TCP); default 127.0.0.1:5070.
	SIP string
	// HTTP and Admin are Herald's page and admin listeners; "" picks free loopback ports now.
	HTTP, Admin string
	// MSRP is Herald's MSRP listener; default 127.0.0.1:0 (the kernel picks; Herald advertises it).
	MSRP string
	// RTPPorts is Herald's ringback port range "min-max"; default 20000-29998, below the
	// ephemeral ports the generator's own sockets get.
	RTPPorts string
	// LogLevel is Herald's log level; default warn.
	LogLevel string
}

// WriteHeraldConfig writes a Herald config and seed for a bench run and returns the config's path:
// SIP on o.SIP (udp and tcp), the next hop o.Callee, limits above what a 2-core sweep reaches
// (so that the figures show Herald, not a cap), and o.Subscribers subscribers of each kind (see
// CallerURI, CalleeURI), all push-capable:
//
//	plain:    no cards                       caller:   caller card
//	both:     caller card, callee card       ringback: caller card, callee card, ringback "ringback"
func WriteHeraldConfig(o ConfigOptions) (string, error) {
	if o.Dir == "" || o.Callee == "" {
		return "", fmt.Errorf("%w: herald-config needs a directory and the callee address", ErrOptions)
	}
	if _, _, err := net.SplitHostPort(o.Callee); err != nil {
		return "", fmt.Errorf("%w: callee %q: %w", ErrOptions, o.Callee, err)
	}
	switch o.Transport = strings.ToLower(o.Transport); o.Transport {
	case "":
		o.Transport = "udp"
	case "udp", "tcp":
	default:
		return "", fmt.Errorf("%w: transport %q: want udp or tcp", ErrOptions, o.Transport)
	}
	if o.Subscribers <= 0 {
		o.Subscribers = DefaultSubscribers
	}
	if o.SIP == "" {
		o.SIP = "127.0.0.1:5070"
	}
	if o.MSRP == "" {
		o.MSRP = "127.0.0.1:0"
	}
	if o.RTPPorts == "" {
		o.RTPPorts = "20000-29998"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	rmin, rmax, ok := strings.Cut(o.RTPPorts, "-")
	if !ok {
		return "", fmt.Errorf("%w: rtp ports %q: want min-max", ErrOptions, o.RTPPorts)
	}
	var err error
	for _, p := range []*string{&o.HTTP, &o.Admin} {
		if *p == "" {
			if *p, err = freePort(); err != nil {
				return "", err
			}
		}
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return "", fmt.Errorf("loadgen: %w", err)
	}
	seed := filepath.Join(dir, "seed")
	if err := os.MkdirAll(filepath.Join(seed, "pages"), 0o750); err != nil {
		return "", fmt.Errorf("loadgen: %w", err)
	}
	for _, f := range []string{callerCardFile, calleeCardFile} {
		b, err := fs.ReadFile(configs.Seed, "pages/"+f)
		if err != nil {
			return "", fmt.Errorf("loadgen: seed page %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(seed, "pages", f), b, 0o640); err != nil {
			return "", fmt.Errorf("loadgen: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(seed, "profiles.yaml"), seedProfiles(o.Subscribers), 0o640); err != nil {
		return "", fmt.Errorf("loadgen: %w", err)
	}
	hostIP, sipPort, err := net.SplitHostPort(o.SIP)
	if err != nil {
		return "", fmt.Errorf("%w: herald sip %q: %w", ErrOptions, o.SIP, err)
	}
	advertise := o.SIP
	if sipPort == "0" { // the kernel picks the ports (tests): Herald advertises what it got
		advertise = hostIP
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Herald config for a bench run, written by "loadgen herald-config" (bench/loadgen).
# The generator's callee side is the next hop; its callers are the subscribers in seed/.
node:
  name: herald-bench
sip:
  listen:
    - { transport: udp, addr: %q }
    - { transport: tcp, addr: %q }
  advertise: %q
  next_hop: "sip:%s;transport=%s"
  record_route: false
  fast_path: true
  trusted: ["127.0.0.0/8", "::1"]
msrp:
  listen: %q
  advertise: %s
  max_conns: 200000
  max_conns_per_ip: 200000
  max_sessions: 200000
rtp:
  listen: %s
  port_min: %s
  port_max: %s
http:
  listen: %q
  base_url: "http://%s/"
  admin_listen: %q
data_dir: %q
seed: %q
limits:
  max_calls: 100000
log:
  level: %s
`, o.SIP, o.SIP, advertise, o.Callee, o.Transport, o.MSRP, hostIP, hostIP, rmin, rmax, o.HTTP, o.HTTP, o.Admin,
		filepath.Join(dir, "data"), seed, o.LogLevel)
	path := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o640); err != nil {
		return "", fmt.Errorf("loadgen: %w", err)
	}
	return path, nil
}

// seedProfiles is the profiles.yaml of n subscribers of each kind (core/profile seed format).
func seedProfiles(n int) []byte {
	var b strings.Builder
	b.WriteString("# Bench subscribers written by \"loadgen herald-config\": n callers and n callees per mix kind.\n")
	for _, kind := range MixKinds {
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "- identities: [%q]\n", CallerURI(kind, i))
			if expectsCallerCard(kind) {
				b.WriteString("  caller_card: " + callerCardFile + "\n")
			}
			b.WriteString("  push_capable: true\n")
			fmt.Fprintf(&b, "- identities: [%q]\n", CalleeURI(kind, i))
			if expectsCalleeCard(kind) {
				b.WriteString("  callee_card: " + calleeCardFile + "\n")
			}
			if kind == MixRingback {
				b.WriteString("  ringback: ringback\n")
			}
			b.WriteString("  push_capable: true\n")
		}
	}
	return []byte(b.String())
}

// freePort returns a loopback address for Herald to bind, leased to this process below the kernel's
// ephemeral range (netio/freeport).
func freePort() (string, error) {
	p, err := freeport.Port("127.0.0.1")
	if err != nil {
		return "", fmt.Errorf("loadgen: %w", err)
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}
