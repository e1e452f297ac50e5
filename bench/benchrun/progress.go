package benchrun

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress prints one status line per second: elapsed against the planned bound, what runs, and
// the last line a tool printed.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
	total time.Duration
	what  string
	last  string
	stop  chan struct{}
	done  chan struct{}
}

func newProgress(out io.Writer, total time.Duration) *progress {
	return &progress{out: out, start: time.Now(), total: total, stop: make(chan struct{}), done: make(chan struct{})}
}

func (p *progress) run() {
	defer close(p.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.print()
		}
	}
}

func (p *progress) print() {
	p.mu.Lock()
	defer p.mu.Unlock()
	last := p.last
	if len(last) > 110 {
		last = last[:110] + "…"
	}
	fmt.Fprintf(p.out, "bench/run [%4.0fs / ≤%.0fs] %s | %s\n", time.Since(p.start).Seconds(), p.total.Seconds(), p.what, last)
}

func (p *progress) close() {
	close(p.stop)
	<-p.done
}

// set names what runs now.
func (p *progress) set(what string) {
	p.mu.Lock()
	p.what, p.last = what, ""
	p.mu.Unlock()
}

// lines is a writer that keeps the last complete line for the progress display.
func (p *progress) lines() io.Writer { return &lastLine{p: p} }

type lastLine struct {
	p   *progress
	buf []byte
}

func (l *lastLine) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	if i := bytes.LastIndexByte(l.buf, '\n'); i >= 0 {
		lines := strings.Split(strings.TrimSpace(string(l.buf[:i])), "\n")
		if s := strings.TrimSpace(lines[len(lines)-1]); s != "" {
			l.p.mu.Lock()
			l.p.last = s
			l.p.mu.Unlock()
		}
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
	}
	if len(l.buf) > 4096 {
		l.buf = l.buf[:0]
	}
	return len(b), nil
}
