#!/bin/bash
# udpab.sh OUT ROUNDS RATE OLD NEW: plain forwarding over UDP (sippbench target herald-plain) with
# Herald binary OLD, then NEW, ROUNDS alternated rounds at RATE calls/s for 10 s each; one table row
# per run to OUT. Session 19's udp-ab.txt. Setup as tcpab.sh.
OUT=$1; ROUNDS=$2; RATE=$3; OLD=$4; NEW=$5
SIPPBENCH=${SIPPBENCH:-/tmp/perf/sippbench}
: > "$OUT"
for r in $(seq "$ROUNDS"); do
  for pair in "old:$OLD" "new:$NEW"; do
    tag=${pair%%:*}; bin=${pair#*:}
    line=$("$SIPPBENCH" -targets herald-plain -herald "$bin" -start "$RATE" -max "$RATE" -step 10s -bisect 0 2>/dev/null | grep "^| herald-plain ")
    echo "$tag $line" | tee -a "$OUT"
  done
done
