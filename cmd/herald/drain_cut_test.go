package main

import (
	"context"
	"errors"
	"net"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/core/config"
)

// thinLink makes a terminal's MSRP connection look like a thin radio link to Herald: before the
// connect, a small receive buffer (a small window) and a 536-byte MSS (RFC 9293 §3.7.1 default).
// On loopback the MSS is otherwise 64 KB, which makes Linux size Herald's send buffer at about ten
// such segments from the first one, so a whole page of up to 1 MB leaves Herald at once and a drain
// never catches one in flight; with these options Herald's kernel holds a few tens of KB and the
// rest waits in Herald's own queue, chunk by chunk.
func thinLink(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096); serr != nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, 536)
	})
	if err != nil {
		return err
	}
	return serr
}

// wireConn keeps every byte a terminal reads from its MSRP connection.
type wireConn struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (c *wireConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.got = append(c.got, b[:n]...)
	c.mu.Unlock()
	return n, err
}

func (c *wireConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.got...)
}

// endLine is an MSRP end-line (RFC 4975 §7.1): seven hyphens, the transaction id, the flag.
var endLine = regexp.MustCompile(`\r\n-------([A-Za-z0-9.+%=-]{3,32})([$#+])\r\n`)

// TestDrainCutsPagesWithHash: the drain-timeout acceptance with pages really cut mid-send. Three
// calls ring while each callee's terminal fetches a 900 KB caller card over a thin link, reading
// 256 bytes every 20 ms; drain_timeout (1 s) passes long before any page could be in. Then each
// caller gets 487, each callee a CANCEL, and every MSRP message the terminals were receiving ends
// either whole ('$' and the file-selector hash matching) or with a chunk whose end-line flag is '#'
// (RFC 4975 §7.1): never cut off silently. This is checked twice: by the terminal's MSRP parser
// (uesim.ErrAborted) and on the bytes each connection delivered (the stream ends exactly after an
// end-line flagged '#'). Here the terminals read at full speed once the calls are ended, as a live
// radio would deliver what was queued, and Herald exits 0; TestDrainCutsPagesWithHashSlowReader
// keeps them slow.
func TestDrainCutsPagesWithHash(t *testing.T) { drainCutsPages(t, true) }

// TestDrainCutsPagesWithHashSlowReader: the same drain, but the terminals keep reading at ~12 KB/s
// through their 4 KB receive buffers after the abort, so the '#' chunk waits behind the tens of KB
// queued in Herald's socket send buffer for seconds. Herald's lingering close must keep reading the
// terminals' 200s and keep each connection open while the terminal still takes those bytes (bounded
// by msrp.linger_max), and the drain must wait for it: every connection still ends exactly after a
// chunk flagged '#', each closed by the terminal (the drained log counts no linger cut).
func TestDrainCutsPagesWithHashSlowReader(t *testing.T) { drainCutsPages(t, false) }

