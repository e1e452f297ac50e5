package uesim

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestRawCallID: the Call-ID the callee's raw-read hook finds without parsing is the one sipgo
// parses, or it defers to the parser.
func TestRawCallID(t *testing.T) {
	const head = "ACK sip:bob@127.0.0.1:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n" +
		"From: <sip:alice@a>;tag=1\r\nTo: <sip:bob@b>;tag=2\r\nCSeq: 1 ACK\r\n"
	tests := map[string]struct {
		msg    string
		want   string
		wantOK bool
	}{
		"plain":      {head + "Call-ID: abc@x\r\nContent-Length: 0\r\n\r\n", "abc@x", true},
		"compact":    {head + "i:  abc@x \r\nContent-Length: 0\r\n\r\n", "abc@x", true},
		"lower case": {head + "call-id:abc@x\r\n\r\n", "abc@x", true},
		"in body":    {head + "Content-Length: 15\r\n\r\nCall-ID: other\r\n", "", false},
		"folded":     {head + "Call-ID: abc\r\n @x\r\n\r\n", "", false},
		"twice":      {head + "Call-ID: a\r\nCall-ID: b\r\n\r\n", "", false},
		"none":       {head + "\r\n", "", false},
	}
	for name, tc := range tests {
		got, ok := rawCallID([]byte(tc.msg))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: rawCallID = %q, %v; want %q, %v", name, got, ok, tc.want, tc.wantOK)
		}
		if !ok {
			continue
		}
		msg, err := sip.ParseMessage([]byte(tc.msg))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p := callID(msg); p != got {
			t.Errorf("%s: sipgo parses Call-ID %q, rawCallID %q", name, p, got)
		}
	}
}
