package msrpbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-ims/herald/core/msrp"
)

// termReadBuf is a terminal's initial read buffer: three 2048-byte chunks with their heads.
const termReadBuf = 8 << 10

// Terminal is one simulated MSRP terminal (the fetching side of the push model). It reuses its parser and
// buffers across fetches; it is not safe for concurrent use.
type Terminal struct {
	// Addr is the server's "host:port".
	Addr string
	// From is the terminal's own URI (From-Path).
	From []byte
	// Page is the body the terminal expects, byte for byte.
	Page []byte

	p   msrp.Parser
	m   msrp.Message
	buf []byte
	out []byte
}

// NewTerminal returns a terminal fetching page from addr.
func NewTerminal(addr string, page []byte, id int) *Terminal {
	t := &Terminal{Addr: addr, Page: page, From: fmt.Appendf(nil, "msrp://127.0.0.1:9/term%d;tcp", id)}
	t.p.Limits = msrp.Limits{MaxHeaderBytes: 16 << 10, MaxBodyBytes: 1 << 20}
	return t
}

// Fetch performs one acquisition: dial, bodiless SEND to toPath, expect 200, read the chunks (answering
// 200 to each and checking every byte against t.Page and the Byte-Ranges for contiguity), send the success
// REPORT, then wait for the server to close. latency runs from the acquisition SEND being written to the
// final REPORT being written. If hold is not nil, the terminal waits for it to be closed (or ctx) after the
// last chunk and before the REPORT, holding the bound connection; ready (if not nil) is called at that
// point. The whole fetch, including the hold, is bounded by ctx.
func (t *Terminal) Fetch(ctx context.Context, toPath string, hold <-chan struct{}, ready func()) (latency time.Duration, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return 0, fmt.Errorf("msrpbench: dial: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if t.buf == nil {
		t.buf = make([]byte, termReadBuf)
	}
	bindTID := msrp.NewTID()
	t.out = msrp.AppendRequestHead(t.out[:0], bindTID, "SEND", []msrp.Header{
		{Name: []byte("To-Path"), Value: []byte(toPath)},
		{Name: []byte("From-Path"), Value: t.From},
		{Name: []byte("Message-ID"), Value: []byte(msrp.NewMessageID())},
		{Name: []byte("Byte-Range"), Value: []byte("1-0/0")},
	}, false)
	t.out = msrp.AppendEndLine(t.out, bindTID, msrp.FlagEnd, false)
	t0 := time.Now()
	if _, err := conn.Write(t.out); err != nil {
		return 0, fmt.Errorf("msrpbench: write bind: %w", err)
	}

	total := int64(len(t.Page))
	var got int64
	var msgID, peer []byte
	answered, done := false, false
	r, w := 0, 0
	t.p.Reset()
	for !done {
		if w == len(t.buf) {
			if r > 0 {
				w = copy(t.buf, t.buf[r:w])
				r = 0
			} else {
				t.buf = append(t.buf, make([]byte, len(t.buf))...)
			}
		}
		n, rerr := conn.Read(t.buf[w:])
		w += n
		t.out = t.out[:0]
		for r < w && !done {
			k, perr := t.p.Parse(t.buf[r:w], &t.m)
			if errors.Is(perr, msrp.ErrIncomplete) {
				break
			}
			if perr != nil {
				return 0, fmt.Errorf("%w: %w", ErrProtocol, perr)
			}
			m := &t.m
			switch {
			case !m.IsRequest():
				if string(m.TID) != bindTID || m.Status != 200 {
					return 0, fmt.Errorf("%w: response %d %q to the acquisition request", ErrProtocol, m.Status, m.Comment)
				}
				answered = true
			case string(m.Method) == "SEND":
				if err := t.checkChunk(m, got, &msgID); err != nil {
					return 0, err
				}
				if peer == nil {
					peer = append([]byte(nil), msrp.FirstURI(m.FromPath)...)
				}
				got += int64(len(m.Body))
				t.out = msrp.AppendResponse(t.out, string(m.TID), 200, "OK", msrp.FirstURI(m.FromPath), t.From)
				if m.Flag == msrp.FlagEnd {
					if got != total || !answered {
						return 0, fmt.Errorf("%w: last chunk after %d of %d bytes (bind answered: %v)", ErrMismatch, got, total, answered)
					}
					done = true
				}
			default:
				return 0, fmt.Errorf("%w: unexpected %s request", ErrProtocol, m.Method)
			}
			r += k
		}
		if r == w {
			r, w = 0, 0
		}
		if !done && len(t.out) > 0 {
			if _, err := conn.Write(t.out); err != nil {
				return 0, fmt.Errorf("msrpbench: write responses: %w", err)
			}
		}
		if !done && rerr != nil {
			return 0, fmt.Errorf("%w: read after %d of %d bytes: %w", ErrProtocol, got, total, rerr)
		}
	}
	t.m = msrp.Message{} // it aliases t.buf
	if hold != nil {
		if _, err := conn.Write(t.out); err != nil { // the last chunk's 200
			return 0, fmt.Errorf("msrpbench: write responses: %w", err)
		}
		t.out = t.out[:0]
		if ready != nil {
			ready()
		}
		t.buf = nil // a held terminal keeps only its connection
		select {
		case <-hold:
		case <-ctx.Done():
			return 0, fmt.Errorf("msrpbench: held connection: %w", ctx.Err())
		}
		t0 = time.Now() // a held fetch has no meaningful latency
	}
	t.out = msrp.AppendReport(t.out, msrp.NewTID(), peer, t.From, string(msgID),
		msrp.ByteRange{Start: 1, End: total, Total: total}, 200, "OK")
	if _, err := conn.Write(t.out); err != nil {
		return 0, fmt.Errorf("msrpbench: write report: %w", err)
	}
	latency = time.Since(t0)
	// The server half-closes once it has the REPORT; wait for that so that it, not the terminal, holds
	// TIME_WAIT, as with real terminals.
	if t.buf == nil {
		t.buf = make([]byte, termReadBuf)
	}
	for {
		n, err := conn.Read(t.buf)
		if n > 0 {
			return 0, fmt.Errorf("%w: %d bytes after the last chunk", ErrProtocol, n)
		}
		if err != nil {
			break
		}
	}
	return latency, nil
}

