package config

import (
	"time"
)

// Options is a validated configuration. It is never modified after Parse returns: share it freely
// and treat its slices as read-only.
type Options struct {
	// Source is the file name the options were parsed from (for logs and "check" output).
	Source string `yaml:"-"`
	// Warnings are non-fatal findings (for example an empty sip.trusted list); Err is nil in each.
	Warnings []Problem `yaml:"-"`

	Node    NodeOptions  `yaml:"node"`
	SIP     SIPOptions   `yaml:"sip"`
	MSRP    MSRPOptions  `yaml:"msrp"`
	RTP     RTPOptions   `yaml:"rtp"`
	HTTP    HTTPOptions  `yaml:"http"`
	DataDir string       `yaml:"data_dir"` // default ./herald-data
	Seed    string       `yaml:"seed"`     // seed directory (profiles.yaml + pages/); "" = embedded seed
	Store   StoreOptions `yaml:"store"`
	Cards   CardOptions  `yaml:"cards"`
	Clips   ClipOptions  `yaml:"clips"`
	Limits  LimitOptions `yaml:"limits"`
	CPU     CPUOptions   `yaml:"cpu"`
	Log     LogOptions   `yaml:"log"`

	Shutdown ShutdownOptions `yaml:"shutdown"`
}

// NodeOptions names this instance.
type NodeOptions struct {
	Name string `yaml:"name"` // instance name for logs; default "herald"
}

// Listener is one SIP listening socket.
type Listener struct {
	Transport string `yaml:"transport"`      // udp, tcp or tls
	Addr      string `yaml:"addr"`           // IP:port; port 0 lets the kernel choose (tests)
	Cert      string `yaml:"cert,omitempty"` // PEM certificate chain file (tls only)
	Key       string `yaml:"key,omitempty"`  // PEM private key file (tls only)
}

// SIPOptions configures the signalling plane.
type SIPOptions struct {
	Listen []Listener `yaml:"listen"`
	// Advertise is the host[:port] Herald puts in Via, Record-Route and Contact.
	// Default: the first listen address; required when that address is a wildcard.
	Advertise string `yaml:"advertise"`
	// Aliases are other names Herald answers to as its own in a Route or Request-URI: host or
	// host:port ("[v6]:port"), e.g. the name the S-CSCF's initial filter criteria give the
	// application server (3GPP TS 29.228 ServerName) when it is not Advertise, or a load
	// balancer's address. Without a port, an alias is Herald's at any port.
	Aliases []string `yaml:"aliases,omitempty"`
	// NextHop is the sip:/sips: URI of the callee domain's S-CSCF, e.g. "sip:127.0.0.1:5070;transport=udp".
	// Its transport parameter is honoured (RFC 3263 §4.1): ;transport=udp sends every request over UDP
	// whatever its size; without one, an INVITE over 1300 bytes goes over TCP (RFC 3261 §18.1.1) and over
	// UDP again, whole, when the next hop refuses TCP. A domain without a port is resolved by SRV
	// (RFC 3263 §4.2: _sip._udp, _sip._tcp, _sips._tcp), else by A/AAAA at 5060 (5061 for sips:).
	NextHop string `yaml:"next_hop"`
	// DNSServer is the IP:port of the DNS server asked for the names of next hops, Routes and Vias
	// (RFC 3263: SRV, A/AAAA), e.g. the IMS core's own DNS; "" = the system's resolver (/etc/hosts,
	// then /etc/resolv.conf). Answers are cached 30 s for both paths.
	DNSServer string `yaml:"dns_server,omitempty"`
	// RecordRoute keeps Herald in the dialog path after the answer (ACK, re-INVITE, UPDATE, BYE).
	// Herald's work ends at the INVITE's final response, so the default is false: the dialog's later
	// requests go between the terminals and the hops that record-route, and a Herald that is stopped
	// or restarted breaks no answered call. A deployment whose routing needs Herald in the path sets
	// it true; a drain then keeps relaying in-dialog requests only for shutdown.dialog_grace.
	RecordRoute bool `yaml:"record_route"`
	// FastPath proxies plain calls (no card, no ringback) that arrive and leave over UDP with Herald's
	// own transaction table instead of the general SIP stack: about a third of the CPU per call.
	// Default true; false sends every call the general way (for comparison, or to rule it out).
	FastPath bool `yaml:"fast_path"`
	// Trusted lists the CIDRs and IPs allowed to start calls; empty allows everyone (with a warning).
	Trusted    []string `yaml:"trusted,omitempty"`
	T1         Duration `yaml:"t1"`          // default 500ms
	T2         Duration `yaml:"t2"`          // default 4s
	TimerC     Duration `yaml:"timer_c"`     // default 180s
	UDPReaders int      `yaml:"udp_readers"` // SO_REUSEPORT readers per UDP listener, default 2

	// A request whose next hop is sips: or ;transport=tls (next_hop, or a Route) leaves over TLS, and
	// the next hop's certificate is verified against the host of that URI (RFC 3261 §26.3.1, RFC 5922).
	TLSClientCA string `yaml:"tls_client_ca"` // PEM CA certificates to verify with; "" = the system roots
	// TLSClientInsecure skips that verification: labs with self-signed next hops only (warned).
	TLSClientInsecure bool `yaml:"tls_client_insecure"`
	// TLSClientCert and TLSClientKey (both or neither) are the PEM certificate chain and key Herald
	// presents to a next hop that demands mutual TLS; they may name a tls listener's cert and key.
	TLSClientCert string `yaml:"tls_client_cert"`
	TLSClientKey  string `yaml:"tls_client_key"`

	// Capability governs which terminals get Herald's early-dialog pushes (see CapabilityOptions).
	Capability CapabilityOptions `yaml:"capability"`
}

