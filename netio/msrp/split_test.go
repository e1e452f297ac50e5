package msrp

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// Segmentation of the terminal's byte stream as networks deliver it (issue 11): every frame the plane
// reads (bodiless SEND, SEND with a body in chunks, responses, REPORTs) must give the same answer
// whether it arrives in one read, split at any byte, in many pieces, one byte at a time, or coalesced
// with other frames, in both roles (Herald passive, Herald active) and over TCP (gnet) and TLS (the
// stream transport). These tests go through real sockets to a live listener.
//
// Splits are deterministic, not timed: feed writes a segment and waits until the plane has read it
// (Stats.BytesReceived) before it writes the next, so each segment reaches the parser in a read of its
// own. Over TLS each Write is one record and the plane's tls.Conn.Read returns one record at most, so the
// same holds for the plaintext. A 20 ms gap between two send() calls, as in the reproduction, is
// usually enough on loopback but proves nothing on a loaded CI machine.

// feed writes segs to conn one after the other, each after the plane has read the one before (see
// above). Only one terminal may be writing to s while feed runs, or the count means nothing.
func feed(t testing.TB, s *Server, conn net.Conn, segs [][]byte) {
	t.Helper()
	for _, seg := range segs {
		if len(seg) == 0 {
			continue
		}
		want := s.st.bytesReceived.Load() + int64(len(seg))
		_ = conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write(seg); err != nil {
			t.Fatalf("write segment of %d bytes: %v", len(seg), err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for s.st.bytesReceived.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("the plane did not read a %d-byte segment within 3 s", len(seg))
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// cutter splits the bytes of one write into the segments the network delivers.
type cutter func(b []byte) [][]byte

func whole(b []byte) [][]byte { return [][]byte{b} }

// cutAt splits every frame in two at 1+i mod (len-1): with i running over the longest frame's length,
// every frame is split at every byte position.
func cutAt(i int) cutter {
	return func(b []byte) [][]byte {
		if len(b) < 2 {
			return whole(b)
		}
		k := 1 + i%(len(b)-1)
		return [][]byte{b[:k], b[k:]}
	}
}

// dribble delivers one byte per read.
func dribble(b []byte) [][]byte {
	segs := make([][]byte, len(b))
	for i := range b {
		segs[i] = b[i : i+1]
	}
	return segs
}

// randomCuts splits b at up to 12 random positions (seeded: a failure names its seed).
func randomCuts(seed uint64) cutter {
	rng := rand.New(rand.NewPCG(seed, 0x6d737270))
	return func(b []byte) [][]byte {
		var segs [][]byte
		n := rng.IntN(12) + 1
		for len(b) > 1 && n > 0 {
			k := 1 + rng.IntN(len(b)-1)
			if rng.IntN(4) == 0 {
				k = 1 + rng.IntN(min(len(b)-1, 4)) // short pieces: a split inside a start line or end-line
			}
			segs = append(segs, b[:k])
			b = b[k:]
			n--
		}
		return append(segs, b)
	}
}

// script says how a terminal writes its frames: cut by cut, each frame separately or, when joined, all
// frames of one step coalesced into one stream before cutting.
type script struct {
	cut    cutter
	joined bool
	extra  bool // the terminal also sends a SEND with a body in two chunks on the bound connection
	body   int  // with extra: the first chunk's body size (default 6 bytes)
}

// send writes frames as the script says.
func (sc script) send(t testing.TB, s *Server, conn net.Conn, frames ...[]byte) {
	t.Helper()
	if sc.joined {
		feed(t, s, conn, sc.cut(bytes.Join(frames, nil)))
		return
	}
	for _, f := range frames {
		feed(t, s, conn, sc.cut(f))
	}
}

// bindFrame is the acquisition request (bodiless SEND, claims 1/5) for toPath from fromPath.
func bindFrame(tid, toPath, fromPath string) []byte {
	h := []msrp.Header{
		{Name: []byte("To-Path"), Value: []byte(toPath)},
		{Name: []byte("From-Path"), Value: []byte(fromPath)},
		{Name: []byte("Message-ID"), Value: []byte("m" + tid)},
		{Name: []byte("Byte-Range"), Value: []byte("1-0/0")},
	}
	b := msrp.AppendRequestHead(nil, tid, "SEND", h, false)
	return msrp.AppendEndLine(b, tid, msrp.FlagEnd, false)
}

// bodySend is a chunk of a SEND with a body, as a terminal may send on the bound connection.
func bodySend(tid, toPath, fromPath string, br msrp.ByteRange, body string, flag byte) []byte {
	h := []msrp.Header{
		{Name: []byte("To-Path"), Value: []byte(toPath)},
		{Name: []byte("From-Path"), Value: []byte(fromPath)},
		{Name: []byte("Message-ID"), Value: []byte("term-msg-1")},
		{Name: []byte("Byte-Range"), Value: msrp.AppendByteRange(nil, br)},
		{Name: []byte("Content-Type"), Value: []byte("text/plain")},
	}
	b := msrp.AppendRequestHead(nil, tid, "SEND", h, true)
	b = append(b, body...)
	return msrp.AppendEndLine(b, tid, flag, true)
}

// response is the terminal's answer to f.
func (c *client) response(f *frame, code int) []byte {
	return msrp.AppendResponse(nil, f.TID, code, msrp.StatusText(code), []byte(f.FromPath), []byte(c.path))
}

// receiveChunks reads Herald's SEND chunks up to the last one, skipping nothing.
func (c *client) receiveChunks(t testing.TB) received {
	t.Helper()
	return c.receivePage(3*time.Second, false)
}

// finishDelivery is the end both roles share (claims 1/5, page delivery): the terminal answers every
// chunk with 200 and sends the success REPORT, cut as sc says; the session must end Delivered with the
// whole page and Herald must close the connection without another frame.
func finishDelivery(t testing.TB, s *Server, c *client, sc script, sess *push.Session, body []byte, r received) {
	t.Helper()
	if !bytes.Equal(r.body, body) {
		t.Fatalf("page differs: got %d bytes, want %d", len(r.body), len(body))
	}
	n := int64(len(body))
	frames := make([][]byte, 0, len(r.frames)+1)
	for _, f := range r.frames {
		frames = append(frames, c.response(f, 200))
	}
	frames = append(frames, msrp.AppendReport(nil, msrp.NewTID(), []byte(r.last.FromPath), []byte(c.path),
		r.msgID, msrp.ByteRange{Start: 1, End: n, Total: n}, 200, "OK"))
	sc.send(t, s, c.conn, frames...)
	res := waitResult(t, sess, 3*time.Second)
	if res.Outcome != push.Delivered || res.Code != 200 || res.Bytes != n {
		t.Fatalf("result %+v, want Delivered 200 %d", res, n)
	}
	if fs := c.expectClosed(3 * time.Second); len(fs) != 0 {
		t.Fatalf("Herald sent %d unexpected frames before closing, first %+v", len(fs), fs[0])
	}
}

// splitPlane is one server with a plain and an msrps listener for the split tests; tls is the
// terminal's client config for the msrps listener, term the certificate a dialled msrps terminal shows.
type splitPlane struct {
	s    *Server
	cli  *tls.Config
	term *tls.Config
}

func newSplitPlane(t *testing.T) *splitPlane {
	t.Helper()
	term, herald := testTLS(t) // the certificate of the terminals Herald dials, and trust in it
	o, cli := tlsOptions(t)
	o.TLSClientConfig = herald
	o.BindTimeout = 30 * time.Second // one connection serves hundreds of split points
	o.ChunkSize = 512
	return &splitPlane{s: startServer(t, o), cli: cli, term: term}
}

// splitPage is a page of three chunks at ChunkSize 512.
func splitPage(t testing.TB) *content.Page { return htmlPage(t, 1200) }

// passive runs one delivery with Herald passive (claims 1/5): the terminal connects over TCP or TLS,
// binds with the acquisition request, optionally sends a SEND with a body in two chunks, receives the
// page and confirms it, every frame written as sc says.
func (p *splitPlane) passive(t *testing.T, secure bool, sc script) {
	t.Helper()
	s := p.s
	page := splitPage(t)
	sess := push.NewSession("call-split", push.CallerCard, page, 10*time.Second)
	sess.Secure = secure
	if err := s.Open(sess); err != nil {
		t.Fatal(err)
	}
	path := s.PathURI(sess.ID)
	var c *client
	if secure {
		c = dialTLS(t, s, p.cli)
	} else {
		c = dial(t, s)
	}
	defer c.conn.Close()
	tid := msrp.NewTID()
	sc.send(t, s, c.conn, bindFrame(tid, path, c.path))
	if f := c.mustNext(3 * time.Second); f.TID != tid || f.Status != 200 || f.ToPath != c.path || f.FromPath != path {
		t.Fatalf("bind answer %+v, want 200 for %s", f, tid)
	}
	r := c.receiveChunks(t)
	if sc.extra {
		c.sendChunked(t, s, sc, path)
	}
	finishDelivery(t, s, c, sc, sess, page.Body, r)
}

// chunkBody is n bytes of text for a terminal's chunk.
func chunkBody(n int) string {
	if n <= 0 {
		return "hello "
	}
	return string(htmlBytes(n + 64)[:n])
}

// sendChunked has the terminal send a message with a body in two chunks (RFC 4975 §5.1) to Herald's
// path on the bound connection, cut as sc says; each chunk gets its 200.
func (c *client) sendChunked(t testing.TB, s *Server, sc script, path string) {
	t.Helper()
	t1, t2 := msrp.NewTID(), msrp.NewTID()
	first := chunkBody(sc.body)
	n := int64(len(first))
	sc.send(t, s, c.conn,
		bodySend(t1, path, c.path, msrp.ByteRange{Start: 1, End: n, Total: n + 5}, first, msrp.FlagMore),
		bodySend(t2, path, c.path, msrp.ByteRange{Start: n + 1, End: n + 5, Total: n + 5}, "world", msrp.FlagEnd))
	for _, want := range []string{t1, t2} {
		if f := c.mustNext(3 * time.Second); f.TID != want || f.Status != 200 || f.ToPath != c.path || f.FromPath != path {
			t.Fatalf("answer to the terminal's SEND chunk %s: %+v", want, f)
		}
	}
}

// active runs one delivery with Herald active (RFC 6135; claims 1/5): Herald dials the terminal (TCP,
// or TLS as client), sends the binding SEND; the terminal's 200 to it, optionally a SEND with a body in
// two chunks, its 200s to the chunks and its REPORT are written as sc says.
func (p *splitPlane) active(t *testing.T, secure bool, sc script) {
	t.Helper()
	s := p.s
	page := splitPage(t)
	sess := push.NewSession("call-split-active", push.CallerCard, page, 10*time.Second)
	sess.Secure = secure
	if err := s.Open(sess); err != nil {
		t.Fatal(err)
	}
	var term *passiveTerminal
	if secure {
		term = newTLSPassiveTerminal(t, "127.0.0.1")
	} else {
		term = newPassiveTerminal(t)
	}
	defer term.ln.Close()
	if err := s.Connect(sess.ID, term.path, term.ln.Addr().String()); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	var c *client
	if secure {
		c, _ = term.acceptTLS(t, p.term)
	} else {
		c = term.accept(t)
	}
	defer c.conn.Close()
	f := c.mustNext(3 * time.Second)
	if f.Method != "SEND" || f.ToPath != term.path || f.FromPath != s.PathURI(sess.ID) || len(f.Body) != 0 {
		t.Fatalf("binding SEND %+v", f)
	}
	sc.send(t, s, c.conn, c.response(f, 200))
	r := c.receiveChunks(t)
	if sc.extra {
		c.sendChunked(t, s, sc, s.PathURI(sess.ID))
	}
	finishDelivery(t, s, c, sc, sess, page.Body, r)
}

// frameLen bounds the length of the frames the delivery scripts write (the REPORT is the longest; 32
// bytes of margin for longer ids), which is the number of split positions to try.
func frameLen(p *splitPlane) int {
	return 32 + len(msrp.AppendReport(nil, msrp.NewTID(), []byte(p.s.PathURI("0123456789abcdef01234567")),
		[]byte("msrps://127.0.0.1:65535/"+push.NewID(8)+";tcp"), "m"+msrp.NewTID(),
		msrp.ByteRange{Start: 1, End: 1200, Total: 1200}, 200, "OK"))
}

// checkClean asserts that a split test left no connection, session, stream or timer behind and that no
// frame was taken for malformed.
func checkClean(t *testing.T, s *Server, deliveries int64) {
	t.Helper()
	waitFor(t, "every connection and session released", func() bool {
		st := s.Stats()
		return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.streamCount() == 0 && s.wheel.len() == 0
	})
	st := s.Stats()
	if st.FramesMalformed != 0 || st.FramesTooLarge != 0 || st.DeliveriesOK != deliveries || st.DeliveriesFailed != 0 {
		t.Fatalf("stats after %d deliveries: %+v", deliveries, st)
	}
}

// TestSplitEveryByteUnknownSession481 is the reproduction: the acquisition request (claims 1/5)
// for an unknown session, split in two reads at every byte position, gets exactly the 481 the unsplit
// frame gets, over TCP and over TLS, on one connection that stays in step throughout.
func TestSplitEveryByteUnknownSession481(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "tls"}[secure], func(t *testing.T) {
			t.Parallel()
			p := newSplitPlane(t)
			s := p.s
			var c *client
			var to string
			if secure {
				c = dialTLS(t, s, p.cli)
				_, port := s.TLSAddr()
				to = "msrps://127.0.0.1:" + strconv.Itoa(port) + "/nosuchsession0123456789;tcp"
			} else {
				c = dial(t, s)
				_, port := s.Addr()
				to = "msrp://127.0.0.1:" + strconv.Itoa(port) + "/nosuchsession0123456789;tcp"
			}
			frame := bindFrame("a786hjs2Qz", to, c.path)
			feed(t, s, c.conn, whole(frame))
			want := c.mustNext(3 * time.Second)
			if want.Status != 481 || want.TID != "a786hjs2Qz" || want.ToPath != c.path || want.FromPath != to {
				t.Fatalf("unsplit answer %+v, want 481", want)
			}
			for k := 1; k < len(frame); k++ {
				feed(t, s, c.conn, [][]byte{frame[:k], frame[k:]})
				got := c.mustNext(3 * time.Second)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("split at %d of %d: answer %+v, want %+v", k, len(frame), got, want)
				}
			}
			// Coalesced: 64 requests in one write get 64 answers, in order.
			feed(t, s, c.conn, whole(bytes.Repeat(frame, 64)))
			for i := range 64 {
				if got := c.mustNext(3 * time.Second); !reflect.DeepEqual(got, want) {
					t.Fatalf("coalesced request %d: answer %+v", i, got)
				}
			}
			// Dribbled one byte per read.
			feed(t, s, c.conn, dribble(frame))
			if got := c.mustNext(3 * time.Second); !reflect.DeepEqual(got, want) {
				t.Fatalf("dribbled: answer %+v", got)
			}
			// Nothing else came: the next answer is the next request's.
			feed(t, s, c.conn, whole(frame))
			if got := c.mustNext(3 * time.Second); !reflect.DeepEqual(got, want) {
				t.Fatalf("final answer %+v", got)
			}
			if st := s.Stats(); st.BindUnknown481 != int64(len(frame)+66) || st.FramesMalformed != 0 {
				t.Fatalf("stats %+v, want %d 481s and no malformed frame", st, len(frame)+66)
			}
		})
	}
}

