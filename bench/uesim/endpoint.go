package uesim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// endpoint is one simulated SIP UA on one UDP socket: a sipgo UserAgent with its Server and
// Client sharing the socket (requests leave from the listening port, so Via and Contact name it).
type endpoint struct {
	name, peer string // trace names: "caller"/"callee" and "herald"
	addr       *net.UDPAddr
	adv        *net.UDPAddr // the address named in Via and Contact (Link.Advertise, default addr)
	link       Link
	pc         net.PacketConn
	ln         net.Listener // TCP on the same address: RFC 3261 §18 requires it, and peers switch
	// to TCP for messages above 1300 bytes (§18.1.1), as sipgo does
	ua    *sipgo.UserAgent
	srv   *sipgo.Server
	cli   *sipgo.Client
	log   *slog.Logger
	trace Trace
	wire  wireLog
	// readHook, if set before start, sees every read before sipgo parses it.
	readHook func(data []byte)
	// transport is "UDP" or "TCP": the transport of the requests the endpoint sends and the
	// ;transport parameter of its Contact (TCP only). noRecord skips the per-call message record
	// (load generation: no copy of every message kept).
	transport string
	noRecord  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func newEndpoint(name, peer, listen string, link Link, trace Trace, log *slog.Logger, wireLimit int,
	register func(*sipgo.Server)) (*endpoint, error) {
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if peer == "" {
		peer = "herald"
	}
	e := &endpoint{name: name, peer: peer, trace: trace, log: log.With("component", "uesim/"+name)}
	e.wire.limit = wireLimit
	pc, ln, err := listenBoth(listen)
	if err != nil {
		return nil, err
	}
	e.pc, e.ln = pc, ln
	e.addr = pc.LocalAddr().(*net.UDPAddr)
	e.adv, e.link = e.addr, link
	if link.Advertise != "" {
		if e.adv, err = net.ResolveUDPAddr("udp", link.Advertise); err != nil {
			pc.Close()
			ln.Close()
			return nil, fmt.Errorf("uesim: advertise %q: %w", link.Advertise, err)
		}
	}
	if link.Outbound != "" {
		to, err := net.ResolveUDPAddr("udp", link.Outbound)
		if err != nil {
			pc.Close()
			ln.Close()
			return nil, fmt.Errorf("uesim: outbound %q: %w", link.Outbound, err)
		}
		e.pc = outboundConn{PacketConn: pc, to: to}
	}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("herald-uesim-"+name),
		sipgo.WithUserAgentHostname(e.addr.IP.String()),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(e.log),
			sip.WithTransportLayerReadFilter(e.onRead),
		),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(e.log)),
	)
	if err != nil {
		pc.Close()
		ln.Close()
		return nil, fmt.Errorf("uesim: new ua: %w", err)
	}
	e.ua = ua
	e.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(e.log))
	if err == nil {
		e.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(e.log),
			sipgo.WithClientAddr(e.adv.String()), sipgo.WithClientConnectionAddr(e.addr.String()))
	}
	if err != nil {
		ua.Close()
		pc.Close()
		ln.Close()
		return nil, fmt.Errorf("uesim: new server/client: %w", err)
	}
	// sipgo trap: the handler map is not locked, so every handler is registered before serving.
	register(e.srv)
	e.srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil))
	})
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// start serves the socket; call it once the owner's fields the handlers use are set.
func (e *endpoint) start() error {
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		if err := e.srv.ServeUDP(e.pc); err != nil && !errors.Is(err, net.ErrClosed) {
			e.log.Debug("serve udp ended", "error", err)
		}
	}()
	go func() {
		defer e.wg.Done()
		if err := e.srv.ServeTCP(e.ln); !errors.Is(err, net.ErrClosed) { // ServeTCP never returns nil
			e.log.Debug("serve tcp ended", "error", err)
		}
	}()
	// ServeUDP registers the socket in the connection pool asynchronously; requests sent before
	// that would try to bind a second socket on the same port.
	for i := 0; ; i++ {
		if c, err := e.ua.TransportLayer().GetConnection("udp", e.addr.String()); err == nil && c != nil {
			_, _ = c.TryClose() // balance the reference Get took
			break
		}
		if i == 1000 {
			return fmt.Errorf("uesim: udp listener %s not ready", e.addr)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// udpRcvBuf is the receive buffer asked for each simulated terminal's UDP socket.
const udpRcvBuf = 4 << 20

// listenBoth opens UDP and TCP on the same address; with port 0 it retries until both get the
// same free port.
func listenBoth(listen string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, nil, fmt.Errorf("uesim: listen address %q: %w", listen, err)
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", listen)
		if err != nil {
			return nil, nil, fmt.Errorf("uesim: listen udp %s: %w", listen, err)
		}
		// As Herald's own sockets: the kernel default (rmem_default, ~208 KB) overflowed on the
		// generator's callee socket at 700 push calls/s (its drops failed calls that Herald had
		// carried). The kernel caps it at net.core.rmem_max.
		_ = pc.(*net.UDPConn).SetReadBuffer(udpRcvBuf)
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || attempt == 20 {
			return nil, nil, fmt.Errorf("uesim: listen tcp %s: %w", net.JoinHostPort(host, port), err)
		}
	}
}

// onRead keeps a copy of every received datagram so that recorded messages carry wire bytes.
func (e *endpoint) onRead(_ sip.TransportReadProps, data []byte) ([]byte, error) {
	e.wire.add(data)
	if e.readHook != nil {
		e.readHook(data)
	}
	return data, nil
}

// Addr is the UDP address the endpoint listens on.
func (e *endpoint) Addr() string { return e.addr.String() }

func (e *endpoint) close() error {
	var err error
	e.once.Do(func() {
		e.cancel()
		err = e.ua.Close()
		if cerr := e.pc.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
		if cerr := e.ln.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
		e.wg.Wait()
	})
	return err
}

func (e *endpoint) contact() *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: e.name, Host: e.adv.IP.String(), Port: e.adv.Port}
	if e.transport == "TCP" {
		// RFC 3261 §19.1.1: in-dialog requests to this terminal then come over TCP too.
		u.UriParams = sip.HeaderParams{{K: "transport", V: "tcp"}}
	}
	return &sip.ContactHeader{Address: u}
}

