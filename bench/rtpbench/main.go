// Command rtpbench measures how many concurrent G.711 ringback streams one box sustains: Herald's
// timing-wheel plane (netio/rtp) next to a goroutine-and-time.Ticker-per-stream player written the way
// diago plays audio (one goroutine, one ticker, one net.UDPConn and a pion rtp.Packet per call), in the
// same run on the same machine.
//
//	go run ./bench/rtpbench                         # the default sweep, about 50 s
//	go run ./bench/rtpbench -impl wheel -levels 5000 -measure 4s
//	go run ./bench/rtpbench -net loopback -levels 500,1000 -json rtp.json
//
// -json FILE also writes the levels in the bench suite's format (bench/benchfmt, plane "rtp"):
// target wheel (Herald) and ticker (the baseline), a step per level.
//
// Streams start spread over -ramp (calls arrive at random times, so do their 20 ms phases). Where the
// packets go is -net:
//
//   - wire (the default): the benchmark re-executes itself in a network namespace of its own, where
//     an ifb device stands in for the NIC: every stream sends to its own caller address in
//     198.19.0.0/16 (RFC 2544's benchmarking range), routed out of that device, which discards what
//     it is handed. The sender pays the whole UDP/IP transmit path, as it would toward handsets on
//     another host, and nothing else: no receive path runs on these two cores. The device's
//     counter proves every packet reached the "wire".
//   - loopback: -sinks sockets on 127.0.0.1 owned by a child process (this binary with -sink) that
//     drains them with recvmmsg. On loopback the kernel runs the receiver's UDP path inside the
//     sender's send (and in ksoftirqd), so this measures sender and receiver together on one box.
//
// The sender's CPU is getrusage of this process. A level passes when, over the -measure window, at
// most 0.1% of packets left more than 10 ms after their due time and no packet was lost at the
// sender (kernel refusals, or ticks a ticker dropped).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-ims/herald/bench/benchfmt"
	"github.com/herald-ims/herald/core/media"
	"github.com/herald-ims/herald/netio/rtp"
	pionrtp "github.com/pion/rtp"
	"golang.org/x/net/ipv4"
)

const (
	ptime       = 20 * time.Millisecond
	bucket      = 100 * time.Microsecond
	buckets     = 1001
	lateBound   = 10 * time.Millisecond
	maxLateFrac = 0.001
)

type result struct {
	impl                string
	streams             int
	expected, sent      uint64
	late, dropped, lost uint64 // lost = dropped + unsent
	unsent              uint64 // shortfall against real time: ticks a ticker dropped, or a wheel's backlog
	received            uint64
	cpu                 float64 // cores (1.0 = one core busy) over the window
	p50, p99, max       time.Duration
	goroutines          int
	ok                  bool
	load                string
}

