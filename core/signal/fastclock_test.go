package signal

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/wheel"
)

// Fast-path timers on an injected clock (Options.Clock = a *wheel.Manual): the fast path runs no
// ticker of its own; the test steps the clock and runs the due timers itself (sipfast.Engine.Tick),
// then reads what they sent from the peers' real sockets. No wall-clock interval is measured.

// fpPeers names the test sockets by role ("caller", "callee").
type fpPeers map[string]*fpPeer

// fpClockStep is one row of a clocked scenario: the clock is set to at (from the rig's start) and
// the due timers run; sent is exactly what Herald sent then, as "<peer> <start line>", in order.
type fpClockStep struct {
	at   time.Duration
	sent []string
}

// fpRunClock runs the steps and returns, per peer, every datagram the steps sent to it (each also
// read from that peer's socket, byte for byte).
func fpRunClock(t *testing.T, r *rig, clk *wheel.Manual, peers fpPeers, steps []fpClockStep) map[string][][]byte {
	t.Helper()
	byAddr := map[string]string{}
	for name, p := range peers {
		byAddr[p.addr()] = name
	}
	out := map[string][][]byte{}
	for _, st := range steps {
		clk.Set(int64(st.at))
		var got []string
		for _, d := range slices.Clone(r.sig.fast.Tick(nil)) {
			name := byAddr[d.To.String()]
			if name == "" {
				t.Fatalf("at %v: Herald sent to %v, no test peer:\n%s", st.at, d.To, d.B)
			}
			line, _, _ := bytes.Cut(d.B, []byte("\r\n"))
			if sp := bytes.IndexByte(line, ' '); sp > 0 && !bytes.HasPrefix(line, []byte("SIP/2.0")) {
				line = line[:sp] // a request: its method
			}
			got = append(got, name+" "+string(line))
			rx := peers[name].next(t, name+" at "+st.at.String())
			if !bytes.Equal(rx.data, d.B) {
				t.Fatalf("at %v: %s read\n%s\nHerald sent\n%s", st.at, name, rx.data, d.B)
			}
			out[name] = append(out[name], d.B)
		}
		if !slices.Equal(got, st.sent) {
			t.Fatalf("at %v: Herald sent %q, want %q", st.at, got, st.sent)
		}
	}
	return out
}

// fpTxCount is the transactions the fast path holds.
func fpTxCount(r *rig) int {
	return r.sig.fast.Transactions()
}

// fpUntil waits (fpWait at most) for cond, which looks at state a datagram Herald read changes.
func fpUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(fpWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, fpWait)
		}
		time.Sleep(time.Millisecond)
	}
}
