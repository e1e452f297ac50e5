package msrp

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzLimits keeps the limits small so the fuzzer reaches them.
var fuzzLimits = Limits{MaxHeaderBytes: 512, MaxBodyBytes: 256}

func addSeeds(f *testing.F) {
	for _, ex := range allExamples {
		f.Add([]byte(ex.frame))
	}
	for _, tc := range parseErrorTests {
		f.Add([]byte(tc.frame))
	}
}

// checkResult asserts the invariants of one Parse result.
func checkResult(t *testing.T, buf []byte, n int, err error, m *Message) {
	t.Helper()
	if n < 0 || n > len(buf) {
		t.Fatalf("n = %d outside [0, %d]", n, len(buf))
	}
	if err != nil {
		if n != 0 {
			t.Fatalf("n = %d with error %v", n, err)
		}
		if err == ErrIncomplete {
			return
		}
		var fe *FrameError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v is neither ErrIncomplete nor *FrameError", err)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrHeaderTooLarge) && !errors.Is(err, ErrBodyTooLarge) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		return
	}
	if n == 0 || !validTID(m.TID) || (m.Method == nil) == (m.Status == 0) || !isFlag(m.Flag) {
		t.Fatalf("bad success: n=%d tid=%q method=%q status=%d flag=%q", n, m.TID, m.Method, m.Status, m.Flag)
	}
	if len(m.ToPath) == 0 || len(m.FromPath) == 0 || len(m.Headers) < 2 {
		t.Fatalf("success without To-Path/From-Path")
	}
	if m.Body != nil && len(m.Body) > fuzzLimits.MaxBodyBytes {
		t.Fatalf("body of %d bytes passed the limit", len(m.Body))
	}
}

// FuzzParse: Parse never panics, never consumes more than it was given and
// returns only documented errors.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Parser{Limits: fuzzLimits}
		var m Message
		for len(data) > 0 {
			n, err := p.Parse(data, &m)
			checkResult(t, data, n, err, &m)
			if err != nil {
				return
			}
			data = data[n:] // pipelined frames
		}
	})
}

// FuzzRoundTrip: parse -> AppendMessage -> parse gives the same message.
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Parser{Limits: fuzzLimits}
		var m1, m2 Message
		if _, err := p.Parse(data, &m1); err != nil {
			return
		}
		out := AppendMessage(nil, &m1)
		p2 := Parser{Limits: Limits{MaxHeaderBytes: 4 * fuzzLimits.MaxHeaderBytes, MaxBodyBytes: fuzzLimits.MaxBodyBytes}}
		n, err := p2.Parse(out, &m2)
		if err != nil || n != len(out) {
			t.Fatalf("reparse = %d, %v (len %d)\nin  %q\nout %q", n, err, len(out), data, out)
		}
		if d := diffMessages(&m1, &m2); d != "" {
			t.Fatalf("round trip differs:\n%s\nin  %q\nout %q", d, data, out)
		}
		// A canonical frame re-serializes to itself.
		if out2 := AppendMessage(nil, &m2); string(out2) != string(out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, out2)
		}
	})
}

// FuzzSplit: feeding the input in up to three reads (split at a and b) gives
// the same result as parsing it whole.
func FuzzSplit(f *testing.F) {
	for _, ex := range allExamples {
		f.Add([]byte(ex.frame), uint16(len(ex.frame)/3), uint16(len(ex.frame)*2/3))
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		var whole Message
		pw := Parser{Limits: fuzzLimits}
		nw, errw := pw.Parse(data, &whole)

		ka, kb := min(int(a), len(data)), min(int(b), len(data))
		if ka > kb {
			ka, kb = kb, ka
		}
		ps := Parser{Limits: fuzzLimits}
		var m Message
		var n int
		var err error
		for _, k := range []int{ka, kb, len(data)} {
			buf := append([]byte(nil), data[:k]...) // the read buffer moves
			n, err = ps.Parse(buf, &m)
			checkResult(t, buf, n, err, &m)
			if err != ErrIncomplete {
				break
			}
		}
		if (err == nil) != (errw == nil) || n != nw {
			t.Fatalf("split at %d,%d: %d, %v; whole: %d, %v", ka, kb, n, err, nw, errw)
		}
		if err != nil {
			for _, s := range []error{ErrIncomplete, ErrMalformed, ErrHeaderTooLarge, ErrBodyTooLarge} {
				if errors.Is(err, s) != errors.Is(errw, s) {
					t.Fatalf("split at %d,%d: %v; whole: %v", ka, kb, err, errw)
				}
			}
			return
		}
		if d := diffMessages(&whole, &m); d != "" {
			t.Fatalf("split at %d,%d differs:\n%s", ka, kb, d)
		}
	})
}

// TestSeedCorpus checks that testdata/fuzz holds the RFC example seeds
// (HERALD_WRITE_SEEDS=1 rewrites them).
func TestSeedCorpus(t *testing.T) {
	write := os.Getenv("HERALD_WRITE_SEEDS") == "1"
	for _, target := range []string{"FuzzParse", "FuzzRoundTrip", "FuzzSplit"} {
		for _, ex := range allExamples {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(ex.frame) + ")\n"
			if target == "FuzzSplit" {
				body += "uint16(" + strconv.Itoa(len(ex.frame)/2) + ")\nuint16(" + strconv.Itoa(len(ex.frame)-3) + ")\n"
			}
			path := filepath.Join("testdata", "fuzz", target, ex.name)
			if write {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("seed missing (run with HERALD_WRITE_SEEDS=1): %v", err)
			}
			if string(got) != body {
				t.Errorf("%s is stale (run with HERALD_WRITE_SEEDS=1)", path)
			}
		}
	}
}