// CapabilityOptions: ordinary phones fail a call whose INVITE carries an RFC 3959 early-session part
// (even marked handling=optional) and refuse an UPDATE offering m=message, so Herald pushes only to
// terminals known to take it: provisioned (a profile's push_capable) or learned. Learned is a bounded
// cache keyed by canonical identity: yes when a callee answered the early-session offer or a
// terminal fetched its page, no when it refused; each entry lives ttl. Every other terminal gets the
// cards as Call-Info links (RFC 3261 §20.9) only.
type CapabilityOptions struct {
	// CacheSize is how many terminals are remembered, 0..10,000,000 (0 learns nothing); default
	// 100000 (about 100 bytes each).
	CacheSize int `yaml:"cache_size"`
	// TTL is how long a learned answer holds, 1m..720h; default 24h.
	TTL Duration `yaml:"ttl"`
	// Probe sends the early-session part to callees of unknown capability too; a non-2xx final
	// response before any 18x or 2xx (or a 2xx without a session answer, which Herald ends with ACK
	// and BYE) makes Herald resend the INVITE once without it (within the same Timer C) and remember
	// the callee as not capable. A phone still holding the refused call may answer the resend
	// 482/486: that call fails, the next one works. Default false.
	Probe bool `yaml:"probe"`
}

