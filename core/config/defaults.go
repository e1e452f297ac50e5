package config

import (
	"net"
	"time"
)

// Defaults for keys the file leaves out. Values a default is derived from (advertise from listen,
// base_url from http.listen) are filled in validate, once the source value is known to be good.
const (
	DefaultNodeName       = "herald"
	DefaultSIPAddr        = "127.0.0.1:5060"
	DefaultT1             = 500 * time.Millisecond
	DefaultT2             = 4 * time.Second
	DefaultTimerC         = 180 * time.Second
	DefaultUDPReaders     = 2
	DefaultCapCacheSize   = 100000
	DefaultCapTTL         = 24 * time.Hour
	DefaultMSRPListen     = "127.0.0.1:2855"
	DefaultChunkSize      = 2048
	DefaultMaxConns       = 65536
	DefaultMaxSessions    = 100000
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxChunkBytes  = 256 << 10
	DefaultMaxOutbound    = 4 << 20
	DefaultMaxForkBinds   = 4
	DefaultBindTimeout    = 30 * time.Second
	DefaultTransferTO     = 60 * time.Second
	DefaultIdleTimeout    = 120 * time.Second
	DefaultSessionTTL     = 120 * time.Second
	DefaultLingerMax      = 10 * time.Second
	DefaultRTPListen      = "127.0.0.1"
	DefaultRTPPortMin     = 30000
	DefaultRTPPortMax     = 39998
	DefaultRTPMaxDuration = 180 * time.Second
	DefaultHTTPListen     = "127.0.0.1:8080"
	DefaultAdminListen    = "127.0.0.1:8081"
	DefaultDataDir        = "./herald-data"
	DefaultStoreCacheMB   = 256
	DefaultStoreMissLoads = 64
	DefaultStoreGCGrace   = time.Hour
	DefaultStoreGCIntvl   = 10 * time.Minute
	DefaultRedisTimeout   = 500 * time.Millisecond
	DefaultRedisPrefix    = "herald"
	DefaultMaxCalls       = 10000
	DefaultGCPercent      = 100  // see LimitOptions.GCPercent for the arithmetic
	DefaultMemoryLimitMB  = 4096 // see LimitOptions.MemoryLimitMB
	DefaultShedQueue      = 16   // see LimitOptions.ShedQueue
	DefaultCardMaxBytes   = 256 << 10
	DefaultClipMaxBytes   = 4 << 20
	DefaultClipMaxDur     = 60 * time.Second
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"
	DefaultDrainTimeout   = 20 * time.Second
)

