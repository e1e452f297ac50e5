package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validate checks every value and the cross-field rules, and derives the defaults that depend on other
// keys (sip.advertise, msrp.advertise*, rtp.advertise_addr, http.base_url). Each check reports at the
// position of the key at fault and continues, so one run finds everything.
func (l *loader) validate(o *Options) {
	if o.Node.Name == "" {
		l.valErr("node.name", ErrRequired, "must not be empty")
	}
	l.validateSIP(o)
	l.validateMSRP(o)
	l.validateRTP(o)
	l.validateHTTP(o)
	if o.DataDir == "" {
		l.valErr("data_dir", ErrRequired, "must not be empty")
	}
	l.inRange("store.cache_mb", o.Store.CacheMB, 1, 1<<20)
	l.inRange("store.miss_loads", o.Store.MissLoads, 1, 4096)
	if time.Duration(o.Store.GCGrace) < time.Minute {
		l.valErr("store.gc_grace", ErrValue, "must be at least 1m (an upload is unreferenced until the write naming it), got %s", time.Duration(o.Store.GCGrace))
	}
	if time.Duration(o.Store.GCInterval) < time.Second {
		l.valErr("store.gc_interval", ErrValue, "must be at least 1s, got %s", time.Duration(o.Store.GCInterval))
	}
	l.validateRedis(&o.Store.Redis)
	l.validateCards(o)
	l.positive("limits.max_calls", o.Limits.MaxCalls)
	if o.Limits.GCPercent != 0 {
		l.inRange("limits.gc_percent", o.Limits.GCPercent, 10, 10000)
	}
	if o.Limits.MemoryLimitMB < 0 {
		l.positive("limits.memory_limit_mb", o.Limits.MemoryLimitMB)
	}
	l.inRange("limits.shed_queue", o.Limits.ShedQueue, 0, 1<<20)
	l.validateCPU("cpu.msrp_loops", o.CPU.MSRPLoops)
	l.validateCPU("cpu.rtp_shards", o.CPU.RTPShards)
	l.oneOf("log.level", o.Log.Level, "debug", "info", "warn", "error")
	l.oneOf("log.format", o.Log.Format, "text", "json")
	if d := o.Shutdown.DrainTimeout.D(); d < time.Second || d > 10*time.Minute {
		l.valErr("shutdown.drain_timeout", ErrValue, "must be in 1s..10m, got %s", d)
	}
	if d := o.Shutdown.DialogGrace.D(); l.set["shutdown.dialog_grace"] && (d < time.Second || d > time.Hour) {
		l.valErr("shutdown.dialog_grace", ErrValue, "must be in 1s..1h, got %s", d)
	}
}

