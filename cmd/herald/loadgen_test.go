package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/bench/loadgen"
	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/config"
)

// benchHerald writes the bench config for g's callee side (nextHop overrides the next hop, e.g. a
// relay in front of it), checks it as `herald check` does, and starts Herald from it.
func benchHerald(t *testing.T, g *loadgen.Generator, transport, nextHop string) *instance {
	t.Helper()
	if nextHop == "" {
		nextHop = g.CalleeAddr()
	}
	sipAddr := "127.0.0.1:" + strconv.Itoa(freeSIPPort(t, "127.0.0.1")) // phones_lab_test.go
	path, err := loadgen.WriteHeraldConfig(loadgen.ConfigOptions{Dir: t.TempDir(), Callee: nextHop,
		Transport: transport, Subscribers: 10, SIP: sipAddr, Admin: "127.0.0.1:0", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdCheck(path, false, &out, &errb); code != 0 {
		t.Fatalf("herald check %s: exit %d\n%s%s", path, code, out.String(), errb.String())
	}
	o, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newInstance(o, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.start(t.Context()); err != nil {
		in.stop(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { in.stop(context.Background()) })
	g.SetHerald(sipAddr)
	return in
}

func runLoad(t *testing.T, g *loadgen.Generator) loadgen.Step {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 1 {
		t.Fatalf("%d steps (stopped: %q), want 1", len(res.Steps), res.Stopped)
	}
	return res.Steps[0]
}

// TestLoadgenThroughHerald: the generator's bench config passes `herald check`, and a short step
// of every mix kind through a real Herald, over UDP and over TCP, completes every call with every
// check passed: 20 calls (5 of each kind), 25 pages verified against their file-selector hashes
// (caller card on caller/both/ringback, callee card on both/ringback), 5 ringback streams with
// no packet lost. Herald's own counters agree with what the generator saw.
func TestLoadgenThroughHerald(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			g, err := loadgen.New(loadgen.Options{Transport: transport, Rates: []float64{20}, Step: time.Second,
				Ramp: -1, Hold: 300 * time.Millisecond, Subscribers: 10, StopOnFail: -1, PID: os.Getpid()})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			in := benchHerald(t, g, transport, "")
			s := runLoad(t, g)
			if s.Attempted != 20 || s.Completed != 20 || len(s.Failed) != 0 {
				t.Fatalf("attempted %d completed %d failed %v, want 20 completed", s.Attempted, s.Completed, s.Failed)
			}
			for _, k := range loadgen.MixKinds {
				if m := s.ByMix[k]; m == nil || m.Completed != 5 {
					t.Errorf("%s: %+v, want 5 completed", k, m)
				}
			}
			if s.PageMS.Count != 25 || s.SetupMS.Count != 20 || s.SetupMS.P50 < 300 {
				t.Errorf("pages %+v setup %+v, want 25 pages and 20 setups of at least the 300 ms ring", s.PageMS, s.SetupMS)
			}
			if s.RTP.Calls != 5 || s.RTP.Received < 5*5 || s.RTP.Lost != 0 || s.RTP.Expected != s.RTP.Received {
				t.Errorf("rtp %+v, want 5 streams of at least 5 packets, none lost", s.RTP)
			}
			if s.Herald == nil || s.Herald.CPUMSPerCall <= 0 || s.Herald.FDsEnd == 0 {
				t.Errorf("herald figures %+v", s.Herald)
			}
			st := &in.sip.Stats
			if got := st.Ringbacks.Load(); got != 5 {
				t.Errorf("Herald started %d ringbacks, want 5", got)
			}
			if got := st.CallerCards.Load(); got != 15 {
				t.Errorf("Herald offered %d caller cards, want 15", got)
			}
			if got := st.CalleeCards.Load(); got != 10 {
				t.Errorf("Herald offered %d callee cards, want 10", got)
			}
		})
	}
}

// hashRelay forwards every datagram to to, changing one hex digit of the first a=file-selector
// hash of each INVITE on the way: the page the terminal then fetches is not the one announced.
func hashRelay(t *testing.T, to string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	dst, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		b := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			msg := b[:n]
			if bytes.HasPrefix(msg, []byte("INVITE ")) {
				if i := bytes.Index(msg, []byte("hash:sha-1:")); i >= 0 {
					d := &msg[i+len("hash:sha-1:")]
					if *d == '0' {
						*d = '1'
					} else {
						*d = '0'
					}
				}
			}
			_, _ = pc.WriteTo(msg, dst)
		}
	}()
	return pc.LocalAddr().String()
}

// stallConn passes the first after bytes read, then swallows everything: an MSRP transfer that
// stops mid-page, so the page is never complete and no REPORT can be sent.
type stallConn struct {
	net.Conn
	after, n int
}

func (c *stallConn) Read(b []byte) (int, error) {
	for {
		k, err := c.Conn.Read(b)
		if c.n < c.after {
			pass := min(k, c.after-c.n)
			c.n += k
			if pass > 0 || err != nil {
				return pass, err
			}
			continue
		}
		if err != nil {
			return 0, err //nolint:wrapcheck // the connection's own error, as an unwrapped Conn returns it
		}
	}
}

