package main

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/config"
)

// TestSIPTimersFromConfig: sip.t1 and sip.t2 of the configuration reach sipgo's transaction layer
// (the general path's transactions), and every timer RFC 3261 §17 derives from T1 follows: A, E, G
// from T1, B, F, H, J (and RFC 6026's L, M) at 64·T1, the retransmission cap T2; T4 (Timers I, K)
// keeps 5 s and Timer D its 32 s floor (§17.1.1.2). sipgo's timers are process-wide, so the test
// puts them back.
func TestSIPTimersFromConfig(t *testing.T) {
	t1, t2, t4 := sip.T1, sip.T2, sip.T4
	t.Cleanup(func() { sip.SetTimers(t1, t2, t4) })

	o, err := config.Parse("t.yaml", []byte("sip:\n  next_hop: \"sip:scscf.example.net\"\n  t1: 150ms\n  t2: 3s\n"))
	if err != nil {
		t.Fatal(err)
	}
	applySIPTimers(o)
	const T1, T2 = 150 * time.Millisecond, 3 * time.Second
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"T1", sip.T1, T1}, {"T2", sip.T2, T2}, {"T4", sip.T4, t4},
		{"Timer A", sip.Timer_A, T1}, {"Timer E", sip.Timer_E, T1}, {"Timer G", sip.Timer_G, T1},
		{"Timer B", sip.Timer_B, 64 * T1}, {"Timer F", sip.Timer_F, 64 * T1}, {"Timer H", sip.Timer_H, 64 * T1},
		{"Timer J", sip.Timer_J, 64 * T1}, {"Timer L", sip.Timer_L, 64 * T1}, {"Timer M", sip.Timer_M, 64 * T1},
		{"Timer I", sip.Timer_I, t4}, {"Timer K", sip.Timer_K, t4}, {"Timer D", sip.Timer_D, 32 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// The defaults (no sip.t1/t2 given) are RFC 3261's 500 ms and 4 s.
	o, err = config.Parse("t.yaml", []byte("sip: {next_hop: \"sip:scscf.example.net\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	applySIPTimers(o)
	if sip.T1 != 500*time.Millisecond || sip.T2 != 4*time.Second || sip.Timer_J != 32*time.Second {
		t.Errorf("defaults: T1 %v T2 %v Timer J %v, want 500ms 4s 32s", sip.T1, sip.T2, sip.Timer_J)
	}
}
