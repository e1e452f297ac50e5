package msrp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// want is the expected result of parsing one frame.
type want struct {
	tid, method string
	status      int
	comment     string
	to, from    string
	msgID       string
	br          *ByteRange
	success     string
	failure     string
	statusHdr   string
	ctype       string
	nHeaders    int
	body        *string
	flag        byte
}

func strp(s string) *string { return &s }

func checkMessage(t *testing.T, m *Message, w want) {
	t.Helper()
	eq := func(field string, got []byte, w string) {
		t.Helper()
		if string(got) != w {
			t.Errorf("%s = %q, want %q", field, got, w)
		}
	}
	eq("TID", m.TID, w.tid)
	eq("Method", m.Method, w.method)
	if (w.method != "") != m.IsRequest() {
		t.Errorf("IsRequest = %v", m.IsRequest())
	}
	if m.Status != w.status {
		t.Errorf("Status = %d, want %d", m.Status, w.status)
	}
	eq("Comment", m.Comment, w.comment)
	eq("ToPath", m.ToPath, w.to)
	eq("FromPath", m.FromPath, w.from)
	eq("MessageID", m.MessageID, w.msgID)
	if w.br == nil {
		if m.HasByteRange {
			t.Errorf("HasByteRange, ByteRange = %+v", m.ByteRange)
		}
	} else if !m.HasByteRange || m.ByteRange != *w.br {
		t.Errorf("ByteRange = %+v (has %v), want %+v", m.ByteRange, m.HasByteRange, *w.br)
	}
	eq("SuccessReport", m.SuccessReport, w.success)
	eq("FailureReport", m.FailureReport, w.failure)
	eq("StatusHeader", m.StatusHeader, w.statusHdr)
	eq("ContentType", m.ContentType, w.ctype)
	if len(m.Headers) != w.nHeaders {
		t.Errorf("len(Headers) = %d, want %d", len(m.Headers), w.nHeaders)
	}
	if w.body == nil {
		if m.Body != nil {
			t.Errorf("Body = %q, want nil", m.Body)
		}
	} else if m.Body == nil || string(m.Body) != *w.body {
		t.Errorf("Body = %q, want %q", m.Body, *w.body)
	}
	if m.Flag != w.flag {
		t.Errorf("Flag = %q, want %q", m.Flag, w.flag)
	}
}

