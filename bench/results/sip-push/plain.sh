#!/bin/bash
# plain.sh TAG BIN...: plain forwarding at 5000 calls/s for 60 s per binary, RSS each second
# (rss.sh), output in /tmp/perf/runs/TAG.*; run from anywhere in the repository.
TAG=$1; shift
mkdir -p /tmp/perf/runs
cd "$(dirname "$0")/../../.."
for B in "$@"; do
  n=$(basename $B)
  echo "== $n load $(cat /proc/loadavg)" >> /tmp/perf/runs/$TAG.txt
  /tmp/perf/rss.sh /tmp/perf/runs/$TAG.$n.rss & RP=$!
  timeout 110 /tmp/perf/sippbench -targets herald-plain -start 5000 -max 5000 -step 60s -bisect 0 -budget 80s -herald $B >> /tmp/perf/runs/$TAG.txt 2>&1
  kill $RP
  echo "== end $n load $(cat /proc/loadavg)" >> /tmp/perf/runs/$TAG.txt
done
