package sdp

import (
	"strconv"
	"strings"
)

// NewSession returns a minimal session description:
//
//	v=0
//	o=<origUser> <sessID> <sessID> IN IP4|IP6 <addr>
//	s=-
//	c=IN IP4|IP6 <addr>
//	t=0 0
func NewSession(origUser, addr string, sessID uint64) *Session {
	// Built for every push and every answer of Herald's: the Session and its t= line take one
	// allocation (newSession), the c= value and the session id are cut from one string.
	var nb [20]byte
	id := strconv.AppendUint(nb[:0], sessID, 10)
	var b strings.Builder
	b.Grow(len("IN IP4 ") + len(addr) + len(id))
	b.WriteString(connPrefix(addr))
	b.WriteString(addr)
	b.Write(id)
	strs := b.String()
	conn, ids := strs[:len(strs)-len(id)], strs[len(strs)-len(id):]
	blk := new(newSession)
	blk.times[0] = "t=0 0"
	blk.s = Session{
		Origin: Origin{
			Username: origUser, SessID: ids, SessVersion: ids,
			NetType: "IN", AddrType: conn[3:6], Addr: addr,
		},
		Name:  "-",
		Conn:  conn,
		Times: blk.times[:],
	}
	return &blk.s
}

// newSession is what NewSession allocates at once.
type newSession struct {
	s     Session
	times [1]string
}

// AnswerInactive returns an RFC 3264 answer to offer for Herald's own early
// dialog: one m-line per offered m-line, in order, with the same media type
// and proto, and a=inactive.
//
// An accepted line carries the first offered format, with that format's
// a=rtpmap and a=fmtp copied, and the port portFor(i, m) (0 rejects it). An
// m=message line, and a line the offerer itself disabled with port 0, are
// rejected (port 0) without calling portFor. When an accepted offered line
// carries precondition attributes (RFC 3312 a=curr/a=des), the answer
// mirrors them with local resources met: "a=curr:qos local sendrecv", the
// offerer's local status as remote, and the offer's desired status with
// local and remote (and send and recv) swapped.
//
// The answer's o= user is "-"; the session-level c= is addr.
func AnswerInactive(offer *Session, addr string, sessID uint64, portFor func(i int, m *Media) int) *Session {
	ans := NewSession("-", addr, sessID)
	if len(offer.Media) == 0 {
		return ans
	}
	// Every answered line with its one format in one allocation, their pointers in another.
	lines := make([]answerLine, len(offer.Media))
	ans.Media = make([]*Media, 0, len(offer.Media))
	for i, om := range offer.Media {
		l := &lines[i]
		l.fmts[0] = "*"
		if len(om.Formats) > 0 {
			l.fmts[0] = om.Formats[0]
		}
		am := &l.m
		am.Type, am.Proto, am.Formats = om.Type, om.Proto, l.fmts[:]
		if om.Port == 0 || strings.EqualFold(om.Type, "message") {
			ans.AddMedia(am)
			continue
		}
		if portFor != nil {
			am.Port = portFor(i, om)
		}
		if am.Port <= 0 || am.Port > 65535 {
			am.Port = 0
			ans.AddMedia(am)
			continue
		}
		f := am.Formats[0]
		pre := answerPreconditions(om.Attrs)
		n := len(pre) + 1 // the preconditions and a=inactive, after the format's rtpmap and fmtp
		for _, a := range om.Attrs {
			if isFormatAttr(a, f) {
				n++
			}
		}
		am.Attrs = make([]Attr, 0, n)
		for _, a := range om.Attrs {
			if isFormatAttr(a, f) {
				am.Attrs = append(am.Attrs, a)
			}
		}
		am.Attrs = append(am.Attrs, pre...)
		am.AddFlag(Inactive)
		ans.AddMedia(am)
	}
	return ans
}

// answerLine is one m-line of AnswerInactive's answer with its one format.
type answerLine struct {
	m    Media
	fmts [1]string
}

// isFormatAttr reports whether a is format f's a=rtpmap or a=fmtp.
func isFormatAttr(a Attr, f string) bool {
	return (a.Key == "rtpmap" || a.Key == "fmtp") && fmtOf(a.Value) == f
}

// fmtOf returns the format an rtpmap/fmtp value starts with ("97 AMR-WB/16000"
// gives "97").
func fmtOf(v string) string {
	f, _, _ := strings.Cut(strings.TrimLeft(v, " "), " ")
	return f
}

// answerPreconditions builds the RFC 3312 §5.1 answerer's status lines for
// a side whose own resources are always available. It handles the "qos"
// precondition type with segmented (local/remote) and e2e status types.
func answerPreconditions(offered []Attr) []Attr {
	var des []Attr
	offLocal, offE2E := "none", ""
	hasCurr := false
	for _, a := range offered {
		var fa [5]string
		f := fa[:min(fieldsInto(a.Value, fa[:]), len(fa))] // a 5th field only tells "more than 4"
		switch {
		case a.Key == "curr" && len(f) == 3 && f[0] == "qos":
			hasCurr = true
			switch f[1] {
			case "local":
				offLocal = f[2]
			case "e2e":
				offE2E = f[2]
			}
		case a.Key == "des" && len(f) == 4 && f[0] == "qos":
			f[2] = swapLocal(f[2])
			f[3] = swapDir(f[3])
			des = append(des, Attr{Key: "des", Value: strings.Join(f, " ")})
		}
	}
	if !hasCurr && len(des) == 0 {
		return nil
	}
	var curr []Attr
	if offE2E != "" {
		// End to end status: only the offerer's side can still be missing.
		curr = append(curr, Attr{Key: "curr", Value: "qos e2e " + swapDir(offE2E)})
	} else {
		curr = append(curr,
			Attr{Key: "curr", Value: "qos local sendrecv"},
			Attr{Key: "curr", Value: "qos remote " + swapDir(offLocal)},
		)
	}
	return append(curr, des...)
}

func swapLocal(s string) string {
	switch s {
	case "local":
		return "remote"
	case "remote":
		return "local"
	}
	return s // e2e
}

func swapDir(s string) string {
	switch s {
	case "send":
		return "recv"
	case "recv":
		return "send"
	}
	return s
}