// redisPrefix is a key-space name: no braces (it becomes the Cluster hash tag) and no spaces.
var redisPrefix = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func (l *loader) validateRedis(r *RedisOptions) {
	for i, a := range r.Addrs {
		p := fmt.Sprintf("store.redis.addrs[%d]", i)
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			l.valErr(p, ErrValue, "%q is not host:port", a)
		} else if slices.Contains(r.Addrs[:i], a) {
			l.valErr(p, ErrValue, "%q given twice", a)
		}
	}
	if len(r.Addrs) == 0 {
		l.needs("needs store.redis.addrs (without it the subscribers are in the bbolt file)",
			setKey{"store.redis.master_name", r.MasterName != ""}, setKey{"store.redis.cluster", r.Cluster},
			setKey{"store.redis.username", r.Username != ""}, setKey{"store.redis.password_file", r.PasswordFile != ""},
			setKey{"store.redis.sentinel_username", r.SentinelUsername != ""},
			setKey{"store.redis.sentinel_password_file", r.SentinelPasswordFile != ""}, setKey{"store.redis.tls", r.TLS})
		return
	}
	if r.MasterName != "" && r.Cluster {
		l.valErr("store.redis.cluster", ErrValue, "Sentinel (master_name) and Cluster exclude each other")
	}
	if r.MasterName == "" {
		l.needs("needs store.redis.master_name (Sentinels are asked only in Sentinel mode)",
			setKey{"store.redis.sentinel_username", r.SentinelUsername != ""},
			setKey{"store.redis.sentinel_password_file", r.SentinelPasswordFile != ""})
	}
	if r.DB != 0 && (r.Cluster || len(r.Addrs) > 1 && r.MasterName == "") {
		l.valErr("store.redis.db", ErrValue, "a Redis Cluster has database 0 only")
	}
	l.inRange("store.redis.db", r.DB, 0, 15)
	if d := r.Timeout.D(); d < 10*time.Millisecond || d > 10*time.Second {
		l.valErr("store.redis.timeout", ErrValue, "must be in 10ms..10s, got %s", d)
	}
	if !redisPrefix.MatchString(r.Prefix) {
		l.valErr("store.redis.prefix", ErrValue, "%q: 1 to 64 of A-Z a-z 0-9 _ . : -", r.Prefix)
	}
	if (r.TLSCert == "") != (r.TLSKey == "") {
		l.valErr("store.redis.tls_cert", ErrValue, "tls_cert and tls_key go together")
	}
	if !r.TLS {
		l.needs("needs store.redis.tls: true",
			setKey{"store.redis.tls_ca", r.TLSCA != ""}, setKey{"store.redis.tls_cert", r.TLSCert != ""},
			setKey{"store.redis.tls_key", r.TLSKey != ""}, setKey{"store.redis.tls_insecure", r.TLSInsecure})
	}
	if r.TLSInsecure {
		l.warn("store.redis.tls_insecure", "the Redis server's certificate is not verified")
	}
}

// setKey is a key and whether the file set it.
type setKey struct {
	path string
	set  bool
}

// needs reports msg at each key that is set (a key that only means something with another).
func (l *loader) needs(msg string, keys ...setKey) {
	for _, k := range keys {
		if k.set {
			l.valErr(k.path, ErrValue, "%s", msg)
		}
	}
}

// cardScheme is what a URL scheme looks like (RFC 3986 §3.1), lowercase.
var cardScheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

func (l *loader) validateCards(o *Options) {
	l.inRange("cards.max_bytes", o.Cards.MaxBytes, 1024, 1<<20)
	for i, s := range o.Cards.LinkSchemes {
		p := fmt.Sprintf("cards.link_schemes[%d]", i)
		switch {
		case !cardScheme.MatchString(s):
			l.valErr(p, ErrValue, "%q is not a lowercase URL scheme", s)
		case s == "javascript" || s == "vbscript" || s == "data" || s == "file" || s == "blob":
			l.valErr(p, ErrValue, "%q links can run code or read local data", s)
		case slices.Contains(o.Cards.LinkSchemes[:i], s):
			l.valErr(p, ErrValue, "%q given twice", s)
		}
	}
	l.inRange("clips.max_bytes", o.Clips.MaxBytes, 1024, 64<<20)
	if d := time.Duration(o.Clips.MaxDuration); d < time.Second || d > 10*time.Minute {
		l.valErr("clips.max_duration", ErrValue, "must be in 1s..10m, got %s", d)
	}
}

