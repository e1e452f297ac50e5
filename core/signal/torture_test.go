package signal

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
)

// tortureClass is what RFC 4475 says of a message, seen from Herald (an application server on ISC
// that proxies INVITEs and answers OPTIONS itself).
type tortureClass int

const (
	// tortureValid: a well-formed request (RFC 4475 §3.1.1, §3.2, §3.3 semantic cases, §3.4). Herald
	// must handle it: answer it (any status) or forward it.
	tortureValid tortureClass = iota + 1
	// tortureInvalid: a request a parser must reject (§3.1.2, and §3.3.1 insuf, §3.3.8 multi01,
	// §3.3.9 mcl01). Herald answers 400 or drops it; it never forwards it nor answers otherwise.
	tortureInvalid
	// tortureResponse: a response matching no transaction of Herald's (§3.1.1.12, §3.1.1.13,
	// §3.1.2.5, §3.1.2.19, §3.3.10). Herald drops it: nothing is sent.
	tortureResponse
	// tortureLenient: invalid, but RFC 4475 lets an element that does not use the bad part process it
	// (§3.1.2.12 baddate: "could ignore the Date header field"): 400, or handled as valid.
	tortureLenient
)

// tortureCases lists every RFC 4475 message in testdata/torture (copied from sipgo v1.7.3
// sip/testdata/torture, which holds the RFC's §3 messages decoded from its base64 archive).
var tortureCases = map[string]tortureClass{
	// §3.1.1 valid messages
	"wsinv": tortureValid, "intmeth": tortureValid, "esc01": tortureValid, "escnull": tortureValid,
	"esc02": tortureValid, "lwsdisp": tortureValid, "longreq": tortureValid, "dblreq": tortureValid,
	"semiuri": tortureValid, "transports": tortureValid, "mpart01": tortureValid,
	"unreason": tortureResponse, "noreason": tortureResponse,
	// §3.1.2 invalid messages
	"badinv01": tortureInvalid, "clerr": tortureInvalid, "ncl": tortureInvalid, "scalar02": tortureInvalid,
	"scalarlg": tortureResponse, "quotbal": tortureInvalid, "ltgtruri": tortureInvalid, "lwsruri": tortureInvalid,
	"lwsstart": tortureInvalid, "trws": tortureInvalid, "escruri": tortureInvalid, "baddate": tortureLenient,
	"regbadct": tortureInvalid, "badaspec": tortureInvalid, "baddn": tortureInvalid, "badvers": tortureInvalid,
	"mismatch01": tortureInvalid, "mismatch02": tortureInvalid, "bigcode": tortureResponse,
	// §3.2 transaction layer
	"badbranch": tortureValid,
	// §3.3 application layer
	"insuf": tortureInvalid, "unkscm": tortureValid, "novelsc": tortureValid, "unksm2": tortureValid,
	"bext01": tortureValid, "invut": tortureValid, "regaut01": tortureValid, "multi01": tortureInvalid,
	"mcl01": tortureInvalid, "bcast": tortureResponse, "zeromf": tortureValid, "cparam01": tortureValid,
	"cparam02": tortureValid, "regescrt": tortureValid, "sdp01": tortureValid,
	// §3.4 backward compatibility
	"inv2543": tortureValid,
}

// tortureExpect pins the answer RFC 4475 asks for where Herald is the element it describes
// (a UAS for OPTIONS, a proxy for INVITE).
var tortureExpect = map[string]int{
	"bext01":  420, // §3.3.5: Require with an unknown option tag → 420 Bad Extension (RFC 3261 §8.2.2.3)
	"badvers": 505, // §3.1.2.16: SIP/7.0 → 505 Version Not Supported
	"escruri": 400, // §3.1.2.11: a proxy must not forward escaped headers in the Request-URI
	"multi01": 400, // §3.3.8: several Call-ID, To, From, Max-Forwards and CSeq values
	"mcl01":   400, // §3.3.9: conflicting Content-Length values
}

