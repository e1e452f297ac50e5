#!/bin/bash
# ratio.sh TAG RATE STEP ROUNDS BIN [BIN2]: the push call's CPU against the plain call's, measured
# side by side. Each round runs, on a fresh Herald each time (push.sh), plain forwarding
# (MIX=plain=100) and then the push flow (both cards + 199, pages fetched over MSRP: mix both=100),
# at the same RATE for STEP, for BIN and then for BIN2 if given; at the end it prints every run and,
# per binary, the median CPU-ms per call of each kind over its clean runs and their ratio (push /
# plain); a run that is not clean (a failed call or a kernel UDP drop) is listed and left out of the
# medians. With two binaries it also prints each push median against one plain figure pooled from
# every binary's runs, the steadier yardstick when they share the plain path (session 13: the same
# plain code read 0.16 one day and 0.20 ms the next, and single-binary ratios 2.95-3.76x in one run).
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
allplain, pushmed = [], {}
for i, b in enumerate(bins):
    cpu = {"plain": [], "push": []}
    dropped = 0
    for r in range(1, rounds + 1):
        for kind in cpu:
            f = f"runs/{tag}-b{i}-r{r}-{kind}.json"
            s = json.load(open(f))["steps"][0]
            c = s["herald"]["cpu_ms_per_call"]
            clean = not s["failed"] and s["kernel"]["udp_rcvbuf_errors"] == 0
            if clean:
                cpu[kind].append(c)
            else:
                dropped += 1
            print(f"{b} round {r} {kind:5}: {c:.3f} ms/call, {s['completed']}/{s['attempted']} completed, "
                  f"failed {s['failed'] or 0}, udp drops {s['kernel']['udp_rcvbuf_errors']}, "
                  f"rss {s['herald']['rss_peak_mb']:.0f} MB{'' if clean else '  (not clean: left out of the medians)'}")
    if not cpu["plain"] or not cpu["push"]:
        print(f"{b}: no clean run of one kind")
        continue
    pl, pu = statistics.median(cpu["plain"]), statistics.median(cpu["push"])
    allplain += cpu["plain"]
    pushmed[b] = pu
    print(f"{b}: median plain {pl:.3f}, push {pu:.3f} ms/call -> {pu / pl:.2f}x "
          f"(clean runs only; {dropped} left out)")
# The plain call's figure moves between runs more than the push call's (it is a quarter of the
# CPU, so the same absolute noise weighs four times as much). When the binaries share the plain
# path, one plain figure from all their runs is the steadier yardstick.
if len(pushmed) > 1:
    ap = statistics.median(allplain)
    print(f"plain pooled over every binary ({len(allplain)} clean runs; meaningful only when the binaries "
          f"share the plain path): {ap:.3f} ms/call -> " + ", ".join(f"{b} {pu / ap:.2f}x" for b, pu in pushmed.items()))
PY
