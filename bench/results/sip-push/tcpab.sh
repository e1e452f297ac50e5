#!/bin/bash
# tcpab.sh OUT ROUNDS RATE OLD NEW: plain forwarding over TCP on both legs (sippbench targets
# herald-plain-tcp with Herald binary OLD, then NEW, then kamailio-plain-tcp), ROUNDS alternated rounds
# at RATE calls/s for 10 s each; one table row per run to OUT. Session 19's tcp-fast-ab*.txt.
# Setup: apt-get install -y sip-tester kamailio; go build -o /tmp/perf/sippbench ./bench/sipp/sippbench
# (or set SIPPBENCH), and the two Herald binaries built with go build ./cmd/herald.
OUT=$1; ROUNDS=$2; RATE=$3; OLD=$4; NEW=$5
SIPPBENCH=${SIPPBENCH:-/tmp/perf/sippbench}
: > "$OUT"
for r in $(seq "$ROUNDS"); do
  for pair in "old:$OLD:herald-plain-tcp" "new:$NEW:herald-plain-tcp" "kam:$NEW:kamailio-plain-tcp"; do
    IFS=: read -r tag bin tg <<< "$pair"
    line=$("$SIPPBENCH" -targets "$tg" -herald "$bin" -start "$RATE" -max "$RATE" -step 10s -bisect 0 2>/dev/null | grep "^| $tg ")
    echo "$tag $line" | tee -a "$OUT"
  done
done