// tortureAlso are further answers accepted for an invalid message.
var tortureAlso = map[string][]int{
	// §3.1.2.13 wants 400 for the malformed Contact; Herald serves no REGISTER, and method
	// inspection comes before header inspection (RFC 3261 §8.2.1).
	"regbadct": {405},
	"badvers":  {505}, // §3.1.2.16 asks for 505 Version Not Supported
}

// tortureParserDrops are valid messages sipgo v1.7.3 cannot parse, so that Herald never sees them
// (dropped, as an unparsable datagram must be): silence is accepted for them.
var tortureParserDrops = map[string]string{
	"novelsc": "sipgo: invalid uri scheme (soap.beep: in the Request-URI)",
}

// txKeyOfRaw is the server transaction key sipgo would give a raw request (RFC 3261 §17.2.3: branch,
// sent-by and method), "" if it does not parse. Some RFC 4475 messages share one (cparam01/cparam02,
// escnull/regescrt): sent to one Herald, the second is a retransmission of the first.
func txKeyOfRaw(raw []byte) string {
	m, err := sip.ParseMessage(raw)
	if err != nil {
		return ""
	}
	req, ok := m.(*sip.Request)
	if !ok || req.Via() == nil || req.CSeq() == nil {
		return ""
	}
	v := req.Via()
	b, _ := v.Params.Get("branch")
	return b + "|" + v.Host + ":" + strconv.Itoa(v.Port) + "|" + string(req.CSeq().MethodName)
}

// callIDsOfRaw finds the Call-ID (or compact i) values of a raw message's header.
func callIDsOfRaw(raw []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if n := strings.ToLower(strings.TrimSpace(name)); n == "call-id" || n == "i" {
			out = append(out, strings.TrimSpace(val))
		}
	}
	return out
}

