// Package cpu pins OS threads to CPUs for Herald's network planes (the RTP timing wheels and the gnet
// MSRP event loops), as ops configure it under cpu: in the config file.
//
// Go schedules goroutines, not threads, so a pin only means something for a goroutine that is locked
// to its OS thread: call runtime.LockOSThread first, then [Pin] (or use [LoopPinner], which locks for
// you). The runtime never clones a new thread from a locked one (it asks its template thread), so the
// pinned mask does not leak into threads created later.
//
// A pinned thread must not go back to the scheduler's pool with its narrow mask: either call the
// restore function [Pin] returns before runtime.UnlockOSThread, or let the goroutine exit while still
// locked, which makes the runtime end the thread (or park it for good, if it is the main thread).
// [LoopPinner] does the latter, because gnet unlocks its loop threads when they exit
// (WithLockOSThread defers runtime.UnlockOSThread).
//
// [Available] is the set of CPUs the process was allowed to run on at start (sched_getaffinity(2) of
// the main thread during package initialisation); [Check] and [Pin] refuse CPUs outside it with
// [ErrNotAllowed]. CPU ids are limited to 0..1023 (the size of the kernel mask unix.CPUSet holds).
//
// The package is Linux only; elsewhere every call returns [ErrUnsupported] and [Available] is empty.
package cpu
