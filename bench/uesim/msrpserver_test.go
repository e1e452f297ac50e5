package uesim

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
)

// pushServer is a tiny MSRP push server for tests: it accepts one connection per session,
// answers the bodiless SEND, pushes page in 2048-byte chunks and collects what the terminal
// sends back (chunk responses, REPORT).
type pushServer struct {
	t    testing.TB
	ln   net.Listener
	page []byte
	// behaviour
	bindStatus int  // status for the bodiless SEND; 0 means 200
	abortAfter int  // send '#' on this chunk number (1-based); 0 never
	silent     bool // never answer (timeout test)
	dribble    bool // write the page in 100-byte pieces
	sessionID  string

	mu        sync.Mutex
	bindTo    string // To-Path of the acquisition request
	chunkResp int    // 200 responses to chunk SENDs
	reports   []string
	done      chan struct{}
	doneOnce  sync.Once
	err       error
}

func newPushServer(t testing.TB, page []byte) *pushServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &pushServer{t: t, ln: ln, page: page, sessionID: msrp.NewSessionID(), done: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go s.serve()
	return s
}

func (s *pushServer) path() string {
	return "msrp://" + s.ln.Addr().String() + "/" + s.sessionID + ";tcp"
}

func (s *pushServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *pushServer) finish(err error) {
	s.doneOnce.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	})
}

func (s *pushServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func (s *pushServer) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var p msrp.Parser
	var m msrp.Message
	buf := make([]byte, 0, 1<<16)
	consumed := 0 // bytes of the frame returned last; m aliases them until the next read
	read := func() error {
		buf = append(buf[:0], buf[consumed:]...)
		consumed = 0
		p.Reset()
		for {
			n, err := p.Parse(buf, &m)
			if err == nil {
				consumed = n
				return nil
			}
			if !errors.Is(err, msrp.ErrIncomplete) {
				return err
			}
			k, rerr := c.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+k]
			if rerr != nil {
				return rerr
			}
		}
	}
	if err := read(); err != nil {
		s.finish(err)
		return
	}
	if string(m.Method) != "SEND" || len(m.Body) != 0 {
		s.finish(errors.New("first frame is not a bodiless SEND"))
		return
	}
	s.mu.Lock()
	s.bindTo = string(m.ToPath)
	s.mu.Unlock()
	if s.silent {
		_, _ = io.Copy(io.Discard, c)
		return
	}
	code := s.bindStatus
	if code == 0 {
		code = 200
	}
	from := bytes.Clone(m.FromPath)
	to := bytes.Clone(m.ToPath)
	out := msrp.AppendResponse(nil, string(m.TID), code, msrp.StatusText(code), from, to)
	if code != 200 {
		_, _ = c.Write(out)
		s.finish(nil)
		return
	}
	msgID := msrp.NewMessageID()
	ch := msrp.NewChunker(int64(len(s.page)), 2048)
	for i := 1; ; i++ {
		br, last, ok := ch.Next()
		if !ok {
			break
		}
		tid := msrp.NewTID()
		out = msrp.AppendSendChunkHead(out, tid, from, to, msgID, br, "text/html", "render")
		out = append(out, s.page[br.Start-1:br.End]...)
		flag := msrp.FlagMore
		if last {
			flag = msrp.FlagEnd
		}
		if i == s.abortAfter {
			flag = msrp.FlagAbort
		}
		out = msrp.AppendEndLine(out, tid, flag, true)
		if flag == msrp.FlagAbort {
			break
		}
	}
	step := len(out)
	if s.dribble {
		step = 100
	}
	for len(out) > 0 {
		k := min(step, len(out))
		if _, err := c.Write(out[:k]); err != nil {
			s.finish(err)
			return
		}
		out = out[k:]
		if s.dribble {
			time.Sleep(100 * time.Microsecond)
		}
	}
	// Collect responses and the REPORT until the terminal closes.
	for {
		if err := read(); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") {
				err = nil
			}
			s.finish(err)
			return
		}
		s.mu.Lock()
		switch {
		case m.Status == 200:
			s.chunkResp++
		case string(m.Method) == "REPORT":
			s.reports = append(s.reports, string(m.StatusHeader)+" "+string(m.MessageID)+" "+
				string(msrp.AppendByteRange(nil, m.ByteRange))+" "+string(m.ToPath))
			if string(m.MessageID) != msgID {
				s.reports = append(s.reports, "WRONG-MESSAGE-ID")
			}
		}
		s.mu.Unlock()
	}
}

func (s *pushServer) wait(t *testing.T) (bindTo string, chunkResp int, reports []string) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("push server: terminal did not finish")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		t.Fatalf("push server: %v", s.err)
	}
	return s.bindTo, s.chunkResp, append([]string(nil), s.reports...)
}

func testPage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "<html>abcdefghijklmnopqrstuvwxyz</html>\n"[i%40]
	}
	return b
}
