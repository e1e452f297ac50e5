package sdp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t testing.TB, s string) *Session {
	t.Helper()
	sess, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, s)
	}
	return sess
}

func TestParseRFC8866Example(t *testing.T) {
	s := mustParse(t, crlf(rfc8866Example))
	want := Origin{"jdoe", "3724394400", "3724394405", "IN", "IP4", "198.51.100.1"}
	if s.Origin != want {
		t.Errorf("origin = %+v, want %+v", s.Origin, want)
	}
	if s.Name != "Call to John Smith" || s.Info != "SDP Offer #1" || s.URI != "http://www.jdoe.example.com/home.html" {
		t.Errorf("s/i/u = %q %q %q", s.Name, s.Info, s.URI)
	}
	if !reflect.DeepEqual(s.Emails, []string{"Jane Doe <jane@jdoe.example.com>"}) ||
		!reflect.DeepEqual(s.Phones, []string{"+1 617 555-6011"}) {
		t.Errorf("e/p = %q %q", s.Emails, s.Phones)
	}
	if s.Conn != "IN IP4 198.51.100.1" || !reflect.DeepEqual(s.Times, []string{"t=0 0"}) {
		t.Errorf("c/t = %q %q", s.Conn, s.Times)
	}
	if len(s.Media) != 3 {
		t.Fatalf("got %d media, want 3", len(s.Media))
	}
	v := s.Media[2]
	if v.Type != "video" || v.Port != 51372 || v.Proto != "RTP/AVP" || !reflect.DeepEqual(v.Formats, []string{"99"}) {
		t.Errorf("video m= = %+v", v)
	}
	if v.Conn != "IN IP6 2001:db8::2" || s.ConnOf(s.Media[0]) != "IN IP4 198.51.100.1" {
		t.Errorf("video c= %q, audio conn %q", v.Conn, s.ConnOf(s.Media[0]))
	}
	if r, ok := v.Attr("rtpmap"); !ok || r != "99 h263-1998/90000" {
		t.Errorf("rtpmap = %q %v", r, ok)
	}
	if s.Media[1].Port != 49180 || len(s.Media[1].Attrs) != 0 {
		t.Errorf("second audio = %+v", s.Media[1])
	}
}

func TestParseRFC4566Example(t *testing.T) {
	s := mustParse(t, crlf(rfc4566Example))
	if s.Conn != "IN IP4 224.2.17.12/127" || ConnAddr(s.Conn) != "224.2.17.12" {
		t.Errorf("c= %q addr %q", s.Conn, ConnAddr(s.Conn))
	}
	if d, _ := s.Attr("recvonly"); d != "" || len(s.Attrs) != 1 || !s.Attrs[0].Flag {
		t.Errorf("session attrs = %+v", s.Attrs)
	}
	// Media-level default is sendrecv; the session-level recvonly applies.
	if got := s.Media[0].Direction(); got != SendRecv {
		t.Errorf("media Direction = %q", got)
	}
	if got := s.DirectionOf(s.Media[0]); got != RecvOnly {
		t.Errorf("DirectionOf = %q", got)
	}
}

func TestParseTimesKeysOther(t *testing.T) {
	s := mustParse(t, crlf(timesExample))
	wantTimes := []string{"t=3034423619 3042462419", "r=604800 3600 0 90000", "r=7d 1h 0 25h"}
	if !reflect.DeepEqual(s.Times, wantTimes) {
		t.Errorf("Times = %q", s.Times)
	}
	if !reflect.DeepEqual(s.Other, []string{"z=2882844526 -1h 2898848070 0", "k=prompt"}) {
		t.Errorf("Other = %q", s.Other)
	}
	m := s.Media[0]
	if m.Port != 5004 || m.NumPorts != 2 || !reflect.DeepEqual(m.Bandwidth, []string{"AS:64"}) ||
		!reflect.DeepEqual(m.Other, []string{"k=clear:secret"}) {
		t.Errorf("media = %+v", m)
	}
	if !reflect.DeepEqual(s.Bandwidth, []string{"CT:128"}) {
		t.Errorf("b= %q", s.Bandwidth)
	}
}

