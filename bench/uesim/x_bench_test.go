package uesim

import (
	"context"
	"testing"
	"time"
)

// BenchmarkDirectCall measures one whole simulated call (INVITE, reliable 180, PRACK, 200, ACK,
// BYE) between a Caller and a Callee on loopback, both in this process.
func BenchmarkDirectCall(b *testing.B) {
	callee, err := NewCallee(CalleeOptions{RingTime: -1, Logger: discard(), WireLog: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer callee.Close()
	caller, err := NewCaller(CallerOptions{HoldTime: -1, Logger: discard(), WireLog: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer caller.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := caller.Call(ctx, callee.Addr(), "sip:alice@home1.net", "sip:bob@home2.net")
		if err != nil || res.Final != 200 {
			b.Fatal(res.Final, err)
		}
	}
}

// BenchmarkFetch measures one MSRP acquisition (connect, bodiless SEND, page in 2048-byte
// chunks with 200s, REPORT) of an 18 KB page from an in-process push server.
func BenchmarkFetch(b *testing.B) {
	page := testPage(18432)
	s := newPushServer(b, page)
	o := FetchOptions{Addr: s.ln.Addr().String(), ToPath: s.path(), FromPath: "msrp://127.0.0.1:9/bench1;tcp",
		Size: int64(len(page)), Hash: HashSelector(page), Timeout: 5 * time.Second}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := Fetch(ctx, o)
		if err != nil || len(res.Page) != len(page) {
			b.Fatal(err)
		}
	}
}
