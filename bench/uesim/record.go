package uesim

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Trace receives one readable line per protocol step: dir is "caller → herald" style, proto is
// "SIP" or "MSRP", summary is e.g. "INVITE sip:bob@home1.net (application/sdp)". It is called from
// many goroutines: the hook must be safe for concurrent use and must not block for long.
type Trace func(dir, proto, summary string)

// Direction says whether a recorded message was sent or received.
type Direction uint8

// Directions.
const (
	Sent Direction = iota + 1
	Received
)

func (d Direction) String() string {
	switch d {
	case Sent:
		return "sent"
	case Received:
		return "received"
	}
	return "unknown"
}

// Message is one recorded SIP message. Exactly one of Request and Response is set.
type Message struct {
	At       time.Time
	Dir      Direction
	Request  *sip.Request
	Response *sip.Response
	// Raw is the message as it went on the wire: the datagram received, or the serialization sent.
	Raw []byte
}

// Method is the request method, or the CSeq method of a response.
func (m Message) Method() string {
	if m.Request != nil {
		return string(m.Request.Method)
	}
	if m.Response != nil {
		if cs := m.Response.CSeq(); cs != nil {
			return string(cs.MethodName)
		}
	}
	return ""
}

// Status is the response status code, 0 for requests.
func (m Message) Status() int {
	if m.Response != nil {
		return m.Response.StatusCode
	}
	return 0
}

// String is a one-line summary such as "sent INVITE" or "received 183 (INVITE)".
func (m Message) String() string {
	if m.Request != nil {
		return m.Dir.String() + " " + m.Method()
	}
	return m.Dir.String() + " " + strconv.Itoa(m.Status()) + " (" + m.Method() + ")"
}

// recorder keeps the ordered list of SIP messages of one call, plus the raw datagrams received by
// an endpoint (so that received messages can carry their exact wire bytes).
type recorder struct {
	mu   sync.Mutex
	msgs []Message
}

func (r *recorder) add(m Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

// snapshot returns the messages in wire order: received ones are stamped with the time their
// datagram was read, sent ones just before they were written (handlers run on their own
// goroutines, so the order in which they are recorded is not the wire order).
func (r *recorder) snapshot() []Message {
	r.mu.Lock()
	out := append([]Message(nil), r.msgs...)
	r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Message) int { return a.At.Compare(b.At) })
	return out
}

// wireLog keeps the last received datagrams of an endpoint, bounded.
type wireLog struct {
	mu    sync.Mutex
	raws  []datagram
	limit int
}

type datagram struct {
	at  time.Time
	raw []byte
}

func (w *wireLog) add(b []byte) {
	if w.limit <= 0 {
		return
	}
	d := datagram{at: time.Now(), raw: bytes.Clone(b)}
	w.mu.Lock()
	if len(w.raws) >= w.limit {
		n := copy(w.raws, w.raws[len(w.raws)/2:])
		clear(w.raws[n:])
		w.raws = w.raws[:n]
	}
	w.raws = append(w.raws, d)
	w.mu.Unlock()
}

// find returns the newest datagram that starts with startLine and contains the Via branch
// (retransmissions are identical, so any match has the right bytes).
func (w *wireLog) find(startLine, branch string) (datagram, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sl := []byte(startLine)
	br := []byte("branch=" + branch)
	for i := len(w.raws) - 1; i >= 0; i-- {
		r := w.raws[i].raw
		if bytes.HasPrefix(r, sl) && (branch == "" || bytes.Contains(r, br)) {
			return w.raws[i], true
		}
	}
	return datagram{}, false
}

func topBranch(m sip.Message) string {
	if via := m.Via(); via != nil {
		b, _ := via.Params.Get("branch")
		return b
	}
	return ""
}
