package sdp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseMultipartStd92(t *testing.T) {
	parts, err := ParseMultipart(std92CT, []byte(std92Body))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("got %d parts", len(parts))
	}
	if parts[0].ContentType != "application/sdp" || parts[0].Disposition != "session" || string(parts[0].Body) != crlf(imsOffer) {
		t.Errorf("part 1 = %q %q %q", parts[0].ContentType, parts[0].Disposition, parts[0].Body)
	}
	if parts[1].Disposition != "early-session;handling=optional" || string(parts[1].Body) != crlf(std92Early) {
		t.Errorf("part 2 = %q %q", parts[1].Disposition, parts[1].Body)
	}
	// BuildMultipart reproduces the forwarded INVITE's body exactly.
	if got := string(BuildMultipart("ps-b1", parts)); got != std92Body {
		t.Errorf("BuildMultipart differs:\n%q\n%q", got, std92Body)
	}
	early := mustParse(t, string(parts[1].Body))
	if info, err := early.Media[0].MSRP(); err != nil || info.TransferID != "vBnG0ZeBq7" {
		t.Errorf("early MSRP %+v %v", info, err)
	}
}

func TestParseMultipartForms(t *testing.T) {
	tests := map[string]struct {
		ct, body string
		want     []Part
	}{
		"quoted boundary, preamble, epilogue, LF only": {
			`multipart/mixed; boundary="a b:c"`,
			"preamble\n--a b:c\nContent-Type: text/plain\n\nhello\n--a b:c--\nepilogue",
			[]Part{{ContentType: "text/plain", Body: []byte("hello")}},
		},
		"case, padding, folded and other headers": {
			"Multipart/Mixed;Boundary=x",
			"--x  \r\ncontent-type: application/sdp\r\nX-Foo: a\r\n b\r\nContent-ID: <1@h>\r\nContent-Type: text/plain\r\n\r\nv=0\r\n\r\n--x\t\r\n\r\nno headers\r\n--x--",
			[]Part{
				{ContentType: "application/sdp", Other: [][2]string{{"X-Foo", "a b"}, {"Content-ID", "<1@h>"}, {"Content-Type", "text/plain"}}, Body: []byte("v=0\r\n")},
				{Body: []byte("no headers")},
			},
		},
		"boundary-like lines inside a body": {
			"multipart/mixed;boundary=b",
			"--b\r\n\r\n--bb\r\nx --b\r\n--b-x\r\n--b--\r\n",
			[]Part{{Body: []byte("--bb\r\nx --b\r\n--b-x")}},
		},
		"headers only, empty body": {
			"multipart/mixed;boundary=b",
			"--b\r\nContent-Type: text/plain\r\n--b\r\n\r\n\r\n--b--",
			[]Part{{ContentType: "text/plain", Body: []byte{}}, {Body: []byte{}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			parts, err := ParseMultipart(tc.ct, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !partsEqual(parts, tc.want) {
				t.Errorf("got %+v\nwant %+v", parts, tc.want)
			}
		})
	}
}

func partsEqual(a, b []Part) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ContentType != b[i].ContentType || a[i].Disposition != b[i].Disposition ||
			string(a[i].Body) != string(b[i].Body) || len(a[i].Other) != len(b[i].Other) {
			return false
		}
		if len(a[i].Other) > 0 && !reflect.DeepEqual(a[i].Other, b[i].Other) {
			return false
		}
	}
	return true
}

