package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-ims/herald/netio/freeport"

	"github.com/emiago/sipgo/sip"

	"github.com/herald-ims/herald/bench/uesim"
	"github.com/herald-ims/herald/configs"
	"github.com/herald-ims/herald/core/config"
)

// demoConfig is the embedded default config moved to free loopback ports, with the next hop pointing
// at the simulated callee.
func demoConfig(nextHop string) (*config.Options, error) {
	o, err := config.Default()
	if err != nil {
		return nil, err
	}
	// Every listener on the next hop's loopback address: 127.0.0.1, or ::1 for a call over IPv6.
	host := "127.0.0.1"
	if h, _, err := net.SplitHostPort(nextHop); err == nil && strings.Contains(h, ":") {
		host = h
	}
	hp := func(port string) string { return net.JoinHostPort(host, port) }
	cp := *o
	cp.SIP.Listen = []config.Listener{{Transport: "udp", Addr: hp("0")}, {Transport: "tcp", Addr: hp("0")}}
	cp.SIP.Advertise = host
	cp.SIP.NextHop = "sip:" + nextHop + ";transport=udp"
	// The demo (and the tests built on it) keep Herald in the dialog path, so that the trace and the
	// wire checks show the ACK and BYE passing Herald too.
	cp.SIP.RecordRoute = true
	cp.MSRP.Listen = hp("0")
	cp.MSRP.Advertise = host
	cp.MSRP.AdvertiseAddr = host
	cp.RTP.Listen, cp.RTP.AdvertiseAddr = host, host
	cp.Log.Level = "error"
	cp.DataDir = "" // a temporary store, imported from the seed and removed at stop
	// Ringback ports away from the simulated terminals' media ports.
	cp.RTP.PortMin, cp.RTP.PortMax = 41000, 41998
	port, err := freePort(host)
	if err != nil {
		return nil, err
	}
	cp.HTTP.Listen = hp(port)
	cp.HTTP.BaseURL = "http://" + hp(port) + "/"
	cp.HTTP.AdminListen = hp("0")
	return &cp, nil
}

// freeTCPPort returns a loopback port for the page listener (the HTTP base URL must name its port
// before the listener exists), leased to this process below the kernel's ephemeral range
// (netio/freeport): no outgoing connection or port-0 bind elsewhere can take it in between.
func freeTCPPort() (string, error) { return freePort("127.0.0.1") }

// freePort is freeTCPPort on host's loopback.
func freePort(host string) (string, error) {
	p, err := freeport.Port(host)
	return strconv.Itoa(p), err
}

// demoCall is one call placed through a Herald instance with simulated terminals: the result of the
// caller's side and the callee's side.
type demoCall struct {
	Caller *uesim.CallResult
	Callee uesim.CalleeCall
	Herald *instance
}

// demoOptions tune runDemoCall for tests.
type demoOptions struct {
	From, To     string
	Callee       uesim.CalleeOptions
	Caller       uesim.CallerOptions
	Trace        func(line string)
	Configure    func(*config.Options)
	Provision    func(context.Context, *instance) error // after start, before the call
	KeepInstance bool                                   // leave Herald running (the caller of runDemoCall stops it)
	LogTo        io.Writer                              // Herald's log, as the binary writes it (setupLogging); nil discards it
	Host         string                                 // the loopback every party listens on; "" = 127.0.0.1 ("::1": the call over IPv6)
}