// MSRPOptions configures the MSRP plane.
type MSRPOptions struct {
	Listen string `yaml:"listen"` // IP:port, default 127.0.0.1:2855
	// Advertise is the host or FQDN used in a=path; required when Listen is a wildcard.
	Advertise string `yaml:"advertise"`
	// AdvertiseAddr is the IP put in c= (RFC 6714 CEMA). Default: the Listen host, or Advertise when
	// that is an IP literal.
	AdvertiseAddr string `yaml:"advertise_addr"`
	ChunkSize     int    `yaml:"chunk_size"` // body bytes per SEND chunk, 64..65536, default 2048

	MaxConns       int `yaml:"max_conns"`        // default 65536
	MaxConnsPerIP  int `yaml:"max_conns_per_ip"` // per IPv4 address or IPv6 /64; default max_conns
	MaxSessions    int `yaml:"max_sessions"`     // open push sessions, default 100000
	MaxHeaderBytes int `yaml:"max_header_bytes"` // largest MSRP header block accepted, default 16384
	MaxChunkBytes  int `yaml:"max_chunk_bytes"`  // largest chunk body accepted from a peer, default 262144
	MaxOutbound    int `yaml:"max_outbound"`     // queued outbound bytes per connection, default 4 MiB
	// MaxForkBinds caps the terminals that fetch one caller card, the first included: the S-CSCF
	// forks the INVITE carrying its offer to each of the callee's devices (RFC 3261 §16.6), and each
	// device's early dialog fetches it over its own connection; a further one gets MSRP 506.
	// 0..16; 0 = the default 4; 1 = only the first device fetches.
	MaxForkBinds int `yaml:"max_fork_binds"`

	BindTimeout     Duration `yaml:"bind_timeout"`     // session open → terminal's SEND, default 30s
	TransferTimeout Duration `yaml:"transfer_timeout"` // one page delivery, default 60s
	IdleTimeout     Duration `yaml:"idle_timeout"`     // connection without traffic, default 120s
	SessionTTL      Duration `yaml:"session_ttl"`      // lifetime of a session-id, default 120s
	// LingerMax caps the lingering close of a connection Herald is done with (a page aborted with
	// '#', failed or timed out): Herald reads and discards the terminal's input and keeps the
	// connection open while the terminal still takes the bytes queued toward it, then closes; 1s..5m,
	// default 10s. A drain (shutdown) waits this long plus 1s for the aborted pages' connections.
	LingerMax Duration `yaml:"linger_max"`

	Loops int `yaml:"loops"` // gnet event loops; 0 = GOMAXPROCS/2, at least 1 (or len(cpu.msrp_loops) when pinned)

	// msrps (RFC 4975 TLS) on its own crypto/tls listener feeding the same sessions.
	TLSListen string `yaml:"tls_listen"` // IP:port; "" = no msrps
	TLSCert   string `yaml:"tls_cert"`   // PEM certificate chain file
	TLSKey    string `yaml:"tls_key"`    // PEM private key file
	// OfferTLS makes every push offer msrps (m=message … TCP/TLS/MSRP, a=path:msrps://); needs tls_listen.
	OfferTLS bool `yaml:"offer_tls"`
	// When a terminal answers an msrps offer with a=setup:passive (RFC 6135), Herald dials it as the TLS
	// client and verifies its certificate against the host of its a=path URI.
	TLSClientCA string `yaml:"tls_client_ca"` // PEM CA certificates to verify with; "" = the system roots
	// TLSClientInsecure skips that verification: labs with throw-away terminal certificates only (warned).
	TLSClientInsecure bool `yaml:"tls_client_insecure"`
}

// RTPOptions configures the ringback plane.
type RTPOptions struct {
	Listen string `yaml:"listen"` // IP to bind, default 127.0.0.1
	// AdvertiseAddr is the IP put in c= of the ringback SDP. Default: Listen, or msrp.advertise_addr
	// when Listen is a wildcard.
	AdvertiseAddr string   `yaml:"advertise_addr"`
	PortMin       int      `yaml:"port_min"`     // even, default 30000
	PortMax       int      `yaml:"port_max"`     // even, > port_min, default 39998
	Shards        int      `yaml:"shards"`       // timing-wheel shards; 0 = GOMAXPROCS (or len(cpu.rtp_shards))
	MaxDuration   Duration `yaml:"max_duration"` // longest ringback, default 180s
}

