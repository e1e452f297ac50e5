package sipp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Run is one SIPp invocation.
type Run struct {
	Name      string        // file prefix in the run directory, e.g. "uac"
	Scenario  string        // file name under ScenarioDir, e.g. "uac_push.xml"
	Port      int           // local SIP port (-p)
	Remote    string        // host:port for a caller; "" for a callee
	TCP       bool          // -t t1 instead of -t u1
	Calls     int           // -m; 0 = unlimited
	Rate      float64       // -r calls per second (callers); 0 = SIPp's default 10
	Pause     time.Duration // -d, the <pause/> length
	Timeout   time.Duration // -timeout for the whole run; 0 = none
	Recv      time.Duration // -recv_timeout; 0 = 8s
	Stats     bool          // -trace_stat into Name_stat.csv (-fd 1)
	Tolerant  bool          // -default_behaviors all,-abortunexp (late 180s of a multi-worker proxy)
	TraceMsg  bool          // -trace_msg into Name_messages.log
	ExtraArgs []string
}

// Args is the SIPp command line (without the program name) for a run in dir.
func (r Run) Args(dir string) []string {
	a := []string{"-sf", filepath.Join(ScenarioDir(), r.Scenario), "-i", "127.0.0.1", "-p", strconv.Itoa(r.Port)}
	if r.TCP {
		a = append(a, "-t", "t1")
	} else {
		a = append(a, "-t", "u1")
	}
	if r.Calls > 0 {
		a = append(a, "-m", strconv.Itoa(r.Calls))
	}
	if r.Rate > 0 {
		a = append(a, "-r", strconv.FormatFloat(r.Rate, 'f', -1, 64), "-rp", "1000")
	}
	a = append(a, "-d", strconv.FormatInt(r.Pause.Milliseconds(), 10))
	if r.Timeout > 0 {
		a = append(a, "-timeout", strconv.FormatInt(r.Timeout.Milliseconds(), 10)+"ms", "-timeout_error")
	}
	recv := r.Recv
	if recv == 0 {
		recv = 8 * time.Second
	}
	a = append(a, "-recv_timeout", strconv.FormatInt(recv.Milliseconds(), 10)+"ms",
		"-buff_size", "4194304", "-max_socket", "10000", "-nostdin",
		"-trace_err", "-error_file", filepath.Join(dir, r.Name+"_errors.log"))
	if r.Stats {
		a = append(a, "-trace_stat", "-stf", filepath.Join(dir, r.Name+"_stat.csv"), "-fd", "1")
	}
	if r.TraceMsg {
		a = append(a, "-trace_msg", "-message_file", r.MessageLog(dir))
	}
	if r.Tolerant {
		a = append(a, "-default_behaviors", "all,-abortunexp")
	}
	a = append(a, r.ExtraArgs...)
	if r.Remote != "" {
		a = append(a, r.Remote)
	}
	return a
}

// StartSIPp starts r in dir. A callee (no Remote) is waited for until its socket listens.
func StartSIPp(ctx context.Context, dir string, r Run) (*Proc, error) {
	p, err := Start(dir, r.Name, append([]string{"sipp"}, r.Args(dir)...)...)
	if err != nil {
		return nil, err
	}
	if r.Remote == "" {
		tr := "udp"
		if r.TCP {
			tr = "tcp"
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := WaitListening(wctx, tr, r.Port); err != nil {
			p.Stop(time.Second)
			return nil, fmt.Errorf("%w\n%s", err, p.Tail(1000))
		}
	}
	return p, nil
}

// MessageLog is the path of the run's -trace_msg file.
func (r Run) MessageLog(dir string) string { return filepath.Join(dir, r.Name+"_messages.log") }

// Errors is the tail of the run's SIPp error log ("" when there is none).
func (r Run) Errors(dir string, n int) string {
	return tailFile(filepath.Join(dir, r.Name+"_errors.log"), n)
}

// Stats is the last line of a SIPp statistics file (-trace_stat): cumulative counters.
type Stats struct {
	Elapsed    time.Duration // CurrentTime - StartTime (ElapsedTime(C) has whole seconds only)
	Created    int           // TotalCallCreated
	Successful int           // SuccessfulCall(C)
	Failed     int           // FailedCall(C)
	Current    int           // CurrentCall
	Retrans    int           // Retransmissions(C)
	CallLength time.Duration // CallLength(C): mean call length
	// Sustained is the rate at which SIPp created calls, from the periodic lines (-fd 1): calls
	// created over the periods that created calls, the last such period left out when there are
	// more (it may be partial). 0 without periodic lines.
	Sustained float64
}

// ReadStats parses the last line of a SIPp -trace_stat CSV file.
func ReadStats(path string) (Stats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrStats, err)
	}
	return ParseStats(string(b))
}

