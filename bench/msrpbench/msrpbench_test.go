package msrpbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/push"
	heraldmsrp "github.com/herald-ims/herald/netio/msrp"
)

// plane is a started server under test with its dial address.
type plane struct {
	push.Plane
	addr string
}

func startBaseline(t testing.TB) plane {
	t.Helper()
	return startBaselineOpts(t, BaselineOptions{BindTimeout: 3 * time.Second, TransferTimeout: 5 * time.Second})
}

// startBaselineS1 is the baseline as measured before Session 2 (ServerBaselineS1).
func startBaselineS1(t testing.TB) plane {
	t.Helper()
	return startBaselineOpts(t, BaselineOptions{
		BindTimeout: 3 * time.Second, TransferTimeout: 5 * time.Second, LingerAfterDelivery: true, TCPKeepAlive: true,
	})
}

func startBaselineOpts(t testing.TB, o BaselineOptions) plane {
	t.Helper()
	b, err := NewBaseline(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	host, port := b.Addr()
	return plane{b, net.JoinHostPort(host, strconv.Itoa(port))}
}

func startHerald(t testing.TB) plane {
	t.Helper()
	s, err := heraldmsrp.New(heraldmsrp.Options{
		Listen: "127.0.0.1:0", Loops: 2, BindTimeout: 3 * time.Second, TransferTimeout: 5 * time.Second,
		IdleTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	host, port := s.Addr()
	return plane{s, net.JoinHostPort(host, strconv.Itoa(port))}
}

// openN registers n sessions for page and returns them.
func openN(t testing.TB, p push.Plane, page *content.Page, n int) []*push.Session {
	t.Helper()
	ss := make([]*push.Session, n)
	for i := range ss {
		ss[i] = push.NewSession("bench", push.CallerCard, page, time.Minute)
		if err := p.Open(ss[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ss
}

func mustPage(t testing.TB, n int) *content.Page {
	t.Helper()
	page, err := NewPage(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Body) != n {
		t.Fatalf("page of %d bytes, want %d", len(page.Body), n)
	}
	return page
}

// TestServersDeliverIdenticalPages runs the same load against Herald and the baseline: every fetch must
// verify byte for byte (the terminal compares each chunk with the page at its Byte-Range) and every
// session must report Delivered with the page size, on both servers.
func TestServersDeliverIdenticalPages(t *testing.T) {
	for _, size := range []int{16 << 10, 5000, 2048} {
		for name, start := range map[string]func(testing.TB) plane{
			"herald": startHerald, "baseline": startBaseline, "baseline-s1": startBaselineS1,
		} {
			t.Run(fmt.Sprintf("server=%s/page=%d", name, size), func(t *testing.T) {
				p := start(t)
				page := mustPage(t, size)
				const terms, rounds = 8, 3
				ss := openN(t, p, page, terms*rounds)
				ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
				defer cancel()
				res, err := RunLoad(ctx, LoadConfig{
					Addr: p.addr, Page: page.Body, Terminals: terms, Rounds: rounds,
					PathURI: func(i int) string { return p.PathURI(ss[i].ID) }, FetchTimeout: 3 * time.Second,
				})
				if err != nil || res.Errors != 0 || res.Deliveries != terms*rounds {
					t.Fatalf("RunLoad: %d deliveries, %d errors (first %v), err %v", res.Deliveries, res.Errors, res.FirstErr, err)
				}
				for _, s := range ss {
					select {
					case r := <-s.Done:
						if r.Outcome != push.Delivered || r.Bytes != int64(size) {
							t.Fatalf("session result %+v, want delivered %d bytes", r, size)
						}
					case <-time.After(3 * time.Second):
						t.Fatalf("no result for %s", s.ID)
					}
				}
				if p50, p99 := res.Percentile(0.5), res.Percentile(0.99); p50 <= 0 || p99 < p50 {
					t.Fatalf("latency p50 %v p99 %v", p50, p99)
				}
			})
		}
	}
}

// TestTerminalDetectsWrongPage proves the verification can fail: a terminal expecting other bytes of the
// same size, or another size, rejects the page with ErrMismatch.
func TestTerminalDetectsWrongPage(t *testing.T) {
	page := mustPage(t, 16<<10)
	flipped := append([]byte(nil), page.Body...)
	flipped[9000] ^= 1
	tests := map[string][]byte{
		"one byte differs": flipped,
		"page longer":      append(append([]byte(nil), page.Body...), 'x'),
		"page shorter":     page.Body[:len(page.Body)-1],
	}
	for name, want := range tests {
		for srv, start := range map[string]func(testing.TB) plane{"herald": startHerald, "baseline": startBaseline} {
			t.Run(name+"/server="+srv, func(t *testing.T) {
				p := start(t)
				s := openN(t, p, page, 1)[0]
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				_, err := NewTerminal(p.addr, want, 1).Fetch(ctx, p.PathURI(s.ID), nil, nil)
				if !errors.Is(err, ErrMismatch) {
					t.Fatalf("Fetch error %v, want ErrMismatch", err)
				}
			})
		}
	}
}

// TestUnknownSessionRefused checks that both servers answer 481 to an acquisition for an unregistered
// session-id and that the terminal reports it as a protocol error.
func TestUnknownSessionRefused(t *testing.T) {
	for srv, start := range map[string]func(testing.TB) plane{"herald": startHerald, "baseline": startBaseline} {
		t.Run("server="+srv, func(t *testing.T) {
			p := start(t)
			page := mustPage(t, 4096)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err := NewTerminal(p.addr, page.Body, 1).Fetch(ctx, p.PathURI("nosuchsession"), nil, nil)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Fetch error %v, want ErrProtocol (481)", err)
			}
		})
	}
}

// TestHold holds bound connections on both servers, then releases them: every session ends Delivered.
func TestHold(t *testing.T) {
	for srv, start := range map[string]func(testing.TB) plane{"herald": startHerald, "baseline": startBaseline} {
		t.Run("server="+srv, func(t *testing.T) {
			p := start(t)
			page := mustPage(t, 16<<10)
			const n = 50
			ss := openN(t, p, page, n)
			h, err := Hold(context.Background(), HoldConfig{
				Addr: p.addr, Page: page.Body, N: n, Timeout: 8 * time.Second,
				PathURI: func(i int) string { return p.PathURI(ss[i].ID) },
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if len(s.Done) != 0 {
					t.Fatalf("session %s finished while held: %+v", s.ID, <-s.Done)
				}
			}
			if ok, err := h.Wait(); ok != n || err != nil {
				t.Fatalf("released %d of %d, err %v", ok, n, err)
			}
			for _, s := range ss {
				select {
				case r := <-s.Done:
					if r.Outcome != push.Delivered {
						t.Fatalf("result %+v", r)
					}
				case <-time.After(3 * time.Second):
					t.Fatalf("no result for %s", s.ID)
				}
			}
		})
	}
}
