package uesim

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // RFC 5547 file-selector hashes are SHA-1
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-ims/herald/core/msrp"
)

// maxPageBytes bounds the page a simulated terminal accepts.
const maxPageBytes = 16 << 20

// FetchOptions describe one acquisition of a pushed page over MSRP (RFC 4975 §5.4 push model with
// the terminal active, RFC 6135): connect, send the bodiless SEND that binds the connection (the
// "acquisition request"), receive the chunked SEND, answer each chunk, reassemble by Byte-Range,
// verify size and SHA-1 against the file-selector, send the success REPORT.
type FetchOptions struct {
	// Addr is the TCP address to connect to (under CEMA, RFC 6714: the c=/m= address of the offer).
	Addr string
	// ToPath is the pusher's a=path (the page's session URI); FromPath is the terminal's own a=path.
	ToPath, FromPath string
	// Size is the size announced in the file-selector; -1 means unknown (not checked).
	Size int64
	// Hash is the file-selector hash ("sha-1:72:24:5F:..." or bare hex); "" means not checked.
	Hash string
	// NoChunkResponses suppresses the 200 transaction responses to the chunk SENDs (a terminal
	// that only sends the REPORT).
	NoChunkResponses bool
	// DropPage reassembles the page in a buffer reused by later fetches: it is verified as
	// always, but FetchResult.Page stays nil (FetchResult.Verified says it matched). For load
	// generation, where nothing reads the bytes once they are checked.
	DropPage bool
	// WrapConn, if set, wraps the connection before its first byte is written (Link.MSRPConn).
	WrapConn func(net.Conn) net.Conn
	// Control, if set, is the dialer's socket control, run before the connect (Link.MSRPControl).
	Control func(network, address string, c syscall.RawConn) error
	// Timeout bounds the whole fetch; 0 means 10 s.
	Timeout time.Duration
	// Trace, Me and Peer produce the step trace ("callee → herald  MSRP SEND ...").
	Trace    Trace
	Me, Peer string
}

// FetchResult is what one fetch produced.
type FetchResult struct {
	Page        []byte
	ContentType string
	MessageID   string
	Chunks      int
	// Verified says the page was complete and matched the file-selector's size and hash (those
	// given); Page holds it unless FetchOptions.DropPage.
	Verified  bool
	Connected time.Duration // TCP connect time
	Bound     time.Duration // connected to the 200 for the bodiless SEND
	Done      time.Duration // connected to the last chunk
	// Reported is the page time: from the acquisition SEND written to the REPORT written (RFC 4975
	// §7.1.2); 0 when no REPORT was sent (none requested, or the transfer never completed).
	Reported time.Duration
}

// Fetch runs one acquisition and returns the verified page. The returned error wraps ErrPageSize,
// ErrPageHash, ErrAborted, ErrMSRPStatus, ErrProtocol or ErrTimeout where they apply.
func Fetch(ctx context.Context, o FetchOptions) (FetchResult, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	start := time.Now()
	// No keep-alive (four setsockopt calls per fetch for a connection that lives milliseconds);
	// the Dialer's deadline bounds the connect, ctx still cancels it.
	d := net.Dialer{Control: o.Control, KeepAlive: -1, Deadline: start.Add(timeout)}
	conn, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return FetchResult{}, fmt.Errorf("uesim: msrp dial %s: %w", o.Addr, err)
	}
	if o.Trace != nil {
		o.Trace(o.Me+" → "+o.Peer, "MSRP", "TCP connect "+o.Addr)
	}
	dial := time.Since(start)
	o.Timeout = max(timeout-dial, time.Nanosecond)
	if o.WrapConn != nil {
		conn = o.WrapConn(conn)
	}
	res, err := fetchConn(ctx, conn, o)
	res.Connected = dial
	return res, err
}

// fetchers holds idle fetchers with their buffers (read: 8 KB, or what a large frame grew it to;
// the frames written): a fetch allocates none of them.
var fetchers = sync.Pool{New: func() any { return &fetcher{buf: make([]byte, 0, 8192)} }}