func (l *loader) validateSIP(o *Options) {
	s := &o.SIP
	if len(s.Listen) == 0 {
		l.valErr("sip.listen", ErrRequired, "needs at least one listener")
	}
	type sock struct {
		path string
		addr netip.AddrPort
	}
	var udp, stream []sock // tcp and tls share the TCP port space
	for i, ln := range s.Listen {
		p := fmt.Sprintf("sip.listen[%d]", i)
		switch ln.Transport {
		case "udp", "tcp", "tls":
		case "":
			l.keyErr(p+".transport", ErrRequired, "must be set (udp, tcp or tls)")
		default:
			l.valErr(p+".transport", ErrValue, "%q is not udp, tcp or tls", ln.Transport)
		}
		if ln.Transport == "tls" {
			if ln.Cert == "" {
				l.keyErr(p+".cert", ErrRequired, "tls listener needs cert")
			}
			if ln.Key == "" {
				l.keyErr(p+".key", ErrRequired, "tls listener needs key")
			}
		} else {
			if ln.Cert != "" {
				l.keyErr(p+".cert", ErrConflict, "only valid for transport tls")
			}
			if ln.Key != "" {
				l.keyErr(p+".key", ErrConflict, "only valid for transport tls")
			}
		}
		ap, ok := l.listenAddr(p+".addr", ln.Addr)
		if !ok || ap.Port() == 0 {
			continue
		}
		group := &stream
		if ln.Transport == "udp" {
			group = &udp
		}
		for _, prev := range *group {
			if prev.addr.Port() == ap.Port() &&
				(prev.addr.Addr() == ap.Addr() || prev.addr.Addr().IsUnspecified() || ap.Addr().IsUnspecified()) {
				l.valErr(p+".addr", ErrConflict, "%s %s overlaps %s (line %d)",
					ln.Transport, ln.Addr, prev.path, l.keyPos(prev.path).line)
				break
			}
		}
		*group = append(*group, sock{p, ap})
	}

	switch {
	case l.set["sip.advertise"]:
		l.hostPort("sip.advertise", s.Advertise)
	case len(s.Listen) > 0 && !l.bad["sip.listen[0].addr"]:
		host, port, _ := net.SplitHostPort(s.Listen[0].Addr)
		switch {
		case isWildcard(host):
			l.errAt("sip.listen[0].addr", "sip.advertise", ErrRequired, "required when sip.listen[0].addr (%s) is a wildcard address", s.Listen[0].Addr)
		case port == "0":
			// The kernel picks the port at bind time and Herald advertises the one it got: the host
			// alone says that, and stays a valid sip.advertise when the options are written back.
			s.Advertise = host
		default:
			s.Advertise = s.Listen[0].Addr
		}
	}

	for i, a := range s.Aliases {
		l.hostPort(fmt.Sprintf("sip.aliases[%d]", i), a)
	}

	if s.NextHop == "" {
		l.keyErr("sip.next_hop", ErrRequired, "must be set to the sip: URI of the callee domain's S-CSCF")
	} else if err := checkSIPURI(s.NextHop); err != "" {
		l.valErr("sip.next_hop", ErrURI, "%q: %s", s.NextHop, err)
	}

	if s.DNSServer != "" {
		if ap, err := netip.ParseAddrPort(s.DNSServer); err != nil || ap.Port() == 0 || ap.Addr().IsUnspecified() {
			l.valErr("sip.dns_server", ErrAddress, "%q is not an IP:port (e.g. \"192.0.2.53:53\", \"[2001:db8::53]:53\")", s.DNSServer)
		}
	}

	if len(s.Trusted) == 0 {
		l.warn("sip.trusted", "empty: every source address may start calls")
	}
	for i, t := range s.Trusted {
		p := fmt.Sprintf("sip.trusted[%d]", i)
		if _, err := netip.ParsePrefix(t); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(t); err == nil {
			continue
		}
		l.valErr(p, ErrAddress, "%q is not an IP address or CIDR prefix", t)
	}

	if s.TLSClientInsecure {
		if s.TLSClientCA != "" {
			l.keyErr("sip.tls_client_ca", ErrConflict, "unused when sip.tls_client_insecure is true")
		} else {
			l.warn("sip.tls_client_insecure", "next hops' TLS certificates are not verified (labs only)")
		}
	}
	switch {
	case s.TLSClientCert != "" && s.TLSClientKey == "":
		l.keyErr("sip.tls_client_cert", ErrRequired, "needs sip.tls_client_key")
	case s.TLSClientKey != "" && s.TLSClientCert == "":
		l.keyErr("sip.tls_client_key", ErrRequired, "needs sip.tls_client_cert")
	}

	if s.T1 > s.T2 {
		l.keyErr("sip.t2", ErrConflict, "%s must not be shorter than sip.t1 (%s)", s.T2, s.T1)
	}
	l.inRange("sip.udp_readers", s.UDPReaders, 1, 1024)
	l.inRange("sip.capability.cache_size", s.Capability.CacheSize, 0, 10_000_000)
	if ttl := s.Capability.TTL.D(); ttl < time.Minute || ttl > 720*time.Hour {
		l.valErr("sip.capability.ttl", ErrValue, "must be in 1m..720h, got %s", ttl)
	}
}

