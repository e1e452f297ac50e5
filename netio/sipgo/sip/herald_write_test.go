package sip

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// plainWriter is an io.StringWriter that is neither standard buffer: writeInt's fallback.
type plainWriter struct{ strings.Builder }

func (w *plainWriter) WriteString(s string) (int, error) { return w.Builder.WriteString(s) }

// TestHeraldWriteInt: writeInt writes what strconv.Itoa gives, to each kind of buffer, and a
// status line, a Via, a URI, a CSeq and a Content-Length are written to a bytes.Buffer without an
// allocation (each took one, strconv.Itoa's string, for any number above 99).
func TestHeraldWriteInt(t *testing.T) {
	for _, n := range []int{0, 7, 99, 100, 183, 5060, 65535, 1<<31 - 1, -1, -5060} {
		var b bytes.Buffer
		var s strings.Builder
		var p plainWriter
		writeInt(&b, n)
		writeInt(&s, n)
		writeInt(&p, n)
		if want := strconv.Itoa(n); b.String() != want || s.String() != want || p.String() != want {
			t.Errorf("writeInt(%d): %q, %q, %q, want %q", n, b.String(), s.String(), p.String(), want)
		}
	}

	res := NewResponse(183, "Session Progress")
	via := &ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "192.0.2.10", Port: 5060}
	uri := &Uri{Scheme: "sip", User: "bob", Host: "192.0.2.20", Port: 5062}
	cseq := &CSeqHeader{SeqNo: 4711, MethodName: INVITE}
	cl := ContentLengthHeader(1234)
	var b bytes.Buffer
	b.Grow(4096)
	for _, tc := range []struct {
		name  string
		write func()
		want  string
	}{
		{"status line", func() { res.StartLineWrite(&b) }, "SIP/2.0 183 Session Progress"},
		{"Via", func() { via.valueStringWrite(&b) }, "SIP/2.0/UDP 192.0.2.10:5060"},
		{"URI", func() { uri.StringWrite(&b) }, "sip:bob@192.0.2.20:5062"},
		{"CSeq", func() { cseq.valueStringWrite(&b) }, "4711 INVITE"},
		{"Content-Length", func() { cl.StringWrite(&b) }, "Content-Length: 1234"},
		{"Content-Length value", func() { cl.valueStringWrite(&b) }, "1234"},
	} {
		b.Reset()
		tc.write()
		if b.String() != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, b.String(), tc.want)
		}
		if raceEnabled {
			continue
		}
		if a := testing.AllocsPerRun(100, func() { b.Reset(); tc.write() }); a != 0 {
			t.Errorf("%s: %.0f allocations, want 0", tc.name, a)
		}
	}
}

// TestHeraldParamsOneAllocation: a Via's parameters are read into one allocation, sized by their
// separators, where append grew the slice from empty once per parameter (three for branch, rport
// and received); the same parameters either way, and none made for an empty list.
func TestHeraldParamsOneAllocation(t *testing.T) {
	const s = "branch=z9hG4bK1;rport=5060;received=192.0.2.1, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2"
	var p HeaderParams
	n, err := UnmarshalHeaderParams(s, ';', ',', &p)
	if err != nil || n != strings.IndexByte(s, ',') || p.ToString(';') != "branch=z9hG4bK1;rport=5060;received=192.0.2.1" {
		t.Fatalf("%q: %d %v %q", s, n, err, p.ToString(';'))
	}
	if raceEnabled {
		return
	}
	if a := testing.AllocsPerRun(100, func() {
		p := HeaderParams{}
		_, _ = UnmarshalHeaderParams(s, ';', ',', &p)
	}); a != 1 {
		t.Errorf("%.0f allocations for three parameters, want 1", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		var p HeaderParams
		_, _ = UnmarshalHeaderParams("", ';', ',', &p)
	}); a != 0 {
		t.Errorf("%.0f allocations for no parameter, want 0", a)
	}
}
