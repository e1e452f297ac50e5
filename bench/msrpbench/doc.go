// Package msrpbench measures the MSRP plane (netio/msrp, gnet) against a goroutine-per-connection MSRP
// server written with Go's net package for the comparison ([Baseline]), under one load generator of
// simulated terminals ([RunLoad], [Hold]).
//
// Both servers speak the same protocol (RFC 4975 push model with the terminal active, Herald's page
// push): the terminal connects and sends a bodiless SEND whose To-Path carries a registered session-id;
// the server answers 200 and pushes the page as SEND chunks of at most 2048 body bytes (Byte-Range,
// Success-Report: yes, Failure-Report: yes); the terminal answers 200 to each chunk and sends a success
// REPORT covering the whole page; the server reports Delivered for the session and closes (at once when
// it has consumed everything the terminal sent and has nothing left to send, otherwise it half-closes and
// waits for the terminal's close), and the terminal closes.
//
// The benchmark tool (cmd/msrpbench) runs each server in a child process of the same binary (re-executed
// with [ChildEnv] set) so that the server's CPU time (getrusage in the child) and resident memory
// (/proc/<pid>/status VmRSS) are isolated from the load generator's. The parent drives the child through
// a line protocol on the child's stdin and stdout (see [Child]).
//
// Nothing here is part of the Herald binary; the baseline is deliberately competent (4 KiB growable read
// buffer reused across frames, one writev per page of slices of the shared page body, phase deadlines
// rather than per-read timers, pooled scratch, the same close and the same TCP options as netio/msrp:
// no TCP keep-alive) so that the comparison is credible.
package msrpbench