func (l *loader) validateMSRP(o *Options) {
	m := &o.MSRP
	ap, ok := l.listenAddr("msrp.listen", m.Listen)
	wild := ok && ap.Addr().IsUnspecified()
	host := ""
	if ok && !wild {
		host = ap.Addr().String()
	}

	switch {
	case l.set["msrp.advertise"]:
		l.host("msrp.advertise", m.Advertise)
	case wild:
		l.errAt("msrp.listen", "msrp.advertise", ErrRequired, "required when msrp.listen (%s) is a wildcard address", m.Listen)
	default:
		m.Advertise = host
	}

	switch {
	case l.set["msrp.advertise_addr"]:
		l.unicastIP("msrp.advertise_addr", m.AdvertiseAddr)
	case host != "":
		m.AdvertiseAddr = host
	case wild && !l.bad["msrp.advertise"]:
		if a, err := netip.ParseAddr(m.Advertise); err == nil {
			m.AdvertiseAddr = a.String()
		} else if m.Advertise != "" {
			l.errAt("msrp.listen", "msrp.advertise_addr", ErrRequired,
				"required when msrp.listen (%s) is a wildcard address and msrp.advertise is not an IP", m.Listen)
		}
	}

	if m.TLSListen != "" {
		l.listenAddr("msrp.tls_listen", m.TLSListen)
		if m.TLSCert == "" {
			l.keyErr("msrp.tls_listen", ErrRequired, "msrps needs msrp.tls_cert")
		}
		if m.TLSKey == "" {
			l.keyErr("msrp.tls_listen", ErrRequired, "msrps needs msrp.tls_key")
		}
	} else if m.OfferTLS {
		l.keyErr("msrp.offer_tls", ErrConflict, "needs msrp.tls_listen")
	}
	if m.TLSClientInsecure {
		if m.TLSClientCA != "" {
			l.keyErr("msrp.tls_client_ca", ErrConflict, "unused when msrp.tls_client_insecure is true")
		} else {
			l.warn("msrp.tls_client_insecure", "terminals' msrps certificates are not verified (labs only)")
		}
	}
	l.inRange("msrp.chunk_size", m.ChunkSize, 64, 65536)
	l.positive("msrp.max_conns", m.MaxConns)
	l.positive("msrp.max_conns_per_ip", m.MaxConnsPerIP)
	l.positive("msrp.max_sessions", m.MaxSessions)
	l.positive("msrp.max_header_bytes", m.MaxHeaderBytes)
	l.positive("msrp.max_chunk_bytes", m.MaxChunkBytes)
	l.positive("msrp.max_outbound", m.MaxOutbound)
	l.inRange("msrp.max_fork_binds", m.MaxForkBinds, 0, 16)
	if m.MaxConnsPerIP > m.MaxConns && m.MaxConns > 0 {
		l.keyErr("msrp.max_conns_per_ip", ErrConflict, "%d exceeds msrp.max_conns (%d)", m.MaxConnsPerIP, m.MaxConns)
	}
	if m.ChunkSize >= 64 && m.MaxOutbound > 0 && m.MaxOutbound < 2*m.ChunkSize {
		l.keyErr("msrp.max_outbound", ErrConflict, "%d is less than 2 × msrp.chunk_size (%d)", m.MaxOutbound, 2*m.ChunkSize)
	}
	if d := m.LingerMax.D(); d < time.Second || d > 5*time.Minute {
		l.valErr("msrp.linger_max", ErrValue, "must be in 1s..5m, got %s", d)
	}
	if m.SessionTTL < m.BindTimeout {
		l.keyErr("msrp.session_ttl", ErrConflict, "%s is shorter than msrp.bind_timeout (%s)", m.SessionTTL, m.BindTimeout)
	}
	l.inRange("msrp.loops", m.Loops, 0, 4096)
	if n := len(o.CPU.MSRPLoops); n > 0 && m.Loops != n {
		l.keyErr("msrp.loops", ErrConflict, "%d loops but cpu.msrp_loops pins %d", m.Loops, n)
	}
}