// checkChunk verifies one SEND chunk against the expected page: same Message-ID as the first chunk,
// Byte-Range starting right after the got bytes received, total size and body bytes as the page.
func (t *Terminal) checkChunk(m *msrp.Message, got int64, msgID *[]byte) error {
	total := int64(len(t.Page))
	if *msgID == nil {
		*msgID = append([]byte(nil), m.MessageID...)
	} else if !bytes.Equal(*msgID, m.MessageID) {
		return fmt.Errorf("%w: Message-ID changed from %q to %q", ErrMismatch, *msgID, m.MessageID)
	}
	br := m.ByteRange
	if !m.HasByteRange || br.Start != got+1 || br.Total != total || br.End != br.Start+int64(len(m.Body))-1 {
		return fmt.Errorf("%w: Byte-Range %+v after %d bytes, body %d, page %d", ErrMismatch, br, got, len(m.Body), total)
	}
	if m.Flag != msrp.FlagMore && m.Flag != msrp.FlagEnd {
		return fmt.Errorf("%w: chunk flag %q", ErrProtocol, m.Flag)
	}
	if br.End > total || !bytes.Equal(m.Body, t.Page[br.Start-1:br.End]) {
		return fmt.Errorf("%w: body bytes %d-%d differ from the page", ErrMismatch, br.Start, br.End)
	}
	if !bytes.Equal(m.SuccessReport, []byte("yes")) {
		return fmt.Errorf("%w: Success-Report %q, want yes", ErrProtocol, m.SuccessReport)
	}
	return nil
}

// LoadConfig describes a throughput run: Terminals concurrent terminals, each fetching Rounds pages one
// after the other; delivery i (round*Terminals + terminal) fetches PathURI(i).
type LoadConfig struct {
	Addr      string
	PathURI   func(i int) string
	Page      []byte
	Terminals int
	Rounds    int
	// FetchTimeout bounds one fetch; Timeout bounds the whole run.
	FetchTimeout, Timeout time.Duration
}

// LoadResult is what a throughput run measured.
type LoadResult struct {
	Deliveries int             // fetches that completed and verified
	Errors     int             // fetches that failed
	FirstErr   error           // the first failure, if any
	Wall       time.Duration   // from the first dial to the last fetch's end
	Latencies  []time.Duration // per delivery, sorted ascending
}

// Rate is deliveries per second of wall time.
func (r LoadResult) Rate() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Deliveries) / r.Wall.Seconds()
}

// Percentile returns the q-quantile (0 < q ≤ 1) of the latencies by the nearest-rank method.
func (r LoadResult) Percentile(q float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	k := int(q*float64(n)+0.999999) - 1
	return r.Latencies[min(max(k, 0), n-1)]
}