var parseTests = map[string]struct {
	frame string
	want  want
}{
	"rfc4975-7.1.1-send": {rfcSend, want{
		tid: "a786hjs2", method: "SEND",
		to:    "msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp",
		from:  "msrp://atlanta.example.com:7654/jshA7weztas;tcp",
		msgID: "87652491", br: &ByteRange{1, 25, 25}, ctype: "text/plain",
		nHeaders: 5, body: strp("Hey Bob, are you there?"), flag: FlagEnd,
	}},
	"rfc4975-7.2-200-ok": {rfcOK, want{
		tid: "a786hjs2", status: 200, comment: "OK",
		to:       "msrp://atlanta.example.com:7654/jshA7weztas;tcp",
		from:     "msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp",
		nHeaders: 2, flag: FlagEnd,
	}},
	"rfc4975-11-chunk-more": {rfcChunkMore, want{
		tid: "7443ffj1", method: "SEND",
		to:    "msrp://alicepc.example.com:7777/iau39soe2843z;tcp",
		from:  "msrp://bob.example.com:8888/9di4eae923wzd;tcp",
		msgID: "12339sdqwer", br: &ByteRange{1, -1, -1}, ctype: "message/cpim", nHeaders: 5,
		body: strp(crlf("To: Bob <sip:bob@example.com>\nFrom: Alice <sip:alice@example.com>\nContent-Type: image/jpeg\n** first chunk of binary data")),
		flag: FlagMore,
	}},
	"rfc4975-7.1-chunk-abort": {rfcChunkAbort, want{
		tid: "7443ffj2", method: "SEND",
		to:    "msrp://alicepc.example.com:7777/iau39soe2843z;tcp",
		from:  "msrp://bob.example.com:8888/9di4eae923wzd;tcp",
		msgID: "12339sdqwer", br: &ByteRange{69, -1, 148}, ctype: "message/cpim", nHeaders: 5,
		body: strp("** second chunk, cut short"), flag: FlagAbort,
	}},
	"rfc4975-11.6-report": {rfcReport, want{
		tid: "dkei38sd", method: "REPORT",
		to:    "msrp://alicepc.example.com:7777/iau39soe2843z;tcp",
		from:  "msrp://bob.example.com:8888/9di4eae923wzd;tcp",
		msgID: "12339sdqwer", br: &ByteRange{1, 106, 106}, statusHdr: "000 200 OK",
		nHeaders: 5, flag: FlagEnd,
	}},
	"rfc4976-relay-several-hops": {rfcRelaySend, want{
		tid: "d93kswow", method: "SEND",
		to:    "msrp://relay.example.com:2855/9di4ea;tcp msrp://bob.example.com:8888/9di4eae923wzd;tcp",
		from:  "msrp://alicepc.example.com:7777/iau39soe2843z;tcp",
		msgID: "12339sdqwer", success: "yes", failure: "no", br: &ByteRange{1, 22, 22},
		ctype: "text/html", nHeaders: 7, body: strp("<p>Hello, relay!</p>"), flag: FlagEnd,
	}},
	"rfc4976-auth": {rfcAuth, want{
		tid: "49fh", method: "AUTH",
		to:       "msrps://alice@intra.example.com;tcp",
		from:     "msrps://alice.example.com:9892/98cjs;tcp",
		nHeaders: 2, flag: FlagEnd,
	}},
	"rfc4975-481": {rfc481, want{
		tid: "49fi", status: 481, comment: "Session does not exist",
		to:       "msrp://alice.example.com:9892/98cjs;tcp",
		from:     "msrp://bob.example.com:8888/9di4eae923wzd;tcp",
		nHeaders: 2, flag: FlagEnd,
	}},
	"herald-bodiless-acquire": {heraldAcquire, want{
		tid: "a786hjs2", method: "SEND",
		to:    "msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp",
		from:  "msrp://10.1.2.3:9/aQ3xT8pR;tcp",
		msgID: "87652491", br: &ByteRange{1, 0, 0}, nHeaders: 4, flag: FlagEnd,
	}},
	"decoy-end-lines-in-body": {decoySend, want{
		tid: "decoy123", method: "SEND", to: "msrp://h:1/s;tcp", from: "msrp://h:2/t;tcp",
		msgID: "m1", br: &ByteRange{1, -1, -1}, ctype: "text/plain", nHeaders: 5,
		body: strp(decoyBody), flag: FlagEnd,
	}},
	"empty-body": {crlf("MSRP abcd SEND\nTo-Path: msrp://h/s;tcp\nFrom-Path: msrp://h/t;tcp\nContent-Type: text/plain\n\n\n-------abcd$\n"), want{
		tid: "abcd", method: "SEND", to: "msrp://h/s;tcp", from: "msrp://h/t;tcp", ctype: "text/plain",
		nHeaders: 3, body: strp(""), flag: FlagEnd,
	}},
	"empty-body-end-line-right-after-blank-line": {crlf("MSRP abcd SEND\nTo-Path: msrp://h/s;tcp\nFrom-Path: msrp://h/t;tcp\nContent-Type: text/plain\n\n-------abcd+\n"), want{
		tid: "abcd", method: "SEND", to: "msrp://h/s;tcp", from: "msrp://h/t;tcp", ctype: "text/plain",
		nHeaders: 3, body: strp(""), flag: FlagMore,
	}},
	"body-starting-with-crlf": {crlf("MSRP abcd SEND\nTo-Path: msrp://h/s;tcp\nFrom-Path: msrp://h/t;tcp\nContent-Type: text/plain\n\n\nx\n-------abcd$\n"), want{
		tid: "abcd", method: "SEND", to: "msrp://h/s;tcp", from: "msrp://h/t;tcp", ctype: "text/plain",
		nHeaders: 3, body: strp("\r\nx"), flag: FlagEnd,
	}},
	"response-without-comment": {crlf("MSRP abcd 200\nTo-Path: msrp://h/s;tcp\nFrom-Path: msrp://h/t;tcp\n-------abcd$\n"), want{
		tid: "abcd", status: 200, to: "msrp://h/s;tcp", from: "msrp://h/t;tcp", nHeaders: 2, flag: FlagEnd,
	}},
	"case-insensitive-names-and-extension-header": {crlf("MSRP ab.-+%=9 NICKNAME\nto-path: msrp://h/s;tcp\nFROM-PATH:msrp://h/t;tcp \nUse-Nickname: \"bob\"\n-------ab.-+%=9$\n"), want{
		tid: "ab.-+%=9", method: "NICKNAME", to: "msrp://h/s;tcp", from: "msrp://h/t;tcp", nHeaders: 3, flag: FlagEnd,
	}},
	"max-tid-32": {crlf("MSRP " + strings.Repeat("T", 32) + " SEND\nTo-Path: msrp://h/s;tcp\nFrom-Path: msrp://h/t;tcp\n-------" + strings.Repeat("T", 32) + "$\n"), want{
		tid: strings.Repeat("T", 32), method: "SEND", to: "msrp://h/s;tcp", from: "msrp://h/t;tcp", nHeaders: 2, flag: FlagEnd,
	}},
}

