#!/bin/bash
# overload.sh BIN TAG RATE [SOAK]: Herald made the bottleneck on purpose, then run with shedding off
# and on (limits.shed_queue 0, then the default 16). Herald runs on CPU 0 with GOMAXPROCS=1
# beside a CPU hog of the same priority (so it gets about half of CPU 0), the generator alone on
# CPU 1 (-procs 1); RATE push calls/s (both cards + 199, pages fetched: push.sh) for SOAK (default
# 60s) after push.sh's ramp. For each run it prints the generator's summary line and, from Herald's
# /metrics 40 s in, herald_sip_shed_total: calls Herald forwarded plain, which the generator
# counts as no_push (their SIP completed, their pages were never offered); and every second
# herald_overload_run_queue, the signal, into runs/TAG-MODE.runq.
# Setup as in push.sh's header. Raw data: /tmp/perf/runs/TAG-off.*, TAG-on.*. About 2 × (SOAK + 20 s).
set -u
BIN=$1; TAG=$2; RATE=$3; SOAK=${4:-60s}
cd /tmp/perf || exit 1
taskset -c 0 sh -c 'while :; do :; done' &
HOG=$!
trap 'kill $HOG 2>/dev/null' EXIT
for mode in off on; do
	cfg=/tmp/perf/pcfg/overload-$mode.yaml; : > runs/$TAG-$mode.runq
	q=16; [ $mode = off ] && q=0
	sed "s/^limits:$/limits:\n  shed_queue: $q/" /tmp/perf/pcfg/herald.yaml > $cfg
	# push.sh's Herald: pinned to CPU 0; push.sh and the generator it starts: CPU 1.
	( sleep 40; curl -s http://127.0.0.1:17090/metrics | grep -E '^herald_sip_shed_total|^herald_overload_(shed_share|run_queue)' > runs/$TAG-$mode.shed ) &
	PEEK=$!
	# The monitor's signal every second (herald_overload_run_queue: the run queue's 10th percentile
	# over the last second), exported with shedding off too.
	( sleep 3; while curl -s http://127.0.0.1:17090/metrics | awk '/^herald_overload_run_queue /{printf "%s ", $2; f=1} END{exit !f}' >> runs/$TAG-$mode.runq; do sleep 1; done ) &
	SAMP=$!
	CFG=$cfg HENV=GOMAXPROCS=1 LGARGS="-procs 1" taskset -c 1 ./push.sh "taskset -c 0 $BIN" "$TAG-$mode" "$RATE" 10s "$SOAK" > /dev/null 2>&1
	kill $SAMP 2>/dev/null
	wait $PEEK
	echo "shed_queue $q: $(grep '^step' runs/$TAG-$mode.txt)"
	echo "  Herald at 40 s: $(tr '\n' ' ' < runs/$TAG-$mode.shed)"
done
