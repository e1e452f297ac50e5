#!/bin/bash
# rss.sh OUT: sample VmRSS of herald processes started from /tmp/perf every second
out=$1
while true; do
  for p in $(pgrep -f '^/tmp/perf/herald'); do
    r=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null)
    [ -n "$r" ] && echo "$(date +%s) $p $r" >> $out
  done
  sleep 1
done