// TestSplitEveryByteDelivery: a whole delivery (claims 1/5) where each frame the terminal writes (the
// acquisition request or, Herald active, the 200 to the binding SEND; the two chunks of a SEND with a
// body; the 200s to Herald's chunks; the success REPORT) arrives in two reads split at i, for every i up to the longest frame's length, so
// every frame is split at every byte position: Herald passive and active, over TCP and TLS.
func TestSplitEveryByteDelivery(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"passive", "active"} {
		for _, secure := range []bool{false, true} {
			t.Run(role+"/"+map[bool]string{false: "tcp", true: "tls"}[secure], func(t *testing.T) {
				t.Parallel()
				p := newSplitPlane(t)
				n := frameLen(p)
				for i := range n {
					if role == "passive" {
						p.passive(t, secure, script{cut: cutAt(i), extra: true})
					} else {
						p.active(t, secure, script{cut: cutAt(i), extra: true})
					}
				}
				checkClean(t, p.s, int64(n))
			})
		}
	}
}

// TestSegmentedDelivery: whole deliveries (claims 1/5) with the terminal's frames coalesced (every step
// in one write, the 200s and the REPORT together), dribbled one byte per read, and cut at random
// positions into many pieces across frame boundaries, with a SEND with a body in two chunks from the
// terminal too; Herald passive and active, over TCP and TLS.
func TestSegmentedDelivery(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"passive", "active"} {
		for _, secure := range []bool{false, true} {
			t.Run(role+"/"+map[bool]string{false: "tcp", true: "tls"}[secure], func(t *testing.T) {
				t.Parallel()
				p := newSplitPlane(t)
				run := func(t *testing.T, sc script) {
					sc.extra = true
					if role == "passive" {
						p.passive(t, secure, sc)
					} else {
						p.active(t, secure, sc)
					}
				}
				n := 0
				t.Run("coalesced", func(t *testing.T) { run(t, script{cut: whole, joined: true}); n++ })
				t.Run("dribbled", func(t *testing.T) { run(t, script{cut: dribble, joined: true}); n++ })
				for seed := range uint64(24) {
					t.Run(fmt.Sprintf("random-seed-%d", seed), func(t *testing.T) {
						run(t, script{cut: randomCuts(seed), joined: true})
						n++
					})
				}
				checkClean(t, p.s, int64(n))
			})
		}
	}
}

