package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/core/config"
)

var snakeKey = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// lockedBuf is a log sink several goroutines write to.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// decodeUnique decodes one JSON object, failing on a key that appears twice in any object of it
// (encoding/json keeps the last silently; RFC 8259 §4 says names SHOULD be unique).
func decodeUnique(line []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	v, err := decodeValue(d)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object: %s", line)
	}
	if d.More() {
		return nil, errors.New("trailing data")
	}
	return m, nil
}

func decodeValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string)
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			if m[k], err = decodeValue(d); err != nil {
				return nil, err
			}
		}
		_, err := d.Token() // '}'
		return m, err
	case json.Delim('['):
		var a []any
		for d.More() {
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.Token() // ']'
		return a, err
	}
	return tok, nil
}

func TestDecodeUniqueCatchesDuplicates(t *testing.T) {
	if _, err := decodeUnique([]byte(`{"a":1,"b":{"c":1,"c":2}}`)); err == nil {
		t.Fatal("nested duplicate key not reported")
	}
	if _, err := decodeUnique([]byte(`{"component":"x","component":"y"}`)); err == nil {
		t.Fatal("duplicate key not reported")
	}
	if _, err := decodeUnique([]byte(`{"a":[{"c":1},{"c":2}],"b":"c"}`)); err != nil {
		t.Fatal(err)
	}
}

