package loadgen

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/herald-ims/herald/bench/uesim"
)

// Mix kinds. A call's kind fixes which subscribers it uses and therefore what Herald must do.
const (
	MixPlain    = "plain"    // no cards: Herald proxies the call untouched
	MixCaller   = "caller"   // caller card: fetched by the callee terminal over MSRP
	MixBoth     = "both"     // caller card and callee card (the latter fetched by the caller)
	MixRingback = "ringback" // both cards and Herald's ringback RTP to the caller
)

// Terminals kinds (Options.Terminals).
const (
	TerminalsSipgo = "sipgo"
	TerminalsLean  = "lean"
)

// MixKinds lists the mix kinds in their fixed order.
var MixKinds = []string{MixPlain, MixCaller, MixBoth, MixRingback}

// Mix holds a weight per kind (MixKinds); the weights need not add up to 100.
type Mix map[string]int

// ParseMix parses "plain=25,caller=25,both=25,ringback=25".
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("%w: mix %q: want kind=weight", ErrOptions, f)
		}
		k = strings.TrimSpace(k)
		if !validKind(k) {
			return nil, fmt.Errorf("%w: mix kind %q: want one of %s", ErrOptions, k, strings.Join(MixKinds, ", "))
		}
		w, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || w < 0 {
			return nil, fmt.Errorf("%w: mix weight %q", ErrOptions, v)
		}
		m[k] += w
	}
	if m.total() == 0 {
		return nil, fmt.Errorf("%w: mix %q has no weight", ErrOptions, s)
	}
	return m, nil
}

func validKind(k string) bool {
	for _, x := range MixKinds {
		if k == x {
			return true
		}
	}
	return false
}

func (m Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}

// String is the mix in ParseMix's syntax, kinds in their fixed order.
func (m Mix) String() string {
	var parts []string
	for _, k := range MixKinds {
		if w, ok := m[k]; ok {
			parts = append(parts, k+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}

// picker spreads the kinds of a mix evenly over the call sequence (smooth weighted round robin),
// so that every second of a step carries the mix, not a random draw of it.
type picker struct {
	kinds   []string
	weights []int
	cur     []int
	total   int
}

func newPicker(m Mix) *picker {
	p := &picker{}
	keys := make([]string, 0, len(m))
	for k, w := range m {
		if w > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return kindIndex(keys[i]) < kindIndex(keys[j]) })
	for _, k := range keys {
		p.kinds = append(p.kinds, k)
		p.weights = append(p.weights, m[k])
		p.total += m[k]
	}
	p.cur = make([]int, len(p.kinds))
	return p
}

func kindIndex(k string) int {
	for i, x := range MixKinds {
		if x == k {
			return i
		}
	}
	return len(MixKinds)
}

// next is not safe for concurrent use (the scheduler goroutine owns it).
func (p *picker) next() string {
	best := 0
	for i := range p.cur {
		p.cur[i] += p.weights[i]
		if p.cur[i] > p.cur[best] {
			best = i
		}
	}
	p.cur[best] -= p.total
	return p.kinds[best]
}

// ParseRates parses "100,200,400" (calls/s, each > 0).
func ParseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: rate %q: want a positive number of calls/s", ErrOptions, f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no rate in %q", ErrOptions, s)
	}
	return out, nil
}

