package sdp

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Fuzz targets. The seeds below are the RFC 4566/8866 examples and Herald's
// own push offers and answers; the same seeds are committed under testdata/fuzz/ (regenerate
// with: go test -run TestFuzzSeedCorpus -update-corpus).
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 20s
//	go test -run '^$' -fuzz FuzzMultipart -fuzztime 20s
//	go test -run '^$' -fuzz FuzzAddStrip -fuzztime 20s
//	go test -run '^$' -fuzz FuzzFileSelector -fuzztime 20s
//	go test -run '^$' -fuzz FuzzFingerprint -fuzztime 20s

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz")

func sdpSeeds() map[string][]byte {
	m := map[string][]byte{}
	for name, s := range map[string]string{
		"rfc4566": rfc4566Example, "rfc8866": rfc8866Example, "times": timesExample,
		"ims-precond": imsOffer, "pcmu": pcmuOffer, "std92-early": std92Early,
		"std93-early": std93Early, "std94-crbt": std94CRBT, "std94-update": std94Update,
		"callee-answer": calleeAnswer,
	} {
		m[name] = []byte(crlf(s))
	}
	m["lf-only"] = []byte(pcmuOffer)
	return m
}

// fingerprintSeeds are a=fingerprint values (RFC 8122 §5) as terminals and browsers send them.
func fingerprintSeeds() map[string]string {
	return map[string]string{
		"sha-256":       sha256FP,
		"sha-1-lower":   "sha-1 d1:e2:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14",
		"sha-512-upper": "SHA-512 " + strings.Repeat("A5:", 63) + "5A",
		"unknown":       "x-hash 01:02",
	}
}

type multipartSeed struct {
	ct   string
	body []byte
}

func multipartSeeds() map[string]multipartSeed {
	return map[string]multipartSeed{
		"std92-invite": {std92CT, []byte(std92Body)},
		"std93-183":    {std93CT, []byte(std93Body)},
		"lf-preamble":  {`multipart/mixed; boundary="a b"`, []byte("pre\n--a b\nContent-Type: text/plain\n\nhello\n--a b--\nepi")},
		"sdp-isup": {"multipart/mixed;boundary=outer", []byte("--outer\r\nContent-Type: application/sdp\r\n\r\n" + crlf(pcmuOffer) +
			"\r\n--outer\r\nContent-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x00\x49\r\n--outer--\r\n")},
	}
}

func fileSelectorSeeds() map[string]string {
	return map[string]string{
		"std92":       `name:"caller-card.html" type:text/html size:18432 hash:` + fileHash,
		"std94":       `name:"callee-page.html" type:text/html size:9120 hash:sha-1:0A:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:9F`,
		"rfc5547-ish": `name:"My cool picture.jpg" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:04:4E:38:2A:8D:BA:5E:D6:AB:4F:A2:FF`,
		"pct-params":  `type:text/html;charset="utf-8" name:"100%25 %22x%22.html"`,
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range sdpSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		out := s.Marshal()
		if len(out) > MaxSize { // CRLF can grow an LF-only input past the limit
			return
		}
		s2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(x)): %v\n%q", err, out)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("Parse(Marshal(Parse(x))) != Parse(x)\n%#v\n%#v", s, s2)
		}
		if out2 := s2.Marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("Marshal not stable:\n%q\n%q", out, out2)
		}
		for _, m := range s.Media {
			_, _ = m.MSRP()
			_ = m.Direction()
		}
	})
}