func main() {
	var (
		sinkMode   = flag.Bool("sink", false, "internal: run as the sink process")
		impl       = flag.String("impl", "both", "wheel, ticker or both")
		levels     = flag.String("levels", "1000,2000,3000,4000,5000,6000,7000,8000", "stream counts, climbed in order")
		sinks      = flag.Int("sinks", 4, "sink sockets (-net loopback)")
		netMode    = flag.String("net", "wire", "where packets go: wire (a discarding device in a private network namespace) or loopback (a sink process on 127.0.0.1)")
		shards     = flag.Int("shards", 0, "wheel shards (0: GOMAXPROCS)")
		ramp       = flag.Duration("ramp", time.Second, "spread of stream starts")
		measure    = flag.Duration("measure", 2*time.Second, "measurement window after the ramp")
		stopOnFail = flag.Bool("stop-on-fail", true, "stop a sweep at the first failing level")
		jsonOut    = flag.String("json", "", "also write the results as a herald-bench/v1 file (bench/benchfmt) here")
	)
	flag.Parse()
	if *sinkMode {
		runSink(*sinks)
		return
	}
	raiseNoFile()
	var w *wire
	switch *netMode {
	case "wire":
		if os.Getenv(wireEnv) == "" {
			os.Exit(reexecInNamespace())
		}
		var err error
		if w, err = setupWire(); err != nil {
			fatal("wire", err)
		}
	case "loopback":
	default:
		fatal("flag", fmt.Errorf("-net %q: want wire or loopback", *netMode))
	}
	jf := benchfmt.New("rtp", "", os.Args)
	fmt.Printf("# rtpbench: %s, GOMAXPROCS=%d, NumCPU=%d, net=%s, %s\n", runtime.Version(), runtime.GOMAXPROCS(0),
		runtime.NumCPU(), *netMode, loadavg())
	var results []result
	once := func(name string, n int, f func(int, string, []netip.AddrPort) (result, error)) result {
		var (
			r     result
			err   error
			sink  *sink
			addrs []netip.AddrPort
		)
		if w != nil {
			before := w.discarded()
			r, err = f(n, wireLocal, w.callers(n))
			r.received = w.discarded() - before
		} else {
			if sink, addrs, err = startSink(*sinks); err != nil {
				fatal("sink", err)
			}
			r, err = f(n, "127.0.0.1", addrs)
			r.received = sink.finish()
		}
		if err != nil {
			fatal(name, err)
		}
		r.load = loadavg()
		results = append(results, r)
		printResult(r)
		return r
	}
	wheel := func(n int, local string, a []netip.AddrPort) (result, error) {
		return runWheel(n, local, a, *shards, *ramp, *measure)
	}
	ticker := func(n int, local string, a []netip.AddrPort) (result, error) {
		return runTicker(n, local, a, *ramp, *measure)
	}
	// Levels run interleaved (wheel L1, ticker L1, wheel L2, …) so both see the same machine; an
	// implementation stops climbing after its first failing level.
	failed := map[string]bool{"wheel": *impl == "ticker", "ticker": *impl == "wheel"}
	for _, l := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			fatal("bad level", err)
		}
		if !failed["wheel"] {
			failed["wheel"] = !once("wheel", n, wheel).ok && *stopOnFail
		}
		if !failed["ticker"] {
			failed["ticker"] = !once("ticker", n, ticker).ok && *stopOnFail
		}
	}
	best := map[string]int{}
	for _, r := range results {
		if r.ok && r.streams > best[r.impl] {
			best[r.impl] = r.streams
		}
	}
	fmt.Printf("# largest passing level: wheel %d, ticker %d", best["wheel"], best["ticker"])
	if best["ticker"] > 0 {
		fmt.Printf(" (ratio %.1fx)", float64(best["wheel"])/float64(best["ticker"]))
	}
	fmt.Println()
	if *jsonOut != "" {
		writeJSON(jf, *jsonOut, *netMode, results, best)
	}
}

// raiseNoFile lifts RLIMIT_NOFILE as far as allowed: a wheel stream holds three sockets (RTP and
// RTCP receiving sockets and a connected RTP sender), so 6,000 streams need 18,000 descriptors.
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return
	}
	want := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if rl.Max >= want.Max || syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

func fatal(what string, err error) {
	slog.Error("rtpbench", "what", what, "error", err)
	os.Exit(1)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "loadavg ?"
	}
	return "loadavg " + strings.Join(f[:3], " ")
}

func printResult(r result) {
	verdict := "FAIL"
	if r.ok {
		verdict = "ok"
	}
	fmt.Printf("%-6s streams=%-5d sent=%-8d expected=%-8d unsent=%-6d dropped=%-4d late>10ms=%-6d (%.3f%%) p50=%-7v p99=%-7v max=%-8v cpu=%.2f cores (%.1f%% of a core per 1000 streams) received=%d goroutines=%d %s [%s]\n",
		r.impl, r.streams, r.sent, r.expected, r.unsent, r.dropped, r.late, 100*float64(r.late)/float64(max(r.sent, 1)),
		r.p50, r.p99, r.max, r.cpu, 100*r.cpu/(float64(r.streams)/1000), r.received, r.goroutines, verdict, loadavg())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quantiles(h []uint64) (p50, p99, mx time.Duration) {
	var total uint64
	for _, c := range h {
		total += c
	}
	q := func(f float64) time.Duration {
		rank, acc := uint64(f*float64(total)), uint64(0)
		for i, c := range h {
			acc += c
			if acc > rank {
				return time.Duration(i+1) * bucket
			}
		}
		return buckets * bucket
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] != 0 {
			mx = time.Duration(i+1) * bucket
			break
		}
	}
	if total == 0 {
		return 0, 0, 0
	}
	return q(0.5), q(0.99), mx
}