// HTTPOptions configures the Call-Info page fallback and admin endpoints.
type HTTPOptions struct {
	Listen string `yaml:"listen"` // IP:port, default 127.0.0.1:8080; "" disables HTTP (admin included)
	// BaseURL is the absolute http(s) URL put in Call-Info, always ending in "/".
	// Default: http://<listen>/ when Listen is not a wildcard.
	BaseURL string `yaml:"base_url"`
	// AdminListen is the admin listener's IP:port: /metrics, /varz, /debug/pprof/, the provisioning
	// API (/v1/) and the operator page (/ui/). The page listener (Listen) then serves pages and
	// /healthz only. Default 127.0.0.1:8081; "" serves no admin endpoint at all. Keep it off the
	// terminals' network.
	AdminListen string `yaml:"admin_listen"`
	// AdminTLSCert and AdminTLSKey (PEM files, both or neither) make the admin listener serve HTTPS,
	// so bearer tokens and the operator page's session cookie (then Secure) never cross the network
	// in clear.
	AdminTLSCert string `yaml:"admin_tls_cert"`
	AdminTLSKey  string `yaml:"admin_tls_key"`
	// AdminTokenFile names a file of bearer tokens (RFC 6750) that /metrics, /varz and
	// /debug/pprof/ then require: the format of api.tokens_file ("rw <token>" or "ro <token>" per
	// line, '#' comments; either kind grants these read-only endpoints). Without it they are open
	// to whoever reaches the admin listener. /healthz and /readyz never ask for a token; the
	// provisioning API has its own (api). Read at start and again on every reload (SIGHUP), so
	// tokens rotate without a restart. Needs http.admin_listen.
	AdminTokenFile string `yaml:"admin_token_file"`
	// API configures the provisioning API's bearer tokens.
	API APIOptions `yaml:"api"`
}

// APIOptions are the provisioning API's credentials (RFC 6750 bearer tokens). With no token at all
// the API and the operator page refuse every request (401).
type APIOptions struct {
	// ReadWriteTokens may read and write; ReadOnlyTokens may only read. Each is at least 16
	// characters of RFC 6750 b64token (letters, digits, -._~+/=).
	ReadWriteTokens []string `yaml:"read_write_tokens,omitempty"`
	ReadOnlyTokens  []string `yaml:"read_only_tokens,omitempty"`
	// TokensFile names a file of further tokens, one "rw <token>" or "ro <token>" per line ('#'
	// starts a comment), read at start and again on every reload (SIGHUP: tokens rotate without a
	// restart), so that secrets stay out of the configuration file.
	TokensFile string `yaml:"tokens_file"`
}

// LimitOptions caps whole-process resources.
type LimitOptions struct {
	MaxCalls int `yaml:"max_calls"` // concurrent calls, default 10000
	// GCPercent sets the Go collector's target (runtime/debug.SetGCPercent, what GOGC sets); default
	// DefaultGCPercent (100, Go's own); an explicit 0 leaves Go's (and the environment's GOGC) in place.
	//
	// What a finished call leaves live is small: the fast path keeps each finished transaction
	// 64·T1 (32 s) as a pointer-free record (keys and the last response, 443 B per plain call);
	// a push call's general-path transactions are kept as long with only their method and a
	// non-INVITE's last response. Most of Herald's heap is garbage, not live state, so the heap the
	// collector lets grow (live × (1 + GCPercent/100)) is what sets resident memory. Measured on 2
	// cores (bench/results/sip-push.md), with 100: plain forwarding at 5,000 calls/s for 60 s peaks
	// at 176–178 MB, the push flow with both pages fetched at 600 calls/s at 245 MB. Before the
	// records were compacted the same plain run peaked at 0.95 GB with 400, 0.80 GB with 200 and
	// 0.55 GB with 100 at the same CPU per call, and the push flow at 200 calls/s (median of three
	// alternated runs) took 1.58 CPU-ms per call with 100 against 1.44 with 400 (+10%) for 171
	// against 236 MB. A higher value trades memory for fewer collections.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimitMB is the Go runtime's soft memory limit (runtime/debug.SetMemoryLimit, what
	// GOMEMLIMIT sets); default DefaultMemoryLimitMB (4096); an explicit 0 sets none. It caps what
	// GCPercent would let the heap grow to: the heap stays near max(limit, live). The collector then
	// runs every (limit − live) bytes allocated instead of every live × GCPercent/100, which costs
	// less CPU than Go's default GOGC=100 as long as the limit is above twice the live heap: with
	// 0.5 MB per call/s, 4096 MB covers ≈ 4,000 calls/s sustained. A busier node sets it to what it
	// can give Herald (≈ 75% of its memory): the limit is soft, so a live heap above it is never an
	// out-of-memory error, only a collector that runs nearly all the time (capped by Go at 50% CPU).
	MemoryLimitMB int `yaml:"memory_limit_mb"`
	// ShedQueue is the overload threshold, in runnable goroutines per CPU Herald runs on
	// (GOMAXPROCS). When the Go scheduler's run queue stands above ShedQueue × CPUs (its 10th
	// percentile over a second of samples taken every 10 ms: a queue that never empties), Herald
	// forwards a growing share of new calls that would get cards or ringback as plain calls, and
	// takes the share back down once it is under half (core/overload). Such a call goes through as
	// it would without Herald; a node whose pushes outgrow its CPU would otherwise delay every
	// call's setup until callers retransmit and give up. Default DefaultShedQueue (16; measured on
	// 2 vCPUs: 0-1 while Herald carried its calls, on its own CPUs or on half a CPU shared with
	// other work, and mostly 100-1,400 while it collapsed); 0 turns shedding off. Counted in
	// herald_sip_shed_total.
	ShedQueue int `yaml:"shed_queue"`
}

