package msrp

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herald-ims/herald/core/msrp"
	"github.com/herald-ims/herald/core/push"
)

// TestTsharkDecodesEveryFrame captures on lo while Herald delivers a page, refuses an unknown session
// (481), answers an unknown method (501) and aborts a transfer with '#', then asserts that Wireshark's
// MSRP dissector finds no malformed packet or expert error and decodes exactly the frames the terminals
// sent and received, start line for start line.
func TestTsharkDecodesEveryFrame(t *testing.T) {
	requirePeer(t, "tshark")
	o := testOptions()
	o.MaxOutbound = 16 << 10
	s := startServer(t, o)
	_, port := s.Addr()
	capt := startCapture(t, fmt.Sprintf("tcp port %d", port))

	var lines []string
	// 1. A full delivery.
	page := htmlPage(t, 18432)
	sess := openSession(t, s, push.CallerCard, page, 10*time.Second)
	c := dial(t, s)
	c.rec = &lines
	if _, res := fetch(t, c, sess, s.PathURI(sess.ID)); res.Outcome != push.Delivered {
		t.Fatalf("result %+v", res)
	}
	c.expectClosed(3 * time.Second)

	// 2. An unknown session, then an unknown method on the same connection.
	c2 := dial(t, s)
	c2.rec = &lines
	c2.bind(s.PathURI("unknownsession"))
	if f := c2.mustNext(2 * time.Second); f.Status != 481 {
		t.Fatalf("answer %+v", f)
	}
	tid := msrp.NewTID()
	c2.write([]byte("MSRP " + tid + " NICKNAME\r\nTo-Path: " + s.PathURI("x") + "\r\nFrom-Path: " + c2.path +
		"\r\n-------" + tid + "$\r\n"))
	c2.record("MSRP " + tid + " NICKNAME")
	if f := c2.mustNext(2 * time.Second); f.Status != 501 {
		t.Fatalf("answer %+v", f)
	}
	_ = c2.conn.Close()

	// 3. A transfer aborted with '#'.
	big := bigPage(8 << 20) // more than the kernel may buffer (tcp_wmem max 4 MiB): the transfer cannot finish before Close
	sess3 := openSession(t, s, push.CallerCard, big, 10*time.Second)
	c3 := dial(t, s, withRcvBuf(8<<10))
	c3.rec = &lines
	c3.bind(s.PathURI(sess3.ID))
	c3.mustNext(2 * time.Second)
	c3.mustNext(2 * time.Second)
	s.Close(sess3.ID)
	fs := c3.expectClosed(3 * time.Second)
	if len(fs) == 0 || fs[len(fs)-1].Flag != msrp.FlagAbort {
		res := waitResult(t, sess3, time.Second)
		t.Fatalf("no '#' chunk: %d frames after Close, result %+v", len(fs), res)
	}
	capt.stop(t)

	bad := tsharkRead(t, capt.file, "-d", fmt.Sprintf("tcp.port==%d,msrp", port),
		"-Y", "_ws.malformed || _ws.expert.severity >= error")
	if strings.TrimSpace(bad) != "" {
		t.Fatalf("tshark reports malformed or erroneous packets:\n%s", bad)
	}
	out := tsharkRead(t, capt.file, "-d", fmt.Sprintf("tcp.port==%d,msrp", port), "-Y", "msrp",
		"-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-e", "msrp.request.line", "-e", "msrp.response.line")
	var got []string
	for _, l := range strings.Split(out, "\n") {
		for _, f := range strings.Split(l, "\t") {
			for _, x := range strings.Split(f, "|") {
				if x = strings.TrimSpace(x); x != "" {
					got = append(got, x)
				}
			}
		}
	}
	// Wireshark 4.0's MSRP dissector decodes only the first MSRP frame of each TCP segment (it does not
	// loop over the PDUs of a segment), and Herald batches: the bind's 200 leads the writev of the first
	// chunks, up to 16 chunks per writev. So: every decoded frame must be one the terminals saw, every
	// frame that starts a segment (each terminal request and response, every bind answer, 481, 501) must
	// be decoded, and chunks must be decoded at least where they start a segment.
	seen := map[string]bool{}
	var mustDecode []string
	for _, l := range lines {
		line := l[2:]
		seen[line] = true
		if !strings.HasPrefix(l, "< ") || !strings.HasSuffix(l, " SEND") {
			mustDecode = append(mustDecode, line)
		}
	}
	decoded := map[string]bool{}
	chunks := 0
	for _, g := range got {
		if !seen[g] {
			t.Errorf("tshark decoded a frame no terminal saw: %q", g)
		}
		if decoded[g] {
			t.Errorf("tshark decoded %q twice", g)
		}
		decoded[g] = true
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "< ") && strings.HasSuffix(l, " SEND") && decoded[l[2:]] {
			chunks++
		}
	}
	for _, m := range mustDecode {
		if !decoded[m] {
			t.Errorf("tshark did not decode %q", m)
		}
	}
	if chunks < 1 {
		t.Errorf("tshark decoded only %d page chunks", chunks)
	}
	t.Logf("tshark decoded %d of %d frames (%d page chunks); no malformed packets or expert errors", len(got), len(lines), chunks)
}
