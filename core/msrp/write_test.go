package msrp

import (
	"bytes"
	"strings"
	"testing"
)

var (
	toPath   = []byte("msrp://10.1.2.3:9/aQ3xT8pR;tcp")
	fromPath = []byte("msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp")
)

func TestAppendByteRange(t *testing.T) {
	tests := map[string]struct {
		br   ByteRange
		want string
	}{
		"first-chunk":  {ByteRange{1, 2048, 18432}, "1-2048/18432"},
		"unknown-end":  {ByteRange{1, -1, 18432}, "1-*/18432"},
		"all-unknown":  {ByteRange{1, -1, -1}, "1-*/*"},
		"empty-body":   {ByteRange{1, 0, 0}, "1-0/0"},
		"last-chunk":   {ByteRange{16385, 18432, 18432}, "16385-18432/18432"},
		"total-absent": {ByteRange{5, 9, -1}, "5-9/*"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := AppendByteRange(nil, tc.br)
			if string(got) != tc.want {
				t.Fatalf("AppendByteRange = %q, want %q", got, tc.want)
			}
			br, ok := parseByteRange(got)
			if !ok || br != tc.br {
				t.Errorf("parseByteRange(%q) = %+v, %v", got, br, ok)
			}
		})
	}
}

func TestAppendSendChunkRoundTrip(t *testing.T) {
	body := []byte("<!DOCTYPE html><html>\r\n-------notme$\r\n</html>")
	tests := map[string]struct {
		disposition string
		flag        byte
		br          ByteRange
	}{
		"render-more":     {"render", FlagMore, ByteRange{1, int64(len(body)), 18432}},
		"no-disposition":  {"", FlagEnd, ByteRange{1, int64(len(body)), int64(len(body))}},
		"abort":           {"render", FlagAbort, ByteRange{2049, 2048 + int64(len(body)), 18432}},
		"unknown-lengths": {"", FlagMore, ByteRange{1, -1, -1}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tid := NewTID()
			msgID := NewMessageID()
			frame := AppendSendChunkHead(nil, tid, toPath, fromPath, msgID, tc.br, "text/html;charset=utf-8", tc.disposition)
			frame = append(frame, body...)
			frame = AppendEndLine(frame, tid, tc.flag, true)
			var p Parser
			var m Message
			n, err := p.Parse(frame, &m)
			if err != nil || n != len(frame) {
				t.Fatalf("Parse = %d, %v (frame %q)", n, err, frame)
			}
			nh := 8
			if tc.disposition == "" {
				nh = 7
			}
			checkMessage(t, &m, want{
				tid: tid, method: "SEND", to: string(toPath), from: string(fromPath), msgID: msgID,
				br: &tc.br, success: "yes", failure: "yes", ctype: "text/html;charset=utf-8",
				nHeaders: nh, body: strp(string(body)), flag: tc.flag,
			})
			if got := string(m.Header("Content-Disposition")); got != tc.disposition {
				t.Errorf("Content-Disposition = %q", got)
			}
			if last := m.Headers[len(m.Headers)-1]; string(last.Name) != "Content-Type" {
				t.Errorf("last header %q, want Content-Type (RFC 4975 §9)", last.Name)
			}
		})
	}
}

func TestAppendReportRoundTrip(t *testing.T) {
	br := ByteRange{1, 18432, 18432}
	frame := AppendReport(nil, "9xq2LmR0", fromPath, toPath, "4564dpWd", br, 200, "OK")
	want := crlf(`MSRP 9xq2LmR0 REPORT
To-Path: msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp
From-Path: msrp://10.1.2.3:9/aQ3xT8pR;tcp
Message-ID: 4564dpWd
Byte-Range: 1-18432/18432
Status: 000 200 OK
-------9xq2LmR0$
`) // the success REPORT of RFC 4975 §7.1.2, as a terminal sends it after the last chunk
	if string(frame) != want {
		t.Fatalf("AppendReport =\n%s\nwant\n%s", frame, want)
	}
	var p Parser
	var m Message
	if n, err := p.Parse(frame, &m); err != nil || n != len(frame) {
		t.Fatalf("Parse = %d, %v", n, err)
	}
	if code, err := m.ReportStatus(); err != nil || code != 200 {
		t.Errorf("ReportStatus = %d, %v", code, err)
	}
	if !m.HasByteRange || m.ByteRange != br || m.Body != nil || m.Flag != FlagEnd {
		t.Errorf("parsed %+v", m)
	}
}

func TestAppendResponse(t *testing.T) {
	tests := map[string]struct {
		code    int
		comment string
		want    string
	}{
		"200-ok": {200, "OK", rfcOK},
		"481": {481, StatusText(481), crlf(`MSRP a786hjs2 481 Session does not exist
To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp
From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp
-------a786hjs2$
`)},
		"no-comment": {413, "", crlf(`MSRP a786hjs2 413
To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp
From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp
-------a786hjs2$
`)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := AppendResponse(nil, "a786hjs2", tc.code, tc.comment,
				[]byte("msrp://atlanta.example.com:7654/jshA7weztas;tcp"),
				[]byte("msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp"))
			if string(got) != tc.want {
				t.Fatalf("AppendResponse =\n%q\nwant\n%q", got, tc.want)
			}
			var p Parser
			var m Message
			if _, err := p.Parse(got, &m); err != nil || m.Status != tc.code || string(m.Comment) != tc.comment {
				t.Errorf("Parse: %v, status %d comment %q", err, m.Status, m.Comment)
			}
		})
	}
}

