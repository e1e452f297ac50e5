package benchrun

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"
)

// CheckLoopback accepts a host or host:port whose host is a loopback IP address (127.0.0.0/8,
// ::1) or "localhost"; anything else is ErrNotLoopback: the suite offers thousands of calls per
// second and must not send them off the machine.
func CheckLoopback(addr string) error {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	// A transport prefix as the generator takes it: udp:127.0.0.1:5070.
	for _, p := range []string{"udp:", "tcp:", "tls:"} {
		if rest, ok := strings.CutPrefix(addr, p); ok {
			return CheckLoopback(rest)
		}
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}

// addrKeys are the config keys that hold an address Herald listens on or sends to.
var addrKeys = map[string]bool{"addr": true, "listen": true, "admin_listen": true, "advertise": true,
	"advertise_addr": true, "next_hop": true, "listen_ip": true}

// CheckConfigLoopback walks a Herald YAML config and refuses any address-valued key (listen
// addresses, advertised addresses, the next hop) that is not on loopback. A key set to "" or a
// port-only value (":0") is left alone: it means "off" or the default bind of a listener that the
// bench config does not use.
func CheckConfigLoopback(yml []byte) error {
	var root any
	if err := yaml.Unmarshal(yml, &root); err != nil {
		return fmt.Errorf("benchrun: bench config: %w", err)
	}
	var errs []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && addrKeys[k] {
					if err := checkConfigAddr(s); err != nil {
						errs = append(errs, path+k+": "+err.Error())
					}
					continue
				}
				walk(path+k+".", c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s%d.", path, i), c)
			}
		}
	}
	walk("", root)
	if len(errs) > 0 {
		return fmt.Errorf("%w: bench config: %s", ErrNotLoopback, strings.Join(errs, "; "))
	}
	return nil
}

// checkConfigAddr checks one config address: a SIP URI (sip:host:port;params), host:port or host.
func checkConfigAddr(s string) error {
	if s == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "sip:"); ok {
		s, _, _ = strings.Cut(rest, ";")
		if i := strings.IndexByte(s, '@'); i >= 0 {
			s = s[i+1:]
		}
	}
	if strings.HasPrefix(s, ":") {
		return fmt.Errorf("%w: %q binds every interface", ErrNotLoopback, s)
	}
	return CheckLoopback(s)
}