func (l *loader) validateRTP(o *Options) {
	r := &o.RTP
	ip, ok := l.ip("rtp.listen", r.Listen)
	switch {
	case l.set["rtp.advertise_addr"]:
		l.unicastIP("rtp.advertise_addr", r.AdvertiseAddr)
	case ok && !ip.IsUnspecified():
		r.AdvertiseAddr = ip.String()
	case ok && o.MSRP.AdvertiseAddr != "" && !l.bad["msrp.advertise_addr"]:
		r.AdvertiseAddr = o.MSRP.AdvertiseAddr
	case ok:
		l.errAt("rtp.listen", "rtp.advertise_addr", ErrRequired, "required when rtp.listen (%s) is a wildcard address", r.Listen)
	}

	minOK := l.inRange("rtp.port_min", r.PortMin, 1024, 65534)
	maxOK := l.inRange("rtp.port_max", r.PortMax, 1024, 65534)
	if minOK && r.PortMin%2 != 0 {
		l.valErr("rtp.port_min", ErrValue, "%d must be even (RTP uses even ports)", r.PortMin)
		minOK = false
	}
	if maxOK && r.PortMax%2 != 0 {
		l.valErr("rtp.port_max", ErrValue, "%d must be even (RTP uses even ports)", r.PortMax)
		maxOK = false
	}
	if minOK && maxOK && r.PortMin >= r.PortMax {
		l.keyErr("rtp.port_max", ErrConflict, "%d must be greater than rtp.port_min (%d)", r.PortMax, r.PortMin)
	}
	l.inRange("rtp.shards", r.Shards, 0, 4096)
	if n := len(o.CPU.RTPShards); n > 0 && r.Shards != n {
		l.keyErr("rtp.shards", ErrConflict, "%d shards but cpu.rtp_shards pins %d", r.Shards, n)
	}
}

func (l *loader) validateHTTP(o *Options) {
	h := &o.HTTP
	var ap netip.AddrPort
	ok := false
	if h.Listen != "" {
		ap, ok = l.listenAddr("http.listen", h.Listen)
	}
	switch {
	case l.set["http.base_url"] && h.BaseURL != "":
		u, err := url.Parse(h.BaseURL)
		switch {
		case err != nil:
			l.valErr("http.base_url", ErrURI, "%q: %v", h.BaseURL, err)
		case u.Scheme != "http" && u.Scheme != "https":
			l.valErr("http.base_url", ErrURI, "%q must be an absolute http:// or https:// URL", h.BaseURL)
		case u.Host == "" || u.Hostname() == "":
			l.valErr("http.base_url", ErrURI, "%q has no host", h.BaseURL)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			l.valErr("http.base_url", ErrURI, "%q must not carry user info, a query or a fragment", h.BaseURL)
		case !strings.HasSuffix(h.BaseURL, "/"):
			h.BaseURL += "/"
		}
	case ok && ap.Addr().IsUnspecified():
		l.errAt("http.listen", "http.base_url", ErrRequired, "required when http.listen (%s) is a wildcard address", h.Listen)
	case ok:
		h.BaseURL = "http://" + h.Listen + "/"
	}
	if h.AdminListen != "" {
		aap, aok := l.listenAddr("http.admin_listen", h.AdminListen)
		if aok && ok && aap.Port() != 0 && aap == ap {
			l.valErr("http.admin_listen", ErrConflict, "%s is http.listen too: the admin endpoints need a listener of their own", h.AdminListen)
		}
		if aok && !aap.Addr().IsLoopback() && h.AdminTokenFile == "" {
			l.warn("http.admin_listen", "not loopback and no http.admin_token_file: /metrics, /varz and /debug/pprof "+
				"(a CPU profile or trace on demand) answer anyone who reaches it")
		}
	}
	switch {
	case (h.AdminTLSCert == "") != (h.AdminTLSKey == ""):
		l.keyErr("http.admin_tls_key", ErrRequired, "http.admin_tls_cert and http.admin_tls_key go together")
	case h.AdminTLSCert != "" && h.AdminListen == "":
		l.keyErr("http.admin_tls_cert", ErrConflict, "set but http.admin_listen is \"\" (no admin listener)")
	}
	if h.AdminTokenFile != "" && h.AdminListen == "" {
		l.keyErr("http.admin_token_file", ErrConflict, "set but http.admin_listen is \"\" (no admin listener)")
	}
	l.validateTokens(h)
}