func TestParseMultipartErrors(t *testing.T) {
	tests := map[string]struct {
		ct, body string
		want     error
	}{
		"missing boundary":      {"multipart/mixed", "--b\r\n\r\nx\r\n--b--", ErrNoBoundary},
		"empty boundary":        {`multipart/mixed;boundary=""`, "--b\r\n\r\nx\r\n--b--", ErrNoBoundary},
		"not multipart":         {"application/sdp", "v=0\r\n", ErrMultipart},
		"no delimiter":          {"multipart/mixed;boundary=b", "v=0\r\n", ErrMultipart},
		"unterminated":          {"multipart/mixed;boundary=b", "--b\r\n\r\nv=0\r\n", ErrMultipart},
		"truncated in delim":    {"multipart/mixed;boundary=b", "--b\r\n\r\nv=0\r\n--b", ErrMultipart},
		"truncated first delim": {"multipart/mixed;boundary=b", "--b", ErrMultipart},
		"only close":            {"multipart/mixed;boundary=b", "--b--\r\n", ErrMultipart},
		"bad header":            {"multipart/mixed;boundary=b", "--b\r\nno colon here\r\n\r\nx\r\n--b--", ErrMultipart},
		"empty header name":     {"multipart/mixed;boundary=b", "--b\r\n: x\r\n\r\nx\r\n--b--", ErrMultipart},
		"leading continuation":  {"multipart/mixed;boundary=b", "--b\r\n x\r\n\r\nx\r\n--b--", ErrMultipart},
		"no separator":          {"multipart/mixed;boundary=b", "--b\r\n--b--", ErrMultipart},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseMultipart(tc.ct, []byte(tc.body)); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := ParseMultipart("text/plain", nil); !errors.Is(err, ErrContentType) {
		t.Errorf("non-multipart err = %v, want also ErrContentType", err)
	}
}

func TestParseMultipartTooMany(t *testing.T) {
	var b strings.Builder
	for range MaxParts + 1 {
		b.WriteString("--b\r\n\r\nx\r\n")
	}
	b.WriteString("--b--\r\n")
	if _, err := ParseMultipart("multipart/mixed;boundary=b", []byte(b.String())); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestBuildParseRoundTrip(t *testing.T) {
	parts := []Part{
		{ContentType: "application/sdp", Disposition: "session", Body: []byte(crlf(pcmuOffer))},
		{ContentType: "application/isup; version=itu-t92+", Disposition: "signal;handling=optional",
			Other: [][2]string{{"Content-ID", "<isup@h>"}}, Body: []byte{0x01, 0x00, '\r', '\n', 0x49}},
		{Body: []byte("no trailing newline")},
	}
	body := BuildMultipart("uniq-1", parts)
	got, err := ParseMultipart("multipart/mixed;boundary=uniq-1", body)
	if err != nil {
		t.Fatal(err)
	}
	if !partsEqual(got, parts) {
		t.Errorf("round trip: %+v", got)
	}
	if got := string(BuildMultipart("b", nil)); got != "--b--\r\n" {
		t.Errorf("empty build = %q", got)
	}
}

func TestBoundaryAndDisposition(t *testing.T) {
	for ct, want := range map[string]string{
		"multipart/mixed;boundary=ps-b1":                       "ps-b1",
		`multipart/mixed; boundary="ps b1"; x=1`:               "ps b1",
		`multipart/mixed;charset="a;b";BOUNDARY=q`:             "q",
		`multipart/mixed;boundary="a\"b"`:                      `a"b`,
		"multipart/mixed;boundary=":                            "",
		"multipart/mixed":                                      "",
		"multipart/mixed;boundary=" + strings.Repeat("x", 201): "",
	} {
		got, ok := Boundary(ct)
		if got != want || ok != (want != "") {
			t.Errorf("Boundary(%q) = %q %v, want %q", ct, got, ok, want)
		}
	}
	typ, params := ParseDisposition("Early-Session ; Handling=optional")
	if typ != "early-session" || !reflect.DeepEqual(params, map[string]string{"handling": "optional"}) {
		t.Errorf("ParseDisposition = %q %v", typ, params)
	}
	if typ, params := ParseDisposition("session"); typ != "session" || params != nil {
		t.Errorf("ParseDisposition(session) = %q %v", typ, params)
	}
	if q := quoteParam(`a b"c`); q != `"a b\"c"` {
		t.Errorf("quoteParam = %s", q)
	}
}

// TestStd92LiteralLayout parses the forwarded INVITE's body as a text example prints it,
// where the SDP's last CRLF doubles as the delimiter's CRLF (no empty line
// before "--ps-b1"). The parts then lack their final CRLF, which Parse
// accepts.
func TestStd92LiteralLayout(t *testing.T) {
	body := crlf("--ps-b1\nContent-Type: application/sdp\nContent-Disposition: session\n\n") + crlf(pcmuOffer) +
		crlf("--ps-b1\nContent-Type: application/sdp\nContent-Disposition: early-session;handling=optional\n\n") +
		crlf(std92Early) + "--ps-b1--\r\n"
	sess, early, err := SplitBody(std92CT, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if string(sess)+"\r\n" != crlf(pcmuOffer) || string(early)+"\r\n" != crlf(std92Early) {
		t.Errorf("parts %q %q", sess, early)
	}
	s := mustParse(t, string(early))
	info, err := s.Media[0].MSRP()
	if err != nil || info.FileSelector == nil || info.FileSelector.Size != 18432 || info.ConnAddr != "192.0.2.10" {
		t.Errorf("MSRP %+v %v", info, err)
	}
	if got := string(s.Marshal()); got != crlf(std92Early) {
		t.Errorf("Marshal = %q", got)
	}
}

// TestParamMatchesParseParams: the map-free lookup the body scans use reads a parameter exactly as
// parseParams does (case of names, first occurrence, quotes and escapes, ';' inside quotes), and
// typeIs, which reads a part's header values in place, finds ParseDisposition's and MediaType's
// type (Unicode lower-casing included: the Kelvin sign is a "k", a dotted capital I an "i").
func TestParamMatchesParseParams(t *testing.T) {
	for _, v := range []string{
		`multipart/mixed;boundary=b1`,
		`multipart/mixed; BOUNDARY="a;b" ; boundary=second`,
		`multipart/mixed;charset=x;boundary="q\"uo\\te"`,
		`multipart/mixed; boundary = spaced ;x`,
		`multipart/mixed;;=v;boundary=`,
		`multipart/mixed`,
		`early-session;handling=optional`,
		` Early-Session ; handling="required;x"`,
		`session`,
		`multipart/mixed;x="unterminated;boundary=z`,
		"applicat\u0130on/SDP", " \u212Aey ;x", "\u00a0session\u00a0", "", " ; x", "Application/Sdp",
	} {
		typ, params := parseParams(v)
		_, rest, _ := strings.Cut(v, ";")
		for _, name := range []string{"boundary", "handling", "charset", "x"} {
			got, ok := param(rest, name)
			want, wok := params[name]
			if got != want || ok != wok {
				t.Errorf("%q: param %s = %q, %v; parseParams %q, %v", v, name, got, ok, want, wok)
			}
		}
		for _, want := range []string{typ, MediaType(v), "application/sdp", "session", "key", ""} {
			if got := typeIs([]byte(v), want); got != (typ == want) || got != (MediaType(v) == want) {
				t.Errorf("%q: typeIs %q = %v; ParseDisposition %q, MediaType %q", v, want, got, typ, MediaType(v))
			}
		}
	}
}