// RunLoad runs cfg and returns the measurements; an error only for a bad config or a cancelled ctx.
func RunLoad(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if cfg.Terminals <= 0 || cfg.Rounds <= 0 || cfg.PathURI == nil || len(cfg.Page) == 0 {
		return LoadResult{}, fmt.Errorf("%w: bad load config", ErrProtocol)
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		res      LoadResult
		errCount atomic.Int64
	)
	lats := make([][]time.Duration, cfg.Terminals)
	start := time.Now()
	for k := range cfg.Terminals {
		wg.Go(func() {
			t := NewTerminal(cfg.Addr, cfg.Page, k)
			l := make([]time.Duration, 0, cfg.Rounds)
			for round := range cfg.Rounds {
				if ctx.Err() != nil {
					errCount.Add(int64(cfg.Rounds - round))
					break
				}
				fctx, fcancel := context.WithTimeout(ctx, cfg.FetchTimeout)
				lat, err := t.Fetch(fctx, cfg.PathURI(round*cfg.Terminals+k), nil, nil)
				fcancel()
				if err != nil {
					errCount.Add(1)
					mu.Lock()
					if res.FirstErr == nil {
						res.FirstErr = err
					}
					mu.Unlock()
					continue
				}
				l = append(l, lat)
			}
			lats[k] = l
		})
	}
	wg.Wait()
	res.Wall = time.Since(start)
	res.Errors = int(errCount.Load())
	for _, l := range lats {
		res.Latencies = append(res.Latencies, l...)
	}
	slices.Sort(res.Latencies)
	res.Deliveries = len(res.Latencies)
	return res, ctx.Err()
}

// HoldConfig describes a memory run: N terminals each bind session PathURI(i), receive the whole page and
// then hold the bound connection without sending the REPORT.
type HoldConfig struct {
	Addr    string
	PathURI func(i int) string
	Page    []byte
	N       int
	// DialConcurrency bounds the fetches in progress while connections are being established.
	DialConcurrency int
	// Timeout bounds everything: establishing, holding and releasing.
	Timeout time.Duration
}

// Held is a set of held connections. Release makes every terminal send its REPORT; Wait then waits for
// them all and returns how many completed and the first error.
type Held struct {
	release chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	ok      atomic.Int64
	mu      sync.Mutex
	err     error
}

// Release lets the held terminals finish their fetches.
func (h *Held) Release() { h.once.Do(func() { close(h.release) }) }

// Wait waits for every terminal after Release and returns how many fetched successfully.
func (h *Held) Wait() (int, error) {
	h.Release()
	h.wg.Wait()
	h.cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	return int(h.ok.Load()), h.err
}

// Hold establishes cfg.N bound connections that have received the whole page and returns once all of them
// hold (or one failed, or the timeout passed); the caller measures, then calls Wait.
func Hold(ctx context.Context, cfg HoldConfig) (*Held, error) {
	if cfg.DialConcurrency <= 0 {
		cfg.DialConcurrency = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	hctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	h := &Held{release: make(chan struct{}), cancel: cancel}
	sem := make(chan struct{}, cfg.DialConcurrency)
	var ready sync.WaitGroup
	ready.Add(cfg.N)
	allReady := make(chan struct{})
	failed := make(chan struct{})
	var failOnce sync.Once
	for i := range cfg.N {
		h.wg.Go(func() {
			isReady := false
			markReady := func() {
				if !isReady {
					isReady = true
					<-sem
					ready.Done()
				}
			}
			select {
			case sem <- struct{}{}:
			case <-hctx.Done():
				ready.Done()
				return
			}
			t := NewTerminal(cfg.Addr, cfg.Page, i)
			_, err := t.Fetch(hctx, cfg.PathURI(i), h.release, markReady)
			if err != nil {
				h.mu.Lock()
				if h.err == nil {
					h.err = err
				}
				h.mu.Unlock()
				failOnce.Do(func() { close(failed) })
			} else {
				h.ok.Add(1)
			}
			markReady()
		})
	}
	go func() { ready.Wait(); close(allReady) }()
	select {
	case <-allReady:
		return h, nil
	case <-failed:
	case <-hctx.Done():
	}
	_, err := h.Wait()
	if err == nil {
		err = hctx.Err()
	}
	return nil, fmt.Errorf("msrpbench: hold %d connections: %w", cfg.N, err)
}
