#!/bin/bash
# push600.sh TAG BIN...: SIPp push flow (no pages) at 600 calls/s for 60 s per binary, RSS each second
TAG=$1; shift
cd "$(dirname "$0")/../../.."
for B in "$@"; do
  n=$(basename $B)
  echo "== $n load $(cat /proc/loadavg)" >> /tmp/perf/runs/$TAG.txt
  /tmp/perf/rss.sh /tmp/perf/runs/$TAG.$n.rss & RP=$!
  timeout 110 /tmp/perf/sippbench -targets herald-push -start 600 -max 600 -step 60s -bisect 0 -budget 80s -herald $B >> /tmp/perf/runs/$TAG.txt 2>&1
  kill $RP
  echo "== end $n load $(cat /proc/loadavg)" >> /tmp/perf/runs/$TAG.txt
done
