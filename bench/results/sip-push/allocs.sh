#!/bin/bash
# allocs.sh BIN MIX RATE [SECS] [PROF]: what Herald allocates per call, from its own go_memstats
# (bytes and objects, /metrics) over SECS (default 10) seconds in the middle of a push.sh run of MIX
# (plain, caller, both...) at RATE calls/s; with PROF, the allocation profile at both ends of the
# window (PROF.0, PROF.1: go tool pprof -sample_index=alloc_objects -base PROF.0 BIN PROF.1).
# Allocation counts are a low-noise yardstick where CPU per call moves ±8% between runs on this box.
# Setup as in push.sh's header. Run: 600 calls/s, 10 s: plain 4.1 KiB / 33 objects per call.
BIN=$1; MIX=$2; RATE=$3; SECS=${4:-10}; PROF=$5
cd /tmp/perf || exit 1
while pgrep -f "loadgen run" >/dev/null || pgrep -f " serve -c /tmp/perf" > /dev/null; do sleep 1; done
MIX=$MIX=100 ./push.sh "$BIN" "alloc-$MIX" "$RATE" "$((SECS+10))s" >/dev/null 2>&1 &
PS=$!
sleep 8
m() { curl -s http://127.0.0.1:17090/metrics | awk '/^go_memstats_alloc_bytes_total /{b=$2} /^go_memstats_mallocs_total /{n=$2} END{printf "%.0f %.0f\n", b, n}'; }
[ -n "$PROF" ] && curl -s -o "$PROF.0" http://127.0.0.1:17090/debug/pprof/allocs
a=($(m)); sleep "$SECS"; b=($(m))
[ -n "$PROF" ] && curl -s -o "$PROF.1" http://127.0.0.1:17090/debug/pprof/allocs
wait $PS
python3 - "$MIX" "$RATE" "$SECS" "${a[@]}" "${b[@]}" <<'PY'
import json, sys
mix, rate, secs, ab, an, bb, bn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *map(float, sys.argv[4:8])
s = json.load(open(f"runs/alloc-{mix}.json"))["steps"][0]
calls = rate * secs
print(f"{mix}: {(bb - ab) / calls / 1024:.1f} KiB/call, {(bn - an) / calls:.0f} objects/call; "
      f"run {s['completed']}/{s['attempted']}, {s['herald']['cpu_ms_per_call']} CPU-ms/call")
PY