func TestParse(t *testing.T) {
	for name, tc := range parseTests {
		t.Run(name, func(t *testing.T) {
			var p Parser
			var m Message
			// Trailing bytes of the next frame must not be consumed.
			buf := []byte(tc.frame + "MSRP next")
			n, err := p.Parse(buf, &m)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tc.frame) {
				t.Fatalf("n = %d, want %d", n, len(tc.frame))
			}
			checkMessage(t, &m, tc.want)
		})
	}
}

func TestParseMessageHelpers(t *testing.T) {
	var p Parser
	var m Message
	if _, err := p.Parse([]byte(rfcReport), &m); err != nil {
		t.Fatal(err)
	}
	if got := m.Header("message-id"); string(got) != "12339sdqwer" {
		t.Errorf("Header(message-id) = %q", got)
	}
	if got := m.Header("Content-Type"); got != nil {
		t.Errorf("Header(Content-Type) = %q, want nil", got)
	}
	code, err := m.ReportStatus()
	if err != nil || code != 200 {
		t.Errorf("ReportStatus = %d, %v", code, err)
	}
	m.Reset()
	if m.TID != nil || len(m.Headers) != 0 || cap(m.Headers) == 0 {
		t.Errorf("Reset left %+v", m)
	}
}

func TestReportStatus(t *testing.T) {
	tests := map[string]struct {
		hdr  string
		code int
		err  error
	}{
		"ok":                {"000 200 OK", 200, nil},
		"no-reason":         {"000 413", 413, nil},
		"failure":           {"000 481 Session does not exist", 481, nil},
		"missing":           {"", 0, ErrMalformed},
		"other-namespace":   {"001 200 OK", 0, ErrMalformed},
		"short-code":        {"000 20", 0, ErrMalformed},
		"no-space-after":    {"000 200OK", 0, ErrMalformed},
		"code-leading-zero": {"000 020 x", 0, ErrMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := Message{}
			if tc.hdr != "" {
				m.StatusHeader = []byte(tc.hdr)
			}
			code, err := m.ReportStatus()
			if !errors.Is(err, tc.err) || code != tc.code {
				t.Errorf("ReportStatus = %d, %v; want %d, %v", code, err, tc.code, tc.err)
			}
		})
	}
}

const hdrs2 = "To-Path: msrp://h/s;tcp\nFrom-Path: msrp://h/t;tcp\n"

