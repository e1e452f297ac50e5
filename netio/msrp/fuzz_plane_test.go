package msrp

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herald-ims/herald/core/push"
	"github.com/herald-ims/herald/core/safe"
)

// fuzzSession is the placeholder for a live session's a=path in FuzzPlane's inputs: each input gets a
// session of its own, so that an acquisition request in the input binds and the rest of the input
// meets a connection in transfer.
const fuzzSession = "@S@"

// fuzzBindTID is the placeholder for the transaction id of Herald's binding SEND (mode fuzzActive), so
// that an input can answer it.
const fuzzBindTID = "@T@"

// FuzzPlane's modes (the third argument, modulo 3): the terminal connects to the gnet listener, to the
// msrps listener (TLS, the stream transport), or Herald dials the terminal (RFC 6135, the stream
// transport over TCP).
const (
	fuzzTCP byte = iota
	fuzzTLS
	fuzzActive
)

// fuzzSegments cuts data as split says: each byte of split is the length-1 of the next segment (0: one
// byte per read); what remains after the 64th segment, or when split runs out, is one segment.
func fuzzSegments(data, split []byte) [][]byte {
	var segs [][]byte
	for i := 0; i < len(split) && i < 64 && len(data) > 0; i++ {
		n := min(int(split[i])+1, len(data))
		segs = append(segs, data[:n])
		data = data[n:]
	}
	if len(data) > 0 {
		segs = append(segs, data)
	}
	return segs
}