func g711Clip() *media.Packets {
	pcm := media.PCM{Rate: 8000, Samples: make([]int16, 24000)}
	for i := range pcm.Samples {
		pcm.Samples[i] = int16(8000 * ((i / 20) % 2)) // any content: only sizes matter here
	}
	u, _, err := media.NewG711(pcm)
	if err != nil {
		fatal("clip", err)
	}
	return u
}

// runWheel plays n streams on the netio/rtp plane.
func runWheel(n int, local string, sinks []netip.AddrPort, shards int, ramp, measure time.Duration) (result, error) {
	p, err := rtp.New(rtp.Options{ListenIP: local, PortMin: 20000, PortMax: 39999, MaxDuration: time.Hour, Shards: shards,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return result{}, err
	}
	if err := p.Start(context.Background()); err != nil {
		return result{}, err
	}
	defer func() { _ = p.Stop(context.Background()) }()
	track := media.Track{Packets: g711Clip()}
	t0 := time.Now()
	for i := range n {
		if d := time.Duration(i) * ramp / time.Duration(n); time.Since(t0) < d {
			time.Sleep(d - time.Since(t0))
		}
		s, err := p.Allocate()
		if err != nil {
			return result{}, fmt.Errorf("allocate %d: %w", i, err)
		}
		if err := s.Play(sinks[i%len(sinks)], track); err != nil {
			return result{}, err
		}
	}
	time.Sleep(200 * time.Millisecond) // settle
	st0, h0, c0, w0 := p.Stats(), p.LatenessHistogram(), cpuTime(), time.Now()
	time.Sleep(measure)
	st1, h1, c1, w1 := p.Stats(), p.LatenessHistogram(), cpuTime(), time.Now()
	gor := runtime.NumGoroutine()
	_ = p.Stop(context.Background()) // ends every stream at once (per-stream Stop waits a slot each)
	h := make([]uint64, len(h1))
	for i := range h {
		h[i] = h1[i] - h0[i]
	}
	r := result{impl: "wheel", streams: n, sent: st1.Packets - st0.Packets, late: st1.Late - st0.Late,
		dropped: st1.Dropped - st0.Dropped, goroutines: gor,
		expected: uint64(float64(n) * w1.Sub(w0).Seconds() / ptime.Seconds()),
		cpu:      (c1 - c0).Seconds() / w1.Sub(w0).Seconds()}
	r.p50, r.p99, r.max = quantiles(h)
	r.unsent = shortfall(r.expected, r.sent, n)
	r.lost = r.dropped + r.unsent
	r.ok = r.lost == 0 && float64(r.late) <= maxLateFrac*float64(r.sent)
	return r, nil
}

// shortfall is how many packets fewer than expected were sent, beyond one per stream (window edges).
func shortfall(expected, sent uint64, n int) uint64 {
	if sent+uint64(n) >= expected {
		return 0
	}
	return expected - sent - uint64(n)
}

// tickerStats is the baseline's shared accounting, striped to keep atomics off one cache line.
type tickerStats struct {
	stripes [64]struct {
		sent, late, dropped atomic.Uint64
		hist                [buckets]atomic.Uint64
	}
}

// runTicker plays n streams the way diago does: a goroutine per call blocking on its own 20 ms
// time.Ticker, marshalling a reused pion rtp.Packet into a per-call buffer and writing it with
// WriteToUDPAddrPort on the call's own socket. Ticks a slow goroutine misses are dropped by the
// ticker: those packets are lost at the sender, and the stream falls behind real time.
func runTicker(n int, local string, sinks []netip.AddrPort, ramp, measure time.Duration) (result, error) {
	laddr := &net.UDPAddr{IP: net.ParseIP(local)}
	clip := g711Clip()
	var st tickerStats
	var measuring atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		if d := time.Duration(i) * ramp / time.Duration(n); time.Since(t0) < d {
			time.Sleep(d - time.Since(t0))
		}
		conn, err := net.ListenUDP("udp4", laddr)
		if err != nil {
			close(stop)
			wg.Wait()
			return result{}, fmt.Errorf("socket %d: %w", i, err)
		}
		wg.Add(1)
		go func(i int, conn *net.UDPConn) {
			defer wg.Done()
			defer conn.Close()
			s := &st.stripes[i%64]
			dst := sinks[i%len(sinks)]
			pkt := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i),
				Timestamp: uint32(i), SSRC: uint32(i), Marker: true}}
			buf := make([]byte, 1500)
			tk := time.NewTicker(ptime)
			defer tk.Stop()
			start := time.Now()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				pkt.Payload = clip.Frames[k%len(clip.Frames)].Payload
				m, _ := pkt.MarshalTo(buf)
				_, err := conn.WriteToUDPAddrPort(buf[:m], dst)
				late := time.Since(start) - time.Duration(k+1)*ptime
				pkt.SequenceNumber++
				pkt.Timestamp += 160
				pkt.Marker = false
				if !measuring.Load() {
					continue
				}
				if err != nil {
					s.dropped.Add(1)
					continue
				}
				s.sent.Add(1)
				if late > lateBound {
					s.late.Add(1)
				}
				s.hist[min(max(0, late/bucket), buckets-1)].Add(1)
			}
		}(i, conn)
	}
	time.Sleep(200 * time.Millisecond)
	c0, w0 := cpuTime(), time.Now()
	measuring.Store(true)
	time.Sleep(measure)
	measuring.Store(false)
	c1, w1 := cpuTime(), time.Now()
	gor := runtime.NumGoroutine()
	close(stop)
	wg.Wait()
	r := result{impl: "ticker", streams: n, goroutines: gor,
		expected: uint64(float64(n) * w1.Sub(w0).Seconds() / ptime.Seconds()),
		cpu:      (c1 - c0).Seconds() / w1.Sub(w0).Seconds()}
	h := make([]uint64, buckets)
	for i := range st.stripes {
		s := &st.stripes[i]
		r.sent += s.sent.Load()
		r.late += s.late.Load()
		r.dropped += s.dropped.Load()
		for j := range h {
			h[j] += s.hist[j].Load()
		}
	}
	r.p50, r.p99, r.max = quantiles(h)
	r.unsent = shortfall(r.expected, r.sent, n)
	r.lost = r.dropped + r.unsent
	r.ok = r.lost == 0 && float64(r.late) <= maxLateFrac*float64(r.sent)
	return r, nil
}