var parseErrorTests = map[string]struct {
	frame  string
	limits Limits
	err    error
	tid    string // expected FrameError.TID ("" = none)
}{
	"garbage-start-line":       {"GET / HTTP/1.1\r\n\r\n", Limits{}, ErrMalformed, ""},
	"garbage-first-bytes":      {"MSRX", Limits{}, ErrMalformed, ""},
	"lowercase-msrp":           {"msrp abcd SEND\r\n", Limits{}, ErrMalformed, ""},
	"tid-too-short":            {crlf("MSRP abc SEND\n" + hdrs2 + "-------abc$\n"), Limits{}, ErrMalformed, ""},
	"tid-too-long":             {crlf("MSRP " + strings.Repeat("a", 33) + " SEND\n"), Limits{}, ErrMalformed, ""},
	"tid-bad-char":             {crlf("MSRP ab/cd SEND\n"), Limits{}, ErrMalformed, ""},
	"tid-bad-first-char":       {crlf("MSRP .abcd SEND\n"), Limits{}, ErrMalformed, ""},
	"no-method":                {crlf("MSRP abcd\n"), Limits{}, ErrMalformed, ""},
	"empty-method":             {crlf("MSRP abcd \n"), Limits{}, ErrMalformed, "abcd"},
	"lowercase-method":         {crlf("MSRP abcd send\n"), Limits{}, ErrMalformed, "abcd"},
	"status-leading-zero":      {crlf("MSRP abcd 099 x\n"), Limits{}, ErrMalformed, "abcd"},
	"status-four-digits":       {crlf("MSRP abcd 2000\n"), Limits{}, ErrMalformed, "abcd"},
	"lf-only-start-line":       {"MSRP abcd SEND\n" + hdrs2 + "-------abcd$\n", Limits{}, ErrMalformed, ""},
	"lf-only-header":           {"MSRP abcd SEND\r\nTo-Path: msrp://h/s;tcp\n", Limits{}, ErrMalformed, "abcd"},
	"lf-only-blank-line":       {crlf("MSRP abcd SEND\n"+hdrs2) + "\n", Limits{}, ErrMalformed, "abcd"},
	"header-without-colon":     {crlf("MSRP abcd SEND\nTo-Path msrp://h/s;tcp\n"), Limits{}, ErrMalformed, "abcd"},
	"header-folded":            {crlf("MSRP abcd SEND\nTo-Path:\n msrp://h/s;tcp\n"), Limits{}, ErrMalformed, "abcd"},
	"header-name-bad-char":     {crlf("MSRP abcd SEND\nTo Path: x\n"), Limits{}, ErrMalformed, "abcd"},
	"header-value-control":     {crlf("MSRP abcd SEND\nX-A: a\x00b\n"), Limits{}, ErrMalformed, "abcd"},
	"missing-to-path":          {crlf("MSRP abcd SEND\nFrom-Path: msrp://h/t;tcp\n-------abcd$\n"), Limits{}, ErrMalformed, "abcd"},
	"missing-from-path":        {crlf("MSRP abcd 200 OK\nTo-Path: msrp://h/t;tcp\n-------abcd$\n"), Limits{}, ErrMalformed, "abcd"},
	"empty-to-path":            {crlf("MSRP abcd SEND\nTo-Path: \n"), Limits{}, ErrMalformed, "abcd"},
	"duplicate-to-path":        {crlf("MSRP abcd SEND\n" + hdrs2 + "To-Path: msrp://h/x;tcp\n"), Limits{}, ErrMalformed, "abcd"},
	"duplicate-byte-range":     {crlf("MSRP abcd SEND\nByte-Range: 1-2/3\nByte-Range: 1-2/3\n"), Limits{}, ErrMalformed, "abcd"},
	"end-line-wrong-tid":       {crlf("MSRP abcd SEND\n" + hdrs2 + "-------abce$\n"), Limits{}, ErrMalformed, "abcd"},
	"end-line-bad-flag":        {crlf("MSRP abcd SEND\n" + hdrs2 + "-------abcd!\n"), Limits{}, ErrMalformed, "abcd"},
	"end-line-six-dashes":      {crlf("MSRP abcd SEND\n" + hdrs2 + "------abcd$\n"), Limits{}, ErrMalformed, "abcd"},
	"byte-range-zero-start":    {crlf("MSRP abcd SEND\nByte-Range: 0-1/2\n"), Limits{}, ErrMalformed, "abcd"},
	"byte-range-star-start":    {crlf("MSRP abcd SEND\nByte-Range: *-1/2\n"), Limits{}, ErrMalformed, "abcd"},
	"byte-range-end-lt-start":  {crlf("MSRP abcd SEND\nByte-Range: 5-3/9\n"), Limits{}, ErrMalformed, "abcd"},
	"byte-range-end-gt-total":  {crlf("MSRP abcd SEND\nByte-Range: 1-10/9\n"), Limits{}, ErrMalformed, "abcd"},
	"byte-range-no-total":      {crlf("MSRP abcd SEND\nByte-Range: 1-10\n"), Limits{}, ErrMalformed, "abcd"},
	"byte-range-junk":          {crlf("MSRP abcd SEND\nByte-Range: 1-2/3x\n"), Limits{}, ErrMalformed, "abcd"},
	"byte-range-overflow":      {crlf("MSRP abcd SEND\nByte-Range: 1-*/9999999999999999999\n"), Limits{}, ErrMalformed, "abcd"},
	"byte-range-negative":      {crlf("MSRP abcd SEND\nByte-Range: 1--1/3\n"), Limits{}, ErrMalformed, "abcd"},
	"header-too-large":         {crlf("MSRP abcd SEND\nX-Big: " + strings.Repeat("x", 5000) + "\n"), Limits{}, ErrHeaderTooLarge, "abcd"},
	"header-too-large-no-crlf": {"MSRP abcd SEND\r\nX-Big: " + strings.Repeat("x", 5000), Limits{}, ErrHeaderTooLarge, "abcd"},
	"start-line-too-large":     {"MSRP abcd " + strings.Repeat("A", 5000), Limits{}, ErrHeaderTooLarge, ""},
	"header-limit-custom":      {rfcSend, Limits{MaxHeaderBytes: 64}, ErrHeaderTooLarge, "a786hjs2"},
	"body-too-large":           {crlf("MSRP abcd SEND\n"+hdrs2+"\n") + strings.Repeat("b", 101) + "\r\n-------abcd$\r\n", Limits{MaxBodyBytes: 100}, ErrBodyTooLarge, "abcd"},
	"body-too-large-no-end":    {crlf("MSRP abcd SEND\n"+hdrs2+"\n") + strings.Repeat("b", 200), Limits{MaxBodyBytes: 100}, ErrBodyTooLarge, "abcd"},
	"body-too-large-default":   {crlf("MSRP abcd SEND\n"+hdrs2+"\n") + strings.Repeat("b", 70000), Limits{}, ErrBodyTooLarge, "abcd"},
	"missing-end-line":         {crlf("MSRP abcd SEND\n"+hdrs2+"\n") + "body", Limits{}, ErrIncomplete, ""},
	"missing-end-line-decoy":   {crlf("MSRP abcd SEND\n" + hdrs2 + "\nbody\n-------abcd\n"), Limits{}, ErrIncomplete, ""},
	"missing-end-line-no-body": {crlf("MSRP abcd SEND\n" + hdrs2), Limits{}, ErrIncomplete, ""},
	"end-line-without-crlf":    {crlf("MSRP abcd SEND\n"+hdrs2+"\nbody\n") + "-------abcd$", Limits{}, ErrIncomplete, ""},
	"empty-buffer":             {"", Limits{}, ErrIncomplete, ""},
	"prefix-of-msrp":           {"MSR", Limits{}, ErrIncomplete, ""},
}