func FuzzMultipart(f *testing.F) {
	for _, s := range multipartSeeds() {
		f.Add(s.ct, s.body)
	}
	early := []byte(crlf(std92Early))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		parts, err := ParseMultipart(ct, body)
		if err != nil {
			if !errors.Is(err, ErrMultipart) && !errors.Is(err, ErrNoBoundary) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		_, _, _ = SplitBody(ct, body)
		boundary, _ := Boundary(ct)
		rebuilt := BuildMultipart(boundary, parts)
		again, err := ParseMultipart(ct, rebuilt)
		if err != nil {
			t.Fatalf("ParseMultipart(BuildMultipart(x)): %v\n%q", err, rebuilt)
		}
		if !partsEqual(parts, again) {
			t.Fatalf("parts differ after rebuild\n%+v\n%+v", parts, again)
		}
		// Strip never fails on a body that parses.
		if _, _, _, err := StripEarlySession(ct, body); err != nil {
			t.Fatalf("StripEarlySession: %v", err)
		}
		// strip(add(x)) == x unless x is a lone SDP part (returned plain).
		newCT, added, err := AddEarlySession(ct, body, early, "")
		if err != nil {
			if !errors.Is(err, ErrHasEarlySession) && !errors.Is(err, ErrMultipart) {
				t.Fatalf("AddEarlySession: %v", err)
			}
			return
		}
		_, e, err := SplitBody(newCT, added)
		if err != nil || !bytes.Equal(e, early) {
			t.Fatalf("early part after add: %q %v", e, err)
		}
		gotCT, got, stripped, err := StripEarlySession(newCT, added)
		if err != nil || !stripped {
			t.Fatalf("strip after add: %v %v", stripped, err)
		}
		if len(parts) == 1 && MediaType(parts[0].ContentType) == TypeSDP {
			if !bytes.Equal(got, parts[0].Body) {
				t.Fatalf("lone SDP part changed: %q", got)
			}
			return
		}
		if gotCT != newCT || !bytes.Equal(got, body) {
			t.Fatalf("strip(add(x)) != x\n%q\n%q", got, body)
		}
	})
}

func FuzzAddStrip(f *testing.F) {
	for _, b := range sdpSeeds() {
		f.Add(b, []byte(crlf(std92Early)), "ps-b1")
	}
	f.Fuzz(func(t *testing.T, body, early []byte, boundary string) {
		if len(boundary) > 70 || bytes.ContainsAny([]byte(boundary), "\r\n") {
			return
		}
		ct, out, err := AddEarlySession(TypeSDP, body, early, boundary)
		if err != nil {
			if len(body) != 0 || !errors.Is(err, ErrContentType) {
				t.Fatalf("AddEarlySession: %v", err)
			}
			return
		}
		s, e, err := SplitBody(ct, out)
		if err != nil {
			t.Fatalf("SplitBody: %v\n%q %q", err, ct, out)
		}
		if !bytes.Equal(s, body) || !bytes.Equal(e, early) {
			t.Fatalf("parts not byte-exact:\n%q\n%q", s, e)
		}
		gotCT, got, stripped, err := StripEarlySession(ct, out)
		if err != nil || !stripped || gotCT != TypeSDP || !bytes.Equal(got, body) {
			t.Fatalf("strip(add(x)) != x: %q %q %v %v", gotCT, got, stripped, err)
		}
	})
}

func FuzzFileSelector(f *testing.F) {
	for _, s := range fileSelectorSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		fs, err := ParseFileSelector(v)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		s := fs.String()
		fs2, err := ParseFileSelector(s)
		if err != nil {
			t.Fatalf("ParseFileSelector(String()) %q: %v", s, err)
		}
		if fs2 != fs {
			t.Fatalf("round trip: %+v != %+v", fs2, fs)
		}
		if s2 := fs2.String(); s2 != s {
			t.Fatalf("String not stable: %q %q", s, s2)
		}
	})
}

func FuzzFingerprint(f *testing.F) {
	for _, s := range fingerprintSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		fp, err := ParseFingerprint(v)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if len(fp.Value) == 0 || len(fp.Value) > maxFingerprintLen || fp.Hash != strings.ToLower(fp.Hash) {
			t.Fatalf("accepted %q as %+v", v, fp)
		}
		s := fp.String()
		fp2, err := ParseFingerprint(s)
		if err != nil {
			t.Fatalf("ParseFingerprint(String()) %q: %v", s, err)
		}
		if fp2.Hash != fp.Hash || !bytes.Equal(fp2.Value, fp.Value) {
			t.Fatalf("round trip: %+v != %+v", fp2, fp)
		}
		if s2 := fp2.String(); s2 != s {
			t.Fatalf("String not stable: %q %q", s, s2)
		}
		if !strings.EqualFold(s, v) {
			t.Fatalf("String %q does not match the input %q up to case", s, v)
		}
	})
}