// setTransport sets the transport of the endpoint's requests from an option ("", "udp", "tcp").
func (e *endpoint) setTransport(t string) error {
	switch strings.ToLower(t) {
	case "", "udp":
		e.transport = "UDP"
	case "tcp":
		e.transport = "TCP"
	default:
		return fmt.Errorf("uesim: transport %q: want udp or tcp", t)
	}
	return nil
}

// record stores msg in rec (if any) and emits the trace line.
func (e *endpoint) record(rec *recorder, dir Direction, msg sip.Message) {
	if e.noRecord {
		if e.trace == nil {
			return
		}
		rec = nil
	}
	m := Message{At: time.Now(), Dir: dir}
	switch x := msg.(type) {
	case *sip.Request:
		m.Request = x
	case *sip.Response:
		m.Response = x
	}
	if dir == Received {
		var start string
		if m.Request != nil {
			start = m.Request.StartLine()
		} else {
			start = m.Response.StartLine()
		}
		if d, ok := e.wire.find(start, topBranch(msg)); ok {
			m.At, m.Raw = d.at, d.raw
		}
	}
	if m.Raw == nil {
		m.Raw = []byte(msg.String())
	}
	if rec != nil {
		rec.add(m)
	}
	if e.trace != nil {
		from, to := e.name, e.peer
		if dir == Received {
			from, to = e.peer, e.name
		}
		e.trace(from+" → "+to, "SIP", summarize(msg))
	}
}

// summarize is the trace summary of a SIP message: "INVITE sip:bob@x (application/sdp)" or
// "183 Session Progress to INVITE (multipart/mixed) tag=abc".
func summarize(msg sip.Message) string {
	var sb strings.Builder
	switch x := msg.(type) {
	case *sip.Request:
		sb.WriteString(string(x.Method))
		sb.WriteByte(' ')
		sb.WriteString(x.Recipient.String())
	case *sip.Response:
		sb.WriteString(x.StartLine()[len("SIP/2.0 "):])
		if cs := x.CSeq(); cs != nil {
			sb.WriteString(" to ")
			sb.WriteString(string(cs.MethodName))
		}
		if to := x.To(); to != nil {
			if tag, ok := to.Params.Get("tag"); ok && x.StatusCode > 100 {
				sb.WriteString(" tag=")
				sb.WriteString(tag)
			}
		}
	}
	if v := headerValue(msg, "Content-Type"); v != "" && len(msg.Body()) > 0 {
		if i := strings.IndexByte(v, ';'); i >= 0 {
			v = v[:i]
		}
		sb.WriteString(" (")
		sb.WriteString(strings.TrimSpace(v))
		sb.WriteByte(')')
	}
	return sb.String()
}