// TestSplitMalformedAnswer400: a malformed request split across reads is still answered 400 with its own
// transaction id (not one read from the middle of a later segment) and the connection is closed.
func TestSplitMalformedAnswer400(t *testing.T) {
	t.Parallel()
	p := newSplitPlane(t)
	s := p.s
	_, port := s.Addr()
	to := "msrp://127.0.0.1:" + strconv.Itoa(port) + "/nosuchsession0123456789;tcp"
	frame := []byte("MSRP Zq81bad0 SEND\r\nTo-Path: " + to + "\r\nFrom-Path: msrp://127.0.0.1:9/x;tcp\r\n" +
		"Byte-Range: x-y/z\r\n-------Zq81bad0$\r\n")
	for k := 1; k < len(frame); k += 7 {
		c := dial(t, s)
		feed(t, s, c.conn, [][]byte{frame[:k], frame[k:]})
		fs := c.expectClosed(3 * time.Second)
		if len(fs) != 1 || fs[0].TID != "Zq81bad0" || fs[0].Status != 400 {
			t.Fatalf("split at %d: frames %+v, want one 400 for Zq81bad0", k, fs)
		}
	}
}

// TestSplitLargeChunk: a terminal's chunk of 16000 bytes (under MaxChunkBytes, 16 KiB) spans many reads,
// its unfinished part held in gnet's inbound buffer (or the stream transport's) between them; cut at
// random positions and in 1000-byte pieces,
// coalesced with the frames around it, it is answered 200 like any other, and the delivery completes
// (claims 1/5); Herald passive and active, over TCP and TLS.
func TestSplitLargeChunk(t *testing.T) {
	t.Parallel()
	pieces := func(b []byte) [][]byte {
		var segs [][]byte
		for len(b) > 1000 {
			segs = append(segs, b[:1000])
			b = b[1000:]
		}
		return append(segs, b)
	}
	for _, role := range []string{"passive", "active"} {
		for _, secure := range []bool{false, true} {
			t.Run(role+"/"+map[bool]string{false: "tcp", true: "tls"}[secure], func(t *testing.T) {
				t.Parallel()
				p := newSplitPlane(t)
				cuts := []cutter{whole, pieces}
				for seed := range uint64(6) {
					cuts = append(cuts, randomCuts(100+seed))
				}
				for _, cut := range cuts {
					sc := script{cut: cut, joined: true, extra: true, body: 16000}
					if role == "passive" {
						p.passive(t, secure, sc)
					} else {
						p.active(t, secure, sc)
					}
				}
				checkClean(t, p.s, int64(len(cuts)))
			})
		}
	}
}