// MinAPITokenLen is the shortest bearer token http.api accepts.
const MinAPITokenLen = 16

// validateTokens checks http.api: well-formed tokens, none both read-only and read-write.
func (l *loader) validateTokens(h *HTTPOptions) {
	rw := map[string]bool{}
	for i, t := range h.API.ReadWriteTokens {
		l.token(fmt.Sprintf("http.api.read_write_tokens[%d]", i), t)
		rw[t] = true
	}
	for i, t := range h.API.ReadOnlyTokens {
		p := fmt.Sprintf("http.api.read_only_tokens[%d]", i)
		if l.token(p, t) && rw[t] {
			l.valErr(p, ErrConflict, "this token is also a read-write token")
		}
	}
}

// token checks one bearer token (RFC 6750 §2.1 b64token, at least MinAPITokenLen characters). The
// value is never echoed: error messages name the path only.
func (l *loader) token(path, t string) bool {
	if len(t) < MinAPITokenLen {
		l.valErr(path, ErrValue, "a token must be at least %d characters", MinAPITokenLen)
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0) {
			l.valErr(path, ErrValue, "a token may hold only letters, digits and -._~+/= (RFC 6750 b64token)")
			return false
		}
	}
	return true
}

func (l *loader) validateCPU(path string, cpus []int) {
	seen := make(map[int]int, len(cpus))
	for i, c := range cpus {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !l.inRange(p, c, 0, 4095) {
			continue
		}
		if j, dup := seen[c]; dup {
			l.valErr(p, ErrConflict, "cpu %d already used by %s[%d]", c, path, j)
			continue
		}
		seen[c] = i
	}
}

// errAt reports a problem about path at the position of the key at.
func (l *loader) errAt(at, path string, class error, format string, args ...any) {
	if l.bad[path] {
		return
	}
	l.bad[path] = true
	l.addAt(l.keyPos(at), class, path+": "+format, args...)
}

func (l *loader) positive(path string, v int) bool {
	if v <= 0 {
		l.valErr(path, ErrValue, "must be greater than 0, got %d", v)
		return false
	}
	return true
}

func (l *loader) inRange(path string, v, lo, hi int) bool {
	if v < lo || v > hi {
		l.valErr(path, ErrValue, "must be in %d..%d, got %d", lo, hi, v)
		return false
	}
	return !l.bad[path]
}

