#!/bin/bash
# ratio.sh TAG RATE STEP ROUNDS BIN [BIN2]: the push call's CPU against the plain call's, measured
# side by side. Each round runs, on a fresh Herald each time (push.sh), plain forwarding
# (MIX=plain=100) and then the push flow (both cards + 199, pages fetched over MSRP: mix both=100),
# at the same RATE for STEP, for BIN and then for BIN2 if given; at the end it prints every run and,
# per binary, the median CPU-ms per call of each kind, their ratio (push / plain), and the runs that
# were not clean (a failed call or a kernel UDP drop: read that round's figures with care).
# Setup as in push.sh's header. Raw data: /tmp/perf/runs/TAG-*.
TAG=$1; RATE=$2; STEP=$3; ROUNDS=$4; shift 4
BINS=("$@")
cd /tmp/perf || exit 1
for r in $(seq "$ROUNDS"); do
	for i in "${!BINS[@]}"; do
		MIX=plain=100 ./push.sh "${BINS[$i]}" "$TAG-b$i-r$r-plain" "$RATE" "$STEP" > /dev/null 2>&1
		MIX=both=100 ./push.sh "${BINS[$i]}" "$TAG-b$i-r$r-push" "$RATE" "$STEP" > /dev/null 2>&1
	done
done
python3 - "$TAG" "$ROUNDS" "${BINS[@]}" <<'PY'
import json, statistics, sys
tag, rounds, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for i, b in enumerate(bins):
    cpu = {"plain": [], "push": []}
    for r in range(1, rounds + 1):
        for kind in cpu:
            f = f"runs/{tag}-b{i}-r{r}-{kind}.json"
            s = json.load(open(f))["steps"][0]
            c = s["herald"]["cpu_ms_per_call"]
            cpu[kind].append(c)
            clean = not s["failed"] and s["kernel"]["udp_rcvbuf_errors"] == 0
            print(f"{b} round {r} {kind:5}: {c:.3f} ms/call, {s['completed']}/{s['attempted']} completed, "
                  f"failed {s['failed'] or 0}, udp drops {s['kernel']['udp_rcvbuf_errors']}, "
                  f"rss {s['herald']['rss_peak_mb']:.0f} MB{'' if clean else '  (not clean)'}")
    pl, pu = statistics.median(cpu["plain"]), statistics.median(cpu["push"])
    ratios = [p / q for p, q in zip(cpu["push"], cpu["plain"])]
    print(f"{b}: median plain {pl:.3f}, push {pu:.3f} ms/call -> {pu / pl:.2f}x "
          f"(per round {', '.join(f'{x:.2f}' for x in ratios)})")
PY
