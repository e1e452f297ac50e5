package msrp

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// BenchmarkDeliver16KiB measures one whole page push over loopback per op: Open, TCP connect, bind,
// 8 chunks of 2048 bytes each answered with 200, success REPORT, Delivered result, close. The client
// reuses its parser and buffers; client and server share the machine's cores.
func BenchmarkDeliver16KiB(b *testing.B) { benchDeliver(b, false) }

// BenchmarkDeliver16KiBForkable is BenchmarkDeliver16KiB for the caller card's session, Forkable
// (fork.go): it stays open after its result until the call's Close, which each iteration makes.
func BenchmarkDeliver16KiBForkable(b *testing.B) { benchDeliver(b, true) }

func benchDeliver(b *testing.B, forkable bool) {
	o := testOptions()
	o.Loops = 1
	s := startServer(b, o)
	page := htmlPage(b, 16<<10)
	host, port := s.Addr()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	bc := &benchClient{rd: make([]byte, 64<<10), from: []byte("msrp://127.0.0.1:9/benchclient;tcp")}
	bc.p.Limits = msrp.Limits{MaxHeaderBytes: 16 << 10, MaxBodyBytes: 1 << 20}

	b.ReportAllocs()
	b.SetBytes(int64(len(page.Body)))
	for b.Loop() {
		sess := push.NewSession("bench", push.CallerCard, page, time.Minute)
		sess.Forkable = forkable
		if err := s.Open(sess); err != nil {
			b.Fatal(err)
		}
		if err := bc.deliver(addr, s.PathURI(sess.ID), int64(len(page.Body))); err != nil {
			b.Fatal(err)
		}
		if r := <-sess.Done; r.Outcome != push.Delivered {
			b.Fatalf("result %+v", r)
		}
		if forkable {
			s.Close(sess.ID)
		}
	}
	b.StopTimer()
	if st := s.Stats(); st.DeliveriesOK < int64(b.N) {
		b.Fatalf("delivered %d of %d", st.DeliveriesOK, b.N)
	}
}

// benchClient is a lean terminal for benchmarks: no per-frame copies.
type benchClient struct {
	p    msrp.Parser
	m    msrp.Message
	rd   []byte
	buf  []byte
	out  []byte
	from []byte
}

func (bc *benchClient) deliver(addr, path string, total int64) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	tid := msrp.NewTID()
	bc.out = msrp.AppendRequestHead(bc.out[:0], tid, "SEND", []msrp.Header{
		{Name: []byte("To-Path"), Value: []byte(path)},
		{Name: []byte("From-Path"), Value: bc.from},
		{Name: []byte("Message-ID"), Value: []byte("bind")},
	}, false)
	bc.out = msrp.AppendEndLine(bc.out, tid, msrp.FlagEnd, false)
	if _, err := conn.Write(bc.out); err != nil {
		return err
	}
	bc.buf = bc.buf[:0]
	var got int64
	var msgID []byte
	for got < total {
		n, err := conn.Read(bc.rd)
		if err != nil {
			return err
		}
		bc.buf = append(bc.buf, bc.rd[:n]...)
		bc.out = bc.out[:0]
		off := 0
		for off < len(bc.buf) {
			k, err := bc.p.Parse(bc.buf[off:], &bc.m)
			if errors.Is(err, msrp.ErrIncomplete) {
				break
			}
			if err != nil {
				return err
			}
			if string(bc.m.Method) == "SEND" {
				got += int64(len(bc.m.Body))
				msgID = append(msgID[:0], bc.m.MessageID...)
				bc.out = msrp.AppendResponse(bc.out, string(bc.m.TID), 200, "OK", bc.m.FromPath, bc.from)
			}
			off += k
		}
		bc.buf = append(bc.buf[:0], bc.buf[off:]...)
		if len(bc.out) > 0 {
			if _, err := conn.Write(bc.out); err != nil {
				return err
			}
		}
	}
	bc.out = msrp.AppendReport(bc.out[:0], msrp.NewTID(), []byte(path), bc.from, string(msgID),
		msrp.ByteRange{Start: 1, End: total, Total: total}, 200, "OK")
	if _, err := conn.Write(bc.out); err != nil {
		return err
	}
	for { // wait for Herald's half-close
		if _, err := conn.Read(bc.rd); err != nil {
			return nil //nolint:nilerr // EOF is the expected end
		}
	}
}
