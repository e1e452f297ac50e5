package sipfast

import "testing"

// TestStripViaExact: the response relayed upstream loses Herald's Via value only (its own line,
// or the first value of a line with more), and is allocated to its exact size, since a final
// response is kept 64·T1 per finished transaction.
func TestStripViaExact(t *testing.T) {
	const rest = "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c@x\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct{ name, in, want string }{{
		name: "own line",
		in:   "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKhrld1\r\nVia: SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKu\r\n" + rest,
		want: "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKu\r\n" + rest,
	}, {
		name: "first of two values",
		in:   "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKhrld1, SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKu\r\n" + rest,
		want: "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5061;branch=z9hG4bKu\r\n" + rest,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var m fmsg
			if !m.scan([]byte(tc.in)) {
				t.Fatal("scan refused the response")
			}
			got := stripVia(&m)
			if string(got) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
			if cap(got) != len(got) {
				t.Fatalf("cap %d for %d bytes", cap(got), len(got))
			}
		})
	}
}
