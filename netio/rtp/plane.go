package rtp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-ims/herald/netio/cpu"
)

// Plane is the RTP plane: a port allocator and Shards timing wheels that pace every stream.
type Plane struct {
	opts   Options
	ip     netip.Addr
	log    *slog.Logger
	ports  *ports
	shards []*shard
	base   time.Time // monotonic base of every due time
	rr     atomic.Uint32

	running  atomic.Bool
	stopping atomic.Bool
	startMu  sync.Mutex
	started  bool
	wg       sync.WaitGroup
	cancel   context.CancelFunc

	streams atomic.Int64
	latched atomic.Uint64
	// unconnected counts senders that could not be opened (openSender), whose stream sends from
	// its receiving socket instead.
	unconnected atomic.Uint64
	lastWarn    atomic.Int64
}

// New validates opts and builds a stopped plane (nothing is bound until Allocate).
func New(opts Options) (*Plane, error) {
	o, ip, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	tos := -1
	if o.DSCP >= 0 {
		tos = o.DSCP << 2
	}
	p := &Plane{opts: o, ip: ip, log: o.Logger.With("component", "netio/rtp"), base: time.Now(),
		ports: newPorts(ip, o.PortMin, o.PortMax, tos)}
	for i := range o.Shards {
		sh, err := newShard(p, i)
		if err != nil {
			for _, s := range p.shards {
				s.poll.close()
			}
			return nil, fmt.Errorf("netio/rtp: %w", err)
		}
		p.shards = append(p.shards, sh)
	}
	return p, nil
}

// now returns the monotonic time since the plane's base in ns.
func (p *Plane) now() int64 { return int64(time.Since(p.base)) }

// wall returns the wall-clock time of monotonic instant t (for RTCP NTP timestamps).
func (p *Plane) wall(t int64) time.Time { return p.base.Add(time.Duration(t)) }

// Start launches the shard goroutines. They run until Stop or until ctx is cancelled.
func (p *Plane) Start(ctx context.Context) error {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if p.started {
		return fmt.Errorf("%w: already started", ErrClosed)
	}
	p.started = true
	ctx, p.cancel = context.WithCancel(ctx)
	for _, sh := range p.shards {
		p.wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("component", "netio/rtp", "shard", strconv.Itoa(sh.id)),
			func(ctx context.Context) {
				defer p.wg.Done()
				if len(p.opts.CPUs) > 0 {
					defer sh.pin(p.opts.CPUs[sh.id%len(p.opts.CPUs)])()
				}
				sh.run(ctx)
			})
	}
	p.running.Store(true)
	p.log.Info("rtp plane started", "laddr", p.ip.String(), "shards", len(p.shards),
		"port_min", p.opts.PortMin, "port_max", p.opts.PortMax, "cpus", cpu.Format(p.opts.CPUs))
	return nil
}

// Stop ends every stream and waits for the shards to exit, or for ctx. Streams still allocated but
// never played keep their ports until their own Stop.
func (p *Plane) Stop(ctx context.Context) error {
	p.startMu.Lock()
	p.running.Store(false)
	p.stopping.Store(true)
	started := p.started
	p.started = true // a stopped plane cannot be started again
	if p.cancel != nil {
		p.cancel()
	}
	p.startMu.Unlock()
	if !started {
		for _, sh := range p.shards {
			sh.shutdown()
		}
		return nil
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("netio/rtp: stop: %w", ctx.Err())
	}
}

// Allocate reserves an RTP/RTCP port pair for a new stream, so the SDP answer can carry its port
// before media starts. The stream must be ended with Stop (or by Play's own end) to free the pair.
func (p *Plane) Allocate() (*Stream, error) {
	if p.stopping.Load() {
		return nil, ErrClosed
	}
	port, r, c, err := p.ports.get()
	if err != nil {
		return nil, err
	}
	p.streams.Add(1)
	sh := p.shards[int(p.rr.Add(1))%len(p.shards)]
	return &Stream{p: p, sh: sh, port: port, rtpFD: r, rtcpFD: c, txRTP: -1, done: make(chan struct{})}, nil
}

// IP returns the address the plane binds, for the SDP c= line.
func (p *Plane) IP() netip.Addr { return p.ip }

// warnSend logs a send error at most once per second.
func (p *Plane) warnSend(err error) {
	now := p.now()
	last := p.lastWarn.Load()
	if now-last < int64(time.Second) || !p.lastWarn.CompareAndSwap(last, now) {
		return
	}
	p.log.Warn("rtp send failed", "error", err)
}