// ParseStats parses SIPp -trace_stat CSV text (";"-separated, header line first) and returns the
// counters of its last line.
func ParseStats(text string) (Stats, error) {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 {
		return Stats{}, fmt.Errorf("%w: %d lines", ErrStats, len(lines))
	}
	head := strings.Split(lines[0], ";")
	row := func(n int) map[string]string {
		f := strings.Split(lines[n], ";")
		m := map[string]string{}
		for i, h := range head {
			if i < len(f) {
				m[h] = f[i]
			}
		}
		return m
	}
	col := row(len(lines) - 1)
	var s Stats
	s.Sustained = sustained(lines, row)
	var errs []string
	num := func(k string, dst *int) {
		v, ok := col[k]
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			errs = append(errs, k)
			return
		}
		*dst = n
	}
	dur := func(k string, dst *time.Duration) {
		d, err := parseSIPpTime(col[k])
		if err != nil {
			errs = append(errs, k)
			return
		}
		*dst = d
	}
	num("TotalCallCreated", &s.Created)
	num("SuccessfulCall(C)", &s.Successful)
	num("FailedCall(C)", &s.Failed)
	num("CurrentCall", &s.Current)
	num("Retransmissions(C)", &s.Retrans)
	start, err1 := epochOf(col["StartTime"])
	now, err2 := epochOf(col["CurrentTime"])
	if err1 != nil || err2 != nil {
		errs = append(errs, "StartTime/CurrentTime")
	}
	s.Elapsed = now - start
	dur("CallLength(C)", &s.CallLength)
	if len(errs) > 0 {
		return Stats{}, fmt.Errorf("%w: columns %s", ErrStats, strings.Join(errs, ", "))
	}
	return s, nil
}

// sustained computes Stats.Sustained from the periodic lines 1..n-1.
func sustained(lines []string, row func(int) map[string]string) float64 {
	type period struct {
		calls int
		dt    time.Duration
	}
	var ps []period
	var prev time.Duration
	for i := 1; i < len(lines); i++ {
		r := row(i)
		now, err := epochOf(r["CurrentTime"])
		if err != nil {
			return 0
		}
		if i == 1 {
			if start, err := epochOf(r["StartTime"]); err == nil {
				prev = start
			}
		}
		n, err := strconv.Atoi(r["OutgoingCall(P)"])
		if err == nil && n > 0 && now > prev {
			ps = append(ps, period{n, now - prev})
		}
		prev = now
	}
	if len(ps) > 1 {
		ps = ps[:len(ps)-1]
	}
	var calls int
	var dt time.Duration
	for _, p := range ps {
		calls += p.calls
		dt += p.dt
	}
	if dt <= 0 {
		return 0
	}
	return float64(calls) / dt.Seconds()
}

// epochOf reads the Unix time at the end of a SIPp timestamp "date<TAB>time<TAB>epoch.usec" as a
// duration since the epoch.
func epochOf(v string) (time.Duration, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, fmt.Errorf("%w: timestamp %q", ErrStats, v)
	}
	sec, err := strconv.ParseFloat(f[len(f)-1], 64)
	if err != nil {
		return 0, fmt.Errorf("%w: timestamp %q", ErrStats, v)
	}
	return time.Duration(sec * float64(time.Second)), nil
}

// parseSIPpTime parses SIPp's "HH:MM:SS:uuuuuu" (or "HH:MM:SS:mmm") durations.
func parseSIPpTime(v string) (time.Duration, error) {
	f := strings.Split(v, ":")
	if len(f) != 4 {
		return 0, fmt.Errorf("%w: time %q", ErrStats, v)
	}
	var n [4]int
	for i, x := range f {
		d, err := strconv.Atoi(x)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%w: time %q", ErrStats, v)
		}
		n[i] = d
	}
	frac := time.Duration(n[3]) * time.Microsecond
	if len(f[3]) == 3 {
		frac = time.Duration(n[3]) * time.Millisecond
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second + frac, nil
}