// drainCutsPages runs the drain with pages cut mid-send; fastAfter makes the terminals read at full
// speed once the calls are aborted.
func drainCutsPages(t *testing.T, fastAfter bool) {
	slow := &slowReads{chunk: 256, gap: 20 * time.Millisecond} // ~12 KB/s
	var mu sync.Mutex
	var conns []*wireConn // every MSRP connection the callees' terminals opened, as read
	callee := newCallee(t, uesim.CalleeOptions{RingTime: -1, AnswerGate: make(chan struct{}),
		Link: uesim.Link{
			MSRPControl: thinLink,
			MSRPConn: func(c net.Conn) net.Conn {
				w := &wireConn{Conn: c}
				mu.Lock()
				conns = append(conns, w)
				mu.Unlock()
				return &slowConn{Conn: w, s: slow}
			},
		},
		FetchTimeout: 30 * time.Second, MaxCallTime: 30 * time.Second})
	o := lifecycleConfig(t, callee.Addr())
	o.Seed = bigSeed(t)                       // a 900 KB caller card
	o.MSRP.MaxOutbound = 2 * o.MSRP.ChunkSize // Herald's own queue holds two chunks
	o.Shutdown.DrainTimeout = config.Duration(time.Second)
	h := startServe(t, o)

	outcomes := placeCalls(t, h.sip, 3, uesim.CallerOptions{HoldTime: -1}, nil)
	waitFor(t, 10*time.Second, "three calls ringing", func() bool { return ringing(callee) == 3 })
	waitFor(t, 10*time.Second, "three caller cards in flight", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range conns {
			if len(endLine.FindAll(c.bytes(), -1)) >= 2 { // the bind's 200 and a first chunk
				n++
			}
		}
		return n == 3
	})
	h.signal(syscall.SIGTERM)
	h.waitLog(5*time.Second, msgIs("drain timeout: ending the calls still ringing (487 to the caller, CANCEL to the callee)"))
	if fastAfter {
		slow.fast.Store(true) // the terminals now read what is queued, up to the end-line
	}
	// Every aborted page's connection ended by its terminal's close, after the '#': none was cut by
	// Herald (stalled or at msrp.linger_max), and the drain waited for all of them.
	ended := h.waitLog(o.MSRP.LingerMax.D()+10*time.Second, msgIs("aborted calls ended"))
	for k, want := range map[string]float64{"msrp_conns_open": 0, "msrp_linger_stalled": 0, "msrp_linger_capped": 0} {
		if got, _ := ended[k].(float64); got != want {
			t.Errorf("%s = %v, want %v (%v)", k, ended[k], want, ended)
		}
	}
	if got, _ := ended["msrp_linger_closed_by_peer"].(float64); got < 3 {
		t.Errorf("msrp_linger_closed_by_peer = %v, want at least the 3 aborted pages' connections (%v)", ended["msrp_linger_closed_by_peer"], ended)
	}
	if code := h.exit(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}

	alice := seedProfileFrom(t, o.Seed, "sip:alice@home1.net")
	aborted := 0
	for range 3 {
		oc := <-outcomes
		if oc.res == nil || oc.res.Final != 487 {
			t.Fatalf("caller: %+v, %v; want a 487 final response", oc.res, oc.err)
		}
		// The caller's own fetch (the callee card, if it got that far) ends the same way.
		for role, err := range oc.res.PageErrors {
			if err != nil && !errors.Is(err, uesim.ErrAborted) {
				t.Errorf("caller of %s: %s fetch %v; want it whole or ended by '#'", oc.res.CallID, role, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cc, err := callee.WaitCall(ctx, oc.res.CallID)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !cc.Canceled || cc.Final != 487 {
			t.Fatalf("callee of %s: canceled %t, final %d; want a CANCEL (and its 487)", oc.res.CallID, cc.Canceled, cc.Final)
		}
		switch {
		case cc.PageErr == nil && string(cc.Page) == string(alice.CallerCard.Body):
		case errors.Is(cc.PageErr, uesim.ErrAborted):
			aborted++
		default:
			t.Errorf("callee of %s: page %d bytes, %v; want it whole or ended by '#'", oc.res.CallID, len(cc.Page), cc.PageErr)
		}
	}
	// The link is thin enough that no 900 KB page can have gone out whole in the second before
	// the drain timeout: every transfer is cut, and each cut is a '#' on the wire.
	if aborted != 3 {
		t.Errorf("%d of 3 transfers ended by '#': the pages were not cut mid-send", aborted)
	}
	// On the wire, as each terminal read it: every connection's bytes end with a complete frame
	// whose end-line flag is '$' or '#', nothing after it (no frame cut off).
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 3 {
		t.Fatalf("%d MSRP connections at the callees, want 3", len(conns))
	}
	for i, c := range conns {
		b := c.bytes()
		ends := endLine.FindAllSubmatchIndex(b, -1)
		if len(ends) < 3 {
			t.Errorf("connection %d: %d frames read", i, len(ends))
			continue
		}
		last := ends[len(ends)-1]
		flag := b[last[4]:last[5]]
		if last[1] != len(b) || (string(flag) != "#" && string(flag) != "$") {
			t.Errorf("connection %d: %d bytes, last end-line %q at %d, then %d bytes more: the message was cut silently",
				i, len(b), b[last[0]+2:last[1]-2], last[0], len(b)-last[1])
		}
		if string(flag) != "#" {
			t.Errorf("connection %d: last end-line flag %q, want '#' (a page cut mid-send)", i, flag)
		}
	}
}

// TestDrainStalledReadersBounded: bounded shutdown. The same drain, but the terminals stop reading
// altogether when the calls are aborted (their windows close with the '#' still queued at Herald).
// Herald must not wait for them beyond its linger bound: each connection is closed once it has taken
// nothing for 2 s (counted stalled), at the latest at msrp.linger_max (counted capped), all within
// drain_timeout + abortWait, and Herald exits 0.
func TestDrainStalledReadersBounded(t *testing.T) {
	slow := &slowReads{chunk: 256, gap: 20 * time.Millisecond}
	callee := newCallee(t, uesim.CalleeOptions{RingTime: -1, AnswerGate: make(chan struct{}),
		Link:         uesim.Link{MSRPControl: thinLink, MSRPConn: func(c net.Conn) net.Conn { return &slowConn{Conn: c, s: slow} }},
		FetchTimeout: 30 * time.Second, MaxCallTime: 30 * time.Second})
	o := lifecycleConfig(t, callee.Addr())
	o.Seed = bigSeed(t)
	o.MSRP.MaxOutbound = 2 * o.MSRP.ChunkSize
	o.MSRP.LingerMax = config.Duration(5 * time.Second)
	o.Shutdown.DrainTimeout = config.Duration(time.Second)
	h := startServe(t, o)
	defer slow.stalled.Store(false) // the terminals' readers end once Herald is gone

	placeCalls(t, h.sip, 3, uesim.CallerOptions{HoldTime: -1}, nil)
	waitFor(t, 10*time.Second, "three calls ringing", func() bool { return ringing(callee) == 3 })
	stopAt := time.Now()
	h.signal(syscall.SIGTERM)
	h.waitLog(5*time.Second, msgIs("drain timeout: ending the calls still ringing (487 to the caller, CANCEL to the callee)"))
	slow.stalled.Store(true)
	bound := o.Shutdown.DrainTimeout.D() + abortWait(o.MSRP.LingerMax.D())
	ended := h.waitLog(bound+5*time.Second, msgIs("aborted calls ended"))
	if code := h.exit(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if d := time.Since(stopAt); d > bound+3*time.Second {
		t.Errorf("stop took %s, bound %s (drain_timeout + msrp.linger_max + 1s)", d, bound)
	}
	cut := 0.0
	for _, k := range []string{"msrp_linger_stalled", "msrp_linger_capped"} {
		v, _ := ended[k].(float64)
		cut += v
	}
	if open, _ := ended["msrp_conns_open"].(float64); open != 0 || cut < 3 {
		t.Errorf("aborted calls ended: %v; want no connection open and the 3 stalled ones cut by Herald", ended)
	}
	t.Logf("stop took %s: %v", time.Since(stopAt), ended)
}