// scrape reads the admin listener's /metrics and returns the value of each sample line by its
// name and labels as printed.
func scrape(t *testing.T, in *instance) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + in.web.AdminAddr() + "/metrics") //nolint:noctx // the test's own loopback listener
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestObservabilityOneCall places one whole call (caller card and callee card pushed over MSRP,
// ringback) with JSON logs at debug and log.trace on, then checks what an operator sees: the
// latency histograms moved by exactly this call on the admin listener's /metrics, build info and
// the Go and process collectors are there, every log line is JSON with one key per attribute and
// node on it (sipgo's lines included), the call left one info line with its outcome, and SIP and
// MSRP frames were traced at debug.
func TestObservabilityOneCall(t *testing.T) {
	logs := &lockedBuf{}
	t.Cleanup(func() { sip.SetDefaultLogger(slog.New(slog.DiscardHandler)) })
	var before map[string]float64
	dc := placeCall(t, demoOptions{
		From: "sip:alice@home1.net", To: "tel:+1-212-555-2222",
		LogTo: logs,
		Configure: func(o *config.Options) {
			o.Node.Name = "edge-7"
			o.Log.Format, o.Log.Level, o.Log.Trace = "json", "debug", true
		},
		Provision: func(_ context.Context, in *instance) error {
			before = scrape(t, in)
			return nil
		},
	})
	if dc.Caller.Final != 200 || len(dc.Caller.Pages) == 0 || dc.Callee.Page == nil {
		t.Fatalf("call: final %d, caller pages %d, callee page %d bytes", dc.Caller.Final, len(dc.Caller.Pages), len(dc.Callee.Page))
	}
	pages := float64(len(dc.Caller.Pages) + 1)
	for _, k := range []string{"herald_sip_setup_final_seconds_count", "herald_sip_setup_reliable_provisional_seconds_count",
		"herald_msrp_page_delivery_seconds_count", "herald_msrp_connect_to_bind_seconds_count"} {
		if v, ok := before[k]; !ok || v != 0 {
			t.Fatalf("before the call %s = %v (present %t), want 0", k, v, ok)
		}
	}
	// The controller observes the final response as it relays it and the plane the REPORT as it
	// reads it: wait for both (bounded).
	var after map[string]float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		after = scrape(t, dc.Herald)
		if after["herald_sip_setup_final_seconds_count"] >= 1 && after["herald_msrp_page_delivery_seconds_count"] >= pages &&
			strings.Contains(logs.String(), `"msg":"call finished"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after the call: final %v, delivery %v (want %v); call line logged %t",
				after["herald_sip_setup_final_seconds_count"], after["herald_msrp_page_delivery_seconds_count"], pages,
				strings.Contains(logs.String(), `"msg":"call finished"`))
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := map[string]float64{
		"herald_sip_setup_final_seconds_count":                1,
		"herald_sip_setup_reliable_provisional_seconds_count": 1,
		"herald_msrp_page_delivery_seconds_count":             pages,
		"herald_msrp_connect_to_bind_seconds_count":           pages,
	}
	for k, v := range want {
		if after[k] != v {
			t.Errorf("%s = %v after one call, want %v", k, after[k], v)
		}
	}
	if after[`herald_sip_setup_final_seconds_bucket{le="+Inf"}`] != 1 {
		t.Errorf("final setup +Inf bucket = %v", after[`herald_sip_setup_final_seconds_bucket{le="+Inf"}`])
	}
	var build bool
	for k, v := range after {
		if strings.HasPrefix(k, "herald_build_info{") && strings.Contains(k, `node="edge-7"`) &&
			strings.Contains(k, `goversion="go`) && strings.Contains(k, `version="`) && v == 1 {
			build = true
		}
	}
	if !build || after["go_goroutines"] == 0 || after["process_open_fds"] == 0 {
		t.Errorf("build info %t, go_goroutines %v, process_open_fds %v", build, after["go_goroutines"], after["process_open_fds"])
	}

	// /varz: one key style (snake_case) at every level, and the call counted.
	resp, err := http.Get("http://" + dc.Herald.web.AdminAddr() + "/varz") //nolint:noctx // loopback
	if err != nil {
		t.Fatal(err)
	}
	var varz map[string]any
	err = json.NewDecoder(resp.Body).Decode(&varz)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	nKeys := 0
	walk = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, sub := range m {
			nKeys++
			if !snakeKey.MatchString(k) {
				t.Errorf("/varz key %s.%s is not snake_case", path, k)
			}
			walk(path+"."+k, sub)
		}
	}
	walk("", varz)
	if sip, _ := varz["sip"].(map[string]any); nKeys < 50 || sip == nil || sip["calls_done"] != 1.0 || varz["node"] != "edge-7" {
		t.Errorf("/varz: %d keys, sip.calls_done %v, node %v", nKeys, sip["calls_done"], varz["node"])
	}
	if ms, _ := varz["msrp"].(map[string]any); ms == nil || ms["deliveries_ok"] != pages {
		t.Errorf("/varz msrp.deliveries_ok %v, want %v", ms["deliveries_ok"], pages)
	}

	var nLines, sipgoLines, callLines, sipFrames, msrpFrames int
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		nLines++
		m, err := decodeUnique(line)
		if err != nil {
			t.Errorf("log line %d: %v: %s", nLines, err, line)
			continue
		}
		if m["node"] != "edge-7" {
			t.Errorf("log line without node: %s", line)
		}
		if _, ok := m["caller"]; ok { // sipgo's layers name themselves with "caller"
			sipgoLines++
		}
		switch {
		case m["msg"] == "call finished":
			callLines++
			if m["level"] != "INFO" || m["call_id"] != dc.Caller.CallID || m["outcome"] != "200" ||
				m["ringback"] != true || m["duration"] == nil || m["pushes"] == nil {
				t.Errorf("call line: %s", line)
			}
			if n, _ := m["pushes"].(json.Number).Int64(); float64(n) != pages {
				t.Errorf("call line pushes %v, want %v", m["pushes"], pages)
			}
		case m["component"] == "wire":
			if m["level"] != "DEBUG" {
				t.Errorf("wire trace not at debug: %s", line)
			}
			switch m["proto"] {
			case "SIP":
				if strings.Contains(m["frame"].(string), "SIP/2.0") {
					sipFrames++
				}
			case "MSRP":
				if strings.HasPrefix(m["frame"].(string), "MSRP ") {
					msrpFrames++
				}
			}
		}
	}
	if nLines == 0 || sipgoLines == 0 || callLines != 1 || sipFrames == 0 || msrpFrames == 0 {
		t.Errorf("log: %d lines, %d from sipgo, %d call lines (want 1), %d SIP frames, %d MSRP frames",
			nLines, sipgoLines, callLines, sipFrames, msrpFrames)
	}
}

// TestWireTraceRateLimited: a flood of frames gets through up to the burst; once the bucket
// refills, the next line says how many were suppressed.
func TestWireTraceRateLimited(t *testing.T) {
	logs := &lockedBuf{}
	o := &config.Options{}
	o.Log.Format, o.Log.Level, o.Node.Name = "json", "info", "n1"
	log, _ := newLevelLogger(o, logs)
	wt := newWireTrace(log) // at info level: trace lines are written all the same
	for range 3 * traceBurst {
		wt.msrp("recv", "127.0.0.1", "MSRP a SEND")
	}
	if n := strings.Count(logs.String(), "\n"); n < traceBurst || n > traceBurst+traceBurst/10 {
		t.Fatalf("%d lines for a flood of %d frames, want about the burst %d", n, 3*traceBurst, traceBurst)
	}
	wt.mu.Lock()
	wt.last = wt.last.Add(-time.Second) // a second passes
	wt.mu.Unlock()
	wt.sip("send", "UDP", "127.0.0.1:5060", []byte("SIP/2.0 200 OK\r\n\r\n"))
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	m, err := decodeUnique([]byte(lines[len(lines)-1]))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := m["suppressed"].(json.Number).Int64(); n < traceBurst || m["proto"] != "SIP" || m["level"] != "DEBUG" {
		t.Fatalf("line after the flood: %v", m)
	}
}
