package signal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// histCount is the sample count of the histogram named name among s's collectors.
func histCount(t *testing.T, s *Server, name string) uint64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestFastPathCallRecord: a call the fast path carries (nothing to push) leaves its one info line
// (call_id, outcome, pushes 0, no ringback, duration), moves the final-response setup histogram by
// one, and with WireTrace set every datagram it takes and sends is traced.
func TestFastPathCallRecord(t *testing.T) {
	leakCheck(t)
	st, _ := testStore(t)
	caller, callee := newFPPeer(t), newFPPeer(t)
	logs := &syncBuf{}
	var mu sync.Mutex
	var traced []string
	r := startHerald(t, st, callee.addr(), func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		o.WireTrace = func(dir, transport, _ string, msg []byte) {
			mu.Lock()
			defer mu.Unlock()
			traced = append(traced, dir+" "+transport+" "+string(msg[:bytes.IndexByte(msg, '\r')]))
		}
	})
	if n := histCount(t, r.sig, "herald_sip_setup_final_seconds"); n != 0 {
		t.Fatalf("final setup count %d before the call", n)
	}
	c := newFPCall(caller, erin, dave)
	caller.send(t, r.addr, c.invite())
	fwd := parseFP(t, "forwarded INVITE", callee.next(t, "forwarded INVITE").data)
	callee.send(t, r.addr, fpReply(t, fwd, 486, "Busy Here", "cal1", false, "", ""))
	if got := caller.nextNot100(t, "relayed 486").data; !bytes.HasPrefix(got, []byte("SIP/2.0 486")) {
		t.Fatalf("relayed %q", got)
	}
	if n := histCount(t, r.sig, "herald_sip_setup_final_seconds"); n != 1 {
		t.Fatalf("final setup count %d after one call, want 1", n)
	}
	fpStat(t, "Fast.Calls", &r.sig.Stats.Fast.Calls, 1)
	var lines int
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		if m["msg"] != "call finished" {
			continue
		}
		lines++
		if m["level"] != "INFO" || m["call_id"] != c.callID || m["outcome"] != "486" || m["pushes"] != 0.0 ||
			m["ringback"] != false || m["duration"] == nil || m["path"] != "fast" {
			t.Errorf("call line %s", sc.Bytes())
		}
	}
	if lines != 1 {
		t.Fatalf("%d call lines, want 1:\n%s", lines, logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	var in, out bool
	for _, l := range traced {
		in = in || strings.HasPrefix(l, "recv UDP INVITE ") || strings.HasPrefix(l, "recv UDP SIP/2.0 486")
		out = out || strings.HasPrefix(l, "send UDP INVITE ") || strings.HasPrefix(l, "send UDP SIP/2.0 486")
	}
	if !in || !out {
		t.Fatalf("wire trace %q", traced)
	}
}