// TestRFC4475Torture sends every RFC 4475 torture message raw over UDP to a running Herald and checks
// that valid requests are handled (answered or forwarded), invalid ones are answered 400 or dropped,
// stray responses are dropped, nothing crashes or hangs, and a valid call still completes afterwards.
func TestRFC4475Torture(t *testing.T) {
	leakCheck(t)
	files, err := filepath.Glob(filepath.Join("testdata", "torture", "*.dat"))
	if err != nil || len(files) != len(tortureCases) {
		t.Fatalf("%d torture files, want the %d of RFC 4475 (%v)", len(files), len(tortureCases), err)
	}
	st, _ := testStore(t)
	callee := newCallee(t, uesim.CalleeOptions{RingTime: 100 * time.Millisecond, MaxCallTime: time.Second, FetchTimeout: time.Second})
	caller := newCaller(t, uesim.CallerOptions{})
	// Herald instances: a message whose transaction key an earlier message used goes to the next one.
	var heralds []*rig
	var keys []map[string]bool
	heraldFor := func(raw []byte) *rig {
		key, i := txKeyOfRaw(raw), 0
		for ; i < len(heralds) && key != "" && keys[i][key]; i++ {
		}
		if i == len(heralds) {
			h := startHerald(t, st, callee.Addr(), func(o *Options) { o.TimerC = 2 * time.Second })
			h.tap.restrict(callee.Addr(), caller.Addr())
			heralds, keys = append(heralds, h), append(keys, map[string]bool{})
		}
		if key != "" {
			keys[i][key] = true
		}
		return heralds[i]
	}
	h := heraldFor(nil)

	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	type outcome struct {
		responses []int    // statuses Herald sent for the message's Call-ID
		forwarded []string // request lines Herald sent onward for it
	}
	outcomes := map[string]*outcome{}
	callIDs := map[string][]string{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".dat")
		if _, ok := tortureCases[name]; !ok {
			t.Fatalf("%s is not an RFC 4475 message", name)
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		callIDs[name] = callIDsOfRaw(raw)
		outcomes[name] = &outcome{}
		dst, err := net.ResolveUDPAddr("udp", heraldFor(raw).addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo(raw, dst); err != nil {
			t.Fatal(err)
		}
		// Give Herald a moment per message so a crash or a stuck handler shows up at its message.
		time.Sleep(10 * time.Millisecond)
	}

	// Collect: Herald's UDP output (responses and forwarded requests) and what reached the next hop
	// (over UDP or TCP), until every valid request has its outcome or 3 s have passed.
	collect := func() {
		var out []tapped
		for _, h := range heralds {
			o, _ := h.tap.sent(0)
			out = append(out, o...)
		}
		for _, o := range outcomes {
			*o = outcome{}
		}
		for _, d := range out {
			cids := callIDsOfRaw(d.data)
			for name, ids := range callIDs {
				if len(cids) == 0 || !slices.Contains(ids, cids[0]) {
					continue
				}
				o := outcomes[name]
				if bytes.HasPrefix(d.data, []byte("SIP/2.0 ")) {
					code, _ := strconv.Atoi(string(d.data[8:11]))
					o.responses = append(o.responses, code)
				} else {
					o.forwarded = append(o.forwarded, firstLine(d.data))
				}
			}
		}
		for _, c := range callee.Calls() {
			for name, ids := range callIDs {
				if slices.Contains(ids, c.CallID) && !slices.Contains(outcomes[name].forwarded, c.Invite.StartLine()) {
					outcomes[name].forwarded = append(outcomes[name].forwarded, c.Invite.StartLine())
				}
			}
		}
	}
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		collect()
		done := true
		for name, class := range tortureCases {
			o := outcomes[name]
			if class == tortureValid && len(o.responses) == 0 && len(o.forwarded) == 0 && tortureParserDrops[name] == "" {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
	}

	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range tortureCases {
			if !yield(k) {
				return
			}
		}
	}) {
		o, class := outcomes[name], tortureCases[name]
		t.Logf("%-10s class %d: responses %v forwarded %q", name, class, o.responses, o.forwarded)
		if want, ok := tortureExpect[name]; ok && !slices.Contains(o.responses, want) {
			t.Errorf("%s: responses %v, want %d (RFC 4475)", name, o.responses, want)
		}
		switch class {
		case tortureValid:
			if len(o.responses) == 0 && len(o.forwarded) == 0 {
				if why := tortureParserDrops[name]; why != "" {
					t.Logf("%s (valid): dropped unparsed: %s", name, why)
				} else {
					t.Errorf("%s (valid): neither answered nor forwarded", name)
				}
			}
		case tortureInvalid:
			for _, code := range o.responses {
				if code != 400 && !slices.Contains(tortureAlso[name], code) {
					t.Errorf("%s (invalid): answered %d, want 400 or nothing", name, code)
				}
			}
			if len(o.forwarded) > 0 {
				t.Errorf("%s (invalid): forwarded %q", name, o.forwarded)
			}
		case tortureLenient:
			if len(o.forwarded) == 0 && (len(o.responses) == 0 || o.responses[0] >= 300 && o.responses[0] != 400) {
				t.Errorf("%s: responses %v, forwarded %q, want 400 or handled", name, o.responses, o.forwarded)
			}
		case tortureResponse:
			if len(o.responses)+len(o.forwarded) > 0 {
				t.Errorf("%s (stray response): Herald sent %v %q", name, o.responses, o.forwarded)
			}
		}
	}

	// Herald still serves a normal call, and the torture left no call behind.
	res := h.mustCall(t, caller, alice, bob)
	if res.Pages[uesim.CalleeCard] == nil {
		t.Fatalf("callee card not delivered after the torture run: %v", res.PageErrors)
	}
	for _, h := range heralds {
		h.quiet(t)
	}
	t.Logf("%d Herald instances (shared transaction keys)", len(heralds))
}