// runDemoCall starts a callee (the next hop and terminal), Herald and a caller on loopback, places one
// call, and returns what both terminals saw.
func runDemoCall(ctx context.Context, do demoOptions) (*demoCall, error) {
	trace := do.Trace
	if trace == nil {
		trace = func(string) {}
	}
	uet := func(dir, proto, summary string) { trace(fmt.Sprintf("%-17s %-4s %s", dir, proto, summary)) }
	quiet := slog.New(slog.DiscardHandler)

	co := do.Callee
	host := do.Host
	if host == "" {
		host = "127.0.0.1"
	}
	co.Listen, co.Trace, co.Logger = net.JoinHostPort(host, "0"), uet, quiet
	if co.RingTime == 0 {
		co.RingTime = 400 * time.Millisecond
	}
	callee, err := uesim.NewCallee(co)
	if err != nil {
		return nil, fmt.Errorf("demo: callee: %w", err)
	}
	defer callee.Close()

	o, err := demoConfig(callee.Addr())
	if err != nil {
		return nil, err
	}
	if do.Configure != nil {
		do.Configure(o)
	}
	hlog := quiet
	if do.LogTo != nil {
		hlog, _ = setupLogging(o, do.LogTo)
	} else if lvl := os.Getenv("HERALD_DEMO_LOG"); lvl != "" { // debugging aid: Herald's own log on stderr
		o.Log.Level = lvl
		hlog = newLogger(o, os.Stderr)
	}
	in, err := newInstance(o, hlog, trace)
	if err != nil {
		return nil, err
	}
	if err := in.start(ctx); err != nil {
		in.stop(context.Background())
		return nil, err
	}
	if !do.KeepInstance {
		defer in.stop(context.Background())
	}
	if do.Provision != nil {
		if err := do.Provision(ctx, in); err != nil {
			return &demoCall{Herald: in}, fmt.Errorf("demo: provisioning: %w", err)
		}
	}

	cro := do.Caller
	cro.Listen, cro.Trace, cro.Logger = net.JoinHostPort(host, "0"), uet, quiet
	if cro.HoldTime == 0 {
		cro.HoldTime = 100 * time.Millisecond
	}
	caller, err := uesim.NewCaller(cro)
	if err != nil {
		return nil, fmt.Errorf("demo: caller: %w", err)
	}
	defer caller.Close()

	res, err := caller.Call(ctx, in.sipAddr(), do.From, do.To)
	if err != nil {
		return &demoCall{Caller: res, Herald: in}, fmt.Errorf("demo: call: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cc, err := callee.WaitCall(wctx, res.CallID)
	if err != nil {
		return &demoCall{Caller: res, Herald: in}, fmt.Errorf("demo: callee side: %w", err)
	}
	return &demoCall{Caller: res, Callee: cc, Herald: in}, nil
}

func cmdDemo(ctx context.Context, outDir string, stdout, stderr io.Writer) int {
	start := time.Now()
	// sipgo's package logger reports benign connection ref-count noise at WARN; the demo's output is
	// the trace, so keep it off the terminal.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	var mu sync.Mutex
	trace := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "%7.3fs  %s\n", time.Since(start).Seconds(), line)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fmt.Fprintln(stdout, "Herald demo: alice (sip:alice@home1.net) calls bob (tel:+1-212-555-2222) on loopback")
	token := demoToken()
	dc, err := runDemoCall(ctx, demoOptions{
		From:      "sip:alice@home1.net",
		To:        "tel:+1-212-555-2222",
		Trace:     trace,
		Configure: func(o *config.Options) { o.HTTP.API.ReadWriteTokens = []string{token} },
		Provision: func(ctx context.Context, in *instance) error { return provisionDemo(ctx, in, token, trace) },
	})
	if err != nil {
		fmt.Fprintln(stderr, "herald demo:", err)
		return 1
	}
	if err := os.MkdirAll(outDir, 0o750); err != nil {
		fmt.Fprintln(stderr, "herald demo:", err)
		return 1
	}
	var failed []error
	check := func(label, file string, page []byte, perr error) {
		if perr != nil || page == nil {
			failed = append(failed, fmt.Errorf("%s not delivered: %v", label, perr))
			return
		}
		path := filepath.Join(outDir, file)
		if err := os.WriteFile(path, page, 0o640); err != nil {
			failed = append(failed, err)
			return
		}
		fmt.Fprintf(stdout, "  %-40s %6d bytes  %s  (matches its a=file-selector hash)\n", label, len(page),
			path)
	}
	check("caller card (alice's) at bob's terminal", "caller-card.html", dc.Callee.Page, dc.Callee.PageErr)
	if dc.Callee.Page != nil && !bytes.Contains(dc.Callee.Page, []byte(demoMarker)) {
		failed = append(failed, errors.New("bob's terminal got a caller card without the one set through the API"))
	}
	check("callee card (bob's) at alice's terminal", "callee-card.html", dc.Caller.Pages[uesim.CalleeCard],
		dc.Caller.PageErrors[uesim.CalleeCard])
	if dc.Caller.Final != 200 {
		failed = append(failed, fmt.Errorf("call ended with %d, want 200", dc.Caller.Final))
	}
	if len(failed) > 0 {
		fmt.Fprintln(stderr, "herald demo:", errors.Join(failed...))
		return 1
	}
	fmt.Fprintf(stdout, "call answered, both pages delivered and verified, everything torn down in %.2fs\n",
		time.Since(start).Seconds())
	return 0
}

// demoMarker is the line the demo adds to alice's caller card through the provisioning API.
const demoMarker = "<p>Set through the provisioning API of Herald.</p>"

// demoToken is a fresh read-write API token for one demo run.
func demoToken() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// provisionDemo sets alice's caller card through the provisioning API on the admin listener, as a
// self-care portal would: GET the card for its ETag, PUT the new one with If-Match (the seed page
// with one more line, so the call shows it came from the API).
func provisionDemo(ctx context.Context, in *instance, token string, trace func(string)) error {
	seed, err := fs.ReadFile(configs.Seed, "pages/alice-card.html")
	if err != nil {
		return err
	}
	card := bytes.Replace(seed, []byte("</body>"), []byte(demoMarker+"\n</body>"), 1)
	url := "http://" + in.web.AdminAddr() + "/v1/subscribers/sip:alice@home1.net/cards/caller"
	c := &http.Client{Timeout: 5 * time.Second}
	send := func(method string, body []byte, hdr ...string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}
	res, _, err := send(http.MethodGet, nil)
	if err != nil {
		return err
	}
	etag := res.Header.Get("ETag")
	res, body, err := send(http.MethodPut, card, "Content-Type", "text/html; charset=utf-8", "If-Match", etag)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s %s", url, res.Status, body)
	}
	var up struct {
		Version string            `json:"version"`
		Removed []json.RawMessage `json:"removed"`
	}
	if err := json.Unmarshal(body, &up); err != nil {
		return fmt.Errorf("PUT %s: %w", url, err)
	}
	trace(fmt.Sprintf("%-17s %-4s PUT /v1/subscribers/sip:alice@home1.net/cards/caller → %d, version %.12s…, %d removed",
		"portal → Herald", "HTTP", res.StatusCode, up.Version, len(up.Removed)))
	return nil
}
