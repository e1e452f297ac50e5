package rtp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/herald-ims/herald/netio/cpu"
)

// Options configure a Plane. Zero values take the defaults noted on each field.
type Options struct {
	// ListenIP is the local address every RTP/RTCP socket binds to (and the one to put in the SDP
	// answer's c= line). Required; IPv4 or IPv6.
	ListenIP string
	// PortMin and PortMax bound the RTP ports; RTP uses even ports and RTCP the odd port above.
	// Defaults 20000 and 29999.
	PortMin, PortMax int
	// Shards is the number of timing-wheel goroutines. Default len(CPUs) when CPUs is set, else
	// runtime.GOMAXPROCS(0).
	Shards int
	// CPUs pins the shards: shard i locks its goroutine to an OS thread and pins that thread to
	// CPUs[i % len(CPUs)] (netio/cpu). Every CPU must be in cpu.Available(), else New fails with
	// ErrOptions wrapping cpu.ErrNotAllowed. Empty: shards float like any goroutine.
	CPUs []int
	// MaxDuration ends a stream this long after Play (Stream.Err reports ErrMaxDuration). Default 3 min.
	MaxDuration time.Duration
	// RTCPInterval is the sender report period. Default 5 s.
	RTCPInterval time.Duration
	// CNAME for RTCP SDES. Default "herald@" + ListenIP.
	CNAME string
	// DSCP marks outgoing packets (IP TOS = DSCP<<2). Default 46 (EF); -1 leaves the kernel default.
	DSCP int
	// Logger for the plane; the component attribute is added. Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, netip.Addr, error) {
	ip, err := netip.ParseAddr(o.ListenIP)
	if err != nil {
		return o, ip, fmt.Errorf("%w: listen ip %q: %w", ErrOptions, o.ListenIP, err)
	}
	ip = ip.Unmap()
	if o.PortMin == 0 && o.PortMax == 0 {
		o.PortMin, o.PortMax = 20000, 29999
	}
	if o.PortMin%2 == 1 {
		o.PortMin++
	}
	if o.PortMin < 1024 || o.PortMax > 65535 || o.PortMax < o.PortMin+1 {
		return o, ip, fmt.Errorf("%w: port range %d-%d", ErrOptions, o.PortMin, o.PortMax)
	}
	if len(o.CPUs) > 0 {
		if err := cpu.Check(o.CPUs); err != nil {
			return o, ip, fmt.Errorf("%w: cpus: %w", ErrOptions, err)
		}
		o.CPUs = slices.Clone(o.CPUs)
	}
	if o.Shards <= 0 {
		o.Shards = runtime.GOMAXPROCS(0)
		if len(o.CPUs) > 0 {
			o.Shards = len(o.CPUs)
		}
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 3 * time.Minute
	}
	if o.RTCPInterval <= 0 {
		o.RTCPInterval = 5 * time.Second
	}
	if o.CNAME == "" {
		o.CNAME = "herald@" + ip.String()
	}
	if len(o.CNAME) > 255 {
		return o, ip, fmt.Errorf("%w: cname longer than 255 bytes", ErrOptions)
	}
	if o.DSCP == 0 {
		o.DSCP = 46
	}
	if o.DSCP > 63 {
		return o, ip, fmt.Errorf("%w: dscp %d", ErrOptions, o.DSCP)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, ip, nil
}