// TestRoundTripExact checks that descriptions already in RFC order and CRLF
// form come back byte-for-byte from Marshal(Parse(x)).
func TestRoundTripExact(t *testing.T) {
	for name, in := range map[string]string{
		"rfc4566":     rfc4566Example,
		"rfc8866":     rfc8866Example,
		"times":       timesExample,
		"ims-precond": imsOffer,
		"pcmu":        pcmuOffer,
		"std92-early": std92Early,
		"std93-early": std93Early,
		"std94-crbt":  std94CRBT,
		"std94-upd":   std94Update,
		"answer":      calleeAnswer,
	} {
		t.Run(name, func(t *testing.T) {
			wire := crlf(in)
			s := mustParse(t, wire)
			if got := string(s.Marshal()); got != wire {
				t.Errorf("round trip differs:\n got %q\nwant %q", got, wire)
			}
			// LF-only input parses to the same description.
			if lf := mustParse(t, in); !reflect.DeepEqual(lf, s) {
				t.Errorf("LF-only parse differs")
			}
		})
	}
}

func TestParseIMSPreconditions(t *testing.T) {
	s := mustParse(t, crlf(imsOffer))
	if len(s.Media) != 2 {
		t.Fatalf("media = %d", len(s.Media))
	}
	a, v := s.Media[0], s.Media[1]
	if !reflect.DeepEqual(a.Formats, []string{"97", "96", "8", "0", "101"}) {
		t.Errorf("audio formats = %q", a.Formats)
	}
	if got := a.AttrAll("curr"); !reflect.DeepEqual(got, []string{"qos local none", "qos remote none"}) {
		t.Errorf("curr = %q", got)
	}
	if got := v.AttrAll("des"); !reflect.DeepEqual(got, []string{"qos mandatory local sendrecv", "qos optional remote send"}) {
		t.Errorf("des = %q", got)
	}
	if got := a.AttrAll("nope"); got != nil {
		t.Errorf("AttrAll(nope) = %q", got)
	}
	if s.Origin.AddrType != "IP6" || ConnAddr(s.Conn) != "5555::aaa:bbb:ccc:ddd" {
		t.Errorf("origin %+v conn %q", s.Origin, s.Conn)
	}
}

func TestParseTolerance(t *testing.T) {
	// Mixed line ends, blank lines, missing trailing newline, repeated i=,
	// extra whitespace in m= and a value-less attribute with colon.
	in := "v=0\r\no=- 1 2 IN IP4 192.0.2.1\n\ns=x\r\ni=one\ni=two\nt=0 0\r\n" +
		"m=audio  4000   RTP/AVP 0\nc=IN IP4 192.0.2.2\nc=IN IP4 192.0.2.3\na=label:\na=sendonly"
	s := mustParse(t, in)
	if s.Info != "one" || !reflect.DeepEqual(s.Other, []string{"i=two"}) {
		t.Errorf("info %q other %q", s.Info, s.Other)
	}
	m := s.Media[0]
	if m.Port != 4000 || m.Conn != "IN IP4 192.0.2.2" || !reflect.DeepEqual(m.Other, []string{"c=IN IP4 192.0.2.3"}) {
		t.Errorf("media %+v", m)
	}
	if want := []Attr{{Key: "label"}, {Key: "sendonly", Flag: true}}; !reflect.DeepEqual(m.Attrs, want) {
		t.Errorf("attrs %+v", m.Attrs)
	}
	again := mustParse(t, string(s.Marshal()))
	if !reflect.DeepEqual(again, s) {
		t.Errorf("Parse(Marshal) differs:\n%s", s.Marshal())
	}
	if !strings.Contains(string(s.Marshal()), "a=label:\r\n") {
		t.Errorf("a=label: not kept: %q", s.Marshal())
	}
}

