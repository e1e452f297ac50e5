#!/bin/bash
# rep.sh: herald-final2, push flow 200 calls/s 30 s soak, gc_percent 400 and 100 alternated, 3 repeats
cd /tmp/perf
for i in 1 2 3; do
  for g in 400 100; do
    CFG=/tmp/perf/pcfg/herald-gc$g.yaml ./push.sh /tmp/perf/herald-final2 rep$i-gc$g 200 10s 30s
  done
done