// Options configure a Generator. Zero values take the defaults named on each field.
type Options struct {
	// Herald is where the callers send their INVITEs ("127.0.0.1:5070"; a "udp:" or "tcp:" prefix
	// is accepted and ignored: Transport decides). "direct" sends them straight to the callee side:
	// no Herald, no pages (a plain-mix baseline of the generator itself). It may be left empty
	// until Generator.SetHerald.
	Herald string
	// Callee is the address the simulated callee side listens on, Herald's next hop
	// ("127.0.0.1:0" picks a free port; Generator.CalleeAddr says which).
	Callee string
	// Transport is "udp" (default) or "tcp", for every SIP request of the terminals.
	Transport string
	// Terminals picks the simulated terminals: "sipgo" (default: uesim's Caller and Callee, every
	// mix kind, UDP or TCP) or "lean" (uesim's Lean pair: raw UDP without sipgo; mixes plain,
	// caller and both, UDP only). Lean costs the generator 15–20% less CPU per call and no
	// goroutine or channel per transaction, so it keeps its schedule at rates where the sipgo
	// terminals fall behind it (bench/results/sip-push.md, session 11).
	Terminals string
	// Mix weights the call kinds; default 25 each.
	Mix Mix
	// Rates are the open-loop arrival rates of the steps, calls/s; default 100, 200, 400.
	Rates []float64
	// Step is the measured (steady) part of each step; default 20 s.
	Step time.Duration
	// Ramp precedes each step: the rate rises linearly from the previous step's (0 for the
	// first) to the step's; calls started in it are made but not counted. Default 3 s; negative: none.
	Ramp time.Duration
	// Hold is how long the callee rings before it answers (the caller card is fetched, the
	// ringback plays, meanwhile); default 2 s; negative: answer at once.
	Hold time.Duration
	// Talk is how long the answered call lasts before the caller's BYE; default 0 (BYE right
	// after the ACK).
	Talk time.Duration
	// Soak, if positive, replaces the steps with one step at Rates[0] this long.
	Soak time.Duration
	// Subscribers is how many subscribers of each kind the calls cycle through; it must not
	// exceed the number the Herald config was written with (WriteHeraldConfig). Default 100.
	Subscribers int
	// CallTimeout bounds a call from its INVITE to its end, beyond Hold and Talk; default 15 s.
	// A call not answered by then is cancelled and counted as CauseTimeout.
	CallTimeout time.Duration
	// FetchTimeout bounds each MSRP page fetch; default 10 s.
	FetchTimeout time.Duration
	// MaxInFlight caps the calls in progress (bounded memory); a call due while the cap is
	// reached is not made and counts as CauseGenOverload. Default 20000.
	MaxInFlight int
	// Callers is how many caller terminals (UDP/TCP sockets) share the calls; default 4.
	Callers int
	// LateAfter is how far behind its RTP timestamp a ringback packet may arrive before it
	// counts as late; default 40 ms.
	LateAfter time.Duration
	// StopOnFail stops the sweep after a step whose failed % exceeds it; default 5; negative: never.
	StopOnFail float64
	// PID, if non-zero, is Herald's process: its CPU, RSS and descriptors are sampled from /proc.
	PID int
	// Varz, if set, is Herald's admin /varz (or /metrics) URL, read for its goroutine count.
	Varz string
	// Progress, if set, gets one human line per second.
	Progress func(line string)
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger

	// Test hooks (faults under control).
	//
	// CalleeOptions, if set, may change the callee terminal's options (e.g. RejectCode).
	CalleeOptions func(*uesim.CalleeOptions)
	// CallerOptions, if set, may change each caller terminal's options (e.g. Link.MSRPConn).
	CallerOptions func(*uesim.CallerOptions)
}

func (o *Options) defaults() error {
	if i := strings.Index(o.Herald, ":"); i > 0 {
		if p := strings.ToLower(o.Herald[:i]); p == "udp" || p == "tcp" {
			o.Herald = o.Herald[i+1:]
		}
	}
	if o.Callee == "" {
		o.Callee = "127.0.0.1:0"
	}
	switch o.Transport = strings.ToLower(o.Transport); o.Transport {
	case "":
		o.Transport = "udp"
	case "udp", "tcp":
	default:
		return fmt.Errorf("%w: transport %q: want udp or tcp", ErrOptions, o.Transport)
	}
	if o.Mix == nil {
		o.Mix = Mix{MixPlain: 25, MixCaller: 25, MixBoth: 25, MixRingback: 25}
	}
	switch o.Terminals = strings.ToLower(o.Terminals); o.Terminals {
	case "":
		o.Terminals = TerminalsSipgo
	case TerminalsSipgo:
	case TerminalsLean:
		if o.Transport != "udp" {
			return fmt.Errorf("%w: terminals %q speak UDP only, not %q", ErrOptions, o.Terminals, o.Transport)
		}
		if o.Mix[MixRingback] > 0 {
			return fmt.Errorf("%w: terminals %q do not account ringback RTP: mix ringback needs terminals %q",
				ErrOptions, o.Terminals, TerminalsSipgo)
		}
	default:
		return fmt.Errorf("%w: terminals %q: want %s or %s", ErrOptions, o.Terminals, TerminalsSipgo, TerminalsLean)
	}
	if o.Mix.total() == 0 {
		return fmt.Errorf("%w: mix has no weight", ErrOptions)
	}
	if len(o.Rates) == 0 {
		o.Rates = []float64{100, 200, 400}
	}
	setDur(&o.Step, 20*time.Second)
	setDur(&o.Ramp, 3*time.Second)
	setDur(&o.Hold, 2*time.Second)
	setDur(&o.CallTimeout, 15*time.Second)
	setDur(&o.FetchTimeout, 10*time.Second)
	setDur(&o.LateAfter, 40*time.Millisecond)
	if o.Subscribers <= 0 {
		o.Subscribers = DefaultSubscribers
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 20000
	}
	if o.Callers <= 0 {
		o.Callers = 4
	}
	if o.StopOnFail == 0 {
		o.StopOnFail = 5
	}
	if o.Soak > 0 {
		o.Rates, o.Step = o.Rates[:1], o.Soak
	}
	return nil
}

// setDur applies a default to a zero duration and turns a negative one into 0 ("none").
func setDur(d *time.Duration, def time.Duration) {
	switch {
	case *d == 0:
		*d = def
	case *d < 0:
		*d = 0
	}
}
