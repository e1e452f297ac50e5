#!/bin/bash
# profile.sh: profile one server child of the MSRP benchmark (bench/results/history/msrp-plane.md, Session 2).
#
#   flock /tmp/herald-bench.lock bench/msrpbench/profile.sh perf   <msrpbench binary> <out prefix> herald|baseline
#   flock /tmp/herald-bench.lock bench/msrpbench/profile.sh strace <msrpbench binary> <out prefix> herald|baseline
#
# perf:   -runs 3 -hold 0 -rounds 24; perf record -F 4999 -g on the second run's child for 2.5 s of its load
#         (after its 1,000 warm-up fetches and 1 s idle window) -> <prefix>.perf.data
# strace: -runs 1 -hold 0; strace -f -c on the child for its whole life (1,000 warm-up + 8,000 measured
#         deliveries) -> <prefix>.strace; divide the counts by 9,000
# Build the binary first (go build -o /tmp/msrpbench ./bench/msrpbench/cmd/msrpbench) so that compilation
# stays out of the lock.
set -eu
MODE=$1 BIN=$2 OUT=$3 KIND=$4
case "$MODE" in
perf)
	"$BIN" -runs 3 -hold 0 -rounds 24 -servers "$KIND" >"$OUT.bench.out" 2>"$OUT.bench.err" &
	BP=$!
	seen=0 last=""
	while kill -0 "$BP" 2>/dev/null; do
		C=$(pgrep -P "$BP" | head -1 || true)
		if [ -n "$C" ] && [ "$C" != "$last" ]; then
			last=$C seen=$((seen + 1))
			if [ "$seen" -eq 2 ]; then
				sleep 1.6
				perf record -F 4999 -g -p "$C" -o "$OUT.perf.data" -- sleep 2.5 >/dev/null 2>&1 || true
			fi
		fi
		sleep 0.05
	done
	wait "$BP"
	;;
strace)
	"$BIN" -runs 1 -hold 0 -servers "$KIND" >"$OUT.bench.out" 2>"$OUT.bench.err" &
	BP=$!
	C=""
	while [ -z "$C" ]; do
		C=$(pgrep -P "$BP" | head -1 || true)
		sleep 0.01
	done
	strace -f -c -p "$C" -o "$OUT.strace" 2>/dev/null &
	SP=$!
	wait "$BP"
	wait "$SP"
	;;
*)
	echo "usage: $0 perf|strace <msrpbench binary> <out prefix> herald|baseline" >&2
	exit 2
	;;
esac