func TestParseErrors(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
	tests := map[string]struct {
		in   string
		want error
		line string // substring of the error, e.g. "line 5"
	}{
		"empty":             {"", ErrSyntax, "no v="},
		"no v":              {"o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", ErrSyntax, "line 1"},
		"v not first":       {"s=-\r\nv=0\r\n", ErrSyntax, "line 1"},
		"bad version":       {"v=x\r\n", ErrSyntax, "line 1"},
		"no o":              {"v=0\r\ns=-\r\nt=0 0\r\n", ErrSyntax, "no o="},
		"no s":              {"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n", ErrSyntax, "no s="},
		"short o":           {"v=0\r\no=- 1 IN IP4 192.0.2.1\r\n", ErrSyntax, "line 2"},
		"repeated o":        {head + "o=- 1 1 IN IP4 192.0.2.1\r\n", ErrSyntax, "line 5"},
		"repeated v":        {head + "v=0\r\n", ErrSyntax, "line 5"},
		"not type=value":    {head + "hello\r\n", ErrSyntax, "line 5"},
		"space before =":    {head + "a =x\r\n", ErrSyntax, "line 5"},
		"digit type":        {head + "1=x\r\n", ErrSyntax, "line 5"},
		"nul":               {head + "a=x\x00y\r\n", ErrSyntax, "line 5"},
		"bare cr":           {head + "a=x\ry\r\n", ErrSyntax, "line 5"},
		"empty attr":        {head + "a=\r\n", ErrSyntax, "line 5"},
		"attr no name":      {head + "a=:x\r\n", ErrSyntax, "line 5"},
		"r before t":        {"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nr=1 2 3\r\n", ErrSyntax, "line 4"},
		"m too short":       {head + "m=audio 4000 RTP/AVP\r\n", ErrSyntax, "line 5"},
		"m no port":         {head + "m=audio x RTP/AVP 0\r\n", ErrSyntax, "line 5"},
		"m port too big":    {head + "m=audio 65536 RTP/AVP 0\r\n", ErrSyntax, "line 5"},
		"m negative port":   {head + "m=audio -1 RTP/AVP 0\r\n", ErrSyntax, "line 5"},
		"m zero num ports":  {head + "m=audio 4000/0 RTP/AVP 0\r\n", ErrSyntax, "line 5"},
		"m bad num ports":   {head + "m=audio 4000/ RTP/AVP 0\r\n", ErrSyntax, "line 5"},
		"m before o":        {"v=0\r\nm=audio 4000 RTP/AVP 0\r\n", ErrSyntax, "line 2"},
		"t in media":        {head + "m=audio 4000 RTP/AVP 0\r\nt=0 0\r\n", ErrSyntax, "line 6"},
		"o in media":        {head + "m=audio 4000 RTP/AVP 0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", ErrSyntax, "line 6"},
		"truncated m":       {head + "m=aud", ErrSyntax, "line 5"},
		"truncated at o":    {"v=0\r\no=- 1 1 IN", ErrSyntax, "line 2"},
		"truncated after v": {"v=0\r\n", ErrSyntax, "no o="},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if s != nil {
				t.Errorf("session not nil on error")
			}
			if !strings.Contains(err.Error(), tc.line) {
				t.Errorf("err %q does not mention %q", err, tc.line)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n")
	for range MaxMedia {
		b.WriteString("m=audio 4000 RTP/AVP 0\r\n")
	}
	if _, err := Parse([]byte(b.String())); err != nil {
		t.Fatalf("%d m-lines: %v", MaxMedia, err)
	}
	b.WriteString("m=audio 4000 RTP/AVP 0\r\n")
	if _, err := Parse([]byte(b.String())); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d m-lines: err = %v, want ErrTooLarge", MaxMedia+1, err)
	}
	big := crlf(pcmuOffer) + strings.Repeat("a=x-pad:0123456789abcdef0123456789abcdef\r\n", MaxSize/40)
	if _, err := Parse([]byte(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d bytes: err = %v, want ErrTooLarge", len(big), err)
	}
}

func TestDirection(t *testing.T) {
	m := &Media{Attrs: []Attr{{Key: "rtpmap", Value: "0 PCMU/8000"}, {Key: "sendonly", Flag: true}, {Key: "ptime", Value: "20"}, {Key: "inactive", Flag: true}}}
	if d := m.Direction(); d != SendOnly {
		t.Errorf("Direction = %q", d)
	}
	m.SetDirection(Inactive)
	want := []Attr{{Key: "rtpmap", Value: "0 PCMU/8000"}, {Key: "inactive", Flag: true}, {Key: "ptime", Value: "20"}}
	if !reflect.DeepEqual(m.Attrs, want) {
		t.Errorf("after SetDirection: %+v", m.Attrs)
	}
	m2 := &Media{}
	if d := m2.Direction(); d != SendRecv {
		t.Errorf("default Direction = %q", d)
	}
	m2.SetDirection(RecvOnly)
	if d := m2.Direction(); d != RecvOnly || len(m2.Attrs) != 1 {
		t.Errorf("appended: %+v", m2.Attrs)
	}
	// A value attribute named like a direction is not a direction.
	m3 := &Media{Attrs: []Attr{{Key: "sendonly", Value: "x"}}}
	if d := m3.Direction(); d != SendRecv {
		t.Errorf("value attr counted as direction: %q", d)
	}
}

func TestAttrHelpers(t *testing.T) {
	m := &Media{}
	m.AddAttr("path", "msrp://a")
	m.AddFlag("msrp-cema")
	m.AddAttr("path", "msrp://b")
	if v, ok := m.Attr("path"); !ok || v != "msrp://a" {
		t.Errorf("Attr = %q %v", v, ok)
	}
	if _, ok := m.Attr("setup"); ok {
		t.Errorf("Attr(setup) found")
	}
	if !m.Has("msrp-cema") || m.Has("setup") {
		t.Errorf("Has wrong")
	}
	m.DelAttr("path")
	if len(m.Attrs) != 1 || m.Attrs[0].String() != "msrp-cema" {
		t.Errorf("after DelAttr: %+v", m.Attrs)
	}
	if s := (Attr{Key: "setup", Value: "actpass"}).String(); s != "setup:actpass" {
		t.Errorf("Attr.String = %q", s)
	}
}

// The attributes of the session level and of each media description share one backing array
// (Parse sizes it by counting a= lines); each section's slice is capped at its end, so adding to
// or rewriting one section leaves the others as parsed.
func TestParseSectionsIndependent(t *testing.T) {
	src := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=tool:x\r\n" +
		"m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n" +
		"m=video 51372 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\na=recvonly\r\n" +
		"m=message 7394 TCP/MSRP *\r\n"
	s, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Attrs) != 1 || len(s.Media) != 3 || len(s.Media[0].Attrs) != 2 || len(s.Media[1].Attrs) != 2 || s.Media[2].Attrs != nil {
		t.Fatalf("sections: session %v, media %v / %v / %v", s.Attrs, s.Media[0].Attrs, s.Media[1].Attrs, s.Media[2].Attrs)
	}
	s.Attrs = append(s.Attrs, Attr{Key: "group", Value: "BUNDLE"})
	s.Media[0].AddAttr("ptime", "20")
	s.Media[0].SetDirection(Inactive)
	s.Media[1].AddFlag("x-flag")
	if got := s.Media[0].Attrs; len(got) != 3 || got[1].Key != Inactive || got[2].Key != "ptime" {
		t.Errorf("media 0: %v", got)
	}
	if got := s.Media[1].Attrs; len(got) != 3 || got[0].Value != "31 H261/90000" || got[1].Key != RecvOnly || got[2].Key != "x-flag" {
		t.Errorf("media 1: %v", got)
	}
	want := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=tool:x\r\na=group:BUNDLE\r\n" +
		"m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=inactive\r\na=ptime:20\r\n" +
		"m=video 51372 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\na=recvonly\r\na=x-flag\r\n" +
		"m=message 7394 TCP/MSRP *\r\n"
	if got := string(s.Marshal()); got != want {
		t.Errorf("marshal:\n%q\nwant\n%q", got, want)
	}
	// o= is split on runs of white space, as before.
	if _, err := Parse([]byte("v=0\r\no=- 1  1\tIN IP4 192.0.2.1\r\ns=-\r\n")); err != nil {
		t.Errorf("o= with runs of white space: %v", err)
	}
	if _, err := Parse([]byte("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n")); err == nil || !strings.Contains(err.Error(), "o= has 5 fields") {
		t.Errorf("o= with 5 fields: %v", err)
	}
}

// TestParseAllocs: a session of one or two media descriptions (every SDP of a call) is parsed in
// few allocations: the Session, its media, its t= line and its m= lines' formats share one
// (parsed1, parsed2), the attributes another, the text a third (the IMS offer's b= lines take
// four more). Each m= line's formats took one more before they had room. A session without t= has
// no Times, and appending to a parsed session's Media or Formats copies instead of writing past it.
func TestParseAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		sdp  string
		max  float64
	}{{"ims-offer (2 media)", crlf(imsOffer), 7}, {"std92-early (1 media)", crlf(std92Early), 3}} {
		b := []byte(tc.sdp)
		if n := testing.AllocsPerRun(50, func() { _, _ = Parse(b) }); n > tc.max && !raceEnabled {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, n, tc.max)
		}
		s := mustParse(t, tc.sdp)
		if len(s.Media) != cap(s.Media) {
			t.Errorf("%s: Media len %d cap %d: an append would write into the parse's own room", tc.name, len(s.Media), cap(s.Media))
		}
		for i, m := range s.Media {
			if len(m.Formats) != cap(m.Formats) {
				t.Errorf("%s: media %d Formats len %d cap %d: an append would write over the next line's", tc.name, i, len(m.Formats), cap(m.Formats))
			}
		}
	}
	s := mustParse(t, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\n")
	if s.Times != nil {
		t.Errorf("Times %q without a t= line, want nil", s.Times)
	}
	m0 := s.Media[0]
	s.Media = append(s.Media, &Media{Type: "video"})
	if s.Media[0] != m0 || len(s.Media) != 2 {
		t.Error("append to a parsed Media lost the parsed description")
	}
}