// fdCount is the number of open descriptors of the process.
func fdCount(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// FuzzPlane drives the whole MSRP plane through real sockets: each input is a byte stream (data, where
// @S@ stands for Herald's a=path of a session opened for that input and @T@ for the transaction id of
// Herald's binding SEND), its segmentation (split: the length of each read the plane sees, made
// deterministic by waiting until the plane has read a segment before writing the next) and a mode: a
// terminal connecting to the gnet listener, to the msrps listener (TLS), or a terminal Herald dials. After each input it checks that no panic was recovered (safe.Count), that
// the plane answered or closed the connection, released the connection and the session, leaked no
// descriptor (/proc/self/fd), and still completes an acquisition and page delivery (claims 1/5) on the
// same listener; at the end, that no goroutine is left (goleak). One server serves every input.
func FuzzPlane(f *testing.F) {
	bind := "MSRP a786hjs2 SEND\r\nTo-Path: " + fuzzSession + "\r\nFrom-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\n" +
		"Message-ID: 87652491\r\nByte-Range: 1-0/0\r\n-------a786hjs2$\r\n"
	unknown := "MSRP b786hjs2 SEND\r\nTo-Path: msrp://127.0.0.1:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp\r\n" +
		"From-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\nMessage-ID: 87652491\r\nByte-Range: 1-0/0\r\n-------b786hjs2$\r\n"
	body := "MSRP c786hjs2 SEND\r\nTo-Path: " + fuzzSession + "\r\nFrom-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\n" +
		"Message-ID: 1\r\nByte-Range: 1-5/10\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------c786hjs2+\r\n" +
		"MSRP d786hjs2 SEND\r\nTo-Path: " + fuzzSession + "\r\nFrom-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\n" +
		"Message-ID: 1\r\nByte-Range: 6-10/10\r\nContent-Type: text/plain\r\n\r\nworld\r\n-------d786hjs2$\r\n"
	resp := "MSRP e786hjs2 200 OK\r\nTo-Path: " + fuzzSession + "\r\nFrom-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\n" +
		"-------e786hjs2$\r\n"
	report := "MSRP f786hjs2 REPORT\r\nTo-Path: " + fuzzSession + "\r\nFrom-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp\r\n" +
		"Message-ID: 4564dpWd\r\nByte-Range: 1-1200/1200\r\nStatus: 000 200 OK\r\n-------f786hjs2$\r\n"
	bound := "MSRP @T@ 200 OK\r\nTo-Path: " + fuzzSession + "\r\nFrom-Path: msrp://127.0.0.1:9/fuzzterm;tcp\r\n-------@T@$\r\n"
	for _, seed := range []struct {
		data, split string
		mode        byte
	}{
		{bind, "", fuzzTCP},
		{bind, "\x05", fuzzTCP},
		{bind, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", fuzzTCP},
		{bind + body + resp + report, "\x10\x40\x03\x00\x80\x20\x07", fuzzTCP},
		{bind + resp + report, "", fuzzTCP},
		{unknown + unknown + unknown, "\x0a\xfe", fuzzTCP},
		{unknown, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", fuzzTCP},
		{body, "\x30", fuzzTCP},
		{"MSRP x", "", fuzzTCP},
		{"GET / HTTP/1.1\r\n\r\n", "\x00", fuzzTCP},
		{bind + body + resp + report, "\x03\x50\x00\x21", fuzzTLS},
		{unknown + "MSRP x", "\x07", fuzzTLS},
		{bound + body + resp + report, "\x02\x60\x00\x11\x05", fuzzActive},
		{"MSRP @T@ 403 Forbidden\r\nTo-Path: " + fuzzSession + "\r\nFrom-Path: msrp://127.0.0.1:9/fuzzterm;tcp\r\n-------@T@$\r\n", "\x09", fuzzActive},
	} {
		f.Add([]byte(seed.data), []byte(seed.split), seed.mode)
	}

	goroutines := goleak.IgnoreCurrent() // before the server: everything it starts must be gone at the end
	f.Cleanup(func() {
		if err := goleak.Find(goroutines); err != nil {
			f.Errorf("goroutines left after the plane stopped: %v", err)
		}
	})
	termCert, herald := testTLS(f)
	o, cli := tlsOptions(f)
	o.TLSClientConfig = herald
	o.BindTimeout = 2 * time.Second
	o.ChunkSize = 512
	o.MaxHeaderBytes = 2048
	o.MaxChunkBytes = 4096
	s := startServer(f, o) // stopped (Cleanup) before the goroutine check above
	p := &splitPlane{s: s, cli: cli, term: termCert}
	host, port := s.Addr()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	_, tport := s.TLSAddr()
	tlsAddr := net.JoinHostPort(host, strconv.Itoa(tport))
	termLn, err := net.Listen("tcp", "127.0.0.1:0") // the terminal Herald dials (mode fuzzActive)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = termLn.Close() })
	term := &passiveTerminal{ln: termLn,
		path: "msrp://127.0.0.1:" + strconv.Itoa(termLn.Addr().(*net.TCPAddr).Port) + "/fuzzterm;tcp"}
	baseFDs := -1

	f.Fuzz(func(t *testing.T, data, split []byte, mode byte) {
		if len(data) > 16<<10 {
			data = data[:16<<10]
		}
		mode %= 3
		if baseFDs < 0 { // after the first healthy deliveries, so the runtime's lazily opened descriptors count
			p.passive(t, false, script{cut: whole})
			p.passive(t, true, script{cut: whole})
			p.active(t, false, script{cut: whole})
			waitFor(t, "first deliveries released", func() bool { return s.Stats().ConnsOpen == 0 && s.streamCount() == 0 })
			baseFDs = fdCount(t)
		}
		panics := safe.Count(safe.MSRP)
		sess := push.NewSession("call-fuzz", push.CallerCard, splitPage(t), 10*time.Second)
		sess.Secure = mode == fuzzTLS
		if err := s.Open(sess); err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte(fuzzSession), []byte(s.PathURI(sess.ID)))

		var conn net.Conn
		var err error
		switch mode {
		case fuzzTCP:
			conn, err = net.DialTimeout("tcp", addr, 2*time.Second)
		case fuzzTLS:
			conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", tlsAddr, cli)
		case fuzzActive:
			if err = s.Connect(sess.ID, term.path, term.ln.Addr().String()); err == nil {
				_ = term.ln.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
				conn, err = term.ln.Accept()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if mode == fuzzActive { // @T@ is the transaction id of Herald's binding SEND
			c := &client{t: t, conn: conn, path: term.path, rd: make([]byte, 4096)}
			f := c.mustNext(3 * time.Second)
			if c.r != len(c.buf) {
				t.Fatalf("Herald sent more than its binding SEND before the answer: %d bytes", len(c.buf)-c.r)
			}
			data = bytes.ReplaceAll(data, []byte(fuzzBindTID), []byte(f.TID))
			_ = conn.SetReadDeadline(time.Time{})
		}
		gone := make(chan struct{}) // the plane closed the connection (EOF or reset)
		go func() {                 // the terminal reads whatever the plane sends (page chunks, answers)
			defer close(gone)
			buf := make([]byte, 8192)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				if _, err := conn.Read(buf); err != nil {
					return
				}
			}
		}()
		for _, seg := range fuzzSegments(data, split) {
			target := s.st.bytesReceived.Load() + int64(len(seg))
			_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if _, err := conn.Write(seg); err != nil {
				break // the plane closed on garbage before everything was written
			}
			deadline := time.Now().Add(3 * time.Second)
			for s.st.bytesReceived.Load() < target && !isClosed(gone) {
				if time.Now().After(deadline) {
					t.Fatalf("the plane neither read a %d-byte segment nor closed within 3 s", len(seg))
				}
				time.Sleep(20 * time.Microsecond)
			}
		}
		// An unfinished frame ends now, not at the bind timeout (TLS: close_notify, then FIN).
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = conn.(interface{ CloseWrite() error }).CloseWrite()
		select {
		case <-gone:
		case <-time.After(4 * time.Second):
			t.Fatal("the plane neither answered nor closed the connection within 4 s of the terminal's FIN")
		}
		_ = conn.Close()
		s.Close(sess.ID)
		res := waitResult(t, sess, 3*time.Second)
		if res.Outcome == push.Failed && errors.Is(res.Err, errInternal) {
			t.Fatalf("session ended by a recovered panic: %+v", res)
		}
		waitFor(t, "connection and session released", func() bool {
			st := s.Stats()
			return st.ConnsOpen == 0 && st.SessionsOpen == 0 && s.streamCount() == 0
		})
		if got := safe.Count(safe.MSRP); got != panics {
			t.Fatalf("%d panic(s) recovered on the MSRP plane for this input", got-panics)
		}
		// The plane still serves acquisitions and delivers pages, on the transport just fuzzed.
		switch mode {
		case fuzzTCP:
			p.passive(t, false, script{cut: whole})
		case fuzzTLS:
			p.passive(t, true, script{cut: whole})
		case fuzzActive:
			p.active(t, false, script{cut: whole})
		}
		deadline := time.Now().Add(3 * time.Second)
		for n := fdCount(t); n > baseFDs; n = fdCount(t) {
			if time.Now().After(deadline) {
				t.Fatalf("%d descriptors open, %d before the inputs: leaked", n, baseFDs)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