// TestFuzzSeedCorpus checks that testdata/fuzz holds the seeds above, in
// the format of "go test fuzz v1", so that the committed corpus and the
// in-code seeds do not drift. With -update-corpus it rewrites the files.
func TestFuzzSeedCorpus(t *testing.T) {
	want := map[string]string{} // path -> content
	for name, b := range sdpSeeds() {
		want[filepath.Join("FuzzParse", name)] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		want[filepath.Join("FuzzAddStrip", name)] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\nstring(%q)\n",
			b, crlf(std92Early), "ps-b1")
	}
	for name, s := range multipartSeeds() {
		want[filepath.Join("FuzzMultipart", name)] = fmt.Sprintf("go test fuzz v1\nstring(%q)\n[]byte(%q)\n", s.ct, s.body)
	}
	for name, s := range fileSelectorSeeds() {
		want[filepath.Join("FuzzFileSelector", name)] = fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
	}
	for name, s := range fingerprintSeeds() {
		want[filepath.Join("FuzzFingerprint", name)] = fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
	}
	for p, content := range want {
		path := filepath.Join("testdata", "fuzz", p)
		if *updateCorpus {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("seed corpus: %v (run with -update-corpus)", err)
			continue
		}
		if string(got) != content {
			t.Errorf("seed corpus %s differs from the in-code seed (run with -update-corpus)", path)
		}
	}
}

// FuzzParsePart checks parsePart, which reads a part's header lines in place, against the
// reference it replaced (every line copied to strings first): same part or same failure.
func FuzzParsePart(f *testing.F) {
	for _, s := range []string{
		"Content-Type: application/sdp\r\nContent-Disposition: early-session;handling=optional\r\n\r\nv=0\r\n",
		"content-type:application/sdp\r\n folded\r\n\tmore\r\nX-A: 1\r\nContent-Type: second\r\n\r\nbody",
		" x\r\n\r\nb", ":v\r\n\r\n", "Content-Type: a\n\nLF only", "no colon\r\n\r\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, c []byte) {
		orig := bytes.Clone(c)
		got, err := parsePart(c)
		want, werr := refParsePart(c)
		if (err == nil) != (werr == nil) {
			t.Fatalf("error %v, reference %v", err, werr)
		}
		if !bytes.Equal(c, orig) {
			t.Fatal("parsePart wrote into its input")
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("part %+v, reference %+v", got, want)
		}
	})
}

// refParsePart is parsePart as it was before it read the header lines in place.
func refParsePart(c []byte) (Part, error) {
	var p Part
	var names, values []string
	bodyStart := len(c)
	for pos := 0; pos < len(c); {
		next := len(c)
		ln := c[pos:]
		if e := bytes.IndexByte(ln, '\n'); e >= 0 {
			ln, next = ln[:e], pos+e+1
		}
		pos = next
		ln = bytes.TrimSuffix(ln, []byte("\r"))
		if len(ln) == 0 {
			bodyStart = next
			break
		}
		if ln[0] == ' ' || ln[0] == '\t' {
			if len(names) == 0 {
				return Part{}, ErrMultipart
			}
			values[len(values)-1] += string(ln)
			continue
		}
		k, v, ok := bytes.Cut(ln, []byte(":"))
		name := strings.TrimSpace(string(k))
		if !ok || name == "" {
			return Part{}, ErrMultipart
		}
		names = append(names, name)
		values = append(values, string(v))
	}
	p.Body = c[bodyStart:]
	for i, n := range names {
		v := strings.TrimSpace(values[i])
		switch {
		case p.ContentType == "" && strings.EqualFold(n, "Content-Type"):
			p.ContentType = v
		case p.Disposition == "" && strings.EqualFold(n, "Content-Disposition"):
			p.Disposition = v
		default:
			p.Other = append(p.Other, [2]string{n, v})
		}
	}
	return p, nil
}