func TestParseErrors(t *testing.T) {
	for name, tc := range parseErrorTests {
		t.Run(name, func(t *testing.T) {
			p := Parser{Limits: tc.limits}
			var m Message
			n, err := p.Parse([]byte(tc.frame), &m)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse = %d, %v; want %v", n, err, tc.err)
			}
			if n != 0 {
				t.Errorf("n = %d, want 0", n)
			}
			if tc.err == ErrIncomplete {
				if err != ErrIncomplete {
					t.Errorf("incomplete error is %T, want the bare sentinel", err)
				}
				return
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FrameError", err)
			}
			if string(fe.TID) != tc.tid || (tc.tid == "") != (fe.TID == nil) {
				t.Errorf("FrameError.TID = %q, want %q", fe.TID, tc.tid)
			}
			wantCode := 400
			if tc.err == ErrBodyTooLarge {
				wantCode = 413
			}
			if fe.StatusCode() != wantCode {
				t.Errorf("StatusCode = %d, want %d", fe.StatusCode(), wantCode)
			}
			if wantReq := !strings.HasPrefix(tc.frame, "MSRP abcd 2") && !strings.HasPrefix(tc.frame, "MSRP abcd 0"); fe.TID != nil && fe.Request != wantReq {
				t.Errorf("FrameError.Request = %v, want %v", fe.Request, wantReq)
			}
			// The parser is reset after an error: the next frame parses.
			if _, err := p.Parse([]byte(rfcOK), &m); err != nil && tc.limits == (Limits{}) {
				t.Errorf("Parse after error: %v", err)
			}
		})
	}
}