// applyDefaults fills every key the file did not set. An explicit value, even zero, is kept.
func (l *loader) applyDefaults(o *Options) {
	str := func(path string, p *string, v string) {
		if !l.set[path] {
			*p = v
		}
	}
	num := func(path string, p *int, v int) {
		if !l.set[path] {
			*p = v
		}
	}
	dur := func(path string, p *Duration, v time.Duration) {
		if !l.set[path] {
			*p = Duration(v)
		}
	}

	str("node.name", &o.Node.Name, DefaultNodeName)

	if !l.set["sip.listen"] {
		o.SIP.Listen = []Listener{{Transport: "udp", Addr: DefaultSIPAddr}, {Transport: "tcp", Addr: DefaultSIPAddr}}
	}
	if !l.set["sip.fast_path"] {
		o.SIP.FastPath = true
	}
	dur("sip.t1", &o.SIP.T1, DefaultT1)
	dur("sip.t2", &o.SIP.T2, DefaultT2)
	dur("sip.timer_c", &o.SIP.TimerC, DefaultTimerC)
	num("sip.udp_readers", &o.SIP.UDPReaders, DefaultUDPReaders)
	num("sip.capability.cache_size", &o.SIP.Capability.CacheSize, DefaultCapCacheSize)
	dur("sip.capability.ttl", &o.SIP.Capability.TTL, DefaultCapTTL)

	str("msrp.listen", &o.MSRP.Listen, DefaultMSRPListen)
	num("msrp.chunk_size", &o.MSRP.ChunkSize, DefaultChunkSize)
	num("msrp.max_conns", &o.MSRP.MaxConns, DefaultMaxConns)
	num("msrp.max_conns_per_ip", &o.MSRP.MaxConnsPerIP, o.MSRP.MaxConns)
	num("msrp.max_sessions", &o.MSRP.MaxSessions, DefaultMaxSessions)
	num("msrp.max_header_bytes", &o.MSRP.MaxHeaderBytes, DefaultMaxHeaderBytes)
	num("msrp.max_chunk_bytes", &o.MSRP.MaxChunkBytes, DefaultMaxChunkBytes)
	num("msrp.max_outbound", &o.MSRP.MaxOutbound, DefaultMaxOutbound)
	num("msrp.max_fork_binds", &o.MSRP.MaxForkBinds, DefaultMaxForkBinds)
	dur("msrp.bind_timeout", &o.MSRP.BindTimeout, DefaultBindTimeout)
	dur("msrp.transfer_timeout", &o.MSRP.TransferTimeout, DefaultTransferTO)
	dur("msrp.idle_timeout", &o.MSRP.IdleTimeout, DefaultIdleTimeout)
	dur("msrp.session_ttl", &o.MSRP.SessionTTL, DefaultSessionTTL)
	dur("msrp.linger_max", &o.MSRP.LingerMax, DefaultLingerMax)
	num("msrp.loops", &o.MSRP.Loops, len(o.CPU.MSRPLoops))

	str("rtp.listen", &o.RTP.Listen, DefaultRTPListen)
	num("rtp.port_min", &o.RTP.PortMin, DefaultRTPPortMin)
	num("rtp.port_max", &o.RTP.PortMax, DefaultRTPPortMax)
	num("rtp.shards", &o.RTP.Shards, len(o.CPU.RTPShards))
	dur("rtp.max_duration", &o.RTP.MaxDuration, DefaultRTPMaxDuration)

	str("http.listen", &o.HTTP.Listen, DefaultHTTPListen)
	str("http.admin_listen", &o.HTTP.AdminListen, DefaultAdminListen)
	str("data_dir", &o.DataDir, DefaultDataDir)
	num("store.cache_mb", &o.Store.CacheMB, DefaultStoreCacheMB)
	num("store.miss_loads", &o.Store.MissLoads, DefaultStoreMissLoads)
	dur("store.gc_grace", &o.Store.GCGrace, DefaultStoreGCGrace)
	dur("store.gc_interval", &o.Store.GCInterval, DefaultStoreGCIntvl)
	dur("store.redis.timeout", &o.Store.Redis.Timeout, DefaultRedisTimeout)
	str("store.redis.prefix", &o.Store.Redis.Prefix, DefaultRedisPrefix)
	num("cards.max_bytes", &o.Cards.MaxBytes, DefaultCardMaxBytes)
	for _, k := range []struct {
		path string
		p    *bool
	}{{"cards.styles", &o.Cards.Styles}, {"cards.images", &o.Cards.Images}, {"cards.svg", &o.Cards.SVG}} {
		if !l.set[k.path] {
			*k.p = true
		}
	}
	if !l.set["cards.link_schemes"] {
		o.Cards.LinkSchemes = []string{"https", "tel", "sip", "sips", "mailto"}
	}
	num("clips.max_bytes", &o.Clips.MaxBytes, DefaultClipMaxBytes)
	dur("clips.max_duration", &o.Clips.MaxDuration, DefaultClipMaxDur)
	num("limits.max_calls", &o.Limits.MaxCalls, DefaultMaxCalls)
	num("limits.gc_percent", &o.Limits.GCPercent, DefaultGCPercent)
	num("limits.memory_limit_mb", &o.Limits.MemoryLimitMB, DefaultMemoryLimitMB)
	num("limits.shed_queue", &o.Limits.ShedQueue, DefaultShedQueue)
	str("log.level", &o.Log.Level, DefaultLogLevel)
	str("log.format", &o.Log.Format, DefaultLogFormat)
	dur("shutdown.drain_timeout", &o.Shutdown.DrainTimeout, DefaultDrainTimeout)
}

// isWildcard reports whether host is an unspecified address (0.0.0.0, ::) or empty.
func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}
