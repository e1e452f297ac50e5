package msrpbench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herald-ims/herald/core/config"
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/push"
	heraldmsrp "github.com/herald-ims/herald/netio/msrp"
)

// ChildEnv names the environment variable that turns the benchmark binary into a server child: its value
// is the server kind, ServerHerald or ServerBaseline.
const ChildEnv = "HERALD_MSRPBENCH_CHILD"

// Server kinds.
const (
	ServerHerald   = "herald"
	ServerBaseline = "baseline"
	// ServerHerald1Loop is Herald with one gnet event loop (a sensitivity check; the default is
	// GOMAXPROCS/2, which is also one loop on 2 vCPUs).
	ServerHerald1Loop = "herald-1loop"
	// ServerBaselineS1 is the baseline as measured before Session 2 (bench/results/history/msrp-plane.md): it
	// lingers after a complete delivery (half-close, wait for the terminal's close) where netio/msrp
	// closes at once, and keeps Go's default TCP keep-alive, which netio/msrp does not enable.
	ServerBaselineS1 = "baseline-s1"
)

// ProfileEnv names an environment variable that makes each server child write a CPU profile of its whole
// life to "<value>.<kind>.<pid>" (go tool pprof reads it), e.g. HERALD_MSRPBENCH_CPUPROFILE=/tmp/cpu.
const ProfileEnv = "HERALD_MSRPBENCH_CPUPROFILE"

// childLimits are generous so that neither server refuses benchmark load: every connection comes from
// 127.0.0.1 and held connections must outlive the measurement.
const (
	childMaxConns = 50000
	childTimeout  = 120 * time.Second
)

// Child runs a server of the given kind and obeys the control protocol on in, answering on out:
//
//	(child starts)             → "addr <host> <port>"
//	"page <bytes>"             → "ok"             build the page every later session pushes
//	"open <prefix> <n>"        → "ok"             register sessions <prefix>0 … <prefix><n-1>
//	"usage"                    → "usage <user µs> <sys µs> <maxrss KiB>"   getrusage(RUSAGE_SELF)
//	"gc"                       → "ok"             runtime.GC and debug.FreeOSMemory
//	"results"                  → "results <delivered> <other>"   results collected so far (drains them)
//	"quit" or EOF              → the server stops, Child returns
//
// Anything else is answered "err <reason>".
func Child(kind string, in io.Reader, out io.Writer) error {
	if p := os.Getenv(ProfileEnv); p != "" {
		f, err := os.Create(fmt.Sprintf("%s.%s.%d", p, kind, os.Getpid()))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrChild, err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return fmt.Errorf("%w: %w", ErrChild, err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	var (
		plane push.Plane
		stop  func()
	)
	switch kind {
	case ServerHerald, ServerHerald1Loop:
		// Herald as `herald serve` runs it with the shipped configuration (core/config defaults, which
		// configs/herald.yaml keeps: chunk_size 2048, loops 0 = GOMAXPROCS/2), except what the benchmark
		// needs: a free port, caps above the held connections and timeouts longer than a run.
		o := heraldmsrp.Options{
			Listen: "127.0.0.1:0", MaxConns: childMaxConns, MaxConnsPerIP: childMaxConns, MaxSessions: 1 << 21,
			BindTimeout: childTimeout, TransferTimeout: childTimeout, IdleTimeout: childTimeout,
			ChunkSize: config.DefaultChunkSize, MaxHeaderBytes: config.DefaultMaxHeaderBytes,
			MaxChunkBytes: config.DefaultMaxChunkBytes, MaxOutbound: config.DefaultMaxOutbound,
			Logger: slog.New(slog.DiscardHandler),
		}
		if kind == ServerHerald1Loop {
			o.Loops = 1
		}
		s, err := heraldmsrp.New(o)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrChild, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.Start(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrChild, err)
		}
		plane = s
		stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Stop(ctx)
		}
	case ServerBaseline, ServerBaselineS1:
		b, err := NewBaseline(BaselineOptions{
			BindTimeout: childTimeout, TransferTimeout: childTimeout,
			LingerAfterDelivery: kind == ServerBaselineS1, TCPKeepAlive: kind == ServerBaselineS1,
		})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrChild, err)
		}
		plane, stop = b, b.Stop
	default:
		return fmt.Errorf("%w: unknown server kind %q", ErrChild, kind)
	}
	defer stop()

	w := bufio.NewWriter(out)
	reply := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\n", args...)
		_ = w.Flush()
	}
	host, port := plane.Addr()
	reply("addr %s %d", host, port)

	var page *content.Page
	var pending []*push.Session
	var delivered, other int64
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "page" && len(f) == 2:
			n, err := strconv.Atoi(f[1])
			if err == nil {
				page, err = NewPage(n)
			}
			if err != nil {
				reply("err %v", err)
				continue
			}
			reply("ok")
		case f[0] == "open" && len(f) == 3:
			n, err := strconv.Atoi(f[2])
			if err != nil || page == nil {
				reply("err open needs a count and a page")
				continue
			}
			exp := time.Now().Add(childTimeout)
			for i := range n {
				s := &push.Session{
					ID: f[1] + strconv.Itoa(i), CallID: "bench", Role: push.CallerCard, Page: page,
					Expires: exp, Done: make(chan push.Result, 1),
				}
				if err = plane.Open(s); err != nil {
					break
				}
				pending = append(pending, s)
			}
			if err != nil {
				reply("err %v", err)
				continue
			}
			reply("ok")
		case f[0] == "usage":
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				reply("err %v", err)
				continue
			}
			reply("usage %d %d %d", tvMicros(ru.Utime), tvMicros(ru.Stime), ru.Maxrss)
		case f[0] == "gc":
			runtime.GC()
			debug.FreeOSMemory()
			reply("ok")
		case f[0] == "results":
			kept := pending[:0]
			for _, s := range pending {
				select {
				case r := <-s.Done:
					if r.Outcome == push.Delivered {
						delivered++
					} else {
						other++
					}
				default:
					kept = append(kept, s)
				}
			}
			clear(pending[len(kept):])
			pending = kept
			reply("results %d %d", delivered, other)
		case f[0] == "quit":
			return nil
		default:
			reply("err unknown command %q", sc.Text())
		}
	}
	return sc.Err()
}

func tvMicros(tv syscall.Timeval) int64 { return int64(tv.Sec)*1e6 + int64(tv.Usec) }
