package sdp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSplitBody(t *testing.T) {
	offer := crlf(imsOffer)
	tests := map[string]struct {
		ct, body       string
		session, early string
		nilSession     bool
	}{
		"plain sdp":    {"application/sdp", offer, offer, "", false},
		"plain sdp ci": {"Application/SDP; charset=utf-8", offer, offer, "", false},
		"std92 invite": {std92CT, std92Body, offer, crlf(std92Early), false},
		"std93 183":    {std93CT, std93Body, crlf(calleeAnswer), crlf(std93Early), false},
		"empty":        {"", "", "", "", true},
		"no disp is session": {"multipart/mixed;boundary=b",
			"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--b--",
			"v=0\r\n", "", false},
		"early only": {"multipart/mixed;boundary=b",
			"--b\r\nContent-Type: application/sdp\r\nContent-Disposition: early-session\r\n\r\nv=0\r\n\r\n--b--",
			"", "v=0\r\n", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, e, err := SplitBody(tc.ct, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if string(s) != tc.session || string(e) != tc.early || (s == nil) != tc.nilSession {
				t.Errorf("session %q early %q", s, e)
			}
		})
	}
	for name, tc := range map[string]struct {
		ct, body string
		want     error
	}{
		"text":         {"text/plain", "x", ErrContentType},
		"no type":      {"", "v=0\r\n", ErrContentType},
		"no boundary":  {"multipart/mixed", "--b\r\n\r\nx\r\n--b--", ErrNoBoundary},
		"unterminated": {"multipart/mixed;boundary=b", "--b\r\n\r\nx\r\n", ErrMultipart},
	} {
		t.Run("error "+name, func(t *testing.T) {
			if _, _, err := SplitBody(tc.ct, []byte(tc.body)); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestAddEarlySessionStd92 builds exactly the forwarded INVITE's body (std92Body) from the caller's
// plain SDP.
func TestAddEarlySessionStd92(t *testing.T) {
	ct, body, err := AddEarlySession("application/sdp", []byte(crlf(imsOffer)), []byte(crlf(std92Early)), "ps-b1")
	if err != nil {
		t.Fatal(err)
	}
	if ct != std92CT || string(body) != std92Body {
		t.Errorf("got %q\n%q", ct, body)
	}
}

func TestAddStripRoundTrip(t *testing.T) {
	early := []byte(crlf(std92Early))
	isup := "--outer\r\nContent-Type: application/sdp\r\n\r\n" + crlf(pcmuOffer) +
		"\r\n--outer\r\nContent-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x00\x49" +
		"\n--outer--\r\nepilogue"
	tests := map[string]struct {
		ct, body, boundary string
		wantCT             string // "" means the input ct; a final '*' matches any suffix
	}{
		"plain ims":             {"application/sdp", crlf(imsOffer), "ps-b1", "multipart/mixed;boundary=ps-b1"},
		"plain no final crlf":   {"application/sdp", strings.TrimSuffix(crlf(pcmuOffer), "\r\n"), "", "multipart/mixed;boundary=herald-es"},
		"plain lf only":         {"application/sdp", pcmuOffer, "x y", `multipart/mixed;boundary="x y"`},
		"plain boundary in sdp": {"application/sdp", crlf(pcmuOffer) + "a=x:--ps\r\n", "ps", "multipart/mixed;boundary=ps-*"},
		"multipart sdp+isup":    {"multipart/mixed;boundary=outer", isup, "ignored", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ct, body, err := AddEarlySession(tc.ct, []byte(tc.body), early, tc.boundary)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.wantCT
			if want == "" {
				want = tc.ct
			}
			if p, wild := strings.CutSuffix(want, "*"); ct != want && (!wild || !strings.HasPrefix(ct, p) || len(ct) == len(p)) {
				t.Errorf("content type %q, want %q", ct, want)
			}
			s, e, err := SplitBody(ct, body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e, early) {
				t.Errorf("early part %q", e)
			}
			if tc.ct == "application/sdp" && string(s) != tc.body {
				t.Errorf("session part not byte-exact: %q", s)
			}
			parts, _ := ParseMultipart(ct, body)
			if d := parts[len(parts)-1].Disposition; d != EarlySessionOptional {
				t.Errorf("early disposition %q", d)
			}
			gotCT, gotBody, stripped, err := StripEarlySession(ct, body)
			if err != nil || !stripped {
				t.Fatalf("strip: %v %v", stripped, err)
			}
			if gotCT != tc.ct || string(gotBody) != tc.body {
				t.Errorf("strip(add(x)) != x:\n%q %q\n%q %q", gotCT, gotBody, tc.ct, tc.body)
			}
			if _, _, err := AddEarlySession(ct, body, early, ""); !errors.Is(err, ErrHasEarlySession) {
				t.Errorf("second add err = %v", err)
			}
		})
	}
}

func TestStripEarlySession(t *testing.T) {
	// The callee's reliable 183 is relayed to the caller without its
	// early-session part, as a plain application/sdp body.
	ct, body, stripped, err := StripEarlySession(std93CT, []byte(std93Body))
	if err != nil || !stripped || ct != "application/sdp" || string(body) != crlf(calleeAnswer) {
		t.Errorf("std93: %q %q %v %v", ct, body, stripped, err)
	}
	// Early part first, two parts left: multipart kept, preamble kept.
	in := "pre\r\n--b\r\nContent-Disposition: early-session\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n" +
		"--b\r\nContent-Type: application/sdp\r\n\r\nv=1\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nt\r\n--b--\r\n"
	want := "pre\r\n--b\r\nContent-Type: application/sdp\r\n\r\nv=1\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nt\r\n--b--\r\n"
	ct, body, stripped, err = StripEarlySession("multipart/mixed;boundary=b", []byte(in))
	if err != nil || !stripped || ct != "multipart/mixed;boundary=b" || string(body) != want {
		t.Errorf("early first: %q %q %v %v", ct, body, stripped, err)
	}
	// Two adjacent early parts.
	in2 := "--b\r\nContent-Type: text/plain\r\n\r\nt\r\n--b\r\nContent-Disposition: early-session\r\n\r\ne1\r\n" +
		"--b\r\nContent-Disposition: Early-Session;handling=optional\r\n\r\ne2\r\n--b\r\nContent-Type: text/html\r\n\r\nh\r\n--b--"
	want2 := "--b\r\nContent-Type: text/plain\r\n\r\nt\r\n--b\r\nContent-Type: text/html\r\n\r\nh\r\n--b--"
	if _, body, _, err = StripEarlySession("multipart/mixed;boundary=b", []byte(in2)); err != nil || string(body) != want2 {
		t.Errorf("adjacent: %q %v", body, err)
	}
	// Only an early part: nothing left.
	ct, body, stripped, err = StripEarlySession("multipart/mixed;boundary=b",
		[]byte("--b\r\nContent-Disposition: early-session\r\n\r\nv=0\r\n--b--"))
	if err != nil || !stripped || ct != "" || body != nil {
		t.Errorf("only early: %q %q %v %v", ct, body, stripped, err)
	}
	// Nothing to strip: unchanged.
	for _, tc := range []struct{ ct, body string }{
		{"application/sdp", crlf(pcmuOffer)},
		{"multipart/mixed;boundary=b", "--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b\r\n\r\nx\r\n--b--"},
		{"", ""},
	} {
		ct, body, stripped, err := StripEarlySession(tc.ct, []byte(tc.body))
		if err != nil || stripped || ct != tc.ct || string(body) != tc.body {
			t.Errorf("unchanged %q: %q %q %v %v", tc.ct, ct, body, stripped, err)
		}
	}
	if _, _, _, err := StripEarlySession("multipart/mixed;boundary=b", []byte("--b\r\n\r\nx")); !errors.Is(err, ErrMultipart) {
		t.Errorf("truncated err = %v", err)
	}
}

func TestAddEarlySessionErrors(t *testing.T) {
	early := []byte(crlf(std92Early))
	for name, tc := range map[string]struct {
		ct, body string
		early    []byte
		want     error
	}{
		"empty body":      {"application/sdp", "", early, ErrContentType},
		"text body":       {"text/plain", "x", early, ErrContentType},
		"no boundary":     {"multipart/mixed", "--b\r\n\r\nx\r\n--b--", early, ErrNoBoundary},
		"truncated":       {"multipart/mixed;boundary=b", "--b\r\n\r\nx", early, ErrMultipart},
		"has early":       {std93CT, std93Body, early, ErrHasEarlySession},
		"early has delim": {"multipart/mixed;boundary=b", "--b\r\n\r\nx\r\n--b--", []byte("v=0\r\n--b\r\n"), ErrMultipart},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := AddEarlySession(tc.ct, []byte(tc.body), tc.early, "z"); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestAddEarlySessionBoundaryBounded: a caller's SDP that contains the boundary's delimiter line,
// however long the run after it, gets a boundary of at most 70 characters (RFC 2046 §5.1.1) that
// neither part contains, found in a bounded number of scans (a body of 60,000 'x' after "--" once
// cost a scan per character of the run); the result splits back byte-exact. A boundary above 70
// characters is refused. (FuzzAddStrip found the unbounded growth: testdata/fuzz/FuzzAddStrip.)
func TestAddEarlySessionBoundaryBounded(t *testing.T) {
	early := []byte(crlf(std92Early))
	for name, body := range map[string][]byte{
		"run after the default": []byte("v=0\r\n--" + DefaultBoundary + strings.Repeat("x", 60000) + "\r\n"),
		"run after x":           []byte("--" + strings.Repeat("x", 60000)),
	} {
		t.Run(name, func(t *testing.T) {
			boundary := ""
			if strings.HasPrefix(string(body), "--x") {
				boundary = "x"
			}
			ct, out, err := AddEarlySession(TypeSDP, body, early, boundary)
			if err != nil {
				t.Fatal(err)
			}
			b, ok := Boundary(ct)
			if !ok || len(b) > 70 || bytes.Contains(body, []byte("--"+b)) {
				t.Fatalf("boundary %q (%d characters, found %t)", b, len(b), ok)
			}
			s, e, err := SplitBody(ct, out)
			if err != nil || !bytes.Equal(s, body) || !bytes.Equal(e, early) {
				t.Fatalf("split: err %v, parts exact %t %t", err, bytes.Equal(s, body), bytes.Equal(e, early))
			}
		})
	}
	if _, _, err := AddEarlySession(TypeSDP, []byte("v=0\r\n"), early, strings.Repeat("b", 71)); !errors.Is(err, ErrMultipart) {
		t.Errorf("71-character boundary: err %v, want ErrMultipart", err)
	}
}