// CPUOptions pins event loops to CPUs. Both lists are optional.
type CPUOptions struct {
	MSRPLoops []int `yaml:"msrp_loops,omitempty"` // one CPU per MSRP loop
	RTPShards []int `yaml:"rtp_shards,omitempty"` // one CPU per RTP shard
}

// LogOptions configures log/slog.
type LogOptions struct {
	Level  string `yaml:"level"`  // debug, info, warn or error; default info
	Format string `yaml:"format"` // text or json; default text
	Trace  bool   `yaml:"trace"`  // SIP/MSRP wire tracing, separate from debug
}

// ShutdownOptions govern the drain on SIGTERM (see cmd/herald): readiness goes false, new INVITEs
// get 503 with Retry-After, calls still ringing keep their pushes and ringback until they end or
// DrainTimeout passes; the rest get 487 upstream, CANCEL downstream and '#' on a half-sent page
// (RFC 4975 §7.1.1). A second SIGTERM or SIGINT stops at once.
type ShutdownOptions struct {
	// DrainTimeout bounds the wait for ringing calls, 1s..10m; default 20s. The aborted pages'
	// connections then get up to msrp.linger_max plus 1s to end. systemd's TimeoutStopSec must exceed
	// DrainTimeout plus msrp.linger_max plus DialogGrace plus a few seconds.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// DialogGrace is how long, once no call rings, Herald keeps relaying in-dialog requests (ACK,
	// re-INVITE, BYE) of calls answered through it before it exits, 1s..1h; absent: none. Useful
	// only with sip.record_route true, where every answered call's BYE passes Herald.
	DialogGrace Duration `yaml:"dialog_grace,omitempty"`
}

// Duration is a time.Duration written in YAML as a Go duration string ("500ms", "30s", "3m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML renders d as a duration string, so Options round-trip through YAML.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// CardOptions is the policy an uploaded (or seed) caller or callee card is sanitised with
// (core/content.Prepare). Whatever the knobs, a card never keeps scripts, event handlers,
// javascript: URLs, frames, objects, embeds, forms, or anything that fetches from the network.
type CardOptions struct {
	// MaxBytes is the largest card accepted, before sanitising, 1024..1048576; default
	// DefaultCardMaxBytes (256 KiB).
	MaxBytes int `yaml:"max_bytes"`
	// Styles keeps <style> elements and style attributes, minus every CSS declaration or at-rule
	// that could fetch (url(), @import, @font-face, image-set(), escapes). Default true.
	Styles bool `yaml:"styles"`
	// Images keeps <img> whose src is a base64 data: URI of a PNG, GIF, JPEG, WebP or SVG image.
	// Default true.
	Images bool `yaml:"images"`
	// SVG keeps inline SVG drawings (shapes, paths, text, gradients; no <use>, <image>,
	// <foreignObject>, <style> or animation). Default true.
	SVG bool `yaml:"svg"`
	// LinkSchemes are the schemes an <a href> may use; default [https, tel, sip, sips, mailto]. An
	// empty list removes every href. javascript, vbscript, data, file and blob are refused.
	LinkSchemes []string `yaml:"link_schemes"`
}