// fetchConn runs the acquisition on an established connection and closes it. The time bound is
// the connection's deadline (no timer or context of its own); cancelling ctx moves the deadline
// to now.
func fetchConn(ctx context.Context, conn net.Conn, o FetchOptions) (FetchResult, error) {
	var res FetchResult
	defer conn.Close()
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	start := time.Now()
	if err := conn.SetDeadline(start.Add(o.Timeout)); err != nil {
		return res, fmt.Errorf("uesim: msrp deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	f := fetchers.Get().(*fetcher)
	f.o, f.conn = o, conn
	err := f.run(&res, start)
	// Responses still owed (an aborted transfer's chunks, a page without REPORT) go out now.
	if ferr := f.flush(); err == nil {
		err = ferr
	}
	f.release()
	if err != nil && !errors.Is(err, ErrAborted) && (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) {
		err = fmt.Errorf("%w: msrp fetch: %w", ErrTimeout, err)
	}
	return res, err
}

type fetcher struct {
	o    FetchOptions
	conn net.Conn
	p    msrp.Parser
	m    msrp.Message
	buf  []byte // unread bytes start at buf[off:]
	off  int
	out  []byte
	// pend holds what was written but not yet sent: the responses to every chunk of one read go
	// out in one write, just before the next blocking read (one syscall, not one per chunk).
	pend []byte
	// page is the reassembly buffer kept across fetches (FetchOptions.DropPage).
	page []byte
}

// release resets f (nothing of it is referenced any more: the page and the result's strings
// are copies) and returns it to the pool unless its buffers grew large.
func (f *fetcher) release() {
	if cap(f.buf) > 64<<10 || cap(f.out) > 64<<10 || cap(f.pend) > 64<<10 || cap(f.page) > 1<<20 {
		return
	}
	f.m.Reset() // keeps its header slice
	*f = fetcher{m: msrp.Message{Headers: f.m.Headers}, buf: f.buf[:0], out: f.out[:0], pend: f.pend[:0],
		page: f.page[:0]}
	fetchers.Put(f)
}

func (f *fetcher) trace(out bool, summary string) {
	if f.o.Trace == nil {
		return
	}
	if out {
		f.o.Trace(f.o.Me+" → "+f.o.Peer, "MSRP", summary)
	} else {
		f.o.Trace(f.o.Peer+" → "+f.o.Me, "MSRP", summary)
	}
}

// next returns the next complete frame in f.m; its slices alias f.buf until the following call.
func (f *fetcher) next() error {
	// Compact consumed bytes before reading more.
	for {
		n, err := f.p.Parse(f.buf[f.off:], &f.m)
		if err == nil {
			f.off += n
			return nil
		}
		if !errors.Is(err, msrp.ErrIncomplete) {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if f.off > 0 {
			// The parser is resumable only over the same buffer start: restart it after moving.
			rest := copy(f.buf, f.buf[f.off:])
			f.buf = f.buf[:rest]
			f.off = 0
			f.p.Reset()
		}
		if err := f.flush(); err != nil { // nothing more to parse: send what is owed before waiting
			return err
		}
		if len(f.buf) == cap(f.buf) {
			nb := make([]byte, len(f.buf), max(2*cap(f.buf), 8192))
			copy(nb, f.buf)
			f.buf = nb
		}
		k, rerr := f.conn.Read(f.buf[len(f.buf):cap(f.buf)])
		f.buf = f.buf[:len(f.buf)+k]
		if rerr != nil && k == 0 {
			if errors.Is(rerr, io.EOF) {
				return fmt.Errorf("%w: msrp connection closed by peer", ErrProtocol)
			}
			return fmt.Errorf("uesim: msrp read: %w", rerr)
		}
	}
}

// write queues b (copied) for the next flush.
func (f *fetcher) write(b []byte) error {
	f.pend = append(f.pend, b...)
	return nil
}

func (f *fetcher) flush() error {
	if len(f.pend) == 0 {
		return nil
	}
	_, err := f.conn.Write(f.pend)
	f.pend = f.pend[:0]
	if err != nil {
		return fmt.Errorf("uesim: msrp write: %w", err)
	}
	return nil
}

func (f *fetcher) run(res *FetchResult, start time.Time) error {
	toPath, fromPath := []byte(f.o.ToPath), []byte(f.o.FromPath)

	// Acquisition request: bodiless SEND binding the connection (RFC 4975 §5.4).
	bindTID := msrp.NewTID()
	f.out = msrp.AppendRequestHead(f.out[:0], bindTID, "SEND", []msrp.Header{
		{Name: []byte("To-Path"), Value: toPath},
		{Name: []byte("From-Path"), Value: fromPath},
		{Name: []byte("Message-ID"), Value: []byte(msrp.NewMessageID())},
		{Name: []byte("Byte-Range"), Value: []byte("1-0/0")},
	}, false)
	f.out = msrp.AppendEndLine(f.out, bindTID, msrp.FlagEnd, false)
	if err := f.write(f.out); err != nil {
		return err
	}
	if f.o.Trace != nil {
		f.trace(true, "SEND (bodiless acquisition request) To-Path "+f.o.ToPath)
	}

	bound := false
	var page []byte
	var msgID string
	var got int64
	total := int64(-1)
	for {
		if err := f.next(); err != nil {
			return err
		}
		m := &f.m
		if !m.IsRequest() {
			if string(m.TID) != bindTID {
				continue // a response to something we did not send: ignore
			}
			if f.o.Trace != nil {
				f.trace(false, strconv.Itoa(m.Status)+" "+string(m.Comment)+" (to the acquisition SEND)")
			}
			if m.Status != 200 {
				return fmt.Errorf("%w: %d %s to the acquisition request", ErrMSRPStatus, m.Status, m.Comment)
			}
			bound = true
			res.Bound = time.Since(start)
			continue
		}
		method := string(m.Method)
		if method != "SEND" {
			// REPORTs never get responses; anything else gets 501.
			if method != "REPORT" {
				f.out = msrp.AppendResponse(f.out[:0], string(m.TID), 501, msrp.StatusText(501),
					msrp.FirstURI(m.FromPath), fromPath)
				if err := f.write(f.out); err != nil {
					return err
				}
			}
			continue
		}
		if len(m.Body) == 0 && (!m.HasByteRange || m.ByteRange.Total == 0) && m.Flag != msrp.FlagAbort {
			continue // a bodiless SEND from the peer (both sides active): nothing to store
		}
		if msgID == "" {
			msgID = string(m.MessageID)
			res.MessageID = msgID
			res.ContentType = string(m.ContentType)
		} else if string(m.MessageID) != msgID {
			return fmt.Errorf("%w: second message %q during transfer of %q", ErrProtocol, m.MessageID, msgID)
		}
		res.Chunks++
		br := m.ByteRange
		if !m.HasByteRange {
			br = msrp.ByteRange{Start: 1, End: int64(len(m.Body)), Total: int64(len(m.Body))}
		}
		if br.Total > maxPageBytes || br.Start < 1 || br.Start-1+int64(len(m.Body)) > maxPageBytes {
			return fmt.Errorf("%w: byte-range %d-%d/%d out of bounds", ErrProtocol, br.Start, br.End, br.Total)
		}
		if br.Total >= 0 {
			total = br.Total
		}
		end := br.Start - 1 + int64(len(m.Body))
		if int64(len(page)) < end {
			if int64(cap(page)) < end {
				var np []byte
				if want := max(end, total); !f.o.DropPage {
					np = make([]byte, end, want)
				} else if int64(cap(f.page)) >= want && page == nil {
					// Zeroed like a new one: a gap must not be filled by an earlier fetch of the same page.
					np = f.page[:want]
					clear(np)
					np = np[:end]
				} else {
					np = make([]byte, end, want)
					f.page = np
				}
				copy(np, page)
				page = np
			} else {
				page = page[:end]
			}
		}
		copy(page[br.Start-1:], m.Body)
		got += int64(len(m.Body))
		if f.o.Trace != nil {
			f.trace(false, fmt.Sprintf("SEND chunk %d-%d/%s (%d bytes, %s)", br.Start, end, starInt(br.Total),
				len(m.Body), flagName(m.Flag)))
		}
		wantResp := !f.o.NoChunkResponses && !strings.EqualFold(string(m.FailureReport), "no")
		if wantResp {
			f.out = msrp.AppendResponse(f.out[:0], string(m.TID), 200, "OK", msrp.FirstURI(m.FromPath), fromPath)
			if err := f.write(f.out); err != nil {
				return err
			}
		}
		switch m.Flag {
		case msrp.FlagAbort:
			return fmt.Errorf("%w: message %s after %d bytes", ErrAborted, msgID, got)
		case msrp.FlagEnd:
			if total < 0 {
				total = int64(len(page))
			}
			if got < total {
				continue // chunks may arrive out of order: wait for the rest
			}
		default:
			continue
		}
		if !bound {
			// The 200 to the bind may still be on its way; it is not required for the page.
			res.Bound = time.Since(start)
		}
		res.Done = time.Since(start)
		if !f.o.DropPage {
			res.Page = page
		}
		peerPath := bytes.Clone(msrp.FirstURI(m.FromPath))
		successReport := strings.EqualFold(string(m.SuccessReport), "yes")
		failureReport := !strings.EqualFold(string(m.FailureReport), "no")
		verr := verifyPage(page, f.o.Size, f.o.Hash)
		res.Verified = verr == nil
		code, comment := 200, "OK"
		if verr != nil {
			code, comment = 400, "Bad Request"
		}
		if (verr == nil && successReport) || (verr != nil && failureReport) {
			tid := msrp.NewTID()
			f.out = msrp.AppendReport(f.out[:0], tid, peerPath, fromPath, msgID,
				msrp.ByteRange{Start: 1, End: int64(len(page)), Total: int64(len(page))}, code, comment)
			if err := f.write(f.out); err != nil {
				return err
			}
			if err := f.flush(); err != nil {
				return err
			}
			res.Reported = time.Since(start)
			if f.o.Trace != nil {
				f.trace(true, fmt.Sprintf("REPORT Status: 000 %d %s Byte-Range 1-%d/%d", code, comment, len(page), len(page)))
			}
		}
		return verr
	}
}

// verifyPage checks page against a file-selector size (-1: unchecked) and hash ("": unchecked).
func verifyPage(page []byte, size int64, hash string) error {
	if size >= 0 && int64(len(page)) != size {
		return fmt.Errorf("%w: got %d bytes, file-selector says %d", ErrPageSize, len(page), size)
	}
	if hash == "" {
		return nil
	}
	want := normHash(hash)
	if v, ok := verified.Load(want); ok && bytes.Equal(v.([]byte), page) {
		return nil // the same bytes as a page whose SHA-1 was want
	}
	sum := sha1.Sum(page) //nolint:gosec // RFC 5547 mandates SHA-1 here
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("%w: got sha-1 %s, file-selector says %s", ErrPageHash, got, want)
	}
	if verifiedN.Load() < maxVerified {
		if _, loaded := verified.LoadOrStore(want, bytes.Clone(page)); !loaded {
			verifiedN.Add(1)
		}
	}
	return nil
}

// verified holds pages already checked against their file-selector hash (normHash → the page's
// bytes), at most maxVerified of them: a load run fetches the same few cards thousands of times a
// second, and comparing the bytes costs a fraction of hashing them (SHA-1 was 4% of the
// generator's CPU at 3,000 push calls/s). Bytes equal to ones whose SHA-1 matched have that SHA-1.
var (
	verified  sync.Map
	verifiedN atomic.Int32
)

const maxVerified = 256

// normHash turns "sha-1:72:24:5F:..." or "72245f..." into lowercase bare hex.
func normHash(h string) string {
	h = strings.TrimSpace(h)
	if i := strings.Index(strings.ToLower(h), "sha-1:"); i >= 0 {
		h = h[i+len("sha-1:"):]
	}
	return strings.ToLower(strings.ReplaceAll(h, ":", ""))
}

// HashSelector formats the SHA-1 of b as an RFC 5547 file-selector hash value ("sha-1:72:24:...").
func HashSelector(b []byte) string {
	sum := sha1.Sum(b) //nolint:gosec // RFC 5547 mandates SHA-1 here
	var sb strings.Builder
	sb.WriteString("sha-1:")
	for i, c := range sum {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return sb.String()
}

func starInt(v int64) string {
	if v < 0 {
		return "*"
	}
	return strconv.FormatInt(v, 10)
}

func flagName(f byte) string {
	switch f {
	case msrp.FlagEnd:
		return "last"
	case msrp.FlagMore:
		return "more"
	case msrp.FlagAbort:
		return "aborted"
	}
	return "?"
}