// respond records res and sends it on tx. Sent messages are recorded just before they are
// written so that the record keeps wire order; a failed send is still recorded (and returned).
func (e *endpoint) respond(rec *recorder, tx sip.ServerTransaction, res *sip.Response) error {
	e.record(rec, Sent, res)
	if err := tx.Respond(res); err != nil {
		return fmt.Errorf("uesim: respond %d: %w", res.StatusCode, err)
	}
	return nil
}

// build adds the missing mandatory headers (Via from the listening address). UDP requests leave
// from the listening socket; TCP ones from a fresh connection (binding the listening port would
// fail), Via still naming the listener.
func (e *endpoint) build(req *sip.Request) error {
	if err := sipgo.ClientRequestBuild(e.cli, req); err != nil {
		return fmt.Errorf("uesim: build %s: %w", req.Method, err)
	}
	if sip.IsReliable(sip.NetworkToLower(req.Transport())) {
		req.Laddr = sip.Addr{}
	}
	return nil
}

// prebuilt is a client request option that changes nothing: the request is complete.
func prebuilt(*sipgo.Client, *sip.Request) error { return nil }

// transaction starts a client transaction for a request built by the simulator (Via is added
// here, before the request is recorded).
func (e *endpoint) transaction(ctx context.Context, rec *recorder, req *sip.Request) (sip.ClientTransaction, error) {
	if err := e.build(req); err != nil {
		return nil, err
	}
	e.record(rec, Sent, req)
	tx, err := e.cli.TransactionRequest(ctx, req, prebuilt)
	if err != nil {
		return nil, fmt.Errorf("uesim: send %s: %w", req.Method, err)
	}
	return tx, nil
}

// do sends req and returns its final response; provisional responses are recorded and dropped.
func (e *endpoint) do(ctx context.Context, rec *recorder, req *sip.Request) (*sip.Response, error) {
	tx, err := e.transaction(ctx, rec, req)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			e.record(rec, Received, res)
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				if errors.Is(err, sip.ErrTransactionTimeout) {
					return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, req.Method, err)
				}
				return nil, fmt.Errorf("uesim: %s: %w", req.Method, err)
			}
			return nil, fmt.Errorf("%w: %s transaction ended without response", ErrProtocol, req.Method)
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, req.Method, ctx.Err())
		}
	}
}

// write sends a request outside any transaction (ACK for 2xx).
func (e *endpoint) write(rec *recorder, req *sip.Request) error {
	if err := e.build(req); err != nil {
		return err
	}
	e.record(rec, Sent, req)
	if err := e.cli.WriteRequest(req, prebuilt); err != nil {
		return fmt.Errorf("uesim: send %s: %w", req.Method, err)
	}
	return nil
}

// randHex returns n random bytes as hex.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// headerValues returns the comma-separated values of every header named name (and its compact
// form, if any), trimmed and lowercased.
func headerValues(msg sip.Message, names ...string) []string {
	var out []string
	for _, n := range names {
		for _, h := range msg.GetHeaders(n) {
			for _, v := range strings.Split(h.Value(), ",") {
				if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

func hasOption(msg sip.Message, tag string, names ...string) bool {
	for _, v := range headerValues(msg, names...) {
		if v == tag {
			return true
		}
	}
	return false
}

func headerValue(msg sip.Message, name string) string {
	if hs := msg.GetHeaders(name); len(hs) > 0 {
		return strings.TrimSpace(hs[0].Value())
	}
	return ""
}

func toTag(msg sip.Message) string {
	if to := msg.To(); to != nil {
		t, _ := to.Params.Get("tag")
		return t
	}
	return ""
}

func fromTag(msg sip.Message) string {
	if from := msg.From(); from != nil {
		t, _ := from.Params.Get("tag")
		return t
	}
	return ""
}

func callID(msg sip.Message) string {
	if c := msg.CallID(); c != nil {
		return c.Value()
	}
	return ""
}

// backoffFrom yields the RFC 3261 retransmission intervals t1, 2·t1, ... capped at sipgo's T2.
func backoffFrom(prev, t1 time.Duration) time.Duration {
	if prev == 0 {
		return t1
	}
	return min(2*prev, max(sip.T2, t1))
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