// ClipOptions bounds uploaded ringback clips (core/media.PrepareClip).
type ClipOptions struct {
	// MaxBytes is the largest clip source file (WAV, .awb or H.264), 1024..67108864; default
	// DefaultClipMaxBytes (4 MiB).
	MaxBytes int `yaml:"max_bytes"`
	// MaxDuration is the longest loop of a clip, 1s..10m; default 60s.
	MaxDuration Duration `yaml:"max_duration"`
}

// StoreOptions configures the subscriber store: the bbolt file data_dir/herald.db and the call
// path's in-memory index and cache (core/store).
type StoreOptions struct {
	// CacheMB bounds the pages and ringback clips held in memory for calls, in MiB; default
	// DefaultStoreCacheMB. A call whose subscriber's versions are not cached loads them from the file.
	CacheMB int `yaml:"cache_mb"`
	// MissLoads bounds the cache misses loaded from the file at once; a call that misses while all
	// are busy is proxied without cards and ringback. Default DefaultStoreMissLoads.
	MissLoads int `yaml:"miss_loads"`
	// GCGrace is how long a page or clip version may stay unreferenced before it is collected (at
	// least a minute: an upload is unreferenced until the subscriber write that names it). Default 1h.
	GCGrace Duration `yaml:"gc_grace"`
	// GCInterval is how often unreferenced versions are collected; default 10m.
	GCInterval Duration `yaml:"gc_interval"`
	// Redis, when its addrs are set, keeps the subscribers in Redis instead of the bbolt file, so
	// that several Herald nodes share them (netio/redisstore); cache_mb and miss_loads still bound
	// each node's cache.
	Redis RedisOptions `yaml:"redis"`
}

// RedisOptions selects and reaches the Redis deployment holding a fleet's subscribers.
type RedisOptions struct {
	// Addrs are host:port addresses: one server (standalone); the Sentinels when master_name is
	// set; the seed nodes of a Cluster when there are several or cluster is true. Empty: Bolt.
	Addrs []string `yaml:"addrs"`
	// MasterName is the Sentinel-monitored master's name; it selects Sentinel mode.
	MasterName string `yaml:"master_name"`
	// Cluster selects Cluster mode with a single seed address.
	Cluster bool `yaml:"cluster"`
	// Username (Redis 6 ACL) and PasswordFile (a file holding the password, one line; "" = none)
	// authenticate to the Redis servers (the master in Sentinel mode).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// SentinelUsername and SentinelPasswordFile (a file holding the password, one line; "" =
	// none) authenticate to the Sentinels themselves, which have their own requirepass or ACL
	// users (https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/, "Configuring
	// Sentinel instances with authentication"); master_name only.
	SentinelUsername     string `yaml:"sentinel_username"`
	SentinelPasswordFile string `yaml:"sentinel_password_file"`
	// DB is the database number, 0..15 (standalone and Sentinel).
	DB int `yaml:"db"`
	// TLS connects over TLS; TLSCA verifies the server ("" = system roots), TLSCert and TLSKey
	// (both or neither) are a client certificate, TLSInsecure skips verification (labs; warned).
	TLS         bool   `yaml:"tls"`
	TLSCA       string `yaml:"tls_ca"`
	TLSCert     string `yaml:"tls_cert"`
	TLSKey      string `yaml:"tls_key"`
	TLSInsecure bool   `yaml:"tls_insecure"`
	// Timeout bounds every Redis command, a call's load of an uncached card and a write's wait for
	// its own change to come back; 10ms..10s, default DefaultRedisTimeout.
	Timeout Duration `yaml:"timeout"`
	// Prefix names the key space (the Cluster hash tag); default "herald".
	Prefix string `yaml:"prefix"`
}