// TestLoadgenDetectsFaultsThroughHerald: with a real Herald in the path and one fault under
// control each, every call fails and is counted under the cause that names the fault:
// a file-selector hash changed on the way (the fetched page does not match: page_mismatch), an
// MSRP transfer that stalls after its first bytes (no complete page, no REPORT: page_incomplete),
// a callee that answers 486 (sip_4xx).
func TestLoadgenDetectsFaultsThroughHerald(t *testing.T) {
	tests := map[string]struct {
		relay  bool
		callee func(*uesim.CalleeOptions)
		cause  string
	}{
		"hash changed on the way": {relay: true, cause: loadgen.CausePageMismatch},
		"transfer stalls": {cause: loadgen.CausePageIncomplete, callee: func(co *uesim.CalleeOptions) {
			co.Link.MSRPConn = func(c net.Conn) net.Conn { return &stallConn{Conn: c, after: 300} }
		}},
		"busy": {cause: loadgen.CauseSIP4xx, callee: func(co *uesim.CalleeOptions) { co.RejectCode = 486 }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := loadgen.New(loadgen.Options{Mix: loadgen.Mix{loadgen.MixCaller: 1}, Rates: []float64{10},
				Step: 500 * time.Millisecond, Ramp: -1, Hold: 100 * time.Millisecond, Subscribers: 10, StopOnFail: -1,
				FetchTimeout: 700 * time.Millisecond, CalleeOptions: tc.callee})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			next := ""
			if tc.relay {
				next = hashRelay(t, g.CalleeAddr())
			}
			benchHerald(t, g, "udp", next)
			s := runLoad(t, g)
			if s.Attempted != 5 || s.Completed != 0 || s.Failed[tc.cause] != 5 || len(s.Failed) != 1 {
				t.Errorf("attempted %d completed %d failed %v, want 5 failed as %s", s.Attempted, s.Completed,
					s.Failed, tc.cause)
			}
			if strings.HasPrefix(tc.cause, "page") && s.PageMS.Count != 0 {
				t.Errorf("page_ms counted %d pages that failed", s.PageMS.Count)
			}
		})
	}
}

// TestLoadgenLeanThroughHerald: the lean terminals (raw UDP, no sipgo: the generator of the push
// rate figures) drive the push flows through a real Herald and every call completes with its
// pages verified against their file-selector hashes: 15 calls (5 plain, 5 caller card, 5 both
// cards), 15 pages. Herald's counters agree. With a file-selector hash changed on the way, every
// call fails as page_mismatch: the lean fetch checks what it gets.
func TestLoadgenLeanThroughHerald(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		g, err := loadgen.New(loadgen.Options{Terminals: loadgen.TerminalsLean, Rates: []float64{15}, Step: time.Second,
			Mix: loadgen.Mix{loadgen.MixPlain: 1, loadgen.MixCaller: 1, loadgen.MixBoth: 1}, Ramp: -1,
			Hold: 300 * time.Millisecond, Subscribers: 10, StopOnFail: -1, PID: os.Getpid()})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		in := benchHerald(t, g, "udp", "")
		s := runLoad(t, g)
		if s.Attempted != 15 || s.Completed != 15 || len(s.Failed) != 0 {
			t.Fatalf("attempted %d completed %d failed %v, want 15 completed", s.Attempted, s.Completed, s.Failed)
		}
		if s.PageMS.Count != 15 || s.SetupMS.Count != 15 || s.SetupMS.P50 < 300 {
			t.Errorf("pages %+v setup %+v, want 15 pages and 15 setups of at least the 300 ms ring", s.PageMS, s.SetupMS)
		}
		st := &in.sip.Stats
		if got := st.CallerCards.Load(); got != 10 {
			t.Errorf("Herald offered %d caller cards, want 10", got)
		}
		if got := st.CalleeCards.Load(); got != 5 {
			t.Errorf("Herald offered %d callee cards, want 5", got)
		}
	})
	t.Run("hash changed on the way", func(t *testing.T) {
		g, err := loadgen.New(loadgen.Options{Terminals: loadgen.TerminalsLean, Mix: loadgen.Mix{loadgen.MixCaller: 1},
			Rates: []float64{10}, Step: 500 * time.Millisecond, Ramp: -1, Hold: 100 * time.Millisecond, Subscribers: 10,
			StopOnFail: -1, FetchTimeout: 700 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		benchHerald(t, g, "udp", hashRelay(t, g.CalleeAddr()))
		s := runLoad(t, g)
		if s.Attempted != 5 || s.Completed != 0 || s.Failed[loadgen.CausePageMismatch] != 5 || len(s.Failed) != 1 {
			t.Errorf("attempted %d completed %d failed %v, want 5 failed as %s", s.Attempted, s.Completed, s.Failed,
				loadgen.CausePageMismatch)
		}
		if e := s.FailedExample[loadgen.CausePageMismatch]; !strings.Contains(e, "sha-1") {
			t.Errorf("first page_mismatch %q, want the hash named", e)
		}
	})
}
