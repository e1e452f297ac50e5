#!/bin/bash
# abpush.sh TAG RATE STEP ROUNDS BIN...: the push flow only, binaries alternated per round; prints
# every run's Herald CPU-ms per call and each binary's median over clean runs.
# Setup as in push.sh's header; binaries by full path (push.sh runs "env $BIN").
TAG=$1; RATE=$2; STEP=$3; ROUNDS=$4; shift 4
cd /tmp/perf || exit 1
for r in $(seq "$ROUNDS"); do
	for i in $(seq 0 $(($# - 1))); do
		b=$(eval echo \${$((i + 1))})
		MIX=both=100 ./push.sh "$b" "$TAG-b$i-r$r" "$RATE" "$STEP" > /dev/null 2>&1
	done
done
python3 - "$TAG" "$ROUNDS" "$@" <<'PY'
import json, statistics, sys
tag, rounds, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for i, b in enumerate(bins):
    c = []
    for r in range(1, rounds + 1):
        s = json.load(open(f"runs/{tag}-b{i}-r{r}.json"))["steps"][0]
        ok = not s["failed"] and s["kernel"]["udp_rcvbuf_errors"] == 0
        if ok: c.append(s["herald"]["cpu_ms_per_call"])
        print(f"{b} r{r}: {s['herald']['cpu_ms_per_call']:.3f} ms/call, gen {s['gen']}, rss {s['herald']['rss_peak_mb']:.0f} MB{'' if ok else ' (not clean)'}")
    if c: print(f"{b}: median {statistics.median(c):.3f} ms/call over {len(c)} clean runs")
PY