func (l *loader) oneOf(path, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		l.valErr(path, ErrValue, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

// listenAddr checks an "IP:port" to bind.
func (l *loader) listenAddr(path, s string) (netip.AddrPort, bool) {
	if l.bad[path] {
		return netip.AddrPort{}, false
	}
	if s == "" {
		l.keyErr(path, ErrRequired, "must be set to IP:port")
		return netip.AddrPort{}, false
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		l.valErr(path, ErrAddress, "%q is not IP:port", s)
		return netip.AddrPort{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		l.valErr(path, ErrAddress, "%q: host must be an IP address (0.0.0.0 or :: for all)", s)
		return netip.AddrPort{}, false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		l.valErr(path, ErrAddress, "%q: port must be 0..65535", s)
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(n)), true
}

// ip checks a bare IP to bind.
func (l *loader) ip(path, s string) (netip.Addr, bool) {
	if l.bad[path] {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		l.valErr(path, ErrAddress, "%q is not an IP address", s)
		return netip.Addr{}, false
	}
	return a, true
}

// unicastIP checks an IP that peers will connect to (not a wildcard).
func (l *loader) unicastIP(path, s string) {
	if a, ok := l.ip(path, s); ok && a.IsUnspecified() {
		l.valErr(path, ErrAddress, "%q is a wildcard; peers cannot reach it", s)
	}
}

// host checks an IP literal or DNS name without port.
func (l *loader) host(path, s string) {
	if err := checkHost(s); err != "" {
		l.valErr(path, ErrAddress, "%q %s", s, err)
	}
}

// hostPort checks host[:port], host an IP literal ([v6] with a port) or a DNS name.
func (l *loader) hostPort(path, s string) {
	h, p := s, ""
	if hh, pp, err := net.SplitHostPort(s); err == nil {
		h, p = hh, pp
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		h = s[1 : len(s)-1]
	}
	if err := checkHost(h); err != "" {
		l.valErr(path, ErrAddress, "%q %s", s, err)
		return
	}
	if p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			l.valErr(path, ErrAddress, "%q: port must be 1..65535", s)
		}
	}
}

// checkHost returns "" for a usable IP literal or DNS name, else the reason.
func checkHost(s string) string {
	if s == "" {
		return "is empty"
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.IsUnspecified() {
			return "is a wildcard; peers cannot reach it"
		}
		return ""
	}
	if len(s) > 253 {
		return "is longer than 253 characters"
	}
	if last := s[strings.LastIndexByte(s, '.')+1:]; last != "" && strings.Trim(last, "0123456789") == "" {
		return "is not a valid IP address" // an all-numeric top label is a mistyped IPv4 address
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "is not a host name or IP address"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "is not a host name or IP address"
			}
		}
	}
	return ""
}

// checkSIPURI returns "" when s is sip:/sips: [user@]host[:port][;params] with a usable host and
// transport, else the reason. Headers (?...) are refused: a next hop is a route, not a request.
func checkSIPURI(s string) string {
	scheme, rest, ok := strings.Cut(s, ":")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "sip" && scheme != "sips") {
		return "must be a sip: or sips: URI"
	}
	if strings.ContainsAny(rest, "? \t") {
		return "must not contain headers or spaces"
	}
	hostport, params, _ := strings.Cut(rest, ";")
	if i := strings.LastIndexByte(hostport, '@'); i >= 0 {
		hostport = hostport[i+1:]
	}
	if hostport == "" {
		return "has no host"
	}
	h, p := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "has an unterminated IPv6 reference"
		}
		h, p = hostport[1:end], hostport[end+1:]
		if p != "" && p[0] != ':' {
			return "has junk after the IPv6 reference"
		}
		if _, err := netip.ParseAddr(h); err != nil {
			return "has a bad IPv6 address"
		}
		p = strings.TrimPrefix(p, ":")
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		h, p = hostport[:i], hostport[i+1:]
		if err := checkHost(h); err != "" {
			return "host " + err
		}
	} else if err := checkHost(h); err != "" {
		return "host " + err
	}
	if p != "" || strings.HasSuffix(hostport, ":") {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return "port must be 1..65535"
		}
	}
	if params == "" {
		return ""
	}
	for param := range strings.SplitSeq(params, ";") {
		name, val, _ := strings.Cut(param, "=")
		if name == "" {
			return "has an empty parameter"
		}
		if strings.EqualFold(name, "transport") {
			switch strings.ToLower(val) {
			case "udp", "tcp", "tls":
				if scheme == "sips" && strings.EqualFold(val, "udp") {
					return "sips: cannot use transport=udp"
				}
			default:
				return fmt.Sprintf("transport %q is not udp, tcp or tls", val)
			}
		}
	}
	return ""
}