// sink is the child process that owns the sink sockets.
type sink struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startSink(n int) (*sink, []netip.AddrPort, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, "-sink", "-sinks", strconv.Itoa(n))
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	s := &sink{cmd: cmd, in: in, out: bufio.NewReader(outp)}
	line, err := s.out.ReadString('\n')
	if err != nil {
		return nil, nil, fmt.Errorf("sink: %w", err)
	}
	var addrs []netip.AddrPort
	for _, f := range strings.Fields(line) {
		ap, err := netip.ParseAddrPort(f)
		if err != nil {
			return nil, nil, err
		}
		addrs = append(addrs, ap)
	}
	return s, addrs, nil
}

// finish closes the sink's stdin and returns how many datagrams it received.
func (s *sink) finish() uint64 {
	_ = s.in.Close()
	line, _ := s.out.ReadString('\n')
	_ = s.cmd.Wait()
	n, _ := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
	return n
}

// runSink binds n sockets, prints their addresses, drains them with recvmmsg until stdin closes,
// then prints the datagram count.
func runSink(n int) {
	var total atomic.Uint64
	var conns []*net.UDPConn
	var addrs []string
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			fatal("sink listen", err)
		}
		if rc, err := c.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				// SO_RCVBUFFORCE needs CAP_NET_ADMIN; fall back to what SO_RCVBUF allows.
				if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 33 /* SO_RCVBUFFORCE */, 32<<20) != nil {
					_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<20)
				}
			})
		}
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr().String())
	}
	fmt.Println(strings.Join(addrs, " "))
	for _, c := range conns {
		go func(c *net.UDPConn) {
			pc := ipv4.NewPacketConn(c)
			ms := make([]ipv4.Message, 64)
			for i := range ms {
				ms[i].Buffers = [][]byte{make([]byte, 1500)}
			}
			for {
				k, err := pc.ReadBatch(ms, 0)
				if err != nil {
					return
				}
				total.Add(uint64(k))
				if k < len(ms) {
					// Queue drained: sleep instead of blocking in recvmmsg, so arriving packets
					// queue without a wakeup each (a wakeup per datagram would be charged to the
					// sender's loopback send and swamp what is measured).
					time.Sleep(time.Millisecond)
				}
			}
		}(c)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	fmt.Println(total.Load())
}