// parseSplit feeds frame one byte more at a time, each time in a fresh copy
// of the buffer (as a growing read buffer that moves would), and returns the
// final result.
func parseSplit(t *testing.T, p *Parser, frame string, m *Message) (int, error) {
	t.Helper()
	whole := []byte(frame)
	for k := 0; k <= len(frame); k++ {
		buf := whole[:k]
		if len(frame) < 8192 {
			buf = []byte(frame[:k]) // new backing array each time (small frames only: quadratic)
		}
		n, err := p.Parse(buf, m)
		if errors.Is(err, ErrIncomplete) {
			if n != 0 {
				t.Fatalf("prefix %d: n = %d with ErrIncomplete", k, n)
			}
			continue
		}
		if err == nil && n != k {
			t.Fatalf("prefix %d: complete frame with n = %d before the whole frame", k, n)
		}
		return n, err
	}
	return 0, ErrIncomplete
}

func TestParseSplitEveryByte(t *testing.T) {
	for name, tc := range parseTests {
		t.Run(name, func(t *testing.T) {
			var p Parser
			var m Message
			n, err := parseSplit(t, &p, tc.frame, &m)
			if err != nil || n != len(tc.frame) {
				t.Fatalf("Parse = %d, %v; want %d, nil", n, err, len(tc.frame))
			}
			checkMessage(t, &m, tc.want)
		})
	}
	for name, tc := range parseErrorTests {
		if tc.err == ErrIncomplete {
			continue
		}
		t.Run("error/"+name, func(t *testing.T) {
			p := Parser{Limits: tc.limits}
			var m Message
			_, err := parseSplit(t, &p, tc.frame, &m)
			if !errors.Is(err, tc.err) {
				t.Fatalf("split Parse error %v, want %v", err, tc.err)
			}
		})
	}
}

// TestParseResumeScansOnce checks that resuming does not rescan the body: the
// scan position only moves forward.
func TestParseResumeScansOnce(t *testing.T) {
	var p Parser
	var m Message
	frame := crlf("MSRP abcd SEND\n"+hdrs2+"\n") + strings.Repeat("z", 10000) + "\r\n-------abcd$\r\n"
	last := 0
	for k := 0; k < len(frame); k += 7 {
		if _, err := p.Parse([]byte(frame[:k]), &m); err != ErrIncomplete {
			t.Fatalf("prefix %d: %v", k, err)
		}
		if p.st == stBody {
			if p.off < last || p.off > k {
				t.Fatalf("prefix %d: scan offset %d (previous %d)", k, p.off, last)
			}
			last = p.off
		}
	}
	if last < 10000 {
		t.Errorf("body scan position %d, want near the end", last)
	}
	n, err := p.Parse([]byte(frame), &m)
	if err != nil || n != len(frame) || len(m.Body) != 10000 || string(m.TID) != "abcd" || string(m.ToPath) != "msrp://h/s;tcp" {
		t.Fatalf("Parse = %d, %v, body %d", n, err, len(m.Body))
	}
}