func TestAppendRequestHead(t *testing.T) {
	hdrs := []Header{
		{Name: []byte("To-Path"), Value: fromPath},
		{Name: []byte("From-Path"), Value: toPath},
		{Name: []byte("Message-ID"), Value: []byte("87652491")},
		{Name: []byte("Byte-Range"), Value: []byte("1-0/0")},
	}
	t.Run("bodiless-acquire", func(t *testing.T) {
		got := AppendRequestHead(nil, "a786hjs2", "SEND", hdrs, false)
		got = AppendEndLine(got, "a786hjs2", FlagEnd, false)
		if string(got) != heraldAcquire {
			t.Fatalf("got\n%q\nwant\n%q", got, heraldAcquire)
		}
	})
	t.Run("with-body", func(t *testing.T) {
		h := append(hdrs[:3:3], Header{Name: []byte("Content-Type"), Value: []byte("text/plain")})
		got := AppendRequestHead(nil, "a786hjs2", "SEND", h, true)
		got = append(got, "hi"...)
		got = AppendEndLine(got, "a786hjs2", FlagMore, true)
		var p Parser
		var m Message
		if n, err := p.Parse(got, &m); err != nil || n != len(got) || string(m.Body) != "hi" || m.Flag != FlagMore {
			t.Fatalf("Parse = %d, %v, %+v", n, err, m)
		}
	})
}

// TestAppendMessageRoundTrip re-serializes every example and parses it again.
func TestAppendMessageRoundTrip(t *testing.T) {
	for _, ex := range allExamples {
		t.Run(ex.name, func(t *testing.T) {
			var p Parser
			var m1, m2 Message
			if _, err := p.Parse([]byte(ex.frame), &m1); err != nil {
				t.Fatal(err)
			}
			out := AppendMessage(nil, &m1)
			n, err := p.Parse(out, &m2)
			if err != nil || n != len(out) {
				t.Fatalf("reparse = %d, %v\n%q", n, err, out)
			}
			if d := diffMessages(&m1, &m2); d != "" {
				t.Fatal(d)
			}
			// The examples are canonical already, so the bytes are identical.
			if string(out) != ex.frame {
				t.Errorf("AppendMessage =\n%q\nwant\n%q", out, ex.frame)
			}
		})
	}
}

// diffMessages returns "" if a and b are equal field by field.
func diffMessages(a, b *Message) string {
	var d strings.Builder
	cmp := func(name string, x, y []byte) {
		if !bytes.Equal(x, y) || (x == nil) != (y == nil) && name != "Comment" {
			d.WriteString(name + ": " + strings.TrimSpace(strings.Join([]string{string(x), "!=", string(y)}, " ")) + "\n")
		}
	}
	cmp("TID", a.TID, b.TID)
	cmp("Method", a.Method, b.Method)
	cmp("Comment", a.Comment, b.Comment)
	cmp("ToPath", a.ToPath, b.ToPath)
	cmp("FromPath", a.FromPath, b.FromPath)
	cmp("MessageID", a.MessageID, b.MessageID)
	cmp("SuccessReport", a.SuccessReport, b.SuccessReport)
	cmp("FailureReport", a.FailureReport, b.FailureReport)
	cmp("StatusHeader", a.StatusHeader, b.StatusHeader)
	cmp("ContentType", a.ContentType, b.ContentType)
	cmp("Body", a.Body, b.Body)
	if a.Status != b.Status || a.ByteRange != b.ByteRange || a.HasByteRange != b.HasByteRange || a.Flag != b.Flag {
		d.WriteString("Status/ByteRange/Flag differ\n")
	}
	if len(a.Headers) != len(b.Headers) {
		d.WriteString("Headers length differs\n")
	} else {
		for i := range a.Headers {
			cmp("Header name", a.Headers[i].Name, b.Headers[i].Name)
			cmp("Header value", a.Headers[i].Value, b.Headers[i].Value)
		}
	}
	return d.String()
}

func TestAppendZeroAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	br := ByteRange{1, 2048, 18432}
	tests := map[string]func(){
		"send-chunk-head": func() {
			_ = AppendSendChunkHead(dst[:0], "dkei38sd", toPath, fromPath, "4564dpWd", br, "text/html", "render")
		},
		"report":   func() { _ = AppendReport(dst[:0], "dkei38sd", toPath, fromPath, "4564dpWd", br, 200, "OK") },
		"response": func() { _ = AppendResponse(dst[:0], "dkei38sd", 200, "OK", toPath, fromPath) },
		"end-line": func() { _ = AppendEndLine(dst[:0], "dkei38sd", FlagMore, true) },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			if a := testing.AllocsPerRun(100, f); a != 0 {
				t.Errorf("%v allocs/op, want 0", a)
			}
		})
	}
}