func TestParsePipelined(t *testing.T) {
	var all strings.Builder
	for _, ex := range allExamples {
		all.WriteString(ex.frame)
	}
	buf := []byte(all.String())
	var p Parser
	var m Message
	for i, ex := range allExamples {
		n, err := p.Parse(buf, &m)
		if err != nil {
			t.Fatalf("frame %d (%s): %v", i, ex.name, err)
		}
		if n != len(ex.frame) {
			t.Fatalf("frame %d (%s): n = %d, want %d", i, ex.name, n, len(ex.frame))
		}
		if !bytes.HasPrefix(buf[n-3-len(m.TID):], []byte(string(m.TID))) {
			t.Fatalf("frame %d: end-line does not carry tid %q", i, m.TID)
		}
		buf = buf[n:]
	}
	if n, err := p.Parse(buf, &m); err != ErrIncomplete || n != 0 {
		t.Fatalf("empty rest: %d, %v", n, err)
	}
}

func TestParseZeroAllocs(t *testing.T) {
	frames := [][]byte{[]byte(rfcSend), []byte(rfcReport), []byte(heraldAcquire), []byte(rfcOK)}
	var p Parser
	var m Message
	for _, f := range frames { // warm m.Headers capacity
		if _, err := p.Parse(f, &m); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range frames {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := p.Parse(f, &m); err != nil {
				panic(err)
			}
		})
		if allocs != 0 {
			t.Errorf("frame %d: %v allocs/op, want 0", i, allocs)
		}
	}
	// Resumed parsing allocates nothing either.
	allocs := testing.AllocsPerRun(20, func() {
		f := frames[0]
		for k := 1; k <= len(f); k += 13 {
			_, _ = p.Parse(f[:k], &m)
		}
		if _, err := p.Parse(f, &m); err != nil {
			panic(fmt.Sprint(err))
		}
	})
	if allocs != 0 {
		t.Errorf("resumed: %v allocs/op, want 0", allocs)
	}
}

// TestParseResumedAliasesLastBuffer checks that after a resumed parse every
// slice of m aliases the buffer of the last call, not an earlier read buffer.
func TestParseResumedAliasesLastBuffer(t *testing.T) {
	var p Parser
	var m Message
	if _, err := p.Parse([]byte(rfcSend[:len(rfcSend)-5]), &m); err != ErrIncomplete {
		t.Fatal(err)
	}
	buf := []byte(rfcSend)
	if _, err := p.Parse(buf, &m); err != nil {
		t.Fatal(err)
	}
	in := func(b []byte) bool {
		if len(b) == 0 {
			return false
		}
		for i := range buf { // no pointer arithmetic: find the exact element
			if &buf[i] == &b[0] {
				return i+len(b) <= len(buf) && &buf[i+len(b)-1] == &b[len(b)-1]
			}
		}
		return false
	}
	for name, b := range map[string][]byte{"TID": m.TID, "Method": m.Method, "ToPath": m.ToPath,
		"FromPath": m.FromPath, "MessageID": m.MessageID, "ContentType": m.ContentType, "Body": m.Body,
		"Headers[0].Name": m.Headers[0].Name, "Headers[4].Value": m.Headers[4].Value} {
		if !in(b) {
			t.Errorf("%s does not alias the last buffer", name)
		}
	}
}

// TestParseContractViolation: a caller that changes or shrinks the buffer
// between calls gets an error or a fresh parse, never a panic.
func TestParseContractViolation(t *testing.T) {
	tests := map[string]struct {
		first, second string
		err           error
	}{
		"head-rewritten": {rfcSend[:len(rfcSend)-5], strings.Replace(rfcSend, "\r\nFrom-Path", "xxFrom-Path", 1), ErrMalformed},
		"start-line-cut": {rfcSend[:len(rfcSend)-5], strings.Replace(rfcSend, "\r\nTo-Path", "xxTo-Path", 1), ErrMalformed},
		"buffer-shrunk":  {rfcSend[:len(rfcSend)-5], rfcOK, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var p Parser
			var m Message
			if _, err := p.Parse([]byte(tc.first), &m); err != ErrIncomplete {
				t.Fatal(err)
			}
			if _, err := p.Parse([]byte(tc.second), &m); !errors.Is(err, tc.err) {
				t.Fatalf("Parse = %v, want %v", err, tc.err)
			}
		})
	}
}
